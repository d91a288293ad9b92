/**
 * The event_name variable as Grafana really interpolates it. Grafana's `singlequote` format escapes a quote as \' and
 * leaves backslashes alone, and All is sent as every option of the variable (or, with a custom allValue, as that value
 * unformatted). Event names come from clients, so one name with a backslash (a Windows path as a screen name) ended up
 * in every filtered panel's SQL with All picked: a syntax error for all of them, or a name read as another one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { productDashboard } from "../../dashboards/product-dashboard";
import { productQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import type { TestEngine } from "../support/clickhouse-engine";
import {
  DAY_MS, expectedAdoptionInWeek, expectedEventsPerHour, expectedTopEvents, generateDataset, parseTime, weekStart, type Dataset,
} from "../support/dataset";
import type { GrafanaContext } from "../support/grafana-macros";
import { insertEvents, insertIdentities, runQuery, startAnalyticsEngine } from "./analytics-engine";

const settings = analyticsSettings(loadConfig({}, "test"));
const product = productQueries(settings);
const VARIABLE = "${event_name:singlequote}";

interface EventNameVariable { name: string; query: string; allValue?: string }
const variable = (productDashboard(settings) as unknown as { templating: { list: EventNameVariable[] } })
  .templating.list.find((v) => v.name === "event_name")!;

/** Grafana's singlequote format (scenes' formatRegistry): only ' is escaped, as \'. */
const grafanaSingleQuote = (values: readonly string[]) => values.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(",");

let engine: TestEngine;
let ds: Dataset;
let month: GrafanaContext;
const time = (text: string) => parseTime(text.length === 10 ? `${text} 00:00:00` : text);

/** A panel's SQL with event_name set to All the way Grafana sends it for this range. */
async function withAll(sql: string, ctx: GrafanaContext): Promise<string> {
  let all: string;
  if (variable.allValue !== undefined) all = variable.allValue; // a custom all value is inserted unformatted
  else all = grafanaSingleQuote((await runQuery<{ event_name: string }>(engine, variable.query, ctx)).map((r) => r.event_name));
  return sql.split(VARIABLE).join(all);
}

beforeAll(async () => {
  engine = await startAnalyticsEngine("event-name-variable");
  const base = generateDataset({ days: 21 });
  // Renamed features: a trailing backslash, and a backslash sequence ClickHouse would read as a newline.
  const renamed: Record<string, string> = { share_clicked: "C:\\new\\share", alert_created: "alerts\\" };
  ds = { ...base, events: base.events.map((e) => (renamed[e.event_name] ? { ...e, event_name: renamed[e.event_name] } : e)) };
  await insertEvents(engine, ds.events);
  await insertIdentities(engine, ds);
  month = { fromMs: ds.endMs - 14 * DAY_MS, toMs: ds.endMs - 1000, intervalSeconds: 3600, variables: {} };
});

afterAll(async () => engine?.close());

describe("event_name = All, with event names holding backslashes", () => {
  it("top events count every name", async () => {
    const rows = await runQuery<{ event: string; events: number; share: number }>(engine, await withAll(product.topEvents.sql, month), month);
    const expected = expectedTopEvents(ds, month.fromMs, month.toMs).slice(0, 20);
    expect(expected.map((r) => r.event)).toEqual(expect.arrayContaining(["C:\\new\\share", "alerts\\"]));
    expect(rows.map((r) => ({ event: r.event, events: Number(r.events), share: r.share }))).toEqual(expected);
  });

  it("events per hour count every name", async () => {
    const rows = await runQuery<{ time: string; events: number }>(engine, await withAll(product.eventsPerHour.sql, month), month);
    const perHour = new Map<number, number>();
    for (const r of rows) perHour.set(time(r.time), (perHour.get(time(r.time)) ?? 0) + Number(r.events));
    expect([...perHour].sort((a, b) => a[0] - b[0])).toEqual([...expectedEventsPerHour(ds, month.fromMs, month.toMs)].sort((a, b) => a[0] - b[0]));
  });

  it("adoption this week lists every feature", async () => {
    const rows = await runQuery<{ feature: string; users: number; share: number }>(engine, await withAll(product.adoptionThisWeek.sql, month), month);
    const expected = expectedAdoptionInWeek(ds, weekStart(month.toMs), settings.nonFeatureEvents)
      .sort((a, b) => b.share - a.share || a.feature.localeCompare(b.feature));
    expect(rows.map((r) => ({ feature: r.feature, users: Number(r.users), share: r.share })))
      .toEqual(expected.map((r) => ({ feature: r.feature, users: r.users, share: r.share })));
  });
});
