-- 0005: one row per (day, actor): the source of DAU, WAU, MAU, stickiness, active users (24 h) and retention.
--
-- An actor is a user (user_key = cityHash64(user_id), anon_key = 0) or, for an event without a user id, an
-- anonymous visitor (user_key = 0, anon_key = cityHash64(anonymous_id)); queries map anonymous actors to users
-- through analytics.identity_links. first_seen / last_seen keep the earliest and latest event of the actor that
-- day, which is enough to answer "active in any 24-hour window" exactly: such a window touches at most two days,
-- the later one from its start (first_seen <= window end) and the earlier one to its end (last_seen >= start).
--
-- Engine: AggregatingMergeTree with min/max simple aggregates, so a row seen twice (batches split across
-- inserts) merges into the same row and a replayed batch changes nothing. Sort key (day, user_key, anon_key):
-- every panel filters on a day range first; then all users of a day are contiguous for exact counting.
-- Size: about DAU rows a day (50k rows a day for 100M events over 60 days), a few percent of the events table.
CREATE TABLE IF NOT EXISTS analytics.activity_daily
(
    day         Date,
    user_key    UInt64,
    anon_key    UInt64,
    first_seen  SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
    last_seen   SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, user_key, anon_key)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.activity_daily_mv
TO analytics.activity_daily
AS SELECT
    toDate(event_time) AS day,
    if(user_id != '', cityHash64(user_id), 0) AS user_key,
    if(user_id = '', cityHash64(anonymous_id), 0) AS anon_key,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen
FROM analytics.events
GROUP BY day, user_key, anon_key;
