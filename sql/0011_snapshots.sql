-- 0011: snapshots of the exact people counts of closed days, and the change records that say when one is stale.
--
-- Counting people exactly means resolving anonymous ids and counting distinct keys over every row of the range, on
-- every dashboard refresh, although a day's answer stops changing once its events and links stop arriving. A
-- refreshable view (components/snapshot-views.ts) stores the answers per day (DAU) and per (cohort, offset)
-- (retention) with one token, `valid_as_of`; a panel takes a stored answer only when nothing it depends on changed
-- since the token, and computes the rest (today, a day that just got a late event or a late identify) from the
-- rollups as before. The answers are the same either way; the known-answer tests run every panel both ways.
--
-- What "changed" means, recorded by the views below at insert time (now64(): when the row reached ClickHouse, which
-- a client cannot set):
-- - analytics.day_changes: per event day, the last insert of events of that day, and the last insert of signup
--   events of that day (a signup can move a user to an earlier cohort: every cohort from that day on is stale);
-- - analytics.link_changes: each identity link as it arrives; the days on which its anonymous id was active are
--   stale (its rows now count for another person).
-- Deletions do not insert: the forget-user command writes change records for the person's days itself
-- (scripts/forget-user.ts), and a day leaves the snapshot when the rollups' retention expires it (expires_on).

-- Engine: AggregatingMergeTree with max simple aggregates, so the rows of many inserts merge into one per day.
-- Sort key: day, the lookup of every staleness check. A few hundred rows a year.
CREATE TABLE IF NOT EXISTS analytics.day_changes
(
    day                Date,
    changed_at         SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    signup_changed_at  SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY day;

CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.day_changes_mv
TO analytics.day_changes
AS SELECT
    toDate(event_time) AS day,
    max(now64(3, 'UTC')) AS changed_at,
    -- toDateTime64(0) when the block has no signup: the max of the column is unaffected.
    maxIf(now64(3, 'UTC'), event_name = 'signup' AND user_id != '') AS signup_changed_at
FROM analytics.events
GROUP BY day;

-- Engine: MergeTree, append only. Sort key: changed_at, because every check reads the links since a token (the
-- last minutes). Rows expire after two days: a snapshot older than one day is never used (see dashboards/snapshots.ts).
CREATE TABLE IF NOT EXISTS analytics.link_changes
(
    anon_key    UInt64,
    changed_at  DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY changed_at
TTL toDateTime(changed_at) + INTERVAL 2 DAY DELETE;

-- Fed by inserts into identity_links, whichever view (identifies, aliases) wrote them.
CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.link_changes_mv
TO analytics.link_changes
AS SELECT anon_key, now64(3, 'UTC') AS changed_at
FROM analytics.identity_links;

-- DAU per day as of valid_as_of. Replaced as a whole by each refresh (every row carries the same token). A row is
-- not used from expires_on on, the day the rollups' retention deletes that day's rows (the refresh writes it).
-- Engine: MergeTree; sort key: day (the panel reads a day range).
CREATE TABLE IF NOT EXISTS analytics.dau_snapshots
(
    day          Date,
    people       UInt64,
    valid_as_of  DateTime64(3, 'UTC'),
    expires_on   Date
)
ENGINE = MergeTree
ORDER BY day;

-- Retained people per (signup cohort day, offset in days) as of valid_as_of, for every configured offset whose day
-- had come at the refresh. Replaced as a whole by each refresh. Engine: MergeTree; sort key: the cell.
CREATE TABLE IF NOT EXISTS analytics.retention_snapshots
(
    cohort       Date,
    offset_days  UInt16,
    retained     UInt64,
    valid_as_of  DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (cohort, offset_days);
