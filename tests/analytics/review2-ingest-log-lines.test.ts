/**
 * Review 2 regression tests: the ingest-health log panels and the ingest-errors alert against the lines the real
 * shipper writes (a Shipper with a ClickHouse sink that refuses rows or is down), not only the HTTP request lines. A
 * dead-lettered row is not a rejection (its ClickHouse message is `clickhouse_error`, not `reason`); while inserts
 * fail, the retry lines carry the spool backlog; and a lasting failure is logged at error. Loki cannot run here; the
 * panels' pipelines are applied as Loki documents them: `| json` makes each top-level field a label, `reason != ""`
 * keeps lines with a non-empty reason, `unwrap spool_bytes | __error__=""` yields one sample per line whose
 * spool_bytes is a number (absent: a sample-extraction error, dropped).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { normalizeLevel } from "../../components/log-pipeline";
import { loadConfig } from "../../components/stack-config";
import { alertQueries, ingestQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import type { ClickHouseSink } from "../../ingest/src/clickhouse-sink";
import { MessageIdIndex } from "../../ingest/src/message-id-index";
import { createMetrics } from "../../ingest/src/metrics";
import { normalizeEvents } from "../../ingest/src/normalize-events";
import { deadLetterFilePath, Shipper } from "../../ingest/src/shipper";
import { Spool } from "../../ingest/src/spool";
import { encodeRecord } from "../../ingest/src/spool-record";
import { until } from "../ingest/support/until";

const q = ingestQueries(analyticsSettings(loadConfig({}, "test")));

function record(names: string[], firstId: number): Buffer {
  const { rows } = normalizeEvents(names.map((event, i) => ({ type: "track", userId: `u${i}`, event, messageId: `r2-${firstId + i}`, timestamp: "2024-05-01T10:00:00Z" })),
    { batch: true, receivedAtMs: Date.UTC(2024, 4, 1, 10, 0, 1), newMessageId: () => "unused" });
  return encodeRecord({ receivedAtMs: Date.now(), fingerprints: new Uint32Array(0), sections: [{ table: "events", rows: rows.length, bytes: Buffer.from(`${rows.map((r) => r.json).join("\n")}\n`) }] });
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function shipperWith(insert: ClickHouseSink["insert"], errorAfterFailingMs?: number) {
  const dir = mkdtempSync(join(tmpdir(), "review2-log-lines-"));
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk: Buffer, _e, done) {
      for (const t of chunk.toString().split("\n")) if (t.trim() !== "") lines.push(JSON.parse(t) as Record<string, unknown>);
      done();
    },
  });
  const { spool } = await Spool.open({ dir, maxBytes: 8 * 1024 * 1024, segmentMaxRows: 1000, sealAfterMs: 60_000, messageIds: new MessageIdIndex() });
  const sink: ClickHouseSink = { insert, ping: async () => true, close: async () => {} };
  const shipper = new Shipper({ spool, sink, logger: pino({ level: "info" }, out), metrics: createMetrics(), deadLetterFile: deadLetterFilePath(dir), retryInitialMs: 20, retryMaxMs: 50,
    ...(errorAfterFailingMs !== undefined ? { errorAfterFailingMs, retryLogIntervalMs: 20 } : {}) });
  cleanup.push(async () => { await shipper.stop(); await spool.close(); rmSync(dir, { recursive: true, force: true }); });
  return { spool, shipper, lines };
}

describe("Rejected events by reason", () => {
  it("counts only events the ingest refused, not rows ClickHouse dead-lettered after they were accepted", async () => {
    expect(q.rejectedByReason.expr).toContain('| json | reason != ""');
    const { spool, shipper, lines } = await shipperWith(async (table, chunks) => {
      const body = Buffer.concat(chunks).toString();
      if (table === "events" && body.includes('"poison"')) {
        throw Object.assign(new Error("Code: 469. DB::Exception: Constraint `no_poison` for table analytics.events is violated at row 1. (VIOLATED_CONSTRAINT)"), { code: "469" });
      }
    });
    await spool.append(record(["fine", "poison", "fine"], 0), 3, Date.now());
    await spool.sealNow();
    shipper.start();
    await until("the segment to ship", () => spool.sealedSegments().length === 0);
    // Lines the panel's `| json | reason != ""` keeps (it then sums them by reason).
    const counted = lines.filter((l) => typeof l.reason === "string" && l.reason !== "").map((l) => ({ msg: l.msg, reason: l.reason }));
    // None: no request was refused. A dead-lettered row was accepted (its client got 200); it belongs to "ClickHouse
    // insert errors", and its reason is a free-text ClickHouse message (a new series per message).
    expect(counted).toEqual([]);
  });
});

describe("Spool backlog", () => {
  it("has a sample while ClickHouse is down and the spool grows", async () => {
    expect(q.spoolBacklog.expr).toContain("| json | unwrap spool_bytes");
    let inserts = 0;
    const { spool, shipper, lines } = await shipperWith(async () => {
      inserts++;
      throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8123"), { code: "ECONNREFUSED" });
    });
    shipper.start();
    for (let s = 0; s < 3; s++) {
      await spool.append(record(["a", "b"], 100 + s * 10), 2, Date.now());
      await spool.sealNow();
    }
    await until("the shipper to retry", () => inserts >= 3);
    await until("the outage to be logged", () => lines.some((l) => l.msg === "ClickHouse insert failed; retrying"));
    expect(spool.bytes).toBeGreaterThan(0);
    // The panel's samples: lines with a numeric spool_bytes. Only successful flushes (and shutdown) write one, so in
    // an outage the panel has no point at all (or shows the small backlog of the last flush before it).
    const samples = lines.filter((l) => typeof l.spool_bytes === "number");
    expect(samples.length, "a line carrying spool_bytes during the outage").toBeGreaterThan(0);
  });
});

describe("Ingest error log rate (analytics-ingest-errors) during a ClickHouse outage", () => {
  it("counts the failed inserts its runbook names as causes (auth, TOO_MANY_PARTS, disk full)", async () => {
    const rule = alertQueries(analyticsSettings(loadConfig({}, "test"))).ingestErrors.expr;
    expect(rule).toContain('level=~"error|fatal"');
    let inserts = 0;
    // 516 AUTHENTICATION_FAILED: the ingest_writer password changed; the runbook's step 3 lists it first.
    // Logged at warn while the failure may be a restart, at error once it has lasted (60 s in the service; 100 ms here).
    const { spool, shipper, lines } = await shipperWith(async () => {
      inserts++;
      throw Object.assign(new Error("Code: 516. DB::Exception: ingest_writer: Authentication failed. (AUTHENTICATION_FAILED)"), { code: "516" });
    }, 100);
    shipper.start();
    await spool.append(record(["a"], 500), 1, Date.now());
    await spool.sealNow();
    await until("several failed inserts", () => inserts >= 5);
    await until("the failure to have lasted", () => lines.some((l) => normalizeLevel(l.level) === "error"));
    // The `level` label as the log shipper derives it (pino numbers or words).
    const errorLines = lines.filter((l) => ["error", "fatal"].includes(normalizeLevel(l.level) ?? ""));
    expect(lines.some((l) => normalizeLevel(l.level) === "warn" && l.msg === "ClickHouse insert failed; retrying")).toBe(true);
    expect(errorLines.length, "error lines while every insert fails").toBeGreaterThan(0);
  });
});
