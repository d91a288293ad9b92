/**
 * chDB for the operations tests, booted with a server config the way the stack's ClickHouse is configured for the
 * command under test:
 * - its `default` user gets exactly the grants of a stack role (components/clickhouse-users.ts `roleGrants()`), plus
 *   any extra grants, so a test proves the role may run the command (chDB always runs as `default`; CREATE USER is
 *   refused, but a users.xml from the config file applies);
 * - optionally a local disk named like the stack's backup disk, allowed for BACKUP/RESTORE.
 * Then every migration in sql/ is applied as that user, as the stack's schema step does, and the funnel rollup's view.
 *
 * chDB binds one engine per process with the config of the first session, so one engine per test file.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { Session } from "chdb";
import { createChdbConnection } from "chdb/connection";
import { escapeXml, roleGrants, type ClickHouseRole } from "../../../components/clickhouse-users";
import { funnelRollupStatements } from "../../../components/funnel-rollup";
import { snapshotViewStatements } from "../../../components/snapshot-views";
import { applyMigrations, readMigrationSources, toMigrationFiles } from "../../../components/migrations";
import { DEFAULT_FUNNEL, DEFAULT_RETENTION_OFFSETS } from "../../../dashboards/settings";
import { BACKUP_GRANTS, backupDiskConfigXml } from "../../../scripts/backup";

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>["connection"]>;

export const SQL_DIR = join(__dirname, "..", "..", "..", "sql");

export interface OpsEngineOptions {
  readonly role: ClickHouseRole;
  readonly extraGrants?: readonly string[];
  /** Server config fragment (inside <clickhouse>), such as a backup disk. */
  readonly serverConfig?: (dir: string) => string;
  /** Also create the DAU and retention snapshot views (no first refresh: the test refreshes when it means to). */
  readonly snapshotViews?: boolean;
}

export interface OpsEngine {
  readonly client: ClickHouseClient;
  readonly dir: string;
  rows<T = Record<string, unknown>>(query: string, params?: Record<string, unknown>): Promise<T[]>;
  close(): Promise<void>;
}

export async function startOpsEngine(options: OpsEngineOptions): Promise<OpsEngine> {
  const dir = mkdtempSync(join(tmpdir(), "ops-engine-"));
  mkdirSync(join(dir, "data"));
  const grants = [...roleGrants()[options.role], ...(options.extraGrants ?? [])];
  writeFileSync(join(dir, "users.xml"), "<clickhouse><profiles><default/></profiles><quotas><default/></quotas><users><default>" +
    "<password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota>" +
    `<access_management>0</access_management><grants>${grants.map((g) => `<query>${escapeXml(g)}</query>`).join("")}</grants>` +
    "</default></users></clickhouse>");
  writeFileSync(join(dir, "config.xml"), `<clickhouse><user_directories><users_xml><path>${join(dir, "users.xml")}</path></users_xml></user_directories>` +
    `${options.serverConfig?.(dir) ?? ""}</clickhouse>`);
  const session = new Session(join(dir, "data"), { connectionArgs: [`--config-file=${join(dir, "config.xml")}`] });
  const client = createClient({ connection: createChdbConnection({ path: join(dir, "data") }) as unknown as ClientConnection });
  // The funnel rollup's view too, as the stack's schema step runs it (retention TTLs left out: the test data is dated).
  const snapshotViews = options.snapshotViews
    ? snapshotViewStatements({ retentionOffsetsDays: DEFAULT_RETENTION_OFFSETS, windowDays: 3_650, refreshSeconds: 86_400, settleSeconds: 0, startEmpty: true })
    : [];
  await applyMigrations(client, toMigrationFiles(readMigrationSources(SQL_DIR)), { afterStatements: [...funnelRollupStatements(DEFAULT_FUNNEL), ...snapshotViews] });
  return {
    client,
    dir,
    async rows<T>(query: string, params?: Record<string, unknown>): Promise<T[]> {
      return (await client.query({ query, query_params: params, format: "JSONEachRow" })).json<T>();
    },
    async close() {
      await client.close();
      session.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * An engine set up as backups run: the migrator with the backup grants, and the backups disk of the stack's
 * config.d pointed at a directory of the test (`<dir>/backups`).
 */
export function startBackupEngine(options: Omit<OpsEngineOptions, "role" | "extraGrants" | "serverConfig"> = {}): Promise<OpsEngine> {
  return startOpsEngine({
    ...options,
    role: "migrator",
    extraGrants: BACKUP_GRANTS,
    serverConfig: (dir) => /<clickhouse>([\s\S]*)<\/clickhouse>/.exec(backupDiskConfigXml(join(dir, "backups")))![1],
  });
}

/** Inserts one signed-in signup event at `at` ("YYYY-MM-DD hh:mm:ss.sss", UTC): a row for events and every rollup a signup feeds. */
export async function insertSignup(engine: OpsEngine, messageId: string, userId: string, at: string): Promise<void> {
  await engine.client.insert({
    table: "analytics.events", format: "JSONEachRow",
    values: [{ message_id: messageId, type: "track", event_name: "signup", user_id: userId, anonymous_id: "", properties: {}, context: {}, event_time: at, received_at: at }],
  });
}
