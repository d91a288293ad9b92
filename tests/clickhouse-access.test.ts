/**
 * The generated users.xml enforced by the real ClickHouse engine. chDB refuses CREATE USER and always runs as
 * `default`, but it loads a users.xml from a config file: so each role's generated definition (profile, grants,
 * networks) is installed as chDB's `default` user in its own child process, and the test checks what that user can
 * and cannot do. Only the password is blanked (chDB logs in without one); everything else is the shipped XML, with
 * one exception: chDB (clickhouse-local) ignores the server's access_control_improvements, so it cannot enable
 * settings_constraints_replace_previous, without which ClickHouse refuses a `changeable_in_readonly` constraint at
 * load time. The reader's copy here drops that one element; the server config sets the flag (tested in
 * clickhouse-config.test.ts), and with readonly=1 and no such constraint every setting change is refused.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServerConfigXml } from "../components/clickhouse-server-config";
import { buildUsersXml, CLICKHOUSE_USERS, type ClickHouseRole } from "../components/clickhouse-users";
import { readMigrationSources } from "../components/migrations";
import { funnelRollupStatements } from "../components/funnel-rollup";
import { retentionStatements } from "../components/retention";
import { refreshSnapshotsStatements, snapshotViewStatements } from "../components/snapshot-views";
import { loadConfig } from "../components/stack-config";

const SQL_DIR = join(__dirname, "..", "sql");
const CHILD = join(__dirname, "clickhouse-access-child.ts");

interface QueryResult { query: string; ok: boolean; rows?: Record<string, unknown>[]; error?: string }
interface ChildOutput { migrate?: { ok: boolean; applied?: string[]; error?: string }; results: QueryResult[] }

function runChild(job: Record<string, unknown>): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`child timed out; stderr: ${err}`)); }, 90_000);
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { err += d; });
    child.on("close", (code) => {
      clearTimeout(timer);
      const last = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !last.startsWith("{")) reject(new Error(`child exited ${code}; stderr: ${err}; stdout: ${out}`));
      else resolve(JSON.parse(last) as ChildOutput);
    });
    child.stdin.end(JSON.stringify(job));
  });
}

const usersXml = buildUsersXml({ passwordSha256: { migrator: "1".repeat(64), writer: "2".repeat(64), reader: "3".repeat(64) } });
const serverXml = buildServerConfigXml({ systemLogRetentionDays: 7 });

/** A standalone users.xml whose `default` user is the generated definition of `role`, password blanked. */
function roleAsDefault(role: ClickHouseRole): string {
  const profiles = /<profiles>[\s\S]*?<\/profiles>/.exec(usersXml)![0]
    .replace("<profiles>", "<profiles>\n<default/>")
    .replace(/\s*<changeable_in_readonly\/>/, "");
  const name = CLICKHOUSE_USERS[role];
  const body = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(usersXml)![1]
    .replace(/<password_sha256_hex>[0-9a-f]{64}<\/password_sha256_hex>/, "<password></password>");
  return `<clickhouse>${profiles}<quotas><default/></quotas><users><default>${body}</default></users></clickhouse>`;
}

const FULL_ACCESS = "<clickhouse><profiles><default/></profiles><quotas><default/></quotas><users><default>" +
  "<password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota>" +
  "<access_management>1</access_management></default></users></clickhouse>";

const eventInsert = (id: string) => "INSERT INTO analytics.events (message_id, type, event_name, user_id, anonymous_id, " +
  `properties, context, event_time, received_at) SELECT '${id}', 'track', 'report_viewed', 'u-${id}', '', '{}', '{}', now64(3), now64(3)`;
/** The migrator's event (a 'report_viewed', a funnel step in this test) reached the funnel rollup through its view. */
const FUNNEL_ROWS = "SELECT count() AS n FROM analytics.funnel_events WHERE event_name = 'report_viewed'";
const DAU_SNAPSHOT_ROWS = "SELECT count() AS n FROM analytics.dau_snapshots";
const deadLetterInsert = "INSERT INTO analytics.ingest_dead_letters (failed_at, target_table, error_code, reason, message_id, row) " +
  "SELECT now64(3), 'events', 27, 'Cannot parse input', 'd1', '{}'";
const identityInsert = (table: "identifies" | "groups" | "aliases") => ({
  identifies: "INSERT INTO analytics.identifies (message_id, user_id, anonymous_id, traits, context, event_time, received_at) " +
    "SELECT 'i1', 'u1', 'a1', '{}', '{}', now64(3), now64(3)",
  groups: "INSERT INTO analytics.groups (message_id, user_id, anonymous_id, group_id, traits, context, event_time, received_at) " +
    "SELECT 'g1', 'u1', '', 'acme', '{}', '{}', now64(3), now64(3)",
  aliases: "INSERT INTO analytics.aliases (message_id, user_id, previous_id, context, event_time, received_at) " +
    "SELECT 'l1', 'u1', 'a1', '{}', now64(3), now64(3)",
})[table];

