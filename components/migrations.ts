/**
 * Schema migrations: the numbered SQL files in `sql/`, applied in order through `@clickhouse/client`.
 *
 * Conventions (golang-migrate style, see STYLE.md):
 * - A migration is a top-level file `NNNN_snake_name.sql` (four digits, unique). Files are frozen once applied:
 *   a change is a new file. The runner records each applied file (name, sha256 of its content, time) in
 *   `analytics.schema_migrations` and refuses to run when an applied file's content changed or it disappeared.
 * - ClickHouse DDL is not transactional and the HTTP interface takes one statement per request, so each file is
 *   split into statements and run one by one. Every statement must be idempotent (`IF NOT EXISTS`, `IF EXISTS`):
 *   a file that fails half-way is not recorded, and the rerun starts it from its first statement again.
 * - A file is recorded only after all its statements succeeded, so "recorded" means "fully applied".
 * - Pending files are applied in name order even when a lower number arrives after a higher one was applied
 *   (two branches merged in either order); each file stands alone, so order among independent files is harmless.
 *
 * Everything here is either pure (split, checksum, plan) or takes a `ClickHouseClient`, so tests run it against the
 * real engine (chDB) and the Pulumi dynamic provider runs the same code against the server. The provider's code is
 * serialized by Pulumi, so these functions require Node modules lazily inside their bodies and capture nothing but
 * other functions of this module.
 */
import type { ClickHouseClient } from "@clickhouse/client";

/** Database the migrations create and the table that records them. */
export const MIGRATIONS_DATABASE = "analytics";
export const MIGRATIONS_TABLE = "analytics.schema_migrations";

/** A migration file as read from disk (or passed to the dynamic provider): file name and content. */
export interface MigrationSource {
  readonly name: string;
  readonly sql: string;
}

/** A validated migration with the checksum recorded when it is applied. */
export interface MigrationFile extends MigrationSource {
  readonly checksum: string;
}

/** A row of `analytics.schema_migrations`. */
export interface AppliedMigration {
  readonly name: string;
  readonly checksum: string;
  /** UTC time the file finished applying, as ClickHouse prints it ("2026-01-31 12:00:00.000"). */
  readonly appliedAt?: string;
}

/** One statement of a file, with the line it starts on (for error messages). */
export interface SqlStatement {
  readonly text: string;
  readonly line: number;
}

/**
 * Every failure of the runner: an Error named "MigrationError" that names the file and, when a statement failed,
 * the statement and its line. A factory rather than `class extends Error`: Pulumi's closure serialization turns a
 * class into a function that calls `Error.call(this)`, which yields objects with no message in the provider.
 */
export interface MigrationError extends Error {
  readonly file?: string;
  readonly statement?: string;
  readonly line?: number;
}

export function migrationError(message: string, details: { file?: string; statement?: string; line?: number } = {}): MigrationError {
  const error = new Error(message) as Error & { file?: string; statement?: string; line?: number };
  error.name = "MigrationError";
  if (details.file !== undefined) error.file = details.file;
  if (details.statement !== undefined) error.statement = details.statement;
  if (details.line !== undefined) error.line = details.line;
  return error;
}

export function isMigrationError(error: unknown): error is MigrationError {
  return error instanceof Error && error.name === "MigrationError";
}

/** The statements that create the bookkeeping table; run before every plan (they are idempotent). */
export function bootstrapStatements(): string[] {
  return [
    "CREATE DATABASE IF NOT EXISTS analytics",
    // MergeTree ordered by name: a handful of rows, read whole on every run.
    "CREATE TABLE IF NOT EXISTS analytics.schema_migrations\n(\n" +
      "    name        String,\n" +
      "    checksum    String,\n" +
      "    applied_at  DateTime64(3, 'UTC') DEFAULT now64(3)\n" +
      ")\nENGINE = MergeTree\nORDER BY name",
  ];
}

