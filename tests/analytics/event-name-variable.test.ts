/**
 * The event_name variable as Grafana really interpolates it. Event names come from clients: one with a backslash (a
 * Windows path as a screen name) or a quote must neither break a filtered panel's SQL nor be read as another name,
 * with All picked or with the name itself picked. The panels take the variable with the percentencode format, whose
 * output holds only letters, digits and % - . _ ~ (dashboards/queries.ts, pickedEventNames); the options' values are
 * the names URL-encoded by the variable's own query. The expander (tests/support/grafana-macros.ts) formats as
 * Grafana's scenes format registry does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { productDashboard } from "../../dashboards/product-dashboard";
import { productQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import type { TestEngine } from "../support/clickhouse-engine";
import {
  DAY_MS, expectedAdoptionInWeek, expectedEventsPerHour, expectedTopEvents, generateDataset, panelTime, weekStart, type Dataset,
} from "../support/dataset";
import type { GrafanaContext } from "../support/grafana-macros";
import { insertEvents, insertIdentities, runQuery, startAnalyticsEngine } from "./analytics-engine";

const settings = analyticsSettings(loadConfig({}, "test"));
const product = productQueries(settings);
interface EventNameVariable { name: string; query: string; allValue?: string }
const variable = (productDashboard(settings) as unknown as { templating: { list: EventNameVariable[] } })
  .templating.list.find((v) => v.name === "event_name")!;

let engine: TestEngine;
let ds: Dataset;
let month: GrafanaContext;
const time = panelTime;

/** The context with event_name at All, as the dashboard defines it (a custom all value). */
const withAll = (ctx: GrafanaContext): GrafanaContext => ({ ...ctx, variables: { event_name: { allValue: variable.allValue! } } });

/** The context with these names picked: the option values the variable's query gives them. */
async function picking(ctx: GrafanaContext, names: readonly string[]): Promise<GrafanaContext> {
  const options = await runQuery<{ value: string; text: string }>(engine, variable.query, { ...ctx, variables: {} });
  const values = names.map((n) => options.find((o) => o.text === n)?.value);
  expect(values, "every picked name is an option").not.toContain(undefined);
  return { ...ctx, variables: { event_name: values as string[] } };
}

beforeAll(async () => {
  engine = await startAnalyticsEngine("event-name-variable");
  const base = generateDataset({ days: 21 });
  // Renamed features: a trailing backslash, a backslash sequence ClickHouse would read as a newline, and quotes.
  const renamed: Record<string, string> = { share_clicked: "C:\\new\\share", alert_created: "alerts\\", report_exported: "it's \\' a name" };
  ds = { ...base, events: base.events.map((e) => (renamed[e.event_name] ? { ...e, event_name: renamed[e.event_name] } : e)) };
  await insertEvents(engine, ds.events);
  await insertIdentities(engine, ds);
  month = { fromMs: ds.endMs - 14 * DAY_MS, toMs: ds.endMs - 1000, intervalSeconds: 3600, variables: {} };
});

afterAll(async () => engine?.close());

describe("event_name = All, with event names holding backslashes", () => {
  it("top events count every name", async () => {
    const rows = await runQuery<{ event: string; events: number; share: number }>(engine, product.topEvents.sql, withAll(month));
    const expected = expectedTopEvents(ds, month.fromMs, month.toMs).slice(0, 20);
    expect(expected.map((r) => r.event)).toEqual(expect.arrayContaining(["C:\\new\\share", "alerts\\"]));
    expect(rows.map((r) => ({ event: r.event, events: Number(r.events), share: r.share }))).toEqual(expected);
  });

  it("events per hour count every name", async () => {
    const rows = await runQuery<{ time: string; events: number }>(engine, product.eventsPerHour.sql, withAll(month));
    const perHour = new Map<number, number>();
    for (const r of rows) perHour.set(time(r.time), (perHour.get(time(r.time)) ?? 0) + Number(r.events));
    expect([...perHour].sort((a, b) => a[0] - b[0])).toEqual([...expectedEventsPerHour(ds, month.fromMs, month.toMs)].sort((a, b) => a[0] - b[0]));
  });

  it("adoption this week lists every feature", async () => {
    const rows = await runQuery<{ feature: string; users: number; share: number }>(engine, product.adoptionThisWeek.sql, withAll(month));
    const expected = expectedAdoptionInWeek(ds, weekStart(month.toMs), settings.nonFeatureEvents)
      .sort((a, b) => b.share - a.share || a.feature.localeCompare(b.feature));
    expect(rows.map((r) => ({ feature: r.feature, users: Number(r.users), share: r.share })))
      .toEqual(expected.map((r) => ({ feature: r.feature, users: r.users, share: r.share })));
  });
});

describe("event_name with names holding backslashes and quotes picked", () => {
  for (const names of [["alerts\\"], ["C:\\new\\share"], ["it's \\' a name"], ["C:\\new\\share", "alerts\\", "dashboard_viewed"]]) {
    it(`top events list exactly ${JSON.stringify(names)}`, async () => {
      const rows = await runQuery<{ event: string; events: number; share: number }>(engine, product.topEvents.sql, await picking(month, names));
      const expected = expectedTopEvents(ds, month.fromMs, month.toMs).filter((r) => names.includes(r.event));
      expect(expected).toHaveLength(names.length);
      expect(rows.map((r) => ({ event: r.event, events: Number(r.events), share: r.share }))).toEqual(expected);
    });
  }

  it("a typed value that is not an option (anything can arrive in a URL) matches nothing and breaks nothing", async () => {
    for (const typed of ["\\", "') OR 1 = 1 --", "%", "{a,b}", "__all__x"]) {
      const rows = await runQuery(engine, product.topEvents.sql, { ...month, variables: { event_name: [typed] } });
      expect(rows, typed).toEqual([]);
    }
  });
});
