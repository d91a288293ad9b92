/**
 * Review findings on HTTP answers (`app.inject()`, a real spool in a temporary directory): no request may get a 500.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildApp } from "../../ingest/src/app";
import { createClickHouseSink } from "../../ingest/src/clickhouse-sink";
import { MessageIdIndex } from "../../ingest/src/message-id-index";
import { createMetrics } from "../../ingest/src/metrics";
import { Spool } from "../../ingest/src/spool";

const KEY = "write-key-123";

describe("review: HTTP answers when the spool disk fails", () => {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  it("answers a repeat of an event whose write failed with 503 (retry), not 500", async () => {
    const dir = mkdtempSync(join(tmpdir(), "review-http-"));
    dirs.push(dir);
    const messageIds = new MessageIdIndex();
    const { spool } = await Spool.open({ dir, maxBytes: 16 * 1024 * 1024, segmentMaxRows: 100_000, sealAfterMs: 60_000, messageIds, groupCommitIntervalMs: 20 });
    const app = buildApp({ writeKeys: [KEY], retryAfterSeconds: 5, spool, messageIds, metrics: createMetrics(), logger: pino({ level: "silent" }), clickhouseReachable: async () => true });
    // The disk fails the next fdatasync (EIO), as a failing volume would.
    const probe = await open(join(dir, "probe"), "w");
    const datasync = vi.spyOn(Object.getPrototypeOf(probe) as { datasync: () => Promise<void> }, "datasync").mockRejectedValueOnce(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    await probe.close();
    try {
      const event = { userId: "u", event: "A", messageId: "written-once", writeKey: KEY };
      const send = () => app.inject({ method: "POST", url: "/v1/track", headers: { "content-type": "application/json" }, payload: JSON.stringify(event) });
      // The client retries while its first request is still waiting for the disk (a timeout on its side).
      const [first, repeat] = await Promise.all([send(), send()]);
      expect(first.statusCode).toBe(503);
      expect(repeat.statusCode).toBe(503);
      expect(repeat.json()).toMatchObject({ code: "spool_unavailable" });
      expect(repeat.headers["retry-after"]).toBe("5");
    } finally {
      datasync.mockRestore();
      await app.close();
      await spool.close();
    }
  });
});

describe("review: gzip bodies (Content-Encoding: gzip, as Segment's API takes them)", () => {
  let dir: string;
  let spool: Spool;
  let app: ReturnType<typeof buildApp>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "review-gzip-"));
    const messageIds = new MessageIdIndex();
    ({ spool } = await Spool.open({ dir, maxBytes: 16 * 1024 * 1024, segmentMaxRows: 100_000, sealAfterMs: 60_000, messageIds }));
    app = buildApp({ writeKeys: [KEY], retryAfterSeconds: 5, spool, messageIds, metrics: createMetrics(), logger: pino({ level: "silent" }), clickhouseReachable: async () => true });
  });
  afterAll(async () => {
    await app.close();
    await spool.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const post = (url: string, payload: Buffer, encoding = "gzip") => app.inject({
    method: "POST", url, payload,
    headers: { "content-type": "application/json", "content-encoding": encoding, authorization: `Basic ${Buffer.from(`${KEY}:`).toString("base64")}` },
  });

  it("accepts gzip'd batches and single events", async () => {
    const rowsBefore = spool.rows;
    const batch = { batch: Array.from({ length: 50 }, (_, i) => ({ type: "track", userId: `u${i}`, event: "Zipped", messageId: `zip-${i}`, properties: { i } })) };
    const res = await post("/v1/batch", gzipSync(JSON.stringify(batch)));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ success: true, accepted: 50, duplicates: 0 });
    expect((await post("/v1/identify", gzipSync(JSON.stringify({ userId: "u1", traits: { plan: "pro" } })))).statusCode).toBe(200);
    expect(spool.rows).toBe(rowsBefore + 51);
  });

  it("applies the body limits to the decompressed bytes, names corrupt gzip and refuses other encodings", async () => {
    const rowsBefore = spool.rows;
    // 20 MB of padding compresses to about 20 KB: refused as too large, not inflated.
    const bomb = gzipSync(JSON.stringify({ batch: [{ type: "track", userId: "u", event: "x", properties: { pad: " ".repeat(20_000_000) } }] }));
    expect(bomb.length).toBeLessThan(100_000);
    const big = await post("/v1/batch", bomb);
    expect(big.statusCode).toBe(413);
    const corrupt = await post("/v1/batch", Buffer.concat([gzipSync("{\"batch\":[]}").subarray(0, 12), Buffer.from("garbage")]));
    expect(corrupt.statusCode).toBe(400);
    expect(corrupt.json()).toMatchObject({ code: "invalid_gzip", errors: [{ field: "body" }] });
    const brotli = await post("/v1/track", Buffer.from("{}"), "br");
    expect(brotli.statusCode).toBe(415);
    expect(brotli.json()).toMatchObject({ code: "unsupported_encoding" });
    expect(spool.rows).toBe(rowsBefore);
  });
});

describe("review: readiness while ClickHouse hangs (accepts connections, never answers)", () => {
  it("keeps one ping in flight however often /readyz is asked, and answers not ready without waiting for it", async () => {
    const sockets: Socket[] = [];
    const hung = createServer((socket) => { sockets.push(socket); });
    await new Promise<void>((resolve) => hung.listen(0, "127.0.0.1", resolve));
    const port = (hung.address() as AddressInfo).port;
    // The production timeout: a ping to a hung server holds one of the client's sockets (shared with inserts) this long.
    const sink = createClickHouseSink({ url: `http://127.0.0.1:${port}`, username: "default", password: "", database: "analytics", requestTimeoutMs: 60_000 });
    const dir = mkdtempSync(join(tmpdir(), "review-ready-"));
    const messageIds = new MessageIdIndex();
    const { spool } = await Spool.open({ dir, maxBytes: 16 * 1024 * 1024, segmentMaxRows: 100_000, sealAfterMs: 60_000, messageIds });
    let clockMs = Date.now();
    const app = buildApp({ writeKeys: [KEY], retryAfterSeconds: 5, spool, messageIds, metrics: createMetrics(), logger: pino({ level: "silent" }), clickhouseReachable: () => sink.ping(), now: () => clockMs });
    try {
      // Probes keep coming (each past the 1 s cache) while the first ping hangs.
      const answers = [];
      for (let probe = 0; probe < 3; probe++) {
        clockMs += 2000;
        answers.push(await app.inject({ method: "GET", url: "/readyz" }));
      }
      for (const answer of answers) expect(answer.json()).toEqual({ ready: false, checks: { spool: true, clickhouse: false } });
      expect(sockets.length, "connections the pings opened to the hung ClickHouse").toBe(1);
    } finally {
      for (const socket of sockets) socket.destroy();
      await app.close();
      await sink.close();
      await spool.close();
      await new Promise((resolve) => hung.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

