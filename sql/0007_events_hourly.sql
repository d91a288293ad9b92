-- 0007: events and unique actors per (hour, event name): events-per-hour charts, "events today", top events.
--
-- Engine: AggregatingMergeTree. Counts are a SimpleAggregateFunction(sum) (counts add up); unique actors are a
-- uniq *state* merged with uniqMerge at query time. The reference's SummingMergeTree added up per-insert
-- uniq() numbers, so a user seen in three batches counted three times; merging states counts them once.
-- uniq is approximate above 65,536 distinct actors per group (it samples); hourly unique actors is a trend
-- line, and the exact person counts (DAU, adoption, top events' users) come from 0005/0006.
-- A batch replayed as the same block is dropped by insert deduplication on analytics.events, and this table
-- deduplicates the view's blocks the same way, so counts stay exact under the ingest's retries.
-- Sort key (hour, event_name): a time range is one contiguous read; about (hours x event names) rows.
CREATE TABLE IF NOT EXISTS analytics.events_hourly
(
    hour        DateTime('UTC'),
    event_name  LowCardinality(String),
    events      SimpleAggregateFunction(sum, UInt64),
    actors      AggregateFunction(uniq, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, event_name)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.events_hourly_mv
TO analytics.events_hourly
AS SELECT
    toStartOfHour(event_time) AS hour,
    event_name,
    count() AS events,
    uniqState(if(user_id != '', cityHash64(user_id), cityHash64(anonymous_id))) AS actors
FROM analytics.events
GROUP BY hour, event_name;
