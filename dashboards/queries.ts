/**
 * Every query the dashboards and alerts run, declared once by name with its unit and a one-line description.
 * Panels, alert rules, tests (executed on chDB with known answers) and the benchmark all take them from here.
 *
 * ClickHouse queries use the Grafana ClickHouse plugin's macros ($__timeFilter, $__fromTime, $__toTime,
 * $__timeInterval, $__interval_s, and the millisecond $__timeFilter_ms, $__fromTime_ms, $__toTime_ms wherever an
 * exact time is compared with the range: Grafana's ranges end at .999) and the dashboard variable `event_name`; Loki
 * queries use `service` and `$__interval`. People are counted from the rollups of sql/0004-0008 (daily, weekly, hourly, signups) with anonymous ids resolved to users (see
 * `personsSql` and docs/data-model.md); the funnel reads its steps' events from analytics.funnel_events (sql/0010);
 * nothing reads the raw events table except "events today" (its current hour) and the ingest-health panels (they
 * select by arrival time, through a skip index).
 */
import type { AnalyticsSettings } from "./settings";
import { ADOPTION_SNAPSHOTS, DAU_SNAPSHOTS, RECENT_TOKEN, RETENTION_SNAPSHOTS, staleDaysAndSignupCutoffSql, staleDaysSql, staleWeeksSql } from "./snapshots";

export type QueryFormat = "time_series" | "table";

export interface ClickHouseNamedQuery {
  readonly kind: "clickhouse";
  readonly name: string;
  readonly title: string;
  /** Grafana unit id ("short", "percentunit", "s", ...). */
  readonly unit: string;
  readonly description: string;
  readonly format: QueryFormat;
  readonly sql: string;
}

export interface LokiNamedQuery {
  readonly kind: "loki";
  readonly name: string;
  readonly title: string;
  readonly unit: string;
  readonly description: string;
  readonly expr: string;
}

export type NamedQuery = ClickHouseNamedQuery | LokiNamedQuery;

