import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  findTamperedMigrations,
  migrationChecksum,
  isMigrationError,
  planMigrations,
  splitStatements,
  toMigrationFiles,
} from "../components/migrations";

const texts = (sql: string) => splitStatements(sql).map((s) => s.text);

describe("splitStatements", () => {
  it("splits on semicolons and drops the trailing empty statement", () => {
    expect(texts("SELECT 1; SELECT 2;\n")).toEqual(["SELECT 1", "SELECT 2"]);
  });

  it("keeps a last statement without a semicolon", () => {
    expect(texts("CREATE DATABASE IF NOT EXISTS a;\nSELECT 2")).toEqual(["CREATE DATABASE IF NOT EXISTS a", "SELECT 2"]);
  });

  it("ignores semicolons in strings, quoted identifiers and comments", () => {
    const sql = [
      "-- header; with a semicolon",
      "INSERT INTO t VALUES ('a;b', 'it''s; fine', 'back\\'slash;');",
      "/* block; comment */ SELECT \"weird;name\", `other;name` FROM t; -- trailing; comment",
      "SELECT $$heredoc; text$$, $tag$more;$tag$",
    ].join("\n");
    expect(texts(sql)).toEqual([
      "INSERT INTO t VALUES ('a;b', 'it''s; fine', 'back\\'slash;')",
      "SELECT \"weird;name\", `other;name` FROM t",
      "SELECT $$heredoc; text$$, $tag$more;$tag$",
    ]);
  });

  it("drops statements that are only comments and strips leading comments", () => {
    expect(texts("-- only a comment;\n/* and ; another */ ;\n  -- lead\nSELECT 1 -- tail\n;")).toEqual(["SELECT 1 -- tail"]);
  });

  it("reports the line each statement starts on", () => {
    const sql = "-- 0001\n\nCREATE TABLE a (x String)\nENGINE = Memory;\n\n/* two\nlines */\nSELECT 'multi\nline';\nSELECT 3;";
    expect(splitStatements(sql).map((s) => s.line)).toEqual([3, 8, 10]);
  });

  it("names the line of an unterminated string or comment", () => {
    expect(() => splitStatements("SELECT 1;\nSELECT 'oops;\n", "0009_x.sql")).toThrow(
      "0009_x.sql: unterminated string starting on line 2; close it.");
    expect(() => splitStatements("SELECT 1; /* never closed", "0009_x.sql")).toThrow(/unterminated block comment starting on line 1/);
    expect(() => splitStatements("SELECT `a", "0009_x.sql")).toThrow(/unterminated quoted identifier/);
  });

  it("splits the shipped 0001 migration into the database and the events table", () => {
    const { readFileSync } = require("node:fs") as typeof import("node:fs");
    const sql = readFileSync(`${__dirname}/../sql/0001_events.sql`, "utf8");
    const statements = texts(sql);
    expect(statements[0]).toBe("CREATE DATABASE IF NOT EXISTS analytics");
    expect(statements[1]).toMatch(/^CREATE TABLE IF NOT EXISTS analytics\.events\n\(/);
  });
});

describe("migration files", () => {
  it("checksums are the sha256 of the content with CRLF normalized to LF", () => {
    const expected = createHash("sha256").update("SELECT 1;\nSELECT 2;\n").digest("hex");
    expect(migrationChecksum("SELECT 1;\nSELECT 2;\n")).toBe(expected);
    expect(migrationChecksum("SELECT 1;\r\nSELECT 2;\r\n")).toBe(expected);
    expect(migrationChecksum("SELECT 1;\nSELECT 3;\n")).not.toBe(expected);
  });

  it("sorts files by name", () => {
    const files = toMigrationFiles([{ name: "0010_b.sql", sql: "" }, { name: "0002_a.sql", sql: "" }, { name: "0003_c.sql", sql: "" }]);
    expect(files.map((f) => f.name)).toEqual(["0002_a.sql", "0003_c.sql", "0010_b.sql"]);
  });

  it("rejects bad names and reused numbers, listing every problem", () => {
    let error: unknown;
    try {
      toMigrationFiles([
        { name: "0004_rollups.sql", sql: "" },
        { name: "0004_more_rollups.sql", sql: "" },
        { name: "5_sessions.sql", sql: "" },
        { name: "0006_Sessions.SQL", sql: "" },
      ]);
    } catch (e) {
      error = e;
    }
    expect(isMigrationError(error)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain("0004_more_rollups.sql and 0004_rollups.sql share the number 0004");
    expect(message).toContain("5_sessions.sql: a migration file name must look like 0005_add_sessions.sql");
    expect(message).toContain("0006_Sessions.SQL: a migration file name must look like");
  });
});

describe("planMigrations", () => {
  const files = toMigrationFiles([
    { name: "0001_a.sql", sql: "SELECT 1" },
    { name: "0002_b.sql", sql: "SELECT 2" },
    { name: "0003_c.sql", sql: "SELECT 3" },
  ]);
  const record = (name: string) => ({ name, checksum: files.find((f) => f.name === name)!.checksum });

  it("plans every file on an empty database and nothing when all are applied", () => {
    expect(planMigrations(files, []).pending.map((f) => f.name)).toEqual(["0001_a.sql", "0002_b.sql", "0003_c.sql"]);
    expect(planMigrations(files, files.map((f) => record(f.name))).pending).toEqual([]);
  });

  it("plans only the files not yet applied, in name order, even below the highest applied number", () => {
    expect(planMigrations(files, [record("0001_a.sql"), record("0003_c.sql")]).pending.map((f) => f.name)).toEqual(["0002_b.sql"]);
  });

  it("refuses edited and removed files and lists them all", () => {
    const applied = [
      { name: "0001_a.sql", checksum: "0".repeat(64) },
      record("0002_b.sql"),
      { name: "0000_gone.sql", checksum: "f".repeat(64) },
    ];
    expect(findTamperedMigrations(applied, files).map((t) => t.name)).toEqual(["0001_a.sql", "0000_gone.sql"]);
    expect(() => planMigrations(files, applied)).toThrow(
      `sql/0001_a.sql was edited after it was applied (applied checksum ${"0".repeat(64)}, file checksum ${files[0].checksum}); ` +
      "applied migrations are frozen: revert the edit and add a new migration instead.");
    expect(() => planMigrations(files, applied)).toThrow(/sql\/0000_gone\.sql was applied but is missing from sql\//);
  });
});
