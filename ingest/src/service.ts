/**
 * Wires the parts into a running service: spool (recovered), idempotency index, ClickHouse sink, shipper, HTTP
 * app. `shutdown()` is the SIGTERM path: stop accepting, let in-flight requests finish (their records are
 * fsync'd), seal the spool, ship what ClickHouse will take before the deadline, keep the rest spooled.
 */
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { buildApp } from "./app";
import { createClickHouseSink, type ClickHouseSink } from "./clickhouse-sink";
import type { IngestConfig } from "./config";
import { MessageIdIndex } from "./message-id-index";
import { createMetrics, type IngestMetrics } from "./metrics";
import { deadLetterFilePath, Shipper } from "./shipper";
import { Spool } from "./spool";

export interface IngestService {
  readonly app: FastifyInstance;
  readonly spool: Spool;
  readonly shipper: Shipper;
  readonly metrics: IngestMetrics;
  /** Resolves true when everything reached ClickHouse, false when some events stay spooled for the next start. */
  shutdown(): Promise<boolean>;
}

export async function createService(config: IngestConfig, logger: Logger, sink?: ClickHouseSink): Promise<IngestService> {
  const metrics = createMetrics();
  const messageIds = new MessageIdIndex({ maxIds: config.dedupMaxIds });
  const { spool, recovery } = await Spool.open({
    dir: config.spool.dir,
    maxBytes: config.spool.maxBytes,
    segmentMaxRows: config.spool.batchMaxEvents,
    sealAfterMs: config.spool.flushIntervalMs,
    groupCommitIntervalMs: config.spool.groupCommitIntervalMs,
    messageIds,
  });
  metrics.tornTails.inc(recovery.tornTails);
  logger[recovery.tornTails > 0 ? "warn" : "info"]({ ...recovery, spool_dir: config.spool.dir, msg: "spool recovered" });
  const clickhouse = sink ?? createClickHouseSink(config.clickhouse);
  const shipper = new Shipper({ spool, sink: clickhouse, logger, metrics, deadLetterFile: deadLetterFilePath(config.spool.dir) });
  shipper.start();
  const app = buildApp({
    writeKeys: config.writeKeys,
    retryAfterSeconds: config.retryAfterSeconds,
    spool,
    messageIds,
    metrics,
    logger,
    clickhouseReachable: () => clickhouse.ping(),
  });

  let shuttingDown: Promise<boolean> | undefined;
  return {
    app, spool, shipper, metrics,
    shutdown() {
      shuttingDown ??= (async () => {
        const deadlineMs = Date.now() + config.shutdownTimeoutMs;
        spool.stopAccepting();
        // close() waits for every open connection, and a client that stalls mid-body (or connected and never sent a
        // request) would hold it until the container is killed, the spool not drained. So it gets a share of the
        // timeout; then the remaining connections are cut (their requests were never acknowledged).
        const closed = app.close();
        const graceMs = Math.min(5_000, config.shutdownTimeoutMs / 4);
        if (!(await settlesBy(closed, Date.now() + graceMs))) {
          logger.warn({ msg: "closing connections that did not finish in time", waited_ms: graceMs });
          app.server.closeAllConnections();
          await closed;
        }
        const empty = await shipper.drain(deadlineMs);
        await shipper.stop();
        await spool.close();
        await clickhouse.close();
        logger.info({ msg: "shutdown complete", spool_empty: empty, spool_events: spool.rows, spool_bytes: spool.bytes });
        return empty;
      })();
      return shuttingDown;
    },
  };
}

/** Whether `promise` settles before `deadlineMs` (it keeps running either way). */
async function settlesBy(promise: Promise<unknown>, deadlineMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), Math.max(0, deadlineMs - Date.now())); });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
