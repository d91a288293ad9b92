/**
 * The batch fast path against the slow path (json-body.ts + the JSON schema + normalize-events.ts), on generated
 * bodies: for every body the fast path either declines or returns exactly the rows the slow path returns (same
 * JSONEachRow bytes, ids, tables, clamping, write key). Bodies come from a seeded generator in four families:
 * SDK-shaped (canonical JSON.stringify output, which the fast path must take), reformatted (whitespace, `\/`,
 * non-canonical numbers, duplicate and integer keys: taken, with the kept objects re-serialized), near-valid (one
 * rule or limit broken: declined), and hostile byte mutations (truncation, flips, deep nesting, `\u`, bad UTF-8).
 * Then the same through the HTTP app, with the fast path on and off: same statuses, bodies and spool records.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv from "ajv";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../ingest/src/app";
import { IngestError } from "../../ingest/src/errors";
import { AJV_OPTIONS, batchSchema, MAX_JSON_DEPTH } from "../../ingest/src/event-schema";
import { parseBatchFast } from "../../ingest/src/fast-batch";
import { parseJsonBody } from "../../ingest/src/json-body";
import { MessageIdIndex } from "../../ingest/src/message-id-index";
import { createMetrics } from "../../ingest/src/metrics";
import { normalizeEvents, type NormalizedRow } from "../../ingest/src/normalize-events";
import { Spool } from "../../ingest/src/spool";
import { decodeSegment } from "../../ingest/src/spool-record";
import { Gen, random } from "./support/batch-bodies";

const RECEIVED_AT_MS = Date.UTC(2024, 4, 1, 14, 2, 0, 123);
const validateBatch = new Ajv({ ...AJV_OPTIONS }).compile(batchSchema);

interface Outcome {
  readonly rows: readonly NormalizedRow[];
  readonly clamped: number;
  readonly events: number;
  readonly writeKey: string | undefined;
}

function idCounter(): () => string {
  let n = 0;
  return () => `generated-${++n}`;
}

/** What the app's slow path makes of a batch body: its rows, or the error code it answers with. */
function slowPath(body: Buffer): Outcome | { error: string } {
  try {
    const value = parseJsonBody(body, MAX_JSON_DEPTH) as Record<string, unknown>;
    if (!validateBatch(value)) return { error: "schema" };
    const events = value.batch as Record<string, unknown>[];
    const { rows, clamped } = normalizeEvents(events, { batch: true, envelopeSentAt: value.sentAt, envelopeContext: value.context, receivedAtMs: RECEIVED_AT_MS, newMessageId: idCounter() });
    return { rows, clamped, events: events.length, writeKey: typeof value.writeKey === "string" ? value.writeKey : undefined };
  } catch (error) {
    if (error instanceof IngestError) return { error: error.code };
    throw error;
  }
}

function fastPath(body: Buffer): Outcome | undefined {
  return parseBatchFast(body, { receivedAtMs: RECEIVED_AT_MS, newMessageId: idCounter() });
}

function compare(body: Buffer, label: string): "fast" | "declined" {
  const fast = fastPath(body);
  if (fast === undefined) return "declined";
  const slow = slowPath(body);
  const context = `${label}: ${body.toString("utf8").slice(0, 400)}`;
  expect(slow, context).not.toHaveProperty("error");
  const expected = slow as Outcome;
  expect(fast.rows.map((r) => r.json), context).toEqual(expected.rows.map((r) => r.json));
  expect(fast, context).toEqual(expected);
  return "fast";
}

function run(cases: number, seed: number, make: (g: Gen) => Buffer, label: string): { fast: number; declined: number } {
  const tally = { fast: 0, declined: 0 };
  for (let c = 0; c < cases; c++) {
    const g = new Gen(random(seed * 1_000_003 + c));
    tally[compare(make(g), `${label} case ${c} (seed ${seed})`)]++;
  }
  return tally;
}

