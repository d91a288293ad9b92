/**
 * Every dashboard and alert query, run on the real ClickHouse engine (chDB) after Grafana's macro expansion,
 * against a generated dataset whose answers are computed independently in TypeScript (tests/support/dataset.ts).
 *
 * The data goes in the way production sends it: events in uneven batches, one batch replayed, identity calls
 * after the events they resolve. Any overcount from summing per-batch uniques, from replays or from resolving
 * identities at insert time would show up as a wrong number here.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { alertRules } from "../../dashboards/alert-rules";
import { ingestDashboard } from "../../dashboards/ingest-dashboard";
import { productDashboard } from "../../dashboards/product-dashboard";
import { alertQueries, ingestQueries, productQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import type { TestEngine } from "../support/clickhouse-engine";
import {
  DAY_MS, FUNNEL, dayOf, expectedActive24h, expectedActiveInDays, expectedAdoptionByWeek, expectedAdoptionInWeek, weekStart,
  expectedDau, expectedEventsPerHour, expectedEventsToday, expectedFunnel, expectedIngest, expectedRetention,
  expectedSignups, expectedStickiness, expectedTopEvents, generateDataset, panelTime, parseTime, quantileExact, resolveEvents,
  splitIntoBatches, type Dataset,
} from "../support/dataset";
import type { GrafanaContext } from "../support/grafana-macros";
import { insertEvents, insertIdentities, runQuery, startAnalyticsEngine } from "./analytics-engine";

const settings = analyticsSettings(loadConfig({}, "test"));
const product = productQueries(settings);
const ingest = ingestQueries(settings);
const alerts = alertQueries(settings);

let engine: TestEngine;
let ds: Dataset;
let allEvents: string[];
/** The month ending with the data. */
let month: GrafanaContext;
/** Ends at noon of the last day, so "24 hours" and "today" differ from calendar days. */
let noon: GrafanaContext;

const time = panelTime;

/** The event_name variable's options for a time range: what Grafana sends for All. */
async function eventNameOptions(ctx: GrafanaContext): Promise<string[]> {
  const board = productDashboard(settings) as unknown as { templating: { list: { name: string; query: string }[] } };
  const variable = board.templating.list.find((v) => v.name === "event_name")!;
  // The option values (what Grafana sends when they are picked): each name URL-encoded, the name itself as the text.
  const options = await runQuery<{ value: string; text: string }>(engine, variable.query, { ...ctx, variables: {} });
  for (const o of options) expect(decodeURIComponent(o.value)).toBe(o.text);
  return options.map((r) => r.value);
}

beforeAll(async () => {
  engine = await startAnalyticsEngine("known-answers");
  ds = generateDataset();
  const batches = splitIntoBatches(ds.events, 7);
  for (const batch of batches) await insertEvents(engine, batch);
  await insertEvents(engine, batches[3]); // the ingest retried a batch ClickHouse had already stored
  await insertIdentities(engine, ds); // links arrive after the anonymous events they explain
  allEvents = [...new Set(ds.events.map((e) => e.event_name))].sort();
  month = { fromMs: ds.endMs - 30 * DAY_MS, toMs: ds.endMs - 1000, intervalSeconds: 3600, variables: { event_name: allEvents } };
  noon = { ...month, toMs: ds.endMs - DAY_MS / 2 };
});

afterAll(async () => engine?.close());

describe("dataset sanity (so the known answers test something)", () => {
  it("has anonymous events that only identity resolution attributes to users", () => {
    const resolved = resolveEvents(ds);
    const anonymousResolved = ds.events.filter((e, i) => e.user_id === "" && !resolved[i].person.startsWith("anon:"));
    expect(anonymousResolved.length).toBeGreaterThan(20);
    expect(ds.aliases.length).toBeGreaterThan(0);
  });

  it("stores every event once although a batch was sent twice", async () => {
    const [{ n }] = await engine.rows<{ n: string }>("SELECT count() AS n FROM analytics.events");
    expect(Number(n)).toBe(ds.events.length);
  });
});

