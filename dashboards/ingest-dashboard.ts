/**
 * The ingest health dashboard (uid `ingest-health`): arrivals and lag from ClickHouse, rejections, spool backlog
 * and insert errors from the ingest's JSON logs in Loki, and the log lines themselves.
 */
import { DashboardBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import type * as dashboard from "@grafana/grafana-foundation-sdk/dashboard";
import { DashboardLinkBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { lokiExploreUrl } from "./explore-links";
import { logsPanel, numberPanels, timeSeriesPanel } from "./panels";
import { ingestQueries, lokiSelector } from "./queries";
import type { AnalyticsSettings } from "./settings";

export const INGEST_DASHBOARD_UID = "ingest-health";

export function ingestDashboard(s: AnalyticsSettings): dashboard.Dashboard {
  const q = ingestQueries(s);
  const links = [new DashboardLinkBuilder("Ingest logs for this time range in Explore").url(lokiExploreUrl(lokiSelector(s, "ingest"))).targetBlank(false)];
  return numberPanels(new DashboardBuilder("Ingest health")
    .uid(INGEST_DASHBOARD_UID)
    .tags(["analytics", "ingest"])
    .timezone("utc")
    .refresh("30s")
    .time({ from: "now-6h", to: "now" })
    .withPanel(timeSeriesPanel(q.eventsReceivedPerSecond, { x: 0, y: 0, w: 12, h: 8 }, links))
    .withPanel(timeSeriesPanel(q.ingestLag, { x: 12, y: 0, w: 12, h: 8 }, links))
    .withPanel(timeSeriesPanel(q.rejectedByReason, { x: 0, y: 8, w: 6, h: 8 }, links))
    .withPanel(timeSeriesPanel(q.spoolBacklog, { x: 6, y: 8, w: 6, h: 8 }, links))
    .withPanel(timeSeriesPanel(q.clickhouseInsertErrors, { x: 12, y: 8, w: 6, h: 8 }, links))
    .withPanel(timeSeriesPanel(q.ingestErrorLines, { x: 18, y: 8, w: 6, h: 8 }, links))
    .withPanel(logsPanel(q.ingestLogs, { x: 0, y: 16, w: 24, h: 10 }))
    .build());
}
