/**
 * npm run backup  -- [--to volume|s3] [--name <name>] [--base <name>]
 * npm run restore -- --name <name> [--from volume|s3] --yes
 *
 * Backup and restore of the `analytics` database with ClickHouse's own BACKUP and RESTORE statements, so a backup
 * holds every table, view and part exactly as ClickHouse stores them (and restores with the same engine):
 * - `volume` (default): to the server's `backups` disk, a directory on the Docker volume
 *   `<namePrefix>-clickhouse-backups-data` (configured by `backupDiskConfigXml`); one sub-directory per backup;
 *   `--base` makes an incremental backup that stores only parts the base does not have.
 * - `s3`: to `<--s3-url>/<name>/` with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment (or, with
 *   neither set, whatever credentials the server itself has). The keys are part of the statement ClickHouse runs
 *   (it masks them in its logs); this command never prints them.
 *
 * Restore replaces the database: it first checks the chosen backup can be read by restoring its smallest table under
 * a scratch name, then takes a safety backup of what is there now (`before-restore-<time>`, same destination kind),
 * then drops the views (so nothing flows while tables change) and the tables, and restores everything. ClickHouse
 * DDL is not transactional; if the restore fails half-way, the message names the safety backup to restore instead.
 * A backup older than the code's migrations gets the newer ones applied after the restore (sql/ only; the statements
 * the stack derives from its config, such as the snapshot views, are as in the backup).
 *
 * Runs as `migrator`, which needs BACKUP_GRANTS on top of its DDL grants (components/clickhouse-users.ts).
 * A backup is consistent per table, not across tables: take it when the ingest is quiet, or accept that a rollup may
 * be a few seconds ahead of or behind the events it summarises.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ADOPTION_SNAPSHOTS, DAU_SNAPSHOTS, RETENTION_SNAPSHOTS } from "../dashboards/snapshots";
import { openOpsClient, type StackLookup } from "./ops/clickhouse-connection";
import { plainHttpUrl } from "./ops/http-url";
import { stackLookup } from "./ops/stack-lookup";
// The server side of backups (disk, allowed path, grants) is part of the ClickHouse component's generated config.
import { BACKUP_CONTAINER_PATH, BACKUP_DISK, BACKUP_GRANTS, backupDiskConfigXml } from "../components/clickhouse-backups";
import { applyMigrations, readMigrationSources, toMigrationFiles } from "../components/migrations";

export const DATABASE = "analytics";
/** The migrations the code expects (components/clickhouse.ts applies the same directory). */
const MIGRATIONS_DIR = join(__dirname, "..", "sql");
export { BACKUP_CONTAINER_PATH, BACKUP_DISK, BACKUP_GRANTS, backupDiskConfigXml };

export type Destination =
  | { readonly kind: "volume"; readonly name: string }
  | { readonly kind: "s3"; readonly name: string; readonly url: string; readonly accessKeyId?: string; readonly secretAccessKey?: string };

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** A SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** The destination as ClickHouse's BACKUP/RESTORE syntax (contains the S3 keys: never print it). */
export function destinationSql(d: Destination): string {
  if (d.kind === "volume") return `Disk(${sqlString(BACKUP_DISK)}, ${sqlString(d.name)})`;
  const url = `${d.url.replace(/\/+$/, "")}/${d.name}/`;
  return d.accessKeyId !== undefined
    ? `S3(${sqlString(url)}, ${sqlString(d.accessKeyId)}, ${sqlString(d.secretAccessKey ?? "")})`
    : `S3(${sqlString(url)})`;
}

/** The destination for messages: no keys. */
export function describeDestination(d: Destination): string {
  return d.kind === "volume" ? `volume disk "${BACKUP_DISK}", backup ${d.name}` : `${d.url.replace(/\/+$/, "")}/${d.name}/`;
}

export function backupStatement(d: Destination, base?: Destination): string {
  return `BACKUP DATABASE ${DATABASE} TO ${destinationSql(d)}${base ? ` SETTINGS base_backup = ${destinationSql(base)}` : ""}`;
}

export function restoreStatement(d: Destination): string {
  return `RESTORE DATABASE ${DATABASE} FROM ${destinationSql(d)}`;
}

/** `analytics-20260301-101500` (UTC): sorts by time, valid as a directory and S3 prefix. */
export function defaultBackupName(nowMs: number, prefix = "analytics"): string {
  return `${prefix}-${new Date(nowMs).toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-")}`;
}

/** Removes secrets from text that may echo a statement (error messages). */
function scrub(text: string, d: Destination): string {
  let out = text;
  if (d.kind === "s3") for (const secret of [d.secretAccessKey, d.accessKeyId]) if (secret) out = out.split(secret).join("<redacted>");
  return out;
}

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  return (await client.query({ query, format: "JSONEachRow" })).json<T>();
}

