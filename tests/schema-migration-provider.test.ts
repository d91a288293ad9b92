/**
 * The SchemaMigration dynamic provider as Pulumi runs it: the provider code Pulumi serialized into the resource's
 * `__provider` input is loaded the way Pulumi's dynamic-provider host loads it (require-from-string, then
 * `.handler()`), and its methods run against ClickHouse's HTTP interface (chDB in a child process) with the
 * migrator's credentials. No Docker, no Pulumi CLI: everything else is the real code path.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@clickhouse/client";
import type * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readMigrationSources, type MigrationSource } from "../components/migrations";
import { SchemaMigration } from "../components/schema-migration";
import { installMocks } from "./support/pulumi-harness";
import { startClickHouseHttp, type ClickHouseHttp } from "./support/clickhouse-http-server";

const SQL_DIR = join(__dirname, "..", "sql");
const PASSWORD = "migrator-test-password";

describe("SchemaMigration provider, serialized and run against ClickHouse over HTTP", () => {
  let providerSource: string;
  let provider: pulumi.dynamic.ResourceProvider;
  let server: ClickHouseHttp;
  let dataDir: string;
  let inputs: Record<string, any>;
  let outs: Record<string, any>;
  const files = () => readMigrationSources(SQL_DIR);
  const query = async <T>(sql: string): Promise<T[]> => {
    const client = createClient({ url: server.url, username: "migrator", password: PASSWORD });
    try {
      return await (await client.query({ query: sql, format: "JSONEachRow" })).json<T>();
    } finally {
      await client.close();
    }
  };

  beforeAll(async () => {
    const rt = await installMocks({ stack: "dev" });
    const { resources } = await rt.run(() => new SchemaMigration("schema", {
      url: "http://127.0.0.1:1", username: "migrator", password: PASSWORD, migrations: files(),
    }));
    providerSource = rt.find(resources, "pulumi-nodejs:dynamic/analytics:SchemaMigration").inputs.__provider;
    const requireFromString = require("require-from-string") as (code: string) => { handler: () => pulumi.dynamic.ResourceProvider };
    provider = requireFromString(providerSource).handler();

    dataDir = mkdtempSync(join(tmpdir(), "schema-provider-"));
    server = await startClickHouseHttp({ dataDir, user: "migrator", password: PASSWORD });
    inputs = {
      url: server.url, username: "migrator", password: PASSWORD, migrations: files(),
      afterStatements: ["ALTER TABLE analytics.events MODIFY TTL toDate(event_time) + INTERVAL 90 DAY DELETE"],
      connectTimeoutSeconds: 20,
    };
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("is serialized as self-contained code that requires @clickhouse/client lazily", () => {
    expect(typeof providerSource).toBe("string");
    expect(providerSource).toContain('require("@clickhouse/client")');
    // Nothing from the Pulumi SDK or a test module is dragged along.
    expect(providerSource).not.toMatch(/vitest|pulumi-harness|@pulumi\/docker/);
    expect(providerSource.length).toBeLessThan(100_000);
  });

  it("check accepts good inputs and names a badly named migration file", async () => {
    expect((await provider.check!({}, inputs)).failures).toEqual([]);
    const bad = await provider.check!({}, { ...inputs, migrations: [...files(), { name: "0010-oops.sql", sql: "" }] });
    expect(bad.failures).toHaveLength(1);
    expect(bad.failures![0].property).toBe("migrations");
    expect(bad.failures![0].reason).toContain("0010-oops.sql: a migration file name must look like 0005_add_sessions.sql");
  });

  it("create applies every migration and the retention, as the migrator, and records them", async () => {
    const created = await provider.create(inputs);
    outs = created.outs;
    expect(created.id).toBe(`migrator@${server.url}`);
    expect(outs.applied.map((a: { name: string }) => a.name)).toEqual(files().map((f) => f.name));
    expect(outs).not.toHaveProperty("password");
    const recorded = await query<{ name: string }>("SELECT name FROM analytics.schema_migrations ORDER BY name");
    expect(recorded.map((r) => r.name)).toEqual(files().map((f) => f.name));
    const [events] = await query<{ q: string }>("SELECT create_table_query AS q FROM system.tables WHERE database = 'analytics' AND name = 'events'");
    expect(events.q).toContain("TTL toDate(event_time) + toIntervalDay(90)");
  });

  it("diff reports no change for the same files and statements", async () => {
    expect((await provider.diff!("id", outs, inputs)).changes).toBe(false);
  });

  it("a new file is a change, and update applies only it", async () => {
    const added: MigrationSource = { name: "9100_provider_test.sql", sql: "CREATE TABLE IF NOT EXISTS analytics.provider_test (id String) ENGINE = MergeTree ORDER BY id;\n" };
    const news = { ...inputs, migrations: [...files(), added] };
    expect((await provider.diff!("id", outs, news)).changes).toBe(true);
    const before = await query<{ name: string; applied_at: string }>("SELECT name, toString(applied_at) AS applied_at FROM analytics.schema_migrations ORDER BY name");
    const updated = await provider.update!("id", outs, news);
    const after = await query<{ name: string; applied_at: string }>("SELECT name, toString(applied_at) AS applied_at FROM analytics.schema_migrations ORDER BY name");
    expect(after.slice(0, before.length)).toEqual(before); // earlier records untouched
    expect(after.map((r) => r.name)).toEqual([...before.map((r) => r.name), "9100_provider_test.sql"]);
    expect(updated.outs!.applied.at(-1).name).toBe("9100_provider_test.sql");
    outs = updated.outs!;
    inputs = news;
  });

  it("an edited applied file fails the diff (so preview refuses) naming the file and both checksums", async () => {
    const edited = inputs.migrations.map((m: MigrationSource) => m.name === "0001_events.sql" ? { ...m, sql: `${m.sql}\n-- edit\n` } : m);
    const failure = await provider.diff!("id", outs, { ...inputs, migrations: edited }).then(() => undefined, (e: Error) => e);
    expect(failure?.message).toMatch(/sql\/0001_events\.sql was edited after it was applied \(applied checksum [0-9a-f]{64}, file checksum [0-9a-f]{64}\); .*add a new migration instead/);
  });

  it("a changed retention is a change, and update runs it", async () => {
    const news = { ...inputs, afterStatements: ["ALTER TABLE analytics.events MODIFY TTL toDate(event_time) + INTERVAL 30 DAY DELETE"] };
    expect((await provider.diff!("id", outs, news)).changes).toBe(true);
    outs = (await provider.update!("id", outs, news)).outs!;
    const [events] = await query<{ q: string }>("SELECT create_table_query AS q FROM system.tables WHERE database = 'analytics' AND name = 'events'");
    expect(events.q).toContain("TTL toDate(event_time) + toIntervalDay(30)");
    expect(outs.afterStatements).toEqual(news.afterStatements);
  });

  it("a new data volume is a change, and update runs the after-statements again", async () => {
    // Stands in for the empty server on a new volume: the retention the after-statements set is gone.
    const client = createClient({ url: server.url, username: "migrator", password: PASSWORD });
    try {
      await client.command({ query: "ALTER TABLE analytics.events MODIFY TTL toDate(event_time) + INTERVAL 7 DAY DELETE" });
    } finally {
      await client.close();
    }
    expect(outs.dataVolume).toBe("");
    const news: Record<string, any> = { ...inputs, dataVolume: "analytics-eu-clickhouse-data" };
    expect(news.afterStatements).toEqual(["ALTER TABLE analytics.events MODIFY TTL toDate(event_time) + INTERVAL 90 DAY DELETE"]);
    expect((await provider.diff!("id", outs, news)).changes).toBe(true);
    outs = (await provider.update!("id", outs, news)).outs!;
    const [events] = await query<{ q: string }>("SELECT create_table_query AS q FROM system.tables WHERE database = 'analytics' AND name = 'events'");
    expect(events.q).toContain("TTL toDate(event_time) + toIntervalDay(90)");
    expect(outs.dataVolume).toBe("analytics-eu-clickhouse-data");
    expect((await provider.diff!("id", outs, news)).changes).toBe(false);
    inputs = news;
  });

  it("gives up with a clear error when ClickHouse does not accept the user", async () => {
    const failure = await provider.create({ ...inputs, password: "wrong", connectTimeoutSeconds: 2 }).then(() => undefined, (e: Error) => e);
    expect(failure?.message).toContain(`ClickHouse at ${server.url} did not accept a query`);
    expect(failure?.message).toContain("migrator's password");
  }, 30_000);

  it("waits for a ClickHouse that is still starting, then migrates", async () => {
    await server.stop();
    const restart = new Promise<void>((resolve) => setTimeout(() => server.restart().then(resolve), 1500));
    const created = await provider.create(inputs);
    await restart;
    expect(created.outs.applied.map((a: { name: string }) => a.name)).toEqual(inputs.migrations.map((m: MigrationSource) => m.name).sort());
  }, 60_000);
});
