/**
 * `npm run bench:ingest`: the ingest service against the reference walkthrough's tracker, over loopback, with
 * autocannon, both writing to ClickHouse (chDB behind the HTTP endpoint, with the rollup views applied).
 * Figures, not assertions. Run it alone: `flock /tmp/bench.lock npm run bench:ingest`.
 *
 * Phases (each service in its own child process; the chDB endpoint in another):
 *  1. single events, maximum rate: baseline (Express, in-memory buffer) and ours (durable: 2xx after fsync);
 *  2. ours at half of its maximum rate: latency percentiles;
 *  3. batches of 100 events (Segment /v1/batch, unique messageIds): events/s accepted durably;
 *  4. chDB alone: in-process inserts of the same JSONEachRow rows, in the batch size the shipper sends;
 *  5. end to end: offered what chDB alone sustains, the rate at which rows land in ClickHouse; then offered 80% of
 *     it (the target), whether rows land as fast as they are offered (a rate the service can sustain);
 *  6. overload: twice the sustainable rate with a 64 MiB spool, so it fills; peak resident memory, 503s.
 * Prints a table, then one JSON line with the figures.
 *
 * Options: --seconds N (per phase, default 10), --connections N (default 50), --pipelining N (default 4: requests
 * in flight per connection in the maximum-rate phases, for baseline and ours alike; a pipelined load generator
 * spends less of the shared 2 cores per request), --batch-connections N (default 10). The fixed-rate phases (half
 * rate, end to end, overload) use one request per connection, so their latencies are not queueing behind a pipeline.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { Session } from "chdb";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { funnelRollupStatements } from "../components/funnel-rollup";
import { applyMigrations, readMigrationSources, splitStatements, toMigrationFiles } from "../components/migrations";
import { DEFAULT_FUNNEL } from "../dashboards/settings";
import { startClickHouseHttp } from "../tests/support/clickhouse-http-server";
import { DURABLE_INSERT_SETTINGS } from "../components/clickhouse-server-config";
import { normalizeEvents } from "../ingest/src/normalize-events";
import { compileIngest, machineBusySeconds, startChild, statCpuSeconds, stopChild, type Started } from "./children";
import { openLoop } from "./open-loop";

const args = process.argv.slice(2);
/** A numeric option: a positive number, or with `wholeFrom` a whole number in that range (which may include 0). */
const option = (name: string, fallback: number, wholeFrom?: { min: number; max: number }) => {
  const at = args.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const raw = args[at + 1] ?? "";
  const value = Number(raw);
  const ok = wholeFrom ? raw.trim() !== "" && Number.isInteger(value) && value >= wholeFrom.min && value <= wholeFrom.max
    : Number.isFinite(value) && value > 0;
  if (!ok) {
    const expected = wholeFrom ? `a whole number from ${wholeFrom.min} to ${wholeFrom.max}` : "a positive number";
    process.stderr.write(`--${name}: got ${JSON.stringify(raw)}, expected ${expected} (run with --help for the options)\n`);
    process.exit(2);
  }
  return value;
};
const PHASES = ["baseline", "single", "half", "batch", "alone", "e2e", "overload"] as const;
type Phase = (typeof PHASES)[number];
if (args.includes("--help")) {
  process.stdout.write("usage: npm run bench:ingest -- [--seconds N] [--connections N] [--pipelining N] [--batch-connections N] [--sustained-percent N] [--half-warmup N]\n" +
    `         [--only ${PHASES.join(",")}] [--cpu-prof] [--ingest-node-options "<flags>"]\n` +
    "  --only      run these phases (and what they depend on: half needs single, e2e needs alone, overload needs e2e)\n" +
    "  --cpu-prof  run the ingest children with node --cpu-prof; the profiles and their logs are kept, the directory printed\n" +
    "  --sustained-percent  share of chDB alone offered in the sustained phase (default 80, the target)\n" +
    "  --half-warmup  seconds of the half-rate load before it is measured (default 3)\n" +
    "  --clickhouse-nice  niceness of the chDB endpoint's threads, 0-19 (default 19: the stand-in for the stack's CPU weights)\n");
  process.exit(0);
}
const onlyAt = args.indexOf("--only");
const only = new Set<string>(onlyAt >= 0 ? (args[onlyAt + 1] ?? "").split(",") : PHASES);
for (const p of only) {
  if (!(PHASES as readonly string[]).includes(p)) {
    process.stderr.write(`--only: got ${JSON.stringify(p)}, expected a comma-separated list of ${PHASES.join(", ")}\n`);
    process.exit(2);
  }
}
if (only.has("half")) only.add("single");
if (only.has("overload")) only.add("e2e");
if (only.has("e2e")) only.add("alone");
const runs = (phase: Phase) => only.has(phase);
const CPU_PROF = args.includes("--cpu-prof");
const nodeOptionsAt = args.indexOf("--ingest-node-options");
/** Extra NODE_OPTIONS for the ingest children (experiments such as V8 heap flags). */
const INGEST_NODE_OPTIONS = nodeOptionsAt >= 0 ? args[nodeOptionsAt + 1] ?? "" : "";
const SECONDS = option("seconds", 10);
const CONNECTIONS = option("connections", 50);
const PIPELINING = option("pipelining", 4);
/** Seconds of the half-rate load run before it is measured (the latency of a warmed-up service; the cold figure is kept). */
const HALF_WARMUP_SECONDS = option("half-warmup", 3);
/** Our MergeTree tables (the rollups included), which get the durable-insert settings in both chDB setups. */
const OUR_MERGETREE_TABLES_SQL = "SELECT name FROM system.tables WHERE database = 'analytics' AND engine LIKE '%MergeTree'";
/** The stack's durable-insert MergeTree settings (config.d there; chDB reads no config.d) applied to these tables. */
const durableSettingStatements = (tables: readonly string[]) => {
  const settings = Object.entries(DURABLE_INSERT_SETTINGS).map(([name, value]) => `${name} = ${value}`).join(", ");
  return tables.map((name) => `ALTER TABLE analytics.\`${name}\` MODIFY SETTING ${settings}`);
};
// The stack gives the ClickHouse container 64x less CPU weight than the ingest's (CPU_SHARES in
// components/service-container.ts); here both are processes on one machine, and niceness 19 against 0 is the same
// kind of weight (CFS: 15 against 1024, 68x). 0 runs chDB at the ingest's priority, as every run before run Y did.
const CLICKHOUSE_NICE = option("clickhouse-nice", 19, { min: 0, max: 19 });
const BATCH_CONNECTIONS = option("batch-connections", 10);
/** Percent of chDB alone offered in the sustained phase (default 80, the target). */
const SUSTAINED_PERCENT = option("sustained-percent", 80);
const WRITE_KEY = "bench-write-key";
const AUTH = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString("base64")}`;
const BATCH_SIZE = 100;
const SHIP_BATCH_EVENTS = 50_000;
const ROOT = join(__dirname, "..");

const REFERENCE_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS default.events (event_id UUID DEFAULT generateUUIDv4(), user_id UInt64,
     event_name LowCardinality(String), properties String, created_at DateTime DEFAULT now())
   ENGINE = MergeTree() PARTITION BY toYYYYMM(created_at) ORDER BY (created_at, user_id)`,
  `CREATE TABLE IF NOT EXISTS default.hourly_stats (hour DateTime, event_name LowCardinality(String), event_count UInt64, unique_users UInt64)
   ENGINE = SummingMergeTree() ORDER BY (hour, event_name)`,
  `CREATE MATERIALIZED VIEW IF NOT EXISTS default.mv_hourly_stats TO default.hourly_stats AS
   SELECT toStartOfHour(created_at) AS hour, event_name, count() AS event_count, uniq(user_id) AS unique_users FROM default.events GROUP BY hour, event_name`,
];

