-- 0002: identity calls (Segment identify, group, alias), kept apart from events so that dashboards can resolve
-- an anonymous visitor to the user they became without scanning the events table.
--
-- Small tables; sorted by the id they are looked up by. Like events, each keeps the hashes of its last 1000
-- inserted blocks, so a batch the ingest replays after a crash (same insert_deduplication_token) is stored once.
CREATE TABLE IF NOT EXISTS analytics.identifies
(
    message_id    String,
    user_id       String,
    anonymous_id  String,
    traits        JSON,
    context       JSON,
    event_time    DateTime64(3, 'UTC'),
    received_at   DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (user_id, anonymous_id, event_time)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS analytics.groups
(
    message_id    String,
    user_id       String,
    anonymous_id  String,
    group_id      String,
    traits        JSON,
    context       JSON,
    event_time    DateTime64(3, 'UTC'),
    received_at   DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (group_id, user_id, event_time)
SETTINGS non_replicated_deduplication_window = 1000;

-- alias: previous_id (often the anonymous id) is the same person as user_id.
CREATE TABLE IF NOT EXISTS analytics.aliases
(
    message_id    String,
    user_id       String,
    previous_id   String,
    context       JSON,
    event_time    DateTime64(3, 'UTC'),
    received_at   DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (previous_id, user_id, event_time)
SETTINGS non_replicated_deduplication_window = 1000;
