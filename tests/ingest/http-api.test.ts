/**
 * The HTTP app through `app.inject()`: auth, status codes and error bodies, idempotency, backpressure, health,
 * readiness and metrics. Uses a real spool in a temporary directory; ClickHouse is not needed here (shipping is
 * tested in shipper.test.ts and end to end in exactly-once.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../ingest/src/app";
import { MessageIdIndex } from "../../ingest/src/message-id-index";
import { createMetrics, type IngestMetrics } from "../../ingest/src/metrics";
import { Spool } from "../../ingest/src/spool";
import { decodeSegment } from "../../ingest/src/spool-record";

const KEY = "write-key-123";
const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString("base64")}`;

describe("ingest HTTP API", () => {
  let dir: string;
  let spool: Spool;
  let app: FastifyInstance;
  let metrics: IngestMetrics;
  let clickhouseUp = true;
  let clockOffsetMs = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ingest-api-"));
    const messageIds = new MessageIdIndex();
    ({ spool } = await Spool.open({ dir, maxBytes: 2 * 1024 * 1024, segmentMaxRows: 100_000, sealAfterMs: 60_000, messageIds }));
    metrics = createMetrics();
    app = buildApp({
      writeKeys: [KEY, "second-key-456"], retryAfterSeconds: 7, spool, messageIds, metrics, logger: pino({ level: "silent" }),
      clickhouseReachable: async () => clickhouseUp, now: () => Date.now() + clockOffsetMs,
    });
  });
  afterAll(async () => {
    await app.close();
    await spool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (url: string, payload: unknown, headers: Record<string, string> = { authorization: basic(KEY) }) =>
    app.inject({ method: "POST", url, headers: { "content-type": "application/json", ...headers }, payload: typeof payload === "string" ? payload : JSON.stringify(payload) });

  it("accepts the simple shape on /track and answers only after the record is on disk", async () => {
    const rowsBefore = spool.rows;
    const res = await post("/track", { user_id: "u1", event_name: "Signed Up", properties: { plan: "pro" } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ success: true, accepted: 1, duplicates: 0 });
    expect(spool.rows).toBe(rowsBefore + 1);
    await spool.sealNow();
    const last = spool.sealedSegments().at(-1);
    const records = decodeSegment(readFileSync(last!.path)).records;
    expect(records.at(-1)!.sections[0].bytes.toString()).toContain('"event_name":"Signed Up"');
  });

  it("takes the write key as Basic user or as writeKey in the body, and answers 401 otherwise", async () => {
    const event = { userId: "u1", event: "A" };
    expect((await post("/v1/track", event, { authorization: basic("second-key-456") })).statusCode).toBe(200);
    expect((await post("/v1/track", { ...event, writeKey: KEY }, {})).statusCode).toBe(200);
    const wrong = await post("/v1/track", event, { authorization: basic("nope-nope") });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toMatchObject({ success: false, code: "unauthorized", message: expect.stringMatching(/Basic/) });
    expect((await post("/v1/track", event, {})).statusCode).toBe(401);
    expect((await post("/v1/batch", { batch: [event], writeKey: "wrong-key" }, {})).statusCode).toBe(401);
    // An empty Basic user (a client that always sends the header) leaves the key to the body.
    expect((await post("/v1/track", { ...event, writeKey: KEY }, { authorization: basic("") })).statusCode).toBe(200);
    expect((await post("/v1/batch", { batch: [{ ...event, type: "track" }], writeKey: KEY }, { authorization: basic("") })).statusCode).toBe(200);
    expect((await post("/v1/track", event, { authorization: basic("") })).statusCode).toBe(401);
  });

  it("names the field and batch index of a wrong type, and stores nothing from that request", async () => {
    const rowsBefore = spool.rows;
    const res = await post("/v1/batch", { batch: [{ type: "track", userId: "u", event: "ok" }, { type: "track", userId: "u", event: "x", properties: "not an object" }] });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: "invalid_event", errors: [{ index: 1, field: "properties", problem: "must be object" }] });
    const types = await post("/v1/batch", { batch: [{ type: "launch", userId: "u" }] });
    expect(types.json()).toMatchObject({ code: "invalid_event", errors: [{ index: 0, field: "type", problem: expect.stringMatching(/track, page, screen, identify, group, alias/) }] });
    expect((await post("/v1/batch", { events: [] })).json()).toMatchObject({ code: "invalid_body", errors: [{ field: "batch", problem: "is required" }] });
    expect(spool.rows).toBe(rowsBefore);
  });

  it("enforces Segment's limits: 32 KB per event, 500 KB and 2500 events per batch", async () => {
    const big = "x".repeat(33 * 1024);
    expect((await post("/v1/track", { userId: "u", event: "a", properties: { big } })).statusCode).toBe(413);
    const inBatch = await post("/v1/batch", { batch: [{ type: "track", userId: "u", event: "a", properties: { big } }] });
    expect(inBatch.statusCode).toBe(413);
    expect(inBatch.json()).toMatchObject({ code: "event_too_large", errors: [{ index: 0, field: "event" }] });
    const huge = await post("/v1/batch", { batch: Array.from({ length: 20 }, () => ({ type: "track", userId: "u", event: "a", properties: { s: "y".repeat(30_000) } })) });
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toMatchObject({ code: "batch_too_large" });
    const many = await post("/v1/batch", { batch: Array.from({ length: 2501 }, () => ({ type: "track", userId: "u", event: "a" })) });
    expect(many.statusCode).toBe(400);
    expect(many.json()).toMatchObject({ code: "too_many_events" });
  });

  it("stores a messageId once: repeats in the same batch and across requests are acknowledged, not stored", async () => {
    const rowsBefore = spool.rows;
    const e = { type: "track", userId: "u", event: "A", messageId: "dup-1" };
    expect((await post("/v1/batch", { batch: [e, e, { ...e, messageId: "dup-2" }] })).json()).toEqual({ success: true, accepted: 2, duplicates: 1 });
    expect((await post("/v1/track", e)).json()).toEqual({ success: true, accepted: 0, duplicates: 1 });
    expect(spool.rows).toBe(rowsBefore + 2);
    expect(await metrics.registry.getSingleMetricAsString("ingest_events_duplicate_total")).toMatch(/ingest_events_duplicate_total 2/);
  });

  it("echoes a client's X-Request-Id and makes one up otherwise", async () => {
    const given = await post("/v1/track", { userId: "u", event: "A" }, { authorization: basic(KEY), "x-request-id": "req-abc.1" });
    expect(given.headers["x-request-id"]).toBe("req-abc.1");
    const made = await post("/v1/track", { userId: "u", event: "A" }, { authorization: basic(KEY), "x-request-id": "bad id with spaces" });
    expect(made.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers 404 and 415 with JSON, never 500", async () => {
    const missing = await app.inject({ method: "GET", url: "/v1/track" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: "not_found" });
    const xml = await app.inject({ method: "POST", url: "/v1/track", headers: { "content-type": "application/xml", authorization: basic(KEY) }, payload: "<e/>" });
    expect(xml.statusCode).toBe(415);
    expect(xml.json()).toMatchObject({ code: "unsupported_media_type" });
  });

  it("reports liveness, readiness (spool and ClickHouse) and Prometheus metrics", async () => {
    expect((await app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ status: "ok" });
    expect((await app.inject({ method: "GET", url: "/readyz" })).json()).toEqual({ ready: true, checks: { spool: true, clickhouse: true } });
    const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
    for (const name of ["ingest_events_received_total", "ingest_events_accepted_total", "ingest_events_rejected_total", "ingest_spool_bytes",
      "ingest_spool_oldest_event_age_seconds", "ingest_flush_duration_seconds", "ingest_clickhouse_errors_total"]) expect(text).toContain(name);
    expect(text).toMatch(/ingest_events_rejected_total\{reason="unauthorized"\} [1-9]/);
    expect(text).toMatch(/ingest_events_accepted_total\{table="events"\} [1-9]/);
  });

  it("answers 503 with Retry-After when the spool is full, and readiness fails when ClickHouse is unreachable", async () => {
    const payload = { batch: Array.from({ length: 100 }, (_, i) => ({ type: "track", userId: "u", event: "fill", properties: { pad: "z".repeat(4000), i } })) };
    let status = 200;
    for (let i = 0; i < 20 && status === 200; i++) status = (await post("/v1/batch", payload)).statusCode;
    const res = await post("/v1/batch", payload);
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("7");
    expect(res.json()).toMatchObject({ code: "spool_full" });
    clickhouseUp = false;
    clockOffsetMs += 2000; // readiness caches the ClickHouse check for 1 s
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({ ready: false, checks: { spool: true, clickhouse: false } });
  });
});
