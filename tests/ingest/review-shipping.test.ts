/**
 * Review findings on shipping, against the real engine (chDB behind the ClickHouse HTTP endpoint): events the HTTP
 * side accepted must reach ClickHouse and must not block the queue behind them.
 */
import { join } from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { MessageIdIndex } from "../../ingest/src/message-id-index";
import { createMetrics } from "../../ingest/src/metrics";
import { jsonColumnProblem } from "../../ingest/src/json-column";
import { normalizeEvents } from "../../ingest/src/normalize-events";
import { deadLetterFilePath, dedupToken, Shipper } from "../../ingest/src/shipper";
import { Spool } from "../../ingest/src/spool";
import { encodeRecord } from "../../ingest/src/spool-record";
import { useShippingEngine, type ShippingEngine } from "./support/shipping-engine";
import { until } from "./support/until";

const logger = pino({ level: process.env.REVIEW_LOG ?? "silent" });

describe("review: shipping accepted events", () => {
  let dir: string;
  let sink: ShippingEngine["sink"];
  let count: ShippingEngine["count"];
  useShippingEngine("review-shipping-", 60_000, (engine) => ({ dir, sink, count } = engine));

  it("ships a batch whose event times span more than 100 months (a backfill) instead of retrying it forever", async () => {
    // Valid to the HTTP side (timestamps 2010-2019): one event per month, 120 months, as a /v1/import backfill sends.
    const events = Array.from({ length: 120 }, (_, i) => ({
      type: "track", userId: `u${i}`, event: "Backfilled", messageId: `backfill-${i}`,
      timestamp: `${2010 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, "0")}-15T12:00:00.000Z`,
    }));
    const { rows } = normalizeEvents(events, { batch: true, receivedAtMs: Date.now(), newMessageId: () => "unused" });
    const spoolDir = join(dir, "backfill");
    const { spool } = await Spool.open({ dir: spoolDir, maxBytes: 64 * 1024 * 1024, segmentMaxRows: 1000, sealAfterMs: 60_000, messageIds: new MessageIdIndex() });
    const bytes = Buffer.from(`${rows.map((r) => r.json).join("\n")}\n`);
    await spool.append(encodeRecord({ receivedAtMs: Date.now(), fingerprints: new Uint32Array(0), sections: [{ table: "events", rows: rows.length, bytes }] }), rows.length, Date.now());
    // A later, ordinary event must not be stuck behind it either.
    const later = normalizeEvents([{ type: "track", userId: "u", event: "After backfill", messageId: "after-backfill" }], { batch: true, receivedAtMs: Date.now(), newMessageId: () => "unused" }).rows;
    await spool.sealNow();
    await spool.append(encodeRecord({ receivedAtMs: Date.now(), fingerprints: new Uint32Array(0), sections: [{ table: "events", rows: 1, bytes: Buffer.from(`${later[0].json}\n`) }] }), 1, Date.now());
    await spool.sealNow();
    const metrics = createMetrics();
    const shipper = new Shipper({ spool, sink, logger, metrics, deadLetterFile: deadLetterFilePath(spoolDir), retryInitialMs: 20, retryMaxMs: 200 });
    shipper.start();
    try {
      // One part per month (and per rollup view): slow on a loaded 2-core machine, so a generous wait.
      await until("both segments to ship", () => spool.sealedSegments().length === 0, 45_000);
    } finally {
      await shipper.stop();
      await spool.close();
    }
    expect(await count("SELECT count() AS c FROM analytics.events WHERE event_name = 'Backfilled'")).toBe(120);
    expect(await count("SELECT uniqExact(toYYYYMM(event_time)) AS c FROM analytics.events WHERE event_name = 'Backfilled'")).toBe(120);
    // Replayed after a crash (same bytes, same token), the 120 parts of that insert are each stored once.
    await sink.insert("events", [bytes], await dedupToken("events", [bytes]));
    expect(await count("SELECT count() AS c FROM analytics.events WHERE event_name = 'Backfilled'")).toBe(120);
    expect(await count("SELECT count() AS c FROM analytics.events WHERE message_id = 'after-backfill'")).toBe(1);
    expect(await count("SELECT count() AS c FROM analytics.ingest_dead_letters")).toBe(0);
  });

  it("agrees with the engine on what its JSON type refuses (json-column.ts): refused values fail, their neighbours land", async () => {
    const line = (properties: string, id: string) => Buffer.from(`{"message_id":"${id}","type":"track","event_name":"json-column","user_id":"u","anonymous_id":"","properties":${properties},"context":{},"event_time":"2024-05-01 10:00:00.000","received_at":"2024-05-01 10:00:00.000"}\n`);
    const refused = ['{"page.url":"/a","page":{"url":"/b"}}', '{"x":[{"a.b":1,"a":{"b":2}}]}', '{"n":20000000000000000000}', '{"n":-9223372036854775809}'];
    for (const [i, properties] of refused.entries()) {
      await expect(sink.insert("events", [line(properties, `refused-${i}`)], `refused-${i}`)).rejects.toMatchObject({ code: "117" });
      expect(jsonColumnProblem(JSON.parse(properties), "properties"), properties).toBeDefined();
    }
    // What normalizeEvents writes for the accepted neighbours (see review-segment.test.ts) lands.
    const { rows } = normalizeEvents([{ type: "track", userId: "u", event: "json-column", messageId: "neighbours", properties: { "page.url": "/a", page: { title: "t" }, n: 18446744073709549568, m: -9223372036854774784, f: 1e21 } }],
      { batch: true, receivedAtMs: Date.now(), newMessageId: () => "unused" });
    await sink.insert("events", [Buffer.from(`${rows[0].json}\n`)], "neighbours");
    expect(await count("SELECT count() AS c FROM analytics.events WHERE message_id = 'neighbours'")).toBe(1);
  });
});
