/**
 * `npm run simulate` as a user runs it: --help, flag errors with exit code 2, determinism of --dry-run, and a short
 * simulated run against the real ingest service (ingest/src/server.ts) writing to ClickHouse's HTTP interface over
 * chDB. The default path is exercised end to end: the URL and write key come from the stack's outputs through
 * scripts/pulumi-local.sh, and the app's log lines go to the docker relay container. No Pulumi CLI or Docker engine
 * exists here, so `pulumi` and `docker` are stand-ins on PATH that answer like the real ones and record what they
 * were asked; everything else (the simulator, the ingest, its spool, ClickHouse) is real.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { rawConfigForStack } from "../../components/stack-files";
import { APP_LOG_MAX_AGE_MS } from "../../scripts/simulate/app-logs";
import { parseSimulateArgs } from "../../scripts/simulate/flags";
import { ProductModel, type AppLogLine } from "../../scripts/simulate/model";
import { modelSpec } from "../../scripts/simulate/run";
import { startClickHouseHttp, type ClickHouseHttp } from "../support/clickhouse-http-server";
import { migrate, startIngestProcess, type IngestProcess } from "../ingest/support/ingest-process";

const ROOT = join(__dirname, "..", "..");
const SCRIPT = join(ROOT, "scripts", "simulate.ts");
const WRITE_KEY = "simulate-test-write-key-0123456789";

interface Result { code: number | null; stdout: string; stderr: string }

function simulate(args: string[], env: Record<string, string> = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", SCRIPT, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => { stdout += c.toString("utf8"); });
    child.stderr.on("data", (c: Buffer) => { stderr += c.toString("utf8"); });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const digestOf = (r: Result) => /Digest: (sha256:[0-9a-f]{64})/.exec(r.stderr)?.[1];

describe("npm run simulate (command line)", () => {
  it("prints its help and exits 0", async () => {
    const r = await simulate(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: npm run simulate -- [options]");
    expect(r.stdout).toContain("--days <n>");
  });

  it("exits 2 with every problem named when flags are wrong", async () => {
    const r = await simulate(["--days", "400", "--seed", "abc"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('simulate: --days: got "400", expected a whole number from 0 to 365');
    expect(r.stderr).toContain('simulate: --seed: got "abc"');
    expect(r.stderr).toContain("npm run simulate -- --help");
  });

  it("exits 2 and says how to deploy or what to pass when the stack has no outputs", async () => {
    const bin = mkdtempSync(join(tmpdir(), "sim-nobin-"));
    writeFileSync(join(bin, "pulumi"), "#!/usr/bin/env bash\nif [ \"$1 $2\" = \"stack output\" ]; then echo '{}'; fi\nexit 0\n");
    writeFileSync(join(bin, "docker"), "#!/usr/bin/env bash\nexit 0\n");
    chmodSync(join(bin, "pulumi"), 0o755);
    chmodSync(join(bin, "docker"), 0o755);
    const r = await simulate(["--days", "1"], { PATH: `${bin}:${process.env.PATH}` });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("stack dev has no ingestUrl or ingestWriteKeys output");
    expect(r.stderr).toContain("--url and --write-key");
  });

  it("is deterministic: the same --seed and --until give the same traffic digest; another seed does not", async () => {
    const args = ["--dry-run", "--days", "3", "--until", "2026-02-01T12:00:00Z", "--no-progress"];
    const [a, b, c] = await Promise.all([simulate([...args, "--seed", "42"]), simulate([...args, "--seed", "42"]), simulate([...args, "--seed", "43"])]);
    expect(a.code, a.stderr).toBe(0);
    expect(digestOf(a)).toBeDefined();
    expect(digestOf(b)).toBe(digestOf(a));
    expect(digestOf(c)).not.toBe(digestOf(a));
    expect(a.stderr).toContain("Dry run: nothing sent.");
  });
});

describe("a short simulated run against the ingest service on the chDB endpoint", () => {
  let dir: string;
  let ch: ClickHouseHttp;
  let ingest: IngestProcess;
  let client: ClickHouseClient;
  let bin: string;
  let relayInput: string;
  let relayArgs: string;
  // Pinned so this test can compute the same traffic itself; recent, so the app's log lines are young enough for Loki.
  const until = new Date(Math.floor((Date.now() - 3_600_000) / 1000) * 1000).toISOString().replace(".000Z", "Z");
  const args = ["--days", "2", "--signups-per-day", "15", "--seed", "5", "--until", until, "--no-progress"];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "simulate-e2e-"));
    ch = await startClickHouseHttp({ dataDir: join(dir, "clickhouse") });
    await migrate(ch.url);
    mkdirSync(join(dir, "spool"));
    ingest = await startIngestProcess({ clickhouseUrl: ch.url, spoolDir: join(dir, "spool"), writeKeys: [WRITE_KEY] });
    client = createClient({ url: ch.url, request_timeout: 60_000 });

    // Stand-ins: `pulumi stack output --json --show-secrets` answers with this stack's outputs; `docker run` is the
    // relay container, which here keeps what it reads (the real one prints it for the log shipper).
    bin = join(dir, "bin");
    mkdirSync(bin);
    relayInput = join(dir, "relay-input.log");
    relayArgs = join(dir, "relay-args.txt");
    // Two keys, as a stack with rotated keys has: the first is used.
    const outputs = JSON.stringify({ grafanaUrl: "http://127.0.0.1:3000", ingestUrl: ingest.url, ingestWriteKeys: `${WRITE_KEY},second-key-abcdefgh` });
    writeFileSync(join(bin, "pulumi"), `#!/usr/bin/env bash
if [ "$1 $2" = "stack output" ]; then echo '${outputs}'; fi
exit 0
`);
    writeFileSync(join(bin, "docker"), `#!/usr/bin/env bash
if [ "$1" = "run" ]; then echo "$@" > ${relayArgs}; cat >> ${relayInput}; fi
exit 0
`);
    chmodSync(join(bin, "pulumi"), 0o755);
    chmodSync(join(bin, "docker"), 0o755);
  });

  afterAll(async () => {
    await ingest?.kill("SIGTERM");
    await client?.close();
    await ch?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function stored(): Promise<Record<string, number>> {
    const rows = await (await client.query({
      query: `SELECT 'event:' || event_name AS k, count() AS n FROM analytics.events GROUP BY k
        UNION ALL SELECT 'identify', count() FROM analytics.identifies
        UNION ALL SELECT 'group', count() FROM analytics.groups
        UNION ALL SELECT 'alias', count() FROM analytics.aliases`,
      format: "JSONEachRow",
    })).json<{ k: string; n: string }>();
    return Object.fromEntries(rows.filter((r) => Number(r.n) > 0).map((r) => [r.k, Number(r.n)] as const).sort(([a], [b]) => a.localeCompare(b)));
  }

  async function waitFor(expected: Record<string, number>): Promise<Record<string, number>> {
    const deadline = Date.now() + 30_000;
    let last = await stored();
    while (JSON.stringify(last) !== JSON.stringify(expected) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      last = await stored();
    }
    return last;
  }

  it("sends the model's traffic through the ingest: ClickHouse holds exactly the generated events, identities and app logs go to the relay", async () => {
    // The known answer: the same traffic, generated here from the same options.
    const parsed = parseSimulateArgs(args, {}, Date.now());
    if (parsed.kind !== "ok") throw new Error(JSON.stringify(parsed));
    const model = new ProductModel(modelSpec(parsed.options));
    const logs: AppLogLine[] = [];
    for (const day of model.days()) logs.push(...day.logs.filter((l) => l.timeMs >= Date.now() - APP_LOG_MAX_AGE_MS));
    const m = model.stats;
    const expected: Record<string, number> = { alias: m.callsByKind.alias, group: m.callsByKind.group, identify: m.callsByKind.identify };
    for (const [name, n] of Object.entries(m.eventsByName)) expected[`event:${name}`] = n;
    const sorted = Object.fromEntries(Object.entries(expected).sort(([a], [b]) => a.localeCompare(b)));
    expect(m.callsByKind.invalid).toBeGreaterThan(0);

    const r = await simulate(args, { PATH: `${bin}:${process.env.PATH}` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("write key from stack dev's outputs");
    expect(r.stderr).not.toContain(WRITE_KEY);
    expect(r.stderr).toContain(`rejected: invalid_event ${m.callsByKind.invalid}`);
    expect(await waitFor(sorted)).toEqual(sorted);

    // The app's log lines went to a relay container labelled for this stack's log shipper, in time order.
    const cfg = loadConfig(rawConfigForStack(ROOT, "dev"), "dev");
    const relay = readFileSync(relayArgs, "utf8");
    expect(relay).toContain(`--label analytics.stack=${cfg.namePrefix} --label analytics.service=app`);
    expect(relay).toContain(cfg.images.node);
    const lines = readFileSync(relayInput, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { time: string; level: string; msg: string });
    expect(lines).toHaveLength(logs.length);
    expect(lines.filter((l) => l.level === "error").length).toBe(logs.filter((l) => l.level === "error").length);
    expect(lines.map((l) => l.time)).toEqual([...lines.map((l) => l.time)].sort());
  });

  it("sends the same ids again on a rerun, so the ingest stores nothing twice", async () => {
    const before = await stored();
    const r = await simulate([...args, "--app-logs", "none"], { INGEST_URL: ingest.url, INGEST_WRITE_KEY: WRITE_KEY });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Ingest: 0 stored, \d+ duplicates/);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // longer than the ingest's flush interval
    expect(await stored()).toEqual(before);
  });

  it("fails with exit 1 and a clear message when the write key is wrong", async () => {
    const r = await simulate([...args, "--app-logs", "none"], { INGEST_URL: ingest.url, INGEST_WRITE_KEY: "not-the-right-key" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the ingest refused the write key (401");
  });

  it("fails with exit 1 when the ingest is not reachable", async () => {
    const r = await simulate([...args, "--app-logs", "none"], { INGEST_URL: "http://127.0.0.1:9", INGEST_WRITE_KEY: WRITE_KEY });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot reach the ingest at http://127.0.0.1:9");
  });
});
