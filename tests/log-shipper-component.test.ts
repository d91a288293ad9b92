import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { LogShipper } from "../components/log-shipper";
import { loadConfig, type StackConfig } from "../components/stack-config";
import { CONTAINER, IMAGE, VOLUME, installComponentMocks } from "./support/component-mocks";
import type { PulumiTestRuntime } from "./support/pulumi-harness";


let rt: PulumiTestRuntime;
beforeAll(async () => {
  rt = await installComponentMocks();
});

async function deploy(cfg: StackConfig, lokiUrl: pulumi.Input<string> = "http://loki:3100") {
  const { resources, result } = await rt.run(() => new LogShipper("logs", { config: cfg, networkName: "net", lokiUrl }));
  return { resources, result, container: rt.find(resources, CONTAINER, "logs-container") };
}

describe("LogShipper with Promtail (the dev default)", () => {
  const dev = loadConfig({ logShipper: "promtail" }, "dev");
  let run: Awaited<ReturnType<typeof deploy>>;
  beforeAll(async () => { run = await deploy(dev); });

  it("runs exactly one shipper: the pinned Promtail image", () => {
    expect(run.result.kind).toBe("promtail");
    expect(run.resources.filter((r) => r.type === CONTAINER)).toHaveLength(1);
    expect(rt.find(run.resources, IMAGE, "logs-image").inputs).toMatchObject({ name: "grafana/promtail:3.5.0", keepLocally: true });
    expect(run.container.inputs).toMatchObject({ image: "sha256:grafana/promtail:3.5.0", name: "analytics-dev-promtail" });
  });

  it("mounts the Docker socket read-only and keeps positions on a named volume", () => {
    expect(run.container.inputs.volumes).toEqual([
      { hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock", readOnly: true },
      { volumeName: "analytics-dev-promtail-data", containerPath: "/var/lib/promtail" },
    ]);
    expect(rt.find(run.resources, VOLUME, "logs-data").protect).toBe(false);
  });

  it("publishes no port and waits for its /ready probe", () => {
    expect(run.container.inputs.ports).toBeUndefined();
    expect(run.container.inputs.wait).toBe(true);
    expect(run.container.inputs.healthcheck.tests.slice(0, 3)).toEqual(["CMD", "bash", "-c"]);
    expect(run.container.inputs.healthcheck.tests[3]).toContain("/dev/tcp/127.0.0.1/9080");
  });

  it("uploads the generated config, pointed at the Loki URL it was given", async () => {
    const { container } = await deploy(dev, pulumi.output("http://loki.internal:3100"));
    const upload = container.inputs.uploads[0];
    expect(upload.file).toBe("/etc/promtail/config.yml");
    expect(parse(upload.content).clients).toEqual([{ url: "http://loki.internal:3100/loki/api/v1/push" }]);
    expect(container.inputs.command).toEqual(["-config.file=/etc/promtail/config.yml"]);
  });

  it("is discovered like every service: stack and service labels, alias on the network", () => {
    expect(run.container.inputs.labels).toEqual([
      { label: "analytics.stack", value: "analytics-dev" }, { label: "analytics.service", value: "promtail" },
    ]);
    expect(run.container.inputs.networksAdvanced).toEqual([{ name: "net", aliases: ["promtail"] }]);
  });
});

describe("LogShipper with Alloy (prod)", () => {
  const prod = loadConfig({ logShipper: "alloy", protectData: "true" }, "prod");
  let run: Awaited<ReturnType<typeof deploy>>;
  beforeAll(async () => { run = await deploy(prod); });

  it("runs the pinned Alloy image with the generated config and its storage on a protected volume", () => {
    expect(run.result.kind).toBe("alloy");
    expect(rt.find(run.resources, IMAGE, "logs-image").inputs.name).toBe("grafana/alloy:v1.10.0");
    expect(run.container.inputs.name).toBe("analytics-prod-alloy");
    expect(run.container.inputs.command).toEqual(expect.arrayContaining(["run", "/etc/alloy/config.alloy", "--storage.path=/var/lib/alloy/data"]));
    expect(run.container.inputs.uploads[0].file).toBe("/etc/alloy/config.alloy");
    expect(run.container.inputs.uploads[0].content).toContain('loki.write "loki"');
    const volume = rt.find(run.resources, VOLUME, "logs-data");
    expect([volume.inputs.name, volume.protect, volume.retainOnDelete]).toEqual(["analytics-prod-alloy-data", true, true]);
    expect(run.container.inputs.volumes[0]).toEqual({ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock", readOnly: true });
    expect(run.container.inputs.healthcheck.tests[3]).toContain("GET /-/ready");
  });
});
