/**
 * npm run bench:queries -- --events 100000000      (default 10,000,000)
 *
 * Loads realistic SaaS traffic into chDB (the real ClickHouse engine) twice in the same run: into our schema
 * (sql/, rollups fed by materialized views) and into the reference walkthrough's schema (the baseline), then:
 * - refreshes the DAU, retention and adoption snapshots (sql/0011-0012) as the stack does each minute, with today and
 *   yesterday changed since, and times the refresh;
 * - times every dashboard panel query, ours and the baseline's where it has one (median of 5 runs, after a warm-up);
 * - bytes per event of each events table on disk (after merging parts, so both are measured in their steady state);
 * - freshness: the time from sending one event with a new user to seeing it counted by the DAU and adoption queries;
 * - how many retention cohorts the baseline gets wrong.
 * Prints a table, then one line of JSON (the last line) with at least: events, panels [{name, ours_ms, baseline_ms}],
 * bytes_per_event, baseline_bytes_per_event, freshness_ms. Figures, not assertions: see docs/benchmarks-queries.md.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { createChdbConnection } from "chdb/connection";
import { loadConfig } from "../components/stack-config";
import { ingestQueries, productQueries, type ClickHouseNamedQuery } from "../dashboards/queries";
import { analyticsSettings } from "../dashboards/settings";
import { expandClickHouseMacros, type GrafanaContext } from "../tests/support/grafana-macros";
import { BASELINE_COPY, BASELINE_QUERIES, BASELINE_RETENTION_ERRORS, BASELINE_SCHEMA } from "./queries-baseline";
import { applyBenchSchema, insertOngoingEvents, mergeRollups, panelContext, rangeEndingAt, refreshSnapshots } from "./queries-state";
import { DEFAULT_SHAPE, identifiesInsertSql, signupsInsertSql, trafficInsertSql, type TrafficShape } from "./queries-traffic";

const USAGE = "usage: npm run bench:queries -- [--events <count, default 10000000>] [--runs <per query, default 5>] [--data-dir <dir>]\n" +
  "  --data-dir: load into <dir> and keep it; when <dir> already holds a loaded run (from today), skip the loading and time the queries again";
const CHUNK = 5_000_000;

export interface PanelTiming { readonly name: string; readonly ours_ms: number; readonly baseline_ms: number | null }

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Parses and checks the command line; throws a message saying which flag was wrong and what to pass. */
export function parseBenchArgs(argv: string[]): { events: number; runs: number; dataDir?: string } {
  const { values } = parseArgs({ args: argv, options: { events: { type: "string" }, runs: { type: "string" }, "data-dir": { type: "string" } } });
  const int = (name: string, raw: string | undefined, fallback: number, min: number, max: number) => {
    if (raw === undefined) return fallback;
    const n = /^\d+$/.test(raw.replace(/_/g, "")) ? Number(raw.replace(/_/g, "")) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`--${name}: got ${JSON.stringify(raw)}, expected a whole number from ${min} to ${max}\n${USAGE}`);
    return n;
  };
  const dataDir = values["data-dir"];
  if (dataDir !== undefined && dataDir.trim() === "") throw new Error(`--data-dir: got an empty path, expected a directory to load into or reuse\n${USAGE}`);
  return {
    events: int("events", values.events, 10_000_000, 100_000, 1_000_000_000), runs: int("runs", values.runs, 5, 1, 50),
    ...(dataDir !== undefined ? { dataDir } : {}),
  };
}

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  log(`${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

async function rows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  return (await client.query({ query, format: "JSONEachRow" })).json<T>();
}

async function timeQuery(client: ClickHouseClient, sql: string, runs: number): Promise<number> {
  await rows(client, sql); // warm-up: first read of the parts' marks and columns
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await rows(client, sql);
    times.push(performance.now() - started);
  }
  return Math.round(median(times) * 10) / 10;
}

async function bytesPerEvent(client: ClickHouseClient, database: string): Promise<{ bytes: number; rows: number; parts: number }> {
  const [r] = await rows<{ bytes: string; rows: string; parts: string }>(client,
    `SELECT sum(bytes_on_disk) AS bytes, sum(rows) AS rows, count() AS parts FROM system.parts WHERE active AND database = '${database}' AND table = 'events'`);
  return { bytes: Number(r.bytes), rows: Number(r.rows), parts: Number(r.parts) };
}

/** Sends one event for a brand-new user at `now` and polls DAU and adoption until both count it. */
async function measureFreshness(client: ClickHouseClient, queries: ReturnType<typeof productQueries>, ctxAt: (ms: number) => GrafanaContext): Promise<number> {
  const now = Date.now();
  const ctx = { ...ctxAt(now + 1000), variables: { event_name: ["freshness_probe"] } };
  const dauSql = expandClickHouseMacros(queries.dau.sql, ctx);
  const adoptionSql = expandClickHouseMacros(queries.adoptionThisWeek.sql, ctx);
  const dauToday = async () => Number((await rows<{ dau: string }>(client, dauSql)).at(-1)?.dau ?? 0);
  const adopters = async () => Number((await rows<{ feature: string; users: string }>(client, adoptionSql)).find((r) => r.feature === "freshness_probe")?.users ?? 0);
  const before = await dauToday();
  const adoptersBefore = await adopters(); // probes of earlier runs on a reused --data-dir
  const started = performance.now();
  const time = new Date(now).toISOString().replace("T", " ").replace("Z", "");
  await client.insert({
    table: "analytics.events", format: "JSONEachRow",
    values: [{ message_id: `fresh-${now}`, type: "track", event_name: "freshness_probe", user_id: `fresh_user_${now}`, anonymous_id: "",
      properties: {}, context: {}, event_time: time, received_at: time }],
  });
  const deadline = started + 10_000;
  while (performance.now() < deadline) {
    if ((await dauToday()) === before + 1 && (await adopters()) === adoptersBefore + 1) return Math.round(performance.now() - started);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the probe event was not visible in DAU and adoption within 10 s");
}

/** Generates the traffic into our schema, copies it into the reference schema and merges every table's parts. */
async function loadTraffic(client: ClickHouseClient, shape: TrafficShape, events: number): Promise<void> {
  await timed("identifies", () => client.command({ query: identifiesInsertSql(shape) }));
  await timed("signups and funnel steps", () => client.command({ query: signupsInsertSql(shape) }));
  await timed(`${events.toLocaleString("en-US")} events into our schema (with its rollup views)`, async () => {
    for (let start = 0; start < events; start += CHUNK) {
      await client.command({ query: trafficInsertSql(shape, start, Math.min(CHUNK, events - start)) });
    }
  });
  await timed("the same events into the reference schema", () => client.command({ query: BASELINE_COPY }));
  await timed("merging parts (steady state for storage and queries)", async () => {
    for (const table of ["analytics.events", "reference.events"]) await client.command({ query: `OPTIMIZE TABLE ${table} FINAL` });
    await mergeRollups(client);
  });
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parseBenchArgs>;
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const dataDir = args.dataDir !== undefined ? resolve(args.dataDir) : mkdtempSync(join(tmpdir(), "bench-queries-"));
  mkdirSync(dataDir, { recursive: true });
  const client = createClient({ connection: createChdbConnection({ path: dataDir }) as never });
  try {
    const cfg = loadConfig({}, "bench");
    const settings = analyticsSettings(cfg);
    // With the funnel rollup's view for the dashboards' steps and the snapshot views, as the stack runs them after the
    // migrations; the snapshots are refreshed by this run when it chooses (below), not in the background while it times.
    await applyBenchSchema(client, cfg);
    for (const statement of BASELINE_SCHEMA) await client.command({ query: statement });

    // Data ends today, so the freshness probe (sent now) lands on the last day of the dashboards' range.
    const endDay = new Date().toISOString().slice(0, 10);
    const [{ stored, storedEnd }] = await rows<{ stored: string; storedEnd: string }>(client,
      "SELECT count() AS stored, toString(max(toDate(event_time))) AS storedEnd FROM analytics.events");
    if (Number(stored) > 0) {
      if (storedEnd !== endDay) {
        throw new Error(`--data-dir ${dataDir}: its data ends on ${storedEnd}, but the panels and the freshness probe need data ending today (${endDay}); load again into a new directory`);
      }
      log(`reusing ${Number(stored).toLocaleString("en-US")} events already loaded in ${dataDir} (--events is ignored)`);
      // Merge the rollups again, as a loaded run has them: earlier runs' freshness probes left small parts in them,
      // and the funnel view's backfill reran with the migrations. (The raw events stay as they are: minutes to merge.)
      await timed("merging the rollups' parts", () => mergeRollups(client));
    } else {
      await loadTraffic(client, { ...DEFAULT_SHAPE, endDay }, args.events);
    }

    const [{ n }] = await rows<{ n: string }>(client, "SELECT count() AS n FROM analytics.events");
    const events = Number(n);
    const ctx = panelContext(endDay);

    // The snapshots as the stack keeps them: a refresh over everything loaded (the first one counts every day), then,
    // as traffic goes on, events of today and a late one of yesterday, a refresh (what each minute's costs), and more
    // events of both days since: the panels count those two days and take the others from the snapshots.
    const refresh = () => refreshSnapshots(client);
    const ongoing = (tag: string, days: 1 | 2 = 2) => insertOngoingEvents(client, tag, days);
    const firstRefreshMs = await refresh();
    await ongoing("a");
    const refreshMs = await refresh();
    await ongoing("b");
    log(`snapshot refresh: first ${firstRefreshMs} ms, then ${refreshMs} ms`);

    const product = productQueries(settings);
    const ingest = ingestQueries(settings);
    const panels: PanelTiming[] = [];
    for (const query of Object.values(product) as ClickHouseNamedQuery[]) {
      const ours = await timeQuery(client, expandClickHouseMacros(query.sql, ctx), args.runs);
      const baselineSql = BASELINE_QUERIES[query.name];
      const baseline = baselineSql ? await timeQuery(client, expandClickHouseMacros(baselineSql, ctx), args.runs) : null;
      panels.push({ name: query.name, ours_ms: ours, baseline_ms: baseline });
      log(`${query.name}: ours ${ours} ms, baseline ${baseline ?? "-"} ms`);
    }
    const ingestPanels: PanelTiming[] = [];
    const lastHours = { ...ctx, fromMs: ctx.toMs - 6 * 3_600_000, intervalSeconds: 60 };
    for (const query of Object.values(ingest).filter((q) => q.kind === "clickhouse") as ClickHouseNamedQuery[]) {
      ingestPanels.push({ name: query.name, ours_ms: await timeQuery(client, expandClickHouseMacros(query.sql, lastHours), args.runs), baseline_ms: null });
    }

    const ours = await bytesPerEvent(client, "analytics");
    const rollups = await rows<{ table: string; rows: string; bytes: string }>(client,
      "SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts WHERE active AND database = 'analytics' " +
      "AND table != 'events' GROUP BY table ORDER BY table");
    const baseline = await bytesPerEvent(client, "reference");
    const [retentionErrors] = await rows<{ wrong_cohorts: string; cohorts: string }>(client, expandClickHouseMacros(BASELINE_RETENTION_ERRORS, ctx));
    // Yesterday gets late events only until about 02:00 UTC (2% of events arrive 1-2 hours late); the rest of the day
    // only today changes between refreshes. The panels above were timed in the worse case; DAU and retention again here.
    await refresh();
    await ongoing("c", 1);
    const todayOnly = {
      dau: await timeQuery(client, expandClickHouseMacros(product.dau.sql, ctx), args.runs),
      retention: await timeQuery(client, expandClickHouseMacros(product.retention.sql, ctx), args.runs),
    };
    log(`with only today changed since the refresh: dau ${todayOnly.dau} ms, retention ${todayOnly.retention} ms`);
    const freshness = await measureFreshness(client, product, rangeEndingAt);

    const ratio = (p: PanelTiming) => (p.baseline_ms === null ? "" : `${(p.baseline_ms / p.ours_ms).toFixed(1)}x`);
    console.log(`\nevents: ${events.toLocaleString("en-US")} (chDB ${(await rows<{ v: string }>(client, "SELECT version() AS v"))[0].v}, ${args.runs} runs per query, median)`);
    console.log("panel                      ours ms   baseline ms   speed-up");
    for (const p of [...panels, ...ingestPanels]) {
      console.log(`${p.name.padEnd(26)} ${String(p.ours_ms).padStart(8)} ${String(p.baseline_ms ?? "-").padStart(13)} ${ratio(p).padStart(10)}`);
    }
    const bpe = ours.bytes / ours.rows;
    const baselineBpe = baseline.bytes / baseline.rows;
    console.log(`bytes per event: ours ${bpe.toFixed(1)} (${ours.parts} parts), baseline ${baselineBpe.toFixed(1)} (${baseline.parts} parts)`);
    console.log(`rollups: ${rollups.map((r) => `${r.table} ${Number(r.rows).toLocaleString("en-US")} rows ${(Number(r.bytes) / 2 ** 20).toFixed(1)} MiB`).join("; ")}`);
    console.log(`freshness (insert -> visible in DAU and adoption): ${freshness} ms`);
    console.log(`DAU, retention and adoption snapshot refresh: ${firstRefreshMs} ms the first time, ${refreshMs} ms with today and yesterday changed`);
    console.log(`panels above: today and yesterday changed since the refresh (00:00-02:00 UTC, while late events arrive); ` +
      `with only today changed: dau ${todayOnly.dau} ms, retention ${todayOnly.retention} ms`);
    console.log(`baseline retention: ${retentionErrors.wrong_cohorts} of ${retentionErrors.cohorts} cohorts wrong (off by one)`);
    console.log(JSON.stringify({
      events,
      panels,
      ingest_panels: ingestPanels,
      bytes_per_event: Math.round(bpe * 100) / 100,
      baseline_bytes_per_event: Math.round(baselineBpe * 100) / 100,
      freshness_ms: freshness,
      snapshot_first_refresh_ms: firstRefreshMs,
      snapshot_refresh_ms: refreshMs,
      today_only_changed_ms: todayOnly,
      rollup_bytes: Object.fromEntries(rollups.map((r) => [r.table, Number(r.bytes)])),
      baseline_retention_wrong_cohorts: Number(retentionErrors.wrong_cohorts),
      baseline_retention_cohorts: Number(retentionErrors.cohorts),
    }));
    return 0;
  } finally {
    await client.close();
    if (args.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code), (error) => {
    console.error(`bench:queries failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
}
