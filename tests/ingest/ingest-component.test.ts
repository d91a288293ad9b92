import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { Ingest, ingestArtifacts, ingestEnvironment, ingestSourceHash, REPOSITORY_ROOT } from "../../components/ingest";
import { loadConfig, type StackConfig } from "../../components/stack-config";
import { loadIngestConfig, withFileSecrets } from "../../ingest/src/config";
import { CONTAINER, IMAGE, VOLUME, installComponentMocks } from "../support/component-mocks";
import type { PulumiTestRuntime, RecordedResource } from "../support/pulumi-harness";

let rt: PulumiTestRuntime;
beforeAll(async () => { rt = await installComponentMocks(); });

const deploy = (cfg: StackConfig) => rt.run(() => new Ingest("ingest", {
  config: cfg, networkName: "net", clickhouseUrl: "http://clickhouse:8123",
  clickhouseWriterPassword: pulumi.secret("writer-pw-123"), writeKeys: pulumi.secret("key-one-aaaa,key-two-bbbb"),
}));

describe("Ingest component", () => {
  const dev = loadConfig({ ingestPort: "18080", spoolMaxBytes: String(64 * 1024 * 1024), batchMaxEvents: "20000", flushIntervalMs: "500" }, "dev");
  let resources: RecordedResource[];
  let container: RecordedResource;
  beforeAll(async () => {
    ({ resources } = await deploy(dev));
    container = rt.find(resources, CONTAINER, "ingest-container");
  });

  it("builds the image from ingest/Dockerfile with the repository root as context and the pinned Node base", () => {
    const image = rt.find(resources, IMAGE, "ingest-image");
    expect(image.inputs.build).toMatchObject({ dockerfile: "ingest/Dockerfile", buildArgs: { NODE_IMAGE: "node:20.19.4-bookworm-slim" } });
    expect(image.inputs.build.context).toBe(REPOSITORY_ROOT);
    expect(image.inputs.name).toBe(`analytics-dev-ingest:${ingestSourceHash().slice(0, 16)}`);
    expect(image.inputs.triggers).toEqual({ sourceHash: ingestSourceHash() });
  });

  it("passes spool limits and batch settings from the stack config, and writes as ingest_writer", () => {
    expect(container.inputs.envs).toEqual(expect.arrayContaining([
      "INGEST_SPOOL_MAX_BYTES=67108864", "INGEST_BATCH_MAX_EVENTS=20000", "INGEST_FLUSH_INTERVAL_MS=500",
      "CLICKHOUSE_URL=http://clickhouse:8123", "CLICKHOUSE_USER=ingest_writer", "CLICKHOUSE_DATABASE=analytics", "INGEST_HOST=0.0.0.0",
    ]));
  });

  it("keeps secrets out of the environment: secret files, registered as Pulumi secrets", () => {
    expect(container.inputs.envs.join("\n")).not.toMatch(/writer-pw-123|key-one-aaaa/);
    expect(container.secretInputs).toContain("uploads");
    const files = Object.fromEntries(container.inputs.uploads.map((u: { file: string; content: string }) => [u.file, u.content]));
    expect(files).toEqual({ "/run/ingest-secrets/write-keys": "key-one-aaaa,key-two-bbbb", "/run/ingest-secrets/clickhouse-password": "writer-pw-123" });
  });

  it("gives the service an environment its own config loader accepts", () => {
    const env = Object.fromEntries(container.inputs.envs.map((e: string) => e.split(/=(.*)/s).slice(0, 2)));
    const files = Object.fromEntries(container.inputs.uploads.map((u: { file: string; content: string }) => [u.file, u.content]));
    const config = loadIngestConfig(withFileSecrets(env, (path) => files[path]));
    expect(config).toMatchObject({ port: 8080, writeKeys: ["key-one-aaaa", "key-two-bbbb"], clickhouse: { username: "ingest_writer", password: "writer-pw-123" },
      spool: { dir: "/var/lib/ingest/spool", maxBytes: 67108864, batchMaxEvents: 20000, flushIntervalMs: 500 } });
  });

  it("publishes the port on the bind address, checks /healthz, and follows the stack's container conventions", () => {
    expect(container.inputs.ports).toEqual([{ internal: 8080, external: 18080, ip: "127.0.0.1" }]);
    expect(container.inputs.healthcheck.tests.join(" ")).toContain("http://127.0.0.1:8080/healthz");
    expect(container.inputs).toMatchObject({ name: "analytics-dev-ingest", restart: "unless-stopped", wait: true, logDriver: "json-file", stopTimeout: 30, cpuShares: 8192 });
    expect(container.inputs.labels).toEqual(expect.arrayContaining([{ label: "analytics.stack", value: "analytics-dev" }, { label: "analytics.service", value: "ingest" }]));
    expect(container.inputs.networksAdvanced).toEqual([{ name: "net", aliases: ["ingest"] }]);
  });

  it("keeps the spool on its own volume, unprotected in dev", () => {
    const volume = rt.find(resources, VOLUME, "ingest-spool");
    expect(volume.inputs.name).toBe("analytics-dev-ingest-spool-data");
    expect(volume.protect).toBe(false);
    expect(container.inputs.volumes).toEqual([{ volumeName: "analytics-dev-ingest-spool-data", containerPath: "/var/lib/ingest/spool" }]);
  });

  it("protects the spool volume in prod", async () => {
    const { resources: prod } = await deploy(loadConfig({ protectData: "true" }, "prod"));
    const volume = rt.find(prod, VOLUME, "ingest-spool");
    expect([volume.protect, volume.retainOnDelete]).toEqual([true, true]);
  });

  it("renders the environment with secrets as placeholders", () => {
    const artifacts = ingestArtifacts(dev);
    expect(artifacts["ingest/ingest.env"]).toBe(`${ingestEnvironment(dev, { clickhouseUrl: "http://clickhouse:8123" }).join("\n")}\n`);
    expect(artifacts["ingest/secret-files.txt"]).toContain("<generated: clickhouseWriterPassword>");
    expect(artifacts["ingest/secret-files.txt"]).toContain("<generated: ingestWriteKeys>");
  });
});
