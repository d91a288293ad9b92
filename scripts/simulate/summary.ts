/** The final summary of a run, as text lines (pure, so tests read exactly what a user sees). */
import type { SimulateOptions } from "./flags";
import { EVENTS, INCIDENT_FEATURE } from "./model";
import type { RunResult } from "./run";

const iso = (ms: number) => new Date(ms).toISOString().replace(/:\d{2}\.\d{3}Z$/, "Z");
const pct = (part: number, whole: number) => (whole === 0 ? "0%" : `${Math.round((part / whole) * 100)}%`);
const list = (counts: Readonly<Record<string, number>>) =>
  Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k, v]) => `${k} ${v}`).join(", ");

export function summaryLines(options: SimulateOptions, result: RunResult, logDestination: string): string[] {
  const m = result.model;
  const signups = m.eventsByName[EVENTS.signup] ?? 0;
  const activated = m.eventsByName[EVENTS.projectCreated] ?? 0;
  const lines = [
    `Simulated ${iso(result.startMs)} .. ${iso(result.untilMs)} (${options.days} days + today), seed ${options.seed}` +
      (result.liveCalls > 0 ? `, then ${result.liveCalls} live calls` : ""),
    `People: ${signups} signups (${pct(activated, signups)} activated), ${m.churned} churned, ${m.anonymousVisitors} anonymous visitors who did not sign up`,
    `Calls: ${result.calls} (${list(m.callsByKind)})`,
    `Track events by name: ${list(m.eventsByName)}`,
  ];
  if (options.incident) {
    lines.push(`Incident: ${iso(options.incident.startMs)} for ${Math.round((options.incident.endMs - options.incident.startMs) / 60_000)} min: ` +
      `${m.incidentFailures} failed ${INCIDENT_FEATURE} (logged as errors, not sent), ${m.callsByKind.invalid ?? 0} broken calls (the ingest should refuse them)`);
  }
  lines.push(`App log lines: ${result.appLogLines} ${logDestination}` +
    (result.appLogLinesTooOld > 0 ? `; ${result.appLogLinesTooOld} older than 6 days not written (Loki refuses them)` : ""));
  const s = result.sender;
  if (s) {
    const rejected = Object.keys(s.rejected).length > 0 ? list(s.rejected) : "none";
    lines.push(`Ingest: ${s.accepted} stored, ${s.duplicates} duplicates (already stored), rejected: ${rejected}; ${s.retries} retries`);
    if (s.unexpectedRejections > 0) lines.push(`WARNING: ${s.unexpectedRejections} valid batches were refused:`, ...s.problems.map((p) => `  ${p}`));
  } else {
    lines.push("Dry run: nothing sent.");
  }
  const seconds = result.elapsedMs / 1000;
  lines.push(`${s ? "Sent" : "Generated"} ${result.calls} calls in ${seconds.toFixed(1)} s: ${Math.round(result.calls / Math.max(seconds, 0.001))} events/s`);
  lines.push(`Digest: ${result.digest}`);
  return lines;
}
