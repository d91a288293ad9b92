/**
 * The reference walkthrough's schema and panel queries, as the benchmark's baseline (in database `reference`).
 *
 * The schema and queries are the walkthrough's, with two adaptations so both sides answer the same question:
 * `now()` / `today()` become the dashboard's end time (`$__toTime`), because the generated data ends at a fixed
 * day; and its rows are the same traffic as ours (user ids mapped to numbers, as its `UInt64 user_id` requires;
 * anonymous events get user 0, which the reference has no other place for).
 */
export const BASELINE_SCHEMA = [
  "CREATE DATABASE IF NOT EXISTS reference",
  `CREATE TABLE IF NOT EXISTS reference.events (
    event_id     UUID DEFAULT generateUUIDv4(),
    user_id      UInt64,
    event_name   LowCardinality(String),
    properties   String,
    created_at   DateTime DEFAULT now()
  ) ENGINE = MergeTree() PARTITION BY toYYYYMM(created_at) ORDER BY (created_at, user_id)`,
  `CREATE TABLE IF NOT EXISTS reference.hourly_stats (
    hour DateTime, event_name LowCardinality(String), event_count UInt64, unique_users UInt64
  ) ENGINE = SummingMergeTree() ORDER BY (hour, event_name)`,
  `CREATE MATERIALIZED VIEW IF NOT EXISTS reference.mv_hourly_stats TO reference.hourly_stats AS
    SELECT toStartOfHour(created_at) AS hour, event_name, count() AS event_count, uniq(user_id) AS unique_users
    FROM reference.events GROUP BY hour, event_name`,
];

/** Copies our events into the reference schema: same traffic, the reference's column types. */
export const BASELINE_COPY = `INSERT INTO reference.events (event_id, user_id, event_name, properties, created_at)
SELECT generateUUIDv4(), if(user_id = '', 0, toUInt64(substring(user_id, 5)) + 1), event_name, toJSONString(properties), toDateTime(event_time)
FROM analytics.events`;

/** Baseline query per panel name of ours; panels the reference does not have are absent. */
export const BASELINE_QUERIES: Readonly<Record<string, string>> = {
  dau: "SELECT toDate(created_at) AS time, uniqExact(user_id) AS dau FROM reference.events WHERE $__timeFilter(created_at) GROUP BY time ORDER BY time",
  adoptionThisWeek: "SELECT event_name AS feature, uniq(user_id) AS users, count() AS events FROM reference.events " +
    "WHERE created_at >= toStartOfWeek($__toTime) GROUP BY event_name ORDER BY users DESC LIMIT 15",
  retention: "SELECT toDate(s.created_at) AS cohort_date, count(DISTINCT s.user_id) AS signups, count(DISTINCT r.user_id) AS retained_7d, " +
    "round(count(DISTINCT r.user_id) / count(DISTINCT s.user_id) * 100, 1) AS retention_pct FROM reference.events s " +
    "LEFT JOIN reference.events r ON s.user_id = r.user_id AND r.created_at BETWEEN s.created_at + INTERVAL 1 DAY AND s.created_at + INTERVAL 7 DAY " +
    "AND r.event_name != 'signup' WHERE s.event_name = 'signup' AND $__timeFilter(s.created_at) GROUP BY cohort_date ORDER BY cohort_date",
  activeUsers24h: "SELECT uniqExact(user_id) AS value FROM reference.events WHERE created_at >= $__toTime - INTERVAL 1 DAY",
  eventsToday: "SELECT count() AS value FROM reference.events WHERE created_at >= toDate($__toTime)",
};

/**
 * The reference's retention with its off-by-one removed (unmatched rows join as user 0 and count(DISTINCT) counts
 * that 0): how many cohorts its panel gets wrong.
 */
export const BASELINE_RETENTION_ERRORS = `SELECT countIf(retained_7d != correct) AS wrong_cohorts, count() AS cohorts FROM (
  SELECT toDate(s.created_at) AS cohort_date, count(DISTINCT r.user_id) AS retained_7d, uniqExactIf(r.user_id, r.user_id != 0) AS correct
  FROM reference.events s LEFT JOIN reference.events r ON s.user_id = r.user_id
    AND r.created_at BETWEEN s.created_at + INTERVAL 1 DAY AND s.created_at + INTERVAL 7 DAY AND r.event_name != 'signup'
  WHERE s.event_name = 'signup' AND $__timeFilter(s.created_at) GROUP BY cohort_date)`;