export interface TableSummary {
  readonly rows: number;
  /** Order-independent checksum of every row (cityHash64 of all columns, summed). */
  readonly checksum: string;
}

/** Tables and views of the database, views flagged (from their definitions: needs only SHOW). */
export async function listTables(client: ClickHouseClient): Promise<{ name: string; view: boolean }[]> {
  const names = await rows<{ name: string }>(client, `SHOW TABLES FROM ${DATABASE}`);
  const out: { name: string; view: boolean }[] = [];
  for (const { name } of names) {
    // A refreshable view's refresh writes into a temporary table and swaps it in: not part of the database.
    if (name.startsWith(".") || name.startsWith("_tmp")) continue;
    const [def] = await rows<{ statement: string }>(client, `SHOW CREATE TABLE ${DATABASE}.\`${name}\``);
    out.push({ name, view: /^CREATE\s+(MATERIALIZED\s+)?VIEW/i.test(def.statement) });
  }
  return out;
}

/**
 * The DAU, retention and adoption snapshots: stored answers their refreshable views rewrite each minute from the other tables,
 * not data. After a restore they hold whatever the views' next refresh writes (on ClickHouse 26.7 a restored snapshot
 * table came back empty; the panels count from the rollups until the refresh), so restores are not checked on them.
 */
const DERIVED_CACHES = new Set([DAU_SNAPSHOTS, RETENTION_SNAPSHOTS, ADOPTION_SNAPSHOTS].map((t) => t.replace(`${DATABASE}.`, "")));

/** Row count and content checksum of every table (not views, not the snapshot caches): what a restore must reproduce. */
export async function tableSummaries(client: ClickHouseClient): Promise<Record<string, TableSummary>> {
  const out: Record<string, TableSummary> = {};
  for (const t of await listTables(client)) {
    if (t.view || DERIVED_CACHES.has(t.name)) continue;
    const [r] = await rows<{ n: string | number; sum: string | number }>(client,
      `SELECT count() AS n, toString(sum(cityHash64(*))) AS sum FROM ${DATABASE}.\`${t.name}\``);
    out[t.name] = { rows: Number(r.n), checksum: String(r.sum) };
  }
  return out;
}

export async function backupDatabase(client: ClickHouseClient, d: Destination, base?: Destination): Promise<{ id: string; status: string }> {
  try {
    const [r] = await rows<{ id: string; status: string }>(client, backupStatement(d, base));
    if (r?.status !== "BACKUP_CREATED") throw new Error(`ClickHouse reported status ${r?.status ?? "(none)"}`);
    return r;
  } catch (error) {
    throw new Error(`backup to ${describeDestination(d)} failed: ${scrub((error as Error).message, d)}`);
  }
}

export interface RestoreResult {
  readonly safetyBackup?: Destination;
  readonly dropped: readonly string[];
  readonly tables: Record<string, TableSummary>;
  /** Migrations of sql/ the backup predates, applied after the restore (files names). */
  readonly migrationsApplied: readonly string[];
  /** Why the migrations could not be brought up to date (such as a backup from a newer schema), if so. */
  readonly migrationProblem?: string;
}

/**
 * Replaces the database with the backup `d`. Checks the backup is readable, then takes a safety backup (unless
 * `safety` is undefined), before dropping anything.
 */
export async function restoreDatabase(client: ClickHouseClient, d: Destination, safety?: Destination): Promise<RestoreResult> {
  // Readable? Checked first, so a mistyped name is refused before the safety backup (a full copy) is written:
  // restore the smallest table of the backup (the migrations ledger) under a scratch name, then drop it.
  const probe = `restore_check_${Date.now()}`;
  try {
    await client.command({ query: `RESTORE TABLE ${DATABASE}.schema_migrations AS ${DATABASE}.${probe} FROM ${destinationSql(d)}` });
  } catch (error) {
    throw new Error(`cannot read backup ${describeDestination(d)}; nothing was changed: ${scrub((error as Error).message, d)}`);
  }
  await client.command({ query: `DROP TABLE IF EXISTS ${DATABASE}.${probe} SYNC` });
  if (safety) await backupDatabase(client, safety);

  // Views first: with them gone nothing writes into the rollups while their tables are replaced.
  const existing = await listTables(client);
  const dropped: string[] = [];
  for (const t of [...existing.filter((t) => t.view), ...existing.filter((t) => !t.view)]) {
    await client.command({ query: `DROP ${t.view ? "VIEW" : "TABLE"} IF EXISTS ${DATABASE}.\`${t.name}\` SYNC` });
    dropped.push(t.name);
  }
  try {
    const [r] = await rows<{ status: string }>(client, restoreStatement(d));
    if (r?.status !== "RESTORED") throw new Error(`ClickHouse reported status ${r?.status ?? "(none)"}`);
  } catch (error) {
    throw new Error(`restore from ${describeDestination(d)} failed after the old tables were dropped: ${scrub((error as Error).message, d)}. ` +
      (safety ? `Restore the safety backup: npm run restore -- --name ${safety.name} --yes` : "No safety backup was taken."));
  }
  const tables = await tableSummaries(client); // as restored, before the views created again refresh
  await recreateRefreshableViews(client);
  return { safetyBackup: safety, dropped, tables, ...(await applyNewerMigrations(client)) };
}