/**
 * sha256 (hex) of a migration's content. Line endings are normalized first so that a Windows checkout with
 * `core.autocrlf` does not look like an edited file.
 */
export function migrationChecksum(sql: string): string {
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  return createHash("sha256").update(sql.replace(/\r\n/g, "\n"), "utf8").digest("hex");
}

/**
 * Checks names (`NNNN_snake_name.sql`, unique numbers), sorts by name and computes checksums.
 * Throws one MigrationError listing every bad name, so a single run shows all of them.
 */
export function toMigrationFiles(sources: readonly MigrationSource[]): MigrationFile[] {
  const problems: string[] = [];
  const byNumber = new Map<string, string>();
  for (const source of sources) {
    if (!/^\d{4}_[a-z0-9][a-z0-9_]*\.sql$/.test(source.name)) {
      problems.push(`${source.name}: a migration file name must look like 0005_add_sessions.sql ` +
        "(four digits, an underscore, lowercase letters, digits and underscores, .sql); rename it.");
      continue;
    }
    const number = source.name.slice(0, 4);
    const other = byNumber.get(number);
    if (other !== undefined) {
      problems.push(`${source.name} and ${other} share the number ${number}; give the newer one the next free number.`);
    }
    byNumber.set(number, source.name);
  }
  if (problems.length > 0) {
    throw migrationError(`Invalid migration files:\n  - ${problems.join("\n  - ")}`);
  }
  return [...sources]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((s) => ({ name: s.name, sql: s.sql, checksum: migrationChecksum(s.sql) }));
}

/**
 * Reads every top-level `*.sql` file of a directory (IO). Subdirectories and other files are ignored; a `.sql` file
 * with a bad name is an error (see toMigrationFiles), not silently skipped.
 */
export function readMigrationSources(dir: string): MigrationSource[] {
  const { readdirSync, readFileSync } = require("node:fs") as typeof import("node:fs");
  const { join } = require("node:path") as typeof import("node:path");
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.toLowerCase().endsWith(".sql"))
    .map((entry) => ({ name: entry.name, sql: readFileSync(join(dir, entry.name), "utf8") }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * Splits a SQL file into statements on `;`, ignoring semicolons inside 'strings', "identifiers", `identifiers`,
 * $heredoc$ strings, -- line comments and block comments. Statements that hold only comments are dropped; each
 * statement starts at its first code character (leading comments removed) and keeps its inner comments.
 * Throws a MigrationError naming the line of an unterminated string or comment.
 */
export function splitStatements(sql: string, file?: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let line = 1;
  let start = -1; // index of the current statement's first code character, -1 while none
  let startLine = 1;
  let i = 0;

  const finish = (end: number) => {
    if (start >= 0) {
      const text = sql.slice(start, end).trim();
      if (text.length > 0) statements.push({ text, line: startLine });
    }
    start = -1;
  };
  const markCode = () => {
    if (start < 0) {
      start = i;
      startLine = line;
    }
  };
  const heredocTag = (at: number): string | undefined =>
    /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(at, at + 64))?.[0];
  const unterminated = (what: string, openedAt: number): never => {
    throw migrationError(`${file ?? "SQL"}: unterminated ${what} starting on line ${openedAt}; close it.`,
      { file, line: openedAt });
  };

  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === "\n") {
      line++;
      i++;
    } else if (c === "-" && next === "-") {
      while (i < sql.length && sql[i] !== "\n") i++;
    } else if (c === "/" && next === "*") {
      const openedAt = line;
      const close = sql.indexOf("*/", i + 2);
      if (close < 0) unterminated("block comment", openedAt);
      for (let k = i; k < close + 2; k++) if (sql[k] === "\n") line++;
      i = close + 2;
    } else if (c === "'" || c === '"' || c === "`") {
      // Quoted string or identifier: a backslash escapes the next character, a doubled quote is a literal quote.
      markCode();
      const openedAt = line;
      i++;
      for (;;) {
        if (i >= sql.length) unterminated(c === "'" ? "string" : "quoted identifier", openedAt);
        const q = sql[i];
        if (q === "\n") line++;
        if (q === "\\") {
          if (sql[i + 1] === "\n") line++;
          i += 2;
        } else if (q === c && sql[i + 1] === c) {
          i += 2;
        } else if (q === c) {
          i++;
          break;
        } else {
          i++;
        }
      }
    } else if (c === "$" && heredocTag(i) !== undefined) {
      // Heredoc string: $tag$ ... $tag$ (ClickHouse supports it for multi-line literals).
      markCode();
      const tag = heredocTag(i)!;
      const openedAt = line;
      const close = sql.indexOf(tag, i + tag.length);
      if (close < 0) unterminated(`heredoc ${tag}`, openedAt);
      for (let k = i; k < close + tag.length; k++) if (sql[k] === "\n") line++;
      i = close + tag.length;
    } else if (c === ";") {
      finish(i);
      i++;
    } else {
      if (!/\s/.test(c)) markCode();
      i++;
    }
  }
  finish(sql.length);
  return statements;
}