const sqlString = (value: string) => `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
const sqlList = (values: readonly string[]) => values.map(sqlString).join(", ");

/**
 * `column IN (subquery)` without primary-key analysis of the set: on a sort-key column ClickHouse otherwise checks
 * every granule's key range against the whole set (use_index_for_in_with_subqueries), which for the sets here (tens
 * of thousands of people or anonymous ids) took 200 ms where filtering the rows takes under 30 ms (10M bench
 * events). `identity()` is ClickHouse's documented way to skip the index for one expression; the day range in the
 * same WHERE still prunes by the sort key.
 */
export const inSet = (column: string, subquery: string) => `identity(${column}) IN (${subquery})`;

/**
 * The latest user each anonymous id was linked to: ReplacingMergeTree(linked_at) with FINAL keeps, per anon_key, the
 * link with the latest linked_at (merged or not), so no GROUP BY over the whole table per query.
 */
const LINKS = "SELECT anon_key, user_key AS linked_user FROM analytics.identity_links FINAL";

/** The anonymous keys of a rollup's rows in range: the ids whose links a query needs. */
const anonKeysSql = (table: string, where: string) => `SELECT anon_key FROM ${table} WHERE user_key = 0 AND (${where})`;

/**
 * The latest links of the given anonymous ids as a pair of arrays, (anon keys, their users), for `transform()`: a
 * lookup per row in a small hash map built once per query, instead of a join over every anonymous row (which took
 * 70% of the DAU query at 100M bench events, where anonymous visitors are 40% of the daily rows).
 */
function linksArraysSql(anonKeys: string): string {
  return `SELECT (groupArray(anon_key), groupArray(linked_user)) FROM (${LINKS} WHERE ${inSet("anon_key", anonKeys)})`;
}

/**
 * A never-linked anonymous id as a person: its key moved out of the user keys' space. Both keys are cityHash64 of an
 * id string, so the visitor "bob" (an anonymous id never linked) and the user "bob" had the same key and were one
 * person in DAU and retention (the visitor's visit retained the user) while adoption counted them apart. The XOR with
 * a fixed odd constant is a bijection, so two visitors stay two people, and the moved key meets a user key only by a
 * 64-bit collision, as any two ids do.
 */
const unlinkedAnonPerson = (anonKey: string) => `bitXor(${anonKey}, toUInt64(11400714819323198485))`;

/**
 * The `person` of a rollup row, given `links` from linksArraysSql: an identified row's user; an anonymous row's
 * linked user, or, when its id was never linked, a person of its own (unlinkedAnonPerson).
 */
const PERSON = `if(user_key = 0, transform(anon_key, links.1, links.2, ${unlinkedAnonPerson("anon_key")}), user_key)`;

/**
 * Rows of a per-actor rollup with a `person` column (see PERSON), in one pass over the rollup. Used where people are
 * counted across periods (WAU, MAU, 24 h, alerts).
 * @param table a rollup with user_key and anon_key columns
 * @param where filter on the rollup's own columns (a day range first, so the sort key prunes)
 * @param columns rollup columns to carry along
 */
export function personsSql(table: string, where: string, columns: readonly string[]): string {
  const cols = columns.length > 0 ? `${columns.join(", ")}, ` : "";
  const anonKeys = anonKeysSql(table, where);
  return `WITH (${linksArraysSql(anonKeys)}) AS links
  SELECT ${cols}${PERSON} AS person FROM ${table} WHERE (${where})`;
}

/**
 * Distinct people per group (a week, a feature in a week) of a rollup whose sort key is (group..., user_key, anon_key),
 * given `links` (linksArraysSql) defined once in the enclosing query's WITH, in one pass without a distinct count over
 * all rows. A row is "linked" when its person may appear on another row of the group: an anonymous row whose id is
 * linked, or an identified row of a user some link resolves to (links.2, the only `person` values an anonymous row
 * can take besides its own key). Every other row is a person of its own (FINAL made the rows one per (group, actor),
 * and an unlinked anonymous key is nobody else), so they are a count; only the linked rows are counted distinct.
 * At 100M bench events with a quarter of the anonymous visitors linked this took adoption by week from 406 to 171 ms
 * (the previous split checked anonymous rows against every identified row of the linked users, a set of 300k tuples).
 */
function peopleByGroupSharedLinksSql(table: string, where: string, groups: readonly string[]): string {
  const g = groups.join(", ");
  return `SELECT ${g}, countIf(NOT linked) + uniqExactIf(person, linked) AS people FROM (
    SELECT ${g}, ${PERSON} AS person,
      -- An anonymous row is linked when its id has a link, even to a user id equal to itself (an identify whose
      -- anonymous id is the user id: comparing person with anon_key counted that user twice).
      if(user_key = 0, anon_key IN (SELECT arrayJoin(links.1)), user_key IN (SELECT arrayJoin(links.2))) AS linked
    FROM ${table} FINAL WHERE (${where})
  ) GROUP BY ${g}`;
}

const ACTIVITY = "analytics.activity_daily";
const WEEKLY_ACTIVITY = "analytics.activity_weekly";
const WEEKLY_FEATURES = "analytics.feature_usage_weekly";
const dayRange = (from: string, to: string) => `day >= ${from} AND day <= ${to}`;
const RANGE_DAYS = dayRange("toDate($__fromTime)", "toDate($__toTime)");
/**
 * The end of the range the headline numbers (WAU, MAU, stickiness, 24 h, today, this week) are "as of": now when the
 * range ends in the future, as Grafana's "Today", "This week" and "This month" do (WAU of "This month" counted the
 * last 7 days of the month: 0).
 */
const END = "least($__toTime, now())";
/**
 * END to the millisecond, for comparisons with event times: Grafana's day ranges ("Today", "Yesterday") end at
 * 23:59:59.999, and $__toTime renders whole seconds, which left out everything in the range's last partial second.
 */
const END_MS = "least($__toTime_ms, now64(3, 'UTC'))";
const LAST_30_DAYS = dayRange(`toDate(${END}) - 29`, `toDate(${END})`);
/**
 * The event_name variable's All: a custom all value, which Grafana inserts unformatted (percent-encoded by the
 * percentencode format, which leaves these characters as they are). Without it Grafana sends All as every option.
 */
export const ALL_EVENT_NAMES = "__all__";
/**
 * The last activity day the retention grid shows: the range's last day, or today when the range ends in the future
 * (Grafana's "This week" and "This month" end on days to come, whose cells showed 0% instead of empty).
 */
const RETENTION_LAST_DAY = "least(toDate($__toTime), today())";
/**
 * The event names picked in the event_name variable, as an array. Event names come from clients, so no format that
 * puts them into the SQL as text is safe: Grafana's singlequote escapes ' but not backslashes (a name ending in a
 * backslash was a syntax error, a backslash and an n in a name were read as a newline and matched nothing, and two
 * crafted names could close the string). So each option's value is its name URL-encoded by the variable's query,
 * and the panels take the variable with the percentencode format, which percent-encodes the picked values joined as
 * {a,b}: every character that reaches the SQL string is a letter, a digit, % - . _ or ~, whatever was picked or
 * typed. Decoded once, split on the commas (a value's own commas are encoded), decoded again.
 */
const PICKED = "decodeURLComponent('${event_name:percentencode}')";
const pickedEventNames = `arrayMap(v -> decodeURLComponent(v), splitByChar(',', trim(BOTH '{}' FROM ${PICKED})))`;
const eventFilter = `(${PICKED} = '${ALL_EVENT_NAMES}' OR has(${pickedEventNames}, event_name))`;

/** The days from `from` to `to` (Date expressions) as an array. */
export const daysArray = (from: string, to: string) => `arrayMap(i -> (${from}) + i, range(toUInt32((${to}) - (${from}) + 1)))`;

/**
 * DAU per day (columns day, people) for the days from `from` to `to` (Date expressions): the stored answer of each day
 * whose snapshot is still valid (dashboards/snapshots.ts), the other days (today, days with late data) counted from
 * the daily rollup. The same numbers either way; the refresh of analytics.dau_snapshots runs this very query over its
 * window. Each table is read once (at 100M bench events every read costs milliseconds before its first row), and the
 * few days to count get a plain distinct count of resolved people.
 */
export function dauRowsSql(from: string, to: string): string {
  const range = dayRange(from, to);
  const counted = `(${range}) AND day IN (SELECT arrayJoin(counted_days))`;
  return `WITH (SELECT (groupArray((day, people)), max(valid_as_of)) FROM ${DAU_SNAPSHOTS}
      WHERE (${range}) AND ${RECENT_TOKEN("valid_as_of")} AND expires_on > today()) AS snapshot,
    ${staleDaysSql("snapshot.2", range)} AS stale_days,
    arrayFilter(s -> NOT has(stale_days, s.1), snapshot.1) AS stored,
    (SELECT groupArray(d) FROM (SELECT arrayJoin(${daysArray(from, to)}) AS d) WHERE d NOT IN (SELECT arrayJoin(stored).1)) AS counted_days,
    (${linksArraysSql(anonKeysSql(ACTIVITY, counted))}) AS links
  SELECT day, people FROM (
    SELECT s.1 AS day, s.2 AS people FROM (SELECT arrayJoin(stored) AS s)
    UNION ALL
    SELECT day, uniqExact(${PERSON}) AS people FROM ${ACTIVITY} WHERE ${counted} GROUP BY day
  )`;
}

/**
 * Retained people per (cohort, offset_days) for the cohort days from `from` to `to` and the offsets, on activity days
 * up to `lastDay` (Date expressions), with a `cohorts` (user_key, cohort) table in scope (a WITH of the enclosing
 * query): the stored cell where still valid (dashboards/snapshots.ts), the others counted from the daily rollup on
 * only the days they need, anonymous rows resolved to their latest link and joined to the cohorts (a plain INNER
 * JOIN: ClickHouse's INNER ANY JOIN keeps one left row per key, which dropped all but one day of a device's logged-out
 * visits). Counted cells nobody was retained in have no row. Each table is read once, as in dauRowsSql.
 */
export function retentionCellsSql(offsets: readonly number[], from: string, to: string, lastDay: string): string {
  const offsetList = `[${offsets.map((n) => `toUInt16(${n})`).join(", ")}]`;
  const activityRange = dayRange(`(${from}) + ${Math.min(...offsets)}`, lastDay);
  const counted = `(${activityRange}) AND day IN (SELECT arrayJoin(counted_days))`;
  return `WITH (SELECT (groupArray((cohort, offset_days, retained)), max(valid_as_of)) FROM ${RETENTION_SNAPSHOTS}
      WHERE cohort >= ${from} AND cohort <= ${to} AND offset_days IN (${offsets.join(", ")}) AND ${RECENT_TOKEN("valid_as_of")}) AS snapshot,
    ${staleDaysAndSignupCutoffSql("snapshot.2", activityRange)} AS stale,
    arrayFilter(c -> c.1 < stale.2 AND NOT has(stale.1, c.1 + c.2), snapshot.1) AS stored,
    (SELECT groupArray((cohort, offset_days)) FROM (SELECT arrayJoin(${daysArray(from, to)}) AS cohort) ARRAY JOIN ${offsetList} AS offset_days
      WHERE cohort + offset_days <= ${lastDay} AND (cohort, offset_days) NOT IN (SELECT s.1, s.2 FROM (SELECT arrayJoin(stored) AS s))) AS counted_cells,
    arrayDistinct(arrayMap(c -> c.1 + c.2, counted_cells)) AS counted_days,
    (${linksArraysSql(anonKeysSql(ACTIVITY, counted))}) AS links
  SELECT cohort, offset_days, retained FROM (
    SELECT c.1 AS cohort, c.2 AS offset_days, c.3 AS retained FROM (SELECT arrayJoin(stored) AS c)
    UNION ALL
    SELECT cohorts.cohort AS cohort, toUInt16(activity.day - cohorts.cohort) AS offset_days, uniqExact(activity.person) AS retained
    FROM (SELECT day, ${PERSON} AS person FROM ${ACTIVITY} WHERE ${counted}) AS activity
    INNER JOIN cohorts ON activity.person = cohorts.user_key
    WHERE (cohorts.cohort, toUInt16(activity.day - cohorts.cohort)) IN (SELECT c.1, c.2 FROM (SELECT arrayJoin(counted_cells) AS c))
    GROUP BY cohort, offset_days
  )`;
}

/**
 * Distinct people per week (scope 'active', event_name '') and per (week, feature) (scope 'feature') for the weeks
 * (Mondays) from `fromWeek` to `toWeek` (Date expressions), feature rows limited to `featureWhere` (a condition on
 * event_name): the stored answers of each week whose snapshot is still valid (dashboards/snapshots.ts), the other weeks
 * (the current one, weeks with late data) counted from the weekly rollups. The same numbers either way; the refresh of
 * analytics.adoption_snapshots runs this very query over its window with every event name.
 */
export function adoptionRowsSql(fromWeek: string, toWeek: string, featureWhere = "1"): string {
  const range = `week >= ${fromWeek} AND week <= ${toWeek}`;
  const counted = `(${range}) AND week IN (SELECT arrayJoin(counted_weeks))`;
  const weeks = `arrayMap(i -> (${fromWeek}) + 7 * i, range(toUInt32(intDiv((${toWeek}) - (${fromWeek}), 7) + 1)))`;
  return `WITH (SELECT (groupArray((week, toString(scope), event_name, people)), max(valid_as_of)) FROM ${ADOPTION_SNAPSHOTS}
      WHERE (${range}) AND ${RECENT_TOKEN("valid_as_of")} AND expires_on > today()) AS snapshot,
    ${staleWeeksSql("snapshot.2", fromWeek, toWeek)} AS stale_weeks,
    arrayFilter(s -> NOT has(stale_weeks, s.1), snapshot.1) AS stored,
    (SELECT groupArray(w) FROM (SELECT arrayJoin(${weeks}) AS w) WHERE w NOT IN (SELECT arrayJoin(stored).1)) AS counted_weeks,
    (${linksArraysSql(weeklyAnonKeys(counted))}) AS links
  SELECT week, scope, event_name, people FROM (
    SELECT s.1 AS week, s.2 AS scope, s.3 AS event_name, s.4 AS people FROM (SELECT arrayJoin(stored) AS s)
    WHERE scope = 'active' OR (${featureWhere})
    UNION ALL
    SELECT week, 'feature' AS scope, event_name, people
    FROM (${peopleByGroupSharedLinksSql(WEEKLY_FEATURES, `${counted} AND ${featureWhere}`, ["week", "event_name"])})
    UNION ALL
    SELECT week, 'active' AS scope, '' AS event_name, people FROM (${peopleByGroupSharedLinksSql(WEEKLY_ACTIVITY, counted, ["week"])})
  )`;
}

/**
 * People active in the `days` days ending with the range's last day. From 14 days on, the whole ISO weeks inside the
 * window come from the weekly rollup (one row per person and week instead of up to seven) and only the days before
 * the first and after the last whole week from the daily rollup: the same people from about half the rows (MAU 112
 * -> 78 ms at 100M bench events). A 7-day window holds at most one whole week, where the split does not pay.
 */
/** The anonymous actors of some weeks: every anonymous key of the weekly feature rows is among them, in fewer rows. */
const weeklyAnonKeys = (weeks: string) => `SELECT anon_key FROM ${WEEKLY_ACTIVITY} WHERE user_key = 0 AND (${weeks})`;

function trailingDays(days: number): string {
  const first = `toDate(${END}) - ${days - 1}`;
  const last = `toDate(${END})`;
  if (days < 14) return personsSql(ACTIVITY, dayRange(first, last), []);
  const firstMonday = `toMonday(${first} + 6)`;
  const lastMonday = `toMonday(${last} - 6)`;
  return `${personsSql(WEEKLY_ACTIVITY, `week >= ${firstMonday} AND week <= ${lastMonday}`, [])}
  UNION ALL
  ${personsSql(ACTIVITY, `${dayRange(first, last)} AND (day < ${firstMonday} OR day > ${lastMonday} + 6)`, [])}`;
}

/** Product panels, by name. */
export function productQueries(s: AnalyticsSettings) {
  const features = `event_name NOT IN (${sqlList(s.nonFeatureEvents)}) AND ${eventFilter}`;
  const thisWeek = `week = toMonday(${END})`;
  const offsets = s.retentionOffsetsDays;
  const steps = s.funnelSteps;

  const queries = {
    dau: {
      kind: "clickhouse", name: "dau", title: "Daily active users", unit: "short", format: "time_series",
      description: "People with at least one event per UTC day (anonymous visitors resolved to the user they became).",
      // WITH FILL: a day nobody was active is a 0, not a missing point the line is drawn across; from the first day
      // with activity (before it the rows may have expired) to the range's last day, or today when that is earlier.
      sql: `SELECT toDateTime(day) AS time, people AS dau
