/**
 * Review: the ingest-errors rule evaluated the way Grafana and Loki evaluate it, from the rule's own data (query type,
 * relative time range, step, the LogQL range), against error-line timestamps with a known answer.
 *
 * Loki semantics modelled (documented behaviour of metric queries): a range query returns one point per step t in
 * [start, end] whose `[w]` window (t - w, t] holds at least one line (a step with no line has no point); an instant
 * query returns the value at `end` only, or no series. Grafana: `last` reducer over the points, the threshold on it,
 * no series -> the rule's noDataState; the rule fires once the condition held for `for` (evaluations every interval).
 */
import { describe, expect, it } from "vitest";
import { ALERT_INTERVAL_SECONDS, alertRules, type AlertRule } from "../dashboards/alert-rules";
import { analyticsSettings } from "../dashboards/settings";
import { loadConfig } from "../components/stack-config";

const cfg = loadConfig({}, "dev");
const rule = alertRules(analyticsSettings(cfg)).find((r) => r.uid === "analytics-ingest-errors")!;
const threshold = cfg.alerts.ingestErrorsPerMinute;

const seconds = (d: string) => {
  const m = /^(\d+)([smh])$/.exec(d);
  if (!m) throw new Error(`duration ${d}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s" | "m" | "h"];
};

/** The points query A returns at `nowS` (seconds), for error lines at `lines` (seconds). */
function queryPoints(r: AlertRule, lines: readonly number[], nowS: number): number[] {
  const a = r.datas.find((d) => d.refId === "A")!;
  const model = JSON.parse(a.model);
  const queryType = a.queryType ?? model.queryType;
  const windowS = seconds(/\[(\d+[smh])\]/.exec(model.expr)![1]);
  const countAt = (t: number) => lines.filter((l) => l > t - windowS && l <= t).length;
  if (queryType === "instant") {
    const n = countAt(nowS);
    return n > 0 ? [n] : [];
  }
  expect(queryType).toBe("range");
  const stepS = Math.max(1, model.intervalMs / 1000, a.relativeTimeRange.from / model.maxDataPoints);
  const points: number[] = [];
  for (let t = nowS - a.relativeTimeRange.from; t <= nowS; t += stepS) {
    const n = countAt(t);
    if (n > 0) points.push(n);
  }
  return points;
}

/** Evaluation times (seconds) at which the rule is firing, evaluating every ALERT_INTERVAL_SECONDS over [0, endS]. */
function firingAt(r: AlertRule, lines: readonly number[], endS: number): number[] {
  const forS = seconds(r.for);
  let activeSince: number | undefined;
  const firing: number[] = [];
  for (let now = 0; now <= endS; now += ALERT_INTERVAL_SECONDS) {
    const points = queryPoints(r, lines, now);
    const condition = points.length === 0 ? r.noDataState === "Alerting" : points[points.length - 1] > threshold;
    if (!condition) { activeSince = undefined; continue; }
    activeSince ??= now;
    if (now - activeSince >= forS) firing.push(now);
  }
  return firing;
}

/** threshold + 3 error lines every minute, spread over the minute, from t = 600 s to t = 1500 s. */
function sustainedErrors(): number[] {
  const lines: number[] = [];
  for (let minute = 10; minute < 25; minute++) {
    for (let i = 0; i < threshold + 3; i++) lines.push(minute * 60 + 5 + i * Math.floor(50 / (threshold + 3)));
  }
  return lines;
}

describe("ingest errors rule, evaluated", () => {
  it("fires when the ingest logs more than the threshold every minute for longer than `for`", () => {
    const lines = sustainedErrors();
    expect(firingAt(rule, lines, 3600).length).toBeGreaterThan(0);
  });

  it("does not fire for one burst of errors in a single second that never recurs", () => {
    // threshold + 1 lines at t = 1000 s, then silence: errors above the threshold during at most one minute.
    const lines = Array.from({ length: threshold + 1 }, () => 1000);
    expect(firingAt(rule, lines, 3600)).toEqual([]);
  });

  it("is not firing a minute after the errors stopped", () => {
    const lines = sustainedErrors();
    const firing = firingAt(rule, lines, 3600);
    // The last line is logged before t = 1500 s; it leaves the [1m] window by 1560 s.
    expect(Math.max(...firing)).toBeLessThanOrEqual(1560);
  });
});
