-- 0012: snapshots of feature adoption per closed week, like the DAU snapshots of 0011.
--
-- Adoption by week counts distinct people per (week, feature) and per week over millions of weekly rows (a quarter
-- of them anonymous rows to resolve), although a week's answer stops changing once its events and links stop
-- arriving. A refreshable view (components/snapshot-views.ts) stores the answers of every week in the rollups'
-- window with one token, `valid_as_of`; the panel takes a stored week only while nothing it depends on changed since
-- the token (dashboards/snapshots.ts: no events inserted for a day of the week, no link of an anonymous id active in
-- it), and counts the rest (the current week, a week with late data) from the weekly rollups as before.
--
-- Rows: scope 'feature': people who used event_name that week (every event name; the panel filters); scope 'active':
-- people active that week (event_name ''). Replaced as a whole by each refresh (every row carries the same token). A
-- row is not used from expires_on on, the day the rollups' retention deletes that week's rows.
-- Engine: MergeTree; sort key (week, scope, event_name): the panel reads a week range.
CREATE TABLE IF NOT EXISTS analytics.adoption_snapshots
(
    week         Date,
    scope        Enum8('feature' = 1, 'active' = 2),
    event_name   LowCardinality(String),
    people       UInt64,
    valid_as_of  DateTime64(3, 'UTC'),
    expires_on   Date
)
ENGINE = MergeTree
ORDER BY (week, scope, event_name);