FROM (${dauRowsSql("toDate($__fromTime)", "toDate($__toTime)")})
ORDER BY time WITH FILL TO toDateTime(least(toDate($__toTime), today()) + 1) STEP 86400`,
    },
    wau: {
      kind: "clickhouse", name: "wau", title: "Weekly active users", unit: "short", format: "table",
      description: "People active in the 7 days ending with the last day of the time range (today if it ends later).",
      sql: `SELECT uniqExact(person) AS wau FROM (${trailingDays(7)})`,
    },
    mau: {
      kind: "clickhouse", name: "mau", title: "Monthly active users", unit: "short", format: "table",
      description: "People active in the 30 days ending with the last day of the time range (today if it ends later).",
      sql: `SELECT uniqExact(person) AS mau FROM (${trailingDays(30)})`,
    },
    stickiness: {
      kind: "clickhouse", name: "stickiness", title: "Stickiness (DAU / MAU)", unit: "percentunit", format: "table",
      description: "Average DAU over the last 30 days divided by MAU: how many days a month the typical user comes back.",
      // One pass over the 30 days of daily rows, grouped by person: a 30-bit mask of the days each person was active
      // (OR is idempotent, so rows not yet merged need no FINAL), MAU the number of people and the sum of the daily
      // people the sum of the masks' bits (98 -> 66 ms at 100M bench events, against FINAL with a count per row and a
      // distinct count of the linked anonymous rows). NULL (no data) when nobody was active: 0 / 0 shows as "NaN".
      sql: `SELECT if(mau = 0, NULL, daily / 30 / mau) AS stickiness
