import { createHash } from "node:crypto";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { XMLParser } from "fast-xml-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { ClickHouse, clickhouseArtifacts, clickhouseHostHttpUrl } from "../components/clickhouse";
import { buildServerConfigXml } from "../components/clickhouse-server-config";
import { funnelRollupStatements } from "../components/funnel-rollup";
import { readMigrationSources } from "../components/migrations";
import { retentionStatements } from "../components/retention";
import { snapshotViewStatements } from "../components/snapshot-views";
import { loadConfig, type StackConfig } from "../components/stack-config";
import { DEFAULT_FUNNEL, DEFAULT_RETENTION_OFFSETS } from "../dashboards/settings";
import { CONTAINER, IMAGE, VOLUME, installComponentMocks } from "./support/component-mocks";
import { unwrap, type PulumiTestRuntime, type RecordedResource } from "./support/pulumi-harness";

const SCHEMA = "pulumi-nodejs:dynamic/analytics:SchemaMigration";
const COMPONENT = "analytics:stack:ClickHouse";
const PASSWORDS = { migrator: "pw-migrator-1", writer: "pw-writer-2", reader: "pw-reader-3" };
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

let rt: PulumiTestRuntime;
beforeAll(async () => { rt = await installComponentMocks(); });

function deploy(cfg: StackConfig, passwords: Record<keyof typeof PASSWORDS, pulumi.Input<string>> = {
  migrator: pulumi.secret(PASSWORDS.migrator), writer: pulumi.secret(PASSWORDS.writer), reader: pulumi.secret(PASSWORDS.reader),
}, funnelSteps?: readonly string[]) {
  return rt.run(() => new ClickHouse("clickhouse", { config: cfg, networkName: "analytics-dev-net", passwords, funnelSteps }));
}

