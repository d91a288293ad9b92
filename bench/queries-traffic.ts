/**
 * Realistic SaaS traffic generated inside ClickHouse (INSERT ... SELECT FROM numbers()), so a hundred million
 * events load in minutes instead of hours through a client. Every value is a hash of the row number, so a run
 * is reproducible.
 *
 * Shape (per run): `days` days ending with `endDay`; 20,000 core users active most days and 180,000 casual users
 * drawn per day (about 48k daily actives, 22% stickiness); 4% of events from anonymous visitors; the signed-in
 * users' events carry their device's anonymous id (as Segment's SDKs send it); millisecond event times spread
 * over the day; anonymous visitors drawn from a pool of 50,000; ingest lag of 20 ms to 3 s, with 2% of events arriving one to two hours late (offline phones).
 * Signups (one per casual user whose signup day falls in the window) with funnel steps after them, an identify call
 * linking every user's device, and one linking a quarter of the anonymous visitors to a user (visitors who signed up
 * or logged in during the window): their anonymous rows are what the panels' identity resolution has to look up.
 */

export interface TrafficShape {
  /** Last day of the data, "YYYY-MM-DD" (UTC). */
  readonly endDay: string;
  readonly days: number;
  readonly coreUsers: number;
  readonly casualUsers: number;
  /** Distinct casual-user draws per day (the casual part of DAU, before collisions). */
  readonly casualDrawsPerDay: number;
  /** The pool the anonymous events' visitors are drawn from. */
  readonly visitors: number;
  /** Percentage of the visitors an identify call links to a casual user during the window. */
  readonly linkedVisitorsPercent: number;
}

export const DEFAULT_SHAPE: Omit<TrafficShape, "endDay"> = {
  days: 60, coreUsers: 20_000, casualUsers: 180_000, casualDrawsPerDay: 30_000, visitors: 50_000, linkedVisitorsPercent: 25,
};

const EVENT_MIX: readonly [string, number][] = [
  ["page_viewed", 38], ["dashboard_viewed", 15], ["filter_applied", 12], ["search_performed", 8],
  ["report_exported", 8], ["share_clicked", 6], ["settings_changed", 5], ["alert_created", 4], ["comment_added", 4],
];

/** CASE over h % 100 picking an event name by the mix's weights. */
function eventNameSql(h: string): string {
  let upper = 0;
  const branches = EVENT_MIX.map(([name, weight]) => `WHEN ${h} % 100 < ${(upper += weight)} THEN '${name}'`);
  return `CASE ${branches.join(" ")} ELSE 'page_viewed' END`;
}

const userIdSql = (u: string) => `concat('usr_', leftPad(toString(${u}), 7, '0'))`;
const deviceSql = (u: string) => `concat('anon_', lower(hex(cityHash64('device', ${u}))))`;
const visitorIdSql = (v: string) => `concat('anon_v', lower(hex(cityHash64('visitor', ${v}))))`;
const contextSql = (u: string) => `concat('{"library":{"name":"analytics.js","version":"2.3.0"},"locale":"en-US","ip":"10.',
  toString(${u} % 250), '.', toString(intDiv(${u}, 250) % 250), '.', toString(intDiv(${u}, 62500) % 250),
  '","userAgent":"', ['Chrome 126 macOS', 'Chrome 126 Windows', 'Firefox 127 Linux', 'Safari 17 iOS'][${u} % 4 + 1], '"}')`;

/** Page events: a path; report exports: format and row count; others: the account's plan. */
function propertiesSql(name: string, h: string, u: string): string {
  return `multiIf(
    ${name} = 'page_viewed', concat('{"path":"', ['/', '/reports', '/dashboards', '/settings', '/billing', '/docs', '/team', '/search'][${h} % 8 + 1], '"}'),
    ${name} = 'report_exported', concat('{"format":"', ['csv', 'pdf', 'xlsx'][${h} % 3 + 1], '","rows":', toString(${h} % 5000), '}'),
    concat('{"plan":"', ['free', 'team', 'business'][${u} % 3 + 1], '"}'))`;
}

/** A UUID-formatted message id from two hashes of a seed: as random as a client's UUIDv4, but reproducible. */
const messageIdSql = (seed: string) =>
  `toString(reinterpretAsUUID(concat(reinterpretAsString(cityHash64(${seed}, 'm1')), reinterpretAsString(cityHash64(${seed}, 'm2')))))`;

const EVENT_COLUMNS = "message_id, type, event_name, user_id, anonymous_id, properties, context, event_time, received_at";

/** Tracked events for row numbers [start, start + count). */
export function trafficInsertSql(shape: TrafficShape, start: number, count: number): string {
  return `INSERT INTO analytics.events (${EVENT_COLUMNS})\n${trafficSelectSql(shape, start, count)}`;
}