const MATERIALIZED_VIEWS = "SELECT name FROM system.tables WHERE database = 'analytics' AND engine = 'MaterializedView'";
const DENIED = /Not enough privileges|ACCESS_DENIED/;
const outside = [
  "CREATE TABLE default.t (x UInt8) ENGINE = Memory",
  "CREATE USER intruder",
  "SELECT name FROM system.users",
  "SELECT * FROM file('/etc/hostname', 'LineAsString')",
];

describe("ClickHouse users enforced by the real engine", () => {
  let dir: string;
  let migrator: ChildOutput;
  let setup: ChildOutput;
  let writer: ChildOutput;
  let reader: ChildOutput;
  const result = (out: ChildOutput, query: string) => {
    const found = out.results.find((r) => r.query === query);
    if (!found) throw new Error(`no result for ${query}`);
    return found;
  };
  const grantsOf = (out: ChildOutput) =>
    (result(out, "SHOW GRANTS").rows ?? []).map((r) => Object.values(r)[0] as string).sort();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ch-access-"));
    const config = (users: string) => {
      const usersPath = join(dir, `${users}.xml`);
      const configPath = join(dir, `${users}-config.xml`);
      const access = /<access_control_improvements>[\s\S]*?<\/access_control_improvements>/.exec(serverXml)![0];
      writeFileSync(configPath, `<clickhouse><user_directories><users_xml><path>${usersPath}</path></users_xml>` +
        `</user_directories>${access}</clickhouse>`);
      return { usersPath, configPath };
    };
    const files = {
      migrator: config("migrator"), writer: config("writer"), reader: config("reader"), full: config("full"),
    };
    writeFileSync(files.migrator.usersPath, roleAsDefault("migrator"));
    writeFileSync(files.writer.usersPath, roleAsDefault("writer"));
    writeFileSync(files.reader.usersPath, roleAsDefault("reader"));
    writeFileSync(files.full.usersPath, FULL_ACCESS);
    const cfg = loadConfig({}, "test");

    // 1. As the migrator, on its own data directory: every migration, the retention TTL and the funnel view with its
    //    backfill, then inserts that fire the materialized views (which run as their definer: the migrator).
    migrator = await runChild({
      dataDir: join(dir, "migrator-data"), configFile: files.migrator.configPath,
      migrationsDir: SQL_DIR, afterStatements: [...retentionStatements(cfg), ...funnelRollupStatements(["signup", "report_viewed"]),
        ...snapshotViewStatements({ retentionOffsetsDays: [1, 7], windowDays: cfg.rollupRetentionDays, settleSeconds: 0 })],
      queries: ["SHOW GRANTS", eventInsert("m1"), FUNNEL_ROWS, identityInsert("identifies"), identityInsert("aliases"),
        ...refreshSnapshotsStatements(), DAU_SNAPSHOT_ROWS,
        "CREATE DATABASE scratch", "DROP DATABASE analytics", "TRUNCATE TABLE analytics.events", ...outside],
    });
    // 2. A second data directory, migrated with full access. On the server, materialized views run as their
    //    definer (the migrator, checked above; ClickHouse >= 25.6 checks the definer's grants, not the inserting
    //    user's). chDB has no definers and would check the writer's grants instead, so the views are dropped here
    //    and the next two children exercise the writer's and reader's own grants.
    const shared = join(dir, "shared-data");
    setup = await runChild({
      dataDir: shared, configFile: files.full.configPath, migrationsDir: SQL_DIR,
      queries: [eventInsert("s1"), eventInsert("s2"), eventInsert("s3"), MATERIALIZED_VIEWS],
    });
    const views = (setup.results.find((r) => r.query === MATERIALIZED_VIEWS)?.rows ?? []).map((r) => String(r.name));
    await runChild({ dataDir: shared, configFile: files.full.configPath, queries: views.map((v) => `DROP VIEW analytics.${v}`) });
    writer = await runChild({
      dataDir: shared, configFile: files.writer.configPath,
      queries: ["SHOW GRANTS", eventInsert("w1"), identityInsert("identifies"), identityInsert("groups"),
        identityInsert("aliases"), deadLetterInsert, "EXISTS TABLE analytics.events", "SELECT 1 AS one",
        "SELECT count() AS n FROM analytics.schema_migrations",
        "SELECT count() AS n FROM analytics.events", "INSERT INTO analytics.schema_migrations (name, checksum) SELECT 'x', 'y'",
        "CREATE TABLE analytics.t (x UInt8) ENGINE = Memory", "ALTER TABLE analytics.events DELETE WHERE 1", ...outside],
    });
    reader = await runChild({
      dataDir: shared, configFile: files.reader.configPath,
      queries: ["SHOW GRANTS", "SELECT count() AS n FROM analytics.events",
        "SELECT getSetting('readonly') AS readonly, getSetting('max_execution_time') AS max_execution_time",
        "SELECT 1 AS one SETTINGS max_execution_time = 30", "SELECT 1 AS one SETTINGS max_execution_time = 301",
        "SELECT 1 AS one SETTINGS max_memory_usage = 1", eventInsert("r1"),
        "CREATE TABLE analytics.t (x UInt8) ENGINE = Memory",
        "SELECT count() AS n FROM system.tables WHERE database = 'analytics' AND name = 'events'", ...outside],
    });
  }, 240_000);
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it("the migrator applies every migration and the retention TTL, and its materialized views can run", () => {
    expect(migrator.migrate?.error).toBeUndefined();
    const onDisk = readMigrationSources(SQL_DIR).map((s) => s.name);
    expect(migrator.migrate?.applied).toEqual(onDisk);
    for (const q of [eventInsert("m1"), identityInsert("identifies"), identityInsert("aliases")]) {
      expect(result(migrator, q)).toEqual({ query: q, ok: true });
    }
    expect(migrator.results.find((r) => r.query === FUNNEL_ROWS)?.rows).toEqual([{ n: 1 }]);
    // The snapshot views refresh on demand, and the refresh writes (one day of activity: one row).
    for (const q of refreshSnapshotsStatements()) expect(result(migrator, q)).toEqual({ query: q, ok: true });
    expect(migrator.results.find((r) => r.query === DAU_SNAPSHOT_ROWS)?.rows).toEqual([{ n: 1 }]);
    expect(grantsOf(migrator)).toEqual([
      "GRANT SELECT ON system.view_refreshes TO default",
      "GRANT SHOW, SELECT, INSERT, ALTER TABLE, ALTER VIEW, CREATE DATABASE, CREATE TABLE, CREATE VIEW, " +
        "DROP TABLE, DROP VIEW, BACKUP, SYSTEM VIEWS ON analytics.* TO default",
    ]);
  });

  it("the migrator cannot drop the database, truncate, or reach outside analytics", () => {
    for (const q of ["CREATE DATABASE scratch", "DROP DATABASE analytics", "TRUNCATE TABLE analytics.events", ...outside]) {
      expect(result(migrator, q).error, q).toMatch(DENIED);
    }
  });

  it("the ingest writer inserts into the ingest tables and reads nothing", () => {
    expect(setup.results.every((r) => r.ok)).toBe(true);
    expect(grantsOf(writer)).toEqual([
      "GRANT INSERT ON analytics.aliases TO default",
      "GRANT INSERT ON analytics.events TO default",
      "GRANT INSERT ON analytics.groups TO default",
      "GRANT INSERT ON analytics.identifies TO default",
      "GRANT INSERT ON analytics.ingest_dead_letters TO default",
    ]);
    for (const q of [eventInsert("w1"), identityInsert("identifies"), identityInsert("groups"), identityInsert("aliases"),
      deadLetterInsert]) {
      expect(result(writer, q)).toEqual({ query: q, ok: true });
    }
    // What a readiness check may ask without any SELECT grant.
    expect(result(writer, "EXISTS TABLE analytics.events").ok).toBe(true);
    expect(result(writer, "SELECT 1 AS one").rows).toEqual([{ one: 1 }]);
    for (const q of ["SELECT count() AS n FROM analytics.events", "SELECT count() AS n FROM analytics.schema_migrations", "INSERT INTO analytics.schema_migrations (name, checksum) SELECT 'x', 'y'",
      "CREATE TABLE analytics.t (x UInt8) ENGINE = Memory", "ALTER TABLE analytics.events DELETE WHERE 1", ...outside]) {
      expect(result(writer, q).error, q).toMatch(DENIED);
    }
  });

  it("the Grafana reader reads analytics.* read-only, with a bounded execution time", () => {
    expect(grantsOf(reader)).toEqual(["GRANT SELECT ON analytics.* TO default"]);
    expect(Number(result(reader, "SELECT count() AS n FROM analytics.events").rows?.[0]?.n)).toBe(4); // 3 setup + 1 writer
    expect(result(reader, "SELECT getSetting('readonly') AS readonly, getSetting('max_execution_time') AS max_execution_time").rows)
      .toEqual([{ readonly: 1, max_execution_time: 60 }]);
    // Without changeable_in_readonly (see the header) even the execution time is fixed; above 300 s it never passes.
    expect(result(reader, "SELECT 1 AS one SETTINGS max_execution_time = 30").error).toMatch(/readonly mode/);
    expect(result(reader, "SELECT 1 AS one SETTINGS max_execution_time = 301").ok).toBe(false);
    expect(result(reader, "SELECT 1 AS one SETTINGS max_memory_usage = 1").error).toMatch(/readonly mode/);
    expect(result(reader, eventInsert("r1")).error).toMatch(/Not enough privileges|readonly mode/);
    expect(result(reader, "CREATE TABLE analytics.t (x UInt8) ENGINE = Memory").error).toMatch(/Not enough privileges|readonly mode/);
    expect(Number(result(reader, "SELECT count() AS n FROM system.tables WHERE database = 'analytics' AND name = 'events'")
      .rows?.[0]?.n)).toBe(1);
    for (const q of outside) expect(result(reader, q).error, q).toMatch(/Not enough privileges|ACCESS_DENIED|readonly mode/);
  });
});
