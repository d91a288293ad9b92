/**
 * Review 3: the result shapes the Grafana ClickHouse plugin (v4) turns into frames, run on chDB.
 *
 * - A time-series target (format 0) goes through sqlds getFrames: a long frame (a time column, string factor columns,
 *   numeric values) is converted with data.LongToWide, which refuses rows not sorted ascending by time ("long series
 *   must be sorted ascending by time to be converted", grafana-plugin-sdk-go data/time_series.go; grafana/sqlds
 *   query.go). So every time-series panel must return exactly one time column, only numbers besides string factors,
 *   and rows in ascending time order.
 * - A query variable's options come from metricFindQuery, which takes the FIRST column as the value and the SECOND as
 *   the text (grafana/clickhouse-datasource src/data/CHDatasource.ts, "assume the first field is an id field"): by
 *   position, not by name.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { ingestDashboard } from "../../dashboards/ingest-dashboard";
import { productDashboard } from "../../dashboards/product-dashboard";
import { ingestQueries, productQueries, type ClickHouseNamedQuery } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import type { TestEngine } from "../support/clickhouse-engine";
import { DAY_MS, parseTime } from "../support/dataset";
import { expandClickHouseMacros, type GrafanaContext } from "../support/grafana-macros";
import { ev, tinyDataset } from "../support/review-tiny-dataset";
import { insertEvents, startAnalyticsEngine } from "./analytics-engine";

const settings = analyticsSettings(loadConfig({}, "test"));
const HOUR_MS = 3_600_000;
const start = parseTime("2024-03-04 00:00:00");
const names = ["signup", "project_created", "invite_sent", "report_exported"];
const ds = tinyDataset(start, start + 3 * DAY_MS, Array.from({ length: 60 }, (_, i) =>
  ev(names[i % names.length], `u${i % 7}`, `a${i % 11}`, start + i * 67 * 60_000, start + i * 67 * 60_000 + (i % 5) * 1_000)));
const ctx: GrafanaContext = {
  fromMs: start, toMs: start + 3 * DAY_MS - 1, intervalSeconds: 3600, variables: { event_name: { allValue: "__all__" } },
};

let engine: TestEngine;
beforeAll(async () => {
  engine = await startAnalyticsEngine("review3-frame-shapes");
  await insertEvents(engine, ds.events);
});
afterAll(async () => engine?.close());

/** Column names and ClickHouse types, and the rows, in the order ClickHouse returns them. */
async function frame(sql: string, context: GrafanaContext) {
  const result = await engine.client.query({ query: expandClickHouseMacros(sql, context), format: "JSONCompactEachRowWithNamesAndTypes" });
  const [columns, types, ...rows] = await result.json<unknown[]>();
  return { columns: columns as string[], types: types as string[], rows };
}

const isTime = (t: string) => /^(Nullable\()?(DateTime|DateTime64|Date|Date32)\b/.test(t);
const isNumber = (t: string) => /^(Nullable\()?(U?Int\d+|Float\d+|Decimal)/.test(t);
const isString = (t: string) => /^(Nullable\()?(LowCardinality\()?String/.test(t);

type Board = { panels: { type: string; title: string; targets?: { rawSql?: string; format?: number }[] }[] };
const timeSeriesTargets = [productDashboard(settings), ingestDashboard(settings)].flatMap((b) => (b as unknown as Board).panels)
  .filter((p) => p.type === "timeseries")
  .flatMap((p) => (p.targets ?? []).filter((t) => t.rawSql !== undefined).map((t) => [p.title, t] as const));
const named: ClickHouseNamedQuery[] = [...Object.values(productQueries(settings)), ...Object.values(ingestQueries(settings))]
  .filter((q): q is ClickHouseNamedQuery => q.kind === "clickhouse");

describe("time-series panels return frames LongToWide accepts", () => {
  it("the ClickHouse time-series panels are the named time_series queries, sent with format 0", () => {
    expect(timeSeriesTargets.length).toBeGreaterThan(0);
    for (const [title, t] of timeSeriesTargets) {
      expect(t.format, title).toBe(0);
      expect(named.find((q) => q.sql === t.rawSql)?.format, title).toBe("time_series");
    }
  });

  it.each(timeSeriesTargets.map(([title, t]) => [title, t.rawSql!] as const))("%s", async (title, sql) => {
    const { columns, types, rows } = await frame(sql, ctx);
    expect(rows.length, `${title}: rows for the test data`).toBeGreaterThan(1);
    const timeIdx = types.flatMap((t, i) => (isTime(t) ? [i] : []));
    expect(timeIdx, `${title}: exactly one time column in ${columns}`).toHaveLength(1);
    types.forEach((t, i) => {
      if (i !== timeIdx[0]) expect(isNumber(t) || isString(t), `${title}: ${columns[i]} ${t}`).toBe(true);
    });
    expect(types.some(isNumber), `${title}: a value column`).toBe(true);
    const times = rows.map((r) => Date.parse(`${String(r[timeIdx[0]]).replace(" ", "T")}Z`));
    expect(times.every((t) => Number.isFinite(t)), title).toBe(true);
    for (let i = 1; i < times.length; i++) expect(times[i], `${title}: row ${i} before row ${i - 1}`).toBeGreaterThanOrEqual(times[i - 1]);
    // A long frame has one row per (time, factors): otherwise the wide frame would keep only one of them.
    const factors = types.flatMap((t, i) => (isString(t) ? [i] : []));
    const keys = rows.map((r) => JSON.stringify([r[timeIdx[0]], ...factors.map((i) => r[i])]));
    expect(new Set(keys).size, `${title}: duplicate (time, factor) rows`).toBe(keys.length);
  });
});

describe("the event_name variable's options", () => {
  it("put the URL-encoded value first and the name second, as metricFindQuery reads them by position", async () => {
    const variable = (productDashboard(settings) as unknown as { templating: { list: { name: string; query: string }[] } })
      .templating.list.find((v) => v.name === "event_name")!;
    const { types, rows } = await frame(variable.query, { ...ctx, variables: {} });
    expect(types.length).toBe(2);
    const options = rows.map((r) => ({ value: String(r[0]), text: String(r[1]) }));
    expect(options.map((o) => o.text).sort()).toEqual([...names].sort());
    for (const o of options) expect(decodeURIComponent(o.value)).toBe(o.text);
  });

  it("a name with characters to encode gets a value that differs from its text, in the first column", async () => {
    const odd = "C:\\share it's {x},y";
    await insertEvents(engine, [ev(odd, "u1", "a1", start + 2 * HOUR_MS)]);
    const variable = (productDashboard(settings) as unknown as { templating: { list: { name: string; query: string }[] } })
      .templating.list.find((v) => v.name === "event_name")!;
    const { rows } = await frame(variable.query, { ...ctx, variables: {} });
    const row = rows.find((r) => r[1] === odd);
    expect(row).toBeDefined();
    expect(row![0]).not.toBe(odd);
    expect(String(row![0])).toMatch(/^[A-Za-z0-9%._~-]+$/);
    expect(decodeURIComponent(String(row![0]))).toBe(odd);
  });
});
