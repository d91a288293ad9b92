-- 0013: when each (day, actor) was first heard of, so the DAU-drop alert compares today so far with what had arrived
-- by the same time last week.
--
-- The alert compares the people active today up to now with the people active on the same weekday last week up to
-- the same time of day. Today counts only what has arrived; last week counted every event of its day, including the
-- ones that arrived hours later (mobile apps flush offline queues late): with a share of late clients, identical
-- usage read as a drop for as long as their batches were late. first_received is the earliest received_at (when the
-- ingest accepted the event) of the actor's events that day, min over the rows a merge collapses, like first_seen; the
-- alert counts last week's people whose first event had arrived by then.
-- Rows written before this migration read as 1970 (arrived before anything): last week is counted as before for them.
ALTER TABLE analytics.activity_daily
    ADD COLUMN IF NOT EXISTS first_received SimpleAggregateFunction(min, DateTime64(3, 'UTC')) DEFAULT toDateTime64(0, 3, 'UTC');

-- The view's query changes in place: ClickHouse keeps inserting through it (no window in which events would miss the
-- rollup, as a drop and create would have). Until it runs, new rows take the 1970 default.
ALTER TABLE analytics.activity_daily_mv MODIFY QUERY
SELECT
    toDate(event_time) AS day,
    if(user_id != '', cityHash64(user_id), 0) AS user_key,
    if(user_id = '', cityHash64(anonymous_id), 0) AS anon_key,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen,
    min(received_at) AS first_received
FROM analytics.events
GROUP BY day, user_key, anon_key;
