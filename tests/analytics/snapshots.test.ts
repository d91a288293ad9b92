/**
 * The DAU, retention and adoption snapshots (sql/0011-0012, dashboards/snapshots.ts, components/snapshot-views.ts) on the real engine:
 * the panels that use them give the independently computed answers with and without stored answers, take a stored
 * answer only while nothing it depends on changed, and count again the days that late events, a late identify or an
 * earlier signup changed, before the next refresh and after it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { productQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import type { TestEngine } from "../support/clickhouse-engine";
import {
  DAY_MS, dayOf, expectedAdoptionByWeek, expectedDau, expectedRetention, expectedStickiness, formatTime, generateDataset, panelTime, parseTime,
  resolveEvents, splitIntoBatches, weekStart, type Dataset, type EventRow,
} from "../support/dataset";
import type { GrafanaContext } from "../support/grafana-macros";
import { insertEvents, insertIdentities, recreateSnapshotViews, refreshSnapshots, runQuery, startAnalyticsEngine } from "./analytics-engine";

const settings = analyticsSettings(loadConfig({}, "test"));
const product = productQueries(settings);
const offsets = settings.retentionOffsetsDays;

let engine: TestEngine;
let ds: Dataset;
let month: GrafanaContext;
const time = panelTime;

beforeAll(async () => {
  engine = await startAnalyticsEngine("snapshots");
  ds = generateDataset();
  for (const batch of splitIntoBatches(ds.events, 5)) await insertEvents(engine, batch);
  await insertIdentities(engine, ds);
  const names = [...new Set(ds.events.map((e) => e.event_name))].sort();
  month = { fromMs: ds.endMs - 30 * DAY_MS, toMs: ds.endMs - 1000, intervalSeconds: 3600, variables: { event_name: names } };
});

afterAll(async () => engine?.close());

async function dauPanel(): Promise<[number, number][]> {
  const rows = await runQuery<{ time: string; dau: number }>(engine, product.dau.sql, month);
  return rows.map((r) => [time(r.time), Number(r.dau)]);
}

const expectedDauRows = (data: Dataset) =>
  [...expectedDau(data, dayOf(month.fromMs), dayOf(month.toMs))].filter(([, n]) => n > 0);

async function retentionPanel(): Promise<unknown[][]> {
  const rows = await runQuery<Record<string, number | string | null>>(engine, product.retention.sql, month);
  return rows.map((r) => [time(r.cohort as string), Number(r.size), ...offsets.map((n) => r[`day_${n}`])]);
}

const expectedRetentionRows = (data: Dataset) => expectedRetention(data, month.fromMs, month.toMs, offsets)
  .map((c) => [c.cohort, c.size, ...offsets.map((n) => {
    const retained = c.retained.get(n);
    return retained === null || retained === undefined ? null : retained / c.size;
  })]);

async function adoptionPanel(): Promise<unknown[][]> {
  const rows = await runQuery<{ time: string; feature: string; share: number }>(engine, product.adoptionOverTime.sql, month);
  return rows.map((r) => [time(r.time), r.feature, r.share]);
}

const expectedAdoptionRows = (data: Dataset) => expectedAdoptionByWeek(data, month.fromMs, month.toMs, settings.nonFeatureEvents);

/** DAU, stickiness, retention and adoption by week equal the answers computed in TypeScript for `data`. */
async function expectPanelsToMatch(data: Dataset): Promise<void> {
  expect(await adoptionPanel()).toEqual(expectedAdoptionRows(data));
  expect(await dauPanel()).toEqual(expectedDauRows(data));
  const [{ stickiness }] = await runQuery<{ stickiness: number }>(engine, product.stickiness.sql, month);
  expect(stickiness).toBeCloseTo(expectedStickiness(data, month.toMs), 12);
  expect(await retentionPanel()).toEqual(expectedRetentionRows(data));
}

const count = async (table: string) => Number((await engine.rows<{ n: string }>(`SELECT count() AS n FROM ${table}`))[0].n);
const mutate = (query: string) => engine.client.command({ query, clickhouse_settings: { mutations_sync: "2" } });

