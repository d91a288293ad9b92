import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { AlloyRef, renderAlloy, renderAlloyConfig } from "../components/alloy-config";
import {
  LEVEL_ALIASES, STREAM_LABELS, epochMillis, levelTemplate, normalizeLevel, timeMsTemplate, type LogLevel,
} from "../components/log-pipeline";
import { bashHttpProbe, logShipperArtifacts, shipperPlan } from "../components/log-shipper";
import { PROMTAIL_HTTP_PORT, renderPromtailConfig } from "../components/promtail-config";
import { loadConfig } from "../components/stack-config";
import { runHealthcheck, startStatusServer, type ProbeServer } from "./support/healthcheck-probe";

const dev = loadConfig({ logShipper: "promtail" }, "dev");
const prod = loadConfig({ logShipper: "alloy" }, "prod");

// ---------------------------------------------------------------------------------------------------------------
// A small, independent reader for Alloy's configuration syntax: blocks, attributes, strings, numbers, booleans,
// lists, objects and bare references. Enough to read back what alloy-config.ts writes.
type Value = string | number | boolean | null | Ref | Value[] | { [key: string]: Value };
class Ref { constructor(readonly path: string) {} }
interface Block { name: string; label?: string; attrs: Record<string, Value>; blocks: Block[] }

function tokenize(src: string): string[] {
  const tokens: string[] = [];
  const re = /\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|("(?:[^"\\]|\\.)*")|(`[^`]*`)|(-?\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|([{}\[\]=,.])|(.)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(src)) !== null) {
    if (m[6] !== undefined) throw new Error(`unexpected character ${JSON.stringify(m[6])} at ${m.index}`);
    const token = m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5];
    if (token !== undefined) tokens.push(token);
  }
  return tokens;
}

function parseAlloy(src: string): Block[] {
  const t = tokenize(src);
  let i = 0;
  const expect = (tok: string) => { if (t[i++] !== tok) throw new Error(`expected ${tok} at token ${i - 1}, got ${t[i - 1]}`); };
  const isIdent = (tok: string | undefined) => tok !== undefined && /^[A-Za-z_]/.test(tok);
  const dotted = () => { let name = t[i++]; while (t[i] === "." && isIdent(t[i + 1])) { name += `.${t[i + 1]}`; i += 2; } return name; };
  const str = (tok: string) => (tok.startsWith("`") ? tok.slice(1, -1) : JSON.parse(tok) as string);

  function value(): Value {
    const tok = t[i];
    if (tok === "[") {
      i++;
      const items: Value[] = [];
      while (t[i] !== "]") { items.push(value()); if (t[i] === ",") i++; }
      i++;
      return items;
    }
    if (tok === "{") {
      i++;
      const obj: { [key: string]: Value } = {};
      while (t[i] !== "}") {
        const key = t[i].startsWith('"') ? str(t[i++]) : t[i++];
        expect("=");
        obj[key] = value();
        if (t[i] === ",") i++;
      }
      i++;
      return obj;
    }
    if (tok.startsWith('"') || tok.startsWith("`")) { i++; return str(tok); }
    if (/^-?\d/.test(tok)) { i++; return Number(tok); }
    if (tok === "true" || tok === "false") { i++; return tok === "true"; }
    if (tok === "null") { i++; return null; }
    if (isIdent(tok)) return new Ref(dotted());
    throw new Error(`unexpected ${tok} at token ${i}`);
  }

  function body(top: boolean): Block & { attrs: Record<string, Value> } {
    const out: Block = { name: "", attrs: {}, blocks: [] };
    while (i < t.length && t[i] !== "}") {
      const name = dotted();
      if (t[i] === "=") { i++; out.attrs[name] = value(); continue; }
      const label = t[i]?.startsWith('"') ? str(t[i++]) : undefined;
      expect("{");
      const inner = body(false);
      expect("}");
      out.blocks.push({ ...inner, name, label });
    }
    if (top && i < t.length) throw new Error(`unbalanced } at token ${i}`);
    return out;
  }
  return body(true).blocks;
}

