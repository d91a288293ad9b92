-- 0006: weekly activity and feature usage, one row per (ISO week, actor) and (ISO week, feature, actor).
--
-- "Adoption this week" asks how many distinct people used each feature in a week. From the daily rollup that
-- is a distinct count over seven days of rows (millions at a hundred million events a month); here the week's
-- rows are already one per person once merged, so the panel reads them with FINAL and counts rows.
-- Weeks start on Monday (toMonday). Actors and resolution as in 0005.
-- Engine: ReplacingMergeTree: each row is a fact ("this actor was active / used this feature that week"), so
-- duplicates from split or replayed batches collapse, and FINAL collapses what merges have not reached yet.
-- Sort keys start with the week so one week is one contiguous range.
CREATE TABLE IF NOT EXISTS analytics.activity_weekly
(
    week        Date,
    user_key    UInt64,
    anon_key    UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(week)
ORDER BY (week, user_key, anon_key)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.activity_weekly_mv
TO analytics.activity_weekly
AS SELECT DISTINCT
    toMonday(event_time) AS week,
    if(user_id != '', cityHash64(user_id), 0) AS user_key,
    if(user_id = '', cityHash64(anonymous_id), 0) AS anon_key
FROM analytics.events;

CREATE TABLE IF NOT EXISTS analytics.feature_usage_weekly
(
    week        Date,
    event_name  LowCardinality(String),
    user_key    UInt64,
    anon_key    UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(week)
ORDER BY (week, event_name, user_key, anon_key)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.feature_usage_weekly_mv
TO analytics.feature_usage_weekly
AS SELECT DISTINCT
    toMonday(event_time) AS week,
    event_name,
    if(user_id != '', cityHash64(user_id), 0) AS user_key,
    if(user_id = '', cityHash64(anonymous_id), 0) AS anon_key
FROM analytics.events;