/**
 * A backup taken before an upgrade (`--name before-upgrade`) brings back the schema of then: the migrations added
 * since are applied again here, as nothing else would (the stack's schema step reruns only on a new volume or
 * changed statements), so the tables the code reads exist. Not thrown: the data is restored by now either way.
 */
async function applyNewerMigrations(client: ClickHouseClient): Promise<{ migrationsApplied: string[]; migrationProblem?: string }> {
  try {
    const r = await applyMigrations(client, toMigrationFiles(readMigrationSources(MIGRATIONS_DIR)));
    return { migrationsApplied: r.appliedNow.map((f) => f.name) };
  } catch (error) {
    return { migrationsApplied: [], migrationProblem: (error as Error).message.split("\n")[0] };
  }
}

/**
 * Creates each refreshable view (the DAU, retention and adoption snapshots) again from its own definition. One restored by
 * RESTORE fails every refresh on ClickHouse 26.7 ("UNION mode UNION_DEFAULT must be normalized"): its query is not
 * normalized as CREATE normalizes it. Created again, it refreshes; the panels stay exact meanwhile either way.
 */
async function recreateRefreshableViews(client: ClickHouseClient): Promise<void> {
  for (const t of await listTables(client)) {
    if (!t.view) continue;
    const [def] = await rows<{ statement: string }>(client, `SHOW CREATE TABLE ${DATABASE}.\`${t.name}\``);
    if (!/^CREATE\s+MATERIALIZED\s+VIEW\s+\S+\s+REFRESH\b/i.test(def.statement)) continue;
    await client.command({ query: `DROP VIEW IF EXISTS ${DATABASE}.\`${t.name}\` SYNC` });
    await client.command({ query: def.statement });
  }
}

type Mode = "backup" | "restore";

const USAGE: Record<Mode, string> = {
  backup: `Usage: npm run backup -- [--to volume|s3] [--name <name>] [--base <name>]

Backs up the analytics database with ClickHouse BACKUP.
  --to <kind>           volume (default: the backups disk on its Docker volume) or s3
  --name <name>         backup name (default analytics-<UTC time>); letters, digits, . _ -
  --base <name>         incremental: store only what backup <name> (same destination) does not have
  --s3-url <url>        with --to s3: the folder, such as https://s3.eu-west-1.amazonaws.com/my-bucket/analytics
                        (keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the server's own credentials)
  --stack, --url, --clickhouse-user: connection, as for forget-user (default stack dev, user migrator;
                        password from CLICKHOUSE_PASSWORD or the stack's clickhouseMigratorPassword output)
`,
  restore: `Usage: npm run restore -- --name <name> --yes [--from volume|s3]

Replaces the analytics database with a backup (after taking a safety backup of the current one).
  --name <name>         the backup to restore
  --from <kind>         volume (default) or s3 (with --s3-url, as for backup)
  --yes                 required: the current tables are dropped
  --no-safety-backup    skip the safety backup (when the current data is worthless)
  --stack, --url, --clickhouse-user: connection, as for backup
`,
};

type Env = Readonly<Record<string, string | undefined>>;

