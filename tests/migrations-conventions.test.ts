/**
 * Guards the conventions the migration runner relies on (see components/migrations.ts): a file that fails half-way
 * is rerun from its first statement, so every statement must be safe to run twice. Messages say how to fix.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readMigrationSources, splitStatements, toMigrationFiles } from "../components/migrations";

const files = toMigrationFiles(readMigrationSources(join(__dirname, "..", "sql")));

/** Problems with one statement, as fix-it messages. Pure, so the rules themselves are tested below. */
function idempotenceProblems(statement: string): string[] {
  const sql = statement.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, " ").replace(/\s+/g, " ").trim().toUpperCase();
  const problems: string[] = [];
  const create = /^CREATE (?:OR REPLACE )?(TEMPORARY TABLE|TABLE|MATERIALIZED VIEW|VIEW|DATABASE|DICTIONARY|FUNCTION)\b(.*)$/.exec(sql);
  if (create && !sql.startsWith("CREATE OR REPLACE") && !create[2].trimStart().startsWith("IF NOT EXISTS")) {
    problems.push(`CREATE ${create[1]} needs IF NOT EXISTS (or OR REPLACE)`);
  }
  const drop = /^DROP (TABLE|VIEW|DATABASE|DICTIONARY|FUNCTION)\b(.*)$/.exec(sql);
  if (drop && !drop[2].trimStart().startsWith("IF EXISTS")) problems.push(`DROP ${drop[1]} needs IF EXISTS`);
  if (sql.startsWith("ALTER TABLE")) {
    for (const [, action, what, rest] of sql.matchAll(/\b(ADD|DROP) (COLUMN|INDEX|PROJECTION|CONSTRAINT|STATISTICS)\b( IF (?:NOT )?EXISTS)?/g)) {
      if (!rest) problems.push(`ALTER TABLE ... ${action} ${what} needs ${action === "ADD" ? "IF NOT EXISTS" : "IF EXISTS"}`);
    }
  }
  if (/^RENAME /.test(sql)) problems.push("RENAME is not idempotent; create the new object and copy instead");
  return problems;
}

describe("migration conventions", () => {
  it("the rules catch what they should", () => {
    expect(idempotenceProblems("CREATE TABLE analytics.x (a UInt8) ENGINE = Memory")).toEqual(["CREATE TABLE needs IF NOT EXISTS (or OR REPLACE)"]);
    expect(idempotenceProblems("create materialized view if not exists analytics.v to analytics.t as select 1")).toEqual([]);
    expect(idempotenceProblems("CREATE OR REPLACE VIEW analytics.v AS SELECT 1")).toEqual([]);
    expect(idempotenceProblems("DROP TABLE analytics.x")).toEqual(["DROP TABLE needs IF EXISTS"]);
    expect(idempotenceProblems("ALTER TABLE analytics.e ADD COLUMN IF NOT EXISTS a UInt8, DROP COLUMN b")).toEqual(
      ["ALTER TABLE ... DROP COLUMN needs IF EXISTS"]);
    expect(idempotenceProblems("ALTER TABLE analytics.e ADD INDEX i a TYPE minmax")).toEqual(["ALTER TABLE ... ADD INDEX needs IF NOT EXISTS"]);
    expect(idempotenceProblems("-- CREATE TABLE x\nALTER TABLE analytics.e MODIFY TTL toDate(t) + INTERVAL 1 DAY")).toEqual([]);
  });

  it("every statement in sql/ can run twice", () => {
    const problems = files.flatMap((f) => splitStatements(f.sql, f.name).flatMap((s) =>
      idempotenceProblems(s.text).map((p) => `sql/${f.name} line ${s.line}: ${p}`)));
    expect(problems, "a failed migration is rerun from its first statement; make each statement idempotent").toEqual([]);
  });

  it("INSERT ... SELECT backfills come last in their file, so a rerun after a failed DDL does not insert twice", () => {
    const problems = files.flatMap((f) => {
      const statements = splitStatements(f.sql, f.name);
      return statements.slice(0, -1).filter((s) => /^INSERT\b/i.test(s.text))
        .map((s) => `sql/${f.name} line ${s.line}: move the INSERT to the end of the file (or into its own migration)`);
    });
    expect(problems).toEqual([]);
  });

  it("migrations stay in the analytics database", () => {
    const outside = files.flatMap((f) => splitStatements(f.sql, f.name)
      .filter((s) => /^(CREATE|ALTER|DROP)\b/i.test(s.text))
      .filter((s) => !/^\s*(CREATE|ALTER|DROP)\s+(?:OR REPLACE\s+)?(?:MATERIALIZED\s+)?\w+\s+(?:IF (?:NOT )?EXISTS\s+)?analytics(\.|\s|$)/i.test(s.text))
      .map((s) => `sql/${f.name} line ${s.line}: qualify objects with the analytics database (the migrator may touch nothing else)`));
    expect(outside).toEqual([]);
  });
});
