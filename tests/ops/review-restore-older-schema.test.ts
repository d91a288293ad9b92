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

const LAST = "0012_adoption_snapshots.sql";
const LAST_OBJECTS = { views: [] as string[], tables: ["adoption_snapshots"] };

describe("restore of a backup taken before the last migration", () => {
  let engine: OpsEngine;
  beforeAll(async () => {
    engine = await startBackupEngine();
    // The database as it was before the last migration existed: its objects and its ledger row gone.
    for (const v of LAST_OBJECTS.views) await engine.client.command({ query: `DROP VIEW analytics.${v} SYNC` });
    for (const t of LAST_OBJECTS.tables) await engine.client.command({ query: `DROP TABLE analytics.${t} SYNC` });
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
    expect(await engine.rows("SELECT count() AS n FROM analytics.adoption_snapshots")).toHaveLength(1);
    expect(await engine.rows("SELECT count() AS n FROM analytics.day_changes")).toHaveLength(1);
    expect(await engine.rows("SELECT message_id FROM analytics.events")).toEqual([{ message_id: "m1" }]);
  });
});