FROM (SELECT count() AS mau, sum(bitCount(days)) AS daily FROM (
  SELECT person, groupBitOr(bitShiftLeft(toUInt32(1), toUInt8(toDate(${END}) - day))) AS days
  FROM (${personsSql(ACTIVITY, LAST_30_DAYS, ["day"])})
  GROUP BY person))`,
    },
    activeUsers24h: {
      kind: "clickhouse", name: "activeUsers24h", title: "Active users (24 h)", unit: "short", format: "table",
      description: "People with an event in the 24 hours before the end of the time range, or now if it ends later (exact, from each day's first and last event).",
      // A 24-hour window touches two days: the later one from midnight (first_seen <= end), the earlier one up to
      // midnight (last_seen > start).
      sql: `SELECT uniqExact(person) AS active_users
FROM (${personsSql(ACTIVITY, `${dayRange(`toDate(${END} - INTERVAL 1 DAY)`, `toDate(${END})`)} AND first_seen <= ${END_MS} AND last_seen > ${END_MS} - INTERVAL 1 DAY`, [])})`,
    },
    eventsToday: {
      kind: "clickhouse", name: "eventsToday", title: "Events today", unit: "short", format: "table",
      description: "Events since midnight UTC of the range's last day (today if it ends later), up to its end or now: whole hours from the hourly rollup, the current hour from raw events.",
      sql: `SELECT
  (SELECT sum(events) FROM analytics.events_hourly WHERE hour >= toStartOfDay(${END}) AND hour < toStartOfHour(${END}))
  + (SELECT count() FROM analytics.events
     WHERE toDate(event_time) = toDate(${END}) AND event_time >= toStartOfHour(${END}) AND event_time <= ${END_MS}) AS events_today`,
    },
    newSignups: {
      kind: "clickhouse", name: "newSignups", title: "New signups", unit: "short", format: "table",
      description: "Users whose first signup event falls in the time range.",
      sql: `SELECT count() AS signups FROM analytics.signups FINAL
