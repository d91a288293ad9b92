/**
 * The two Grafana datasources, as pure payloads (what `grafana.oss.DataSource` sends and `npm run render` writes).
 *
 * - ClickHouse (uid `clickhouse`): the official plugin over the native protocol, as the read-only `grafana_reader`
 *   user, default database `analytics`. The password goes in secureJsonData, which Grafana encrypts and never
 *   returns through its API.
 * - Loki (uid `loki`): with two derived fields that make a log line lead somewhere:
 *   `request_id` (found in the JSON line) opens, in Explore, every line of the stack that mentions that request id
 *   over the whole retention; `time_ms` (structured metadata the shipper derives from the line's `time`) opens the
 *   product dashboard on the hour around that line.
 *
 * Both links are plain URLs: Grafana's internal derived-field links hand the target a `{ query }` object, which
 * the Loki query editor does not read (it reads `expr`), so a Loki-to-Loki internal link would open empty.
 */
import { LOKI_INTERNAL_URL } from "./loki-config";
import { TIME_MS_FIELD } from "./log-pipeline";
import type { StackConfig } from "./stack-config";
import { CLICKHOUSE_NATIVE_PORT } from "./clickhouse-server-config";
import { CLICKHOUSE_USERS } from "./clickhouse-users";
import { exploreUrlFromPanes } from "./explore-url";

export const CLICKHOUSE_DATASOURCE_UID = "clickhouse";
export const LOKI_DATASOURCE_UID = "loki";
export const CLICKHOUSE_PLUGIN_ID = "grafana-clickhouse-datasource";
export const PRODUCT_DASHBOARD_UID = "product-analytics";
/** The read-only ClickHouse user Grafana queries as (defined with its grants in clickhouse-users.ts). */
export const CLICKHOUSE_READER_USER = CLICKHOUSE_USERS.reader;
export const CLICKHOUSE_DATABASE = "analytics";
// ClickHouse's native protocol port inside the network (the plugin's `native` protocol).
export { CLICKHOUSE_NATIVE_PORT };
/** Width of the dashboard time range a log line opens, centred on the line. */
export const LINE_TO_DASHBOARD_WINDOW_MS = 60 * 60 * 1000;

export interface DatasourcePayload {
  readonly name: string;
  readonly type: string;
  readonly uid: string;
  readonly url?: string;
  readonly accessMode: "proxy";
  readonly isDefault: boolean;
  readonly jsonData: Record<string, unknown>;
}

export function clickhouseDatasource(): DatasourcePayload {
  return {
    name: "ClickHouse",
    type: CLICKHOUSE_PLUGIN_ID,
    uid: CLICKHOUSE_DATASOURCE_UID,
    accessMode: "proxy",
    isDefault: true,
    jsonData: {
      host: "clickhouse",
      port: CLICKHOUSE_NATIVE_PORT,
      protocol: "native",
      secure: false,
      username: CLICKHOUSE_READER_USER,
      defaultDatabase: CLICKHOUSE_DATABASE,
    },
  };
}

/** Secure settings of the ClickHouse datasource: never in jsonData, never logged. */
export function clickhouseSecureJsonData(readerPassword: string): Record<string, string> {
  return { password: readerPassword };
}

/** The matched value in a derived-field URL, percent-encoded so any id is safe inside a URL. */
export const MATCHED_VALUE = "${__value.raw:percentencode}";

/**
 * LogQL for "every line of this stack that mentions this request id". A line filter, not a label matcher:
 * request_id is structured metadata on the ingest's lines, and other services may only mention it in their text.
 */
export function requestLogsQuery(namePrefix: string, requestId = MATCHED_VALUE): string {
  return `{stack=${JSON.stringify(namePrefix)}} |= ${JSON.stringify(requestId)}`;
}

/**
 * Relative URL of Loki Explore (Grafana 10+ `panes` state) running `expr` over the last `days` days. The state is
 * URL-encoded except the derived-field token, which Grafana must still find and replace.
 */
export function exploreUrl(expr: string, days: number): string {
  const panes = {
    request: {
      datasource: LOKI_DATASOURCE_UID,
      queries: [{ refId: "A", expr, queryType: "range", datasource: { type: "loki", uid: LOKI_DATASOURCE_UID } }],
      range: { from: `now-${days}d`, to: "now" },
    },
  };
  return exploreUrlFromPanes(panes, [MATCHED_VALUE]);
}

/**
 * Matches `"request_id":"<id>"` in a JSON line; the id is group 1. Only ids made of URL- and LogQL-safe characters
 * (UUIDs, fastify's `req-1`) get a link: the id lands inside a LogQL string inside JSON inside a URL, and Grafana
 * can escape it for only one of those.
 */
export const REQUEST_ID_MATCHER = String.raw`"request_id"\s*:\s*"([A-Za-z0-9_.:-]{1,128})"`;

/** Relative URL of the product dashboard centred on an epoch-ms time (Grafana's `time` and `time.window`). */
export function dashboardAroundLineUrl(epochMs = "${__value.raw}"): string {
  return `/d/${PRODUCT_DASHBOARD_UID}?time=${epochMs}&time.window=${LINE_TO_DASHBOARD_WINDOW_MS}`;
}

export function lokiDatasource(cfg: Pick<StackConfig, "namePrefix" | "logRetentionDays">): DatasourcePayload {
  return {
    name: "Loki",
    type: "loki",
    uid: LOKI_DATASOURCE_UID,
    url: LOKI_INTERNAL_URL,
    accessMode: "proxy",
    isDefault: false,
    jsonData: {
      maxLines: 1000,
      derivedFields: [
        {
          name: "request_id",
          matcherType: "regex",
          matcherRegex: REQUEST_ID_MATCHER,
          url: exploreUrl(requestLogsQuery(cfg.namePrefix), cfg.logRetentionDays),
          urlDisplayLabel: "All logs of this request",
        },
        {
          name: "product_dashboard",
          // A label matcher reads the entry's labels and structured metadata, where the shipper put time_ms.
          matcherType: "label",
          matcherRegex: `^${TIME_MS_FIELD}$`,
          url: dashboardAroundLineUrl(),
          urlDisplayLabel: "Product analytics around this line",
        },
      ],
    },
  };
}
