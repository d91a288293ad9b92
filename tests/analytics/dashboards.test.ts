/**
 * The generated dashboards and alert rules, checked structurally: layout, ids, datasources, units, links, LogQL
 * that Loki accepts, and alert rules with the full query -> reduce -> threshold chain.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dashboardArtifacts } from "../../components/dashboards";
import { loadConfig } from "../../components/stack-config";
import { alertRules } from "../../dashboards/alert-rules";
import { exploreLogql } from "../../dashboards/explore-links";
import { ingestDashboard } from "../../dashboards/ingest-dashboard";
import { productDashboard } from "../../dashboards/product-dashboard";
import { alertQueries, ingestQueries, productQueries, serviceLogsQuery } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import { expandLogql } from "../support/grafana-macros";
import { logqlProblems } from "../support/logql";

const cfg = loadConfig({ alertWebhookUrl: "https://hooks.example.com/T0/secret-token", dauDropShare: "0.25" }, "dev");
const settings = analyticsSettings(cfg);
const boards = { product: productDashboard(settings), ingest: ingestDashboard(settings) };
type Panel = { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets?: any[];
  datasource?: { uid: string }; fieldConfig?: { defaults?: { unit?: string; links?: { url: string }[]; thresholds?: { steps: { value: number | null }[] } } } };
const panelsOf = (board: unknown) => (board as { panels: Panel[] }).panels;

/** Service values the logs panel and links must work with: All (`.+`) and one service. */
const serviceValues = [".+", "ingest"];

describe("dashboards", () => {
  it.each(Object.entries(boards))("%s: unique panel ids, no overlapping grid positions, inside 24 columns", (_, board) => {
    const panels = panelsOf(board);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const [i, a] of panels.entries()) {
      expect(a.gridPos.x + a.gridPos.w, a.title).toBeLessThanOrEqual(24);
      for (const b of panels.slice(i + 1)) {
        const overlap = a.gridPos.x < b.gridPos.x + b.gridPos.w && b.gridPos.x < a.gridPos.x + a.gridPos.w &&
          a.gridPos.y < b.gridPos.y + b.gridPos.h && b.gridPos.y < a.gridPos.y + a.gridPos.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
    }
  });

  it("have the fixed uids and query only the fixed datasource uids", () => {
    expect((boards.product as { uid: string }).uid).toBe("product-analytics");
    expect((boards.ingest as { uid: string }).uid).toBe("ingest-health");
    for (const board of Object.values(boards)) {
      for (const panel of panelsOf(board)) {
        expect(["clickhouse", "loki"]).toContain(panel.datasource?.uid);
        for (const target of panel.targets ?? []) expect(target.datasource?.uid ?? panel.datasource?.uid).toBe(panel.datasource?.uid);
      }
    }
  });

  it("every ClickHouse panel runs a named query, and every named query is on a panel", () => {
    const named = [...Object.values(productQueries(settings)), ...Object.values(ingestQueries(settings)), serviceLogsQuery(settings)];
    const onPanels = Object.values(boards).flatMap((b) => panelsOf(b)).flatMap((p) => p.targets ?? []).map((t) => t.rawSql ?? t.expr);
    expect(new Set(onPanels)).toEqual(new Set(named.map((q) => (q.kind === "clickhouse" ? q.sql : q.expr))));
  });

  it("the product dashboard has every panel the product asks for", () => {
    const titles = panelsOf(boards.product).map((p) => p.title);
    for (const wanted of ["Daily active users", "Weekly active users", "Monthly active users", "Stickiness (DAU / MAU)",
      "Active users (24 h)", "Events today", "New signups", "Feature adoption this week", "Feature adoption by week",
      "Retention by signup cohort", "Conversion funnel", "Top events", "Logs of the selected service"]) {
      expect(titles).toContain(wanted);
    }
    const variables = (boards.product as { templating: { list: { name: string; allValue?: string }[] } }).templating.list;
    expect(variables.map((v) => v.name)).toEqual(["event_name", "service"]);
    expect(variables.find((v) => v.name === "service")?.allValue).toBe(".+");
  });

  it("every time-series panel links to Loki Explore for the same time range and a valid selector", () => {
    for (const board of Object.values(boards)) {
      for (const panel of panelsOf(board).filter((p) => p.type === "timeseries")) {
        const links = panel.fieldConfig?.defaults?.links ?? [];
        expect(links.length, panel.title).toBeGreaterThan(0);
        for (const value of serviceValues) {
          const url = links[0].url.split("${service:percentencode}").join(encodeURIComponent(value));
          expect(url).toMatch(/^\/explore\?/);
          const panes = JSON.parse(new URLSearchParams(url.split("?")[1]).get("panes")!);
          expect(panes.a.range).toEqual({ from: "${__from}", to: "${__to}" });
          expect(panes.a.datasource).toBe("loki");
          expect(logqlProblems(panes.a.queries[0].expr), panes.a.queries[0].expr).toEqual([]);
        }
      }
    }
    expect(exploreLogql(settings)).toContain(`stack="${cfg.namePrefix}"`);
  });

  it("stat thresholds ascend (no inverted colours) and every panel has a unit", () => {
    for (const board of Object.values(boards)) {
      for (const panel of panelsOf(board).filter((p) => p.type !== "logs")) {
        expect(panel.fieldConfig?.defaults?.unit, panel.title).toBeTruthy();
        const steps = panel.fieldConfig?.defaults?.thresholds?.steps ?? [];
        const values = steps.slice(1).map((s) => s.value as number);
        expect(values, panel.title).toEqual([...values].sort((a, b) => a - b));
      }
    }
  });
});

