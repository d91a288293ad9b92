/**
 * Test fixture: a chDB engine with every migration applied by the real runner (then the funnel rollup's view and
 * backfill, as the stack runs them after the migrations), and helpers to load a dataset and run named queries with
 * Grafana's macros expanded.
 */
import { join } from "node:path";
import { funnelRollupStatements } from "../../components/funnel-rollup";
import { refreshSnapshotsStatements, snapshotViewStatements } from "../../components/snapshot-views";
import { applyMigrations, readMigrationSources, toMigrationFiles } from "../../components/migrations";
import { DEFAULT_FUNNEL, DEFAULT_RETENTION_OFFSETS } from "../../dashboards/settings";
import { startTestEngine, type TestEngine } from "../support/clickhouse-engine";
import type { Dataset, EventRow } from "../support/dataset";
import { expandClickHouseMacros, type GrafanaContext } from "../support/grafana-macros";

export const SQL_DIR = join(__dirname, "..", "..", "sql");

/**
 * The retention TTLs are left out: they would expire the fixed-date test data on the next merge.
 * @param funnelSteps the steps the funnel rollup collects: the funnel query's steps. Defaults to DEFAULT_FUNNEL.
 */
export async function startAnalyticsEngine(label: string, funnelSteps: readonly string[] = DEFAULT_FUNNEL): Promise<TestEngine> {
  const engine = await startTestEngine(label);
  await applyMigrations(engine.client, toMigrationFiles(readMigrationSources(SQL_DIR)), { afterStatements: [...funnelRollupStatements(funnelSteps), ...TEST_SNAPSHOT_VIEWS] });
  return engine;
}

/**
 * The snapshot views as the stack creates them, except: no first refresh and none for a day (a test refreshes with
 * refreshSnapshots when it means to, so which path a panel takes is decided by the test), no settle time (the test's
 * inserts have committed when it refreshes), and a window reaching the fixed-date test data.
 */
const TEST_SNAPSHOT_VIEWS = snapshotViewStatements({
  retentionOffsetsDays: DEFAULT_RETENTION_OFFSETS, windowDays: 3_650, refreshSeconds: 86_400, settleSeconds: 0, startEmpty: true,
});

/** Runs the snapshot views' statements again, as a deploy that changes them does. */
export async function recreateSnapshotViews(engine: TestEngine): Promise<void> {
  for (const query of TEST_SNAPSHOT_VIEWS) await engine.client.command({ query });
}

/** Refreshes the DAU and retention snapshots now and waits for them. */
export async function refreshSnapshots(engine: TestEngine): Promise<void> {
  for (const query of refreshSnapshotsStatements()) await engine.client.command({ query });
}

export async function insertEvents(engine: TestEngine, rows: readonly EventRow[]): Promise<void> {
  if (rows.length === 0) return;
  await engine.client.insert({ table: "analytics.events", values: rows as EventRow[], format: "JSONEachRow" });
}

/** Identity calls first or last is up to the test: resolution happens at query time, so the order must not matter. */
export async function insertIdentities(engine: TestEngine, ds: Dataset): Promise<void> {
  await engine.client.insert({ table: "analytics.identifies", values: ds.identifies, format: "JSONEachRow" });
  if (ds.aliases.length > 0) await engine.client.insert({ table: "analytics.aliases", values: ds.aliases, format: "JSONEachRow" });
}

export async function runQuery<T = Record<string, unknown>>(engine: TestEngine, sql: string, ctx: GrafanaContext): Promise<T[]> {
  return engine.rows<T>(expandClickHouseMacros(sql, ctx));
}
