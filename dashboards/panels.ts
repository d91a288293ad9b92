/**
 * Panel factories shared by the dashboards: each takes a named query (title, unit and description come from it)
 * and the grid position decided by the dashboard file.
 */
import * as barchart from "@grafana/grafana-foundation-sdk/barchart";
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as common from "@grafana/grafana-foundation-sdk/common";
import { type DashboardLinkBuilder, type GridPos, ThresholdsConfigBuilder, ThresholdsMode } from "@grafana/grafana-foundation-sdk/dashboard";
import * as logs from "@grafana/grafana-foundation-sdk/logs";
import * as loki from "@grafana/grafana-foundation-sdk/loki";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as table from "@grafana/grafana-foundation-sdk/table";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";
import { CLICKHOUSE_DATASOURCE, ClickHouseQueryBuilder, LOKI_DATASOURCE } from "./clickhouse-query";
import type { ClickHouseNamedQuery, LokiNamedQuery, NamedQuery } from "./queries";

/** One colour for numbers that are neither good nor bad: no threshold colours a growing count red. */
const neutral = () => new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([{ value: null, color: "blue" }]);

function target(query: NamedQuery): cog.Builder<cog.Dataquery> {
  if (query.kind === "clickhouse") return new ClickHouseQueryBuilder(query);
  return new loki.DataqueryBuilder().refId("A").expr(query.expr).datasource(LOKI_DATASOURCE);
}

const datasourceOf = (query: NamedQuery) => (query.kind === "clickhouse" ? CLICKHOUSE_DATASOURCE : LOKI_DATASOURCE);

export function statPanel(query: ClickHouseNamedQuery, gridPos: GridPos,
  thresholds: cog.Builder<import("@grafana/grafana-foundation-sdk/dashboard").ThresholdsConfig> = neutral()): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(query.title).description(query.description).unit(query.unit)
    .datasource(CLICKHOUSE_DATASOURCE).withTarget(target(query))
    .thresholds(thresholds)
    .graphMode(common.BigValueGraphMode.None)
    .colorMode(common.BigValueColorMode.Value)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .gridPos(gridPos);
}

export function timeSeriesPanel(query: NamedQuery, gridPos: GridPos, links: readonly DashboardLinkBuilder[]): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder()
    .title(query.title).description(query.description).unit(query.unit)
    .datasource(datasourceOf(query)).withTarget(target(query))
    .thresholds(neutral())
    .fillOpacity(10)
    .lineWidth(2)
    // The SDK's default legend is hidden, and its default tooltip names one line: a panel with a line per event name,
    // feature or reason showed lines nobody could tell apart.
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .dataLinks([...links])
    .gridPos(gridPos);
}

export function barChartPanel(query: ClickHouseNamedQuery, gridPos: GridPos, xField: string, hiddenFields: readonly string[]): barchart.PanelBuilder {
  return new barchart.PanelBuilder()
    .title(query.title).description(query.description).unit(query.unit)
    .datasource(CLICKHOUSE_DATASOURCE).withTarget(target(query))
    .thresholds(neutral())
    .xField(xField)
    .orientation(common.VizOrientation.Horizontal)
    .showValue(common.VisibilityMode.Always)
    .withTransformation({ id: "organize", options: { excludeByName: Object.fromEntries(hiddenFields.map((f) => [f, true])) } })
    .gridPos(gridPos);
}

export function tablePanel(query: ClickHouseNamedQuery, gridPos: GridPos): table.PanelBuilder {
  return new table.PanelBuilder()
    .title(query.title).description(query.description).unit(query.unit)
    .datasource(CLICKHOUSE_DATASOURCE).withTarget(target(query))
    .thresholds(neutral())
    .gridPos(gridPos);
}

export function logsPanel(query: LokiNamedQuery, gridPos: GridPos): logs.PanelBuilder {
  return new logs.PanelBuilder()
    .title(query.title).description(query.description)
    .datasource(LOKI_DATASOURCE).withTarget(target(query))
    .showTime(true)
    .wrapLogMessage(true)
    .enableLogDetails(true)
    .sortOrder(common.LogsSortOrder.Descending)
    .gridPos(gridPos);
}

/**
 * Gives every panel a stable id (its position, from 1) unless it has one: data links, alerts and the URL's
 * `viewPanel` refer to panels by id, so ids must be unique and must not change when a panel is restyled.
 */
export function numberPanels<T extends { panels?: unknown[] }>(board: T): T {
  board.panels?.forEach((panel, i) => {
    const p = panel as { id?: number };
    if (p.id === undefined) p.id = i + 1;
  });
  return board;
}
