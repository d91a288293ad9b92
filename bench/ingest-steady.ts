/**
 * `npm run bench:ingest-steady -- --rate N`: the ingest alone under steady open-loop arrivals (bench/open-loop.ts),
 * with the CPU each of its threads used per request, to see what a request costs when requests do not come in bursts.
 * ClickHouse is left out on purpose: `--clickhouse none` (default) points the shipper at a closed port (events stay
 * spooled, its retries are cheap); `--clickhouse stub` at an HTTP stub that accepts every insert at once, so the
 * shipper's own work is included but no database competes for the cores. A diagnostic, not a target: the figures it
 * printed are in docs/benchmarks-ingest.md ("Fourth round" and "Fifth look").
 *
 * Options: --rate N (requests/s, default 4000), --seconds N (measured, default 6; after 3 s of warm-up),
 * --group-commit-ms N (INGEST_GROUP_COMMIT_INTERVAL_MS, default: the service's), --clickhouse none|stub,
 * --server ingest|floor (default ingest; floor: bench/floor-server.ts, bare Fastify that parses and answers, the
 * least a request can cost here under the same load).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileIngest, startChild, statCpuSeconds } from "./children";
import { openLoop } from "./open-loop";

const args = process.argv.slice(2);
const flag = (name: string) => { const at = args.indexOf(`--${name}`); return at < 0 ? undefined : args[at + 1] ?? ""; };
const number = (name: string, fallback: number, min: number, max = Number.POSITIVE_INFINITY) => {
  const raw = flag(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  // Number("") is 0: a flag given without its value must not pass as 0.
  if (raw.trim() === "" || !Number.isFinite(value) || value < min || value > max) {
    process.stderr.write(`--${name}: got ${JSON.stringify(raw)}, expected a number >= ${min}${max < Number.POSITIVE_INFINITY ? ` and <= ${max}` : ""}\n`);
    process.exit(2);
  }
  return value;
};
if (args.includes("--help")) {
  process.stdout.write("usage: npm run bench:ingest-steady -- [--rate N] [--seconds N] [--group-commit-ms N] [--clickhouse none|stub] [--server ingest|floor]\n");
  process.exit(0);
}
const RATE = number("rate", 4000, 1);
const SECONDS = number("seconds", 6, 1);
// The service's own bounds (ingest/src/config.ts), so a value it would refuse is refused here, naming the flag.
const GROUP_COMMIT_MS = flag("group-commit-ms") === undefined ? undefined : number("group-commit-ms", 2, 0, 100);
if (GROUP_COMMIT_MS !== undefined && !Number.isInteger(GROUP_COMMIT_MS)) {
  process.stderr.write(`--group-commit-ms: got ${GROUP_COMMIT_MS}, expected a whole number of milliseconds\n`);
  process.exit(2);
}
const CLICKHOUSE = flag("clickhouse") ?? "none";
if (CLICKHOUSE !== "none" && CLICKHOUSE !== "stub") {
  process.stderr.write(`--clickhouse: got ${JSON.stringify(CLICKHOUSE)}, expected none or stub\n`);
  process.exit(2);
}
const SERVER = flag("server") ?? "ingest";
if (SERVER !== "ingest" && SERVER !== "floor") {
  process.stderr.write(`--server: got ${JSON.stringify(SERVER)}, expected ingest or floor\n`);
  process.exit(2);
}
const WRITE_KEY = "wk_steady_0123456789abcdef";

/** CPU seconds (user, system) of each thread of a process, by "tid:name". */
function threadCpu(pid: number): Map<string, [number, number]> {
  return new Map(readdirSync(`/proc/${pid}/task`).map((tid) => {
    const { user, system } = statCpuSeconds(`/proc/${pid}/task/${tid}/stat`);
    const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
    return [`${tid}:${name}`, [user, system]];
  }));
}

async function main(): Promise<void> {
  const server = SERVER === "floor" ? join(__dirname, "floor-server.ts") : compileIngest();
  const dir = mkdtempSync(join(tmpdir(), "ingest-steady-"));
  const stub = createServer((req, res) => { req.resume(); req.on("end", () => res.writeHead(200).end()); });
  await new Promise<void>((resolve) => stub.listen(0, "127.0.0.1", resolve));
  const clickhouseUrl = CLICKHOUSE === "stub" ? `http://127.0.0.1:${(stub.address() as AddressInfo).port}` : "http://127.0.0.1:9";
  const log = join(dir, "ingest.log");
  let child: ChildProcess | undefined;
  try {
    const started = await startChild(server, {
      INGEST_HOST: "127.0.0.1", INGEST_PORT: "0", INGEST_WRITE_KEYS: WRITE_KEY, CLICKHOUSE_URL: clickhouseUrl,
      CLICKHOUSE_USER: "default", CLICKHOUSE_PASSWORD: "steady", INGEST_SPOOL_DIR: join(dir, "spool"),
      ...(GROUP_COMMIT_MS === undefined ? {} : { INGEST_GROUP_COMMIT_INTERVAL_MS: String(GROUP_COMMIT_MS) }),
    }, log).catch((error: Error) => {
      // The log is deleted with the directory below, so what it says goes into the error.
      throw new Error(`the ingest did not start (${error.message}); its log:\n${readFileSync(log, "utf8")}`);
    });
    child = started.child;
    const pid = child.pid as number;
    const origin = started.url;
    let before = new Map<string, [number, number]>();
    let startedMs = 0;
    const result = await openLoop({
      origin, path: "/track", rate: RATE, seconds: SECONDS, warmupSeconds: 3, connections: 50,
      headers: { "content-type": "application/json", authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString("base64")}` },
      body: JSON.stringify({ user_id: 123456, event_name: "page_view", properties: { plan: "pro", path: "/pricing" } }),
      onMeasuring: () => { before = threadCpu(pid); startedMs = performance.now(); },
    });
    const after = threadCpu(pid);
    const seconds = (performance.now() - startedMs) / 1000;
    let user = 0;
    let system = 0;
    console.log(`${SERVER}: rate ${RATE}/s for ${SECONDS} s (ClickHouse: ${SERVER === "floor" ? "not used" : CLICKHOUSE}): p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, ${result.ok} ok, ${result.non2xx + result.errors} not`);
    for (const [thread, [u, s]] of after) {
      const [u0, s0] = before.get(thread) ?? [0, 0];
      const du = (u - u0) / seconds;
      const ds = (s - s0) / seconds;
      user += du;
      system += ds;
      if (du + ds >= 0.01) console.log(`  thread ${thread.padEnd(20)} user ${du.toFixed(2)} system ${ds.toFixed(2)} cores`);
    }
    console.log(`  ${SERVER}: ${(user + system).toFixed(2)} cores (user ${user.toFixed(2)}, system ${system.toFixed(2)}), ${Math.round(((user + system) * 1e6) / RATE)} µs of CPU per request`);
    console.log(JSON.stringify({ server: SERVER, rate: RATE, clickhouse: SERVER === "floor" ? null : CLICKHOUSE, group_commit_ms: GROUP_COMMIT_MS ?? null, p50_ms: Number(result.p50.toFixed(2)), p99_ms: Number(result.p99.toFixed(2)), cores: Number((user + system).toFixed(3)), cpu_us_per_request: Math.round(((user + system) * 1e6) / RATE) }));
  } finally {
    child?.kill("SIGKILL");
    stub.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:ingest-steady failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
