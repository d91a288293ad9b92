/**
 * A device whose anonymous id equals its user id (an identify with anonymousId === userId, as some apps send) is one
 * person: the panels that count linked rows apart (adoption) once counted it twice, because the anonymous row's
 * resolved key equals its own and it looked unlinked. Known answers from tests/support/dataset.ts; stickiness is also
 * checked for every end day of the data (the day mask's bounds).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { productQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import type { TestEngine } from "../support/clickhouse-engine";
import { DAY_MS, dayOf, expectedAdoptionByWeek, expectedDau, expectedStickiness, formatTime, generateDataset, panelTime, type Dataset, type EventRow, type IdentifyRow } from "../support/dataset";
import type { GrafanaContext } from "../support/grafana-macros";
import { insertEvents, insertIdentities, refreshSnapshots, runQuery, startAnalyticsEngine } from "./analytics-engine";

const settings = analyticsSettings(loadConfig({}, "test"));
const product = productQueries(settings);
let engine: TestEngine;
let ds: Dataset;
let month: GrafanaContext;
const time = panelTime;

beforeAll(async () => {
  engine = await startAnalyticsEngine("self-linked-device");
  const base = generateDataset();
  const at = base.endMs - 10 * DAY_MS + 3600_000;
  const ev = (i: number, user: string, anon: string, ms: number): EventRow => ({
    message_id: `self-${i}`, type: "track", event_name: "dashboard_viewed", user_id: user, anonymous_id: anon,
    properties: {}, context: {}, event_time: formatTime(ms), received_at: formatTime(ms),
  });
  const identify: IdentifyRow = { message_id: "self-id", user_id: "selfie", anonymous_id: "selfie", traits: {}, context: {},
    event_time: formatTime(at), received_at: formatTime(at) };
  // Same day: logged in (user id), then logged out with the device id that equals the user id.
  ds = { ...base, events: [...base.events, ev(1, "selfie", "selfie", at), ev(2, "", "selfie", at + 60_000)], identifies: [...base.identifies, identify] };
  await insertEvents(engine, ds.events);
  await insertIdentities(engine, ds);
  const names = [...new Set(ds.events.map((e) => e.event_name))].sort();
  month = { fromMs: ds.endMs - 30 * DAY_MS, toMs: ds.endMs - 1000, intervalSeconds: 3600, variables: { event_name: names } };
});
afterAll(async () => engine?.close());

async function adoptionByWeek(): Promise<unknown[][]> {
  return (await runQuery<{ time: string; feature: string; share: number }>(engine, product.adoptionOverTime.sql, month))
    .map((r) => [time(r.time), r.feature, r.share]);
}
const expectedByWeek = () => expectedAdoptionByWeek(ds, month.fromMs, month.toMs, settings.nonFeatureEvents);

describe("a self-linked device (anonymous id = user id)", () => {
  it("DAU counts the person once (control)", async () => {
    const rows = await runQuery<{ time: string; dau: number }>(engine, product.dau.sql, month);
    const expected = [...expectedDau(ds, dayOf(month.fromMs), dayOf(month.toMs))].filter(([, n]) => n > 0);
    expect(rows.map((r) => [time(r.time), Number(r.dau)])).toEqual(expected);
  });

  it("stickiness (control) is exact for every end day of the data, window bounds included", async () => {
    for (let end = ds.startMs + DAY_MS - 1000; end < ds.endMs + 5 * DAY_MS; end += DAY_MS) {
      const [{ stickiness }] = await runQuery<{ stickiness: number }>(engine, product.stickiness.sql, { ...month, fromMs: end - 30 * DAY_MS, toMs: end });
      expect(stickiness).toBeCloseTo(expectedStickiness(ds, end), 12);
    }
  });

  it("adoption by week counts the person once, counted from the rollups", async () => {
    expect(await adoptionByWeek()).toEqual(expectedByWeek());
  });

  it("adoption by week counts the person once, from the snapshots", async () => {
    await refreshSnapshots(engine);
    expect(await adoptionByWeek()).toEqual(expectedByWeek());
  });
});
