/**
 * Data links from a panel to Loki Explore, for the same time range and the dashboard's selected service.
 *
 * Grafana interpolates `${__from}`, `${__to}` and variables in a link's URL before opening it, so those tokens must
 * stay literal while the rest of the Explore state is URL-encoded. The service value is inserted percent-encoded
 * (`.+` for All would otherwise turn into ". " in a query string).
 */
import { DashboardLinkBuilder } from "@grafana/grafana-foundation-sdk/dashboard";
import { exploreUrlFromPanes } from "../components/explore-url";
import { LOKI_DATASOURCE } from "./clickhouse-query";
import type { AnalyticsSettings } from "./settings";

/** Tokens Grafana replaces in a data link; kept unencoded in the URL. */
const GRAFANA_TOKENS = ["${__from}", "${__to}", "${service:percentencode}"] as const;

/** LogQL the link opens: the selected service's lines in this stack. */
export function exploreLogql(s: AnalyticsSettings): string {
  return `{stack="${s.stack}", service=~"\${service:percentencode}"}`;
}

/** Relative URL of Loki Explore (Grafana 10+ `panes` state) with the given LogQL and the panel's time range. */
export function lokiExploreUrl(expr: string): string {
  const panes = {
    a: {
      datasource: LOKI_DATASOURCE.uid,
      queries: [{ refId: "A", expr, datasource: LOKI_DATASOURCE }],
      range: { from: "${__from}", to: "${__to}" },
    },
  };
  return exploreUrlFromPanes(panes, GRAFANA_TOKENS);
}

export function logsDataLink(s: AnalyticsSettings): DashboardLinkBuilder {
  return new DashboardLinkBuilder("Logs of ${service:text} for this time range in Explore").url(lokiExploreUrl(exploreLogql(s))).targetBlank(false);
}
