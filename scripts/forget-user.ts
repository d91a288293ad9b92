/**
 * npm run forget-user -- --user-id <id> [--user-id <another id of the same person>] [--yes]
 *
 * Right to be forgotten: deletes one person's events, identity calls and rollup rows from ClickHouse and reports
 * how many rows each table lost. Without --yes it only counts (a dry run).
 *
 * Who "the person" is: the given user id(s) plus every id linked to them, followed outward to a fixed point:
 * the anonymous ids their identify, group and track calls carried, and the previous ids of their aliases. Links
 * are never followed from an anonymous id to another user (a shared computer links one anonymous id to two people;
 * the other person's identified rows stay).
 *
 * What is deleted (FORGET_PLAN says it per table, and a test fails when a migration adds a table it does not know):
 * - raw rows: events, identifies and groups of the user ids, and the anonymous-only rows of the linked anonymous
 *   ids; aliases naming any of the ids; dead letters whose stored row names one;
 * - per-person rollups, keyed by cityHash64 of the ids: activity_daily, activity_weekly, feature_usage_weekly, signups,
 *   funnel_events, identity_links (including anonymous keys linked to the user that no raw row names any more; but
 *   another user's link on one of the person's anonymous ids, a shared computer, stays);
 * - events_hourly holds no ids, but its unique-actor sketches were built from the person's hashed id: the hours
 *   the person was active in are re-aggregated from everyone else's events, before the person's raw rows go (so a
 *   rerun of a run that stopped half-way still knows which hours to rebuild). Hours older than the raw events'
 *   retention cannot be rebuilt (their events are gone) and keep their sketch, which holds no readable id;
 * - link_changes rows of the person's keys; the DAU and retention snapshots hold counts, not ids: the person's active
 *   days are marked changed in day_changes (dated a day ahead, before the deletes), so the panels count them again.
 *
 * How: `ALTER TABLE ... DELETE` with mutations_sync=2, which rewrites the affected parts, so the rows are physically
 * gone when the command returns (a lightweight DELETE only masks them until a merge). Not covered, and said in the
 * report: Loki (ingest request lines carry user ids for logRetentionDays) and backups taken before the deletion.
 *
 * Runs as `migrator` (ALTER, SELECT and INSERT on analytics.*); see scripts/ops/clickhouse-connection.ts.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { parseArgs } from "node:util";
import { openOpsClient, type StackLookup } from "./ops/clickhouse-connection";
import { stackLookup } from "./ops/stack-lookup";

/** How a table holds per-person data, and so what forgetting someone does to it. */
export type TablePlan =
  /** Rows naming the person: deleted with this condition ({ids} are the person's id strings, {keys} their cityHash64). */
  | { readonly kind: "delete"; readonly where: string; readonly what: string }
  /**
   * An aggregate without ids, re-aggregated for the person's time buckets from the remaining events with the SELECT
   * of the view that feeds it. `bucket` (over the table) and `bucketOfEvent` (over analytics.events) are the same
   * number for the same bucket (seconds since the epoch).
   */
  | { readonly kind: "rebuild"; readonly view: string; readonly bucket: string; readonly bucketOfEvent: string; readonly what: string }
  /**
   * Records that the person's active days changed (analytics.day_changes, sql/0011), so the DAU, retention and
   * adoption snapshots stop using their stored answers for those days (and weeks) and count them again without the person. A deletion
   * is otherwise invisible to the snapshots' staleness rule, which only sees inserts.
   */
  | { readonly kind: "invalidate"; readonly what: string }
  /** Holds nothing about people. */
  | { readonly kind: "none"; readonly what: string };

const OWN_ROWS = "user_id IN {ids:Array(String)} OR (user_id = '' AND anonymous_id IN {ids:Array(String)})";
const KEYS = "user_key IN {keys:Array(UInt64)} OR anon_key IN {keys:Array(UInt64)}";

