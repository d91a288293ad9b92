import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyMigrations,
  isMigrationError,
  type MigrationError,
  readMigrationSources,
  toMigrationFiles,
  type MigrationFile,
} from "../components/migrations";
import { startTestEngine, type TestEngine } from "./support/clickhouse-engine";

const SQL_DIR = join(__dirname, "..", "sql");

/** Wraps the real client and records every command and insert it is asked to run. */
function recording(client: ClickHouseClient) {
  const commands: string[] = [];
  const inserts: unknown[] = [];
  const wrapped = new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === "command") {
        return (params: { query: string }) => {
          commands.push(params.query);
          return target.command(params);
        };
      }
      if (prop === "insert") {
        return (params: { values: unknown }) => {
          inserts.push(params.values);
          return target.insert(params as Parameters<ClickHouseClient["insert"]>[0]);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  return { client: wrapped, commands, inserts };
}

const isBookkeeping = (q: string) =>
  q === "CREATE DATABASE IF NOT EXISTS analytics" || q.startsWith("CREATE TABLE IF NOT EXISTS analytics.schema_migrations");

type Row = { name: string; checksum: string; applied_at: string };

/** Test-only migrations, added after the real ones. */
const SESSIONS = {
  name: "9001_test_sessions.sql",
  sql: "-- a test-only migration with two statements\n" +
    "CREATE TABLE IF NOT EXISTS analytics.test_sessions (id String, note String DEFAULT 'a;b') ENGINE = MergeTree ORDER BY id;\n\n" +
    "/* second */ ALTER TABLE analytics.test_sessions ADD COLUMN IF NOT EXISTS started_at DateTime64(3, 'UTC');\n",
};
const BROKEN = {
  name: "9002_broken.sql",
  sql: "CREATE TABLE IF NOT EXISTS analytics.test_broken (id String) ENGINE = MergeTree ORDER BY id;\n" +
    "\n-- the next statement has a typo\nALTER TABLE analytics.test_broken ADD COLUMN IF NOT EXISTS x Strin;\n",
};
const FIXED = { ...BROKEN, sql: BROKEN.sql.replace("Strin;", "String;") };
const withFiles = (...extra: { name: string; sql: string }[]) => toMigrationFiles([...readMigrationSources(SQL_DIR), ...extra]);

describe("migration runner on ClickHouse (chDB)", () => {
  let engine: TestEngine;
  let files: MigrationFile[];
  const records = () => engine.rows<Row>(
    "SELECT name, checksum, toString(applied_at) AS applied_at FROM analytics.schema_migrations ORDER BY name");

  beforeAll(async () => {
    engine = await startTestEngine("migrations");
    files = toMigrationFiles(readMigrationSources(SQL_DIR));
  });
  afterAll(async () => { await engine.close(); });

  it("applies every file in sql/ in order and records its name, sha256 and time", async () => {
    const before = Date.now();
    const result = await applyMigrations(engine.client, files);

    const onDisk = readdirSync(SQL_DIR).filter((f) => f.endsWith(".sql")).sort();
    expect(onDisk.length).toBeGreaterThanOrEqual(2);
    expect(result.appliedNow.map((f) => f.name)).toEqual(onDisk);
    const rows = await records();
    expect(rows.map((r) => r.name)).toEqual(onDisk);
    for (const row of rows) {
      const expected = createHash("sha256").update(readFileSync(join(SQL_DIR, row.name), "utf8").replace(/\r\n/g, "\n")).digest("hex");
      expect(row.checksum).toBe(expected);
      const appliedMs = Date.parse(row.applied_at.replace(" ", "T") + "Z");
      expect(appliedMs).toBeGreaterThanOrEqual(before - 1000);
      expect(appliedMs).toBeLessThanOrEqual(Date.now() + 1000);
    }
    // The ingest/analytics contract: the events table and its columns exist as 0001 declares them.
    const columns = await engine.rows<{ name: string; type: string }>(
      "SELECT name, type FROM system.columns WHERE database = 'analytics' AND table = 'events' ORDER BY position");
    expect(columns.map((c) => c.name)).toEqual(
      ["message_id", "type", "event_name", "user_id", "anonymous_id", "properties", "context", "event_time", "received_at"]);
    expect(columns.find((c) => c.name === "event_time")?.type).toBe("DateTime64(3, 'UTC')");
    const tables = await engine.rows<{ name: string }>("SELECT name FROM system.tables WHERE database = 'analytics' ORDER BY name");
    expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(["aliases", "events", "groups", "identifies", "schema_migrations"]));
  });

  it("a rerun executes no migration statement and records nothing", async () => {
    const before = await records();
    const rec = recording(engine.client);
    const result = await applyMigrations(rec.client, files);
    expect(result.statementsExecuted).toBe(0);
    expect(result.appliedNow).toEqual([]);
    expect(rec.commands.every(isBookkeeping)).toBe(true);
    expect(rec.commands).toHaveLength(2);
    expect(rec.inserts).toEqual([]);
    expect(await records()).toEqual(before);
  });

  it("an update applies only the new file, statement by statement", async () => {
    const rec = recording(engine.client);
    const result = await applyMigrations(rec.client, withFiles(SESSIONS));
    expect(result.appliedNow.map((f) => f.name)).toEqual(["9001_test_sessions.sql"]);
    expect(result.statementsExecuted).toBe(2);
    expect(rec.commands.filter((q) => !isBookkeeping(q))).toEqual([
      "CREATE TABLE IF NOT EXISTS analytics.test_sessions (id String, note String DEFAULT 'a;b') ENGINE = MergeTree ORDER BY id",
      "ALTER TABLE analytics.test_sessions ADD COLUMN IF NOT EXISTS started_at DateTime64(3, 'UTC')",
    ]);
    expect(rec.inserts).toHaveLength(1);
    const cols = await engine.rows<{ name: string }>(
      "SELECT name FROM system.columns WHERE database = 'analytics' AND table = 'test_sessions' ORDER BY position");
    expect(cols.map((c) => c.name)).toEqual(["id", "note", "started_at"]);
    expect((await records()).map((r) => r.name)).toContain("9001_test_sessions.sql");
    expect(result.applied.map((a) => a.name)).toContain("9001_test_sessions.sql");
  });

  it("refuses an edited applied file, naming it and both checksums, before running anything", async () => {
    const sources = [...readMigrationSources(SQL_DIR), SESSIONS].map((s) =>
      s.name === "0001_events.sql" ? { ...s, sql: s.sql + "\n-- an innocent-looking edit\n" } : s);
    const edited = toMigrationFiles(sources);
    const appliedChecksum = files.find((f) => f.name === "0001_events.sql")!.checksum;
    const editedChecksum = edited.find((f) => f.name === "0001_events.sql")!.checksum;
    const rec = recording(engine.client);

    const error = await applyMigrations(rec.client, edited).then(() => undefined, (e: unknown) => e);
    expect(isMigrationError(error)).toBe(true);
    const message = (error as MigrationError).message;
    expect(message).toContain("sql/0001_events.sql was edited after it was applied");
    expect(message).toContain(appliedChecksum);
    expect(message).toContain(editedChecksum);
    expect(message).toContain("add a new migration instead");
    expect(message.split("\n  - ")).toHaveLength(2); // the header and exactly one problem
    expect((error as MigrationError).file).toBe("0001_events.sql");
    expect(rec.commands.every(isBookkeeping)).toBe(true);
    expect(rec.inserts).toEqual([]);
  });

  it("refuses when an applied file disappeared from sql/", async () => {
    const withoutTestFile = toMigrationFiles(readMigrationSources(SQL_DIR));
    await expect(applyMigrations(engine.client, withoutTestFile)).rejects.toThrow(
      /sql\/9001_test_sessions\.sql was applied but is missing from sql\/; .*restore the file/);
  });

  it("a failing statement is named with its file, position and line; the file is not recorded; a fixed rerun resumes", async () => {
    const error = await applyMigrations(engine.client, withFiles(SESSIONS, BROKEN)).then(() => undefined, (e: unknown) => e);
    expect(isMigrationError(error)).toBe(true);
    const failure = error as MigrationError;
    expect(failure.message).toMatch(/^Migration sql\/9002_broken\.sql failed at statement 2 of 2 \(line 4\): ALTER TABLE analytics\.test_broken ADD COLUMN IF NOT EXISTS x Strin/);
    expect(failure.message).toContain("ClickHouse said:");
    expect(failure.file).toBe("9002_broken.sql");
    expect(failure.line).toBe(4);
    expect((await records()).map((r) => r.name)).not.toContain("9002_broken.sql");

    const result = await applyMigrations(engine.client, withFiles(SESSIONS, FIXED));
    expect(result.appliedNow.map((f) => f.name)).toEqual(["9002_broken.sql"]);
    expect(result.statementsExecuted).toBe(2); // the idempotent CREATE runs again, then the fixed ALTER
    expect((await records()).map((r) => r.name)).toContain("9002_broken.sql");
  });

  it("runs after-statements after the migrations and reports them in the count", async () => {
    const all = withFiles(SESSIONS, FIXED);
    const rec = recording(engine.client);
    const result = await applyMigrations(rec.client, all, {
      afterStatements: ["ALTER TABLE analytics.test_sessions MODIFY COMMENT 'sessions for tests'"],
    });
    expect(result.statementsExecuted).toBe(1);
    expect(rec.commands.filter((q) => !isBookkeeping(q))).toEqual(["ALTER TABLE analytics.test_sessions MODIFY COMMENT 'sessions for tests'"]);
    const [table] = await engine.rows<{ comment: string }>(
      "SELECT comment FROM system.tables WHERE database = 'analytics' AND name = 'test_sessions'");
    expect(table.comment).toBe("sessions for tests");

    const failing = applyMigrations(engine.client, all, { afterStatements: ["ALTER TABLE analytics.nope MODIFY COMMENT 'x'"] });
    await expect(failing).rejects.toThrow(/^Post-migration statement 1 failed: ALTER TABLE analytics\.nope MODIFY COMMENT 'x'\nClickHouse said: /);
  });
});
