/**
 * The two Grafana datasources, as pure payloads (what `grafana.oss.DataSource` sends and `npm run render` writes).
 *
 * - ClickHouse (uid `clickhouse`): the official plugin over the native protocol, as the read-only `grafana_reader`
 *   user, default database `analytics`. The password goes in secureJsonData, which Grafana encrypts and never
 *   returns through its API.
 * - Loki (uid `loki`): with two derived fields that make a log line lead somewhere:
 *   `request_id` opens every line of every service that mentions that request id (Loki, same Explore time range),
 *   `time` (pino's epoch milliseconds) opens the product dashboard on the hour around that line.
 */
import { LOKI_INTERNAL_URL } from "./loki-config";

export const CLICKHOUSE_DATASOURCE_UID = "clickhouse";
export const LOKI_DATASOURCE_UID = "loki";
export const CLICKHOUSE_PLUGIN_ID = "grafana-clickhouse-datasource";
export const PRODUCT_DASHBOARD_UID = "product-analytics";
export const CLICKHOUSE_READER_USER = "grafana_reader";
export const CLICKHOUSE_DATABASE = "analytics";
/** ClickHouse's native protocol port inside the network (the plugin's `native` protocol). */
export const CLICKHOUSE_NATIVE_PORT = 9000;
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

/**
 * LogQL for "every line mentioning this request id", with Grafana's `${__value.raw}` (the matched id) by default.
 * A line filter rather than a label: request_id is structured metadata, and other services may only mention it.
 */
export function requestLogsQuery(requestId = "${__value.raw}"): string {
  return `{service=~".+"} |= ${JSON.stringify(requestId)}`;
}

/** Matches `"request_id":"<id>"` in a JSON line; the id is group 1. */
export const REQUEST_ID_MATCHER = String.raw`"request_id"\s*:\s*"([^"]+)"`;
/** Matches pino's `"time":<epoch ms>` in a JSON line; the milliseconds are group 1. */
export const EPOCH_MS_TIME_MATCHER = String.raw`"time"\s*:\s*(\d{13})\b`;

/** Relative URL of the product dashboard centred on the matched epoch-ms time (Grafana's `time`/`time.window`). */
export function dashboardAroundLineUrl(epochMs = "${__value.raw}"): string {
  return `/d/${PRODUCT_DASHBOARD_UID}?time=${epochMs}&time.window=${LINE_TO_DASHBOARD_WINDOW_MS}`;
}

export function lokiDatasource(): DatasourcePayload {
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
          datasourceUid: LOKI_DATASOURCE_UID,
          url: requestLogsQuery(),
          urlDisplayLabel: "All logs of this request",
        },
        {
          name: "product_dashboard",
          matcherType: "regex",
          matcherRegex: EPOCH_MS_TIME_MATCHER,
          url: dashboardAroundLineUrl(),
          urlDisplayLabel: "Product analytics around this line",
        },
      ],
    },
  };
}
