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
 *  5. end to end: offered what chDB alone sustains, the rate at which rows land in ClickHouse;
 *  6. overload: twice the sustainable rate with a 64 MiB spool, so it fills; peak resident memory, 503s.
 * Prints a table, then one JSON line with the figures.
 *
 * Options: --seconds N (per phase, default 10), --connections N (default 50), --pipelining N (default 4: requests
 * in flight per connection in the maximum-rate phases, for baseline and ours alike; a pipelined load generator
 * spends less of the shared 2 cores per request), --batch-connections N (default 10). The fixed-rate phases (half
 * rate, end to end, overload) use one request per connection, so their latencies are not queueing behind a pipeline.
 */
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { Session } from "chdb";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { funnelRollupStatements } from "../components/funnel-rollup";
import { applyMigrations, readMigrationSources, splitStatements, toMigrationFiles } from "../components/migrations";
import { DEFAULT_FUNNEL } from "../dashboards/settings";
import { startClickHouseHttp } from "../tests/support/clickhouse-http-server";
import { normalizeEvents } from "../ingest/src/normalize-events";

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
if (args.includes("--help")) {
  process.stdout.write("usage: npm run bench:ingest -- [--seconds N] [--connections N] [--pipelining N] [--batch-connections N]\n");
  process.exit(0);
}
const SECONDS = option("seconds", 10);
const CONNECTIONS = option("connections", 50);
const PIPELINING = option("pipelining", 4);
const BATCH_CONNECTIONS = option("batch-connections", 10);
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

/** A 100-event Segment batch with unique messageIds, built from fixed fragments so the load generator stays cheap. */
function batchBodyFactory(): () => string {
  let request = 0;
  const now = new Date().toISOString();
  const fragments = Array.from({ length: BATCH_SIZE }, (_, i) =>
    [`{"type":"track","userId":"user-${(i * 7919) % 20000}","event":"${EVENT_NAMES[i % EVENT_NAMES.length]}","timestamp":"${now}","properties":{"plan":"${i % 3 ? "free" : "pro"}","n":${i}},"context":{"library":{"name":"bench"}},"messageId":"`, `-${i}"}`]);
  const run = Math.random().toString(36).slice(2, 8);
  return () => {
    const id = `${run}-${request++}`;
    let body = '{"batch":[';
    for (let i = 0; i < fragments.length; i++) body += (i ? "," : "") + fragments[i][0] + id + fragments[i][1];
    return `${body}]}`;
  };
}

interface Started {
  readonly url: string;
  readonly child: ChildProcess;
}