WHERE signed_up_at >= $__fromTime_ms AND signed_up_at <= $__toTime_ms`,
    },
    adoptionThisWeek: {
      kind: "clickhouse", name: "adoptionThisWeek", title: "Feature adoption this week", unit: "percentunit", format: "table",
      description: "Share of the people active in the ISO week of the range's end, or of now if it ends later (Monday to Sunday), who used each feature.",
      // The shape of adoption by week for one week: links read once for both sides, linked rows alone counted
      // distinct (70 -> 47 ms at 100M bench events; 145 -> 75 ms with a quarter of the anonymous visitors linked).
      sql: `WITH (${linksArraysSql(weeklyAnonKeys(thisWeek))}) AS links
SELECT event_name AS feature, used.people AS users, active.people AS active, users / active AS share
FROM (${peopleByGroupSharedLinksSql(WEEKLY_FEATURES, `${thisWeek} AND ${features}`, ["week", "event_name"])}) AS used
INNER JOIN (${peopleByGroupSharedLinksSql(WEEKLY_ACTIVITY, thisWeek, ["week"])}) AS active USING (week)
ORDER BY share DESC, feature`,
    },
    adoptionOverTime: {
      kind: "clickhouse", name: "adoptionOverTime", title: "Feature adoption by week", unit: "percentunit", format: "time_series",
      description: "Share of each ISO week's active people who used each feature that week.",
      // (week, event_name) leads the rollup's sort key, so the per-group count can aggregate in order (185 -> 146 ms
      // at 100M bench events; still 86 against 127 ms with the one-pass count below); not set globally because it
      // slows the daily queries. The links are read once for both sides.
      sql: `SELECT toDateTime(week) AS time, feature, people / active AS share FROM (
  SELECT week, groupArrayIf((event_name, people), scope = 'feature') AS used, anyIf(people, scope = 'active') AS active
  FROM (${adoptionRowsSql("toMonday($__fromTime)", "toMonday($__toTime)", features)})
  GROUP BY week HAVING countIf(scope = 'active') > 0
) ARRAY JOIN used.1 AS feature, used.2 AS people
ORDER BY time, feature
SETTINGS optimize_aggregation_in_order = 1`,
    },
    retention: {
      kind: "clickhouse", name: "retention", title: "Retention by signup cohort", unit: "percentunit", format: "table",
      description: `Share of each day's signups (the UTC days of the range) active exactly ${s.retentionOffsetsDays.join(", ")} days later; empty where that day has not come yet.`,
      // Cells from retentionCellsSql: stored where still valid, the rest counted on the days they need. A cell
      // nobody was retained in has no row: 0.
      sql: `WITH cohorts AS (
  SELECT user_key, toDate(signed_up_at) AS cohort FROM analytics.signups FINAL
  WHERE toDate(signed_up_at) >= toDate($__fromTime) AND toDate(signed_up_at) <= toDate($__toTime)
)
SELECT cohort, size,
${offsets.map((n) => `  if(cohort + ${n} > ${RETENTION_LAST_DAY}, NULL, sumIf(retained, offset_days = ${n}) / size) AS day_${n}`).join(",\n")}
FROM (SELECT cohort, count() AS size FROM cohorts GROUP BY cohort) AS sizes
LEFT JOIN (${retentionCellsSql(offsets, "toDate($__fromTime)", "toDate($__toTime)", RETENTION_LAST_DAY)}) AS cells USING (cohort)
GROUP BY cohort, size
ORDER BY cohort`,
    },
    funnel: {
      kind: "clickhouse", name: "funnel", title: "Conversion funnel", unit: "short", format: "table",
      description: `People reaching each step of ${steps.join(" -> ")} in order, each within ${s.funnelWindowSeconds} s of the first step.`,
      // The step events only, from analytics.funnel_events (sql/0010, filled by components/funnel-rollup.ts): the
      // day range prunes by its sort key, the event_time bounds make the range exact to the millisecond. Only the
      // links of the anonymous ids among them are joined, not every link.
      sql: `WITH steps AS (
  SELECT user_key, anon_key, event_time, event_name
  FROM analytics.funnel_events
  WHERE ${RANGE_DAYS} AND $__timeFilter_ms(event_time) AND event_name IN (${sqlList(steps)})
)
SELECT n AS step_number, [${sqlList(steps)}][n] AS step, countIf(level >= n) AS people
FROM (
  /* Millisecond timestamps, so the window and the order of steps are exact. */
  SELECT if(user_key != 0, user_key, if(ifNull(linked_user, 0) = 0, ${unlinkedAnonPerson("anon_key")}, linked_user)) AS person,
    windowFunnel(${s.funnelWindowSeconds * 1000})(toUInt64(toUnixTimestamp64Milli(event_time)), ${steps.map((step) => `event_name = ${sqlString(step)}`).join(", ")}) AS level
  FROM steps
  LEFT ANY JOIN (${LINKS} WHERE ${inSet("anon_key", "SELECT anon_key FROM steps WHERE user_key = 0")}) AS links USING (anon_key)
  GROUP BY person
)
ARRAY JOIN range(1, ${steps.length + 1}) AS n
GROUP BY n
ORDER BY n`,
    },
    topEvents: {
      kind: "clickhouse", name: "topEvents", title: "Top events", unit: "short", format: "table",
      description: "Events per event name over the whole days of the time range, and their share of all events.",
      // The share's total is every event of the days, not only the names picked in the event_name variable (one
      // picked name showed 100%).
      sql: `WITH hour >= toStartOfDay($__fromTime) AND hour < toStartOfDay($__toTime) + INTERVAL 1 DAY AS in_days
SELECT event_name AS event, sum(events) AS events, events / (SELECT sum(events) FROM analytics.events_hourly WHERE in_days) AS share
FROM analytics.events_hourly
WHERE in_days AND ${eventFilter}
GROUP BY event_name
ORDER BY events DESC, event
LIMIT 20`,
    },
    eventsPerHour: {
      kind: "clickhouse", name: "eventsPerHour", title: "Events per hour", unit: "short", format: "time_series",
      description: "Events per hour (or per panel interval when wider) by event name.",
      // WITH FILL per event name (the sorting prefix): an interval without the event is a 0, not a missing point the
      // line is drawn across (a rare event looked steady), from the name's first interval in the range (before it
      // the rows may have expired) to the interval holding $__toTime, or now when that is earlier (Grafana's "Today"
      // ends at midnight). Then time first, as Grafana's long-to-wide conversion needs.
      sql: `WITH greatest($__interval_s, 3600) AS step
SELECT time, event_name, events FROM (
  SELECT toStartOfInterval(hour, INTERVAL step SECOND) AS time, event_name, sum(events) AS events
  FROM analytics.events_hourly
  WHERE $__timeFilter(hour) AND ${eventFilter}
  GROUP BY time, event_name
  ORDER BY event_name, time WITH FILL TO toStartOfInterval(least($__toTime, now()), INTERVAL step SECOND) + step STEP step
)
ORDER BY time, event_name`,
    },
    actorsPerHour: {
      kind: "clickhouse", name: "actorsPerHour", title: "Unique actors per hour (last 24 h)", unit: "short", format: "time_series",
      description: "Distinct users and anonymous ids per hour in the 24 hours before the range's end (or now if it ends later), merged from uniq states (exact below 65,536 per hour, then approximate; not identity-resolved).",
      // WITH FILL: an hour nobody was active is a 0, not a missing point the line is drawn across (up to now).
      sql: `SELECT hour AS time, uniqMerge(actors) AS actors
FROM analytics.events_hourly
WHERE hour > ${END} - INTERVAL 1 DAY AND hour <= ${END}
GROUP BY hour
ORDER BY time WITH FILL TO toStartOfHour(${END}) + 3600 STEP 3600`,
    },
  } satisfies Record<string, ClickHouseNamedQuery>;
  return queries;
}

