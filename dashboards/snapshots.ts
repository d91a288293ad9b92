/**
 * When a stored answer (sql/0011: analytics.dau_snapshots, analytics.retention_snapshots) may be used instead of
 * counting again. Pure SQL builders, shared by the panels (dashboards/queries.ts) and by the refreshable views that
 * write the snapshots (components/snapshot-views.ts), so both apply one rule.
 *
 * A snapshot table is replaced as a whole by each refresh, and every row carries the same token, `valid_as_of`: the
 * refresh's start minus a settle time, before which every insert has committed. A stored day's answer holds while
 * - the snapshot is less than a day old (link_changes keeps two days of links, so older tokens cannot be checked), and
 * - no events of that day were inserted at or after the token (analytics.day_changes), and
 * - no identity link inserted at or after the token names an anonymous id active that day (its rows now count for
 *   someone else), and
 * - for a cohort's retention, no signup event dated that day or earlier was inserted at or after the token (it may
 *   have moved a user from a later cohort to an earlier one).
 * Everything else is computed from the rollups exactly as without snapshots.
 */

export const DAU_SNAPSHOTS = "analytics.dau_snapshots";
export const RETENTION_SNAPSHOTS = "analytics.retention_snapshots";

/** The table's token as a scalar subquery: every row has the same one; 1970 when the table is empty. */
export const tokenSql = (table: string) => `(SELECT max(valid_as_of) FROM ${table})`;

/** A snapshot row is used only while its refresh is recent enough for link_changes to cover the time since. */
export const RECENT_TOKEN = (token: string) => `${token} > now64(3, 'UTC') - INTERVAL 1 DAY`;

/**
 * Days (in `dayWhere`, a condition on a `day` column) whose stored answers the changes since `token` invalidate: days
 * with events inserted since, and days on which an anonymous id linked since was active. The link check reads the
 * anonymous rows of the few ids linked since the token, through the daily rollup's sort key (day, user_key = 0, anon_key).
 */
export function staleDaysSql(token: string, dayWhere: string): string {
  return `SELECT day FROM analytics.day_changes WHERE (${dayWhere}) AND changed_at >= ${token}
    UNION ALL
    SELECT day FROM analytics.activity_daily
    WHERE (${dayWhere}) AND user_key = 0 AND anon_key IN (SELECT anon_key FROM analytics.link_changes WHERE changed_at >= ${token})`;
}

/**
 * The first cohort day whose membership may have changed since `token`: the earliest day of a signup event inserted
 * since (its user now belongs to that cohort, and may have left any later one). The last representable Date when
 * there is none.
 */
export function signupCutoffSql(token: string): string {
  return `(SELECT coalesce(minOrNull(day), toDate('2149-06-06')) FROM analytics.day_changes WHERE signup_changed_at >= ${token})`;
}
