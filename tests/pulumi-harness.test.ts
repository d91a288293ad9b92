import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { beforeAll, describe, expect, it } from "vitest";
import { installMocks, unwrap, type PulumiTestRuntime } from "./support/pulumi-harness";

class Pair extends pulumi.ComponentResource {
  readonly volume: docker.Volume;
  readonly container: docker.Container;
  constructor(name: string, secret: pulumi.Input<string>) {
    super("test:index:Pair", name, {}, {});
    this.volume = new docker.Volume(`${name}-data`, { name: `${name}-data` }, { parent: this, protect: true });
    this.container = new docker.Container(`${name}-app`, {
      image: "busybox:1.36", envs: [pulumi.interpolate`PASSWORD=${secret}`],
      volumes: [{ volumeName: this.volume.name, containerPath: "/data" }],
    }, { parent: this, dependsOn: [this.volume] });
    this.registerOutputs({});
  }
}

describe("pulumi test harness", () => {
  let rt: PulumiTestRuntime;
  beforeAll(async () => { rt = await installMocks({ stack: "test" }); });

  it("records parents, dependencies, protection and secret inputs", async () => {
    const { result, resources } = await rt.run(() => new Pair("p", pulumi.secret("hunter2")));
    const volume = rt.find(resources, "docker:index/volume:Volume", "p-data");
    const container = rt.find(resources, "docker:index/container:Container", "p-app");
    const component = rt.find(resources, "test:index:Pair", "p");
    expect(volume.protect).toBe(true);
    expect(container.parent).toBe(component.urn);
    expect(container.dependencies).toContain(volume.urn);
    expect(container.secretInputs).toContain("envs");
    expect(container.inputs.envs).toEqual(["PASSWORD=hunter2"]);
    expect(await unwrap(result.container.image)).toBe("busybox:1.36");
  });

  it("starts each run with an empty record", async () => {
    const { resources } = await rt.run(() => new docker.Network("n", { name: "n" }));
    expect(resources.map((r) => r.name)).toEqual(["n"]);
  });
});