export type ProductQueryName = keyof ReturnType<typeof productQueries>;

const lagSeconds = "dateDiff('millisecond', event_time, received_at) / 1000";

/** Loki stream selector of one of this stack's services; never matches the empty string (stack is an equality). */
export function lokiSelector(s: AnalyticsSettings, service: string, extra = ""): string {
  return `{stack="${s.stack}", service="${service}"${extra}}`;
}

/** Ingest-health panels, by name. */
export function ingestQueries(s: AnalyticsSettings) {
  const ingest = lokiSelector(s, "ingest");
  const queries = {
    eventsReceivedPerSecond: {
      kind: "clickhouse", name: "eventsReceivedPerSecond", title: "Events received per second", unit: "short", format: "time_series",
      description: "Events stored in ClickHouse per second, by arrival time (received_at).",
      // WITH FILL: an interval nothing arrived in is a 0, not a missing point that the line is drawn across (an
      // outage looked like steady traffic), from the first interval with events (before it the rows may have expired:
      // no data, not 0) up to now, not to the end of a range in the future (Grafana's "Today" ends at midnight).
      // Per second of the interval inside the range: the interval still filling (now) and the one the range starts in
      // showed as a drop when divided by the whole interval.
      sql: `SELECT $__timeInterval(received_at) AS time,
  count() / greatest(1, dateDiff('second', greatest(time, $__fromTime), least(time + $__interval_s, ${END}))) AS events_per_second
FROM analytics.events
WHERE $__timeFilter_ms(received_at)
GROUP BY time
ORDER BY time WITH FILL TO toStartOfInterval(least($__toTime, now()), INTERVAL $__interval_s SECOND) + $__interval_s STEP $__interval_s`,
    },
    ingestLag: {
      kind: "clickhouse", name: "ingestLag", title: "Ingest lag (received - event time)", unit: "s", format: "time_series",
      description: "Median and 95th percentile of received_at minus event_time, by arrival time. Late mobile batches show up here.",
      sql: `SELECT $__timeInterval(received_at) AS time, quantileExact(0.5)(lag) AS p50, quantileExact(0.95)(lag) AS p95
FROM (SELECT received_at, ${lagSeconds} AS lag FROM analytics.events WHERE $__timeFilter_ms(received_at))
GROUP BY time
ORDER BY time`,
    },
    rejectedByReason: {
      kind: "loki", name: "rejectedByReason", title: "Rejected events by reason", unit: "short",
      description: "Events the ingest refused, by reason code (the `reason` and `events` fields of its request log lines; a request refused before its events were counted, such as a wrong write key or malformed JSON, counts as 1).",
      // A request refused before its body was read (unauthorized, malformed_json, unsupported_media_type...) logs no
      // `events`: unwrapping the absent label is an extraction error that __error__="" drops, so these reasons never
      // showed. They count 1, as in the ingest's ingest_events_rejected_total.
      expr: `sum by (reason) (sum_over_time(${ingest} | json | reason != "" | label_format events="{{ if .events }}{{ .events }}{{ else }}1{{ end }}" | unwrap events | __error__="" [$__interval]))`,
    },
    spoolBacklog: {
      kind: "loki", name: "spoolBacklog", title: "Spool backlog", unit: "bytes",
      description: "Bytes waiting in the ingest's disk spool (the `spool_bytes` field it logs on each flush); growth means ClickHouse is not keeping up.",
      expr: `max(max_over_time(${ingest} | json | unwrap spool_bytes | __error__="" [$__interval]))`,
    },
    clickhouseInsertErrors: {
      kind: "loki", name: "clickhouseInsertErrors", title: "ClickHouse insert errors", unit: "short",
      description: "Ingest log lines about failed ClickHouse inserts: retried (warn), rows dead-lettered and segments that failed to ship (error).",
      expr: `sum(count_over_time(${lokiSelector(s, "ingest", ', level=~"warn|error|fatal"')} |~ "ClickHouse insert failed|ClickHouse rejected a row|shipping a spool segment failed" [$__interval]))`,
    },
    ingestErrorLines: {
      kind: "loki", name: "ingestErrorLines", title: "Ingest error log lines", unit: "short",
      description: "Error and fatal log lines of the ingest service per interval.",
      expr: `sum(count_over_time(${lokiSelector(s, "ingest", ', level=~"error|fatal"')} [$__interval]))`,
    },
    ingestLogs: {
      kind: "loki", name: "ingestLogs", title: "Ingest logs", unit: "none",
      description: "The ingest service's log lines for the time range (request_id in each line).",
      expr: ingest,
    },
  } satisfies Record<string, NamedQuery>;
  return queries;
}

