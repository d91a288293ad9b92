/**
 * The time series that fill empty intervals with 0 (events per hour, events received per second, DAU) stop at now: a
 * range that ends in the future, like Grafana's "Today" (midnight to midnight) or "This week", must not show the
 * hours still to come as a drop to zero. Own engine, with events around the test's real clock.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { ALL_EVENT_NAMES, ingestQueries, productQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import type { TestEngine } from "../support/clickhouse-engine";
import { DAY_MS, dayOf, formatTime, panelTime, parseTime, type EventRow } from "../support/dataset";
import { insertEvents, runQuery, startAnalyticsEngine } from "./analytics-engine";

const settings = analyticsSettings(loadConfig({}, "test"));
const product = productQueries(settings);
const ingest = ingestQueries(settings);
const HOUR = 3_600_000;

let engine: TestEngine;
const now = Date.now();
const time = panelTime;

const event = (id: string, at: number): EventRow => ({ message_id: id, type: "track", event_name: "report_exported", user_id: `user_${id.length % 3}`,
  anonymous_id: "", properties: {}, context: {}, event_time: formatTime(at), received_at: formatTime(at + 500) });
/** One event an hour for the last 30 hours (but two), the last one 10 minutes ago; and one at noon four days ago, then nothing for a day or two. */
const events: EventRow[] = [
  ...Array.from({ length: 30 }, (_, i) => event(`fill-${i}`, now - 10 * 60_000 - i * HOUR)).filter((_, i) => i !== 5 && i !== 6),
  event("quiet-before", dayOf(now) - 4 * DAY_MS + 12 * HOUR),
  { ...event("signup-yesterday", dayOf(now) - DAY_MS + 10 * HOUR), event_name: "signup", user_id: "new_user" },
];

beforeAll(async () => {
  engine = await startAnalyticsEngine("time-series-fill");
  await insertEvents(engine, events);
});

afterAll(async () => engine?.close());

describe("a range ending in the future", () => {
  const ctx = { fromMs: dayOf(now) - DAY_MS, toMs: dayOf(now) + DAY_MS - 1000, intervalSeconds: 3600, variables: { event_name: ["report_exported"] } };
  const last = (rows: { time: string }[]) => Math.max(...rows.map((r) => time(r.time)));

  it("events per hour ends with the current hour", async () => {
    const rows = await runQuery<{ time: string; events: number }>(engine, product.eventsPerHour.sql, ctx);
    expect(last(rows)).toBe(Math.floor(Date.now() / HOUR) * HOUR);
    expect(rows.reduce((sum, r) => sum + Number(r.events), 0)).toBe(events.filter((e) => e.event_name === "report_exported" && parseTime(e.event_time) >= ctx.fromMs).length);
  });

  it("events received per second ends with the current interval", async () => {
    const rows = await runQuery<{ time: string }>(engine, ingest.eventsReceivedPerSecond.sql, ctx);
    expect(last(rows)).toBe(Math.floor(Date.now() / HOUR) * HOUR);
  });
});

describe("a range entirely in the future", () => {
  it("is empty, not an error", async () => {
    const ctx = { fromMs: now + DAY_MS, toMs: now + 2 * DAY_MS, intervalSeconds: 3600, variables: { event_name: ["report_exported"] } };
    expect(await runQuery(engine, product.eventsPerHour.sql, ctx)).toEqual([]);
    expect(await runQuery(engine, ingest.eventsReceivedPerSecond.sql, ctx)).toEqual([]);
  });
});

describe("a range starting before the data (never stored, or expired by the retention)", () => {
  it("has no zeros before the first interval with data: no data, not 0", async () => {
    const ctx = { fromMs: now - 3 * DAY_MS, toMs: now, intervalSeconds: 3600, variables: { event_name: ["report_exported"] } };
    // Each panel's own first interval: events per hour counts the picked name by event time, events received per
    // second every event by arrival time (yesterday's signup is the earliest of those after about 15:10 UTC).
    const firstHour = (times: number[]) => Math.floor(Math.min(...times.filter((t) => t >= ctx.fromMs)) / HOUR) * HOUR;
    const panels: [string, number][] = [
      [product.eventsPerHour.sql, firstHour(events.filter((e) => e.event_name === "report_exported").map((e) => parseTime(e.event_time)))],
      [ingest.eventsReceivedPerSecond.sql, firstHour(events.map((e) => parseTime(e.received_at)))],
    ];
    for (const [sql, first] of panels) {
      const rows = await runQuery<{ time: string }>(engine, sql, ctx);
      expect(Math.min(...rows.map((r) => time(r.time)))).toBe(first);
    }
  });
});

