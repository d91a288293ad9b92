/**
 * Real clients over real HTTP against the ingest process and ClickHouse (chDB endpoint):
 * - `@segment/analytics-node` pointed at the service delivers every call type to the right table;
 * - a corpus of malformed and hostile requests gets the right 4xx (never a 500, never a crash or hang), stores
 *   nothing, and the valid events sent alongside all land, SQL-looking values stored verbatim as data.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Analytics } from "@segment/analytics-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { startClickHouseHttp, type ClickHouseHttp } from "../support/clickhouse-http-server";
import { migrate, startIngestProcess, type IngestProcess } from "./support/ingest-process";

const KEY = "real-client-key";
const AUTH = `Basic ${Buffer.from(`${KEY}:`).toString("base64")}`;

/** Sends raw bytes (fetch would re-encode invalid UTF-8); resolves with status and parsed body. */
function rawPost(base: string, path: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: "POST",
      headers: { "content-type": "application/json", authorization: AUTH, "content-length": String(body.length), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      });
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`request to ${path} hung`)));
    req.end(body);
  });
}

describe("real clients", () => {
  let dir: string;
  let ch: ClickHouseHttp;
  let client: ClickHouseClient;
  let ingest: IngestProcess;
  const rows = async <T>(query: string) => (await client.query({ query, format: "JSONEachRow" })).json<T>();
  const waitForCount = async (query: string, expected: number) => {
    const deadline = Date.now() + 20_000;
    let n = -1;
    while (Date.now() < deadline) {
      n = Number((await rows<{ c: string }>(query))[0].c);
      if (n >= expected) return n;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return n;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "real-clients-"));
    ch = await startClickHouseHttp({ dataDir: join(dir, "clickhouse") });
    await migrate(ch.url);
    client = createClient({ url: ch.url });
    ingest = await startIngestProcess({ clickhouseUrl: ch.url, spoolDir: join(dir, "spool"), writeKeys: [KEY], env: { INGEST_FLUSH_INTERVAL_MS: "100" } });
  });
  afterAll(async () => {
    await ingest?.kill("SIGTERM");
    await client?.close();
    await ch?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("delivers every call type from @segment/analytics-node to its table", async () => {
    const analytics = new Analytics({ writeKey: KEY, host: ingest.url, flushAt: 50, flushInterval: 200, maxRetries: 3 });
    const failures: unknown[] = [];
    analytics.on("error", (e) => failures.push(e));
    analytics.identify({ anonymousId: "anon-7", userId: "sdk-user", traits: { email: "ada@example.com", plan: "pro" } });
    analytics.track({ userId: "sdk-user", event: "Report Exported", properties: { format: "csv", rows: 120 } });
    analytics.page({ anonymousId: "anon-7", name: "Pricing", properties: { path: "/pricing" } });
    analytics.screen({ userId: "sdk-user", name: "Dashboard" });
    analytics.group({ userId: "sdk-user", groupId: "acme", traits: { employees: 40 } });
    analytics.alias({ userId: "sdk-user", previousId: "anon-7" });
    await analytics.closeAndFlush({ timeout: 10_000 });
    expect(failures).toEqual([]);

    expect(await waitForCount("SELECT count() AS c FROM analytics.aliases", 1)).toBe(1);
    expect(await waitForCount("SELECT count() AS c FROM analytics.events WHERE user_id = 'sdk-user' OR anonymous_id = 'anon-7'", 3)).toBe(3);
    const events = await rows<Record<string, unknown>>(
      "SELECT type, event_name, user_id, anonymous_id, properties.format::String AS format, properties.rows::Int64 AS n, context.library.name::String AS library, length(message_id) > 0 AS has_id " +
      "FROM analytics.events WHERE user_id = 'sdk-user' OR anonymous_id = 'anon-7' ORDER BY type");
    expect(events).toEqual([
      { type: "page", event_name: "Pricing", user_id: "", anonymous_id: "anon-7", format: "", n: 0, library: "@segment/analytics-node", has_id: 1 },
      { type: "screen", event_name: "Dashboard", user_id: "sdk-user", anonymous_id: "", format: "", n: 0, library: "@segment/analytics-node", has_id: 1 },
      { type: "track", event_name: "Report Exported", user_id: "sdk-user", anonymous_id: "", format: "csv", n: 120, library: "@segment/analytics-node", has_id: 1 },
    ]);
    expect(await rows("SELECT user_id, anonymous_id, traits.email::String AS email FROM analytics.identifies")).toEqual([{ user_id: "sdk-user", anonymous_id: "anon-7", email: "ada@example.com" }]);
    expect(await rows("SELECT user_id, group_id, traits.employees::Int64 AS employees FROM analytics.groups")).toEqual([{ user_id: "sdk-user", group_id: "acme", employees: 40 }]);
    expect(await rows("SELECT user_id, previous_id FROM analytics.aliases")).toEqual([{ user_id: "sdk-user", previous_id: "anon-7" }]);
  });

  it("answers a hostile corpus with the right 4xx, stores none of it, and lands every valid event sent alongside", async () => {
    const track = (extra: Record<string, unknown>) => Buffer.from(JSON.stringify({ userId: "hostile", event: "hostile", ...extra }));
    const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    const corpus: [string, string, Buffer, number, string, Record<string, string>?][] = [
      ["truncated JSON", "/v1/track", Buffer.from('{"userId":"hostile","event":"trunc'), 400, "malformed_json"],
      ["empty body", "/v1/track", Buffer.alloc(0), 400, "malformed_json"],
      ["JSON null", "/v1/track", Buffer.from("null"), 400, "invalid_body"],
      ["top-level array", "/v1/batch", Buffer.from("[1,2,3]"), 400, "invalid_body"],
      ["deep nesting", "/v1/track", Buffer.from(`{"userId":"hostile","event":"deep","properties":{"a":${deep(5000)}}}`), 400, "too_deep"],
      ["deep nesting in a batch", "/v1/batch", Buffer.from(`{"batch":[{"type":"track","userId":"hostile","event":"d","properties":{"a":${deep(100_000)}}}]}`), 400, "too_deep"],
      ["huge string", "/v1/track", track({ properties: { s: "h".repeat(200_000) } }), 413, "batch_too_large"],
      ["huge body", "/v1/batch", Buffer.from(JSON.stringify({ batch: [{ type: "track", userId: "hostile", event: "x", properties: { s: "h".repeat(600_000) } }] })), 413, "batch_too_large"],
      ["userId as object", "/v1/track", track({ userId: { $ne: null } }), 400, "invalid_event"],
      ["properties as string", "/v1/track", track({ properties: "a=1" }), 400, "invalid_event"],
      ["event as number", "/v1/track", track({ event: 42 }), 400, "invalid_event"],
      ["timestamp as number", "/v1/track", track({ timestamp: 1714572120 }), 400, "invalid_event"],
      ["timestamp not a date", "/v1/track", track({ timestamp: "2024-02-30T25:61:00Z" }), 400, "invalid_event"],
      ["batch as string", "/v1/batch", Buffer.from('{"batch":"everything"}'), 400, "invalid_body"],
      ["missing ids", "/v1/batch", Buffer.from('{"batch":[{"type":"track","event":"no ids"}]}'), 400, "invalid_event"],
      ["__proto__ key", "/v1/track", Buffer.from('{"userId":"hostile","event":"p","properties":{"__proto__":{"isAdmin":true}}}'), 400, "forbidden_key"],
      ["constructor.prototype", "/v1/track", Buffer.from('{"userId":"hostile","event":"p","constructor":{"prototype":{"x":1}}}'), 400, "forbidden_key"],
      ["invalid UTF-8", "/v1/track", Buffer.concat([Buffer.from('{"userId":"hostile","event":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]), 400, "invalid_utf8"],
      ["lone surrogate escape", "/v1/track", Buffer.from('{"userId":"hostile","event":"\\udc00"}'), 400, "invalid_utf8"],
      ["2501 events", "/v1/batch", Buffer.from(JSON.stringify({ batch: Array.from({ length: 2501 }, () => ({ type: "track", userId: "hostile", event: "many" })) })), 400, "too_many_events"],
      ["one bad event spoils its batch", "/v1/batch", Buffer.from(JSON.stringify({ batch: [{ type: "track", userId: "hostile", event: "ok" }, { type: "track", userId: "hostile" }] })), 400, "invalid_event"],
      ["wrong write key", "/v1/track", track({}), 401, "unauthorized", { authorization: `Basic ${Buffer.from("guess:").toString("base64")}` }],
      ["no write key", "/v1/track", track({}), 401, "unauthorized", { authorization: "" }],
      ["XML", "/v1/track", Buffer.from("<track/>"), 415, "unsupported_media_type", { "content-type": "application/xml" }],
    ];
    const sqlish = [
      { type: "track", userId: "1' OR '1'='1", event: "'); DROP TABLE analytics.events; --", messageId: "valid-sql-1", properties: { q: "SELECT * FROM system.users" } },
      { type: "track", userId: "valid-user", event: "Unicode ✓ 😀", messageId: "valid-unicode", properties: { "": "empty key", "a.b": 1, nested: { deep: [1, "two", null] }, big: 1e308 } },
      { type: "identify", userId: "valid-user", traits: { name: "Robert\"); DROP TABLE identifies;--" }, messageId: "valid-identify" },
    ];

    let valid = 0;
    for (const [name, path, body, status, code, headers] of corpus) {
      const res = await rawPost(ingest.url, path, body, headers);
      expect({ name, status: res.status, code: res.body.code }).toEqual({ name, status, code });
      if (status === 400) expect(res.body.errors, `${name} names the field`).toEqual(expect.arrayContaining([expect.objectContaining({ field: expect.any(String), problem: expect.any(String) })]));
      // A valid event right after each hostile request: the service is alive and keeps accepting.
      const ok = await rawPost(ingest.url, "/v1/track", Buffer.from(JSON.stringify({ userId: "valid-user", event: "alongside", messageId: `alongside-${valid}` })));
      expect(ok.status, `valid event after "${name}"`).toBe(200);
      valid++;
    }
    const batch = await rawPost(ingest.url, "/v1/batch", Buffer.from(JSON.stringify({ batch: sqlish })));
    expect(batch).toEqual({ status: 200, body: { success: true, accepted: 3, duplicates: 0 } });

    expect(await waitForCount("SELECT count() AS c FROM analytics.events WHERE user_id IN ('valid-user', '1'' OR ''1''=''1')", valid + 2)).toBe(valid + 2);
    expect(await waitForCount("SELECT count() AS c FROM analytics.identifies WHERE user_id = 'valid-user'", 1)).toBe(1);
    expect(await rows("SELECT count() AS c FROM analytics.events WHERE user_id = 'hostile' OR event_name IN ('hostile', 'many', 'deep')")).toEqual([{ c: 0 }]);
    expect(await rows("SELECT user_id, event_name, properties.q::String AS q FROM analytics.events WHERE message_id = 'valid-sql-1'")).toEqual([
      { user_id: "1' OR '1'='1", event_name: "'); DROP TABLE analytics.events; --", q: "SELECT * FROM system.users" },
    ]);
    expect(await rows("SELECT event_name FROM analytics.events WHERE message_id = 'valid-unicode'")).toEqual([{ event_name: "Unicode ✓ 😀" }]);
    expect(await rows("SELECT count() AS c FROM analytics.ingest_dead_letters")).toEqual([{ c: 0 }]);
    const health = await fetch(`${ingest.url}/healthz`);
    expect(health.status).toBe(200);
    expect(ingest.logs.filter((l) => Number(l.status) >= 500)).toEqual([]);
  });
});