/** The product dashboard's logs panel: the selected services of this stack. */
export function serviceLogsQuery(s: AnalyticsSettings): LokiNamedQuery {
  return {
    kind: "loki", name: "serviceLogs", title: "Logs of the selected service", unit: "none",
    description: "Log lines of the services picked in the service variable, for the dashboard's time range.",
    // `$service` expands to `.+` for All (Loki refuses `.*`, which matches the empty string).
    expr: `{stack="${s.stack}", service=~"$service"}`,
  };
}

/** Alert queries, by name. Each returns one number that the rule reduces and compares with its threshold. */
export function alertQueries(s: AnalyticsSettings) {
  const queries = {
    dauDrop: {
      kind: "clickhouse", name: "dauDrop", title: "DAU drop vs same weekday last week", unit: "percentunit", format: "table",
      description: "1 - (people active today so far / people active on the same weekday last week by the same time of day, as far as their events had arrived by then).",
      // Never below a baseline of 1: with dauDropMinBaseline 0 and nobody last week, 1 - today / 0 was -inf or NaN.
      // Last week as it looked then: its people whose first event had arrived by the same time (first_received,
      // sql/0013). Counted with the events that arrived later, a share of late clients (mobile apps flushing hours
      // later) read as a drop every morning while today's were still on the phones.
      sql: `SELECT if(last_week < ${Math.max(1, s.dauDropMinBaseline)}, 0, 1 - today / last_week) AS dau_drop_share
FROM (
  SELECT uniqExactIf(person, day = toDate($__toTime) AND first_seen <= $__toTime_ms) AS today,
    uniqExactIf(person, day = toDate($__toTime) - 7 AND first_seen <= $__toTime_ms - INTERVAL 7 DAY
      AND first_received <= $__toTime_ms - INTERVAL 7 DAY) AS last_week
  FROM (${personsSql(ACTIVITY, "day = toDate($__toTime) OR day = toDate($__toTime) - 7", ["day", "first_seen", "first_received"])})
)`,
    },
    noEvents: {
      kind: "clickhouse", name: "noEvents", title: "Events received in the alert window", unit: "short", format: "table",
      description: `Events received in the last ${s.alerts.noEventsMinutes} minutes (the rule's time range).`,
      sql: `SELECT count() AS events_received FROM analytics.events WHERE $__timeFilter_ms(received_at)`,
    },
    ingestLagP95: {
      kind: "clickhouse", name: "ingestLagP95", title: "Ingest lag p95", unit: "s", format: "table",
      description: "95th percentile of received_at - event_time over the rule's time range, in seconds (0 when nothing arrived).",
      sql: `SELECT ifNotFinite(quantileExact(0.95)(${lagSeconds}), 0) AS lag_p95_seconds
FROM analytics.events
WHERE $__timeFilter_ms(received_at)`,
    },
    spoolBacklogAge: {
      kind: "loki", name: "spoolBacklogAge", title: "Oldest unshipped event's age", unit: "s",
      description: "The age of the oldest event the ingest accepted but has not shipped to ClickHouse, from its flush lines and, while inserts fail, its retry lines (every 10 s), over the last 2 minutes.",
      // The pipeline falling behind (ClickHouse slow or refusing inserts) while events keep arriving, which the lag
      // rule (received minus event time) cannot see: the delayed events are not in ClickHouse, and keep their
      // received_at once shipped. No lines (an idle ingest) is no backlog.
      expr: `max(max_over_time(${lokiSelector(s, "ingest")} | json | unwrap oldest_unshipped_age_s | __error__="" [2m]))`,
    },
    ingestErrors: {
      kind: "loki", name: "ingestErrors", title: "Ingest error log lines per minute", unit: "short",
      description: "Error and fatal lines the ingest service logged in the last minute.",
      expr: `sum(count_over_time(${lokiSelector(s, "ingest", ', level=~"error|fatal"')} [1m]))`,
    },
  } satisfies Record<string, NamedQuery>;
  return queries;
}
