import { beforeAll, describe, expect, it } from "vitest";
import { runStack, type StackRun } from "./support/stack-graph";

describe("the prod stack's resource graph", () => {
  let s: StackRun;
  // A secret the stack sets is used as is: nothing is generated for it.
  beforeAll(async () => {
    s = await runStack("prod", { "analytics:grafanaAdminPassword": "set-by-operator" }, ["analytics:grafanaAdminPassword"]);
  });

  it("protects the data volumes and keeps them if their resource is replaced", () => {
    const volumes = s.resources.filter((r) => r.type === "docker:index/volume:Volume");
    expect(volumes.length).toBeGreaterThanOrEqual(3);
    for (const v of volumes) {
      expect(v.protect, v.name).toBe(true);
      expect(v.retainOnDelete, v.name).toBe(true);
    }
  });

  it("ships logs with Alloy and publishes its own ports", () => {
    const containers = s.resources.filter((r) => r.type === "docker:index/container:Container");
    const services = containers.map((c) => c.inputs.labels.find((l: any) => l.label === "analytics.service").value);
    expect(services).toContain("alloy");
    expect(services).not.toContain("promtail");
    const ports = containers.flatMap((c) => (c.inputs.ports ?? []).map((p: any) => p.external)).sort();
    expect(ports).toEqual(expect.arrayContaining([3300, 3400, 8323, 8380]));
  });

  it("uses the operator's Grafana password instead of generating one", () => {
    const generated = s.resources.filter((r) => r.type === "random:index/randomPassword:RandomPassword").map((r) => r.name);
    expect(generated).not.toContain("analytics-secrets-grafanaAdminPassword");
    expect(generated).toHaveLength(4);
  });

  it("names every Docker object with the prod prefix, so dev and prod can share a host", () => {
    const named = s.resources.filter((r) => r.type.startsWith("docker:") && typeof r.inputs.name === "string" && !r.type.endsWith("RemoteImage"));
    for (const r of named) expect(r.inputs.name, r.type).toMatch(/^analytics-prod-/);
  });
});
