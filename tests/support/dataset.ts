/**
 * A deterministic SaaS dataset with known answers.
 *
 * `generateDataset(options)` simulates users and anonymous visitors over whole UTC days: existing users (signed up
 * before the window, linked to their device by an old identify call), new users who browse anonymously, sign up
 * and are linked by identify (or alias, or an identify that arrives days late), visitors who never sign up, a
 * shared device linked to two users in turn, logged-out browsing after signup, funnel steps in and out of order
 * and outside the window, and ingest lag with a few late arrivals.
 *
 * The `expected*` functions compute every dashboard number from the generated rows in plain TypeScript, without
 * SQL and without the rollups: they resolve identities the way docs/data-model.md defines it (a user id wins; an
 * anonymous id maps to the user it was linked to last by identify or alias; an unlinked anonymous id is its own
 * person) and count people per calendar day in UTC. Tests compare the dashboards' SQL on chDB with these.
 */

export interface EventRow {
  readonly message_id: string;
  readonly type: string;
  readonly event_name: string;
  readonly user_id: string;
  readonly anonymous_id: string;
  readonly properties: Record<string, unknown>;
  readonly context: Record<string, unknown>;
  /** "YYYY-MM-DD hh:mm:ss.mmm", UTC (what ClickHouse reads into DateTime64(3, 'UTC')). */
  readonly event_time: string;
  readonly received_at: string;
}

export interface IdentifyRow {
  readonly message_id: string;
  readonly user_id: string;
  readonly anonymous_id: string;
  readonly traits: Record<string, unknown>;
  readonly context: Record<string, unknown>;
  readonly event_time: string;
  readonly received_at: string;
}

export interface AliasRow {
  readonly message_id: string;
  readonly user_id: string;
  readonly previous_id: string;
  readonly context: Record<string, unknown>;
  readonly event_time: string;
  readonly received_at: string;
}

export interface DatasetOptions {
  /** PRNG seed. Defaults to 42. */
  readonly seed?: number;
  /** First day (UTC, "YYYY-MM-DD"). Defaults to 2026-01-05 (a Monday). */
  readonly startDay?: string;
  /** Number of whole days. Defaults to 40. */
  readonly days?: number;
  /** Users (existing and new). Defaults to 120. */
  readonly users?: number;
  /** Anonymous visitors who never sign up. Defaults to 25. */
  readonly visitors?: number;
}

export interface Dataset {
  readonly events: EventRow[];
  readonly identifies: IdentifyRow[];
  readonly aliases: AliasRow[];
  /** Epoch ms of the first day's midnight, and of the midnight after the last day. */
  readonly startMs: number;
  readonly endMs: number;
  readonly features: readonly string[];
}

export const DAY_MS = 86_400_000;
export const SIGNUP_EVENT = "signup";
export const FEATURES = ["dashboard_viewed", "report_exported", "filter_applied", "share_clicked", "alert_created"] as const;
export const FUNNEL = ["signup", "project_created", "invite_sent", "subscription_started"] as const;
const PAGE_EVENT = "page_viewed";

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

export function parseTime(text: string): number {
  return Date.parse(text.replace(" ", "T") + "Z");
}

/** A panel's time column as epoch ms: a Date ("YYYY-MM-DD", midnight UTC) or a DateTime as ClickHouse prints them. */
export function panelTime(text: string): number {
  return parseTime(text.length === 10 ? `${text} 00:00:00` : text);
}

export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