describe("product analytics panels return the independently computed numbers", () => {
  it("DAU per day", async () => {
    const rows = await runQuery<{ time: string; dau: number }>(engine, product.dau.sql, month);
    const expected = [...expectedDau(ds, dayOf(month.fromMs), dayOf(month.toMs))].filter(([, n]) => n > 0);
    expect(rows.map((r) => [time(r.time), Number(r.dau)])).toEqual(expected);
  });

  it("WAU, MAU and stickiness", async () => {
    const [{ wau }] = await runQuery<{ wau: number }>(engine, product.wau.sql, month);
    const [{ mau }] = await runQuery<{ mau: number }>(engine, product.mau.sql, month);
    const [{ stickiness }] = await runQuery<{ stickiness: number }>(engine, product.stickiness.sql, month);
    expect(Number(wau)).toBe(expectedActiveInDays(ds, month.toMs, 7));
    expect(Number(mau)).toBe(expectedActiveInDays(ds, month.toMs, 30));
    expect(stickiness).toBe(expectedStickiness(ds, month.toMs));
  });

  it("stickiness is no data (NULL), not NaN, when nobody was active in the 30 days", async () => {
    const before = { ...month, fromMs: ds.startMs - 60 * DAY_MS, toMs: ds.startMs - 2 * DAY_MS };
    expect(expectedActiveInDays(ds, before.toMs, 30)).toBe(0);
    // JSON writes NaN as null too, so ask ClickHouse which one it is: Grafana's stat shows "NaN" for a NaN.
    const [row] = await runQuery<{ is_null: number; is_nan: number }>(engine,
      `SELECT stickiness IS NULL AS is_null, isNaN(ifNull(stickiness, 0)) AS is_nan FROM (${product.stickiness.sql})`, before);
    expect({ is_null: Number(row.is_null), is_nan: Number(row.is_nan) }).toEqual({ is_null: 1, is_nan: 0 });
  });

  it("active users in the last 24 hours, at a day's end and at noon", async () => {
    for (const ctx of [month, noon]) {
      const [{ active_users }] = await runQuery<{ active_users: number }>(engine, product.activeUsers24h.sql, ctx);
      expect(Number(active_users)).toBe(expectedActive24h(ds, ctx.toMs));
    }
    expect(expectedActive24h(ds, noon.toMs)).not.toBe(expectedDau(ds, dayOf(noon.toMs), dayOf(noon.toMs)).get(dayOf(noon.toMs)));
  });

  it("events today, at a day's end and at noon", async () => {
    for (const ctx of [month, noon]) {
      const [{ events_today }] = await runQuery<{ events_today: number }>(engine, product.eventsToday.sql, ctx);
      expect(Number(events_today)).toBe(expectedEventsToday(ds, ctx.toMs));
    }
  });

  it("new signups in the time range", async () => {
    const [{ signups }] = await runQuery<{ signups: number }>(engine, product.newSignups.sql, month);
    expect(Number(signups)).toBe(expectedSignups(ds, month.fromMs, month.toMs));
    expect(Number(signups)).toBeGreaterThan(5);
  });

  it("feature adoption in the week of the range's end", async () => {
    const rows = await runQuery<{ feature: string; users: number; active: number; share: number }>(engine, product.adoptionThisWeek.sql, month);
    const expected = expectedAdoptionInWeek(ds, weekStart(month.toMs), settings.nonFeatureEvents)
      .sort((a, b) => b.share - a.share || a.feature.localeCompare(b.feature));
    expect(expected.length).toBeGreaterThanOrEqual(ds.features.length);
    expect(rows.map((r) => ({ feature: r.feature, users: Number(r.users), active: Number(r.active), share: r.share }))).toEqual(expected);
  });

  it("feature adoption by week, for each feature and week of the range", async () => {
    const rows = await runQuery<{ time: string; feature: string; share: number }>(engine, product.adoptionOverTime.sql, month);
    expect(rows.map((r) => [time(r.time), r.feature, r.share]))
      .toEqual(expectedAdoptionByWeek(ds, month.fromMs, month.toMs, settings.nonFeatureEvents));
  });

  it("adoption honours the event_name variable", async () => {
    const rows = await runQuery<{ feature: string }>(engine, product.adoptionThisWeek.sql, { ...month, variables: { event_name: ["report_exported"] } });
    expect(rows.map((r) => r.feature)).toEqual(["report_exported"]);
  });

  it("retention by signup cohort at 1, 7, 14 and 30 days, empty for days not reached", async () => {
    const rows = await runQuery<Record<string, number | string | null>>(engine, product.retention.sql, month);
    const expected = expectedRetention(ds, month.fromMs, month.toMs, settings.retentionOffsetsDays);
    expect(rows.length).toBe(expected.length);
    expect(rows.map((r) => [time(r.cohort as string), Number(r.size), ...settings.retentionOffsetsDays.map((n) => r[`day_${n}`])]))
      .toEqual(expected.map((c) => [c.cohort, c.size, ...settings.retentionOffsetsDays.map((n) => {
        const retained = c.retained.get(n);
        return retained === null || retained === undefined ? null : retained / c.size;
      })]));
    // Not the reference's off-by-one: some cohort has nobody back on day 1.
    expect(rows.some((r) => r.day_1 === 0)).toBe(true);
  });

  it("conversion funnel with windowFunnel", async () => {
    const rows = await runQuery<{ step: string; people: number }>(engine, product.funnel.sql, month);
    const expected = expectedFunnel(ds, FUNNEL, settings.funnelWindowSeconds * 1000, month.fromMs, month.toMs);
    expect(rows.map((r) => r.step)).toEqual([...FUNNEL]);
    expect(rows.map((r) => Number(r.people))).toEqual(expected);
    expect(new Set(expected).size).toBe(expected.length); // every step loses someone: the data exercises the window and order
  });

  it("top events with their share of all events", async () => {
    const rows = await runQuery<{ event: string; events: number; share: number }>(engine, product.topEvents.sql, month);
    expect(rows.map((r) => ({ event: r.event, events: Number(r.events), share: r.share })))
      .toEqual(expectedTopEvents(ds, month.fromMs, month.toMs).slice(0, 20));
  });

  it("top events for some event names keep their share of all events, not of the picked ones", async () => {
    const picked = ["report_exported", "dashboard_viewed"];
    const rows = await runQuery<{ event: string; events: number; share: number }>(engine, product.topEvents.sql, { ...month, variables: { event_name: picked } });
    expect(rows.map((r) => ({ event: r.event, events: Number(r.events), share: r.share })))
      .toEqual(expectedTopEvents(ds, month.fromMs, month.toMs).filter((r) => picked.includes(r.event)));
  });

  it("events per hour for one event name", async () => {
    const ctx = { ...month, variables: { event_name: ["report_exported"] } };
    const rows = await runQuery<{ time: string; event_name: string; events: number }>(engine, product.eventsPerHour.sql, ctx);
    expect(new Set(rows.map((r) => r.event_name))).toEqual(new Set(["report_exported"]));
    const perHour = [...expectedEventsPerHour(ds, month.fromMs, month.toMs, "report_exported")].sort((a, b) => a[0] - b[0]);
    expect(rows.filter((r) => Number(r.events) > 0).map((r) => [time(r.time), Number(r.events)])).toEqual(perHour);
    // Every hour from the first with the event to the range's end, 0 where the event did not happen.
    expect(rows).toHaveLength((Math.floor(month.toMs / 3_600_000) * 3_600_000 - perHour[0][0]) / 3_600_000 + 1);
  });

  it("events per hour is 0, not a gap, in the hours without the event, for a range not on the hour", async () => {
    // Missing points are drawn across: a rare event looked steady. Each name from its first hour in the range on.
    const ctx = { ...month, fromMs: ds.endMs - 2 * DAY_MS + 37 * 60_000, toMs: ds.endMs - DAY_MS + 20 * 60_000, variables: { event_name: ["invite_sent", "report_exported"] } };
    const rows = await runQuery<{ time: string; event_name: string; events: number }>(engine, product.eventsPerHour.sql, ctx);
    const expected: [number, string, number][] = [];
    for (const name of ctx.variables.event_name) {
      const perHour = expectedEventsPerHour(ds, ctx.fromMs, ctx.toMs, name);
      for (let hour = Math.min(...perHour.keys()); hour <= ctx.toMs; hour += 3_600_000) expected.push([hour, name, perHour.get(hour) ?? 0]);
    }
    expected.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
    expect(expected.filter(([, , n]) => n === 0).length).toBeGreaterThan(5);
    expect(rows.map((r) => [time(r.time), r.event_name, Number(r.events)])).toEqual(expected);
  });

  it("unique actors per hour (last 24 h) merge states instead of summing per-batch counts", async () => {
    const rows = await runQuery<{ time: string; actors: number }>(engine, product.actorsPerHour.sql, noon);
    const actors = new Map<number, Set<string>>();
    for (const e of ds.events) {
      const hour = Math.floor(parseTime(e.event_time) / 3_600_000) * 3_600_000;
      if (hour <= noon.toMs - DAY_MS || hour > noon.toMs) continue;
      if (!actors.has(hour)) actors.set(hour, new Set());
      actors.get(hour)!.add(e.user_id || `anon:${e.anonymous_id}`);
    }
    expect(rows.length).toBeGreaterThan(12);
    expect(rows.map((r) => [time(r.time), Number(r.actors)])).toEqual([...actors].sort((a, b) => a[0] - b[0]).map(([h, s]) => [h, s.size]));
  });
});

