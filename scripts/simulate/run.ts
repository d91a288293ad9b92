/**
 * One simulation run: backfill (history with its own timestamps, as fast as the ingest takes it), then an optional
 * live phase (current timestamps at about `liveRate` events/s until `liveMinutes` or Ctrl-C). IO comes in through
 * `RunDeps`, so tests run it with a fake clock, an in-memory log sink and no network (`dryRun`), or against a real
 * ingest service.
 */
import { createHash } from "node:crypto";
import { APP_LOG_MAX_AGE_MS, type LogSink } from "./app-logs";
import type { SimulateOptions } from "./flags";
import { DAY_MS, ProductModel, startOfUtcDay, type AppLogLine, type ModelSpec, type ModelStats, type SimEvent } from "./model";
import { silentProgress, type Progress } from "./progress";
import { appLogLine, BatchPacker, toSegmentMessage, type Batch } from "./segment";
import type { SenderStats } from "./sender";

export interface BatchSink {
  send(batch: Batch): Promise<void>;
  drain(): Promise<void>;
  readonly stats: SenderStats;
}

export interface RunDeps {
  /** Where batches go; omitted for a dry run. */
  readonly sender?: BatchSink;
  readonly logSink: LogSink;
  readonly progress?: Progress;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Ends the live phase (Ctrl-C). */
  readonly signal?: AbortSignal;
}

export interface RunResult {
  readonly startMs: number;
  readonly untilMs: number;
  readonly model: ModelStats;
  /** Calls generated (sent, or only generated in a dry run). */
  readonly calls: number;
  readonly liveCalls: number;
  readonly appLogLines: number;
  /** App lines not written because Loki would refuse them as too old. */
  readonly appLogLinesTooOld: number;
  readonly sender?: SenderStats;
  /** sha256 of every message in order: equal digests mean identical traffic. */
  readonly digest: string;
  readonly elapsedMs: number;
}

export function modelSpec(options: SimulateOptions): ModelSpec {
  return {
    seed: options.seed,
    startMs: startOfUtcDay(options.untilMs) - options.days * DAY_MS,
    endMs: options.untilMs,
    signupsPerDay: options.signupsPerDay,
    visitorsPerSignup: options.visitorsPerSignup,
    incident: options.incident,
  };
}

/** Number of calls the backfill will generate (a second, identical pass of the model; it is cheap). */
export function countBackfill(spec: ModelSpec): number {
  let total = 0;
  for (const day of new ProductModel(spec).days()) total += day.events.length;
  return total;
}

export async function runSimulation(options: SimulateOptions, deps: RunDeps): Promise<RunResult> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const progress = deps.progress ?? silentProgress;
  const started = now();
  const spec = modelSpec(options);
  const model = new ProductModel(spec);
  const packer = new BatchPacker(options.batchSize);
  const digest = createHash("sha256");
  let seq = 0;
  let calls = 0;
  let liveCalls = 0;
  let appLogLines = 0;
  let appLogLinesTooOld = 0;

  const ship = async (flush: boolean) => {
    if (flush) packer.flush();
    for (const batch of packer.take()) {
      if (deps.sender) await deps.sender.send(batch);
      else progress.increment(batch.messages.length);
    }
  };
  const queue = async (events: readonly SimEvent[]) => {
    for (const event of events) {
      const message = toSegmentMessage(event, options.seed, seq++);
      digest.update(JSON.stringify(message)).update("\n");
      packer.add(message, event.kind === "invalid");
    }
    calls += events.length;
    await ship(false);
  };
  const log = async (lines: readonly AppLogLine[]) => {
    for (const line of lines) {
      if (line.timeMs < now() - APP_LOG_MAX_AGE_MS) {
        appLogLinesTooOld++;
        continue;
      }
      await deps.logSink.write(appLogLine(line));
      appLogLines++;
    }
  };

  if (options.days > 0 || options.liveRate === 0) {
    progress.start(options.dryRun ? "generating" : "backfill", countBackfill(spec));
    for (const day of model.days()) {
      await queue(day.events);
      await log(day.logs);
    }
    await ship(true);
    if (deps.sender) await deps.sender.drain();
    progress.stop();
  }

  if (options.liveRate > 0 && deps.sender) {
    const endMs = options.liveMinutes > 0 ? now() + options.liveMinutes * 60_000 : Number.POSITIVE_INFINITY;
    progress.start(`live ~${options.liveRate}/s`, Number.isFinite(endMs) ? options.liveRate * options.liveMinutes * 60 : undefined);
    const pending: SimEvent[] = [];
    const pendingLogs: AppLogLine[] = [];
    let tickMs = now();
    let bursts = 0;
    while (!deps.signal?.aborted && tickMs < endMs) {
      // Top up the coming second to `liveRate` events. A session runs on for minutes, so each burst also adds
      // events for later seconds; counting what is already due keeps the rate steady instead of ramping up.
      const windowEnd = tickMs + 1000;
      // Events before tickMs belong to the second that just ended (they are released below, at its end).
      let due = countBefore(pending, windowEnd) - countBefore(pending, tickMs);
      for (let made = 0; due < options.liveRate && made < options.liveRate + 1000; made++) {
        // Spread the bursts over the second, deterministically.
        const burst = model.liveBurst(tickMs + ((bursts++ * 7919) % 1000));
        pending.push(...burst.events);
        pendingLogs.push(...burst.logs);
        for (const e of burst.events) if (e.timeMs >= tickMs && e.timeMs < windowEnd) due++;
      }
      pending.sort((a, b) => a.timeMs - b.timeMs);
      pendingLogs.sort((a, b) => a.timeMs - b.timeMs);
      const current = now();
      const ready = takeDue(pending, current);
      await queue(ready);
      liveCalls += ready.length;
      await log(takeDue(pendingLogs, current));
      await ship(true);
      tickMs += 1000;
      const wait = tickMs - now();
      if (wait > 0 && !deps.signal?.aborted) await sleep(wait);
    }
    await ship(true);
    await deps.sender.drain();
    progress.stop();
  }

  return {
    startMs: spec.startMs,
    untilMs: spec.endMs,
    model: model.stats,
    calls,
    liveCalls,
    appLogLines,
    appLogLinesTooOld,
    sender: deps.sender?.stats,
    digest: `sha256:${digest.digest("hex")}`,
    elapsedMs: now() - started,
  };
}

/** Number of leading items before `endMs` (the array is in time order). */
function countBefore(items: readonly { timeMs: number }[], endMs: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (items[mid].timeMs < endMs) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Removes and returns the leading items due by `nowMs` (the array is in time order). */
function takeDue<T extends { timeMs: number }>(items: T[], nowMs: number): T[] {
  let n = 0;
  while (n < items.length && items[n].timeMs <= nowMs) n++;
  return items.splice(0, n);
}
