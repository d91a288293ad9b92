/**
 * Review 3 regression tests (dashboards as Grafana 12.1 renders them; each failed before its fix):
 *
 * 1. Legend. The foundation SDK's default legend options are `showLegend: false`
 *    (node_modules/@grafana/grafana-foundation-sdk/dist/common/types.gen.js, defaultVizLegendOptions), and Grafana's
 *    time series panel renders no legend when `legend.showLegend` is false
 *    (grafana/grafana public/app/core/components/TimeSeries/TimeSeries.tsx, renderLegend). The multi-series panels
 *    (events per hour by event name, adoption by feature, lag p50/p95, rejections by reason) then draw lines nobody
 *    can tell apart (tooltip mode "single" names only the hovered one).
 * 2. Top events' `share` is a fraction 0..1 shown with the panel unit "short" (0.153, not 15.3%).
 * 3. The folder uid equals the product dashboard's uid. Grafana stores folders as rows of its `dashboard` table
 *    (folderimpl CreateLegacy saves a dashboards.NewDashboardFolder) under the unique index (org_id, uid)
 *    (sqlstore migration "Add unique index dashboard_org_id_uid"), and saving a dashboard whose uid is a folder's
 *    fails with ErrDashboardTypeMismatch, 400 "Dashboard cannot be changed to a folder"
 *    (pkg/services/dashboards/service/dashboard_service.go, ValidateDashboardBeforeSave).
 */
import { describe, expect, it } from "vitest";
import { FOLDER_UID } from "../../components/dashboards";
import { loadConfig } from "../../components/stack-config";
import { ingestDashboard } from "../../dashboards/ingest-dashboard";
import { productDashboard } from "../../dashboards/product-dashboard";
import { analyticsSettings } from "../../dashboards/settings";

const settings = analyticsSettings(loadConfig({}, "dev"));
interface Panel {
  type: string; title: string;
  options?: { legend?: { showLegend?: boolean } };
  fieldConfig?: { defaults?: { unit?: string }; overrides?: { matcher: { id: string; options: string }; properties: { id: string; value: unknown }[] }[] };
}
const boards = { product: productDashboard(settings), ingest: ingestDashboard(settings) };
const panels = (b: unknown) => (b as { panels: Panel[] }).panels;

/** The unit Grafana applies to a field: the last byName override's unit, else the panel default. */
function unitOf(panel: Panel, field: string): string | undefined {
  let unit = panel.fieldConfig?.defaults?.unit;
  for (const o of panel.fieldConfig?.overrides ?? []) {
    const hit = (o.matcher.id === "byName" && o.matcher.options === field) || (o.matcher.id === "byRegexp" && new RegExp(o.matcher.options).test(field));
    const u = hit ? o.properties.find((p) => p.id === "unit") : undefined;
    if (u) unit = String(u.value);
  }
  return unit;
}

describe("multi-series time series panels show a legend", () => {
  const multi = ["Events per hour", "Feature adoption by week", "Ingest lag (received - event time)", "Rejected events by reason"];
  it.each(multi)("%s", (title) => {
    const panel = Object.values(boards).flatMap(panels).find((p) => p.title === title);
    expect(panel, title).toBeDefined();
    expect(panel!.options?.legend?.showLegend, `${title}: Grafana draws no legend when showLegend is false`).toBe(true);
  });
});

describe("units", () => {
  it("top events shows the share of all events as a percentage", () => {
    const panel = panels(boards.product).find((p) => p.title === "Top events")!;
    expect(unitOf(panel, "share")).toBe("percentunit");
    expect(unitOf(panel, "events")).toBe("short");
  });
});

describe("uids Grafana can store together", () => {
  it("the folder's uid is not a dashboard's uid", () => {
    const dashboardUids = Object.values(boards).map((b) => (b as { uid: string }).uid);
    expect(dashboardUids).not.toContain(FOLDER_UID);
  });
});
