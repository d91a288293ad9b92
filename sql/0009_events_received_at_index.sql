-- 0009: a min/max skip index on received_at, for the ingest-health panels and the "no events" and "ingest
-- lag" alerts, which select by arrival time while the table is sorted by event time.
--
-- Inserts arrive in received_at order, so recent parts and today's granules have narrow received_at ranges and
-- everything older is skipped without reading it. This keeps "events received in the last 15 minutes" a read of
-- today's granules instead of the whole table, and it is exact for late events (an offline phone sending last
-- week's events) that an event_time filter would miss.
ALTER TABLE analytics.events ADD INDEX IF NOT EXISTS received_at_minmax received_at TYPE minmax GRANULARITY 1;
