/**
 * Review regression test: Grafana's day ranges ("Yesterday", "Today", "This week") end at 23:59:59.999, and the
 * ClickHouse plugin's $__toTime / $__timeFilter render whole seconds (toDateTime(<unix s>), grafana/clickhouse-datasource
 * pkg/macros), so the panels that compare exact event times with the range's end left out everything in its last
 * partial second: new signups, the funnel, events today and the 24 h count. They use the plugin's millisecond macros
 * ($__toTime_ms, $__timeFilter_ms: fromUnixTimestamp64Milli) now.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { ALL_EVENT_NAMES, productQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import type { TestEngine } from "../support/clickhouse-engine";
import { DAY_MS, FUNNEL, expectedActive24h, expectedEventsToday, expectedFunnel, expectedSignups, type Dataset } from "../support/dataset";
import type { GrafanaContext } from "../support/grafana-macros";
import { ev, identify, tinyDataset } from "../support/review-tiny-dataset";
import { insertEvents, runQuery, startAnalyticsEngine } from "./analytics-engine";

const settings = analyticsSettings(loadConfig({}, "test"));
const product = productQueries(settings);
const DAY = Date.parse("2026-01-12T00:00:00Z");
const END = DAY + DAY_MS; // the midnight after the day
let engine: TestEngine;
let ds: Dataset;
/** Grafana's "Yesterday" (or an absolute day): to = 23:59:59.999. */
const yesterday: GrafanaContext = { fromMs: DAY, toMs: END - 1, intervalSeconds: 3600, variables: { event_name: { allValue: ALL_EVENT_NAMES } } };

beforeAll(async () => {
  engine = await startAnalyticsEngine("review-time-precision");
  const events = [
    ev("page_viewed", "", "dev1", DAY + 3_600_000),
    ev("signup", "u1", "dev1", END - 2000), // 23:59:58.000
    ev("project_created", "u1", "", END - 600), // 23:59:59.400: in the range
    ev("signup", "u2", "", END - 500), // 23:59:59.500: in the range
    ev("dashboard_viewed", "u3", "", END - 300), // 23:59:59.700: in the range
  ];
  const links = [identify("u1", "dev1", END - 1900)];
  ds = tinyDataset(DAY, END, events, links);
  await insertEvents(engine, events);
  await engine.client.insert({ table: "analytics.identifies", values: links, format: "JSONEachRow" });
});
afterAll(async () => engine?.close());

describe("a range ending at 23:59:59.999 (Grafana's day ranges) keeps the events of its last second", () => {
  it("new signups", async () => {
    const [{ signups }] = await runQuery<{ signups: number }>(engine, product.newSignups.sql, yesterday);
    expect(Number(signups)).toBe(expectedSignups(ds, yesterday.fromMs, yesterday.toMs)); // 2
  });

  it("funnel", async () => {
    const rows = await runQuery<{ people: number }>(engine, product.funnel.sql, yesterday);
    expect(rows.map((r) => Number(r.people))).toEqual(expectedFunnel(ds, FUNNEL, settings.funnelWindowSeconds * 1000, yesterday.fromMs, yesterday.toMs)); // [2, 1, 0, 0]
  });

  it("events today", async () => {
    const [{ events_today }] = await runQuery<{ events_today: number }>(engine, product.eventsToday.sql, yesterday);
    expect(Number(events_today)).toBe(expectedEventsToday(ds, yesterday.toMs)); // 5
  });

  it("active users (24 h)", async () => {
    const [{ active_users }] = await runQuery<{ active_users: number }>(engine, product.activeUsers24h.sql, yesterday);
    expect(Number(active_users)).toBe(expectedActive24h(ds, yesterday.toMs)); // 3
  });
});
