/**
 * Exactly-once under failure, end to end over real HTTP: 100,000 events are sent while the ingest process is
 * SIGKILLed twice (once while ClickHouse is down, so the spool holds unshipped segments) and ClickHouse is stopped
 * for a while. The client retries whatever was not acknowledged, with the same messageIds, as Segment's SDKs do.
 * Afterwards every event is in ClickHouse exactly once and the rollups fed by materialized views agree.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { startClickHouseHttp, type ClickHouseHttp } from "../support/clickhouse-http-server";
import { migrate, startIngestProcess, type IngestProcess } from "./support/ingest-process";

const TOTAL = 100_000;
const BATCH = 25;
const CONCURRENCY = 6;
const WRITE_KEY = "exactly-once-key";
const AUTH = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString("base64")}`;
const BASE_MS = Date.UTC(2024, 4, 1, 0, 0, 0);
const EVENT_NAMES = ["signup", "page_view", "export", "invite"];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function batchBody(first: number): string {
  const batch = [];
  for (let i = first; i < Math.min(first + BATCH, TOTAL); i++) {
    batch.push({
      type: "track", messageId: `eo-${i}`, userId: `user-${i % 997}`, event: EVENT_NAMES[i % EVENT_NAMES.length],
      properties: { i, plan: i % 3 === 0 ? "pro" : "free" }, timestamp: new Date(BASE_MS + i * 1000).toISOString(),
    });
  }
  return JSON.stringify({ batch });
}

describe("exactly-once delivery under SIGKILL and a ClickHouse outage", () => {
  let dir: string;
  let ch: ClickHouseHttp;
  let client: ClickHouseClient;
  let ingest: IngestProcess;
  const processes: IngestProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "exactly-once-"));
    ch = await startClickHouseHttp({ dataDir: join(dir, "clickhouse") });
    await migrate(ch.url);
    client = createClient({ url: ch.url, request_timeout: 60_000 });
  });

  afterAll(async () => {
    for (const p of processes) await p.kill("SIGKILL");
    await client?.close();
    await ch?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stores every acknowledged event exactly once and keeps rollups in agreement", { timeout: 240_000 }, async () => {
    const port = await freePort();
    const start = async () => {
      ingest = await startIngestProcess({
        clickhouseUrl: ch.url, spoolDir: join(dir, "spool"), writeKeys: [WRITE_KEY], port,
        env: { INGEST_BATCH_MAX_EVENTS: "5000", INGEST_FLUSH_INTERVAL_MS: "200", INGEST_SHUTDOWN_TIMEOUT_MS: "30000" },
      });
      processes.push(ingest);
    };
    await start();
    const url = `http://127.0.0.1:${port}/v1/batch`;

    let acknowledged = 0;
    let failedAttempts = 0;
    let next = 0;
    const chaos: string[] = [];
    const send = async (first: number) => {
      const body = batchBody(first);
      for (;;) {
        try {
          const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: AUTH }, body });
          await response.arrayBuffer();
          if (response.status === 200) return;
          expect(response.status, `unexpected status for batch at ${first}`).toBe(503);
        } catch {
          // Connection refused or reset: the ingest is restarting. Retry the same batch, as an SDK would.
        }
        failedAttempts++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const worker = async () => {
      while (next < TOTAL) {
        const first = next;
        next += BATCH;
        await send(first);
        acknowledged += Math.min(BATCH, TOTAL - first);
      }
    };
    const waitFor = async (share: number) => {
      while (acknowledged < TOTAL * share) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    const load = Promise.all(Array.from({ length: CONCURRENCY }, worker));

    await waitFor(0.2);
    chaos.push(`SIGKILL ingest at ${acknowledged}`);
    await ingest.kill("SIGKILL");
    await start();
    await waitFor(0.45);
    chaos.push(`ClickHouse stopped at ${acknowledged}`);
    await ch.stop();
    await waitFor(0.6);
    chaos.push(`SIGKILL ingest at ${acknowledged} while ClickHouse is down`);
    await ingest.kill("SIGKILL");
    await start();
    const recoveredProcess = ingest;
    await waitFor(0.75);
    chaos.push(`ClickHouse restarted at ${acknowledged}`);
    await ch.restart();
    await load;
    expect(acknowledged).toBe(TOTAL);

    // The spool drains once ClickHouse is back; poll with a deadline, then SIGTERM ships whatever is left.
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const [row] = await (await client.query({ query: "SELECT count() AS c FROM analytics.events", format: "JSONEachRow" })).json<{ c: string }>();
      if (Number(row.c) >= TOTAL) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(await ingest.kill("SIGTERM"), "SIGTERM exits 0 after shipping the spool").toEqual({ code: 0, signal: null });
    expect(ingest.logs.find((l) => l.msg === "shutdown complete")).toMatchObject({ spool_empty: true });

    const [totals] = await (await client.query({
      query: `SELECT count() AS rows, uniqExact(message_id) AS ids, countIf(NOT startsWith(message_id, 'eo-')) AS foreign,
                     min(toUInt32(substring(message_id, 4))) AS lo, max(toUInt32(substring(message_id, 4))) AS hi
              FROM analytics.events`,
      format: "JSONEachRow",
    })).json<Record<string, string>>();
    expect({ chaos, totals: Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, Number(v)])) }).toEqual({
      chaos, totals: { rows: TOTAL, ids: TOTAL, foreign: 0, lo: 0, hi: TOTAL - 1 },
    });
    // The second kill happened with ClickHouse down: the restarted process found unshipped events in the spool.
    const recovered = recoveredProcess.logs.find((l) => l.msg === "spool recovered");
    expect(Number(recovered?.rows), "events recovered from the spool after the SIGKILL during the outage").toBeGreaterThan(0);
    expect(failedAttempts, "the client saw failures and retried").toBeGreaterThan(0);

    // Rollups fed by materialized views count each event once, batch replays included.
    const rollup = await (await client.query({
      query: `SELECT hour, event_name, sum(events) AS events, uniqMerge(actors) AS actors FROM analytics.events_hourly GROUP BY hour, event_name ORDER BY hour, event_name`,
      format: "JSONEachRow",
    })).json<Record<string, string | number>>();
    const raw = await (await client.query({
      query: `SELECT toStartOfHour(event_time) AS hour, event_name, count() AS events, uniq(if(user_id != '', cityHash64(user_id), cityHash64(anonymous_id))) AS actors
              FROM analytics.events GROUP BY hour, event_name ORDER BY hour, event_name`,
      format: "JSONEachRow",
    })).json<Record<string, string | number>>();
    expect(rollup.map((r) => [r.hour, r.event_name, Number(r.events), Number(r.actors)])).toEqual(raw.map((r) => [r.hour, r.event_name, Number(r.events), Number(r.actors)]));
    const [daily] = await (await client.query({
      query: `SELECT (SELECT count() FROM (SELECT day, user_key FROM analytics.activity_daily GROUP BY day, user_key)) AS rollup,
                     (SELECT count() FROM (SELECT toDate(event_time) AS day, user_id FROM analytics.events GROUP BY day, user_id)) AS raw`,
      format: "JSONEachRow",
    })).json<{ rollup: string; raw: string }>();
    expect(Number(daily.rollup)).toBe(Number(daily.raw));
    // The funnel rollup holds each step event once (EVENT_NAMES' "signup" is a default funnel step).
    const [funnel] = await (await client.query({
      query: `SELECT (SELECT count() FROM analytics.funnel_events FINAL) AS rollup,
                     (SELECT count() FROM analytics.events WHERE event_name = 'signup') AS raw`,
      format: "JSONEachRow",
    })).json<{ rollup: string; raw: string }>();
    expect(Number(funnel.raw)).toBeGreaterThan(0);
    expect(Number(funnel.rollup)).toBe(Number(funnel.raw));
  });
});
