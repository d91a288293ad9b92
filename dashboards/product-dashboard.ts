/**
 * The product analytics dashboard (uid `product-analytics`): a pure function of the analytics settings.
 *
 * Layout, top to bottom: headline numbers; DAU and events per hour; feature adoption this week and by day;
 * retention cohorts and the funnel; top events and hourly actors; the logs of the selected service. Every
 * time-series panel links to Loki Explore for the same time range and service.
 */
import { CustomVariableBuilder, DashboardBuilder, QueryVariableBuilder, ThresholdsConfigBuilder, ThresholdsMode, VariableRefresh, VariableSort } from "@grafana/grafana-foundation-sdk/dashboard";
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { CLICKHOUSE_DATASOURCE } from "./clickhouse-query";
import { logsDataLink } from "./explore-links";
import { barChartPanel, logsPanel, numberPanels, statPanel, tablePanel, timeSeriesPanel } from "./panels";
import { ALL_EVENT_NAMES, productQueries, serviceLogsQuery } from "./queries";
import type { AnalyticsSettings } from "./settings";

export const PRODUCT_DASHBOARD_UID = "product-analytics";

/**
 * Event-name variable: the names seen in the weeks of the time range, multi-select, All by default. The options cover
 * everything the filtered panels read, which is more than the time range: adoption reads whole ISO weeks, top events
 * whole days (with the options of the range alone, "Last hour" could not pick a feature used earlier this week, and
 * All, sent as those options, dropped it from this week's adoption). All is a custom value that matches every name
 * (ALL_EVENT_NAMES); picked names reach the SQL URL-encoded (the option values) and then percent-encoded (the panels'
 * format), never as text (dashboards/queries.ts, pickedEventNames).
 */
function eventNameVariable(): QueryVariableBuilder {
  return new QueryVariableBuilder("event_name")
    .label("Event")
    .datasource(CLICKHOUSE_DATASOURCE)
    // Value first, text second (the plugin's order): the value is the name URL-encoded, safe in any SQL (queries.ts).
    .query("SELECT DISTINCT encodeURLComponent(event_name) AS value, event_name AS text FROM analytics.events_hourly " +
      "WHERE hour >= toMonday($__fromTime) AND hour < toMonday($__toTime) + 7 ORDER BY text")
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue(ALL_EVENT_NAMES);
}

/** Service variable for the logs panel and the Explore links; All is `.+` because Loki refuses `.*`. */
export function serviceVariable(s: AnalyticsSettings): CustomVariableBuilder {
  return new CustomVariableBuilder("service")
    .label("Service")
    .values(s.services.join(","))
    .includeAll(true)
    .allValue(".+")
    // No typed values: one such as `.*` (matches the empty string) makes Loki refuse the logs panel's selector.
    .allowCustomValue(false)
    .current({ text: "ingest", value: "ingest" });
}

/** Stickiness: under 10% is a warning sign for a daily-use product, 20% and up is healthy. */
const stickinessThresholds = () => new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
  { value: null, color: "red" }, { value: 0.1, color: "yellow" }, { value: 0.2, color: "green" },
]);

/** Retention cells coloured by share, from 0 (red) to 100% (green). */
const retentionCells: dashboard.DynamicConfigValue[] = [
  { id: "unit", value: "percentunit" },
  { id: "decimals", value: 1 },
  { id: "min", value: 0 },
  { id: "max", value: 1 },
  { id: "color", value: { mode: "continuous-RdYlGr" } },
  { id: "custom.cellOptions", value: { type: "color-background", mode: "gradient" } },
];

export function productDashboard(s: AnalyticsSettings): dashboard.Dashboard {
  const q = productQueries(s);
  const links = [logsDataLink(s)];
  const w = 4;
  return numberPanels(new DashboardBuilder("Product analytics")
    .uid(PRODUCT_DASHBOARD_UID)
    .tags(["analytics", "product"])
    .timezone("utc")
    .refresh("1m")
    .time({ from: "now-30d", to: "now" })
    .withVariable(eventNameVariable())
    .withVariable(serviceVariable(s))
    .withPanel(statPanel(q.activeUsers24h, { x: 0, y: 0, w, h: 4 }))
    .withPanel(statPanel(q.wau, { x: 4, y: 0, w, h: 4 }))
    .withPanel(statPanel(q.mau, { x: 8, y: 0, w, h: 4 }))
    .withPanel(statPanel(q.stickiness, { x: 12, y: 0, w, h: 4 }, stickinessThresholds()))
    .withPanel(statPanel(q.eventsToday, { x: 16, y: 0, w, h: 4 }))
    .withPanel(statPanel(q.newSignups, { x: 20, y: 0, w, h: 4 }))
    .withPanel(timeSeriesPanel(q.dau, { x: 0, y: 4, w: 12, h: 8 }, links))
    .withPanel(timeSeriesPanel(q.eventsPerHour, { x: 12, y: 4, w: 12, h: 8 }, links))
    .withPanel(barChartPanel(q.adoptionThisWeek, { x: 0, y: 12, w: 8, h: 9 }, "feature", ["users", "active"]))
    .withPanel(timeSeriesPanel(q.adoptionOverTime, { x: 8, y: 12, w: 16, h: 9 }, links))
    .withPanel(tablePanel(q.retention, { x: 0, y: 21, w: 14, h: 10 })
      .overrideByRegexp("^day_\\d+$", retentionCells)
      .overrideByName("size", [{ id: "unit", value: "short" }])
      .overrideByName("cohort", [{ id: "unit", value: "time:YYYY-MM-DD" }]))
    .withPanel(barChartPanel(q.funnel, { x: 14, y: 21, w: 10, h: 10 }, "step", ["step_number"]))
    // share is a fraction of all events (0-1); the panel's unit is for the counts.
    .withPanel(tablePanel(q.topEvents, { x: 0, y: 31, w: 10, h: 9 }).overrideByName("share", [{ id: "unit", value: "percentunit" }]))
    .withPanel(timeSeriesPanel(q.actorsPerHour, { x: 10, y: 31, w: 14, h: 9 }, links))
    .withPanel(logsPanel(serviceLogsQuery(s), { x: 0, y: 40, w: 24, h: 10 }))
    .build());
}