describe("ClickHouse component (dev)", () => {
  const dev = loadConfig({ clickhouseHttpPort: "18123", logRetentionDays: "10", eventRetentionDays: "60" }, "dev");
  let resources: RecordedResource[];
  let container: RecordedResource;
  let schema: RecordedResource;
  let result: ClickHouse;
  beforeAll(async () => {
    ({ resources, result } = await deploy(dev));
    container = rt.find(resources, CONTAINER, "clickhouse-container");
    schema = rt.find(resources, SCHEMA, "clickhouse-schema");
  });

  it("runs the pinned LTS image, pulled once and kept locally", () => {
    const image = rt.find(resources, IMAGE, "clickhouse-image");
    expect(image.inputs).toMatchObject({ name: "clickhouse/clickhouse-server:25.8", keepLocally: true });
    expect(container.inputs.image).toBe("sha256:clickhouse/clickhouse-server:25.8");
  });

  it("publishes only HTTP, on the bind address; the native port stays on the Docker network", () => {
    expect(container.inputs.ports).toEqual([{ internal: 8123, external: 18123, ip: "127.0.0.1" }]);
    expect(container.inputs.networksAdvanced).toEqual([{ name: "analytics-dev-net", aliases: ["clickhouse"] }]);
  });

  it("waits for a healthcheck that asks the server, restarts, rotates its logs and carries the discovery labels", () => {
    expect(container.inputs).toMatchObject({
      name: "analytics-dev-clickhouse",
      restart: "unless-stopped",
      wait: true,
      logDriver: "json-file",
      logOpts: { "max-size": "10m", "max-file": "3" },
    });
    expect(container.inputs.waitTimeout).toBeGreaterThan(0);
    expect(container.inputs.healthcheck.tests).toEqual(
      ["CMD", "wget", "--spider", "--quiet", "--tries=1", "--timeout=2", "http://127.0.0.1:8123/ping"]);
    expect(container.inputs.labels).toEqual(expect.arrayContaining([
      { label: "analytics.stack", value: "analytics-dev" }, { label: "analytics.service", value: "clickhouse" }]));
    expect(container.inputs.ulimits).toEqual([{ name: "nofile", soft: 262144, hard: 262144 }]);
    // Requests first: ClickHouse yields the cores to the ingest when they are all busy (64x less weight).
    expect(container.inputs.cpuShares).toBe(128);
  });

  it("keeps data on the stack's volume, unprotected in dev", () => {
    const volume = rt.find(resources, VOLUME, "clickhouse-data");
    expect(volume.inputs.name).toBe("analytics-dev-clickhouse-data");
    expect(volume.protect).toBe(false);
    expect(container.inputs.volumes).toEqual([
      { volumeName: "analytics-dev-clickhouse-data", containerPath: "/var/lib/clickhouse" },
      { volumeName: "analytics-dev-clickhouse-backups-data", containerPath: "/var/lib/clickhouse-backups/" },
    ]);
    const backups = rt.find(resources, VOLUME, "clickhouse-backups");
    expect(backups.protect).toBe(false);
    expect(container.inputs.uploads.map((u: { file: string }) => u.file)).toContain("/etc/clickhouse-server/config.d/analytics-backups.xml");
  });

  it("uploads the generated config and users; passwords only as hashes, the users file secret, no password in env", () => {
    const upload = (file: string) => container.inputs.uploads.find((u: { file: string }) => u.file === file)?.content as string;
    expect(upload("/etc/clickhouse-server/config.d/analytics.xml")).toBe(buildServerConfigXml({ systemLogRetentionDays: 10 }));
    const users = new XMLParser().parse(upload("/etc/clickhouse-server/users.d/analytics-users.xml")).clickhouse.users;
    expect(users.migrator.password_sha256_hex).toBe(sha(PASSWORDS.migrator));
    expect(users.ingest_writer.password_sha256_hex).toBe(sha(PASSWORDS.writer));
    expect(users.grafana_reader.password_sha256_hex).toBe(sha(PASSWORDS.reader));
    expect(container.secretInputs).toContain("uploads");
    expect(container.inputs.envs).toEqual(["CLICKHOUSE_SKIP_USER_SETUP=1"]);
    expect(JSON.stringify(container.inputs)).not.toMatch(/pw-(migrator|writer|reader)/);
  });

  it("keeps the users file secret even when the passwords are plain strings", async () => {
    const { resources: plain } = await deploy(dev, PASSWORDS);
    expect(rt.find(plain, CONTAINER, "clickhouse-container").secretInputs).toContain("uploads");
    expect(rt.find(plain, SCHEMA, "clickhouse-schema").secretInputs).toContain("password");
  });

  it("applies the schema as the migrator, after the healthy container, with every file's content, the retention and the funnel view", () => {
    const component = rt.find(resources, COMPONENT, "clickhouse");
    expect(schema.parent).toBe(component.urn);
    expect(schema.dependencies).toContain(container.urn);
    expect(schema.inputs).toMatchObject({
      url: "http://127.0.0.1:18123",
      username: "migrator",
      password: PASSWORDS.migrator,
      afterStatements: [
        ...retentionStatements(dev), ...funnelRollupStatements(DEFAULT_FUNNEL),
        ...snapshotViewStatements({ retentionOffsetsDays: DEFAULT_RETENTION_OFFSETS, windowDays: dev.rollupRetentionDays }),
      ],
      connectTimeoutSeconds: 120,
    });
    expect(schema.inputs.afterStatements[0]).toBe("ALTER TABLE analytics.events MODIFY TTL toDate(event_time) + INTERVAL 60 DAY DELETE");
    // Events plus the five rollups' TTLs, the funnel view's three, then each snapshot view's drop, clear and create.
    expect(schema.inputs.afterStatements).toHaveLength(18);
    expect(schema.inputs.afterStatements.at(-1)).toMatch(/^CREATE MATERIALIZED VIEW analytics.adoption_snapshots_refresh REFRESH AFTER 60 SECOND TO analytics.adoption_snapshots AS /);
    expect(schema.secretInputs).toContain("password");
    expect(schema.inputs.migrations).toEqual(readMigrationSources(join(__dirname, "..", "sql")));
    expect(typeof schema.inputs.__provider).toBe("string");
  });

  it("exposes the URLs the other components need", async () => {
    expect(await unwrap(result.internalHttpUrl)).toBe("http://clickhouse:8123");
    expect(await unwrap(result.nativeHost)).toBe("clickhouse");
    expect(await unwrap(result.nativePort)).toBe(9000);
    expect(await unwrap(result.hostHttpUrl)).toBe("http://127.0.0.1:18123");
    expect(result.users).toEqual({ migrator: "migrator", writer: "ingest_writer", reader: "grafana_reader" });
  });
});

