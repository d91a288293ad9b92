/**
 * npm run bench:queries-compare -- --data-dir <dir> [--runs <n>] [--changed today|two-days] [--print] <query>...
 *
 * Times variants of a panel query against each other on a directory bench:queries loaded and kept (--data-dir), in
 * the state bench:queries times the panels in (bench/queries-state.ts): schema and views brought to the code's, rollups
 * merged, snapshots refreshed, then events of today and of yesterday inserted since (`--changed today`: today only).
 * The queries run one after another in rounds, so a machine that slows down or speeds up during the run affects each
 * alike; each gets a warm-up, then the median of --runs. Each answer is compared with the first query's, so a faster
 * variant that counts something else shows up.
 *
 * A query is a file of SQL (Grafana's macros are expanded as for the panels) or `panel:<name>`, a product panel as the
 * code builds it now. --print prints the queries after expansion instead of timing them: a panel's SQL to start a
 * variant from. Figures, not assertions.
 */
import { existsSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { createChdbConnection } from "chdb/connection";
import { loadConfig } from "../components/stack-config";
import { productQueries } from "../dashboards/queries";
import { analyticsSettings } from "../dashboards/settings";
import { expandClickHouseMacros } from "../tests/support/grafana-macros";
import { median } from "./queries";
import { applyBenchSchema, insertOngoingEvents, mergeRollups, panelContext, refreshSnapshots } from "./queries-state";

const USAGE = "usage: npm run bench:queries-compare -- --data-dir <dir> [--runs <per query, default 11>] [--changed today|two-days] [--print] <query>...\n" +
  "  <query>: a file of SQL (Grafana macros expanded) or panel:<name> (a product panel as the code builds it)\n" +
  "  --data-dir: a directory `npm run bench:queries -- --data-dir <dir>` loaded today\n" +
  "  --changed: the days with events since the snapshot refresh (default two-days: today and yesterday, as bench:queries times)\n" +
  "  --print: print the queries after macro expansion instead of timing them";

export interface CompareArgs {
  readonly dataDir?: string;
  readonly runs: number;
  readonly changedDays: 1 | 2;
  readonly print: boolean;
  readonly queries: readonly string[];
}

/** Parses and checks the command line; throws a message saying which argument was wrong and what to pass. */
export function parseCompareArgs(argv: string[]): CompareArgs {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { "data-dir": { type: "string" }, runs: { type: "string" }, changed: { type: "string" }, print: { type: "boolean" } },
  });
  const print = values.print === true;
  const dataDir = values["data-dir"];
  if (!print && (dataDir === undefined || dataDir.trim() === "")) {
    throw new Error(`--data-dir: ${dataDir === undefined ? "missing" : "got an empty path"}, expected a directory bench:queries loaded (--data-dir) today\n${USAGE}`);
  }
  const runs = values.runs === undefined ? 11 : /^\d+$/.test(values.runs) ? Number(values.runs) : NaN;
  if (!Number.isSafeInteger(runs) || runs < 1 || runs > 101) throw new Error(`--runs: got ${JSON.stringify(values.runs)}, expected a whole number from 1 to 101\n${USAGE}`);
  const changed = values.changed ?? "two-days";
  if (changed !== "today" && changed !== "two-days") throw new Error(`--changed: got ${JSON.stringify(changed)}, expected today or two-days\n${USAGE}`);
  if (positionals.length === 0) throw new Error(`no query given: pass SQL files or panel:<name>\n${USAGE}`);
  return { ...(dataDir !== undefined ? { dataDir } : {}), runs, changedDays: changed === "today" ? 1 : 2, print, queries: positionals };
}