export async function main(mode: Mode, argv: readonly string[], env: Env, io: { out: (line: string) => void; err: (line: string) => void; stack?: StackLookup; now?: () => number }): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv], strict: true, allowPositionals: false,
      options: {
        to: { type: "string" }, from: { type: "string" }, name: { type: "string" }, base: { type: "string" }, "s3-url": { type: "string" },
        yes: { type: "boolean" }, "no-safety-backup": { type: "boolean" },
        stack: { type: "string" }, url: { type: "string" }, "clickhouse-user": { type: "string" }, help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    io.err(`${mode}: ${(error as Error).message.split("\n")[0]}\nRun \`npm run ${mode} -- --help\` for the options.`);
    return 2;
  }
  if (values.help) {
    io.out(USAGE[mode]);
    return 0;
  }
  const problems: string[] = [];
  const str = (k: string) => values[k] as string | undefined;
  const kindFlag = mode === "backup" ? "to" : "from";
  for (const k of mode === "backup" ? ["from", "yes", "no-safety-backup"] : ["to", "base"]) {
    if (values[k] !== undefined) problems.push(`--${k}: not an option of ${mode}`);
  }
  const kind = str(kindFlag) ?? "volume";
  if (kind !== "volume" && kind !== "s3") problems.push(`--${kindFlag}: got ${JSON.stringify(kind)}, expected volume or s3`);
  const now = (io.now ?? Date.now)();
  const name = str("name") ?? (mode === "backup" ? defaultBackupName(now) : undefined);
  if (name === undefined) problems.push("--name: required (the backup to restore, as printed by npm run backup)");
  else if (!NAME.test(name)) problems.push(`--name: got ${JSON.stringify(name)}, expected letters, digits, . _ - (at most 100, no slashes)`);
  const base = str("base");
  if (base !== undefined && !NAME.test(base)) problems.push(`--base: got ${JSON.stringify(base)}, expected the name of an earlier backup`);
  const s3Url = str("s3-url");
  if (kind === "s3") {
    const parsed = plainHttpUrl(s3Url ?? "");
    if (!parsed || parsed.pathname.length <= 1) problems.push(`--s3-url: got ${JSON.stringify(s3Url ?? "")}, expected the bucket folder, such as https://s3.eu-west-1.amazonaws.com/my-bucket/analytics (keys go in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)`);
    if ((env.AWS_ACCESS_KEY_ID === undefined) !== (env.AWS_SECRET_ACCESS_KEY === undefined)) {
      problems.push("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: set both, or neither to use the server's own credentials");
    }
  } else if (s3Url !== undefined) {
    problems.push(`--s3-url: only applies with --${kindFlag} s3`);
  }
  if (mode === "restore" && values.yes !== true) problems.push("--yes: required; restore drops the current analytics tables (after a safety backup)");
  const opened = problems.length === 0
    ? openOpsClient({ url: str("url"), user: str("clickhouse-user"), stack: str("stack") ?? "dev" }, env, io.stack ?? stackLookup())
    : { problems };
  if ("problems" in opened) {
    for (const p of opened.problems) io.err(`${mode}: ${p}`);
    return 2;
  }
  const { client, connection } = opened;
  const at = (n: string): Destination => (kind === "volume" ? { kind, name: n }
    : { kind: "s3", name: n, url: s3Url!, accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY });
  try {
    if (mode === "backup") {
      const d = at(name!);
      const started = Date.now();
      const r = await backupDatabase(client, d, base ? at(base) : undefined);
      const tables = await tableSummaries(client);
      io.out(`Backed up ${DATABASE} from ${connection} to ${describeDestination(d)}${base ? ` (incremental on ${base})` : ""} in ${((Date.now() - started) / 1000).toFixed(1)} s (id ${r.id}).`);
      for (const [t, s] of Object.entries(tables)) io.out(`  ${t}: ${s.rows} rows`);
      io.out(`Restore it with: npm run restore -- --name ${d.name}${kind === "s3" ? ` --from s3 --s3-url ${s3Url}` : ""} --yes`);
    } else {
      const d = at(name!);
      const safety = values["no-safety-backup"] ? undefined : at(defaultBackupName(now, "before-restore"));
      const r = await restoreDatabase(client, d, safety);
      io.out(`Restored ${DATABASE} on ${connection} from ${describeDestination(d)}.`);
      if (r.safetyBackup) io.out(`The data it replaced is in ${describeDestination(r.safetyBackup)}.`);
      if (r.migrationsApplied.length > 0) io.out(`The backup predates ${r.migrationsApplied.join(", ")}: applied again.`);
      if (r.migrationProblem) io.err(`${mode}: warning: the schema was not brought up to date with sql/: ${r.migrationProblem}`);
      for (const [t, s] of Object.entries(r.tables)) io.out(`  ${t}: ${s.rows} rows`);
    }
    return 0;
  } catch (error) {
    io.err(`${mode}: ${(error as Error).message.split("\n")[0]}`);
    return 1;
  } finally {
    await client.close();
  }
}

if (require.main === module) {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode !== "backup" && mode !== "restore") {
    console.error("usage: tsx scripts/backup.ts backup|restore [options]   (npm run backup / npm run restore)");
    process.exitCode = 2;
  } else {
    main(mode, rest, process.env, { out: (l) => console.log(l), err: (l) => console.error(l) }).then((code) => { process.exitCode = code; });
  }
}
