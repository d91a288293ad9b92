/**
 * Alert rules as data: Grafana unified alerting rules in the shape of `@pulumiverse/grafana`'s RuleGroup `rules`
 * input, so the component passes them through and `npm run render` prints exactly what is deployed.
 *
 * Every rule is query (A) -> reduce to the last value (B) -> threshold (C), over a relative time range ending now,
 * with a stable uid, a severity label, a summary, a description that quotes the threshold, and a runbook link
 * (docs/runbooks/<uid>.md). No-data and error states are chosen per rule; the reason is next to each one.
 */
import { CLICKHOUSE_DATASOURCE, CLICKHOUSE_FORMAT, LOKI_DATASOURCE } from "./clickhouse-query";
import { alertQueries, type NamedQuery } from "./queries";
import type { AnalyticsSettings } from "./settings";

export const ALERT_RULE_GROUP = "analytics";
export const ALERT_INTERVAL_SECONDS = 60;

export type NoDataState = "NoData" | "Alerting" | "OK";
export type ExecErrState = "Error" | "Alerting" | "OK";
export type Severity = "critical" | "warning";

export interface AlertQueryData {
  readonly refId: string;
  readonly datasourceUid: string;
  readonly queryType?: string;
  readonly relativeTimeRange: { readonly from: number; readonly to: number };
  /** JSON of the query or expression model. */
  readonly model: string;
}

export interface AlertRule {
  readonly uid: string;
  readonly name: string;
  readonly condition: string;
  readonly for: string;
  readonly noDataState: NoDataState;
  readonly execErrState: ExecErrState;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly datas: readonly AlertQueryData[];
}

const EXPRESSION = { type: "__expr__", uid: "__expr__" } as const;

function queryData(query: NamedQuery, windowSeconds: number): AlertQueryData {
  const model = query.kind === "clickhouse"
    ? { refId: "A", datasource: CLICKHOUSE_DATASOURCE, editorType: "sql", queryType: "table", format: CLICKHOUSE_FORMAT.table, rawSql: query.sql }
    // Instant: the value of the LogQL's own window ending now. A range query's `last` point is the last step that
    // had lines, so one burst kept the rule true for the whole time range after it (and fired past `for`).
    : { refId: "A", datasource: LOKI_DATASOURCE, expr: query.expr, queryType: "instant", editorMode: "code" };
  return {
    refId: "A",
    datasourceUid: query.kind === "clickhouse" ? CLICKHOUSE_DATASOURCE.uid : LOKI_DATASOURCE.uid,
    ...(query.kind === "loki" ? { queryType: "instant" } : {}),
    relativeTimeRange: { from: windowSeconds, to: 0 },
    model: JSON.stringify({ ...model, intervalMs: 1000, maxDataPoints: 43200 }),
  };
}

/** B = last value of A, C = B compared with the threshold; C is the rule's condition. */
function reduceAndThreshold(op: "gt" | "lt", threshold: number): AlertQueryData[] {
  const expr = (refId: string, model: Record<string, unknown>): AlertQueryData => ({
    refId, datasourceUid: EXPRESSION.uid, relativeTimeRange: { from: 0, to: 0 },
    model: JSON.stringify({ refId, datasource: EXPRESSION, ...model }),
  });
  return [
    // dropNN: a NaN or null sample never decides the outcome.
    expr("B", { type: "reduce", expression: "A", reducer: "last", settings: { mode: "dropNN" } }),
    expr("C", { type: "threshold", expression: "B", conditions: [{ evaluator: { type: op, params: [threshold] } }] }),
  ];
}

const percent = (share: number) => `${Math.round(share * 1000) / 10}%`;