describe("DAU, retention and adoption snapshots", () => {
  it("give the same answers as counting from the rollups", async () => {
    expect(await count("analytics.dau_snapshots")).toBe(0);
    await expectPanelsToMatch(ds);
    await refreshSnapshots(engine);
    // One row per day with activity, one cell per (cohort, offset) whose day has come.
    const days = new Set(resolveEvents(ds).map((e) => e.day)).size;
    expect(await count("analytics.dau_snapshots")).toBe(days);
    expect(await count("analytics.retention_snapshots")).toBeGreaterThan(50);
    // One 'active' row per week with activity, one 'feature' row per (week, event name) used.
    const weeks = new Set(resolveEvents(ds).map((e) => weekStart(e.day))).size;
    expect(await count("analytics.adoption_snapshots WHERE scope = 'active'")).toBe(weeks);
    expect(await count("analytics.adoption_snapshots WHERE scope = 'feature'")).toBeGreaterThan(weeks);
    await expectPanelsToMatch(ds);
  });

  it("are what the panels read while valid, and are ignored once older than a day, from the future, or expired", async () => {
    const day = dayOf(month.fromMs) + 10 * DAY_MS;
    const dayText = formatTime(day).slice(0, 10);
    const truth = await dauPanel();
    await mutate(`ALTER TABLE analytics.dau_snapshots UPDATE people = people + 1000 WHERE day = '${dayText}'`);
    expect(await dauPanel()).toEqual(truth.map(([d, n]) => [d, d === day ? n + 1000 : n]));
    const cohortRows = await retentionPanel();
    await mutate("ALTER TABLE analytics.retention_snapshots UPDATE retained = 0 WHERE 1");
    expect(await retentionPanel()).not.toEqual(cohortRows);
    const week = weekStart(day);
    const adoptionRows = await adoptionPanel();
    await mutate(`ALTER TABLE analytics.adoption_snapshots UPDATE people = people * 2 WHERE scope = 'active' AND week = '${formatTime(week).slice(0, 10)}'`);
    expect(await adoptionPanel()).toEqual(adoptionRows.map(([w, f, share]) => [w, f, w === week ? (share as number) / 2 : share]));

    for (const when of ["now64(3, 'UTC') - INTERVAL 25 HOUR", "now64(3, 'UTC') + INTERVAL 10 MINUTE"]) {
      await mutate(`ALTER TABLE analytics.dau_snapshots UPDATE valid_as_of = ${when} WHERE 1`);
      await mutate(`ALTER TABLE analytics.retention_snapshots UPDATE valid_as_of = ${when} WHERE 1`);
      await mutate(`ALTER TABLE analytics.adoption_snapshots UPDATE valid_as_of = ${when} WHERE 1`);
      await expectPanelsToMatch(ds);
    }
    await refreshSnapshots(engine); // the refresh also ignores the old rows: it counts every day again
    await expectPanelsToMatch(ds);
    expect(await dauPanel()).toEqual(truth);

    // A day the rollups' retention has deleted is not taken from the snapshot.
    await mutate(`ALTER TABLE analytics.dau_snapshots UPDATE people = people + 1000, expires_on = today() WHERE day = '${dayText}'`);
    expect(await dauPanel()).toEqual(truth);
    // Every row of a week expires on the same day (the refresh writes week + the rollups' retention).
    await mutate(`ALTER TABLE analytics.adoption_snapshots UPDATE people = people * 2, expires_on = today() WHERE week = '${formatTime(week).slice(0, 10)}'`);
    expect(await adoptionPanel()).toEqual(expectedAdoptionRows(ds));
    await refreshSnapshots(engine);
  });

  it("are emptied when the views are created again (a deploy with another definition)", async () => {
    await mutate("ALTER TABLE analytics.dau_snapshots UPDATE people = people + 1000 WHERE 1");
    expect(await dauPanel()).not.toEqual(expectedDauRows(ds));
    await recreateSnapshotViews(engine);
    expect(await count("analytics.dau_snapshots")).toBe(0);
    expect(await count("analytics.retention_snapshots")).toBe(0);
    expect(await count("analytics.adoption_snapshots")).toBe(0);
    await expectPanelsToMatch(ds);
    await refreshSnapshots(engine);
    expect(await count("analytics.dau_snapshots")).toBeGreaterThan(0);
    await expectPanelsToMatch(ds);
  });

  it("count again what a late event, a late identify and an earlier signup changed, before and after the next refresh", async () => {
    const resolved = resolveEvents(ds);
    const inMonth = (d: number) => d >= dayOf(month.fromMs) && d <= dayOf(month.toMs) - DAY_MS;
    const activeDays = new Map<string, Set<number>>();
    for (const e of resolved) activeDays.set(e.person, (activeDays.get(e.person) ?? new Set()).add(e.day));
    const users = [...new Set(ds.events.filter((e) => e.user_id !== "").map((e) => e.user_id))].sort();

    // A late identify: a visitor never linked, active on a day of the month, turns out to be a user active that day.
    const visitor = ds.events.find((e) => e.user_id === "" && resolved[ds.events.indexOf(e)].person.startsWith("anon:") &&
      inMonth(dayOf(parseTime(e.event_time))) && users.some((u) => activeDays.get(u)?.has(dayOf(parseTime(e.event_time)))))!;
    const visitorDay = dayOf(parseTime(visitor.event_time));
    const linkedUser = users.find((u) => activeDays.get(u)?.has(visitorDay))!;
    // A late event: another user in another week of the month, one they were not active in. (Separate weeks, so each
    // change alone must make its day and its week count again.)
    const monthDays = [...Array(20).keys()].map((i) => dayOf(month.fromMs) + i * DAY_MS).filter((d) => weekStart(d) !== weekStart(visitorDay));
    const inactiveWeek = (u: string, d: number) => [...Array(7).keys()].every((i) => !activeDays.get(u)?.has(weekStart(d) + i * DAY_MS));
    const lateUser = users.find((u) => u !== linkedUser && monthDays.some((d) => inactiveWeek(u, d)))!;
    const lateDay = monthDays.find((d) => inactiveWeek(lateUser, d))!;
    // An earlier signup: a user of a cohort in the month signed up two days before, by an event that arrives late
    // (on a third day: the identify alone must make the visitor's day count again).
    const signups = ds.events.filter((e) => e.event_name === "signup" && e.user_id !== "" && inMonth(dayOf(parseTime(e.event_time)) - 2 * DAY_MS));
    // Retained in their cohort at some offset, so the move changes stored counts, not only the cohort sizes.
    const retainedDays = (e: EventRow) => offsets.map((n) => dayOf(parseTime(e.event_time)) + n * DAY_MS)
      .filter((d) => d < dayOf(month.toMs) && activeDays.get(e.user_id)?.has(d));
    // And in a cohort that keeps other members, so the cohort's stored row is still shown.
    const cohortSize = (e: EventRow) => signups.filter((o) => dayOf(parseTime(o.event_time)) === dayOf(parseTime(e.event_time))).length;
    const movedUser = signups.find((e) => e.user_id !== lateUser && e.user_id !== linkedUser && retainedDays(e).length > 0 && cohortSize(e) > 1 &&
      ![visitorDay, lateDay].includes(dayOf(parseTime(e.event_time)) - 2 * DAY_MS) &&
      weekStart(dayOf(parseTime(e.event_time)) - 2 * DAY_MS) !== weekStart(visitorDay) &&
      !retainedDays(e).some((d) => [visitorDay, lateDay].includes(d)))!;
    const now = formatTime(Date.now());
    const event = (name: string, user: string, atMs: number): EventRow => ({
      message_id: `late-${name}-${user}-${atMs}`, type: "track", event_name: name, user_id: user, anonymous_id: "",
      properties: {}, context: {}, event_time: formatTime(atMs), received_at: now,
    });
    const late = [
      event("filter_applied", lateUser, lateDay + 12 * 3_600_000),
      event("signup", movedUser.user_id, parseTime(movedUser.event_time) - 2 * DAY_MS),
    ];
    const identify = {
      message_id: "late-identify", user_id: linkedUser, anonymous_id: visitor.anonymous_id, traits: {}, context: {},
      event_time: formatTime(ds.endMs - 60_000), received_at: now,
    };
    const after: Dataset = { ...ds, events: [...ds.events, ...late], identifies: [...ds.identifies, identify] };
    // The changes change the answers (otherwise this test would prove nothing).
    const changedDays = expectedDauRows(after).filter(([d, n]) => expectedDauRows(ds).find(([d2]) => d2 === d)?.[1] !== n).map(([d]) => d);
    expect(changedDays).toEqual(expect.arrayContaining([lateDay, visitorDay]));
    expect(expectedRetentionRows(after)).not.toEqual(expectedRetentionRows(ds));
    // The identify merges two people active in the visitor's week, and the late event adds a feature use to its week.
    const changedWeeks = new Set(expectedAdoptionRows(after).filter((r, i) => JSON.stringify(r) !== JSON.stringify(expectedAdoptionRows(ds)[i])).map(([w]) => w));
    expect([...changedWeeks]).toEqual(expect.arrayContaining([weekStart(visitorDay), weekStart(lateDay)]));

    await refreshSnapshots(engine);
    await insertEvents(engine, late);
    await engine.client.insert({ table: "analytics.identifies", values: [identify], format: "JSONEachRow" });
    await expectPanelsToMatch(after);
    await refreshSnapshots(engine);
    await expectPanelsToMatch(after);
  });
});