/** What a run will do: the files to apply, in order, and the ones already applied. */
export interface MigrationPlan {
  readonly pending: readonly MigrationFile[];
  readonly applied: readonly AppliedMigration[];
}

/** An applied migration whose file was edited or removed, with a message that says what to do. */
export interface TamperedMigration {
  readonly name: string;
  readonly message: string;
}

/**
 * Applied files whose content changed or that no longer exist. Pure: used by the plan (against the database's
 * record) and by the provider's diff (against Pulumi state), so `pulumi preview` already refuses an edited file.
 */
export function findTamperedMigrations(
  applied: readonly AppliedMigration[],
  files: readonly MigrationFile[],
): TamperedMigration[] {
  const byName = new Map(files.map((f) => [f.name, f]));
  const tampered: TamperedMigration[] = [];
  for (const record of applied) {
    const file = byName.get(record.name);
    if (file === undefined) {
      tampered.push({ name: record.name, message: `sql/${record.name} was applied but is missing from sql/; ` +
        "applied migrations are frozen: restore the file (to undo its effect, add a new migration instead)." });
    } else if (file.checksum !== record.checksum) {
      tampered.push({ name: record.name, message: `sql/${record.name} was edited after it was applied ` +
        `(applied checksum ${record.checksum}, file checksum ${file.checksum}); applied migrations are frozen: ` +
        "revert the edit and add a new migration instead." });
    }
  }
  return tampered;
}

/** The error for tampered files: every file listed, the file named when there is exactly one. */
export function tamperedMigrationsError(tampered: readonly TamperedMigration[]): MigrationError {
  return migrationError(`Refusing to migrate:\n  - ${tampered.map((t) => t.message).join("\n  - ")}`,
    { file: tampered.length === 1 ? tampered[0].name : undefined });
}

/** Decides what to apply; throws a MigrationError when an applied file was edited or removed. */
export function planMigrations(files: readonly MigrationFile[], applied: readonly AppliedMigration[]): MigrationPlan {
  const tampered = findTamperedMigrations(applied, files);
  if (tampered.length > 0) throw tamperedMigrationsError(tampered);
  const done = new Set(applied.map((a) => a.name));
  return { pending: files.filter((f) => !done.has(f.name)), applied };
}

/** Reads the record of applied migrations (the bookkeeping table must exist: see bootstrapStatements). */
export async function readAppliedMigrations(client: ClickHouseClient): Promise<AppliedMigration[]> {
  const result = await client.query({
    query: "SELECT name, checksum, toString(applied_at) AS appliedAt FROM analytics.schema_migrations " +
      "ORDER BY name, applied_at",
    format: "JSONEachRow",
  });
  const rows = await result.json<AppliedMigration>();
  // Two concurrent first runs could record a file twice; the earliest record is the one that counts.
  const seen = new Set<string>();
  return rows.filter((row) => (seen.has(row.name) ? false : (seen.add(row.name), true)));
}

