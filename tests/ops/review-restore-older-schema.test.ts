/**
 * Review: docs/operations.md suggests `npm run backup -- --name before-upgrade`. Restoring such a backup after the
 * upgrade applied a new migration brings back the old schema: the new migration's tables are gone, and nothing
 * applies it again (the stack's schema step only reruns on a new volume or changed statements), so every panel
 * reading them fails. Known answer: after the restore, every migration in sql/ is applied and its tables exist,
 * with the backup's data.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, readAppliedMigrations, readMigrationSources, toMigrationFiles } from "../../components/migrations";
import { backupDatabase, restoreDatabase } from "../../scripts/backup";
import { insertSignup, SQL_DIR, startBackupEngine, type OpsEngine } from "./support/ops-engine";

const LAST = "0013_activity_first_received.sql";
/** What the last migration did, undone: the database as it was before it existed. */
const UNDO_LAST = [
  "ALTER TABLE analytics.activity_daily_mv MODIFY QUERY SELECT toDate(event_time) AS day, if(user_id != '', cityHash64(user_id), 0) AS user_key, " +
    "if(user_id = '', cityHash64(anonymous_id), 0) AS anon_key, min(event_time) AS first_seen, max(event_time) AS last_seen FROM analytics.events GROUP BY day, user_key, anon_key",
  "ALTER TABLE analytics.activity_daily DROP COLUMN first_received",
];
const columnsOf = async (engine: OpsEngine, table: string) =>
  (await engine.rows<{ name: string }>(`SELECT name FROM system.columns WHERE database = 'analytics' AND table = '${table}'`)).map((c) => c.name);

describe("restore of a backup taken before the last migration", () => {
  let engine: OpsEngine;
  beforeAll(async () => {
    engine = await startBackupEngine();
    // The database as it was before the last migration existed: its changes and its ledger row gone.
    for (const query of UNDO_LAST) await engine.client.command({ query });
    expect(await columnsOf(engine, "activity_daily")).not.toContain("first_received");
    await engine.client.command({ query: `ALTER TABLE analytics.schema_migrations DELETE WHERE name = '${LAST}'`, clickhouse_settings: { mutations_sync: "2" } });
    await insertSignup(engine, "m1", "u1", "2026-03-02 10:00:00.000");
  });
  afterAll(async () => { await engine?.close(); });

  it("leaves every migration applied", async () => {
    await backupDatabase(engine.client, { kind: "volume", name: "before-upgrade" });
    // The upgrade: the stack's schema step applies the new migration.
    await applyMigrations(engine.client, toMigrationFiles(readMigrationSources(SQL_DIR)));
    expect((await readAppliedMigrations(engine.client)).map((m) => m.name)).toContain(LAST);

    await restoreDatabase(engine.client, { kind: "volume", name: "before-upgrade" }, { kind: "volume", name: "before-restore" });
    expect((await readAppliedMigrations(engine.client)).map((m) => m.name)).toEqual(readMigrationSources(SQL_DIR).map((m) => m.name).sort());
    expect(await columnsOf(engine, "activity_daily")).toContain("first_received");
    expect(await engine.rows("SELECT count() AS n FROM analytics.adoption_snapshots")).toHaveLength(1);
    expect(await engine.rows("SELECT count() AS n FROM analytics.day_changes")).toHaveLength(1);
    expect(await engine.rows("SELECT message_id FROM analytics.events")).toEqual([{ message_id: "m1" }]);
  });
});
