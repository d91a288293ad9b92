/**
 * Moves sealed spool segments into ClickHouse, oldest first, one insert per table per segment.
 *
 * - The dedup token is a hash of the exact bytes inserted, so a batch replayed after a crash (the segment was
 *   inserted but not yet deleted) is stored once, and materialized views fed by the insert count it once.
 * - A "retry" failure (classify.ts) is retried with capped exponential backoff, forever: while ClickHouse is
 *   down the spool grows and the HTTP side answers 503 when it is full; nothing is dropped.
 * - A "drop" failure means some rows are invalid for ClickHouse: the batch is split in halves and each half
 *   inserted on its own, down to single rows, which go to the dead-letter table with the reason (or, if that
 *   insert fails too, to an fsync'd dead-letter file in the spool directory). The queue keeps moving.
 * - A segment is deleted only when every table's insert succeeded (Spool.complete).
 * - While one segment is being inserted, the next sealed one is read, checked and hashed, so ClickHouse does not
 *   sit idle between inserts waiting for us (one segment ahead at most: memory stays bounded). Not when the event
 *   loop is nearly saturated (requests come first): then shipping waits while requests alone keep the loop busy
 *   (at most `deferMaxMs` in a row, never once the spool is half full or while draining), ClickHouse on the same
 *   cores takes no cycles from accepting, the spool absorbs the burst, and shipping catches up when the load drops.
 * - One JSON log line per segment shipped: events per table, duration, spool backlog.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { performance, type EventLoopUtilization } from "node:perf_hooks";
import type { Logger } from "pino";
import { classify, clickhouseErrorCode, retryDelayMs } from "./classify";
import type { ClickHouseSink } from "./clickhouse-sink";
import { appendDurably } from "./durable-append";
import { clickhouseTime } from "./event-time";
import type { IngestMetrics } from "./metrics";
import type { Table } from "./normalize-events";
import type { SegmentInfo, Spool } from "./spool";
import { rowsByTable, type DecodedSegment } from "./spool-record";

export const DEAD_LETTER_TABLE = "ingest_dead_letters";

export interface ShipperOptions {
  readonly spool: Spool;
  readonly sink: ClickHouseSink;
  readonly logger: Logger;
  readonly metrics: IngestMetrics;
  /** Where rows go when even the dead-letter table refuses them. */
  readonly deadLetterFile: string;
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /**
   * Prepare the next segment ahead only while the event loop was busy less than this share of the time since the last
   * segment; at or above it, shipping waits while requests alone keep the loop this busy. Defaults to 0.95.
   */
  readonly prefetchBelowUtilization?: number;
  /** The longest shipping waits for requests in a row before one segment ships anyway. Defaults to 10000. */
  readonly deferMaxMs?: number;
  /** While inserts keep failing, one log line per this many ms (with the spool backlog). Defaults to 10000. */
  readonly retryLogIntervalMs?: number;
  /**
   * Failing inserts are logged at warn (ClickHouse restarting is routine) until they have failed for this long, then
   * at error, so the ingest-errors alert fires on a lasting failure (wrong password, disk full, too many parts) and not
   * only the no-events one. Defaults to 60000.
   */
  readonly errorAfterFailingMs?: number;
}

/**
 * Deterministic per batch content: the same bytes always get the same token, however they are chunked. Yields to
 * the event loop about every 256 KB hashed, so hashing a 15 MB batch never stalls requests for more than a fraction
 * of a millisecond at a time.
 */