describe("batch fast path: equivalent to the slow path, or declines", () => {
  it("takes every SDK-shaped body (JSON.stringify output) and returns the slow path's rows byte for byte", () => {
    let withContext = 0;
    const tally = run(3000, 1, (g) => {
      const body = g.batch();
      if ("context" in body) withContext++;
      return Buffer.from(JSON.stringify(body));
    }, "canonical");
    // Only bodies with a batch-level context (merged into each event's context by the slow path) are left to it.
    expect(withContext).toBeGreaterThan(0);
    expect(tally.fast).toBe(3000 - withContext);
  });

  it("takes reformatted bodies (whitespace, \\/, other number notations, repeated and integer keys) with the same rows", () => {
    const tally = run(3000, 2, (g) => Buffer.from(g.reformat(g.batch())), "reformatted");
    expect(tally.fast).toBeGreaterThan(300);
    expect(tally.declined).toBeGreaterThan(300);
  });

  it("declines every near-valid body (one rule or limit broken), leaving the error to the slow path", () => {
    const tally = run(2000, 3, (g) => Buffer.from(JSON.stringify(g.nearValid())), "near-valid");
    // Some mutations are harmless (a category on a track, a field removed that another spelling provides); those
    // must be taken with equal rows, and the rest declined. compare() checks both.
    expect(tally.declined).toBeGreaterThan(1500);
  });

  it("declines or matches on hostile bytes, and never throws", () => {
    const tally = run(4000, 4, (g) => g.hostile(), "hostile");
    expect(tally.declined).toBeGreaterThan(2000);
  });

  it("declines the corner cases by name", () => {
    const declined = [
      '{"batch":[{"type":"track","userId":"u","event":"a","userId":"v"}]}',
      '{"batch":[{"type":"track","userId":"u","event":"a"}],"batch":[]}',
      '{"batch":[{"type":"track","userId":"u","event":"a","properties":{"a":"\\u0041"}}]}',
      '{"batch":[{"type":"page","userId":"u","category":"Docs"}]}',
      '{"batch":[{"type":"track","userId":"u","event":"a"}]} x',
      '{"batch":[{"type":"track","userId":"u","event":"a","properties":{"x":01}}]}',
      '{"batch":[{"type":"track","userId":"u","event":"a","properties":{"x":"\\x"}}]}',
      '{"batch":[]}x',
      '{"batch":[{"type":"track","userId":"u","event":"a","properties":{"__proto__":{"admin":true}}}]}',
      '{"batch":[{"type":"track","userId":"u","event":"a","properties":{"constructor":"x"}}]}',
      '{"batch":[{"type":"track","userId":"u","event":"a","constructor":{"prototype":{}}}]}',
      "",
      "[]",
      '{"writeKey":"k"}',
    ];
    for (const body of declined) expect(fastPath(Buffer.from(body)), body).toBeUndefined();
    const taken = [
      ['{"batch":[]}', 0],
      [' {"batch" : [ {"type":"track" ,"userId":7,"event":"a","properties":{"b":1,"2":2,"b":3}} ] } \n', 1],
      ['{"batch":[{"type":"track","userId":"u","event":"a\\/b","properties":{"p":"\\/","n":1.50,"e":1E3,"z":-0}}]}', 1],
      ['{"batch":[{"type":"track","userId":"__proto__","event":"constructor","properties":{"p":"__proto__"}}]}', 1],
    ] as const;
    for (const [body, rows] of taken) {
      expect(compare(Buffer.from(body), body)).toBe("fast");
      expect(fastPath(Buffer.from(body))?.rows.length).toBe(rows);
    }
    expect(fastPath(Buffer.from(taken[1][0]))?.rows[0].json).toContain('"properties":{"2":2,"b":3}');
  });
});

describe("batch fast path through the HTTP app", () => {
  it("answers every request as the slow path does and spools the same records", async () => {
    const KEY = "write-key-123";
    const apps = await Promise.all([true, false].map(async (batchFastPath) => {
      const dir = mkdtempSync(join(tmpdir(), "ingest-fast-"));
      const messageIds = new MessageIdIndex();
      const { spool } = await Spool.open({ dir, maxBytes: 1024 ** 3, segmentMaxRows: 1_000_000, sealAfterMs: 3_600_000, messageIds });
      let generated = 0;
      const app = buildApp({
        writeKeys: [KEY], retryAfterSeconds: 5, spool, messageIds, metrics: createMetrics(), logger: pino({ level: "silent" }),
        clickhouseReachable: async () => true, now: () => clock, newMessageId: () => `generated-${++generated}`, batchFastPath,
      });
      return { dir, spool, app, resetIds: () => { generated = 0; } };
    }));
    let clock = RECEIVED_AT_MS;
    const tally = { fast: 0, declined: 0, statuses: new Set<number>() };
    for (let c = 0; c < 1200; c++) {
      const g = new Gen(random(5_000_011 + c));
      const family = c % 4;
      // Repeats of earlier bodies exercise the idempotency path (acknowledged, not stored) on both apps alike.
      const body = family === 0 ? Buffer.from(JSON.stringify(g.batch())) : family === 1 ? Buffer.from(g.reformat(g.batch()))
        : family === 2 ? Buffer.from(JSON.stringify(g.nearValid())) : g.hostile();
      const auth = g.pick(["basic", "basic", "basic", "wrong", "none"]);
      const headers: Record<string, string> = { "content-type": g.pick(["application/json", "text/plain"]) };
      if (auth !== "none") headers.authorization = `Basic ${Buffer.from(`${auth === "basic" ? KEY : "not-the-key"}:`).toString("base64")}`;
      const url = g.pick(["/batch", "/v1/batch", "/v1/import"]);
      clock += 1 + g.int(1000);
      tally[fastPath(body) ? "fast" : "declined"]++;
      const responses = [];
      for (const a of apps) {
        a.resetIds();
        responses.push(await a.app.inject({ method: "POST", url, headers, payload: body }));
      }
      const context = `case ${c}: ${body.toString("utf8").slice(0, 300)}`;
      expect(responses[0].statusCode, context).toBe(responses[1].statusCode);
      expect(responses[0].body, context).toBe(responses[1].body);
      tally.statuses.add(responses[0].statusCode);
    }
    // About a fifth of the valid bodies carry a batch-level context, which the fast path leaves to the slow one.
    expect(tally.fast).toBeGreaterThan(250);
    expect([...tally.statuses].sort()).toEqual(expect.arrayContaining([200, 400, 401, 413]));

    const records = [];
    for (const a of apps) {
      await a.spool.sealNow();
      records.push(a.spool.sealedSegments().flatMap((segment) => decodeSegment(readFileSync(segment.path)).records)
        .map((r) => ({ receivedAtMs: r.receivedAtMs, fingerprints: [...r.fingerprints], sections: r.sections.map((x) => ({ table: x.table, rows: x.rows, lines: x.bytes.toString("utf8") })) })));
      await a.app.close();
      await a.spool.close();
      rmSync(a.dir, { recursive: true, force: true });
    }
    expect(records[0].length).toBeGreaterThan(100);
    for (let r = 0; r < records[0].length; r++) expect(records[0][r], `record ${r}`).toEqual(records[1][r]);
    expect(records[0].length).toBe(records[1].length);
  });
});
