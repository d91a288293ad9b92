/**
 * The state bench:queries times the panels in, shared with bench:queries-compare so both measure the same thing: the
 * dashboards' time range (the 30 days ending with today, the event_name variable at All), the snapshots refreshed,
 * and events of today (and of yesterday) inserted since, as traffic keeps arriving between two refreshes.
 */
import { join } from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { funnelRollupStatements } from "../components/funnel-rollup";
import { applyMigrations, readMigrationSources, toMigrationFiles } from "../components/migrations";
import { refreshSnapshotsStatements, snapshotViewStatements } from "../components/snapshot-views";
import type { StackConfig } from "../components/stack-config";
import { analyticsSettings } from "../dashboards/settings";
import { ALL_EVENT_NAMES } from "../dashboards/queries";
import type { GrafanaContext } from "../tests/support/grafana-macros";

export const DAY_MS = 86_400_000;

/**
 * Applies sql/ with the real migration runner, then the funnel rollup's view and the snapshot views as the stack runs
 * them after the migrations, except that the snapshots are refreshed by the benchmark when it chooses (refreshSnapshots),
 * not in the background while it times. On a kept data directory this brings the schema and the views to the code's.
 */
export async function applyBenchSchema(client: ClickHouseClient, cfg: StackConfig): Promise<void> {
  const settings = analyticsSettings(cfg);
  await applyMigrations(client, toMigrationFiles(readMigrationSources(join(__dirname, "..", "sql"))), {
    afterStatements: [...funnelRollupStatements(settings.funnelSteps), ...snapshotViewStatements({
      retentionOffsetsDays: settings.retentionOffsetsDays, windowDays: cfg.rollupRetentionDays,
      refreshSeconds: 86_400, startEmpty: true,
      // The load has committed before the refresh starts: nothing to wait for.
      settleSeconds: 0,
    })],
  });
}

/** Tables merged after loading besides the raw events: ours, then the reference's. */
const ROLLUPS = ["analytics.activity_daily", "analytics.activity_weekly", "analytics.feature_usage_weekly", "analytics.events_hourly",
  "analytics.signups", "analytics.identity_links", "analytics.funnel_events", "reference.hourly_stats"];

/**
 * Merges every rollup's parts (`OPTIMIZE ... FINAL`, the steady state background merges reach): after a load, and on a
 * kept directory where earlier runs' probe events left small parts.
 */
export async function mergeRollups(client: ClickHouseClient): Promise<void> {
  for (const table of ROLLUPS) await client.command({ query: `OPTIMIZE TABLE ${table} FINAL` });
}

/** The dashboards' range ending at `toMs`: the last 30 days, hourly intervals, no event name picked. */
export const rangeEndingAt = (toMs: number): GrafanaContext => ({
  fromMs: toMs - 30 * DAY_MS, toMs, intervalSeconds: 3600, variables: { event_name: [] },
});

/**
 * The context the panels are timed with: the range ending a second before the end of `endDay` (UTC, "YYYY-MM-DD"), and
 * the event_name variable at the dashboard's default, All, which Grafana sends as the variable's custom all value
 * (ALL_EVENT_NAMES in dashboards/queries.ts).
 */
export function panelContext(endDay: string): GrafanaContext {
  const endMs = Date.parse(`${endDay}T00:00:00Z`) + DAY_MS;
  return { ...rangeEndingAt(endMs - 1000), variables: { event_name: { allValue: ALL_EVENT_NAMES } } };
}

/** Refreshes every snapshot view now and waits for them; returns the milliseconds it took. */
export async function refreshSnapshots(client: ClickHouseClient): Promise<number> {
  const started = performance.now();
  for (const query of refreshSnapshotsStatements()) await client.command({ query });
  return Math.round(performance.now() - started);
}

/**
 * Inserts one event of an existing user now and, with `days` 2, a late one dated yesterday: the days the panels then
 * count from the rollups instead of taking them from the snapshots. `tag` keeps message ids apart between calls.
 */
export async function insertOngoingEvents(client: ClickHouseClient, tag: string, days: 1 | 2 = 2): Promise<void> {
  const at = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");
  const now = Date.now();
  await client.insert({
    table: "analytics.events", format: "JSONEachRow",
    values: [now, now - DAY_MS].slice(0, days).map((ms) => ({ message_id: `ongoing-${tag}-${ms}`, type: "track", event_name: "page_viewed",
      user_id: "usr_0000001", anonymous_id: "", properties: {}, context: {}, event_time: at(ms), received_at: at(now) })),
  });
}
