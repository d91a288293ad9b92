/**
 * Grafana Alloy configuration (the log shipper that replaces Promtail, end of life since 2026-03-02), as a pure
 * function of the stack config. Same discovery, labels and pipeline as promtail-config.ts, from log-pipeline.ts:
 *
 *   discovery.docker (this stack's containers) --targets--> loki.source.docker --> loki.process --> loki.write
 *   discovery.relabel --rules----------------------------/
 *
 * `discovery.relabel` gets no targets of its own: its rules are handed to `loki.source.docker`, which applies them
 * to each container's `__meta_docker_*` labels (they would be dropped before reaching a later component).
 *
 * The config is built as a small syntax tree and printed by `renderAlloy`, so values are always quoted and
 * escaped correctly (the level template contains quotes).
 */
import { LOKI_INTERNAL_URL, LOKI_PUSH_PATH } from "./loki-config";
import {
  DOCKER_HOST, JSON_FIELDS, LINE_LABELS, RELABEL_RULES, STRUCTURED_METADATA, TIME_MS_FIELD, levelTemplate,
  sameNameSources, stackContainerFilter, timeMsTemplate,
} from "./log-pipeline";
import type { StackConfig } from "./stack-config";

export const ALLOY_HTTP_PORT = 12345;
export const ALLOY_CONFIG_PATH = "/etc/alloy/config.alloy";
/** Alloy's storage path (read positions, WAL); the image creates it, the stack mounts a volume on it. */
export const ALLOY_DATA_DIR = "/var/lib/alloy/data";

/** A reference to another component's export, printed bare (`loki.write.loki.receiver`). */
export class AlloyRef {
  constructor(readonly path: string) {}
}
export type AlloyValue = string | number | boolean | AlloyRef | readonly AlloyValue[] | { readonly [key: string]: AlloyValue };
export interface AlloyAttribute { readonly attr: string; readonly value: AlloyValue }
export interface AlloyBlock { readonly block: string; readonly label?: string; readonly body: readonly AlloyStatement[] }
export type AlloyStatement = AlloyAttribute | AlloyBlock;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function renderValue(value: AlloyValue): string {
  if (value instanceof AlloyRef) return value.path;
  // JSON string escapes (\" \\ \n \uXXXX) are also Alloy's.
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(renderValue).join(", ")}]`;
  const entries = Object.entries(value as { [key: string]: AlloyValue });
  if (entries.length === 0) return "{}";
  return `{ ${entries.map(([k, v]) => `${IDENTIFIER.test(k) ? k : JSON.stringify(k)} = ${renderValue(v)}`).join(", ")} }`;
}

function renderStatements(statements: readonly AlloyStatement[], indent: string): string[] {
  const lines: string[] = [];
  const attrs = statements.filter((s): s is AlloyAttribute => "attr" in s);
  const width = Math.max(0, ...attrs.map((a) => a.attr.length));
  for (const s of statements) {
    if ("attr" in s) {
      lines.push(`${indent}${s.attr.padEnd(width)} = ${renderValue(s.value)}`);
    } else {
      lines.push(`${indent}${s.block}${s.label === undefined ? "" : ` ${JSON.stringify(s.label)}`} {`);
      lines.push(...renderStatements(s.body, `${indent}  `));
      lines.push(`${indent}}`);
    }
  }
  return lines;
}

/** Prints a syntax tree in Alloy's configuration syntax. */
export function renderAlloy(blocks: readonly AlloyBlock[]): string {
  return blocks.map((b) => renderStatements([b], "").join("\n")).join("\n\n") + "\n";
}

const attr = (name: string, value: AlloyValue): AlloyAttribute => ({ attr: name, value });
const block = (name: string, body: AlloyStatement[], label?: string): AlloyBlock => ({ block: name, label, body });

/** The pipeline as Alloy components. */
export function alloyConfig(cfg: Pick<StackConfig, "namePrefix">, lokiUrl: string = LOKI_INTERNAL_URL): AlloyBlock[] {
  const filter = stackContainerFilter(cfg.namePrefix);
  return [
    block("discovery.docker", [
      attr("host", DOCKER_HOST),
      attr("refresh_interval", "5s"),
      block("filter", [attr("name", filter.name), attr("values", filter.values)]),
    ], "containers"),
    block("discovery.relabel", [
      attr("targets", []),
      ...RELABEL_RULES.map((r) => block("rule", [
        attr("source_labels", [r.sourceLabel]),
        ...(r.regex ? [attr("regex", r.regex)] : []),
        attr("target_label", r.targetLabel),
      ])),
    ], "containers"),
    block("loki.source.docker", [
      attr("host", DOCKER_HOST),
      attr("targets", new AlloyRef("discovery.docker.containers.targets")),
      attr("relabel_rules", new AlloyRef("discovery.relabel.containers.rules")),
      attr("forward_to", [new AlloyRef("loki.process.containers.receiver")]),
    ], "containers"),
    block("loki.process", [
      attr("forward_to", [new AlloyRef("loki.write.loki.receiver")]),
      block("stage.json", [attr("expressions", sameNameSources(JSON_FIELDS))]),
      block("stage.template", [attr("source", "level"), attr("template", levelTemplate())]),
      block("stage.template", [attr("source", TIME_MS_FIELD), attr("template", timeMsTemplate())]),
      block("stage.labels", [attr("values", sameNameSources(LINE_LABELS))]),
      block("stage.structured_metadata", [attr("values", sameNameSources(STRUCTURED_METADATA))]),
      block("stage.timestamp", [attr("source", TIME_MS_FIELD), attr("format", "UnixMs"), attr("action_on_failure", "skip")]),
    ], "containers"),
    block("loki.write", [block("endpoint", [attr("url", `${lokiUrl}${LOKI_PUSH_PATH}`)])], "loki"),
  ];
}

export function renderAlloyConfig(cfg: Pick<StackConfig, "namePrefix">, lokiUrl?: string): string {
  return "// Generated from the stack config by components/alloy-config.ts; do not edit.\n" +
    renderAlloy(alloyConfig(cfg, lokiUrl));
}