function refs(value: Value | undefined): string[] {
  if (value instanceof Ref) return [value.path];
  if (Array.isArray(value)) return value.flatMap(refs);
  if (value && typeof value === "object") return Object.values(value).flatMap(refs);
  return [];
}
// ---------------------------------------------------------------------------------------------------------------

const promtail = parse(renderPromtailConfig(dev));
const scrape = promtail.scrape_configs[0];
const stage = (name: string) => scrape.pipeline_stages.filter((s: Record<string, unknown>) => name in s).map((s: Record<string, unknown>) => s[name]);

describe("Promtail config", () => {
  it("discovers only this stack's containers through the Docker socket", () => {
    expect(scrape.docker_sd_configs).toEqual([{
      host: "unix:///var/run/docker.sock",
      refresh_interval: "5s",
      filters: [{ name: "label", values: ["analytics.stack=analytics-dev"] }],
    }]);
  });

  it("labels streams with service, container and stack from Docker metadata", () => {
    expect(scrape.relabel_configs).toEqual([
      { source_labels: ["__meta_docker_container_label_analytics_service"], target_label: "service" },
      { source_labels: ["__meta_docker_container_name"], regex: "/(.*)", target_label: "container" },
      { source_labels: ["__meta_docker_container_label_analytics_stack"], target_label: "stack" },
    ]);
  });

  it("parses JSON lines, maps the level, and makes level the only label taken from the line", () => {
    expect(Object.keys(stage("json")[0].expressions)).toEqual(expect.arrayContaining(["level", "request_id"]));
    expect(stage("template")[0]).toEqual({ source: "level", template: levelTemplate() });
    expect(stage("labels")).toEqual([{ level: "" }]);
  });

  it("keeps request_id as structured metadata, never as a label", () => {
    expect(Object.keys(stage("structured_metadata")[0])).toContain("request_id");
    for (const labels of stage("labels")) expect(Object.keys(labels)).not.toContain("request_id");
    expect(scrape.relabel_configs.map((r: { target_label: string }) => r.target_label)).not.toContain("request_id");
  });

  it("takes the entry time from the line's own time (epoch ms or ISO-8601), keeping Docker's when it has none", () => {
    expect(stage("template")[1]).toEqual({ source: "time_ms", template: timeMsTemplate() });
    expect(stage("timestamp")).toEqual([{ source: "time_ms", format: "UnixMs", action_on_failure: "skip" }]);
    expect(Object.keys(stage("structured_metadata")[0])).toContain("time_ms");
    const names = scrape.pipeline_stages.map((s: Record<string, unknown>) => Object.keys(s)[0]);
    expect(names.indexOf("timestamp")).toBeGreaterThan(names.lastIndexOf("template"));
  });

  it("pushes to Loki inside the network and keeps positions on its volume", () => {
    expect(promtail.clients).toEqual([{ url: "http://loki:3100/loki/api/v1/push" }]);
    expect(promtail.positions.filename).toBe("/var/lib/promtail/positions.yaml");
  });

  it("says in the file that Promtail is end of life and how to switch to Alloy", () => {
    expect(renderPromtailConfig(dev)).toMatch(/end of life on 2026-03-02.*analytics:logShipper alloy/);
  });
});

