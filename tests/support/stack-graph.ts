/**
 * Runs the whole program (what index.ts does) under Pulumi mocks for a stack's real config files, and returns the
 * recorded resource graph. One stack per test file: the mocks and config are process-wide.
 */
import { join } from "node:path";
import { rawConfigForStack } from "../../components/stack-files";
import { installMocks, type MockRun, type PulumiTestRuntime, type RecordedResource } from "./pulumi-harness";
import { IMAGE } from "./component-mocks";

export interface StackRun {
  readonly rt: PulumiTestRuntime;
  readonly resources: RecordedResource[];
  readonly exports: Record<string, unknown>;
}

/** Full config keys for a stack's files, plus overrides (full keys too). */
export function stackConfig(stack: string, overrides: Record<string, string> = {}): Record<string, string> {
  const raw = rawConfigForStack(join(__dirname, "..", ".."), stack);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) if (value !== undefined) out[`analytics:${key}`] = value;
  return { ...out, ...overrides };
}

export async function runStack(stack: string, overrides: Record<string, string> = {}, secretKeys: string[] = []): Promise<StackRun> {
  const rt = await installMocks({
    stack,
    config: stackConfig(stack, overrides),
    secretKeys,
    outputs: (type, name, inputs) => {
      if (type === IMAGE) return { imageId: `sha256:${inputs.name}` };
      if (type === "random:index/randomPassword:RandomPassword") return { result: `generated-${name}` };
      return undefined;
    },
  });
  // index.ts is the program `pulumi up` runs; requiring it here (after the mocks) runs exactly that.
  // (Dynamic import with the .js extension: node16 resolution maps it to index.ts, vitest does the same.)
  const run: MockRun<Record<string, unknown>> = await rt.run(async () => ({ ...(await import("../../index.js")) }) as Record<string, unknown>);
  return { rt, resources: run.resources, exports: run.result };
}
