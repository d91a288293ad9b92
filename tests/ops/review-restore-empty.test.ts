/**
 * Review: restore onto an empty instance (a new stack after losing the old one's volume: its schema step has created
 * the empty tables and views). Every table comes back with identical content, and the views feed the rollups again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, readMigrationSources, toMigrationFiles } from "../../components/migrations";
import { funnelRollupStatements } from "../../components/funnel-rollup";
import { DEFAULT_FUNNEL } from "../../dashboards/settings";
import { backupDatabase, listTables, restoreDatabase, tableSummaries } from "../../scripts/backup";
import { insertSignup, SQL_DIR, startBackupEngine, type OpsEngine } from "./support/ops-engine";

describe("restore onto an empty instance", () => {
  let engine: OpsEngine;
  beforeAll(async () => {
    engine = await startBackupEngine();
    await insertSignup(engine, "m1", "u1", "2026-03-02 10:00:00.000");
  });
  afterAll(async () => { await engine?.close(); });

  it("restores every table", async () => {
    const before = await tableSummaries(engine.client);
    await backupDatabase(engine.client, { kind: "volume", name: "full" });
    // The new stack: every table and view gone, then the schema step's migrations on the empty database.
    const existing = await listTables(engine.client);
    for (const t of [...existing.filter((x) => x.view), ...existing.filter((x) => !x.view)]) {
      await engine.client.command({ query: `DROP ${t.view ? "VIEW" : "TABLE"} analytics.\`${t.name}\` SYNC` });
    }
    await applyMigrations(engine.client, toMigrationFiles(readMigrationSources(SQL_DIR)), { afterStatements: funnelRollupStatements(DEFAULT_FUNNEL) });
    expect((await tableSummaries(engine.client)).events.rows).toBe(0);
    const r = await restoreDatabase(engine.client, { kind: "volume", name: "full" }, { kind: "volume", name: "before-restore" });
    expect(r.tables).toEqual(before);
    expect(await tableSummaries(engine.client)).toEqual(before);
    await insertSignup(engine, "m2", "u2", "2026-03-03 10:00:00.000");
    const days = await engine.rows<{ n: string | number }>("SELECT count() AS n FROM analytics.activity_daily FINAL");
    expect(Number(days[0].n)).toBe(2);
  });
});
