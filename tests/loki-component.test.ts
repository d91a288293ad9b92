import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { Loki } from "../components/loki";
import { loadConfig, type StackConfig } from "../components/stack-config";
import { CONTAINER, IMAGE, VOLUME, installComponentMocks } from "./support/component-mocks";
import { unwrap, type PulumiTestRuntime, type RecordedResource } from "./support/pulumi-harness";


// Component modules register nothing at import time, so they can be imported before the mocks are installed.
let rt: PulumiTestRuntime;

beforeAll(async () => {
  rt = await installComponentMocks();
});

async function deploy(cfg: StackConfig) {
  return rt.run(() => new Loki("loki", { config: cfg, networkName: "analytics-dev-net" }));
}

describe("Loki component", () => {
  const dev = loadConfig({ logRetentionDays: "7" }, "dev");
  let resources: RecordedResource[];
  let container: RecordedResource;
  let result: Loki;
  beforeAll(async () => {
    ({ resources, result } = await deploy(dev));
    container = rt.find(resources, CONTAINER, "loki-container");
  });

  it("runs the pinned image, pulled once and kept locally", () => {
    const image = rt.find(resources, IMAGE, "loki-image");
    expect(image.inputs).toMatchObject({ name: "grafana/loki:3.5.0", keepLocally: true });
    expect(container.inputs.image).toBe("sha256:grafana/loki:3.5.0");
    expect(container.dependencies).toContain(image.urn);
  });

  it("waits for a healthcheck that asks Loki's /ready", () => {
    expect(container.inputs.wait).toBe(true);
    expect(container.inputs.waitTimeout).toBeGreaterThan(0);
    expect(container.inputs.healthcheck.tests).toEqual(["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:3100/ready"]);
  });

  it("publishes only port 3100, on loopback", () => {
    expect(container.inputs.ports).toEqual([{ internal: 3100, external: 3100, ip: "127.0.0.1" }]);
  });

  it("runs the generated config as a single binary, with data on the stack's volume", () => {
    expect(container.inputs.command).toEqual(["-config.file=/etc/loki/loki.yaml", "-target=all"]);
    const upload = container.inputs.uploads.find((u: { file: string }) => u.file === "/etc/loki/loki.yaml");
    expect(parse(upload.content).limits_config.retention_period).toBe("168h");
    const volume = rt.find(resources, VOLUME, "loki-data");
    expect(volume.inputs.name).toBe("analytics-dev-loki-data");
    expect(container.inputs.volumes).toEqual([{ volumeName: "analytics-dev-loki-data", containerPath: "/loki" }]);
    expect(volume.protect).toBe(false);
  });

  it("follows the container conventions: name, alias, discovery labels, rotated logs, restart", () => {
    expect(container.inputs).toMatchObject({
      name: "analytics-dev-loki",
      restart: "unless-stopped",
      logDriver: "json-file",
      logOpts: { "max-size": "10m", "max-file": "3" },
      networksAdvanced: [{ name: "analytics-dev-net", aliases: ["loki"] }],
    });
    expect(container.inputs.labels).toEqual(expect.arrayContaining([
      { label: "analytics.stack", value: "analytics-dev" }, { label: "analytics.service", value: "loki" },
    ]));
    expect(container.parent).toBe(rt.find(resources, "analytics:stack:Loki", "loki").urn);
  });

  it("gives the in-network URL", async () => {
    expect(await unwrap(result.internalUrl)).toBe("http://loki:3100");
  });

  it("protects and retains the data volume when the stack protects data", async () => {
    const prod = loadConfig({ protectData: "true", lokiPort: "3400", bindAddress: "10.0.0.5" }, "prod");
    const { resources: prodResources } = await deploy(prod);
    const volume = rt.find(prodResources, VOLUME, "loki-data");
    expect([volume.protect, volume.retainOnDelete]).toEqual([true, true]);
    // Loki has no auth: its port stays on loopback whatever bindAddress is (tests/review-security-loki-exposure).
    expect(rt.find(prodResources, CONTAINER, "loki-container").inputs.ports[0]).toMatchObject({ external: 3400, ip: "127.0.0.1" });
  });

  it("uses the binary's -health for Loki 3.7, and refuses 3.6 before registering anything", async () => {
    const current = loadConfig({ lokiImage: "grafana/loki:3.7.1" }, "dev");
    const { resources: r37 } = await deploy(current);
    expect(rt.find(r37, CONTAINER, "loki-container").inputs.healthcheck.tests).toEqual(["CMD", "/usr/bin/loki", "-health"]);
    // loadConfig refuses it first; the component still refuses a config built by other means.
    expect(() => loadConfig({ lokiImage: "grafana/loki:3.6.2" }, "dev")).toThrow(/analytics:lokiImage/);
    const base = loadConfig({}, "dev");
    const broken = { ...base, images: { ...base.images, loki: "grafana/loki:3.6.2" } };
    const { result: error, resources: registered } = await rt.run(() => {
      try {
        new Loki("loki36", { config: broken, networkName: "n" });
        return "constructed";
      } catch (e) {
        return (e as Error).message;
      }
    });
    expect(error).toMatch(/cannot be health-checked/);
    expect(registered).toEqual([]);
  });
});
