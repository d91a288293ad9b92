-- 0006: one row per (day, feature, actor): feature adoption (share of active users who used a feature), unique
-- users per event, and the distinct-user column of "top events".
--
-- A feature is an event name (track calls name what the user did). Actors as in 0005 (resolved at query time).
-- Engine: ReplacingMergeTree without a version: the row is a fact "this actor used this feature that day", so
-- duplicates from split or replayed batches collapse and, until they do, queries count distinct actors anyway.
-- Sort key (day, event_name, user_key, anon_key): the week's rows are one range, and one feature's users of a
-- day are contiguous, which is what uniqExact per feature reads.
CREATE TABLE IF NOT EXISTS analytics.feature_usage_daily
(
    day         Date,
    event_name  LowCardinality(String),
    user_key    UInt64,
    anon_key    UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, event_name, user_key, anon_key)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.feature_usage_daily_mv
TO analytics.feature_usage_daily
AS SELECT DISTINCT
    toDate(event_time) AS day,
    event_name,
    if(user_id != '', cityHash64(user_id), 0) AS user_key,
    if(user_id = '', cityHash64(anonymous_id), 0) AS anon_key
FROM analytics.events;