const SINGLE_BODY = JSON.stringify({ user_id: 123456, event_name: "page_view", properties: { plan: "pro", path: "/pricing", referrer: "https://example.com/" } });
const EVENT_NAMES = ["page_view", "signup", "export_report", "invite_sent", "dashboard_viewed"];

/** Digits of the request counter inside each messageId (fixed width, so it is written into a copy of one template). */
const REQUEST_ID_DIGITS = 10;

/**
 * A 100-event Segment batch with unique messageIds (`<run>-<request>-<event>`). The load generator shares the 2
 * cores with the service, so each body is a copy of one template Buffer with the request number written into its
 * messageIds: no per-request string building or UTF-8 encoding.
 */
function batchBodyFactory(): () => Buffer {
  let request = 0;
  const now = new Date().toISOString();
  const run = Math.random().toString(36).slice(2, 8);
  let text = '{"batch":[';
  const idOffsets: number[] = [];
  for (let i = 0; i < BATCH_SIZE; i++) {
    text += `${i ? "," : ""}{"type":"track","userId":"user-${(i * 7919) % 20000}","event":"${EVENT_NAMES[i % EVENT_NAMES.length]}","timestamp":"${now}",` +
      `"properties":{"plan":"${i % 3 ? "free" : "pro"}","n":${i}},"context":{"library":{"name":"bench"}},"messageId":"${run}-`;
    idOffsets.push(Buffer.byteLength(text));
    text += `${"0".repeat(REQUEST_ID_DIGITS)}-${i}"}`;
  }
  const template = Buffer.from(`${text}]}`);
  return () => {
    const body = Buffer.from(template);
    const digits = String(request++).padStart(REQUEST_ID_DIGITS, "0");
    for (const at of idOffsets) body.write(digits, at, "latin1");
    return body;
  };
}

