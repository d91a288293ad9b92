/**
 * The funnel rollup's view and backfill: statements derived from the configured funnel steps, run after the
 * migrations (with the retention statements) whenever their text changes.
 *
 * analytics.funnel_events (sql/0010) holds the step events only, and which events are steps is a per-stack setting
 * (AnalyticsSettings.funnelSteps), so its materialized view cannot be a frozen migration. The statements:
 * 1. drop the view, if any (its filter may name other steps);
 * 2. create it with a filter on the current steps: from here on every insert into analytics.events feeds it;
 * 3. backfill the table from the raw events of the current steps. It runs after the CREATE, so an event inserted
 *    between the DROP and the backfill is read by the backfill; events it copies that the view also wrote are
 *    duplicate rows, which the table collapses on merge and which do not change a windowFunnel result meanwhile.
 *
 * Rerunning them (steps or retention changed) rereads the step events of the raw table: the event_name column of
 * the stored events, once per deploy that changes the statements. Raw events older than eventRetentionDays are
 * gone, so a newly added step has no rows before that; the rows of the steps that were already there stay.
 * Not covered: an insert already running when the view is created and committed after the backfill started
 * (milliseconds, at a deploy that changes the steps) is in neither; rerunning the statements repairs it.
 */
export const FUNNEL_TABLE = "analytics.funnel_events";
export const FUNNEL_VIEW = "analytics.funnel_events_mv";

/** A ClickHouse string literal. */
const sqlString = (value: string) => `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

/** The rollup's columns computed from an analytics.events row (keys as in sql/0005). */
function selectStepEvents(steps: readonly string[]): string {
  return `SELECT
    toDate(event_time) AS day,
    event_name,
    if(user_id != '', cityHash64(user_id), 0) AS user_key,
    if(user_id = '', cityHash64(anonymous_id), 0) AS anon_key,
    event_time
FROM analytics.events
WHERE event_name IN (${steps.map(sqlString).join(", ")})`;
}

/**
 * Statements that (re)create the view feeding analytics.funnel_events for these steps and backfill it, in order.
 * The steps are validated by analyticsSettings (dashboards/settings.ts); here they are only escaped as SQL strings.
 * Their order does not matter: the same set of steps gives the same statements, so reordering reruns nothing.
 */
export function funnelRollupStatements(steps: readonly string[]): string[] {
  if (steps.length === 0) throw new Error("funnel steps: got none, expected the funnel's event names (AnalyticsSettings.funnelSteps)");
  const unique = [...new Set(steps)].sort();
  return [
    `DROP VIEW IF EXISTS ${FUNNEL_VIEW}`,
    `CREATE MATERIALIZED VIEW ${FUNNEL_VIEW} TO ${FUNNEL_TABLE} AS ${selectStepEvents(unique)}`,
    `INSERT INTO ${FUNNEL_TABLE} ${selectStepEvents(unique)}`,
  ];
}