describe("DAU", () => {
  it("is 0 on a day nobody was active, between active days, up to today (not to the end of a range in the future)", async () => {
    const ctx = { fromMs: dayOf(now) - 6 * DAY_MS, toMs: dayOf(now) + 7 * DAY_MS, intervalSeconds: 3600, variables: {} };
    const people = new Map<number, Set<string>>();
    for (const e of events) {
      const day = dayOf(parseTime(e.event_time));
      people.set(day, (people.get(day) ?? new Set()).add(e.user_id));
    }
    const expected: [number, number][] = [];
    for (let day = Math.min(...people.keys()); day <= dayOf(now); day += DAY_MS) expected.push([day, people.get(day)?.size ?? 0]);
    expect(expected.filter(([, n]) => n === 0).length).toBeGreaterThan(0);
    const rows = await runQuery<{ time: string; dau: number }>(engine, product.dau.sql, ctx);
    expect(rows.map((r) => [time(r.time), Number(r.dau)])).toEqual(expected);
  });
});

describe("unique actors per hour", () => {
  it("is 0 in the hours nobody was active", async () => {
    const ctx = { fromMs: now - DAY_MS, toMs: now, intervalSeconds: 3600, variables: {} };
    const actors = new Map<number, Set<string>>();
    for (const e of events) {
      const hour = Math.floor(parseTime(e.event_time) / HOUR) * HOUR;
      if (hour > Math.floor(ctx.toMs / 1000) * 1000 - DAY_MS && hour <= ctx.toMs) actors.set(hour, (actors.get(hour) ?? new Set()).add(e.user_id));
    }
    const expected: [number, number][] = [];
    for (let hour = Math.min(...actors.keys()); hour <= ctx.toMs; hour += HOUR) expected.push([hour, actors.get(hour)?.size ?? 0]);
    // The two hours left out above are quiet; in the first 10 minutes of an hour the current hour is quiet too (the
    // last event was 10 minutes ago), and it must show 0 then as well.
    expect(expected.filter(([hour, n]) => n === 0 && hour < Math.floor(now / HOUR) * HOUR)).toHaveLength(2);
    const rows = await runQuery<{ time: string; actors: number }>(engine, product.actorsPerHour.sql, ctx);
    expect(rows.map((r) => [time(r.time), Number(r.actors)])).toEqual(expected);
  });
});

describe("retention", () => {
  it("is empty, not 0%, for the days after today in a range ending in the future (Grafana's This week, This month)", async () => {
    const ctx = { fromMs: dayOf(now) - 2 * DAY_MS, toMs: dayOf(now) + 7 * DAY_MS + DAY_MS - 1000, intervalSeconds: 3600, variables: {} };
    const rows = await runQuery<Record<string, string | number | null>>(engine, product.retention.sql, ctx);
    const offsets = settings.retentionOffsetsDays;
    // The cohort of yesterday: one person, not active today (day 1 has come: 0); the later days have not come.
    expect(rows.map((r) => [time(r.cohort as string), Number(r.size), ...offsets.map((n) => r[`day_${n}`])]))
      .toEqual([[dayOf(now) - DAY_MS, 1, ...offsets.map((n) => (n <= 1 ? 0 : null))]]);
  });
});

describe("the headline numbers of a range ending in the future (Grafana's This week / This month)", () => {
  it("are as of now, not of a day to come", async () => {
    const ctx = { fromMs: dayOf(now) - 3 * DAY_MS, toMs: dayOf(now) + 20 * DAY_MS, intervalSeconds: 3600, variables: { event_name: { allValue: ALL_EVENT_NAMES } } };
    const at = Date.now();
    const users = (fromMs: number, toMs: number) => new Set(events.filter((e) => { const t = parseTime(e.event_time); return t > fromMs && t <= toMs; }).map((e) => e.user_id)).size;
    const one = async (sql: string) => Object.values((await runQuery<Record<string, number>>(engine, sql, ctx))[0])[0];
    expect(Number(await one(product.wau.sql))).toBe(users(dayOf(at) - 6 * DAY_MS - 1, at));
    expect(Number(await one(product.mau.sql))).toBe(users(dayOf(at) - 29 * DAY_MS - 1, at));
    expect(Number(await one(product.activeUsers24h.sql))).toBe(users(at - DAY_MS, at));
    expect(Number(await one(product.eventsToday.sql))).toBe(events.filter((e) => parseTime(e.event_time) >= dayOf(at)).length);
    const adoption = await runQuery<{ feature: string; users: number }>(engine, product.adoptionThisWeek.sql, ctx);
    // This week's features so far (Monday 00:00 UTC to now): on a Monday before 00:10 none yet.
    const monday = dayOf(at) - ((new Date(at).getUTCDay() + 6) % 7) * DAY_MS;
    const features = new Set(events.filter((e) => { const t = parseTime(e.event_time); return t >= monday && t <= at && !settings.nonFeatureEvents.includes(e.event_name); }).map((e) => e.event_name));
    expect(adoption.map((r) => r.feature)).toEqual([...features]);
    const actors = await runQuery<{ time: string }>(engine, product.actorsPerHour.sql, ctx);
    expect(actors.length).toBeGreaterThan(20);
  });
});
