/**
 * Backup and restore on the real engine: chDB supports BACKUP/RESTORE to a local disk when the server config declares
 * it (the fragment the stack's ClickHouse needs, `backupDiskConfigXml`), run here as a user with exactly the migrator's
 * grants plus BACKUP_GRANTS. (Not supported by chDB: `.zip` archives, "minizip library is disabled"; S3 is not
 * reachable here, so its statement is checked as text.) Restore equality: every table's row count and content
 * checksum after restore equal those at backup time (the DAU and retention snapshots excepted: caches their views
 * rewrite), and the materialized views work again afterwards, the refreshable snapshot views included.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  backupDatabase, backupStatement, defaultBackupName, describeDestination, destinationSql, main,
  restoreDatabase, restoreStatement, type Destination,
} from "../../scripts/backup";
import type { StackLookup } from "../../scripts/ops/clickhouse-connection";
import { ADOPTION_SNAPSHOTS_VIEW, DAU_SNAPSHOTS_VIEW, RETENTION_SNAPSHOTS_VIEW, refreshSnapshotsStatements } from "../../components/snapshot-views";
import { generateDataset } from "../support/dataset";
import { insertSignup, startBackupEngine, type OpsEngine } from "./support/ops-engine";

const volume = (name: string): Destination => ({ kind: "volume", name });

describe("backup statements", () => {
  it("writes Disk and S3 destinations, incremental bases, and never shows keys in descriptions", () => {
    expect(backupStatement(volume("analytics-20260301-101500"))).toBe("BACKUP DATABASE analytics TO Disk('backups', 'analytics-20260301-101500')");
    const s3: Destination = { kind: "s3", name: "b1", url: "https://s3.eu-west-1.amazonaws.com/bucket/analytics/", accessKeyId: "AKIAEXAMPLE", secretAccessKey: "se'cret" };
    expect(destinationSql(s3)).toBe("S3('https://s3.eu-west-1.amazonaws.com/bucket/analytics/b1/', 'AKIAEXAMPLE', 'se\\'cret')");
    expect(describeDestination(s3)).toBe("https://s3.eu-west-1.amazonaws.com/bucket/analytics/b1/");
    expect(destinationSql({ kind: "s3", name: "b1", url: "https://minio:9000/bucket" })).toBe("S3('https://minio:9000/bucket/b1/')");
    expect(backupStatement(volume("b2"), volume("b1"))).toBe("BACKUP DATABASE analytics TO Disk('backups', 'b2') SETTINGS base_backup = Disk('backups', 'b1')");
    expect(restoreStatement(volume("b2"))).toBe("RESTORE DATABASE analytics FROM Disk('backups', 'b2')");
    expect(defaultBackupName(Date.UTC(2026, 2, 1, 10, 15, 0))).toBe("analytics-20260301-101500");
  });
});

describe("backup and restore on chDB", () => {
  let engine: OpsEngine;
  const backupDir = () => join(engine.dir, "backups");

  beforeAll(async () => {
    engine = await startBackupEngine({ snapshotViews: true });
    const ds = generateDataset({ days: 10, users: 60, visitors: 15 });
    await engine.client.insert({ table: "analytics.events", values: ds.events, format: "JSONEachRow" });
    await engine.client.insert({ table: "analytics.identifies", values: ds.identifies, format: "JSONEachRow" });
    await engine.client.insert({ table: "analytics.aliases", values: ds.aliases, format: "JSONEachRow" });
  });
  afterAll(async () => { await engine?.close(); });

  it("restores every table exactly as it was at backup time, and the views work again", async () => {
    const before = await mergedData(engine);
    expect(before.events.rows).toBeGreaterThan(1000);
    expect(before.activity_daily.rows).toBeGreaterThan(0);
    const r = await backupDatabase(engine.client, volume("full-1"));
    expect(r.status).toBe("BACKUP_CREATED");
    expect(existsSync(join(backupDir(), "full-1", ".backup"))).toBe(true);

    // Damage: delete a day, add rows.
    await engine.client.command({ query: "ALTER TABLE analytics.events DELETE WHERE toDate(event_time) = '2026-01-06'", clickhouse_settings: { mutations_sync: "2" } });
    await insertSignup(engine, "late-1", "new-user", "2026-01-20 09:00:00.000");
    expect(await mergedData(engine)).not.toEqual(before);

    const restored = await restoreDatabase(engine.client, volume("full-1"), volume("before-restore-1"));
    expect(await mergedData(engine)).toEqual(before);
    // The command's own report (raw counts; events is a plain MergeTree, which merges never shrink).
    expect(restored.tables.events).toEqual(before.events);
    expect(Object.keys(restored.tables).sort()).toEqual(Object.keys(before).sort());
    expect(restored.dropped).toContain("activity_daily_mv");
    // The data it replaced was kept in the safety backup.
    expect(existsSync(join(backupDir(), "before-restore-1", ".backup"))).toBe(true);

    // Views are back: a new event reaches the rollups.
    const activity = before.activity_daily.rows;
    await insertSignup(engine, "after-1", "after-restore", "2026-01-21 09:00:00.000");
    const now = await mergedData(engine);
    expect(now.activity_daily.rows).toBe(activity + 1);
    expect(now.signups.rows).toBe(before.signups.rows + 1);
    // The snapshot views refresh again (a refreshable view as RESTORE leaves it fails every refresh; restore
    // creates them again from their definitions).
    for (const query of refreshSnapshotsStatements()) await engine.client.command({ query });
    const refreshes = await engine.rows<{ view: string; exception: string }>(
      "SELECT view, exception FROM system.view_refreshes WHERE database = 'analytics' ORDER BY view");
    expect(refreshes).toEqual([{ view: "adoption_snapshots_refresh", exception: "" }, { view: "dau_snapshots_refresh", exception: "" },
      { view: "retention_snapshots_refresh", exception: "" }]);
    const [{ days }] = await engine.rows<{ days: string }>("SELECT count() AS days FROM analytics.dau_snapshots");
    expect(Number(days)).toBe(Number((await engine.rows<{ n: string }>("SELECT uniqExact(day) AS n FROM analytics.activity_daily"))[0].n));
  });

  it("takes incremental backups that restore to the same data", async () => {
    await backupDatabase(engine.client, volume("inc-base"));
    await engine.client.insert({ table: "analytics.events", format: "JSONEachRow", values: [{ message_id: "inc-1", type: "track", event_name: "report_created", user_id: "after-restore", anonymous_id: "", properties: {}, context: {}, event_time: "2026-01-22 09:00:00.000", received_at: "2026-01-22 09:00:00.000" }] });
    const state = await mergedData(engine);
    await backupDatabase(engine.client, volume("inc-1"), volume("inc-base"));
    await engine.client.command({ query: "ALTER TABLE analytics.events DELETE WHERE 1", clickhouse_settings: { mutations_sync: "2" } });
    const restored = await restoreDatabase(engine.client, volume("inc-1"));
    expect(await mergedData(engine)).toEqual(state);
    expect(restored.tables.events).toEqual(state.events);
  });

  it("refuses a backup name that exists, and changes nothing when the backup to restore cannot be read", async () => {
    await expect(backupDatabase(engine.client, volume("inc-base"))).rejects.toThrow(/backup to volume disk "backups", backup inc-base failed: .*already exists/);
    // The snapshot views created again by the restores above refresh once at creation: let that finish first.
    for (const view of [DAU_SNAPSHOTS_VIEW, RETENTION_SNAPSHOTS_VIEW, ADOPTION_SNAPSHOTS_VIEW]) await engine.client.command({ query: `SYSTEM WAIT VIEW ${view}` });
    const state = await mergedSummaries(engine);
    await expect(restoreDatabase(engine.client, volume("no-such-backup"))).rejects.toThrow(/cannot read backup volume disk "backups", backup no-such-backup; nothing was changed/);
    expect(await mergedSummaries(engine)).toEqual(state);
  });
});

/**
 * Row count and checksum of every table as its merges will leave it: the rollups read with FINAL. Background merges
 * collapse duplicate rollup rows whenever they run (SYSTEM STOP MERGES did not stop one already assigned), so raw
 * row counts could differ between two looks at unchanged data; merged content cannot.
 */