export const FORGET_PLAN: Readonly<Record<string, TablePlan>> = {
  "analytics.events": { kind: "delete", where: OWN_ROWS, what: "track/page/screen events" },
  "analytics.identifies": { kind: "delete", where: OWN_ROWS, what: "identify calls (traits)" },
  "analytics.groups": { kind: "delete", where: OWN_ROWS, what: "group calls" },
  "analytics.aliases": { kind: "delete", where: "user_id IN {ids:Array(String)} OR previous_id IN {ids:Array(String)}", what: "alias calls" },
  "analytics.ingest_dead_letters": {
    kind: "delete",
    // The stored row is the JSONEachRow line of the target table; its id columns name the person.
    where: "JSONExtractString(row, 'user_id') IN {ids:Array(String)} OR JSONExtractString(row, 'previous_id') IN {ids:Array(String)} " +
      "OR (JSONExtractString(row, 'user_id') = '' AND JSONExtractString(row, 'anonymous_id') IN {ids:Array(String)})",
    what: "rows ClickHouse refused",
  },
  "analytics.identity_links": {
    kind: "delete",
    // Links to the person, and links from the person's own user ids (an alias to a newer id). Not by the anonymous
    // keys alone: on a shared computer another user's link on the same anonymous id is theirs, not the person's.
    where: "user_key IN {keys:Array(UInt64)} OR anon_key IN (SELECT cityHash64(arrayJoin({userIds:Array(String)})))",
    what: "anonymous id -> user links",
  },
  "analytics.activity_daily": { kind: "delete", where: KEYS, what: "daily activity rollup" },
  "analytics.activity_weekly": { kind: "delete", where: KEYS, what: "weekly activity rollup" },
  "analytics.feature_usage_weekly": { kind: "delete", where: KEYS, what: "weekly feature usage rollup" },
  "analytics.signups": { kind: "delete", where: "user_key IN {keys:Array(UInt64)}", what: "signup times" },
  "analytics.funnel_events": { kind: "delete", where: KEYS, what: "funnel step events" },
  "analytics.events_hourly": {
    kind: "rebuild", view: "analytics.events_hourly_mv", bucket: "toUnixTimestamp(hour)", bucketOfEvent: "toUnixTimestamp(toStartOfHour(event_time))",
    what: "hourly counts and unique-actor sketches",
  },
  "analytics.link_changes": { kind: "delete", where: "anon_key IN {keys:Array(UInt64)}", what: "recently arrived links" },
  "analytics.day_changes": { kind: "invalidate", what: "change records of the person's active days (snapshots count them again)" },
  "analytics.dau_snapshots": { kind: "none", what: "DAU per day (a count; stale for the person's days through day_changes)" },
  "analytics.retention_snapshots": { kind: "none", what: "retained counts per cohort (stale for the person's days through day_changes)" },
  "analytics.adoption_snapshots": { kind: "none", what: "people per week and feature (counts; stale for the person's weeks through day_changes)" },
  "analytics.schema_migrations": { kind: "none", what: "applied migration files" },
};

/** The days the person was active on (from the daily rollup, which outlives the raw events). */
const ACTIVE_DAYS = `SELECT DISTINCT toString(day) AS day FROM analytics.activity_daily WHERE ${KEYS} ORDER BY day`;

export interface Person {
  /** The user ids given (distinct). */
  readonly userIds: readonly string[];
  /** Every id string of the person (user ids first, then linked ids). */
  readonly ids: readonly string[];
  /** cityHash64 of each id, plus anonymous keys the identity links tie to the person's user keys. */
  readonly keys: readonly string[];
}

export interface TableOutcome {
  readonly table: string;
  readonly what: string;
  /** Rows matching the person (deleted unless dry run). */
  readonly rows: number;
  /** For a rebuilt table: the time buckets re-aggregated. */
  readonly rebuiltBuckets?: number;
}

export interface ForgetReport {
  readonly person: Person;
  readonly tables: readonly TableOutcome[];
  readonly dryRun: boolean;
}

/** Linked ids reachable outward from the given ones (never from an anonymous id to another user). */
const LINKED_IDS = `SELECT DISTINCT id FROM (
  SELECT anonymous_id AS id FROM analytics.events WHERE user_id IN {ids:Array(String)} AND anonymous_id != ''
  UNION ALL SELECT anonymous_id FROM analytics.identifies WHERE user_id IN {ids:Array(String)} AND anonymous_id != ''
  UNION ALL SELECT anonymous_id FROM analytics.groups WHERE user_id IN {ids:Array(String)} AND anonymous_id != ''
  UNION ALL SELECT previous_id FROM analytics.aliases WHERE user_id IN {ids:Array(String)} AND previous_id != ''
) WHERE id NOT IN {ids:Array(String)}`;

