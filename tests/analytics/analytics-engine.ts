/**
 * Test fixture: a chDB engine with every migration applied by the real runner (then the funnel rollup's view and
 * backfill, as the stack runs them after the migrations), and helpers to load a dataset and run named queries with
 * Grafana's macros expanded.
 */
import { join } from "node:path";
import { funnelRollupStatements } from "../../components/funnel-rollup";
import { applyMigrations, readMigrationSources, toMigrationFiles } from "../../components/migrations";
import { DEFAULT_FUNNEL } from "../../dashboards/settings";
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
  await applyMigrations(engine.client, toMigrationFiles(readMigrationSources(SQL_DIR)), { afterStatements: funnelRollupStatements(funnelSteps) });
  return engine;
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