/** mergedSummaries without the DAU, retention and adoption snapshots: caches their views rewrite, not data (scripts/backup.ts). */
async function mergedData(engine: OpsEngine): Promise<Record<string, { rows: number; checksum: string }>> {
  const { dau_snapshots: _dau, retention_snapshots: _retention, adoption_snapshots: _adoption, ...data } = await mergedSummaries(engine);
  return data;
}

async function mergedSummaries(engine: OpsEngine): Promise<Record<string, { rows: number; checksum: string }>> {
  const tables = await engine.rows<{ name: string; engine: string }>(
    "SELECT name, engine FROM system.tables WHERE database = 'analytics' AND engine LIKE '%MergeTree' AND NOT startsWith(name, '.') AND NOT startsWith(name, '_tmp') ORDER BY name");
  const out: Record<string, { rows: number; checksum: string }> = {};
  for (const t of tables) {
    const final = /^(Replacing|Aggregating|Summing|Collapsing|VersionedCollapsing)MergeTree$/.test(t.engine) ? " FINAL" : "";
    const [r] = await engine.rows<{ n: string; sum: string }>(`SELECT count() AS n, toString(sum(cityHash64(*))) AS sum FROM analytics.\`${t.name}\`${final}`);
    out[t.name] = { rows: Number(r.n), checksum: r.sum };
  }
  return out;
}