async function rows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown>): Promise<T[]> {
  const result = await client.query({ query, query_params: params, format: "JSONEachRow" });
  return result.json<T>();
}

/** Finds every id of the person, to a fixed point (at most 10 rounds: alias chains are short). */
export async function resolvePerson(client: ClickHouseClient, userIds: readonly string[]): Promise<Person> {
  const ids = [...new Set(userIds)];
  for (let round = 0; round < 10; round++) {
    const found = await rows<{ id: string }>(client, LINKED_IDS, { ids });
    if (found.length === 0) break;
    ids.push(...found.map((r) => r.id));
  }
  const hashed = await rows<{ key: string }>(client, "SELECT toString(cityHash64(arrayJoin({ids:Array(String)}))) AS key", { ids });
  const keys = new Set(hashed.map((r) => r.key));
  // Anonymous keys the links tie to the person, including ones no raw row names any more (expired events).
  const linked = await rows<{ key: string }>(client,
    "SELECT DISTINCT toString(anon_key) AS key FROM analytics.identity_links WHERE user_key IN {keys:Array(UInt64)}", { keys: [...keys].map(BigInt) });
  for (const r of linked) keys.add(r.key);
  return { userIds: [...new Set(userIds)], ids, keys: [...keys] };
}

/** UInt64 keys go as BigInt: the client writes them as numbers (as strings they would be quoted). */
function queryParams(person: Person): Record<string, unknown> {
  return { userIds: person.userIds, ids: person.ids, keys: person.keys.map(BigInt) };
}

async function count(client: ClickHouseClient, table: string, where: string, person: Person): Promise<number> {
  const [r] = await rows<{ n: string }>(client, `SELECT count() AS n FROM ${table} WHERE ${where}`, queryParams(person));
  return Number(r.n);
}

/** The SELECT of a materialized view, from its definition (so a rebuild aggregates exactly as the view does). */
export async function viewSelect(client: ClickHouseClient, view: string): Promise<string> {
  const [r] = await rows<{ statement: string }>(client, `SHOW CREATE TABLE ${view}`, {});
  if (!r) throw new Error(`${view} does not exist; apply the migrations first`);
  const match = /\bAS\s+(SELECT\b[\s\S]*)$/i.exec(r.statement.trim());
  if (!match) throw new Error(`cannot read the SELECT of ${view} from its definition`);
  return match[1].replace(/\s+SETTINGS\s[\s\S]*$/i, "");
}

/**
 * The view's SELECT reading only the events of the buckets being rebuilt, without the person's rows (OWN_ROWS), so
 * the rebuild can run while those rows still exist. Throws unless the SELECT reads analytics.events exactly once.
 */
export function withoutPerson(select: string, bucketOfEvent: string, view: string): string {
  const source = /\bFROM\s+analytics\.events\b(?!\.)/gi;
  if ((select.match(source) ?? []).length !== 1) throw new Error(`${view} does not read analytics.events exactly once; cannot re-aggregate it without the person`);
  return select.replace(source, `FROM (SELECT * FROM analytics.events WHERE ${bucketOfEvent} IN {buckets:Array(Int64)} AND NOT (${OWN_ROWS}))`);
}

/**
 * Deletes (or, with dryRun, only counts) the person's rows in every table of FORGET_PLAN.
 * Mutations run with mutations_sync=2: each ALTER returns when its rows are gone from disk.
 */
