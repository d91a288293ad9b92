/**
 * Review: the headline numbers and the per-day panels on time ranges not aligned to days or weeks, with known answers
 * from tests/support/dataset.ts. WAU, MAU, active users (24 h) and adoption this week at ends on midnight exactly, one
 * second after it, 23:59:59 and mid-afternoon, for ten consecutive days (every weekday, both Sunday/Monday edges, and
 * days after the data); DAU, retention, stickiness and adoption by week for a two-hour range, ranges from and to
 * mid-day across weeks, one starting before the data, and one from Monday to Monday, counted from the rollups and again
 * from the snapshots.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { ALL_EVENT_NAMES, productQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import type { TestEngine } from "../support/clickhouse-engine";
import {
  DAY_MS, dayOf, expectedActive24h, expectedActiveInDays, expectedAdoptionByWeek, expectedAdoptionInWeek, expectedDau,
  expectedRetention, expectedStickiness, generateDataset, panelTime, weekStart, type Dataset,
} from "../support/dataset";
import type { GrafanaContext } from "../support/grafana-macros";
import { insertEvents, insertIdentities, refreshSnapshots, runQuery, startAnalyticsEngine } from "./analytics-engine";

const settings = analyticsSettings(loadConfig({}, "test"));
const product = productQueries(settings);
const offsets = settings.retentionOffsetsDays;
let engine: TestEngine;
let ds: Dataset;
const time = panelTime;
const ctx = (fromMs: number, toMs: number): GrafanaContext => ({ fromMs, toMs, intervalSeconds: 3600, variables: { event_name: { allValue: ALL_EVENT_NAMES } } });

beforeAll(async () => {
  engine = await startAnalyticsEngine("review-range-edges");
  ds = generateDataset({ days: 35 });
  await insertEvents(engine, ds.events);
  await insertIdentities(engine, ds);
});
afterAll(async () => engine?.close());

describe("headline numbers at ends around midnight", () => {
  it("WAU, MAU, active users (24 h) and adoption this week", async () => {
    for (let day = ds.endMs - 8 * DAY_MS; day < ds.endMs + 2 * DAY_MS; day += DAY_MS) {
      for (const end of [day, day + 1000, day + DAY_MS - 1000, day + 13 * 3_600_000 + 1000]) {
        const range = ctx(end - 30 * DAY_MS, end);
        const label = new Date(end).toISOString();
        const [{ wau }] = await runQuery<{ wau: number }>(engine, product.wau.sql, range);
        const [{ mau }] = await runQuery<{ mau: number }>(engine, product.mau.sql, range);
        const [{ active_users }] = await runQuery<{ active_users: number }>(engine, product.activeUsers24h.sql, range);
        expect([Number(wau), Number(mau), Number(active_users)], label)
          .toEqual([expectedActiveInDays(ds, end, 7), expectedActiveInDays(ds, end, 30), expectedActive24h(ds, end)]);
        const adoption = await runQuery<{ feature: string; users: number; active: number }>(engine, product.adoptionThisWeek.sql, range);
        const expected = expectedAdoptionInWeek(ds, weekStart(end), settings.nonFeatureEvents)
          .sort((a, b) => b.share - a.share || a.feature.localeCompare(b.feature));
        expect(adoption.map((r) => [r.feature, Number(r.users), Number(r.active)]), label).toEqual(expected.map((r) => [r.feature, r.users, r.active]));
      }
    }
  });
});

describe("per-day panels on ranges not aligned to days or weeks", () => {
  const ranges = () => [
    [ds.startMs + 3 * DAY_MS + 13 * 3_600_000, ds.startMs + 3 * DAY_MS + 15 * 3_600_000],
    [ds.startMs + 2 * DAY_MS + 13 * 3_600_000, ds.endMs - 5 * DAY_MS + 3_600_000],
    [ds.startMs - 5 * DAY_MS, ds.endMs - 1000],
    [ds.startMs + 7 * DAY_MS, ds.startMs + 14 * DAY_MS],
  ];

  async function expectRange(fromMs: number, toMs: number): Promise<void> {
    const range = ctx(fromMs, toMs);
    const label = `${new Date(fromMs).toISOString()} .. ${new Date(toMs).toISOString()}`;
    const dau = await runQuery<{ time: string; dau: number }>(engine, product.dau.sql, range);
    // WITH FILL starts at the first day with data: no rows before the data.
    const expectedDauRows = [...expectedDau(ds, dayOf(fromMs), dayOf(toMs))].filter(([d]) => d >= ds.startMs);
    expect(dau.map((r) => [time(r.time), Number(r.dau)]), label).toEqual(expectedDauRows);
    const retention = await runQuery<Record<string, number | string | null>>(engine, product.retention.sql, range);
    expect(retention.map((r) => [time(r.cohort as string), Number(r.size), ...offsets.map((n) => r[`day_${n}`])]), label)
      .toEqual(expectedRetention(ds, fromMs, toMs, offsets).map((c) => [c.cohort, c.size, ...offsets.map((n) => {
        const retained = c.retained.get(n);
        return retained === null || retained === undefined ? null : retained / c.size;
      })]));
    const [{ stickiness }] = await runQuery<{ stickiness: number }>(engine, product.stickiness.sql, range);
    expect(stickiness, label).toBeCloseTo(expectedStickiness(ds, toMs), 12);
    const adoption = await runQuery<{ time: string; feature: string; share: number }>(engine, product.adoptionOverTime.sql, range);
    expect(adoption.map((r) => [time(r.time), r.feature, r.share]), label)
      .toEqual(expectedAdoptionByWeek(ds, fromMs, toMs, settings.nonFeatureEvents));
  }

  it("from the rollups", async () => {
    for (const [fromMs, toMs] of ranges()) await expectRange(fromMs, toMs);
  });

  it("from the snapshots", async () => {
    await refreshSnapshots(engine);
    for (const [fromMs, toMs] of ranges()) await expectRange(fromMs, toMs);
  });
});
