/**
 * Review findings on messageId idempotency across a restart: the index is bounded (maxIds), and when the bound is
 * reached the OLDEST ids must be forgotten first, after a restart as before it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { buildApp } from "../../ingest/src/app";
import type { ClickHouseSink } from "../../ingest/src/clickhouse-sink";
import { MessageIdIndex } from "../../ingest/src/message-id-index";
import { createMetrics } from "../../ingest/src/metrics";
import { deadLetterFilePath, Shipper } from "../../ingest/src/shipper";
import { Spool } from "../../ingest/src/spool";
import { until } from "./support/until";

const KEY = "write-key-123";
const logger = pino({ level: "silent" });
/** ClickHouse is not what is tested here: the shipper only needs inserts that succeed, so segments complete. */
const acceptingSink: ClickHouseSink = { insert: async () => {}, ping: async () => true, close: async () => {} };

async function start(dir: string, maxIds: number) {
  const messageIds = new MessageIdIndex({ maxIds });
  const { spool } = await Spool.open({ dir, maxBytes: 64 * 1024 * 1024, segmentMaxRows: 100_000, sealAfterMs: 60_000, messageIds });
  const shipper = new Shipper({ spool, sink: acceptingSink, logger, metrics: createMetrics(), deadLetterFile: deadLetterFilePath(dir) });
  shipper.start();
  const app = buildApp({ writeKeys: [KEY], retryAfterSeconds: 5, spool, messageIds, metrics: createMetrics(), logger, clickhouseReachable: async () => true });
  const send = async (ids: string[]) => {
    const res = await app.inject({
      method: "POST", url: "/v1/batch", headers: { "content-type": "application/json" },
      payload: JSON.stringify({ writeKey: KEY, batch: ids.map((messageId) => ({ type: "track", userId: "u", event: "E", messageId })) }),
    });
    expect(res.statusCode).toBe(200);
    return res.json() as { accepted: number; duplicates: number };
  };
  /** Seals what was accepted and waits until it is shipped (its ids then live in seen/ files only). */
  const ship = async () => {
    await spool.sealNow();
    await until("the spool to ship", () => spool.sealedSegments().length === 0, 10_000, 10);
  };
  const stop = async () => {
    await app.close();
    await shipper.stop();
    await spool.close();
  };
  return { send, ship, stop };
}

describe("review: messageId idempotency across a restart at the id bound", () => {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  it("forgets the oldest ids first after a restart, so a recent event re-sent is still stored once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "review-dedup-"));
    dirs.push(dir);
    const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    const first = await start(dir, 1000);
    // Two shipped segments: older ids, then newer ones (each lands in its own seen/ file).
    expect((await first.send(ids("older", 300))).accepted).toBe(300);
    await first.ship();
    expect((await first.send(ids("newer", 300))).accepted).toBe(300);
    await first.ship();
    await first.stop();

    const second = await start(dir, 1000);
    // The newest ids are remembered after the restart.
    expect(await second.send(["newer-299"])).toMatchObject({ accepted: 0, duplicates: 1 });
    // New traffic takes the index past its bound (600 remembered + 500 new > 1000): some ids must go, the oldest.
    expect((await second.send(ids("fresh", 500))).accepted).toBe(500);
    // The client whose "newer" events were acknowledged just before the restart retries them: stored once.
    expect(await second.send(ids("newer", 300))).toMatchObject({ accepted: 0, duplicates: 300 });
    await second.stop();
  });

  it("keeps the ids shipped after a restart on disk (they do not share a seen/ file with older ids that get pruned)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "review-dedup-"));
    dirs.push(dir);
    const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    const first = await start(dir, 1000);
    for (const prefix of ["older", "newer"]) {
      expect((await first.send(ids(prefix, 300))).accepted).toBe(300);
      await first.ship();
    }
    await first.stop();

    // After a restart, more ids are shipped: on disk the oldest must make room for them, never the reverse.
    const second = await start(dir, 1000);
    for (const [prefix, n] of [["fresh", 500], ["fresher", 300]] as const) {
      expect((await second.send(ids(prefix, n))).accepted).toBe(n);
      await second.ship();
    }
    await second.stop();

    // 1,100 ids were shipped; the 1,000 newest fit the bound: everything since the first restart is remembered.
    const third = await start(dir, 1000);
    expect(await third.send(ids("fresher", 300))).toMatchObject({ accepted: 0, duplicates: 300 });
    expect(await third.send(ids("fresh", 500))).toMatchObject({ accepted: 0, duplicates: 500 });
    await third.stop();
  });
});
