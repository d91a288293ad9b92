/**
 * A typed query target for the Grafana ClickHouse plugin (v4), which the foundation SDK does not model: the
 * fields the plugin reads from a provisioned panel target, built from a named query.
 */
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import type { ClickHouseNamedQuery } from "./queries";

export const CLICKHOUSE_DATASOURCE = { type: "grafana-clickhouse-datasource", uid: "clickhouse" } as const;
export const LOKI_DATASOURCE = { type: "loki", uid: "loki" } as const;

/** The plugin's result formats (its `Format` enum). */
export const CLICKHOUSE_FORMAT = { time_series: 0, table: 1, logs: 2 } as const;

export interface ClickHouseTarget extends cog.Dataquery {
  refId: string;
  datasource: typeof CLICKHOUSE_DATASOURCE;
  /** "sql": the raw editor; the query builder's model is not used. */
  editorType: "sql";
  queryType: "timeseries" | "table";
  format: (typeof CLICKHOUSE_FORMAT)[keyof typeof CLICKHOUSE_FORMAT];
  rawSql: string;
  pluginVersion?: string;
}

export class ClickHouseQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly target: ClickHouseTarget;

  constructor(query: ClickHouseNamedQuery, refId = "A") {
    this.target = {
      refId,
      datasource: CLICKHOUSE_DATASOURCE,
      editorType: "sql",
      queryType: query.format === "time_series" ? "timeseries" : "table",
      format: CLICKHOUSE_FORMAT[query.format],
      rawSql: query.sql,
      _implementsDataqueryVariant() {},
    };
  }

  pluginVersion(version: string): this {
    this.target.pluginVersion = version;
    return this;
  }

  build(): ClickHouseTarget {
    return this.target;
  }
}