/** TypeScript children run under tsx; compiled JavaScript (the ingest, as its image runs it) under plain node. */
function startChild(script: string, env: Record<string, string>, logFile: string): Promise<Started> {
  const out = openSync(logFile, "a");
  const execArgv = script.endsWith(".ts") ? ["--import", "tsx"] : [];
  const child = fork(script, [], { execArgv, env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", out, out, "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("message", (m: { listening?: string }) => (m.listening ? resolve({ url: m.listening, child }) : reject(new Error("unexpected message"))));
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}; see ${logFile}`)));
  });
}

async function stopChild(started: Started): Promise<void> {
  // A child ended by a signal has exitCode null and signalCode set; waiting for its exit again would hang.
  if (started.child.exitCode !== null || started.child.signalCode !== null) return;
  const exited = new Promise((resolve) => started.child.once("exit", resolve));
  started.child.kill("SIGTERM");
  await exited;
}

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

async function load(url: string, path: string, body: string | (() => string), options: { rate?: number; connections?: number; seconds?: number; auth?: boolean; pipelining?: number } = {}): Promise<LoadResult> {
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

/** Server-side latency percentiles from the ingest's request log lines (duration_ms, request in to response out). */
function serverLatency(logFile: string): { p50: number; p99: number } {
  const durations = readFileSync(logFile, "utf8").split("\n").filter((l) => l.includes('"msg":"request"'))
    .map((l) => Number((JSON.parse(l) as { duration_ms: number }).duration_ms)).sort((a, b) => a - b);
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
    const { rows } = normalizeEvents(JSON.parse(next()).batch, { batch: true, receivedAtMs: Date.now(), newMessageId: () => "unused" });
    for (const r of rows) lines.push(r.json);
  }
  return Buffer.from(`${lines.slice(0, count).join("\n")}\n`);
}

async function chdbAlone(dir: string, rowsPerInsert: number, inserts: number): Promise<number> {
  const session = new Session(join(dir, "chdb-alone"));
  try {
    for (const file of toMigrationFiles(readMigrationSources(join(ROOT, "sql")))) {
      for (const s of splitStatements(file.sql, file.name)) await session.queryAsync(s.text);
    }
    const body = shippedRows(rowsPerInsert);
    let token = 0;
    await session.insert({ table: "analytics.events", values: body, format: "JSONEachRow", settings: { insert_deduplication_token: `warm-${token++}` } });
    const started = process.hrtime.bigint();
    for (let i = 0; i < inserts; i++) {
      await session.insert({ table: "analytics.events", values: body, format: "JSONEachRow", settings: { insert_deduplication_token: `alone-${token++}` } });
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return (rowsPerInsert * inserts) / seconds;
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

    const ingestEnv = (spoolDir: string, extra: Record<string, string> = {}) => ({
      INGEST_HOST: "127.0.0.1", INGEST_PORT: "0", INGEST_WRITE_KEYS: WRITE_KEY, CLICKHOUSE_URL: ch.url, CLICKHOUSE_USER: "default",
      CLICKHOUSE_PASSWORD: "", INGEST_SPOOL_DIR: spoolDir, INGEST_BATCH_MAX_EVENTS: String(SHIP_BATCH_EVENTS), INGEST_FLUSH_INTERVAL_MS: "1000",
      INGEST_LOG_LEVEL: "info", ...extra,
    });

    log("compiling the ingest service (ingest/dist, as the image runs it)");
    execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", join(ROOT, "ingest", "tsconfig.json")], { stdio: "inherit" });
    const server = join(ROOT, "ingest", "dist", "server.js");

    log("baseline: reference tracker (Express, in-memory buffer), single events");
    const baseline = await startChild(join(__dirname, "ingest-baseline-tracker.ts"), { CLICKHOUSE_URL: ch.url, PORT: "0" }, join(dir, "baseline.log"));
    children.push(baseline);
    const baselineSingle = await load(baseline.url, "/track", SINGLE_BODY, { auth: false, pipelining: PIPELINING });
    await stopChild(baseline);

    log("ours: single events at maximum rate");
    let ours = await startChild(server, ingestEnv(join(dir, "spool-single")), join(dir, "ingest-single.log"));
    children.push(ours);
    const single = await load(ours.url, "/track", SINGLE_BODY, { pipelining: PIPELINING });
    await stopChild(ours);
    log("ours: single events at half of that rate");
    ours = await startChild(server, ingestEnv(join(dir, "spool-half")), join(dir, "ingest-half.log"));
    children.push(ours);
    const half = await load(ours.url, "/track", SINGLE_BODY, { rate: Math.floor(single.okPerSecond / 2) });
    await stopChild(ours);
    const halfServer = serverLatency(join(dir, "ingest-half.log"));

    log("ours: batches of 100 events");
    ours = await startChild(server, ingestEnv(join(dir, "spool-batch")), join(dir, "ingest-batch.log"));
    children.push(ours);
    const batch = await load(ours.url, "/v1/batch", batchBodyFactory(), { connections: BATCH_CONNECTIONS, pipelining: PIPELINING });
    await stopChild(ours);

    // Empty the events table so the end-to-end phase measures inserts into the same size of table each time.
    await client.command({ query: "TRUNCATE TABLE analytics.events" });

    log(`chDB alone: in-process inserts of ${SHIP_BATCH_EVENTS}-row JSONEachRow batches with the rollup views`);
    const alone = await chdbAlone(dir, SHIP_BATCH_EVENTS, 10);

    log("end to end: offered what chDB alone sustains; rows landing in ClickHouse");
    ours = await startChild(server, ingestEnv(join(dir, "spool-e2e")), join(dir, "ingest-e2e.log"));
    children.push(ours);
    const e2eSeconds = Math.max(20, SECONDS * 2);
    const e2eLoad = load(ours.url, "/v1/batch", batchBodyFactory(), { connections: 20, seconds: e2eSeconds, rate: Math.ceil(alone / BATCH_SIZE) });
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const c0 = await countRows(client, "analytics.events");
    const t0 = Date.now();
    await new Promise((resolve) => setTimeout(resolve, (e2eSeconds - 7) * 1000));
    const c1 = await countRows(client, "analytics.events");
    const e2e = (c1 - c0) / ((Date.now() - t0) / 1000);
    await e2eLoad;
    await stopChild(ours);

    log("overload: twice the sustainable rate, 64 MiB spool; peak resident memory");
    ours = await startChild(server, ingestEnv(join(dir, "spool-overload"), { INGEST_SPOOL_MAX_BYTES: String(64 * 1024 * 1024) }), join(dir, "ingest-overload.log"));
    children.push(ours);
    const pid = ours.child.pid as number;
    let peakRss = rssMb(pid);
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssMb(pid)); }, 200);
    const overload = await load(ours.url, "/v1/batch", batchBodyFactory(), { connections: 50, seconds: Math.max(20, SECONDS * 2), rate: Math.ceil((2 * e2e) / BATCH_SIZE) });
    clearInterval(sampler);
    peakRss = Math.max(peakRss, rssMb(pid));
    await stopChild(ours);

    const rows: [string, string, string][] = [
      ["single events, baseline (reference tracker, not durable)", `${baselineSingle.okPerSecond.toFixed(0)} req/s`, `p99 ${baselineSingle.p99} ms`],
      ["single events, ingest (durable, fsync'd)", `${single.okPerSecond.toFixed(0)} req/s`, `${(single.okPerSecond / baselineSingle.okPerSecond).toFixed(2)}x baseline, p99 ${single.p99} ms`],
      [`single events at half rate (${Math.floor(single.okPerSecond / 2)} req/s)`, `p99 ${half.p99} ms`, `p50 ${half.p50} ms (client); server-side p99 ${halfServer.p99} ms, p50 ${halfServer.p50} ms`],
      ["batches of 100, ingest (durable)", `${(batch.okPerSecond * BATCH_SIZE).toFixed(0)} events/s`, `p99 ${batch.p99} ms`],
      [`chDB alone, ${SHIP_BATCH_EVENTS}-row inserts with rollup views`, `${alone.toFixed(0)} rows/s`, "in-process, no HTTP"],
      ["end to end into ClickHouse (via HTTP endpoint)", `${e2e.toFixed(0)} events/s`, `${((100 * e2e) / alone).toFixed(0)}% of chDB alone`],
      ["overload at 2x sustainable", `peak RSS ${peakRss.toFixed(0)} MB`, `2xx ${overload.statuses["200"] ?? 0}, 503 ${overload.statuses["503"] ?? 0}, errors ${overload.errors}`],
    ];
    const width = Math.max(...rows.map((r) => r[0].length));
    process.stdout.write(`\n${"phase".padEnd(width)}  ${"figure".padEnd(20)}  note\n${"-".repeat(width + 60)}\n`);
    for (const [phase, figure, note] of rows) process.stdout.write(`${phase.padEnd(width)}  ${figure.padEnd(20)}  ${note}\n`);
    process.stdout.write(`${JSON.stringify({
      single_rps: Math.round(single.okPerSecond),
      baseline_single_rps: Math.round(baselineSingle.okPerSecond),
      single_ratio: Number((single.okPerSecond / baselineSingle.okPerSecond).toFixed(2)),
      single_p99_ms: half.p99,
      single_p99_server_ms: halfServer.p99,
      single_half_rate_rps: Math.floor(single.okPerSecond / 2),
      batch_events_per_s: Math.round(batch.okPerSecond * BATCH_SIZE),
      e2e_events_per_s: Math.round(e2e),
      chdb_alone_events_per_s: Math.round(alone),
      e2e_share_of_chdb_alone: Number((e2e / alone).toFixed(2)),
      overload_rss_mb: Math.round(peakRss),
      overload_503: overload.statuses["503"] ?? 0,
      connections: CONNECTIONS,
      batch_connections: BATCH_CONNECTIONS,
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