export async function dedupToken(table: string, chunks: readonly Buffer[]): Promise<string> {
  const hash = createHash("sha256");
  let sinceYield = 0;
  for (const chunk of chunks) {
    hash.update(chunk);
    sinceYield += chunk.length;
    if (sinceYield >= 256 * 1024) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return `${table}-${hash.digest("hex").slice(0, 40)}`;
}

class Stopped extends Error {}

/** A segment read back and checked, with each table's insert body and dedup token, ready to insert. */
interface PreparedSegment {
  readonly decoded: DecodedSegment;
  readonly tables: readonly { readonly table: Table; readonly rows: number; readonly chunks: Buffer[]; readonly token: string }[];
}

type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

export class Shipper {
  private stopped = false;
  private running: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  /** Shipping stops between inserts once this time passes (set by drain). */
  private deadlineMs = Number.POSITIVE_INFINITY;
  private lastErrorLogMs = 0;
  /** When inserts started failing without a success since (undefined while they succeed). */
  private failingSinceMs: number | undefined;
  /** Resolved when the loop finds no sealed segment to ship. */
  private idleWaiters: (() => void)[] = [];
  /** Whether the last ClickHouse request succeeded (for readiness). */
  lastInsertOk = true;
  /** The next segment, being prepared while the current one is inserted (its failure is raised when it is used). */
  private prefetched: { readonly segment: SegmentInfo; readonly result: Promise<Settled<PreparedSegment>> } | undefined;
  private loopUsage: EventLoopUtilization = performance.eventLoopUtilization();

  constructor(private readonly options: ShipperOptions) {
    options.spool.onSealed(() => this.wake());
  }

  start(): void {
    this.running ??= this.loop();
  }

  private wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = resolve;
      if (Number.isFinite(ms)) this.sleepTimer = setTimeout(() => this.wake(), ms);
    });
  }

  private async loop(): Promise<void> {
    const { spool, logger } = this.options;
    while (!this.stopped) {
      const segment = spool.sealedSegments()[0];
      if (!segment) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
        await this.sleep(Number.POSITIVE_INFINITY);
        continue;
      }
      try {
        const busy = !this.requestsLeaveRoom();
        if (busy && (await this.deferredWhileRequestsSaturate())) continue;
        const prepared = await this.prepared(segment);
        const following = spool.sealedSegments()[1];
        const ahead = following !== undefined && !busy;
        if (ahead) this.prefetch(following);
        await this.ship(segment, prepared, ahead);
      } catch (error) {
        if (error instanceof Stopped) break;
        // Reading the segment or deleting it failed (disk trouble): keep it and try again later.
        logger.error({ err: error, segment: segment.id }, "shipping a spool segment failed; will retry");
        await this.sleep(this.options.retryMaxMs ?? 5000);
      }
    }
  }

  private async prepare(segment: SegmentInfo): Promise<PreparedSegment> {
    const decoded = await this.options.spool.readSegment(segment);
    const tables = [];
    for (const [table, { rows, chunks }] of rowsByTable(decoded.records)) tables.push({ table, rows, chunks, token: await dedupToken(table, chunks) });
    return { decoded, tables };
  }

  /** Share of time the event loop was busy since the last segment (logged with each flush). */
  private loopUtilization = 0;

  /** When shipping began to wait for requests to leave the event loop room (undefined: not waiting). */
  private deferringSinceMs: number | undefined;
  private pauseTimer: NodeJS.Timeout | undefined;
  private pauseDone: (() => void) | undefined;

  /**
   * Requests come first: while requests alone keep the event loop saturated, shipping waits, the spool absorbs the
   * burst, and ClickHouse (on the same cores) does not take cycles from accepting. Checked over a short pause in which
   * the shipper does nothing, so its own work cannot make it wait. Never while draining, once the spool is half full,
   * or for more than `deferMaxMs` in a row (then one segment ships). Returns whether it waited (the caller looks again).
   */
  private async deferredWhileRequestsSaturate(): Promise<boolean> {
    const threshold = this.options.prefetchBelowUtilization ?? 0.95;
    const maxMs = this.options.deferMaxMs ?? 10_000;
    if (Number.isFinite(this.deadlineMs) || this.options.spool.fillRatio >= 0.5 || (this.deferringSinceMs !== undefined && Date.now() - this.deferringSinceMs >= maxMs)) {
      // Ends a wait in progress here too, so the flush line says how long it was and the next wait starts afresh.
      this.endDeferring();
      return false;
    }
    const before = performance.eventLoopUtilization();
    await this.pause(100);
    const utilization = performance.eventLoopUtilization(before).utilization;
    this.loopUsage = performance.eventLoopUtilization();
    // Stopped while pausing: the loop ends without reading the segment.
    if (this.stopped) return true;
    if (utilization < threshold || Number.isFinite(this.deadlineMs)) {
      this.endDeferring();
      return false;
    }
    this.deferringSinceMs ??= Date.now();
    return true;
  }

  /** How long shipping waited for requests before the segment being shipped (logged with its flush line). */
  private deferredMs = 0;

  private endDeferring(): void {
    if (this.deferringSinceMs !== undefined) this.deferredMs = Date.now() - this.deferringSinceMs;
    this.deferringSinceMs = undefined;
  }

  /** A wait that sealed segments do not cut short (sleep's does); stop() and drain() do. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.pauseDone = resolve;
      this.pauseTimer = setTimeout(() => this.endPause(), ms);
    });
  }

  private endPause(): void {
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    const done = this.pauseDone;
    this.pauseDone = undefined;
    done?.();
  }

  /** Whether the event loop had spare time since the last call (requests come before shipping ahead). */
  private requestsLeaveRoom(): boolean {
    const now = performance.eventLoopUtilization();
    this.loopUtilization = performance.eventLoopUtilization(now, this.loopUsage).utilization;
    this.loopUsage = now;
    return this.loopUtilization < (this.options.prefetchBelowUtilization ?? 0.95);
  }

  private prefetch(segment: SegmentInfo): void {
    const result = this.prepare(segment).then((value): Settled<PreparedSegment> => ({ ok: true, value }), (error: unknown): Settled<PreparedSegment> => ({ ok: false, error }));
    this.prefetched = { segment, result };
  }

  /** The segment prepared ahead, when it is this one; otherwise prepared now. */
  private async prepared(segment: SegmentInfo): Promise<PreparedSegment> {
    const ahead = this.prefetched;
    this.prefetched = undefined;
    if (ahead?.segment !== segment) return this.prepare(segment);
    const settled = await ahead.result;
    if (!settled.ok) throw settled.error;
    return settled.value;
  }

  private async ship(segment: SegmentInfo, { decoded, tables: prepared }: PreparedSegment, preparingNext: boolean): Promise<void> {
    const { spool, logger, metrics } = this.options;
    const startedMs = Date.now();
    if (decoded.tornBytes > 0) {
      logger.error({ segment: segment.id, torn_bytes: decoded.tornBytes }, "sealed spool segment changed on disk; shipping its valid records");
    }
    const tables: Record<string, number> = {};
    let events = 0;
    for (const { table, rows, chunks, token } of prepared) {
      const tableStartedMs = Date.now();
      await this.insert(table, chunks, token);
      metrics.flushDuration.observe({ table }, (Date.now() - tableStartedMs) / 1000);
      metrics.shippedRows.inc({ table }, rows);
      tables[table] = rows;
      events += rows;
    }
    await spool.complete(segment, decoded.records);
    const oldest = spool.oldestReceivedAtMs;
    logger.info({
      msg: "flush", segment: segment.id, events, tables, duration_ms: Date.now() - startedMs,
      loop_utilization: Number(this.loopUtilization.toFixed(2)), preparing_next: preparingNext, deferred_ms: this.deferredMs,
      spool_bytes: spool.bytes, spool_events: spool.rows, oldest_unshipped_age_s: oldest === undefined ? 0 : (Date.now() - oldest) / 1000,
    });
    this.deferredMs = 0;
  }

  /** Inserts until ClickHouse has the rows (or has refused each bad row for good). */
  private async insert(table: Table | typeof DEAD_LETTER_TABLE, chunks: readonly Buffer[], token?: string): Promise<void> {
    const { sink, logger, metrics } = this.options;
    token ??= await dedupToken(table, chunks);
    for (let attempt = 0; ; attempt++) {
      if (this.stopped || Date.now() > this.deadlineMs) throw new Stopped();
      try {
        await sink.insert(table, chunks, token);
        this.lastInsertOk = true;
        this.failingSinceMs = undefined;
        return;
      } catch (error) {
        const decision = classify(error);
        metrics.clickhouseErrors.inc({ decision });
        if (decision === "drop") {
          this.lastInsertOk = true;
          this.failingSinceMs = undefined;
          await this.bisect(table, chunks, error);
          return;
        }
        this.lastInsertOk = false;
        const nowMs = Date.now();
        this.failingSinceMs ??= nowMs;
        const delayMs = retryDelayMs(attempt, this.options.retryInitialMs, this.options.retryMaxMs);
        // While ClickHouse is down every retry fails; one line per interval is enough to see it in Loki, and it carries
        // the spool backlog, which no flush line reports while nothing ships (the spool-backlog panel reads both).
        if (attempt === 0 || nowMs - this.lastErrorLogMs >= (this.options.retryLogIntervalMs ?? 10_000)) {
          this.lastErrorLogMs = nowMs;
          const failingForMs = nowMs - this.failingSinceMs;
          const oldest = this.options.spool.oldestReceivedAtMs;
          const level = failingForMs >= (this.options.errorAfterFailingMs ?? 60_000) ? "error" : "warn";
          logger[level]({
            table, attempt, retry_in_ms: delayMs, code: clickhouseErrorCode(error), err_message: (error as Error).message,
            failing_for_s: failingForMs / 1000, spool_bytes: this.options.spool.bytes, spool_events: this.options.spool.rows,
            oldest_unshipped_age_s: oldest === undefined ? 0 : (nowMs - oldest) / 1000,
          }, "ClickHouse insert failed; retrying");
        }
        await this.sleep(delayMs);
      }
    }
  }

  private async bisect(table: string, chunks: readonly Buffer[], error: unknown): Promise<void> {
    const lines = Buffer.concat(chunks).toString("utf8").split("\n").filter((l) => l.length > 0);
    if (lines.length <= 1) {
      await this.deadLetter(table, lines[0] ?? "", error);
      return;
    }
    const half = Math.ceil(lines.length / 2);
    for (const part of [lines.slice(0, half), lines.slice(half)]) {
      await this.insert(table as Table, [Buffer.from(`${part.join("\n")}\n`)]);
    }
  }

  private async deadLetter(table: string, row: string, error: unknown): Promise<void> {
    const { sink, logger, metrics } = this.options;
    let messageId = "";
    try {
      messageId = String((JSON.parse(row) as { message_id?: unknown }).message_id ?? "");
    } catch {
      // The row came from our own JSON.stringify; if it does not parse, the reason below says why it failed.
    }
    const reason = String((error as Error)?.message ?? error).slice(0, 2000);
    const code = clickhouseErrorCode(error) ?? 0;
    const entry = { failed_at: clickhouseTime(Date.now()), target_table: table, error_code: code, reason, message_id: messageId, row };
    const line = `${JSON.stringify(entry)}\n`;
    metrics.deadLetters.inc({ table });
    // `clickhouse_error`, not `reason`: `reason` on a log line means the ingest refused the request (the "Rejected events
    // by reason" panel sums those); this row was accepted, and ClickHouse's free-text message would be a series each.
    logger.error({ table, message_id: messageId, code, clickhouse_error: reason }, "ClickHouse rejected a row for good; dead-lettered");
    try {
      await sink.insert(DEAD_LETTER_TABLE, [Buffer.from(line)], await dedupToken(DEAD_LETTER_TABLE, [Buffer.from(row)]));
    } catch (tableError) {
      logger.error({ err_message: (tableError as Error).message, file: this.options.deadLetterFile }, "dead-letter table insert failed; writing the row to the dead-letter file");
      await appendDurably(this.options.deadLetterFile, line);
    }
  }

  /**
   * Ships every sealed segment, stopping between inserts once `deadlineMs` passes. Returns whether the spool is
   * empty. What is left stays in the spool, durable, for the next start.
   */
  async drain(deadlineMs: number): Promise<boolean> {
    this.deadlineMs = deadlineMs;
    this.endPause();
    await this.options.spool.sealNow();
    this.start();
    this.wake();
    if (this.options.spool.sealedSegments().length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, deadlineMs - Date.now())); }),
      ]);
      clearTimeout(timer);
    }
    return this.options.spool.sealedSegments().length === 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.endPause();
    this.wake();
    await this.running;
  }
}

export function deadLetterFilePath(spoolDir: string): string {
  return join(spoolDir, "dead-letters.ndjson");
}