describe("level mapping", () => {
  it.each([
    [30, "info"], [40, "warn"], [50, "error"], [60, "fatal"], [10, "trace"], [20, "debug"],
    ["info", "info"], ["warn", "warn"], ["Information", "info"], ["Warning", "warn"], ["ERROR", "error"],
    [" error ", "error"], ["critical", "fatal"],
  ] as [string | number, LogLevel][])("maps %j to %s", (raw, level) => {
    expect(normalizeLevel(raw)).toBe(level);
  });

  it.each([[35], ["verbose"], [""], [null], [undefined], [{}]])("gives no level for %j", (raw) => {
    expect(normalizeLevel(raw)).toBeUndefined();
  });

  it("encodes exactly the alias table in the shipper's Go template, one branch per level", () => {
    const template = levelTemplate();
    const branches = [...template.matchAll(/\{\{- (?:if|else if) eq \$l ((?:"[^"]*" ?)+) -\}\}(\w+)/g)]
      .map(([, aliases, level]) => [level, [...aliases.matchAll(/"([^"]*)"/g)].map((a) => a[1])]);
    expect(Object.fromEntries(branches)).toEqual(LEVEL_ALIASES);
    expect(template.startsWith("{{- $l := ToLower (TrimSpace (print .Value)) -}}")).toBe(true);
    expect(template.endsWith("{{- end -}}")).toBe(true);
    // Every alias is lower case and trimmed: the template lower-cases and trims before comparing.
    for (const aliases of Object.values(LEVEL_ALIASES)) for (const a of aliases) expect(a).toBe(a.trim().toLowerCase());
  });
});

describe("line time", () => {
  it.each([
    [1767225600123, 1767225600123], ["1767225600123", 1767225600123], ["2026-01-01T00:00:00.123Z", 1767225600123],
    ["2026-01-01T01:00:00+01:00", 1767225600000], ["2026-01-01T00:00:00Z", 1767225600000],
  ])("reads %j as %i ms", (raw, ms) => {
    expect(epochMillis(raw)).toBe(ms);
  });

  it.each([[176722560012], ["1767225600.123"], ["2026-01-01 00:00:00"], ["2026-01-01T00:00:00"], ["2026-13-01T00:00:00Z"], ["soon"], [null]])(
    "gives no time for %j", (raw) => {
      expect(epochMillis(raw)).toBeUndefined();
    });
});

describe("Alloy config", () => {
  const text = renderAlloyConfig(prod);
  const blocks = parseAlloy(text);
  const component = (name: string) => {
    const found = blocks.filter((b) => b.name === name);
    expect(found, `one ${name} block`).toHaveLength(1);
    return found[0];
  };

  it("wires discovery -> source -> process -> write, and every reference names a declared component", () => {
    expect(blocks.map((b) => b.name).sort()).toEqual(
      ["discovery.docker", "discovery.relabel", "loki.process", "loki.source.docker", "loki.write"]);
    const declared = blocks.map((b) => `${b.name}.${b.label}.`);
    const all = blocks.flatMap(function walk(b: Block): string[] {
      return [...Object.values(b.attrs).flatMap(refs), ...b.blocks.flatMap(walk)];
    });
    expect(all.length).toBeGreaterThanOrEqual(4);
    for (const ref of all) expect(declared.some((d) => ref.startsWith(d)), `${ref} is declared`).toBe(true);
    const source = component("loki.source.docker");
    expect(refs(source.attrs.targets)).toEqual(["discovery.docker.containers.targets"]);
    expect(refs(source.attrs.relabel_rules)).toEqual(["discovery.relabel.containers.rules"]);
    expect(refs(source.attrs.forward_to)).toEqual(["loki.process.containers.receiver"]);
    expect(refs(component("loki.process").attrs.forward_to)).toEqual(["loki.write.loki.receiver"]);
  });

  it("reads only this stack's containers from the Docker socket", () => {
    const discovery = component("discovery.docker");
    expect(discovery.attrs.host).toBe("unix:///var/run/docker.sock");
    expect(component("loki.source.docker").attrs.host).toBe("unix:///var/run/docker.sock");
    expect(discovery.blocks).toEqual([{ name: "filter", label: undefined, attrs: { name: "label", values: ["analytics.stack=analytics-prod"] }, blocks: [] }]);
  });

  it("applies the same relabelling as Promtail", () => {
    const alloyRules = component("discovery.relabel").blocks.map((r) => ({
      source_labels: r.attrs.source_labels, ...(r.attrs.regex ? { regex: r.attrs.regex } : {}), target_label: r.attrs.target_label,
    }));
    expect(alloyRules).toEqual(parse(renderPromtailConfig(prod)).scrape_configs[0].relabel_configs);
    expect([...alloyRules.map((r) => r.target_label), "level"]).toEqual(STREAM_LABELS);
  });

  it("runs the same pipeline stages as Promtail: level label, request_id as structured metadata", () => {
    const stages = component("loki.process").blocks;
    const byName = (name: string) => stages.filter((s) => s.name === name).map((s) => s.attrs);
    const promtailStages: Record<string, Record<string, unknown>>[] = parse(renderPromtailConfig(prod)).scrape_configs[0].pipeline_stages;
    // Same stages, in the same order, with the same settings.
    expect(stages.map((s) => s.name)).toEqual(promtailStages.map((s) => `stage.${Object.keys(s)[0]}`));
    expect(byName("stage.json")[0].expressions).toEqual(promtailStages[0].json.expressions);
    expect(byName("stage.template")).toEqual([
      { source: "level", template: levelTemplate() }, { source: "time_ms", template: timeMsTemplate() }]);
    expect(byName("stage.labels")).toEqual([{ values: { level: "" } }]);
    expect(byName("stage.structured_metadata")[0].values).toEqual(promtailStages.find((s) => "structured_metadata" in s)!.structured_metadata);
    expect(Object.keys(byName("stage.structured_metadata")[0].values as object)).toContain("request_id");
    expect(byName("stage.timestamp")).toEqual([{ source: "time_ms", format: "UnixMs", action_on_failure: "skip" }]);
  });

  it("pushes to Loki inside the network", () => {
    expect(component("loki.write").blocks[0]).toMatchObject({ name: "endpoint", attrs: { url: "http://loki:3100/loki/api/v1/push" } });
  });

  it("escapes strings so that quotes and backslashes survive a round trip", () => {
    const tricky = 'a "quoted" \\ value\nnext';
    const out = parseAlloy(renderAlloy([{ block: "x.y", label: "z", body: [
      { attr: "s", value: tricky }, { attr: "r", value: new AlloyRef("a.b.c") }, { attr: "o", value: { "odd-key": 1, ok: true } },
    ] }]));
    expect(out[0].attrs.s).toBe(tricky);
    expect(out[0].attrs.r).toEqual(new Ref("a.b.c"));
    expect(out[0].attrs.o).toEqual({ "odd-key": 1, ok: true });
  });
});

describe("log shipper choice and artifacts", () => {
  it("runs Promtail or Alloy as the stack says, each with its own config path, data dir and probe", () => {
    expect(shipperPlan(dev)).toMatchObject({ service: "promtail", image: dev.images.promtail, configPath: "/etc/promtail/config.yml" });
    const alloy = shipperPlan(prod);
    expect(alloy).toMatchObject({ service: "alloy", image: prod.images.alloy, configPath: "/etc/alloy/config.alloy", dataDir: "/var/lib/alloy/data" });
    expect(alloy.command).toEqual(expect.arrayContaining(["run", "/etc/alloy/config.alloy", "--disable-reporting"]));
  });

  it("renders both shippers' configs whichever the stack runs", () => {
    expect(Object.keys(logShipperArtifacts(dev)).sort()).toEqual(["alloy/config.alloy", "promtail/config.yml"]);
  });

  describe("the bash /ready probe, run here against a stand-in server", () => {
    let server: ProbeServer;
    beforeAll(async () => { server = await startStatusServer({ "/ready": 200, "/-/ready": 200, "/starting": 503 }); });
    afterAll(async () => { await server.close(); });

    it("passes on 200", async () => {
      expect(await runHealthcheck(bashHttpProbe(PROMTAIL_HTTP_PORT, "/ready"), PROMTAIL_HTTP_PORT, server.port)).toBe(0);
      expect(await runHealthcheck(shipperPlan(prod).healthcheckTests, 12345, server.port)).toBe(0);
    });
    it("fails on 503 and 404", async () => {
      expect(await runHealthcheck(bashHttpProbe(PROMTAIL_HTTP_PORT, "/starting"), PROMTAIL_HTTP_PORT, server.port)).not.toBe(0);
      expect(await runHealthcheck(bashHttpProbe(PROMTAIL_HTTP_PORT, "/missing"), PROMTAIL_HTTP_PORT, server.port)).not.toBe(0);
    });
    it("fails when nothing listens", async () => {
      const closed = await startStatusServer({});
      const port = closed.port;
      await closed.close();
      expect(await runHealthcheck(bashHttpProbe(PROMTAIL_HTTP_PORT, "/ready"), PROMTAIL_HTTP_PORT, port)).not.toBe(0);
    });
  });
});
