/**
 * Pulumi mocks for testing one component on its own: the harness of pulumi-harness.ts, plus what the Docker
 * provider would compute for a pulled image (its id), so a container's `image` input is checkable.
 */
import { installMocks, type PulumiTestRuntime } from "./pulumi-harness";

export const CONTAINER = "docker:index/container:Container";
export const IMAGE = "docker:index/remoteImage:RemoteImage";
export const VOLUME = "docker:index/volume:Volume";

/** A pulled image's id under these mocks: `sha256:<image reference>`. */
export const mockImageId = (reference: string) => `sha256:${reference}`;

export function installComponentMocks(stack = "dev"): Promise<PulumiTestRuntime> {
  return installMocks({
    stack,
    outputs: (type, _name, inputs) => (type === IMAGE ? { imageId: mockImageId(inputs.name) } : undefined),
  });
}