/**
 * The seconds of a bucket inside the range: a rate is the bucket's events over them, so the interval the range starts
 * in and the one it ends in (now, still filling) are not shown as a drop.
 */
const coveredSeconds = (bucket: number, sizeMs: number, from: number, to: number) => Math.max(1, (Math.min(bucket + sizeMs, to) - Math.max(bucket, from)) / 1000);

describe("ingest health panels", () => {
  it("events received per second and lag percentiles per interval", async () => {
    const ctx = { ...month, intervalSeconds: 3600 };
    const perSecond = await runQuery<{ time: string; events_per_second: number }>(engine, ingest.eventsReceivedPerSecond.sql, ctx);
    const lag = await runQuery<{ time: string; p50: number; p95: number }>(engine, ingest.ingestLag.sql, ctx);
    const expected = expectedIngest(ds, Math.floor(ctx.fromMs / 1000) * 1000, Math.floor(ctx.toMs / 1000) * 1000, 3_600_000);
    const from = Math.floor(ctx.fromMs / 1000) * 1000, to = Math.floor(ctx.toMs / 1000) * 1000;
    expect(perSecond.map((r) => [time(r.time), r.events_per_second])).toEqual(expected.map((b) => [b.bucket, b.events / coveredSeconds(b.bucket, 3_600_000, from, to)]));
    expect(lag.map((r) => [time(r.time), r.p50, r.p95])).toEqual(expected.map((b) => [b.bucket, b.p50, b.p95]));
    expect(expected.some((b) => b.p95 > 3600)).toBe(true); // late arrivals are in the data
  });

  it("events received per second of the interval still filling is its events over the seconds gone, not a drop", async () => {
    const bucket = ds.endMs - 2 * DAY_MS + 15 * 3_600_000;
    const ctx = { fromMs: bucket - 3_600_000, toMs: bucket + 20 * 60_000, intervalSeconds: 3600 };
    const rows = await runQuery<{ time: string; events_per_second: number }>(engine, ingest.eventsReceivedPerSecond.sql, ctx);
    const arrived = ds.events.filter((e) => { const t = parseTime(e.received_at); return t >= bucket && t <= ctx.toMs; }).length;
    expect(arrived).toBeGreaterThan(0);
    expect(rows.map((r) => [time(r.time), r.events_per_second]).at(-1)).toEqual([bucket, arrived / (20 * 60)]);
  });

  it("events received per second is 0, not a gap, in the intervals nothing arrived in", async () => {
    // Minutes of a quiet night: a time series without the empty minutes draws a line across them (an outage looks
    // like steady traffic).
    const ctx = { fromMs: ds.endMs - 3 * DAY_MS + 2 * 3_600_000 + 17_000, toMs: ds.endMs - 3 * DAY_MS + 4 * 3_600_000 + 17_000, intervalSeconds: 60 };
    const rows = await runQuery<{ time: string; events_per_second: number }>(engine, ingest.eventsReceivedPerSecond.sql, ctx);
    const from = Math.floor(ctx.fromMs / 1000) * 1000, to = Math.floor(ctx.toMs / 1000) * 1000;
    const arrived = new Map(expectedIngest(ds, from, to, 60_000).map((b) => [b.bucket, b.events]));
    const expected: [number, number][] = [];
    for (let bucket = Math.min(...arrived.keys()); bucket <= to; bucket += 60_000) expected.push([bucket, (arrived.get(bucket) ?? 0) / coveredSeconds(bucket, 60_000, from, to)]);
    expect(expected.filter(([, n]) => n === 0).length).toBeGreaterThan(10);
    expect(rows.map((r) => [time(r.time), r.events_per_second])).toEqual(expected);
  });
});