/** The SQL of each query argument with Grafana's macros expanded for the benchmark's range ending today. */
export function resolveQueries(queries: readonly string[], endDay: string): { label: string; sql: string }[] {
  const panels = productQueries(analyticsSettings(loadConfig({}, "bench"))) as Record<string, { sql: string }>;
  const ctx = panelContext(endDay);
  return queries.map((query) => {
    if (query.startsWith("panel:")) {
      const name = query.slice("panel:".length);
      const panel = panels[name];
      if (panel === undefined) throw new Error(`${query}: no product panel of that name; panels: ${Object.keys(panels).join(", ")}`);
      return { label: query, sql: expandClickHouseMacros(panel.sql, ctx) };
    }
    if (!existsSync(query)) throw new Error(`${query}: no such file; pass a file of SQL or panel:<name>`);
    return { label: query, sql: expandClickHouseMacros(readFileSync(query, "utf8"), ctx) };
  });
}

async function answer(client: ClickHouseClient, sql: string): Promise<{ rows: number; digest: string }> {
  const text = await (await client.query({ query: sql, format: "JSONCompactEachRow" })).text();
  return { rows: text === "" ? 0 : text.trimEnd().split("\n").length, digest: createHash("sha256").update(text).digest("hex").slice(0, 12) };
}

async function main(): Promise<number> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let args: CompareArgs;
  let queries: { label: string; sql: string }[];
  const endDay = new Date().toISOString().slice(0, 10);
  try {
    args = parseCompareArgs(process.argv.slice(2));
    queries = resolveQueries(args.queries, endDay);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  if (args.print) {
    for (const q of queries) console.log(`-- ${q.label}\n${q.sql}\n`);
    return 0;
  }
  const dataDir = resolve(args.dataDir!);
  if (!existsSync(dataDir)) {
    console.error(`--data-dir ${dataDir}: no such directory; load one with npm run bench:queries -- --data-dir ${args.dataDir}`);
    return 2;
  }
  const client = createClient({ connection: createChdbConnection({ path: dataDir }) as never });
  try {
    const stored = await (await client.query({ query: "SELECT toString(max(toDate(event_time))) AS end FROM analytics.events", format: "JSONEachRow" }))
      .json<{ end: string }>().catch(() => []);
    if (stored[0]?.end !== endDay) {
      console.error(`--data-dir ${dataDir}: ${stored.length === 0 ? "holds no benchmark load" : `its data ends on ${stored[0].end}`}, expected data ending today (${endDay}); load one with npm run bench:queries -- --data-dir <new dir>`);
      return 2;
    }
    await applyBenchSchema(client, loadConfig({}, "bench"));
    await mergeRollups(client);
    await refreshSnapshots(client);
    await insertOngoingEvents(client, `compare-${Date.now()}`, args.changedDays);

    const answers: { rows: number; digest: string }[] = [];
    for (const q of queries) answers.push(await answer(client, q.sql)); // also the warm-up
    const times = queries.map(() => [] as number[]);
    for (let round = 0; round < args.runs; round++) {
      for (const [i, q] of queries.entries()) {
        const started = performance.now();
        await answer(client, q.sql);
        times[i].push(performance.now() - started);
      }
    }
    const results = queries.map((q, i) => ({
      query: q.label, median_ms: Math.round(median(times[i]) * 10) / 10, min_ms: Math.round(Math.min(...times[i]) * 10) / 10,
      rows: answers[i].rows, same_answer_as_first: answers[i].digest === answers[0].digest,
    }));
    console.log(`${args.runs} rounds, ${args.changedDays === 2 ? "today and yesterday" : "today"} changed since the snapshot refresh`);
    for (const r of results) {
      console.log(`${r.query.padEnd(40)} ${String(r.median_ms).padStart(8)} ms (min ${r.min_ms})  ${r.rows} rows${r.same_answer_as_first ? "" : "  ANSWER DIFFERS from the first query"}`);
    }
    console.log(JSON.stringify({ runs: args.runs, changed_days: args.changedDays, queries: results }));
    return 0;
  } finally {
    await client.close();
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code), (error) => {
    console.error(`bench:queries-compare failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
}
