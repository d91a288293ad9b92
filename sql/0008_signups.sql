-- 0008: signup time per user, for retention cohorts and the "new signups" stat.
--
-- A signup is the `signup` track event (sent once, with the new user id, when an account is created; see
-- docs/data-model.md). One row per user after merges: signed_up_at keeps the earliest, so a repeated or
-- replayed signup event never moves the user to another cohort.
-- Engine: AggregatingMergeTree with a min simple aggregate. Sort key user_key: the merge key; the cohort
-- query reads the whole table, which holds one row per user (200k users = a few MB).
CREATE TABLE IF NOT EXISTS analytics.signups
(
    user_key      UInt64,
    signed_up_at  SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY user_key
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.signups_mv
TO analytics.signups
AS SELECT
    cityHash64(user_id) AS user_key,
    min(event_time) AS signed_up_at
FROM analytics.events
WHERE event_name = 'signup' AND user_id != ''
GROUP BY user_key;
