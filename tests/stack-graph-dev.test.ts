import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { unwrap } from "./support/pulumi-harness";
import { runStack, type StackRun } from "./support/stack-graph";

const CONTAINER = "docker:index/container:Container";
const IMAGE = "docker:index/remoteImage:RemoteImage";
const VOLUME = "docker:index/volume:Volume";

describe("the dev stack's resource graph", () => {
  let s: StackRun;
  beforeAll(async () => { s = await runStack("dev"); });

  const containers = () => s.resources.filter((r) => r.type === CONTAINER);
  const byService = (service: string) => {
    const found = containers().filter((c) => (c.inputs.labels ?? []).some((l: any) => l.label === "analytics.service" && l.value === service));
    if (found.length !== 1) throw new Error(`expected one container for ${service}, found ${found.length}`);
    return found[0];
  };

  it("runs the five containers on one private network", () => {
    const services = containers().map((c) => c.inputs.labels.find((l: any) => l.label === "analytics.service").value).sort();
    expect(services).toEqual(["clickhouse", "grafana", "ingest", "loki", "promtail"]);
    const networks = s.resources.filter((r) => r.type === "docker:index/network:Network");
    expect(networks).toHaveLength(1);
    for (const c of containers()) {
      expect(c.inputs.networksAdvanced.map((n: any) => n.name), c.name).toEqual([networks[0].inputs.name]);
    }
  });

  it("binds every published port to 127.0.0.1", () => {
    const published = containers().flatMap((c) => (c.inputs.ports ?? []).map((p: any) => ({ c: c.name, ...p })));
    expect(published.length).toBeGreaterThanOrEqual(4);
    for (const p of published) expect(p.ip, p.c).toBe("127.0.0.1");
  });

  it("pins every image and never uses latest", () => {
    const images = s.resources.filter((r) => r.type === IMAGE);
    for (const image of images) {
      if (image.inputs.build) continue; // the ingest image is built from ingest/Dockerfile
      expect(image.inputs.name).toMatch(/:[A-Za-z0-9][A-Za-z0-9._-]*$/);
      expect(image.inputs.name).not.toMatch(/:latest$/);
    }
  });

  it("gives every container a healthcheck, wait, a restart policy and log rotation", () => {
    for (const c of containers()) {
      expect(c.inputs.healthcheck?.tests?.length, c.name).toBeGreaterThan(0);
      expect(c.inputs.wait, c.name).toBe(true);
      expect(c.inputs.restart, c.name).toBe("unless-stopped");
      expect(c.inputs.logDriver, c.name).toBe("json-file");
      expect(c.inputs.logOpts?.["max-size"], c.name).toBeDefined();
    }
  });

  it("applies the schema only after the ClickHouse container is healthy", () => {
    const schema = s.resources.find((r) => r.type.endsWith("SchemaMigration"))!;
    expect(schema).toBeDefined();
    expect(schema.dependencies).toContain(byService("clickhouse").urn);
  });

  it("creates every Grafana resource through the stack's Grafana provider, after the Grafana container", () => {
    const provider = s.resources.find((r) => r.type === "pulumi:providers:grafana")!;
    expect(provider).toBeDefined();
    expect(provider.dependencies).toContain(byService("grafana").urn);
    const grafanaResources = s.resources.filter((r) => r.type.startsWith("grafana:"));
    expect(grafanaResources.length).toBeGreaterThanOrEqual(5);
    for (const r of grafanaResources) expect(r.provider, r.name).toMatch(new RegExp(`^${provider.urn.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}::`));
    const datasources = grafanaResources.filter((r) => r.type === "grafana:oss/dataSource:DataSource");
    expect(datasources.map((d) => d.inputs.uid).sort()).toEqual(["clickhouse", "loki"]);
  });

  it("runs the ingest after the schema, so its writer user and tables exist", () => {
    const schema = s.resources.find((r) => r.type.endsWith("SchemaMigration"))!;
    const ingest = byService("ingest");
    const ingestAncestors = new Set([ingest.urn, ingest.parent]);
    expect(ingest.dependencies.includes(schema.urn) || s.resources.some((r) => ingestAncestors.has(r.urn) && r.dependencies.includes(schema.urn))).toBe(true);
  });

  it("generates every password (no defaults) and keeps them secret", async () => {
    const generated = s.resources.filter((r) => r.type === "random:index/randomPassword:RandomPassword").map((r) => r.name).sort();
    expect(generated).toEqual([
      "analytics-secrets-clickhouseMigratorPassword", "analytics-secrets-clickhouseReaderPassword",
      "analytics-secrets-clickhouseWriterPassword", "analytics-secrets-grafanaAdminPassword", "analytics-secrets-ingestWriteKeys",
    ]);
    const password = s.exports.grafanaAdminPassword as pulumi.Output<string>;
    expect(await pulumi.isSecret(password)).toBe(true);
    expect(await unwrap(password)).toBe("generated-analytics-secrets-grafanaAdminPassword");
    // No secret in any container's environment (`docker inspect` shows it to whoever reaches the engine): they
    // arrive as uploaded files, and the uploads are secrets in the state.
    for (const c of containers()) expect(JSON.stringify(c.inputs.envs ?? []), c.name).not.toContain("generated-");
    const grafana = byService("grafana");
    expect(grafana.inputs.envs).toContain("GF_SECURITY_ADMIN_PASSWORD__FILE=/run/grafana-secrets/admin-password");
    expect(grafana.inputs.uploads).toContainEqual(expect.objectContaining({
      file: "/run/grafana-secrets/admin-password", content: "generated-analytics-secrets-grafanaAdminPassword",
    }));
    expect(grafana.secretInputs).toContain("uploads");
  });

  it("does not protect dev data volumes, so destroy wipes dev", () => {
    const volumes = s.resources.filter((r) => r.type === VOLUME);
    expect(volumes.length).toBeGreaterThanOrEqual(3);
    for (const v of volumes) expect(v.protect, v.name).toBe(false);
  });

  it("exports the URLs a user opens", async () => {
    expect(await unwrap(s.exports.grafanaUrl as pulumi.Output<string>)).toBe("http://127.0.0.1:3000");
  });
});
