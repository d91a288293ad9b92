/**
 * What the log shipper does to every line, whichever shipper runs it (Promtail or Alloy): one spec, two renderers
 * (promtail-config.ts, alloy-config.ts), so the two cannot drift apart.
 *
 * Streams are labelled `service`, `container` and `stack` from Docker metadata, and `level` from the line itself.
 * That is the whole label set: each label multiplies Loki's streams, so only small, bounded sets become labels.
 * `request_id` and `user_id` are unbounded, so they travel as structured metadata (queryable with
 * `| request_id="..."` without parsing, never indexed) and stay in the JSON line as well.
 *
 * Levels: pino writes numbers (10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal) unless configured
 * otherwise; Grafana, Loki and ClickHouse write words (`info`, `Information`, `warning`, ...). Both become one of
 * six lower-case names, and a line whose level is missing or unknown gets no `level` label at all.
 */
import { SERVICE_LABEL, STACK_LABEL } from "./service-container";

export const DOCKER_SOCKET = "/var/run/docker.sock";
export const DOCKER_HOST = `unix://${DOCKER_SOCKET}`;

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

/** Every spelling the shipper recognises, per level; matched after lower-casing. */
export const LEVEL_ALIASES: Readonly<Record<LogLevel, readonly string[]>> = {
  trace: ["10", "trace"],
  debug: ["20", "debug"],
  info: ["30", "info", "information", "notice"],
  warn: ["40", "warn", "warning"],
  error: ["50", "error", "err"],
  fatal: ["60", "fatal", "critical", "crit", "panic"],
};

/** Reference implementation of the level mapping the shipper applies (the template below encodes the same table). */
export function normalizeLevel(raw: unknown): LogLevel | undefined {
  if (typeof raw !== "string" && typeof raw !== "number") return undefined;
  const value = String(raw).trim().toLowerCase();
  for (const [level, aliases] of Object.entries(LEVEL_ALIASES) as [LogLevel, readonly string[]][]) {
    if (aliases.includes(value)) return level;
  }
  return undefined;
}

/**
 * Go text/template for the shipper's `template` stage on the extracted `level`. An unknown or missing value renders
 * as the empty string, which makes the stage delete the key, so the `labels` stage adds no `level` label.
 * (`print` turns pino's numeric level, extracted as a float, into "30"; ToLower is a built-in of both shippers.)
 */
export function levelTemplate(): string {
  const branches = (Object.entries(LEVEL_ALIASES) as [LogLevel, readonly string[]][])
    .map(([level, aliases], i) =>
      `{{- ${i === 0 ? "if" : "else if"} eq $l ${aliases.map((a) => JSON.stringify(a)).join(" ")} -}}${level}`);
  return `{{- $l := ToLower (TrimSpace (print .Value)) -}}${branches.join("")}{{- end -}}`;
}

/** Fields read from JSON lines: the level, the correlation ids, and the line's own `time`. */
export const JSON_FIELDS = ["level", "request_id", "user_id", "time"] as const;
/** Extracted fields that become stream labels. */
export const LINE_LABELS = ["level"] as const;
/**
 * The line's time in epoch milliseconds, derived from `time`: it becomes the entry's timestamp (the moment the
 * service logged, not when Docker handed the line over) and is kept so Grafana can link a line to the dashboards
 * at that moment (a derived field can only use a value it finds on the line).
 */
export const TIME_MS_FIELD = "time_ms";
/** Extracted fields kept as structured metadata (unbounded values: never labels). */
export const STRUCTURED_METADATA = ["request_id", "user_id", TIME_MS_FIELD] as const;

/** An ISO-8601 time with a zone, such as pino's isoTime `2026-01-01T00:00:00.123Z`. */
const ISO_TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$/;

/**
 * Reference implementation of the time conversion the shipper applies: pino's default epoch milliseconds (13 digits)
 * as they are, an ISO-8601 time with zone (pino's isoTime, Grafana, Loki) converted, anything else dropped.
 */
export function epochMillis(raw: unknown): number | undefined {
  if (typeof raw !== "string" && typeof raw !== "number") return undefined;
  const value = String(raw);
  if (/^[0-9]{13}$/.test(value)) return Number(value);
  if (!ISO_TIME.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) || ms <= 0 ? undefined : ms;
}

/**
 * Go template (with the sprig functions both shippers load) computing `time_ms` from the extracted `time`, as
 * `epochMillis` does; an empty result leaves `time_ms` unset, so the entry keeps Docker's timestamp.
 */
export function timeMsTemplate(): string {
  return "{{- with .time -}}" +
    `{{- if regexMatch ${JSON.stringify("^[0-9]{13}$")} . -}}{{ . }}` +
    `{{- else if regexMatch ${JSON.stringify(ISO_TIME.source)} . -}}` +
    `{{- $ms := (toDate "2006-01-02T15:04:05Z07:00" .).UnixMilli -}}{{- if gt $ms 0 -}}{{ $ms }}{{- end -}}` +
    "{{- end -}}{{- end -}}";
}

/** `{ field: "" }`: in every shipper stage used here, an empty source means "the extracted value of that name". */
export function sameNameSources(fields: readonly string[]): Record<string, string> {
  return Object.fromEntries(fields.map((f) => [f, ""]));
}

/** Prometheus-style meta label Docker discovery gives a container label (dots become underscores). */
export function dockerLabelMeta(dockerLabel: string): string {
  return `__meta_docker_container_label_${dockerLabel.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

export interface RelabelRule {
  readonly sourceLabel: string;
  readonly targetLabel: string;
  /** Regex with one capture group; the whole value when absent. */
  readonly regex?: string;
}

/** Stream labels taken from Docker metadata. */
export const RELABEL_RULES: readonly RelabelRule[] = [
  { sourceLabel: dockerLabelMeta(SERVICE_LABEL), targetLabel: "service" },
  // Docker reports names with a leading slash.
  { sourceLabel: "__meta_docker_container_name", targetLabel: "container", regex: "/(.*)" },
  { sourceLabel: dockerLabelMeta(STACK_LABEL), targetLabel: "stack" },
];

/** Docker API filter that limits discovery to this stack's containers. */
export function stackContainerFilter(namePrefix: string): { name: "label"; values: string[] } {
  return { name: "label", values: [`${STACK_LABEL}=${namePrefix}`] };
}

/** Every label a stream can carry after the pipeline. */
export const STREAM_LABELS = [...RELABEL_RULES.map((r) => r.targetLabel), ...LINE_LABELS];