export function alertRules(s: AnalyticsSettings): AlertRule[] {
  const q = alertQueries(s);
  const a = s.alerts;
  const runbook = (uid: string) => `${s.runbookBaseUrl}/${uid}.md`;
  const rule = (r: Omit<AlertRule, "condition" | "annotations"> & { summary: string; description: string }): AlertRule => ({
    uid: r.uid, name: r.name, condition: "C", for: r.for, noDataState: r.noDataState, execErrState: r.execErrState,
    labels: r.labels,
    annotations: { summary: r.summary, description: r.description, runbook_url: runbook(r.uid) },
    datas: r.datas,
  });
  return [
    rule({
      uid: "analytics-dau-drop",
      name: "DAU dropped versus the same weekday last week",
      for: "30m",
      // The query always returns one row; no data means a broken query or a missing table, which must not pass
      // silently as "fine". ClickHouse being unreachable is an error of its own, not a DAU drop.
      noDataState: "NoData",
      execErrState: "Error",
      labels: { severity: "warning", area: "product" },
      summary: `DAU so far is down more than ${percent(a.dauDropShare)} versus the same weekday last week`,
      description: `People active today so far are more than ${percent(a.dauDropShare)} fewer than on the same weekday ` +
        `last week by the same time of day (dauDropShare = ${a.dauDropShare}; ignored while last week had fewer than ` +
        `${s.dauDropMinBaseline} people by now). Current drop: {{ humanizePercentage $values.B.Value }}.`,
      datas: [queryData(q.dauDrop, 600), ...reduceAndThreshold("gt", a.dauDropShare)],
    }),
    rule({
      uid: "analytics-no-events",
      name: "No events received",
      // The window itself is noEventsMinutes of silence; the 2 minutes are for a query that fails once (ClickHouse
      // restarting in a deploy), which with 0s paged "no events for 15 minutes" at once.
      for: "2m",
      // Zero rows would also mean nothing arrived; and if ClickHouse cannot answer, events are not being stored
      // either: both page the on-call for the same reason.
      noDataState: "Alerting",
      execErrState: "Alerting",
      labels: { severity: "critical", area: "ingest" },
      summary: `No events received for ${a.noEventsMinutes} minutes`,
      description: `ClickHouse stored fewer than 1 event in the last ${a.noEventsMinutes} minutes ` +
        `(noEventsMinutes = ${a.noEventsMinutes}), or could not be queried for 2 minutes. ` +
        `Events received: {{ $values.B.Value }} (0 also when the query failed).`,
      datas: [queryData(q.noEvents, a.noEventsMinutes * 60), ...reduceAndThreshold("lt", 1)],
    }),
    rule({
      uid: "analytics-ingest-errors",
      name: "Ingest error log rate high",
      for: "5m",
      // No error lines means Loki returns no series: that is the healthy case. Loki failing is reported as an error.
      noDataState: "OK",
      execErrState: "Error",
      labels: { severity: "critical", area: "ingest" },
      summary: `The ingest logs more than ${a.ingestErrorsPerMinute} errors per minute`,
      description: `The ingest service wrote more than ${a.ingestErrorsPerMinute} error or fatal log lines in a minute ` +
        `(ingestErrorsPerMinute = ${a.ingestErrorsPerMinute}) for 5 minutes. Last minute: {{ $values.B.Value }} lines.`,
      datas: [queryData(q.ingestErrors, 60), ...reduceAndThreshold("gt", a.ingestErrorsPerMinute)],
    }),
    rule({
      uid: "analytics-ingest-lag",
      name: "Ingest lag high",
      for: "10m",
      // Nothing arrived means no lag to measure (the query returns 0); silence is the no-events rule's job.
      noDataState: "OK",
      execErrState: "Error",
      labels: { severity: "warning", area: "ingest" },
      summary: `p95 ingest lag above ${a.ingestLagSeconds} s`,
      description: `The 95th percentile of received_at - event_time over the last 5 minutes is above ` +
        `${a.ingestLagSeconds} seconds (ingestLagSeconds = ${a.ingestLagSeconds}) for 10 minutes. ` +
        `Current p95: {{ $values.B.Value }} s.`,
      datas: [queryData(q.ingestLagP95, 300), ...reduceAndThreshold("gt", a.ingestLagSeconds)],
    }),
    rule({
      uid: "analytics-spool-backlog",
      name: "Ingest spool backlog old",
      for: "5m",
      // No lines in the window: the ingest is idle (nothing to ship) or down (the no-events rule's job).
      noDataState: "OK",
      execErrState: "Error",
      labels: { severity: "warning", area: "ingest" },
      summary: `Accepted events wait more than ${a.spoolBacklogSeconds} s to reach ClickHouse`,
      description: `The oldest event the ingest accepted but has not shipped to ClickHouse has waited more than ` +
        `${a.spoolBacklogSeconds} seconds (spoolBacklogSeconds = ${a.spoolBacklogSeconds}) for 5 minutes: the ` +
        `dashboards are that far behind. Oldest now: {{ $values.B.Value }} s.`,
      datas: [queryData(q.spoolBacklogAge, 120), ...reduceAndThreshold("gt", a.spoolBacklogSeconds)],
    }),
  ];
}

/** Contact point settings from config: a webhook, an email list, or none (rules still show in Grafana). */
export type ContactPointSpec =
  | { readonly kind: "webhook"; readonly name: string; readonly url: string }
  | { readonly kind: "email"; readonly name: string; readonly addresses: readonly string[] };

export function contactPointSpecs(s: AnalyticsSettings): ContactPointSpec[] {
  const specs: ContactPointSpec[] = [];
  if (s.alerts.webhookUrl) specs.push({ kind: "webhook", name: `${s.stack}-alerts`, url: s.alerts.webhookUrl });
  if (s.alerts.email) {
    specs.push({ kind: "email", name: `${s.stack}-alerts`, addresses: s.alerts.email.split(",").map((a) => a.trim()) });
  }
  return specs;
}

/** The notification policy: everything to this stack's contact point, grouped by rule and severity. */
export function notificationPolicySpec(contactPoint: string) {
  return {
    contactPoint,
    groupBies: ["alertname", "severity"],
    groupWait: "30s",
    groupInterval: "5m",
    repeatInterval: "4h",
  } as const;
}