describe("alert queries", () => {
  it("DAU drop is a finite 0, not NaN or -Infinity, when last week had nobody by now, even with a baseline of 0", async () => {
    // The first week of data: the same weekday last week is before the data. NaN would leave the rule with no value.
    const firstWeek = { ...noon, fromMs: ds.startMs + 2 * DAY_MS, toMs: ds.startMs + 2 * DAY_MS + 12 * 3_600_000 };
    for (const dauDropMinBaseline of [0, settings.dauDropMinBaseline]) {
      const sql = alertQueries({ ...settings, dauDropMinBaseline }).dauDrop.sql;
      const [row] = await runQuery<{ finite: number; share: number }>(engine, `SELECT isFinite(dau_drop_share) AS finite, dau_drop_share AS share FROM (${sql})`, firstWeek);
      expect({ finite: Number(row.finite), share: row.share }).toEqual({ finite: 1, share: 0 });
    }
  });

  it("DAU drop compares today so far with the same weekday last week by the same time", async () => {
    const [{ dau_drop_share }] = await runQuery<{ dau_drop_share: number }>(engine, alerts.dauDrop.sql, noon);
    const people = (dayMs: number, untilMs: number) => new Set(resolveEvents(ds).filter((e) => e.day === dayMs && e.at <= untilMs).map((e) => e.person)).size;
    const today = people(dayOf(noon.toMs), noon.toMs);
    const lastWeek = people(dayOf(noon.toMs) - 7 * DAY_MS, noon.toMs - 7 * DAY_MS);
    expect(lastWeek).toBeGreaterThanOrEqual(settings.dauDropMinBaseline);
    expect(dau_drop_share).toBe(1 - today / lastWeek);
  });

  it("no-events counts arrivals in the rule's window, zero after the data stops", async () => {
    const window = { fromMs: ds.endMs - 15 * 60_000 - 3 * 3_600_000, toMs: ds.endMs - 3 * 3_600_000 };
    const [{ events_received }] = await runQuery<{ events_received: number }>(engine, alerts.noEvents.sql, window);
    expect(Number(events_received)).toBe(ds.events.filter((e) => {
      const t = parseTime(e.received_at);
      return t >= Math.floor(window.fromMs / 1000) * 1000 && t <= Math.floor(window.toMs / 1000) * 1000;
    }).length);
    const [{ events_received: later }] = await runQuery<{ events_received: number }>(engine, alerts.noEvents.sql,
      { fromMs: ds.endMs + 3 * DAY_MS, toMs: ds.endMs + 3 * DAY_MS + 15 * 60_000 });
    expect(Number(later)).toBe(0);
  });

  it("ingest lag p95 over the rule's window, 0 when nothing arrived", async () => {
    const window = { fromMs: ds.endMs - 2 * DAY_MS, toMs: ds.endMs - DAY_MS };
    const [{ lag_p95_seconds }] = await runQuery<{ lag_p95_seconds: number }>(engine, alerts.ingestLagP95.sql, window);
    const lags = ds.events.map((e) => ({ r: parseTime(e.received_at), lag: (parseTime(e.received_at) - parseTime(e.event_time)) / 1000 }))
      .filter((x) => x.r >= window.fromMs && x.r <= window.toMs).map((x) => x.lag);
    expect(lag_p95_seconds).toBe(quantileExact(lags, 0.95));
    const [{ lag_p95_seconds: none }] = await runQuery<{ lag_p95_seconds: number }>(engine, alerts.ingestLagP95.sql,
      { fromMs: ds.endMs + 3 * DAY_MS, toMs: ds.endMs + 3 * DAY_MS + 300_000 });
    expect(none).toBe(0);
  });
});