export async function forgetPerson(client: ClickHouseClient, userIds: readonly string[], options: { dryRun: boolean }): Promise<ForgetReport> {
  const person = await resolvePerson(client, userIds);
  const params = queryParams(person);
  const sync = { mutations_sync: "2" } as const;
  // Counted before anything is deleted: the rebuild's buckets come from the person's events.
  const plans = Object.entries(FORGET_PLAN).filter(([, plan]) => plan.kind !== "none");
  const outcomes: TableOutcome[] = [];
  const buckets = new Map<string, number[]>();
  /** The person's active days ("YYYY-MM-DD"), per table of the "invalidate" plan. */
  const activeDays = new Map<string, string[]>();
  for (const [table, plan] of plans) {
    if (plan.kind === "delete") {
      outcomes.push({ table, what: plan.what, rows: await count(client, table, plan.where, person) });
    } else if (plan.kind === "invalidate") {
      const found = await rows<{ day: string }>(client, ACTIVE_DAYS, params);
      activeDays.set(table, found.map((r) => r.day));
      outcomes.push({ table, what: plan.what, rows: found.length });
    } else if (plan.kind === "rebuild") {
      const found = await rows<{ bucket: string }>(client,
        `SELECT DISTINCT ${plan.bucketOfEvent} AS bucket FROM analytics.events WHERE ${OWN_ROWS} ORDER BY bucket`, params);
      buckets.set(table, found.map((r) => Number(r.bucket)));
      outcomes.push({ table, what: plan.what, rows: 0, rebuiltBuckets: found.length });
    }
  }
  if (options.dryRun) return { person, tables: outcomes, dryRun: true };

  // Before any delete, and dated a day ahead: the person's days are counted from the rollups (not the snapshots)
  // from now until a day after, so through the deletes, through a refresh that read the rollups before them, and
  // through a rerun of a command that stopped half-way (which finds no active days left to mark). Both change
  // times: a signup's deletion changes its cohort and, conservatively, every later one.
  for (const [table, plan] of plans) {
    if (plan.kind !== "invalidate" || activeDays.get(table)!.length === 0) continue;
    await client.command({
      query: `INSERT INTO ${table} (day, changed_at, signup_changed_at)
        SELECT toDate(arrayJoin({days:Array(String)})), now64(3, 'UTC') + INTERVAL 1 DAY, now64(3, 'UTC') + INTERVAL 1 DAY`,
      query_params: { days: activeDays.get(table)! },
    });
  }
  // Re-aggregate before the raw rows are deleted, from the view's own SELECT over the events of the person's buckets
  // without the person's rows: a run stopped between clearing the buckets and writing them again still finds the
  // person's events on a rerun, so it rebuilds them (after the deletes, a rerun found no buckets and everyone
  // else's counts of those hours were lost). Inserted with deduplication off: a rebuilt block may equal one the
  // view inserted before, and must not be dropped.
  for (const [table, plan] of plans) {
    if (plan.kind !== "rebuild") continue;
    const list = buckets.get(table)!;
    if (list.length === 0) continue;
    const select = withoutPerson(await viewSelect(client, plan.view), plan.bucketOfEvent, plan.view);
    // By name, not position: the view's SELECT may list its columns in another order than the table.
    const columns = (await rows<{ name: string }>(client, `DESCRIBE TABLE ${table}`, {})).map((c) => `\`${c.name}\``).join(", ");
    const bucketParams = { ...params, buckets: list };
    await client.command({ query: `ALTER TABLE ${table} DELETE WHERE ${plan.bucket} IN {buckets:Array(Int64)}`, query_params: bucketParams, clickhouse_settings: sync });
    await client.command({
      query: `INSERT INTO ${table} (${columns}) SELECT ${columns} FROM (${select}) WHERE ${plan.bucket} IN {buckets:Array(Int64)}`,
      query_params: bucketParams,
      clickhouse_settings: { insert_deduplicate: 0 },
    });
  }
  for (const [table, plan] of plans) {
    if (plan.kind !== "delete") continue;
    if (outcomes.find((o) => o.table === table)!.rows === 0) continue;
    await client.command({ query: `ALTER TABLE ${table} DELETE WHERE ${plan.where}`, query_params: params, clickhouse_settings: sync });
  }
  // Verify: nothing of the person is left where rows were deleted.
  for (const [table, plan] of plans) {
    if (plan.kind !== "delete") continue;
    const left = await count(client, table, plan.where, person);
    if (left !== 0) throw new Error(`${table} still has ${left} rows of the person after the delete; run the command again`);
  }
  return { person, tables: outcomes, dryRun: false };
}

