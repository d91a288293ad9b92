/**
 * Security review: the migrator's grants enforced by the real engine (chDB), as in clickhouse-access.test.ts: the
 * generated `migrator` definition is installed as chDB's `default` user (password blanked) in a child process.
 *
 * The migrator has no READ ON URL grant, so `url()` is refused. A dictionary is another way to the same place: with
 * CREATE DICTIONARY and dictGet a DDL dictionary with an HTTP source makes the server fetch any URL it can reach
 * (Loki's unauthenticated API, Grafana, cloud metadata) and hand back the body, with no source grant checked. No
 * migration uses a dictionary, so the migrator gets no dictionary grants.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServerConfigXml } from "../components/clickhouse-server-config";
import { buildUsersXml, CLICKHOUSE_USERS, READER_LIMITS, roleGrants, type ClickHouseRole } from "../components/clickhouse-users";

const CHILD = join(__dirname, "clickhouse-access-child.ts");
const SQL_DIR = join(__dirname, "..", "sql");
const DENIED = /Not enough privileges|ACCESS_DENIED/;

interface QueryResult { query: string; ok: boolean; error?: string }
interface ChildOutput { migrate?: { ok: boolean; error?: string }; results: QueryResult[] }

function runChild(job: Record<string, unknown>): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { err += d; });
    child.on("close", (code) => {
      const last = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !last.startsWith("{")) reject(new Error(`child exited ${code}; stderr: ${err}`));
      else resolve(JSON.parse(last) as ChildOutput);
    });
    child.stdin.end(JSON.stringify(job));
  });
}

/** A generated user as chDB's only (default) user. */
function roleAsDefault(role: ClickHouseRole): string {
  const xml = buildUsersXml({ passwordSha256: { migrator: "1".repeat(64), writer: "2".repeat(64), reader: "3".repeat(64) } });
  const profiles = /<profiles>[\s\S]*?<\/profiles>/.exec(xml)![0]
    .replace("<profiles>", "<profiles>\n<default/>").replace(/\s*<changeable_in_readonly\/>/, "");
  const name = CLICKHOUSE_USERS[role];
  const body = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml)![1]
    .replace(/<password_sha256_hex>[0-9a-f]{64}<\/password_sha256_hex>/, "<password></password>");
  return `<clickhouse>${profiles}<quotas><default/></quotas><users><default>${body}</default></users></clickhouse>`;
}

/** Runs queries as `role` on a fresh data directory under `dir` (applying the migrations first when given). */
async function runAs(dir: string, role: ClickHouseRole, queries: string[], migrationsDir?: string): Promise<ChildOutput> {
  const usersPath = join(dir, `${role}-users.xml`);
  const configPath = join(dir, `${role}-config.xml`);
  const access = /<access_control_improvements>[\s\S]*?<\/access_control_improvements>/
    .exec(buildServerConfigXml({ systemLogRetentionDays: 7 }))![0];
  writeFileSync(configPath, `<clickhouse><user_directories><users_xml><path>${usersPath}</path></users_xml>` +
    `</user_directories>${access}</clickhouse>`);
  writeFileSync(usersPath, roleAsDefault(role));
  return runChild({ dataDir: join(dir, `${role}-data`), configFile: configPath, migrationsDir, queries });
}

const HTTP_DICTIONARY = "CREATE DICTIONARY analytics.probe (k UInt64, v String) PRIMARY KEY k " +
  "SOURCE(HTTP(url 'http://127.0.0.1:9/' format 'TSV')) LAYOUT(FLAT()) LIFETIME(0)";
const FETCH = "SELECT dictGet('analytics.probe', 'v', toUInt64(1)) AS v";
const URL_FUNCTION = "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')";

describe("security review: the migrator cannot reach arbitrary URLs", () => {
  let dir: string;
  let out: ChildOutput;
  const result = (query: string) => out.results.find((r) => r.query === query)!;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sec-grants-"));
    out = await runAs(dir, "migrator", [URL_FUNCTION, HTTP_DICTIONARY, FETCH], SQL_DIR);
  }, 120_000);
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it("still applies every migration without dictionary grants", () => {
    expect(out.migrate).toEqual(expect.objectContaining({ ok: true }));
  });

  it("is refused the url() table function and an HTTP-sourced dictionary alike", () => {
    expect(result(URL_FUNCTION).error).toMatch(DENIED);
    expect(result(HTTP_DICTIONARY).error, "CREATE DICTIONARY with an HTTP source").toMatch(DENIED);
    // Had the dictionary been created, the fetch must not have been attempted either.
    expect(result(FETCH).error).not.toMatch(/Connection refused/);
  });

  it("holds no dictionary grant at all", () => {
    expect(roleGrants().migrator.join("\n")).not.toMatch(/DICTIONARY|dictGet/);
  });
});

/**
 * The writer's profile caps a query at READER_LIMITS.maxMemoryBytes, but the profile is not read-only, so without a
 * constraint whoever holds the ingest's password lifts the cap per query (`SETTINGS max_memory_usage = 0`) and runs
 * the server out of memory with `numbers()` (a table function that needs no grant).
 */
describe("security review: the ingest writer cannot lift its memory limit", () => {
  let dir: string;
  let out: ChildOutput;
  const UNLIMITED = "SELECT 1 AS one SETTINGS max_memory_usage = 0";
  const ABOVE = `SELECT 1 AS one SETTINGS max_memory_usage = ${READER_LIMITS.maxMemoryBytes * 2}`;
  const BELOW = "SELECT 1 AS one SETTINGS max_memory_usage = 1000000";
  const NO_GRANT_NEEDED = "SELECT count() AS n FROM numbers(10)";
  const result = (query: string) => out.results.find((r) => r.query === query)!;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "sec-writer-"));
    out = await runAs(dir, "writer", [NO_GRANT_NEEDED, UNLIMITED, ABOVE, BELOW]);
  }, 120_000);
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it("can run a query that needs no grant, which is why the cap matters", () => {
    expect(result(NO_GRANT_NEEDED).ok).toBe(true);
  });

  it("is refused an unlimited or higher max_memory_usage, and may lower it", () => {
    expect(result(UNLIMITED).error).toMatch(/max_memory_usage shouldn't be less than/);
    expect(result(ABOVE).error).toMatch(/max_memory_usage shouldn't be greater than/);
    expect(result(BELOW).ok).toBe(true);
  });
});
