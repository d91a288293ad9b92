-- 0001: the analytics database and the raw events table.
--
-- One row per track/page/screen call accepted by the ingest service.
-- * user_id and anonymous_id are strings: SaaS ids are UUIDs, emails or prefixed ids, and a visitor has an
--   anonymous id before signup. Either may be '' but the ingest service guarantees one of them is set.
-- * message_id is the idempotency key (Segment's messageId, or one the ingest assigns).
-- * event_time is when it happened (corrected for client clock skew with sentAt); received_at is when the
--   ingest accepted it. Both to the millisecond, UTC. Their difference is the ingest lag.
-- * properties and context are JSON objects, queryable as typed sub-columns (properties.plan::String).
--
-- Partitioning by month keeps the partition count low (ClickHouse advises against many small partitions) and
-- makes TTL drops cheap. Sort key (day, user_id, anonymous_id, event_time): the day first so a time-range filter
-- prunes granules; then one person's events of the day sit together, so user_id, anonymous_id (a device per
-- user), context (per device) compress to almost nothing and event_time deltas are small. Dashboards read the
-- rollups (0005-0008), not this order; raw-event readers (funnel, events today, ingest health) filter by day
-- first. Measured at 10M bench events (bytes per event, docs/benchmarks-queries.md): ordering by
-- (day, event_name, user_id) spread a user's events apart and cost 42.9 B/event, mostly anonymous_id (8.4 B).
-- Codecs: message_id is random (a UUID is 16 B of entropy), ZSTD(3) is as good as higher levels here; T64 on
-- received_at beat Delta (3.5 vs 4.2 B/event) since rows are not in arrival order.
-- Retention is per stack (eventRetentionDays), so the TTL is not frozen here: components/retention.ts sets it
-- with ALTER TABLE ... MODIFY TTL after the migrations.
CREATE DATABASE IF NOT EXISTS analytics;

CREATE TABLE IF NOT EXISTS analytics.events
(
    message_id    String CODEC(ZSTD(3)),
    type          LowCardinality(String),
    event_name    LowCardinality(String),
    user_id       String CODEC(ZSTD(3)),
    anonymous_id  String CODEC(ZSTD(3)),
    properties    JSON CODEC(ZSTD(3)),
    context       JSON CODEC(ZSTD(3)),
    event_time    DateTime64(3, 'UTC') CODEC(Delta, ZSTD(3)),
    received_at   DateTime64(3, 'UTC') CODEC(T64, ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (toDate(event_time), user_id, anonymous_id, event_time)
-- A batch retried as the same block (the ingest resends a spooled batch after a timeout) is dropped by insert
-- deduplication, and so are the blocks it would have fed to the rollup views (their tables deduplicate too).
SETTINGS non_replicated_deduplication_window = 1000;