/** CPU seconds a process (all its threads) has used (utime + stime). */
function processCpuSeconds(pid: number): number {
  const { user, system } = statCpuSeconds(`/proc/${pid}/stat`);
  return user + system;
}

/** Pid of our ClickHouse HTTP child (chDB), found among this process's children by its script name. */
function clickhouseChildPid(): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("clickhouse-http-child")) return Number(entry);
    } catch {
      // The process ended while we looked: not ours to find.
    }
  }
  throw new Error("the ClickHouse HTTP child process was not found among this process's children");
}

interface CpuShare {
  /** Cores used on average: the ingest, chDB (HTTP child), the load generator (this process), the whole machine. */
  readonly ingest: number;
  readonly clickhouse: number;
  readonly loadgen: number;
  readonly machine: number;
}

/** Starts counting CPU; the returned function gives the average cores each part used since. */
function cpuMeter(ingestPid: number, clickhousePid: number): () => CpuShare {
  const started = process.hrtime.bigint();
  const i0 = processCpuSeconds(ingestPid);
  const c0 = processCpuSeconds(clickhousePid);
  const l0 = process.cpuUsage();
  const m0 = machineBusySeconds();
  return () => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const l = process.cpuUsage(l0);
    const round = (x: number) => Number((x / seconds).toFixed(2));
    return {
      ingest: round(processCpuSeconds(ingestPid) - i0),
      clickhouse: round(processCpuSeconds(clickhousePid) - c0),
      loadgen: round((l.user + l.system) / 1e6),
      machine: round(machineBusySeconds() - m0),
    };
  };
}

/** The ingest's event-loop delay and GC time since its start, from its own /metrics (prom-client defaults). */
async function runtimeStats(url: string): Promise<{ loopP99Ms: number; loopMaxMs: number; gcMs: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (re: RegExp) => text.split("\n").filter((l) => re.test(l)).reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
  return {
    loopP99Ms: Number((value(/^ingest_process_nodejs_eventloop_lag_p99_seconds /) * 1000).toFixed(1)),
    loopMaxMs: Number((value(/^ingest_process_nodejs_eventloop_lag_max_seconds /) * 1000).toFixed(1)),
    gcMs: Math.round(value(/^ingest_process_nodejs_gc_duration_seconds_sum/) * 1000),
  };
}

/** A latency for the table: one decimal, or what it is when not finite (an unanswered request is Infinity). */
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : String(x));

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

interface LoadResult {
  readonly okPerSecond: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly p50: number;
  readonly p99: number;
  readonly statuses: Record<string, number>;
}

async function load(url: string, path: string, body: string | (() => string | Buffer), options: { rate?: number; connections?: number; seconds?: number; auth?: boolean; pipelining?: number } = {}): Promise<LoadResult> {
  const statuses: Record<string, number> = {};
  const headers: Record<string, string> = { "content-type": "application/json", ...(options.auth === false ? {} : { authorization: AUTH }) };
  const instance = autocannon({
    url: `${url}${path}`,
    method: "POST",
    connections: options.connections ?? CONNECTIONS,
    pipelining: options.pipelining ?? 1,
    duration: options.seconds ?? SECONDS,
    headers,
    ...(options.rate ? { overallRate: options.rate } : {}),
    ...(typeof body === "string" ? { body } : { requests: [{ method: "POST", path, headers, setupRequest: (req: Record<string, unknown>) => ({ ...req, body: body() }) }] }),
  } as autocannon.Options) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on("response", (_client: unknown, statusCode: number) => { statuses[statusCode] = (statuses[statusCode] ?? 0) + 1; });
  const result = await instance;
  const ok = Object.entries(statuses).filter(([s]) => s.startsWith("2")).reduce((n, [, c]) => n + c, 0);
  return { okPerSecond: ok / result.duration, non2xx: result.non2xx, errors: result.errors + result.timeouts, p50: result.latency.p50, p99: result.latency.p99, statuses };
}