describe("what Grafana actually sends", () => {
  it("every ClickHouse target of both dashboards and every ClickHouse alert query runs on ClickHouse", async () => {
    const targets = [productDashboard(settings), ingestDashboard(settings)]
      .flatMap((board) => (board.panels ?? []) as { title: string; targets?: { rawSql?: string }[] }[])
      .flatMap((panel) => (panel.targets ?? []).filter((t) => t.rawSql).map((t) => ({ title: panel.title, sql: t.rawSql! })));
    const alertSql = alertRules(settings).map((rule) => ({ title: rule.uid, sql: JSON.parse(rule.datas[0].model).rawSql as string | undefined }))
      .filter((a): a is { title: string; sql: string } => a.sql !== undefined);
    expect(targets.length).toBeGreaterThanOrEqual(14);
    expect(alertSql.length).toBe(3);
    for (const { title, sql } of [...targets, ...alertSql]) {
      const rows = await runQuery(engine, sql, month);
      expect(rows.length, title).toBeGreaterThan(0);
    }
  });

  it("the event_name variable lists the event names of the time range", async () => {
    expect(await eventNameOptions(month)).toEqual(allEvents);
  });

  it("with All picked, the panels filtered by event_name count every event name they read, for a short time range too", async () => {
    // The options follow the time range; picked one by one (or sent as All, as Grafana does for a variable without
    // its own all value) they must cover what the panels read. "Last hour" on a Wednesday: this week's adoption and
    // the whole days of top events also read names nobody used in that hour.
    const to = weekStart(ds.endMs - 8 * DAY_MS) + 2 * DAY_MS + 10 * 3_600_000 + 1000;
    const lastHour = { fromMs: to - 3_600_000, toMs: to, intervalSeconds: 60 };
    const all = { ...lastHour, variables: { event_name: await eventNameOptions(lastHour) } };
    const week = expectedAdoptionInWeek(ds, weekStart(to), settings.nonFeatureEvents);
    const inHour = new Set(ds.events.filter((e) => { const t = parseTime(e.event_time); return t >= to - 3_600_000 && t < to; }).map((e) => e.event_name));
    expect(week.some((row) => !inHour.has(row.feature))).toBe(true); // the week has features the hour has not

    const adoption = await runQuery<{ feature: string; users: number; active: number; share: number }>(engine, product.adoptionThisWeek.sql, all);
    expect(adoption.map((r) => ({ feature: r.feature, users: Number(r.users), active: Number(r.active), share: r.share })))
      .toEqual(week.sort((a, b) => b.share - a.share || a.feature.localeCompare(b.feature)));
    const byWeek = await runQuery<{ time: string; feature: string; share: number }>(engine, product.adoptionOverTime.sql, all);
    expect(byWeek.map((r) => [time(r.time), r.feature, r.share]))
      .toEqual(expectedAdoptionInWeek(ds, weekStart(to), settings.nonFeatureEvents).map((row) => [weekStart(to), row.feature, row.share]));
    const top = await runQuery<{ event: string; events: number; share: number }>(engine, product.topEvents.sql, all);
    expect(top.map((r) => ({ event: r.event, events: Number(r.events), share: r.share })))
      .toEqual(expectedTopEvents(ds, all.fromMs, all.toMs).slice(0, 20));
  });
});
