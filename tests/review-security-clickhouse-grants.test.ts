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
import { buildUsersXml, CLICKHOUSE_USERS, roleGrants } from "../components/clickhouse-users";

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

/** The generated migrator as chDB's only (default) user. */
function migratorAsDefault(): string {
  const xml = buildUsersXml({ passwordSha256: { migrator: "1".repeat(64), writer: "2".repeat(64), reader: "3".repeat(64) } });
  const profiles = /<profiles>[\s\S]*?<\/profiles>/.exec(xml)![0]
    .replace("<profiles>", "<profiles>\n<default/>").replace(/\s*<changeable_in_readonly\/>/, "");
  const name = CLICKHOUSE_USERS.migrator;
  const body = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml)![1]
    .replace(/<password_sha256_hex>[0-9a-f]{64}<\/password_sha256_hex>/, "<password></password>");
  return `<clickhouse>${profiles}<quotas><default/></quotas><users><default>${body}</default></users></clickhouse>`;
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
    const usersPath = join(dir, "users.xml");
    const configPath = join(dir, "config.xml");
    const access = /<access_control_improvements>[\s\S]*?<\/access_control_improvements>/
      .exec(buildServerConfigXml({ systemLogRetentionDays: 7 }))![0];
    writeFileSync(configPath, `<clickhouse><user_directories><users_xml><path>${usersPath}</path></users_xml>` +
      `</user_directories>${access}</clickhouse>`);
    writeFileSync(usersPath, migratorAsDefault());
    out = await runChild({ dataDir: join(dir, "data"), configFile: configPath, migrationsDir: SQL_DIR,
      queries: [URL_FUNCTION, HTTP_DICTIONARY, FETCH] });
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
