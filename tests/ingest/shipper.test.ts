/**
 * The spool and the shipper against the real engine (chDB behind the ClickHouse HTTP endpoint): group commit,
 * torn-tail recovery, a batch replayed after a crash stored once (rollups too), poison rows dead-lettered without
 * blocking the queue, and an outage ridden out by retrying.
 */
import { copyFileSync, existsSync, appendFileSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { open } from "node:fs/promises";
import { describe, expect, it, vi } from "vitest";
import type { ClickHouseSink } from "../../ingest/src/clickhouse-sink";
import { MessageIdIndex } from "../../ingest/src/message-id-index";
import { createMetrics } from "../../ingest/src/metrics";
import { normalizeEvents } from "../../ingest/src/normalize-events";
import { deadLetterFilePath, Shipper } from "../../ingest/src/shipper";
import { Spool } from "../../ingest/src/spool";
import { encodeRecord } from "../../ingest/src/spool-record";
import { useShippingEngine, type ShippingEngine } from "./support/shipping-engine";
import { until } from "./support/until";

const logger = pino({ level: "silent" });

function record(names: string[], firstId: number): { buf: Buffer; rows: number } {
  const { rows } = normalizeEvents(names.map((event, i) => ({ type: "track", userId: `u${(firstId + i) % 7}`, event, messageId: `ship-${firstId + i}`, timestamp: "2024-05-01T10:00:00Z" })),
    { batch: true, receivedAtMs: Date.UTC(2024, 4, 1, 10, 0, 1), newMessageId: () => "unused" });
  const buf = encodeRecord({ receivedAtMs: Date.now(), fingerprints: new Uint32Array(0), sections: [{ table: "events", rows: rows.length, bytes: Buffer.from(`${rows.map((r) => r.json).join("\n")}\n`) }] });
  return { buf, rows: rows.length };
}

async function openSpool(dir: string, messageIds = new MessageIdIndex(), groupCommitIntervalMs?: number) {
  return Spool.open({ dir, maxBytes: 64 * 1024 * 1024, segmentMaxRows: 1000, sealAfterMs: 60_000, messageIds, groupCommitIntervalMs });
}

describe("spool and shipper", () => {
  let dir: string;
  let ch: ShippingEngine["ch"];
  let client: ShippingEngine["client"];
  let sink: ShippingEngine["sink"];
  let count: ShippingEngine["count"];
  useShippingEngine("shipper-", 10_000, (engine) => ({ dir, ch, client, sink, count } = engine));

  it("commits concurrent appends in groups: one fsync covers many requests", async () => {
    const { spool } = await openSpool(join(dir, "group"));
    const writes = Array.from({ length: 200 }, (_, i) => spool.append(record(["a"], i).buf, 1, Date.now()));
    await Promise.all(writes);
    expect(spool.rows).toBe(200);
    await spool.sealNow();
    expect(spool.sealedSegments()).toHaveLength(1);
    await spool.close();
  });

  // The interval is far longer than the 20 ms gap so that a loaded CI machine (a stall of up to ~1 s between the
  // first commit and the next append) cannot split the group; 150 ms flaked once under a parallel suite.
  it.each([[1000, 1], [0, 2]])("with groups at most every %i ms, two appends 20 ms apart after a commit take %i fsync(s)", async (intervalMs, fsyncs) => {
    const { spool } = await openSpool(join(dir, `interval-${intervalMs}`), new MessageIdIndex(), intervalMs);
    await spool.append(record(["a"], 0).buf, 1, Date.now());
    // Count fdatasyncs on the spool's file handles (the FileHandle class, reached through any open handle).
    const probe = await open(join(dir, `interval-${intervalMs}`, "probe"), "w");
    const datasync = vi.spyOn(Object.getPrototypeOf(probe) as { datasync: () => Promise<void> }, "datasync");
    await probe.close();
    const first = spool.append(record(["b"], 1).buf, 1, Date.now());
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = spool.append(record(["c"], 2).buf, 1, Date.now());
    await Promise.all([first, second]);
    const calls = datasync.mock.calls.length;
    datasync.mockRestore();
    expect(calls).toBe(fsyncs);
    expect(spool.rows).toBe(3);
    await spool.close();
  });

  describe("while requests saturate the event loop", () => {
    /** Keeps this process's event loop busy (as a flood of requests would) in 20 ms slices until stopped. */
    function saturate(): () => void {
      let running = true;
      const spin = () => {
        const end = performance.now() + 20;
        while (performance.now() < end) { /* busy */ }
        if (running) setImmediate(spin);
      };
      setImmediate(spin);
      return () => { running = false; };
    }
    async function sealedSegment(name: string) {
      const { spool } = await openSpool(join(dir, name));
      await spool.append(record(["a", "b"], 0).buf, 2, Date.now());
      await spool.sealNow();
      const inserted: string[] = [];
      const recording: ClickHouseSink = { insert: async (table) => { inserted.push(table); }, ping: async () => true, close: async () => {} };
      return { spool, inserted, recording };
    }

    it("ships nothing until the requests leave room, then ships", async () => {
      const { spool, inserted, recording } = await sealedSegment("defer");
      const shipper = new Shipper({ spool, sink: recording, logger, metrics: createMetrics(), deadLetterFile: deadLetterFilePath(join(dir, "defer")), deferMaxMs: 60_000 });
      // Busy before the shipper starts, so its first look at the event loop already finds it saturated.
      const release = saturate();
      await new Promise((resolve) => setTimeout(resolve, 300));
      shipper.start();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(inserted).toEqual([]);
      release();
      await until("the segment to ship once the loop is free", () => spool.sealedSegments().length === 0, 5000);
      expect(inserted).toEqual(["events"]);
      await shipper.stop();
      await spool.close();
    });

    it("ships anyway after deferMaxMs, and at once when draining", async () => {
      const first = await sealedSegment("defer-max");
      const release = saturate();
      try {
        await new Promise((resolve) => setTimeout(resolve, 300));
        const shipper = new Shipper({ spool: first.spool, sink: first.recording, logger, metrics: createMetrics(), deadLetterFile: deadLetterFilePath(join(dir, "defer-max")), deferMaxMs: 500 });
        shipper.start();
        // It waits first (else this test would pass without any waiting): deferMaxMs counts from the end of a 100 ms look.
        await new Promise((resolve) => setTimeout(resolve, 250));
        expect(first.inserted).toEqual([]);
        await until("the segment to ship after deferMaxMs", () => first.spool.sealedSegments().length === 0, 10_000);
        await shipper.stop();
        await first.spool.close();

        const second = await sealedSegment("defer-drain");
        const draining = new Shipper({ spool: second.spool, sink: second.recording, logger, metrics: createMetrics(), deadLetterFile: deadLetterFilePath(join(dir, "defer-drain")), deferMaxMs: 60_000 });
        // Already waiting for requests when the drain begins, as at SIGTERM.
        draining.start();
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(second.inserted).toEqual([]);
        expect(await draining.drain(Date.now() + 10_000)).toBe(true);
        expect(second.inserted).toEqual(["events"]);
        await draining.stop();
        await second.spool.close();
      } finally {
        release();
      }
    });
  });

  it("drops a torn tail record on restart and counts it", async () => {
    const spoolDir = join(dir, "torn");
    const { spool } = await openSpool(spoolDir);
    await spool.append(record(["a", "b"], 0).buf, 2, Date.now());
    await spool.append(record(["c"], 2).buf, 1, Date.now());
    await spool.close();
    const [segment] = readdirSync(join(spoolDir, "segments"));
    const path = join(spoolDir, "segments", segment);
    const whole = statSync(path).size;
    // A third record whose write was cut short by a crash (never fsync'd, so never acknowledged).
    appendFileSync(path, record(["d"], 3).buf.subarray(0, 30));
    const reopened = await openSpool(spoolDir);
    expect(reopened.recovery).toMatchObject({ segments: 1, records: 2, rows: 3, tornTails: 1, tornBytes: 30 });
    expect(statSync(path).size).toBe(whole);
    await reopened.spool.close();
  });

  it("stores a batch replayed after a crash once, in the table and in the rollups", async () => {
    const spoolDir = join(dir, "replay");
    const { spool } = await openSpool(spoolDir);
    const names = Array.from({ length: 500 }, (_, i) => ["signup", "export", "invite"][i % 3]);
    await spool.append(record(names, 10_000).buf, names.length, Date.now());
    await spool.sealNow();
    const [segment] = spool.sealedSegments();
    const saved = `${segment.path}.saved`;
    copyFileSync(segment.path, saved);
    const shipper = new Shipper({ spool, sink, logger, metrics: createMetrics(), deadLetterFile: deadLetterFilePath(spoolDir) });
    shipper.start();
    await until("the segment to ship", () => spool.sealedSegments().length === 0);
    await shipper.stop();
    await spool.close();
    expect(existsSync(segment.path)).toBe(false);
    const query = "SELECT count() AS c FROM analytics.events WHERE message_id LIKE 'ship-1____'";
    const rollup = "SELECT sum(events) AS c FROM analytics.events_hourly WHERE hour = toDateTime('2024-05-01 10:00:00', 'UTC')";
    expect([await count(query), await count(rollup)]).toEqual([500, 500]);

    // The process died after ClickHouse stored the batch but before the segment was deleted: it comes back.
    copyFileSync(saved, segment.path);
    rmSync(saved);
    const again = await openSpool(spoolDir);
    expect(again.recovery.rows).toBe(500);
    const replayer = new Shipper({ spool: again.spool, sink, logger, metrics: createMetrics(), deadLetterFile: deadLetterFilePath(spoolDir) });
    replayer.start();
    await until("the replayed segment to ship", () => again.spool.sealedSegments().length === 0);
    await replayer.stop();
    await again.spool.close();
    expect([await count(query), await count(rollup)]).toEqual([500, 500]);
  });

  it("dead-letters the rows ClickHouse refuses for good and ships the rest", async () => {
    await client.command({ query: "ALTER TABLE analytics.events ADD CONSTRAINT IF NOT EXISTS no_poison CHECK event_name != 'poison'" });
    try {
      const spoolDir = join(dir, "poison");
      const { spool } = await openSpool(spoolDir);
      const names = Array.from({ length: 40 }, (_, i) => (i === 13 || i === 31 ? "poison" : "fine"));
      await spool.append(record(names, 20_000).buf, names.length, Date.now());
      await spool.append(record(["after"], 20_040).buf, 1, Date.now());
      await spool.sealNow();
      const metrics = createMetrics();
      const shipper = new Shipper({ spool, sink, logger, metrics, deadLetterFile: deadLetterFilePath(spoolDir) });
      shipper.start();
      await until("the poisoned segment to ship", () => spool.sealedSegments().length === 0);
      await shipper.stop();
      await spool.close();
      expect(await count("SELECT count() AS c FROM analytics.events WHERE message_id LIKE 'ship-200__'")).toBe(39);
      const dead = await (await client.query({ query: "SELECT message_id, target_table, error_code, reason FROM analytics.ingest_dead_letters ORDER BY message_id", format: "JSONEachRow" })).json<Record<string, unknown>>();
      expect(dead).toEqual([
        { message_id: "ship-20013", target_table: "events", error_code: 469, reason: expect.stringMatching(/no_poison/) },
        { message_id: "ship-20031", target_table: "events", error_code: 469, reason: expect.stringMatching(/no_poison/) },
      ]);
      expect((await metrics.registry.getSingleMetricAsString("ingest_dead_letters_total"))).toMatch(/ingest_dead_letters_total\{table="events"\} 2/);
    } finally {
      await client.command({ query: "ALTER TABLE analytics.events DROP CONSTRAINT IF EXISTS no_poison" });
    }
  });

  it("writes a dead letter to the file when the dead-letter table refuses it too", async () => {
    await client.command({ query: "ALTER TABLE analytics.events ADD CONSTRAINT IF NOT EXISTS no_poison CHECK event_name != 'poison'" });
    await client.command({ query: "ALTER TABLE analytics.ingest_dead_letters ADD CONSTRAINT IF NOT EXISTS refuse_all CHECK 0" });
    try {
      const spoolDir = join(dir, "poison-file");
      const { spool } = await openSpool(spoolDir);
      await spool.append(record(["poison"], 30_000).buf, 1, Date.now());
      await spool.sealNow();
      const shipper = new Shipper({ spool, sink, logger, metrics: createMetrics(), deadLetterFile: deadLetterFilePath(spoolDir) });
      shipper.start();
      await until("the poisoned segment to ship", () => spool.sealedSegments().length === 0);
      await shipper.stop();
      await spool.close();
      const lines = readFileSync(deadLetterFilePath(spoolDir), "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(lines).toEqual([expect.objectContaining({ target_table: "events", error_code: 469, message_id: "ship-30000" })]);
    } finally {
      await client.command({ query: "ALTER TABLE analytics.ingest_dead_letters DROP CONSTRAINT IF EXISTS refuse_all" });
      await client.command({ query: "ALTER TABLE analytics.events DROP CONSTRAINT IF EXISTS no_poison" });
    }
  });

  it("keeps retrying through an outage and ships in order when ClickHouse returns", async () => {
    const spoolDir = join(dir, "outage");
    const { spool } = await openSpool(spoolDir);
    const metrics = createMetrics();
    const lines: { level: number; msg: string; spool_bytes?: number; oldest_unshipped_age_s?: number; failing_for_s?: number }[] = [];
    const logged = pino({ level: "info" }, { write: (line: string) => { lines.push(JSON.parse(line)); } });
    const shipper = new Shipper({
      spool, sink, logger: logged, metrics, deadLetterFile: deadLetterFilePath(spoolDir), retryInitialMs: 20, retryMaxMs: 100,
      retryLogIntervalMs: 50, errorAfterFailingMs: 400,
    });
    await ch.stop();
    for (let s = 0; s < 3; s++) {
      await spool.append(record(["outage"], 40_000 + s * 10).buf, 1, Date.now());
      await spool.sealNow();
    }
    shipper.start();
    await until("retries to be counted", async () => /decision="retry"\} [1-9]/.test(await metrics.registry.getSingleMetricAsString("ingest_clickhouse_errors_total")));
    // A lasting failure: warn lines at first, then error lines (the ingest-errors alert counts those); every one carries
    // the backlog, which no flush line reports while nothing ships (the spool-backlog panel).
    await until("a failing insert to be logged at error", () => lines.some((l) => l.level === 50));
    const retries = lines.filter((l) => l.msg === "ClickHouse insert failed; retrying");
    expect(retries[0].level).toBe(40);
    const firstError = retries.find((l) => l.level === 50)!;
    expect(firstError.failing_for_s).toBeGreaterThanOrEqual(0.4);
    for (const l of retries) {
      expect(l.spool_bytes).toBeGreaterThan(0);
      expect(l.oldest_unshipped_age_s).toBeGreaterThan(0);
    }
    expect(spool.sealedSegments()).toHaveLength(3);
    await ch.restart();
    await until("the backlog to drain", () => spool.sealedSegments().length === 0);
    await shipper.stop();
    await spool.close();
    expect(await count("SELECT count() AS c FROM analytics.events WHERE event_name = 'outage'")).toBe(3);
  });
});