export function generateDataset(options: DatasetOptions = {}): Dataset {
  const rand = prng(options.seed ?? 42);
  const startMs = Date.parse(`${options.startDay ?? "2026-01-05"}T00:00:00Z`);
  const days = options.days ?? 40;
  const endMs = startMs + days * DAY_MS;
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join("");
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(["8", "9", "a", "b"])}${hex(3)}-${hex(12)}`;

  const events: EventRow[] = [];
  const identifies: IdentifyRow[] = [];
  const aliases: AliasRow[] = [];
  // Every timestamp is unique across the dataset, so ordering questions (funnels, latest link) have one answer.
  const usedTimes = new Set<number>();
  const uniqueTime = (ms: number): number => {
    let t = ms;
    while (usedTimes.has(t)) t++;
    usedTimes.add(t);
    return t;
  };
  /** A time in [from, to) of day `day`, kept off the last minute so a day-end range ending at :59 holds it. */
  const timeIn = (day: number, fromMs = 0, toMs = DAY_MS - 60_000) =>
    uniqueTime(day + fromMs + Math.floor(rand() * Math.max(1, toMs - fromMs)));
  const lag = () => (rand() < 0.03 ? int(3_600_000, 7_200_000) : int(20, 3_000));
  const context = (library: string) => ({ library: { name: library, version: "2.3.0" }, locale: "en-US" });

  const track = (name: string, userId: string, anonymousId: string, atMs: number, props: Record<string, unknown> = {}) => {
    if (atMs > endMs - 60_000) return; // funnel steps that would happen after the window are not in the data
    events.push({
      message_id: uuid(), type: "track", event_name: name, user_id: userId, anonymous_id: anonymousId,
      properties: props, context: context("analytics.js"),
      event_time: formatTime(atMs), received_at: formatTime(atMs + lag()),
    });
  };
  const identify = (userId: string, anonymousId: string, atMs: number) => {
    identifies.push({
      message_id: uuid(), user_id: userId, anonymous_id: anonymousId, traits: { plan: "trial" },
      context: context("analytics.js"), event_time: formatTime(atMs), received_at: formatTime(atMs + 500),
    });
  };

  const userCount = options.users ?? 120;
  for (let u = 0; u < userCount; u++) {
    const userId = `usr_${String(u).padStart(4, "0")}_${hex(6)}`;
    const device = `anon_${hex(16)}`;
    const isNew = u % 3 === 0; // a third sign up inside the window
    const signupDayIndex = isNew ? int(0, days - 1) : -1;
    const activeShare = 0.15 + rand() * 0.75;
    const favourites = FEATURES.filter(() => rand() < 0.6);
    if (favourites.length === 0) favourites.push(FEATURES[u % FEATURES.length]);
    const plan = pick(["free", "team", "business"]);

    let firstActiveDay = 0;
    if (isNew) {
      const day = startMs + signupDayIndex * DAY_MS;
      firstActiveDay = signupDayIndex + 1;
      // Anonymous browsing before signup, then the signup and the identity link.
      const signupAt = timeIn(day, 6 * 3_600_000, 20 * 3_600_000);
      for (let i = int(1, 3); i > 0; i--) track(PAGE_EVENT, "", device, timeIn(day, 0, signupAt - day));
      track(SIGNUP_EVENT, userId, device, signupAt, { plan });
      const newIndex = Math.floor(u / 3);
      const linkKind = newIndex % 5; // mostly identify; some alias; some identify that arrives two days later
      if (linkKind === 1) {
        aliases.push({
          message_id: uuid(), user_id: userId, previous_id: device, context: context("analytics.js"),
          event_time: formatTime(signupAt + 1000), received_at: formatTime(signupAt + 1500),
        });
      } else if (linkKind === 2) {
        identify(userId, device, uniqueTime(signupAt + 2 * DAY_MS));
      } else {
        identify(userId, device, uniqueTime(signupAt + 1000));
      }
      // Funnel steps after signup: in order, out of order, or too late for the funnel window.
      const shape = newIndex % 6;
      let t = signupAt;
      const next = (gapMs: number) => (t = uniqueTime(t + gapMs));
      if (shape !== 5) {
        if (shape === 4) {
          track("invite_sent", userId, "", next(int(60_000, 3_600_000)));
          track("project_created", userId, "", next(int(60_000, 3_600_000)));
        } else {
          track("project_created", userId, "", next(int(60_000, 6 * 3_600_000)));
          if (shape <= 2) track("invite_sent", userId, "", next(int(60_000, 12 * 3_600_000)));
          if (shape === 0) track("subscription_started", userId, "", next(int(60_000, 12 * 3_600_000)));
          if (shape === 1) track("subscription_started", userId, "", next(int(3, 5) * DAY_MS));
        }
      }
    } else {
      // Linked long ago: the identify call predates the window.
      identify(userId, device, uniqueTime(startMs - int(30, 300) * DAY_MS));
    }

    for (let d = firstActiveDay; d < days; d++) {
      const day = startMs + d * DAY_MS;
      if (rand() >= activeShare) {
        // A logged-out visit on a day without signed-in use: the person is active that day only through the link
        // (retention, DAU and the 24-hour count must find them from the anonymous row alone).
        if (rand() < 0.1) track(PAGE_EVENT, "", device, timeIn(day), { path: "/pricing" });
        continue;
      }
      for (let i = int(2, 9); i > 0; i--) {
        const name = rand() < 0.3 ? PAGE_EVENT : pick(favourites);
        track(name, userId, device, timeIn(day), name === PAGE_EVENT ? { path: pick(["/", "/reports", "/settings"]) } : { plan });
      }
      // Logged-out browsing on the same device: anonymous, resolved to the user through the link.
      if (rand() < 0.12) track(PAGE_EVENT, "", device, timeIn(day), { path: "/pricing" });
    }
  }

  // Visitors who never sign up: each anonymous id is its own person.
  for (let v = 0; v < (options.visitors ?? 25); v++) {
    const device = `anon_v${hex(14)}`;
    for (let n = int(1, 3); n > 0; n--) {
      const day = startMs + int(0, days - 1) * DAY_MS;
      for (let i = int(1, 4); i > 0; i--) track(PAGE_EVENT, "", device, timeIn(day), { path: "/" });
    }
  }

  // A shared device: linked to one user, later to another; all its anonymous events count for the later one.
  if (userCount >= 2) {
    const shared = `anon_shared_${hex(8)}`;
    const [first, second] = [identifies[0].user_id, identifies[1].user_id];
    track(PAGE_EVENT, "", shared, timeIn(startMs + 2 * DAY_MS), { path: "/" });
    track(PAGE_EVENT, "", shared, timeIn(startMs + 5 * DAY_MS), { path: "/" });
    identify(first, shared, timeIn(startMs + 1 * DAY_MS));
    identify(second, shared, timeIn(startMs + 3 * DAY_MS));
  }

  // A device re-linked away from a recent cohort member: its logged-out visit the day after that member's signup (a
  // day the member did nothing signed in) counts for the user it was linked to last, not for the cohort member.
  const quietNextDay = events.find((s) => {
    if (s.event_name !== SIGNUP_EVENT || s.user_id === "") return false;
    const next = dayOf(parseTime(s.event_time)) + DAY_MS;
    return next >= endMs - 28 * DAY_MS && next < endMs - DAY_MS
      && !events.some((e) => e.user_id === s.user_id && dayOf(parseTime(e.event_time)) === next);
  });
  const otherUser = identifies.find((i) => i.user_id !== quietNextDay?.user_id)?.user_id;
  if (quietNextDay && otherUser) {
    const relinked = `anon_relinked_${hex(8)}`;
    const signupAt = parseTime(quietNextDay.event_time);
    identify(quietNextDay.user_id, relinked, uniqueTime(signupAt + 1000));
    identify(otherUser, relinked, uniqueTime(signupAt + 2000));
    track(PAGE_EVENT, "", relinked, timeIn(dayOf(signupAt) + DAY_MS), { path: "/" });
  }

  events.sort((a, b) => (a.event_time < b.event_time ? -1 : 1));
  return { events, identifies, aliases, startMs, endMs, features: FEATURES };
}

/** Splits rows into `count` batches of uneven sizes (deterministic), as an ingest service would flush them. */
export function splitIntoBatches<T>(rows: readonly T[], count: number, seed = 7): T[][] {
  const rand = prng(seed);
  const cuts = Array.from({ length: count - 1 }, () => Math.floor(rand() * rows.length)).sort((a, b) => a - b);
  const bounds = [0, ...cuts, rows.length];
  return bounds.slice(1).map((end, i) => rows.slice(bounds[i], end));
}

// ---------------------------------------------------------------------------------------------------------------
// Expected answers, computed from the rows alone.

/** Person id of every anonymous id that was linked: the user of its latest identify or alias (on a tie, the one stored last). */
export function identityMap(ds: Dataset): Map<string, string> {
  const latest = new Map<string, { user: string; at: number }>();
  const link = (anon: string, user: string, at: number) => {
    if (!anon || !user) return;
    const current = latest.get(anon);
    // On a tie the link stored last wins (identity_links keeps the last inserted row of equal link times): identifies
    // are stored before aliases, each in their order.
    if (!current || at >= current.at) latest.set(anon, { user, at });
  };
  for (const row of ds.identifies) link(row.anonymous_id, row.user_id, parseTime(row.event_time));
  for (const row of ds.aliases) link(row.previous_id, row.user_id, parseTime(row.event_time));
  return new Map([...latest].map(([anon, { user }]) => [anon, user]));
}

interface ResolvedEvent {
  readonly person: string;
  readonly name: string;
  readonly at: number;
  readonly day: number;
  readonly receivedAt: number;
  readonly userId: string;
}

export function resolveEvents(ds: Dataset): ResolvedEvent[] {
  const links = identityMap(ds);
  return ds.events.map((e) => {
    const at = parseTime(e.event_time);
    const person = e.user_id || (links.has(e.anonymous_id) ? links.get(e.anonymous_id)! : `anon:${e.anonymous_id}`);
    return { person, name: e.event_name, at, day: dayOf(at), receivedAt: parseTime(e.received_at), userId: e.user_id };
  });
}

const distinct = (values: Iterable<string>) => new Set(values).size;

/** DAU for each day in [fromDay, toDay] (epoch ms of midnights), including days with nobody active. */
export function expectedDau(ds: Dataset, fromDay: number, toDay: number): Map<number, number> {
  const result = new Map<number, number>();
  const resolved = resolveEvents(ds);
  for (let day = fromDay; day <= toDay; day += DAY_MS) {
    result.set(day, distinct(resolved.filter((e) => e.day === day).map((e) => e.person)));
  }
  return result;
}

/** People active in the `days` calendar days ending with the day of `toMs` (WAU: 7, MAU: 30). */
export function expectedActiveInDays(ds: Dataset, toMs: number, days: number): number {
  const last = dayOf(toMs);
  const first = last - (days - 1) * DAY_MS;
  return distinct(resolveEvents(ds).filter((e) => e.day >= first && e.day <= last).map((e) => e.person));
}

/** Stickiness: the average DAU over the 30 days ending with the day of `toMs`, divided by MAU. */
export function expectedStickiness(ds: Dataset, toMs: number): number {
  const last = dayOf(toMs);
  const dau = expectedDau(ds, last - 29 * DAY_MS, last);
  const average = [...dau.values()].reduce((a, b) => a + b, 0) / 30;
  return average / expectedActiveInDays(ds, toMs, 30);
}

/** People with an event in (toMs - 24 h, toMs]. */
export function expectedActive24h(ds: Dataset, toMs: number): number {
  return distinct(resolveEvents(ds).filter((e) => e.at > toMs - DAY_MS && e.at <= toMs).map((e) => e.person));
}

/** Events with event_time in [midnight of toMs's day, toMs]. */
export function expectedEventsToday(ds: Dataset, toMs: number): number {
  return ds.events.filter((e) => { const t = parseTime(e.event_time); return t >= dayOf(toMs) && t <= toMs; }).length;
}

/** Users whose first signup event is in [fromMs, toMs]. */
export function expectedSignups(ds: Dataset, fromMs: number, toMs: number): number {
  const first = new Map<string, number>();
  for (const e of ds.events) {
    if (e.event_name !== SIGNUP_EVENT || !e.user_id) continue;
    const t = parseTime(e.event_time);
    if (!first.has(e.user_id) || t < first.get(e.user_id)!) first.set(e.user_id, t);
  }
  return [...first.values()].filter((t) => t >= fromMs && t <= toMs).length;
}

/** Monday of the ISO week holding `ms`. */
export function weekStart(ms: number): number {
  const day = dayOf(ms);
  const weekday = (new Date(day).getUTCDay() + 6) % 7;
  return day - weekday * DAY_MS;
}

export interface AdoptionRow { readonly feature: string; readonly users: number; readonly active: number; readonly share: number }

/** Adoption in the ISO week (Monday to Sunday) starting `weekMs`: people who used each feature, active people, share. */
export function expectedAdoptionInWeek(ds: Dataset, weekMs: number, excluded: readonly string[]): AdoptionRow[] {
  const week = resolveEvents(ds).filter((e) => e.day >= weekMs && e.day < weekMs + 7 * DAY_MS);
  const active = distinct(week.map((e) => e.person));
  const names = [...new Set(week.map((e) => e.name))].filter((n) => !excluded.includes(n)).sort();
  return names.map((feature) => {
    const users = distinct(week.filter((e) => e.name === feature).map((e) => e.person));
    return { feature, users, active, share: users / active };
  });
}

/** The adoption-by-week panel's rows, [week, feature, share], for every ISO week from `fromMs`'s to `toMs`'s. */
export function expectedAdoptionByWeek(ds: Dataset, fromMs: number, toMs: number, excluded: readonly string[]): [number, string, number][] {
  const rows: [number, string, number][] = [];
  for (let week = weekStart(fromMs); week <= weekStart(toMs); week += 7 * DAY_MS) {
    for (const row of expectedAdoptionInWeek(ds, week, excluded)) rows.push([week, row.feature, row.share]);
  }
  return rows;
}

export interface RetentionRow {
  readonly cohort: number;
  readonly size: number;
  /** offset in days -> people of the cohort active that day; null when that day is after `toMs`'s day. */
  readonly retained: ReadonlyMap<number, number | null>;
}

/** Signup cohorts by day in [fromMs, toMs], with the people active exactly N days after their signup day. */
export function expectedRetention(ds: Dataset, fromMs: number, toMs: number, offsets: readonly number[]): RetentionRow[] {
  const signupDay = new Map<string, number>();
  for (const e of ds.events) {
    if (e.event_name !== SIGNUP_EVENT || !e.user_id) continue;
    const t = parseTime(e.event_time);
    if (!signupDay.has(e.user_id) || t < signupDay.get(e.user_id)!) signupDay.set(e.user_id, t);
  }
  const activeDays = new Map<string, Set<number>>();
  for (const e of resolveEvents(ds)) {
    if (!activeDays.has(e.person)) activeDays.set(e.person, new Set());
    activeDays.get(e.person)!.add(e.day);
  }
  const cohorts = new Map<number, string[]>();
  for (const [user, t] of signupDay) {
    if (dayOf(t) < dayOf(fromMs) || dayOf(t) > dayOf(toMs)) continue; // whole UTC days
    const day = dayOf(t);
    cohorts.set(day, [...(cohorts.get(day) ?? []), user]);
  }
  return [...cohorts.keys()].sort((a, b) => a - b).map((cohort) => {
    const members = cohorts.get(cohort)!;
    const retained = new Map<number, number | null>(offsets.map((n) => {
      const day = cohort + n * DAY_MS;
      if (day > dayOf(toMs)) return [n, null];
      return [n, members.filter((m) => activeDays.get(m)?.has(day)).length];
    }));
    return { cohort, size: members.length, retained };
  });
}

/**
 * People reaching each funnel step, counting events in [fromMs, toMs]: a person reaches step k when events of
 * steps 1..k happen in that order with the last no more than `windowMs` after the first.
 */
export function expectedFunnel(ds: Dataset, steps: readonly string[], windowMs: number, fromMs: number, toMs: number): number[] {
  const byPerson = new Map<string, ResolvedEvent[]>();
  for (const e of resolveEvents(ds)) {
    if (e.at < fromMs || e.at > toMs || !steps.includes(e.name)) continue;
    byPerson.set(e.person, [...(byPerson.get(e.person) ?? []), e]);
  }
  const reached = steps.map(() => 0);
  for (const events of byPerson.values()) {
    events.sort((a, b) => a.at - b.at);
    let best = 0;
    events.forEach((start, i) => {
      if (start.name !== steps[0]) return;
      // Greedy: the earliest next step after the previous one is never worse for a subsequence match.
      let level = 1;
      for (let j = i + 1; j < events.length && level < steps.length; j++) {
        if (events[j].at - start.at > windowMs) break;
        if (events[j].name === steps[level]) level++;
      }
      best = Math.max(best, level);
    });
    for (let k = 0; k < best; k++) reached[k]++;
  }
  return reached;
}

export interface TopEventRow { readonly event: string; readonly events: number; readonly share: number }

/** Events per event name over the whole days from fromMs's day to toMs's day, with their share of all of them. */
export function expectedTopEvents(ds: Dataset, fromMs: number, toMs: number): TopEventRow[] {
  const inRange = ds.events.filter((e) => { const day = dayOf(parseTime(e.event_time)); return day >= dayOf(fromMs) && day <= dayOf(toMs); });
  const counts = new Map<string, number>();
  for (const e of inRange) counts.set(e.event_name, (counts.get(e.event_name) ?? 0) + 1);
  return [...counts].map(([event, events]) => ({ event, events, share: events / inRange.length }))
    // Ties by name as ClickHouse orders strings (bytes), not by locale ("Z" before "a").
    .sort((a, b) => b.events - a.events || Buffer.compare(Buffer.from(a.event), Buffer.from(b.event)));
}

/** Events per hour for hours starting in [fromMs, toMs], optionally for one event name. */
export function expectedEventsPerHour(ds: Dataset, fromMs: number, toMs: number, eventName?: string): Map<number, number> {
  const result = new Map<number, number>();
  for (const e of ds.events) {
    if (eventName && e.event_name !== eventName) continue;
    const hour = Math.floor(parseTime(e.event_time) / 3_600_000) * 3_600_000;
    if (hour < fromMs || hour > toMs) continue;
    result.set(hour, (result.get(hour) ?? 0) + 1);
  }
  return result;
}

/** ClickHouse's quantileExact: the element at floor(level * n) of the sorted values. */
export function quantileExact(values: readonly number[], level: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(level * sorted.length))];
}

export interface IngestBucket { readonly bucket: number; readonly events: number; readonly p50: number; readonly p95: number }

/** Events received per bucket of `intervalMs` (by received_at, within [fromMs, toMs]) and lag quantiles in seconds. */
export function expectedIngest(ds: Dataset, fromMs: number, toMs: number, intervalMs: number): IngestBucket[] {
  const buckets = new Map<number, number[]>();
  for (const e of ds.events) {
    const received = parseTime(e.received_at);
    if (received < fromMs || received > toMs) continue;
    const bucket = Math.floor(received / intervalMs) * intervalMs;
    buckets.set(bucket, [...(buckets.get(bucket) ?? []), (received - parseTime(e.event_time)) / 1000]);
  }
  return [...buckets.keys()].sort((a, b) => a - b).map((bucket) => {
    const lags = buckets.get(bucket)!;
    return { bucket, events: lags.length, p50: quantileExact(lags, 0.5), p95: quantileExact(lags, 0.95) };
  });
}