/**
 * Server-side latency percentiles from the ingest's request log lines (duration_ms, request in to response out) of
 * the requests answered from `fromMs` to `toMs`.
 */
function serverLatency(logFile: string, fromMs = 0, toMs = Number.POSITIVE_INFINITY): { p50: number; p99: number } {
  const durations = readFileSync(logFile, "utf8").split("\n").filter((l) => l.includes('"msg":"request"'))
    .map((l) => JSON.parse(l) as { time: string; duration_ms: number }).filter((l) => Date.parse(l.time) >= fromMs && Date.parse(l.time) <= toMs)
    .map((l) => Number(l.duration_ms)).sort((a, b) => a - b);
  const at = (q: number) => durations[Math.min(durations.length - 1, Math.floor(durations.length * q))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

async function countRows(client: ClickHouseClient, table: string): Promise<number> {
  const [row] = await (await client.query({ query: `SELECT count() AS c FROM ${table}`, format: "JSONEachRow" })).json<{ c: string }>();
  return Number(row.c);
}

/** Rows for chDB alone: the exact JSONEachRow lines the ingest would spool for the same batches. */
function shippedRows(count: number): Buffer {
  const next = batchBodyFactory();
  const lines: string[] = [];
  while (lines.length < count) {
    const { rows } = normalizeEvents(JSON.parse(next().toString()).batch, { batch: true, receivedAtMs: Date.now(), newMessageId: () => "unused" });
    for (const r of rows) lines.push(r.json);
  }
  return Buffer.from(`${lines.slice(0, count).join("\n")}\n`);
}

async function chdbAlone(dir: string, rowsPerInsert: number, inserts: number): Promise<{ rowsPerSecond: number; cores: number }> {
  const session = new Session(join(dir, "chdb-alone"));
  try {
    // The same views as the endpoint the ingest ships to (migrations, then the funnel rollup's view).
    for (const file of toMigrationFiles(readMigrationSources(join(ROOT, "sql")))) {
      for (const s of splitStatements(file.sql, file.name)) await session.queryAsync(s.text);
    }
    for (const statement of funnelRollupStatements(DEFAULT_FUNNEL)) await session.queryAsync(statement);
    // And the same durable inserts (DURABLE_INSERT_SETTINGS): chDB alone does the work the endpoint does.
    const tables = String(session.query(OUR_MERGETREE_TABLES_SQL, "TSV")).split("\n").filter(Boolean);
    for (const statement of durableSettingStatements(tables)) await session.queryAsync(statement);
    const body = shippedRows(rowsPerInsert);
    let token = 0;
    await session.insert({ table: "analytics.events", values: body, format: "JSONEachRow", settings: { insert_deduplication_token: `warm-${token++}` } });
    const started = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < inserts; i++) {
      await session.insert({ table: "analytics.events", values: body, format: "JSONEachRow", settings: { insert_deduplication_token: `alone-${token++}` } });
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    return { rowsPerSecond: (rowsPerInsert * inserts) / seconds, cores: Number(((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2)) };
  } finally {
    session.close();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-ingest-"));
  const log = (msg: string) => process.stderr.write(`[bench:ingest] ${msg}\n`);
  const ch = await startClickHouseHttp({ dataDir: join(dir, "clickhouse") });
  const client = createClient({ url: ch.url, request_timeout: 120_000 });
  const children: Started[] = [];
  try {
    // With the funnel rollup's view, as the stack runs it: every insert pays for the views it feeds.
    await applyMigrations(client, toMigrationFiles(readMigrationSources(join(ROOT, "sql"))), { afterStatements: funnelRollupStatements(DEFAULT_FUNNEL) });
    for (const statement of REFERENCE_SCHEMA) await client.command({ query: statement });
    // The stack's server config makes every MergeTree insert durable before it is acknowledged (DURABLE_INSERT_SETTINGS
    // in config.d); chDB reads no config.d, so the same settings go on each of our tables (the reference's tracker
    // acknowledges before anything is written and keeps ClickHouse's defaults).
    const ourTables = await (await client.query({ query: OUR_MERGETREE_TABLES_SQL, format: "JSONEachRow" })).json<{ name: string }>();
    for (const query of durableSettingStatements(ourTables.map((t) => t.name))) await client.command({ query });

    const ingestEnv = (spoolDir: string, extra: Record<string, string> = {}) => ({
      INGEST_HOST: "127.0.0.1", INGEST_PORT: "0", INGEST_WRITE_KEYS: WRITE_KEY, CLICKHOUSE_URL: ch.url, CLICKHOUSE_USER: "default",
      CLICKHOUSE_PASSWORD: "", INGEST_SPOOL_DIR: spoolDir, INGEST_BATCH_MAX_EVENTS: String(SHIP_BATCH_EVENTS), INGEST_FLUSH_INTERVAL_MS: "1000",
      INGEST_LOG_LEVEL: "info", ...(INGEST_NODE_OPTIONS ? { NODE_OPTIONS: INGEST_NODE_OPTIONS } : {}), ...extra,
    });

    log("compiling the ingest service (ingest/dist, as the image runs it)");
    const server = compileIngest();

    const clickhousePid = clickhouseChildPid();
    // Every thread chDB has started so far; the threads it starts later inherit the niceness of the one starting them.
    for (const tid of readdirSync(`/proc/${clickhousePid}/task`)) setPriority(Number(tid), CLICKHOUSE_NICE);
    log(`chDB endpoint at niceness ${CLICKHOUSE_NICE} (the stack's CPU weights; --clickhouse-nice 0 to run it level with the ingest)`);
    const profileDir = CPU_PROF ? mkdtempSync(join(tmpdir(), "bench-ingest-profiles-")) : "";
    const startIngest = async (name: string, extra: Record<string, string> = {}): Promise<Started> => {
      const started = await startChild(server, ingestEnv(join(dir, `spool-${name}`), extra), join(dir, `ingest-${name}.log`),
        CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-name", `ingest-${name}.cpuprofile`] : []);
      children.push(started);
      return started;
    };
    const none: LoadResult = { okPerSecond: Number.NaN, non2xx: 0, errors: 0, p50: Number.NaN, p99: Number.NaN, statuses: {} };
    const noCpu: CpuShare = { ingest: Number.NaN, clickhouse: Number.NaN, loadgen: Number.NaN, machine: Number.NaN };
    const noStats = { loopP99Ms: Number.NaN, loopMaxMs: Number.NaN, gcMs: Number.NaN };

    let baselineSingle = none;
    if (runs("baseline")) {
      log("baseline: reference tracker (Express, in-memory buffer), single events");
      const baseline = await startChild(join(__dirname, "ingest-baseline-tracker.ts"), { CLICKHOUSE_URL: ch.url, PORT: "0" }, join(dir, "baseline.log"));
      children.push(baseline);
      baselineSingle = await load(baseline.url, "/track", SINGLE_BODY, { auth: false, pipelining: PIPELINING });
      await stopChild(baseline);
    }

    let single = none;
    if (runs("single")) {
      log("ours: single events at maximum rate");
      const ours = await startIngest("single");
      single = await load(ours.url, "/track", SINGLE_BODY, { pipelining: PIPELINING });
      await stopChild(ours);
    }
    /** One load against a fresh ingest, with the cores each process used and the ingest's event-loop and GC figures. */
    const measuredLoad = async (name: string, path: string, body: string | (() => string | Buffer), options: Parameters<typeof load>[3]) => {
      const ours = await startIngest(name);
      const meter = cpuMeter(ours.child.pid as number, clickhousePid);
      const result = await load(ours.url, path, body, options);
      const cpu = meter();
      const stats = await runtimeStats(ours.url);
      await stopChild(ours);
      return { result, cpu, stats };
    };
    const skipped = { result: none, cpu: noCpu, stats: noStats };

    // Half rate: steady open-loop arrivals (bench/open-loop.ts says why not autocannon's overallRate), the first
    // seconds as warm-up; then, on the same warmed-up service, autocannon's overallRate as every run before had it.
    let half = { ...skipped, server: { p50: Number.NaN, p99: Number.NaN }, coldP99: Number.NaN, autocannon: none };
    if (runs("half")) {
      const rate = Math.floor(single.okPerSecond / 2);
      log(`ours: single events at half of that rate (${rate} req/s, steady arrivals, ${HALF_WARMUP_SECONDS} s warm-up; then autocannon's overallRate)`);
      const ours = await startIngest("half");
      let meter: (() => CpuShare) | undefined;
      let measuredFromMs = 0;
      // The first reading of the service's own meters (GET /metrics: GC sum, and it restarts the event-loop delay
      // histogram, which prom-client resets on collect) is taken inside the warm-up, a second before the measured
      // seconds, when there is one. Taken as the measured seconds began (until run X), that request stalled the fresh
      // service and its queue long enough to be most of the p99 it was there to explain: 84-88 ms with it, 10.5-26 ms
      // without, against a stub ClickHouse (docs/benchmarks-ingest.md, "Sixth look"). CPU meters read /proc: no request.
      const firstReadingMs = Math.max(0, HALF_WARMUP_SECONDS - 1) * 1000;
      let gcBefore: Promise<number> | undefined;
      const firstReading = setTimeout(() => { gcBefore = runtimeStats(ours.url).then((s) => s.gcMs); }, firstReadingMs);
      const steady = await openLoop({
        origin: ours.url, path: "/track", headers: { "content-type": "application/json", authorization: AUTH }, body: SINGLE_BODY,
        rate, seconds: SECONDS, warmupSeconds: HALF_WARMUP_SECONDS, connections: CONNECTIONS,
        onMeasuring: () => {
          measuredFromMs = Date.now();
          meter = cpuMeter(ours.child.pid as number, clickhousePid);
        },
      }).finally(() => clearTimeout(firstReading));
      const cpu = meter?.() ?? noCpu;
      const measuredToMs = Date.now();
      const stats = await runtimeStats(ours.url);
      const autocannon = await load(ours.url, "/track", SINGLE_BODY, { rate });
      await stopChild(ours);
      half = {
        result: { okPerSecond: steady.ok / SECONDS, non2xx: steady.non2xx, errors: steady.errors, p50: steady.p50, p99: steady.p99, statuses: { 200: steady.ok } },
        cpu, stats: { ...stats, gcMs: stats.gcMs - ((await gcBefore) ?? 0) },
        server: serverLatency(join(dir, "ingest-half.log"), measuredFromMs, measuredToMs),
        coldP99: steady.warmup.p99, autocannon,
      };
    }

    let batch = skipped;
    if (runs("batch")) {
      log("ours: batches of 100 events");
      batch = await measuredLoad("batch", "/v1/batch", batchBodyFactory(), { connections: BATCH_CONNECTIONS, pipelining: PIPELINING });
    }

    // Empty the events table so the end-to-end phase measures inserts into the same size of table each time.
    await client.command({ query: "TRUNCATE TABLE analytics.events" });

    let alone = { rowsPerSecond: Number.NaN, cores: Number.NaN };
    if (runs("alone")) {
      log(`chDB alone: in-process inserts of ${SHIP_BATCH_EVENTS}-row JSONEachRow batches with the rollup views`);
      alone = await chdbAlone(dir, SHIP_BATCH_EVENTS, 10);
    }

    /** A fresh ingest offered `eventsPerSecond` in batches: the rate rows land in ClickHouse after a 5 s warm-up. */
    const landing = async (name: string, eventsPerSecond: number) => {
      const ours = await startIngest(name);
      const seconds = Math.max(20, SECONDS * 2);
      const offered = load(ours.url, "/v1/batch", batchBodyFactory(), { connections: 20, seconds, rate: Math.ceil(eventsPerSecond / BATCH_SIZE) });
      await new Promise((resolve) => setTimeout(resolve, 5000));
      const c0 = await countRows(client, "analytics.events");
      const t0 = Date.now();
      const meter = cpuMeter(ours.child.pid as number, clickhousePid);
      await new Promise((resolve) => setTimeout(resolve, (seconds - 7) * 1000));
      const c1 = await countRows(client, "analytics.events");
      const cpu = meter();
      const landed = (c1 - c0) / ((Date.now() - t0) / 1000);
      await offered;
      await stopChild(ours);
      return { landed, cpu };
    };

    let e2e = Number.NaN;
    let e2eCpu = noCpu;
    // Sustained: offered 80% of what chDB alone ingests (the target), do rows land as fast as they are offered? At the
    // full chDB-alone rate above the service spends the shared cores accepting what cannot land (the spool grows),
    // so that phase measures an overloaded system; this one whether the target rate can be kept up indefinitely.
    // Measured as the time the last accepted event takes to land after the load stops: with 50,000-row inserts a
    // rate over a window is too coarse (one insert is 5% of a 13-second window at this rate), a lag is not. Keeping
    // up means the lag stays about one flush interval plus one insert.
    let sustained = { offered: Number.NaN, accepted: Number.NaN, refused: Number.NaN, landed: Number.NaN, lagSeconds: Number.NaN, cpu: noCpu };
    if (runs("e2e")) {
      log("end to end: offered what chDB alone sustains; rows landing in ClickHouse");
      ({ landed: e2e, cpu: e2eCpu } = await landing("e2e", alone.rowsPerSecond));
      const offered = Math.ceil(((SUSTAINED_PERCENT / 100) * alone.rowsPerSecond) / BATCH_SIZE) * BATCH_SIZE;
      log(`sustained: offered ${offered} events/s (${SUSTAINED_PERCENT}% of chDB alone); how long the last accepted event takes to land`);
      const ours = await startIngest("sustained");
      const seconds = Math.max(20, SECONDS * 2);
      const c0 = await countRows(client, "analytics.events");
      const meter = cpuMeter(ours.child.pid as number, clickhousePid);
      const t0 = Date.now();
      const result = await load(ours.url, "/v1/batch", batchBodyFactory(), { connections: 20, seconds, rate: Math.ceil(offered / BATCH_SIZE) });
      const loadEnd = Date.now();
      const cpu = meter();
      const accepted = (result.statuses["200"] ?? 0) * BATCH_SIZE;
      while ((await countRows(client, "analytics.events")) - c0 < accepted && Date.now() - loadEnd < 120_000) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const landedAt = Date.now();
      await stopChild(ours);
      sustained = { offered, accepted, refused: result.non2xx + result.errors, landed: accepted / ((landedAt - t0) / 1000), lagSeconds: (landedAt - loadEnd) / 1000, cpu };
    }

    let peakRss = Number.NaN;
    let overload = none;
    if (runs("overload")) {
      log("overload: twice the sustainable rate, 64 MiB spool; peak resident memory");
      const ours = await startIngest("overload", { INGEST_SPOOL_MAX_BYTES: String(64 * 1024 * 1024) });
      const pid = ours.child.pid as number;
      peakRss = rssMb(pid);
      const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssMb(pid)); }, 200);
      overload = await load(ours.url, "/v1/batch", batchBodyFactory(), { connections: 50, seconds: Math.max(20, SECONDS * 2), rate: Math.ceil((2 * e2e) / BATCH_SIZE) });
      clearInterval(sampler);
      peakRss = Math.max(peakRss, rssMb(pid));
      await stopChild(ours);
    }
    if (CPU_PROF) {
      for (const name of readdirSync(dir).filter((n) => n.endsWith(".log"))) copyFileSync(join(dir, name), join(profileDir, name));
      log(`CPU profiles and logs of the ingest children (kept): ${profileDir}`);
    }

    // What the machine did beyond our three processes: other work on the shared machine (the run's noise).
    const others = (c: CpuShare) => Number((c.machine - c.ingest - c.clickhouse - c.loadgen).toFixed(2));
    const cores = (c: CpuShare) => `cores: ingest ${c.ingest}, chDB ${c.clickhouse}, load generator ${c.loadgen}, other processes ${others(c)}, machine ${c.machine} of 2`;
    const rows: [string, string, string][] = [
      ["single events, baseline (reference tracker, not durable)", `${baselineSingle.okPerSecond.toFixed(0)} req/s`, `p99 ${baselineSingle.p99} ms`],
      ["single events, ingest (durable, fsync'd)", `${single.okPerSecond.toFixed(0)} req/s`, `${(single.okPerSecond / baselineSingle.okPerSecond).toFixed(2)}x baseline, p99 ${single.p99} ms`],
      [`single events at half rate (${Math.floor(single.okPerSecond / 2)} req/s)`, `p99 ${ms(half.result.p99)} ms`, `p50 ${ms(half.result.p50)} ms (client, steady arrivals after ${HALF_WARMUP_SECONDS} s of warm-up, whose p99 was ${ms(half.coldP99)} ms; ${half.result.non2xx + half.result.errors} not 2xx); server-side p99 ${half.server.p99} ms, p50 ${half.server.p50} ms`],
      ["  (half rate: autocannon overallRate)", `p99 ${half.autocannon.p99} ms`, `p50 ${half.autocannon.p50} ms, the same service afterwards (per-second budgets: bursts, as in runs A-M)`],
      ["  (half rate: where the time went)", "", `${cores(half.cpu)}; ingest event-loop delay p99 ${half.stats.loopP99Ms} ms, max ${half.stats.loopMaxMs} ms; GC ${half.stats.gcMs} ms`],
      ["batches of 100, ingest (durable)", `${(batch.result.okPerSecond * BATCH_SIZE).toFixed(0)} events/s`, `p99 ${batch.result.p99} ms`],
      ["  (batches: where the time went)", "", `${cores(batch.cpu)}; ingest event-loop delay p99 ${batch.stats.loopP99Ms} ms, max ${batch.stats.loopMaxMs} ms; GC ${batch.stats.gcMs} ms`],
      [`chDB alone, ${SHIP_BATCH_EVENTS}-row inserts with rollup views`, `${alone.rowsPerSecond.toFixed(0)} rows/s`, `in-process, no HTTP; ${alone.cores} cores`],
      ["end to end into ClickHouse (via HTTP endpoint)", `${e2e.toFixed(0)} events/s`, `${((100 * e2e) / alone.rowsPerSecond).toFixed(0)}% of chDB alone; ${cores(e2eCpu)}`],
      [`end to end offered ${SUSTAINED_PERCENT}% of chDB alone`, `lag ${sustained.lagSeconds.toFixed(1)} s`, `${sustained.accepted} accepted (${sustained.refused} requests refused or failed) at ${sustained.offered}/s offered, ` +
        `all landed ${sustained.lagSeconds.toFixed(1)} s after the load stopped (${sustained.landed.toFixed(0)} events/s overall); ${cores(sustained.cpu)}`],
      ["overload at 2x sustainable", `peak RSS ${peakRss.toFixed(0)} MB`, `2xx ${overload.statuses["200"] ?? 0}, 503 ${overload.statuses["503"] ?? 0}, errors ${overload.errors}`],
    ];
    const width = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write(`\n${"phase".padEnd(width)}  ${"figure".padEnd(20)}  note\n${"-".repeat(width + 60)}\n`);
    for (const [phase, figure, note] of rows) process.stdout.write(`${phase.padEnd(width)}  ${figure.padEnd(20)}  ${note}\n`);
    const figure = (x: number, digits = 0) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);
    process.stdout.write(`${JSON.stringify({
      single_rps: figure(single.okPerSecond),
      baseline_single_rps: figure(baselineSingle.okPerSecond),
      single_ratio: figure(single.okPerSecond / baselineSingle.okPerSecond, 2),
      single_p99_ms: figure(half.result.p99, 2),
      single_p99_warmup_ms: figure(half.coldP99, 2),
      single_p99_autocannon_ms: figure(half.autocannon.p99, 2),
      single_p99_server_ms: figure(half.server.p99, 2),
      single_half_rate_rps: figure(Math.floor(single.okPerSecond / 2)),
      batch_events_per_s: figure(batch.result.okPerSecond * BATCH_SIZE),
      e2e_events_per_s: figure(e2e),
      chdb_alone_events_per_s: figure(alone.rowsPerSecond),
      e2e_share_of_chdb_alone: figure(e2e / alone.rowsPerSecond, 2),
      sustained_offered_events_per_s: figure(sustained.offered),
      sustained_accepted_events: figure(sustained.accepted),
      sustained_landed_events_per_s: figure(sustained.landed),
      sustained_landing_lag_s: figure(sustained.lagSeconds, 1),
      sustained_refused_requests: figure(sustained.refused),
      sustained_cores_ingest: figure(sustained.cpu.ingest, 2),
      sustained_cores_chdb: figure(sustained.cpu.clickhouse, 2),
      overload_rss_mb: figure(peakRss),
      overload_503: overload.statuses["503"] ?? 0,
      chdb_alone_cores: figure(alone.cores, 2),
      batch_cores_ingest: figure(batch.cpu.ingest, 2),
      batch_cores_chdb: figure(batch.cpu.clickhouse, 2),
      batch_cores_loadgen: figure(batch.cpu.loadgen, 2),
      batch_cores_other: figure(others(batch.cpu), 2),
      e2e_cores_ingest: figure(e2eCpu.ingest, 2),
      e2e_cores_chdb: figure(e2eCpu.clickhouse, 2),
      e2e_cores_loadgen: figure(e2eCpu.loadgen, 2),
      e2e_cores_other: figure(others(e2eCpu), 2),
      half_cores_other: figure(others(half.cpu), 2),
      half_loop_delay_p99_ms: figure(half.stats.loopP99Ms, 1),
      connections: CONNECTIONS,
      batch_connections: BATCH_CONNECTIONS,
      clickhouse_nice: CLICKHOUSE_NICE,
      pipelining: PIPELINING,
      seconds_per_phase: SECONDS,
    })}\n`);
  } finally {
    for (const c of children) await stopChild(c);
    await client.close();
    await ch.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:ingest failed: ${String((error as Error)?.stack ?? error)}\n`);
  process.exit(1);
});
