/**
 * The ingest-health panels that read the ingest's own log lines, against the lines the real ingest app writes
 * (buildApp through inject, with a logger whose lines the test keeps). Loki cannot run here, so the panel's pipeline is
 * applied by `samplesOf` below for the stages it uses (json, a label filter, label_format, unwrap, __error__=""), with
 * Loki's rule that unwrapping an absent label is a sample-extraction error, which `__error__=""` drops.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { loadConfig } from "../../components/stack-config";
import { ingestQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import { buildApp } from "../../ingest/src/app";
import { MessageIdIndex } from "../../ingest/src/message-id-index";
import { createMetrics } from "../../ingest/src/metrics";
import { Spool } from "../../ingest/src/spool";
import { expandLogql } from "../support/grafana-macros";
import { logqlProblems } from "../support/logql";

const settings = analyticsSettings(loadConfig({}, "test"));
const rejected = ingestQueries(settings).rejectedByReason.expr;

/**
 * The samples the panel's range aggregation sums, one per line that passes, as Loki extracts them: `| json` makes
 * every top-level field a label, `reason != ""` keeps lines with a reason, label_format may give `events` a default,
 * unwrap reads `events` as a number (absent or not numeric: an error, dropped by `__error__=""`).
 */
function samplesOf(expr: string, lines: readonly Record<string, unknown>[]): { reason: string; value: number }[] {
  expect(expr).toMatch(/\| json \| reason != "" (\| label_format events="[^"]*" )?\| unwrap events \| __error__="" \[/);
  const template = /label_format events="([^"]*)"/.exec(expr)?.[1];
  return lines.flatMap((line) => {
    const reason = typeof line.reason === "string" ? line.reason : "";
    if (reason === "") return [];
    let events = line.events === undefined ? "" : String(line.events);
    if (template !== undefined) {
      const ifElse = /^\{\{ if \.events \}\}\{\{ \.events \}\}\{\{ else \}\}(\d+)\{\{ end \}\}$/.exec(template);
      expect(ifElse, `label_format template ${template} is not the if/else default this check knows`).not.toBeNull();
      if (events === "") events = ifElse![1];
    }
    const value = Number(events);
    return events === "" || !Number.isFinite(value) ? [] : [{ reason, value }];
  });
}

let dir: string;
let spool: Spool;
let app: FastifyInstance;
const lines: Record<string, unknown>[] = [];
const KEY = "write-key-123";
const auth = `Basic ${Buffer.from(`${KEY}:`).toString("base64")}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ingest-log-panels-"));
  const messageIds = new MessageIdIndex();
  ({ spool } = await Spool.open({ dir, maxBytes: 2 * 1024 * 1024, segmentMaxRows: 100_000, sealAfterMs: 60_000, messageIds }));
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split("\n")) if (text.trim() !== "") lines.push(JSON.parse(text) as Record<string, unknown>);
      done();
    },
  });
  app = buildApp({
    writeKeys: [KEY], retryAfterSeconds: 7, spool, messageIds, metrics: createMetrics(), logger: pino({ level: "info" }, sink),
    clickhouseReachable: async () => true,
  });
});

afterAll(async () => {
  await app?.close();
  await spool?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("rejected events by reason", () => {
  it("counts every rejected request the ingest logs, also those refused before their events were counted", async () => {
    const post = (url: string, payload: string, headers: Record<string, string>) =>
      app.inject({ method: "POST", url, headers: { "content-type": "application/json", ...headers }, payload });
    const batch = JSON.stringify({ batch: [{ type: "track", userId: "u", event: "A" }] });
    expect((await post("/v1/batch", batch, {})).statusCode).toBe(401); // a wrong or missing write key
    expect((await post("/v1/batch", "{not json", { authorization: auth })).statusCode).toBe(400);
    expect((await post("/v1/batch", JSON.stringify({ batch: [{ type: "track", event: "A" }, { type: "track" }] }), { authorization: auth })).statusCode).toBe(400);
    expect((await post("/v1/batch", batch, { authorization: auth })).statusCode).toBe(200);

    const requests = lines.filter((l) => l.msg === "request");
    expect(requests).toHaveLength(4);
    const reasons = requests.filter((l) => typeof l.reason === "string").map((l) => l.reason);
    expect(reasons).toEqual(["unauthorized", "malformed_json", "invalid_event"]);
    // The panel's samples: one per rejected request, its event count where the ingest knew it, else 1 (as the ingest's
    // ingest_events_rejected_total counts it).
    expect(samplesOf(rejected, requests)).toEqual([
      { reason: "unauthorized", value: 1 }, { reason: "malformed_json", value: 1 }, { reason: "invalid_event", value: 2 },
    ]);
    expect(logqlProblems(expandLogql(rejected, { fromMs: 0, toMs: 0, intervalSeconds: 60 }))).toEqual([]);
  });
});
