/**
 * The run loop and the sender, with a simulated clock: the live phase keeps the requested rate with current
 * timestamps and stops on time or on Ctrl-C; the sender retries what a Segment client retries and nothing else.
 */
import { describe, expect, it } from "vitest";
import { parseSimulateArgs, type SimulateOptions } from "../../scripts/simulate/flags";
import { runSimulation, type BatchSink } from "../../scripts/simulate/run";
import { type Batch } from "../../scripts/simulate/segment";
import { IngestSender, SendError, type SenderStats } from "../../scripts/simulate/sender";

const UNTIL = Date.parse("2026-03-18T10:00:00Z");

function options(args: string[]): SimulateOptions {
  const parsed = parseSimulateArgs([...args, "--url", "http://127.0.0.1:8080", "--write-key", "k".repeat(20)], {}, UNTIL);
  if (parsed.kind !== "ok") throw new Error(JSON.stringify(parsed));
  return parsed.options;
}

/** A batch sink that records what it got and when (by the simulated clock). */
function recordingSink(clock: { now: number }) {
  const sent: { atMs: number; batch: Batch }[] = [];
  const stats: SenderStats = { batches: 0, accepted: 0, duplicates: 0, rejected: {}, unexpectedRejections: 0, retries: 0, problems: [] };
  const sink: BatchSink = {
    stats,
    async send(batch) {
      sent.push({ atMs: clock.now, batch });
      stats.batches++;
      stats.accepted += batch.messages.length;
    },
    async drain() {},
  };
  return { sink, sent };
}

const memoryLogs = () => {
  const lines: string[] = [];
  return { lines, sink: { description: "in memory", write: async (l: string) => { lines.push(l); }, close: async () => {} } };
};

describe("live phase", () => {
  it("sends about --live-rate events per second with current timestamps, then stops after --live-minutes", async () => {
    const clock = { now: UNTIL };
    const { sink, sent } = recordingSink(clock);
    const logs = memoryLogs();
    const o = options(["--days", "3", "--live-rate", "25", "--live-minutes", "2", "--incident-at", "none"]);
    const result = await runSimulation(o, {
      sender: sink, logSink: logs.sink, now: () => clock.now,
      sleep: async (ms) => { clock.now += ms; },
    });
    const live = sent.flatMap((s) => s.batch.messages.map((m) => ({ at: s.atMs, t: Date.parse(m.timestamp) }))).filter((m) => m.t >= UNTIL);
    expect(result.liveCalls).toBe(live.length);
    // 25 events/s for 120 s, give or take the sessions still running at the end.
    expect(live.length).toBeGreaterThan(25 * 120 * 0.85);
    expect(live.length).toBeLessThan(25 * 120 * 1.1);
    for (const m of live) {
      expect(m.t).toBeGreaterThanOrEqual(UNTIL);
      expect(m.t).toBeLessThanOrEqual(m.at); // never sent before it happened
    }
    expect(clock.now - UNTIL).toBeGreaterThanOrEqual(120_000);
    expect(clock.now - UNTIL).toBeLessThan(122_000);
  });

  it("stops the live phase when aborted (Ctrl-C) and still reports", async () => {
    const clock = { now: UNTIL };
    const { sink } = recordingSink(clock);
    const controller = new AbortController();
    const o = options(["--days", "1", "--live-rate", "10"]);
    const result = await runSimulation(o, {
      sender: sink, logSink: memoryLogs().sink, now: () => clock.now, signal: controller.signal,
      sleep: async (ms) => {
        clock.now += ms;
        if (clock.now - UNTIL > 30_000) controller.abort();
      },
    });
    expect(clock.now - UNTIL).toBeLessThan(32_000);
    expect(result.liveCalls).toBeGreaterThan(200);
  });
});

describe("IngestSender", () => {
  const batch: Batch = { messages: [{ type: "track", messageId: "m1", timestamp: "2026-03-18T09:00:00.000Z", event: "x", userId: "u" }], bytes: 100, invalid: false };
  const reply = (status: number, body: object, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { status, headers });

  function sender(responses: (Response | Error)[]) {
    const calls: { url: string; init: RequestInit }[] = [];
    const sleeps: number[] = [];
    const s = new IngestSender({
      url: "http://ingest:8080/", writeKey: "the-write-key", concurrency: 2, maxAttempts: 3,
      fetchImpl: (async (url: string, init: RequestInit) => {
        calls.push({ url, init });
        const next = responses.shift()!;
        if (next instanceof Error) throw next;
        return next;
      }) as unknown as typeof fetch,
      sleep: async (ms) => { sleeps.push(ms); },
    });
    return { s, calls, sleeps };
  }

  it("posts to /v1/batch with the write key as the Basic user and counts what was stored", async () => {
    const { s, calls } = sender([reply(200, { success: true, accepted: 1, duplicates: 0 })]);
    await s.send(batch);
    await s.drain();
    expect(calls[0].url).toBe("http://ingest:8080/v1/batch");
    expect((calls[0].init.headers as Record<string, string>).authorization).toBe(`Basic ${Buffer.from("the-write-key:").toString("base64")}`);
    expect(JSON.parse(calls[0].init.body as string)).toMatchObject({ batch: batch.messages });
    expect(s.stats).toMatchObject({ batches: 1, accepted: 1, retries: 0 });
  });

  it("retries 503 after the Retry-After delay and network errors with backoff", async () => {
    const { s, sleeps } = sender([reply(503, { code: "spool_full" }, { "retry-after": "2" }), Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } }), reply(200, { accepted: 1, duplicates: 0 })]);
    await s.send(batch);
    await s.drain();
    expect(s.stats).toMatchObject({ accepted: 1, retries: 2 });
    expect(sleeps[0]).toBe(2000);
    expect(sleeps[1]).toBeGreaterThanOrEqual(500);
  });

  it("does not retry a refused batch: counts it by the ingest's code, and flags it when it was meant to be valid", async () => {
    const { s, calls } = sender([reply(400, { code: "invalid_event", message: "One or more events are invalid", errors: [{ index: 0, field: "event", problem: "is required" }] })]);
    await s.send(batch);
    await s.drain();
    expect(calls).toHaveLength(1);
    expect(s.stats.rejected).toEqual({ invalid_event: 1 });
    expect(s.stats.unexpectedRejections).toBe(1);
    expect(s.stats.problems[0]).toContain("batch[0].event: is required");
  });

  it("stops at the first 401 with what to do, and gives up after maxAttempts", async () => {
    const denied = sender([reply(401, { code: "unauthorized" })]);
    await denied.s.send(batch);
    await expect(denied.s.drain()).rejects.toThrow(SendError);
    await expect(denied.s.send(batch)).rejects.toThrow(/write key/);

    const down = sender([reply(503, {}), reply(503, {}), reply(503, {})]);
    await down.s.send(batch);
    await expect(down.s.drain()).rejects.toThrow(/gave up on a batch of 1 events after 3 attempts: 503/);
  });
});