export function reportLines(userIds: readonly string[], report: ForgetReport, connection: string): string[] {
  const linked = report.person.ids.length - new Set(userIds).size;
  const width = Math.max(...report.tables.map((t) => t.table.length));
  const verb = report.dryRun ? "would delete" : "deleted";
  const lines = [
    `${report.dryRun ? "Dry run (nothing deleted; add --yes to delete)" : "Forgot"}: ${userIds.map((u) => JSON.stringify(u)).join(", ")} ` +
      `and ${linked} linked id${linked === 1 ? "" : "s"} on ${connection}`,
  ];
  for (const t of report.tables) {
    lines.push(t.rebuiltBuckets !== undefined
      ? `  ${t.table.padEnd(width)}  ${report.dryRun ? "would re-aggregate" : "re-aggregated"} ${t.rebuiltBuckets} hours without the person (${t.what})`
      : `  ${t.table.padEnd(width)}  ${verb} ${t.rows} rows (${t.what})`);
  }
  const total = report.tables.reduce((sum, t) => sum + t.rows, 0);
  lines.push(`Total: ${total} rows ${verb}.`);
  lines.push("Not covered: Loki keeps ingest request log lines naming user ids for logRetentionDays; backups taken " +
    "before now still hold the person (see docs/operations.md, \"Right to be forgotten\").");
  return lines;
}

const USAGE = `Usage: npm run forget-user -- --user-id <id> [--user-id <id> ...] [--yes]

Deletes one person's events, identity calls and rollup rows from ClickHouse and reports what it removed.
Without --yes it only counts what would be deleted.

  --user-id <id>        the person's user id; repeat for every user id the person had
  --yes                 delete (otherwise a dry run)
  --stack <name>        stack to read ClickHouse's address and the migrator password from (default dev)
  --url <url>           ClickHouse HTTP URL (or CLICKHOUSE_URL); default from the stack's config
  --clickhouse-user <u> ClickHouse user (or CLICKHOUSE_USER); default migrator
                        password: CLICKHOUSE_PASSWORD, or the stack's clickhouseMigratorPassword output
  -h, --help            this help

Exit codes: 0 done, 1 ClickHouse failed, 2 bad flags or connection settings.
`;

export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, io: { out: (line: string) => void; err: (line: string) => void; stack?: StackLookup }): Promise<number> {
  let values: { "user-id"?: string[]; yes?: boolean; stack?: string; url?: string; "clickhouse-user"?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv], strict: true, allowPositionals: false,
      options: {
        "user-id": { type: "string", multiple: true }, yes: { type: "boolean" }, stack: { type: "string" },
        url: { type: "string" }, "clickhouse-user": { type: "string" }, help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    io.err(`forget-user: ${(error as Error).message.split("\n")[0]}\nRun \`npm run forget-user -- --help\` for the options.`);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  const problems: string[] = [];
  const userIds = values["user-id"] ?? [];
  if (userIds.length === 0) problems.push("--user-id: required (the id your app sends as userId)");
  for (const id of userIds) {
    if (id.trim().length === 0 || id.length > 1024) problems.push(`--user-id: got ${JSON.stringify(id.slice(0, 40))}, expected a non-empty id of at most 1024 characters`);
  }
  const opened = problems.length === 0
    ? openOpsClient({ url: values.url, user: values["clickhouse-user"], stack: values.stack ?? "dev" }, env, io.stack ?? stackLookup())
    : { problems };
  if ("problems" in opened) {
    for (const p of opened.problems) io.err(`forget-user: ${p}`);
    return 2;
  }
  const { client, connection } = opened;
  try {
    const report = await forgetPerson(client, userIds, { dryRun: values.yes !== true });
    for (const line of reportLines(userIds, report, connection)) io.out(line);
    return 0;
  } catch (error) {
    io.err(`forget-user: ClickHouse at ${connection} failed: ${(error as Error).message.split("\n")[0]}`);
    return 1;
  } finally {
    await client.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env, { out: (l) => console.log(l), err: (l) => console.error(l) }).then((code) => { process.exitCode = code; });
}
