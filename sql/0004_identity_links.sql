-- 0004: identity links, so one person is one user.
--
-- A visitor browses with an anonymous id, then signs up: Segment's identify() carries both the anonymous id and
-- the new user id, and alias() says previous_id is the same person as user_id. Every rollup stores numeric keys
-- (cityHash64 of the id string: 8 bytes, fast to hash-join and to count exactly; a 64-bit collision among a
-- million ids has odds near 3e-8) and resolves anonymous rows through this table at query time, so events sent
-- before the identify call are attributed to the user as soon as the link arrives, with no rewrite of history.
--
-- Engine: ReplacingMergeTree(linked_at) keyed by anon_key keeps the latest link per anonymous id after merges;
-- queries do not wait for merges: they take argMax(user_key, (linked_at, user_key)) per anon_key, which is the
-- same answer before and after a merge and deterministic on ties. A shared device linked to two users counts
-- its anonymous events for the user linked last. Links between two user ids (alias of a user id) are not
-- followed: rows that carry a user id are counted under that id.
-- Sort key: anon_key alone, the join key of every lookup.
CREATE TABLE IF NOT EXISTS analytics.identity_links
(
    anon_key   UInt64,
    user_key   UInt64,
    linked_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(linked_at)
ORDER BY anon_key
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.identity_links_from_identifies_mv
TO analytics.identity_links
AS SELECT
    cityHash64(anonymous_id) AS anon_key,
    cityHash64(user_id) AS user_key,
    max(event_time) AS linked_at
FROM analytics.identifies
WHERE anonymous_id != '' AND user_id != ''
GROUP BY anon_key, user_key;

CREATE MATERIALIZED VIEW IF NOT EXISTS analytics.identity_links_from_aliases_mv
TO analytics.identity_links
AS SELECT
    cityHash64(previous_id) AS anon_key,
    cityHash64(user_id) AS user_key,
    max(event_time) AS linked_at
FROM analytics.aliases
WHERE previous_id != '' AND user_id != ''
GROUP BY anon_key, user_key;