export interface ApplyOptions {
  /**
   * Idempotent statements run after the migrations, such as retention TTLs derived from config
   * (see retention.ts). Defaults to none. The caller decides when they need to run again.
   */
  readonly afterStatements?: readonly string[];
  /** Receives one line per step (the provider forwards them to the Pulumi log). Defaults to silence. */
  readonly log?: (message: string) => void;
}

export interface ApplyResult {
  /** Files applied by this run, in order. */
  readonly appliedNow: readonly MigrationFile[];
  /** Every applied file after this run (name and checksum), in name order. */
  readonly applied: readonly AppliedMigration[];
  /** Migration and after-statements this run executed (bookkeeping queries not counted). */
  readonly statementsExecuted: number;
}

function shorten(statement: string): string {
  const oneLine = statement.replace(/\s+/g, " ");
  return oneLine.length > 160 ? `${oneLine.slice(0, 157)}...` : oneLine;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Applies pending migrations, then the after-statements. A rerun with nothing new executes no migration statement.
 * Fails with a MigrationError naming the file, the statement and its line; files before it stay applied.
 */
export async function applyMigrations(
  client: ClickHouseClient,
  files: readonly MigrationFile[],
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const log = options.log ?? (() => undefined);
  for (const statement of bootstrapStatements()) {
    await client.command({ query: statement });
  }
  const plan = planMigrations(files, await readAppliedMigrations(client));
  let executed = 0;
  for (const file of plan.pending) {
    const statements = splitStatements(file.sql, file.name);
    log(`applying ${file.name} (${statements.length} statements)`);
    for (const [index, statement] of statements.entries()) {
      try {
        await client.command({ query: statement.text });
      } catch (error) {
        throw migrationError(
          `Migration sql/${file.name} failed at statement ${index + 1} of ${statements.length} (line ${statement.line}): ` +
            `${shorten(statement.text)}\nClickHouse said: ${reason(error)}\n` +
            "The file is not recorded as applied; statements before this one ran. Fix the file and run again " +
            "(every statement must be idempotent, e.g. CREATE TABLE IF NOT EXISTS).",
          { file: file.name, statement: statement.text, line: statement.line });
      }
      executed++;
    }
    await client.insert({
      table: MIGRATIONS_TABLE,
      values: [{ name: file.name, checksum: file.checksum }],
      format: "JSONEachRow",
    });
  }
  for (const [index, statement] of (options.afterStatements ?? []).entries()) {
    try {
      await client.command({ query: statement });
    } catch (error) {
      throw migrationError(`Post-migration statement ${index + 1} failed: ${shorten(statement)}\n` +
        `ClickHouse said: ${reason(error)}`, { statement });
    }
    executed++;
  }
  const applied = plan.pending.length > 0 ? await readAppliedMigrations(client) : plan.applied;
  return { appliedNow: plan.pending, applied, statementsExecuted: executed };
}

/**
 * Waits until ClickHouse answers a query as this client's user (the container's healthcheck only proves the HTTP
 * port is up). Retries every `intervalMs` until `timeoutMs`, then throws with the last error and what to check.
 */
export async function waitForClickHouse(
  client: ClickHouseClient,
  options: { readonly timeoutMs: number; readonly intervalMs?: number; readonly target?: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await client.query({ query: "SELECT 1 AS ok", format: "JSONEachRow" });
      await result.json();
      return;
    } catch (error) {
      if (Date.now() + interval > deadline) {
        throw migrationError(`ClickHouse${options.target ? ` at ${options.target}` : ""} did not accept a query ` +
          `after ${attempt} attempts in ${Math.round(options.timeoutMs / 1000)} s: ${reason(error)}\n` +
          "Check that the ClickHouse container is healthy (docker ps, docker logs) and that its HTTP port is " +
          "reachable from the machine running Pulumi with the migrator's password.");
      }
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }
}