describe("LogQL", () => {
  const exprs = [
    ...Object.values(ingestQueries(settings)).filter((q) => q.kind === "loki").map((q) => q.expr),
    serviceLogsQuery(settings).expr,
    ...Object.values(alertQueries(settings)).filter((q) => q.kind === "loki").map((q) => q.expr),
  ];

  it.each(exprs)("parses and has a matcher that cannot match the empty string: %s", (expr) => {
    for (const service of serviceValues) {
      const expanded = expandLogql(expr, { fromMs: 0, toMs: 0, intervalSeconds: 60, variables: { service } });
      expect(logqlProblems(expanded), expanded).toEqual([]);
    }
  });

  it("the checker would catch the reference's selector", () => {
    expect(logqlProblems('{service=~".*"}').length).toBeGreaterThan(0);
  });
});

describe("alert rules", () => {
  const rules = alertRules(settings);

  it("cover DAU drop, no events, ingest errors, ingest lag and the spool backlog, with stable unique uids", () => {
    expect(rules.map((r) => r.uid)).toEqual(["analytics-dau-drop", "analytics-no-events", "analytics-ingest-errors", "analytics-ingest-lag", "analytics-spool-backlog"]);
    expect(alertRules(settings)).toEqual(rules); // a pure function: same config, same rules
  });

  it.each(rules.map((r) => [r.uid, r] as const))("%s: query -> reduce -> threshold with relative time range and chosen states", (_, rule) => {
    expect(rule.condition).toBe("C");
    expect(rule.datas.map((d) => d.refId)).toEqual(["A", "B", "C"]);
    const [query, reduce, threshold] = rule.datas.map((d) => ({ ...d, model: JSON.parse(d.model) }));
    expect(["clickhouse", "loki"]).toContain(query.datasourceUid);
    expect(query.relativeTimeRange.from).toBeGreaterThan(0);
    expect(query.relativeTimeRange.to).toBe(0);
    expect(query.model.rawSql ?? query.model.expr).toBeTruthy();
    expect(reduce.model).toMatchObject({ type: "reduce", expression: "A", reducer: "last" });
    expect(threshold.model).toMatchObject({ type: "threshold", expression: "B" });
    const [evaluator] = threshold.model.conditions.map((c: any) => c.evaluator);
    expect(["gt", "lt"]).toContain(evaluator.type);
    expect(["NoData", "Alerting", "OK"]).toContain(rule.noDataState);
    expect(["Error", "Alerting", "OK"]).toContain(rule.execErrState);
    expect(["critical", "warning"]).toContain(rule.labels.severity);
    expect(rule.annotations.summary).toBeTruthy();
    // The description quotes the threshold as configured.
    const quoted = evaluator.params[0] === 1 && rule.uid === "analytics-no-events" ? String(cfg.alerts.noEventsMinutes) : String(evaluator.params[0]);
    expect(rule.annotations.description).toContain(quoted);
    expect(rule.annotations.runbook_url).toBe(`docs/runbooks/${rule.uid}.md`);
    expect(existsSync(join(__dirname, "..", "..", rule.annotations.runbook_url)), `write ${rule.annotations.runbook_url}`).toBe(true);
  });

  it("thresholds come from config", () => {
    const byUid = Object.fromEntries(rules.map((r) => [r.uid, JSON.parse(r.datas[2].model).conditions[0].evaluator]));
    expect(byUid["analytics-dau-drop"]).toEqual({ type: "gt", params: [0.25] });
    expect(byUid["analytics-no-events"]).toEqual({ type: "lt", params: [1] });
    expect(byUid["analytics-ingest-errors"]).toEqual({ type: "gt", params: [cfg.alerts.ingestErrorsPerMinute] });
    expect(byUid["analytics-ingest-lag"]).toEqual({ type: "gt", params: [cfg.alerts.ingestLagSeconds] });
    expect(byUid["analytics-spool-backlog"]).toEqual({ type: "gt", params: [cfg.alerts.spoolBacklogSeconds] });
    const noEvents = rules.find((r) => r.uid === "analytics-no-events")!;
    expect(noEvents.datas[0].relativeTimeRange.from).toBe(cfg.alerts.noEventsMinutes * 60);
  });

  it("every runbook names its alert and says what to check", () => {
    for (const rule of rules) {
      const text = readFileSync(join(__dirname, "..", "..", rule.annotations.runbook_url), "utf8");
      expect(text).toContain(rule.uid);
      expect(text).toMatch(/## (What to check|Check)/);
    }
  });
});

describe("settings and artifacts", () => {
  it("reject bad funnel steps with a message naming the field", () => {
    expect(() => analyticsSettings(cfg, { funnelSteps: ["signup"] })).toThrow(/funnelSteps: got 1 steps/);
    expect(() => analyticsSettings(cfg, { funnelSteps: ["signup", "x'; DROP TABLE y"] })).toThrow(/event name/);
    // windowFunnel lets one event meet two steps of the same name: one page view completed page_viewed -> page_viewed.
    expect(() => analyticsSettings(cfg, { funnelSteps: ["signup", "page_viewed", "page_viewed"] }))
      .toThrow('funnelSteps: step 3 repeats step 2 ("page_viewed"); each step must be a different event name');
    expect(() => analyticsSettings(cfg, { retentionOffsetsDays: [] })).toThrow(/retentionOffsetsDays/);
  });

  it("render the dashboards and alert payloads without the webhook's token", () => {
    const files = dashboardArtifacts(cfg);
    expect(Object.keys(files).sort()).toEqual([
      "grafana/alerting/contact-points.json", "grafana/alerting/notification-policy.json", "grafana/alerting/rule-group.json",
      "grafana/dashboards/ingest-health.json", "grafana/dashboards/product-analytics.json",
    ]);
    expect(JSON.parse(files["grafana/dashboards/product-analytics.json"]).uid).toBe("product-analytics");
    expect(Object.values(files).join("\n")).not.toContain("secret-token");
    expect(JSON.parse(files["grafana/alerting/rule-group.json"]).rules).toHaveLength(5);
  });
});
