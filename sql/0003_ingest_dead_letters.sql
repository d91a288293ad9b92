-- 0003: rows ClickHouse refused for good (a data error, not an outage), written by the ingest shipper so one bad
-- row never blocks the queue and is never silently lost. `row` is the exact JSONEachRow line that failed, so an
-- operator can fix the cause and re-insert it; `reason` is ClickHouse's message, `error_code` its code.
--
-- Ordered by time (the ingest-health dashboard lists recent ones); partitioned by month so old months drop whole.
-- Deduplicated like the other ingest targets: the shipper's token is a hash of the row.
CREATE TABLE IF NOT EXISTS analytics.ingest_dead_letters
(
    failed_at     DateTime64(3, 'UTC'),
    target_table  LowCardinality(String),
    error_code    Int32,
    reason        String,
    message_id    String,
    row           String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(failed_at)
ORDER BY (failed_at, target_table)
SETTINGS non_replicated_deduplication_window = 1000;
