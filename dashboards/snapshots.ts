/**
 * When a stored answer (sql/0011: analytics.dau_snapshots, analytics.retention_snapshots; sql/0012:
 * analytics.adoption_snapshots) may be used instead of counting again. Pure SQL builders, shared by the panels
 * (dashboards/queries.ts) and by the refreshable views that write the snapshots (components/snapshot-views.ts), so
 * both apply one rule.
 *
 * A snapshot table is replaced as a whole by each refresh, and every row carries the same token, `valid_as_of`: the
 * refresh's start minus a settle time, before which every insert has committed. A stored day's answer holds while
 * - the snapshot is less than a day old (link_changes keeps two days of links, so older tokens cannot be checked) and
 *   not from the future (a clock set back), and
 * - no events of that day were inserted at or after the token (analytics.day_changes), and
 * - no identity link inserted at or after the token names an anonymous id active that day (its rows now count for
 *   someone else), and
 * - for a cohort's retention, no signup event dated that day or earlier was inserted at or after the token (it may
 *   have moved a user from a later cohort to an earlier one);
 * - for a week's adoption, the same holds for every day of the week (links checked against the week's anonymous
 *   actors in the weekly rollup the answer is counted from).
 * Everything else is computed from the rollups exactly as without snapshots.
 */

export const DAU_SNAPSHOTS = "analytics.dau_snapshots";
export const RETENTION_SNAPSHOTS = "analytics.retention_snapshots";
export const ADOPTION_SNAPSHOTS = "analytics.adoption_snapshots";

/**
 * A snapshot row is used only while its refresh is recent enough for link_changes to cover the time since, and not
 * from the future: after the server's clock was set back, inserts would carry change times before the token and
 * look older than the snapshot. Such a snapshot is ignored (counted again, and the next refresh counts everything).
 */
export const RECENT_TOKEN = (token: string) => `${token} > now64(3, 'UTC') - INTERVAL 1 DAY AND ${token} <= now64(3, 'UTC')`;

/** Rows (kind 0, day) of the days matching `dayWhere` with events inserted since `token`, or on which an anonymous id
 * linked since was active (found through the daily rollup's sort key (day, user_key = 0, anon_key), for the few ids
 * linked since the token). */
const staleDayRows = (token: string, dayWhere: string) => `SELECT 0 AS kind, day FROM analytics.day_changes WHERE (${dayWhere}) AND changed_at >= ${token}
      UNION ALL
      SELECT 0 AS kind, day FROM analytics.activity_daily
      WHERE (${dayWhere}) AND user_key = 0 AND anon_key IN (SELECT anon_key FROM analytics.link_changes WHERE changed_at >= ${token})`;

/**
 * The days matching `dayWhere` (a condition on `day`) whose stored answers the changes since `token` invalidate, as an
 * array: days with events inserted since (analytics.day_changes), and days on which an anonymous id linked since was
 * active (its rows now count for someone else). One scalar over a UNION ALL, so both reads run in parallel.
 */
export function staleDaysSql(token: string, dayWhere: string): string {
  return `(SELECT groupUniqArray(day) FROM (${staleDayRows(token, dayWhere)}))`;
}

/**
 * For retention, staleDaysSql's days and, as a tuple's second element, the first day of a signup event inserted since
 * `token`, over every day (its user now belongs to that cohort, and may have left any later one: the cohorts from that
 * day on are stale; the last representable Date when there is none). One scalar, three parallel reads.
 */
export function staleDaysAndSignupCutoffSql(token: string, dayWhere: string): string {
  return `(SELECT (groupUniqArrayIf(day, kind = 0), coalesce(minOrNullIf(day, kind = 1), toDate('2149-06-06'))) FROM (
      ${staleDayRows(token, dayWhere)}
      UNION ALL
      SELECT 1 AS kind, day FROM analytics.day_changes WHERE signup_changed_at >= ${token}))`;
}

/**
 * The weeks (Mondays) from `fromWeek` to `toWeek` (Date expressions) whose stored adoption answers the changes since
 * `token` invalidate, as an array: weeks with a day that had events inserted since (analytics.day_changes), and weeks
 * in which an anonymous id linked since was active (the weekly rollup's own anonymous actors, so a week whose first
 * days the daily rollup has already expired is still checked). One scalar over a UNION ALL, both reads in parallel.
 */
export function staleWeeksSql(token: string, fromWeek: string, toWeek: string): string {
  return `(SELECT groupUniqArray(week) FROM (
      SELECT toMonday(day) AS week FROM analytics.day_changes WHERE day >= ${fromWeek} AND day <= (${toWeek}) + 6 AND changed_at >= ${token}
      UNION ALL
      SELECT week FROM analytics.activity_weekly
      WHERE week >= ${fromWeek} AND week <= ${toWeek} AND user_key = 0 AND anon_key IN (SELECT anon_key FROM analytics.link_changes WHERE changed_at >= ${token})))`;
}
