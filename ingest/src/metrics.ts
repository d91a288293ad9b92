/**
 * Prometheus metrics of the ingest service (served at GET /metrics). One registry per process so tests can build
 * several apps without "metric already registered" errors.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface IngestMetrics {
  readonly registry: Registry;
  /** Events in requests that passed authentication (accepted, duplicate or rejected). */
  readonly received: Counter<"endpoint">;
  /** Events durably spooled, by destination table. */
  readonly accepted: Counter<"table">;
  /** Events (or requests, when nothing could be parsed) refused, by error code. */
  readonly rejected: Counter<"reason">;
  /** Events acknowledged without storing because their messageId was already accepted. */
  readonly duplicates: Counter;
  /** Events whose corrected time was over a day in the future and was clamped to the receive time. */
  readonly clamped: Counter;
  readonly spoolBytes: Gauge;
  readonly spoolRows: Gauge;
  readonly oldestUnshippedAgeSeconds: Gauge;
  readonly flushDuration: Histogram<"table">;
  readonly shippedRows: Counter<"table">;
  readonly clickhouseErrors: Counter<"decision">;
  readonly deadLetters: Counter<"table">;
  readonly tornTails: Counter;
  readonly dedupWindowSeconds: Gauge;
}

export function createMetrics(): IngestMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "ingest_process_" });
  const registers = [registry];
  return {
    registry,
    received: new Counter({ name: "ingest_events_received_total", help: "Events received in authenticated requests.", labelNames: ["endpoint"], registers }),
    accepted: new Counter({ name: "ingest_events_accepted_total", help: "Events written to the durable spool.", labelNames: ["table"], registers }),
    rejected: new Counter({ name: "ingest_events_rejected_total", help: "Events or requests rejected, by reason.", labelNames: ["reason"], registers }),
    duplicates: new Counter({ name: "ingest_events_duplicate_total", help: "Events acknowledged without storing: messageId seen within the idempotency window.", registers }),
    clamped: new Counter({ name: "ingest_events_clamped_total", help: "Events more than a day in the future, clamped to the receive time.", registers }),
    spoolBytes: new Gauge({ name: "ingest_spool_bytes", help: "Bytes in the spool (not yet in ClickHouse).", registers }),
    spoolRows: new Gauge({ name: "ingest_spool_events", help: "Events in the spool (not yet in ClickHouse).", registers }),
    oldestUnshippedAgeSeconds: new Gauge({ name: "ingest_spool_oldest_event_age_seconds", help: "Age of the oldest event not yet in ClickHouse; 0 when the spool is empty.", registers }),
    flushDuration: new Histogram({ name: "ingest_flush_duration_seconds", help: "Time to insert one batch into ClickHouse, retries included.", labelNames: ["table"], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers }),
    shippedRows: new Counter({ name: "ingest_events_shipped_total", help: "Events acknowledged by ClickHouse.", labelNames: ["table"], registers }),
    clickhouseErrors: new Counter({ name: "ingest_clickhouse_errors_total", help: "Failed ClickHouse inserts, by decision (retry or drop).", labelNames: ["decision"], registers }),
    deadLetters: new Counter({ name: "ingest_dead_letters_total", help: "Rows ClickHouse rejected for good, moved to the dead-letter table or file.", labelNames: ["table"], registers }),
    tornTails: new Counter({ name: "ingest_spool_torn_tails_total", help: "Torn (never acknowledged) spool tails dropped at startup.", registers }),
    dedupWindowSeconds: new Gauge({ name: "ingest_dedup_window_seconds", help: "How far back messageId deduplication currently reaches (24 h unless the id budget forced it shorter).", registers }),
  };
}