describe("ClickHouse component (funnel steps)", () => {
  it("collects the funnel steps it is given (the dashboards' funnelSteps) in the funnel view", async () => {
    const cfg = loadConfig({}, "dev");
    const { resources } = await deploy(cfg, undefined, ["signup", "checkout_done"]);
    const statements: string[] = rt.find(resources, SCHEMA, "clickhouse-schema").inputs.afterStatements;
    // After them, the three snapshot views' drop, clear and create.
    expect(statements.slice(-12, -9)).toEqual(funnelRollupStatements(["signup", "checkout_done"]));
    expect(statements.slice(0, -12)).toEqual(retentionStatements(cfg));
  });
});

describe("ClickHouse component (prod)", () => {
  it("protects the data volume and retains it on delete", async () => {
    const prod = loadConfig({ protectData: "true", bindAddress: "0.0.0.0" }, "prod");
    const { resources } = await deploy(prod);
    const volume = rt.find(resources, VOLUME, "clickhouse-data");
    expect(volume.protect).toBe(true);
    expect(volume.retainOnDelete).toBe(true);
    expect(volume.inputs.name).toBe("analytics-prod-clickhouse-data");
    // Bound on every interface, but the migrations reach it on loopback.
    expect(rt.find(resources, CONTAINER, "clickhouse-container").inputs.ports).toEqual([{ internal: 8123, external: 8123, ip: "0.0.0.0" }]);
    expect(rt.find(resources, SCHEMA, "clickhouse-schema").inputs.url).toBe("http://127.0.0.1:8123");
  });

  it("fails before registering anything when a migration file is misnamed", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "bad-sql-"));
    writeFileSync(join(dir, "0001_ok.sql"), "SELECT 1;");
    writeFileSync(join(dir, "2-bad.sql"), "SELECT 2;");
    expect(() => new ClickHouse("bad", {
      config: loadConfig({}, "dev"), networkName: "n", passwords: PASSWORDS, migrationsDir: dir,
    })).toThrow(/2-bad\.sql: a migration file name must look like 0005_add_sessions\.sql/);
  });
});

describe("clickhouse artifacts", () => {
  const cfg = loadConfig({}, "dev");
  const files = clickhouseArtifacts(cfg);

  it("renders config, users with placeholder hashes, and the migration plan", () => {
    expect(Object.keys(files).sort()).toEqual([
      "clickhouse/config.d/analytics-backups.xml", "clickhouse/config.d/analytics.xml", "clickhouse/migration-plan.sql",
      "clickhouse/users.d/analytics-users.xml"]);
    expect(files["clickhouse/users.d/analytics-users.xml"]).toContain(
      "<password_sha256_hex>&lt;generated: sha256(clickhouseMigratorPassword)&gt;</password_sha256_hex>");
    expect(files["clickhouse/users.d/analytics-users.xml"]).toContain("sha256(clickhouseWriterPassword)");
    expect(files["clickhouse/users.d/analytics-users.xml"]).toContain("sha256(clickhouseReaderPassword)");
  });

  it("lists every migration in order, then the retention, funnel view and snapshot view statements", () => {
    const plan = files["clickhouse/migration-plan.sql"];
    const names = readMigrationSources(join(__dirname, "..", "sql")).map((s) => s.name);
    const positions = names.map((n) => plan.indexOf(`-- ${n} (sha256 `));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(plan).toContain(`${retentionStatements(cfg).at(-1)};`);
    expect(plan).toContain(`${funnelRollupStatements(DEFAULT_FUNNEL).at(-1)};`);
    expect(plan.trimEnd().endsWith(`${snapshotViewStatements({ retentionOffsetsDays: DEFAULT_RETENTION_OFFSETS, windowDays: cfg.rollupRetentionDays }).at(-1)};`)).toBe(true);
    expect(plan).toContain("CREATE DATABASE IF NOT EXISTS analytics;");
  });

  it("builds the host URL from the bind address", () => {
    expect(clickhouseHostHttpUrl(loadConfig({ bindAddress: "10.1.2.3" }, "dev"))).toBe("http://10.1.2.3:8123");
    expect(clickhouseHostHttpUrl(loadConfig({ bindAddress: "0.0.0.0" }, "dev"))).toBe("http://127.0.0.1:8123");
  });
});