/** The rows `trafficInsertSql` inserts. */
export function trafficSelectSql(shape: TrafficShape, start: number, count: number): string {
  const first = `toDate('${shape.endDay}') - ${shape.days - 1}`;
  return `SELECT
  ${messageIdSql("number")} AS message_id,
  'track' AS type,
  name AS event_name,
  if(anonymous, '', ${userIdSql("u")}) AS user_id,
  if(anonymous, ${visitorIdSql(`h3 % ${shape.visitors}`)}, ${deviceSql("u")}) AS anonymous_id,
  CAST(${propertiesSql("name", "h6", "u")}, 'JSON') AS properties,
  CAST(${contextSql("u")}, 'JSON') AS context,
  toDateTime64(${first} + d, 3, 'UTC') + toIntervalMillisecond(h5 % 86340000) AS event_time,
  event_time + toIntervalMillisecond(if(h7 % 100 < 2, 3600000 + h7 % 3600000, 20 + h7 % 2980)) AS received_at
FROM (
  SELECT number,
    cityHash64(number, 1) AS h1, cityHash64(number, 2) AS h2, cityHash64(number, 3) AS h3, cityHash64(number, 4) AS h4,
    cityHash64(number, 5) AS h5, cityHash64(number, 6) AS h6, cityHash64(number, 7) AS h7,
    h1 % ${shape.days} AS d,
    if(h2 % 2 = 0, h3 % ${shape.coreUsers}, ${shape.coreUsers} + cityHash64(d, h3 % ${shape.casualDrawsPerDay}) % ${shape.casualUsers}) AS u,
    h4 % 100 < 4 AS anonymous,
    ${eventNameSql("bitShiftRight(h4, 8)")} AS name
  FROM numbers(${start}, ${count})
)`;
}

/**
 * Signups of casual users whose signup day falls in the window (user u signs up on day u % (days + 10) - 10),
 * each followed by funnel steps: project_created (70%), invite_sent (40%), subscription_started (15%).
 */
export function signupsInsertSql(shape: TrafficShape): string {
  const first = `toDate('${shape.endDay}') - ${shape.days - 1}`;
  const steps = "[('signup', 0, 100), ('project_created', 1, 70), ('invite_sent', 2, 40), ('subscription_started', 3, 15)]";
  return `INSERT INTO analytics.events (${EVENT_COLUMNS})
SELECT
  ${messageIdSql("'signup', u, step.2")} AS message_id, 'track', step.1, ${userIdSql("u")}, ${deviceSql("u")},
  CAST('{"plan":"trial"}', 'JSON'), CAST(${contextSql("u")}, 'JSON'),
  toDateTime64(${first} + d, 3, 'UTC') + toIntervalMillisecond(cityHash64(u, 'signup') % 60000000 + step.2 * (cityHash64(u, step.2) % 7200000)) AS event_time,
  event_time + toIntervalMillisecond(20 + cityHash64(u, 'lag') % 2980)
FROM (
  SELECT ${shape.coreUsers} + number AS u, toInt64(u % ${shape.days + 10}) - 10 AS d
  FROM numbers(${shape.casualUsers})
  WHERE d >= 0
)
ARRAY JOIN ${steps} AS step
WHERE cityHash64(u, 'funnel', step.2) % 100 < step.3 AND (step.2 = 0 OR cityHash64(u, 'funnel', 1) % 100 < 70)`;
}

/**
 * One identify call per user, linking the user's device anonymous id (before the window, as for existing users), and
 * one per linked visitor (linkedVisitorsPercent of the pool), linking the visitor to a casual user on a day of the
 * window before today: every anonymous row of that visitor, before and after the call, then counts for that user.
 */
export function identifiesInsertSql(shape: TrafficShape): string {
  const users = shape.coreUsers + shape.casualUsers;
  const before = `toDateTime64(toDate('${shape.endDay}') - ${shape.days} - number % 300, 3, 'UTC')`;
  const inWindow = `toDateTime64(toDate('${shape.endDay}') - 1 - number % ${shape.days - 1}, 3, 'UTC') + toIntervalMillisecond(cityHash64('visitor-link-time', number) % 86400000)`;
  return `INSERT INTO analytics.identifies (message_id, user_id, anonymous_id, traits, context, event_time, received_at)
SELECT ${messageIdSql("'identify', number")}, ${userIdSql("number")}, ${deviceSql("number")}, CAST('{}', 'JSON'), CAST('{}', 'JSON'), ${before}, ${before}
FROM numbers(${users})
UNION ALL
SELECT ${messageIdSql("'identify-visitor', number")}, ${userIdSql(`${shape.coreUsers} + cityHash64('visitor-user', number) % ${shape.casualUsers}`)},
  ${visitorIdSql("number")}, CAST('{}', 'JSON'), CAST('{}', 'JSON'), ${inWindow}, ${inWindow}
FROM numbers(${shape.visitors})
WHERE cityHash64('visitor-link', number) % 100 < ${shape.linkedVisitorsPercent}`;
}
