-- 0010: the funnel steps' events, so the conversion funnel reads a small table instead of the raw events.
--
-- One row per step event: the day, the step (event name), the actor's keys as in 0005 (user_key =
-- cityHash64(user_id), or 0 for an event without a user id, which has anon_key = cityHash64(anonymous_id) instead)
-- and the exact event_time, which windowFunnel needs to the millisecond. Step events are well under 1% of all
-- events, but they occur on every day and in every granule of analytics.events, so reading them there meant reading
-- the event_name column of every event in the range; here the range holds nothing else.
--
-- Which events are steps is per stack (AnalyticsSettings.funnelSteps), so the view that fills this table is not
-- frozen here: components/funnel-rollup.ts creates it (and backfills the table from the raw events) after the
-- migrations, and again whenever the steps change. Rows of steps no longer configured stay and are filtered out by
-- the query.
--
-- Engine: ReplacingMergeTree with the whole row as the sort key, so an identical row (a batch replayed with a new
-- block, the backfill overlapping the view's rows) collapses on merge. Before merges the answer is already exact:
-- windowFunnel's result does not change when a row is repeated. Sort key (day, user_key, anon_key, event_name,
-- event_time): the panel filters a day range first; then each actor's steps are contiguous and in time order, which
-- the GROUP BY person reads in one pass and which compresses the keys to almost nothing.
-- Size: a few hundred thousand rows for 100M events (0.3% step events), about a megabyte.
-- Retention: rollupRetentionDays (components/retention.ts), like the other rollups.
CREATE TABLE IF NOT EXISTS analytics.funnel_events
(
    day         Date,
    event_name  LowCardinality(String),
    user_key    UInt64,
    anon_key    UInt64,
    event_time  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, user_key, anon_key, event_name, event_time)
SETTINGS non_replicated_deduplication_window = 1000;