describe("backup and restore command lines", () => {
  const noStack: StackLookup = { url: () => { throw new Error("no stack here"); }, password: () => { throw new Error("no stack here"); } };
  async function run(mode: "backup" | "restore", args: string[], env: Record<string, string> = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(mode, args, env, { out: (l) => out.push(l), err: (l) => err.push(l), stack: noStack });
    return { code, out: out.join("\n"), err: err.join("\n") };
  }
  const conn = { CLICKHOUSE_URL: "http://127.0.0.1:9", CLICKHOUSE_PASSWORD: "pw-123456" };

  it("prints help for both", async () => {
    expect((await run("backup", ["--help"])).out).toContain("Usage: npm run backup");
    expect((await run("restore", ["--help"])).out).toContain("Usage: npm run restore");
  });

  it("exits 2 naming every problem", async () => {
    const r = await run("restore", ["--from", "tape", "--name", "../etc"], conn);
    expect(r.code).toBe(2);
    expect(r.err).toContain('restore: --from: got "tape", expected volume or s3');
    expect(r.err).toContain('restore: --name: got "../etc"');
    expect(r.err).toContain("restore: --yes: required");
    const s3 = await run("backup", ["--to", "s3", "--s3-url", "https://s3.example.com/bucket"], { ...conn, AWS_ACCESS_KEY_ID: "AKIA" });
    expect(s3.err).toContain("set both, or neither");
    expect((await run("backup", ["--to", "s3"], conn)).err).toContain("--s3-url: got \"\"");
    expect((await run("backup", ["--yes"], conn)).err).toContain("--yes: not an option of backup");
    expect((await run("backup", [], {})).err).toContain("no ClickHouse URL: pass --url or set CLICKHOUSE_URL (no stack here)");
  });

  it("exits 1 with the address when ClickHouse is not reachable, without printing secrets", async () => {
    const r = await run("backup", ["--to", "s3", "--s3-url", "https://s3.example.com/bucket/x"], { ...conn, AWS_ACCESS_KEY_ID: "AKIA", AWS_SECRET_ACCESS_KEY: "very-secret-key" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("backup to https://s3.example.com/bucket/x/analytics-");
    expect(r.err + r.out).not.toContain("very-secret-key");
    expect(r.err + r.out).not.toContain("pw-123456");
  });
});
