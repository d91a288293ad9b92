/**
 * The HTTP app: `buildApp(deps)` wires routes, parsing, validation, auth, idempotency and the spool together and
 * does no IO of its own (server.ts listens; tests call `app.inject()`).
 *
 * Request path of an event: auth (Basic user or body `writeKey`, constant-time compare) -> body parsed from
 * bytes (json-body.ts) -> JSON schema (event-schema.ts, Ajv without coercion) -> rules and rows
 * (normalize-events.ts) -> messageIds seen in the last 24 h are acknowledged but not stored again -> one spool
 * record per request -> 200 once it is fsync'd. Any refusal is an IngestError with a JSON body naming the field.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { describeProblem, IngestError, type ErrorCode, type FieldProblem } from "./errors";
import { AJV_OPTIONS, batchSchema, eventSchema, MAX_BATCH_BYTES, MAX_EVENT_BYTES, MAX_JSON_DEPTH, type EventType } from "./event-schema";
import { parseBatchFast, type FastBatch } from "./fast-batch";
import { bodyEncoding, gunzipBody } from "./gzip-body";
import { parseJsonBody } from "./json-body";
import { fingerprint, type MessageIdIndex } from "./message-id-index";
import type { IngestMetrics } from "./metrics";
import { normalizeEvents, type NormalizedRow, type Table } from "./normalize-events";
import type { RefusalCode } from "./spool";
import { encodeRecord, type LineSection } from "./spool-record";

/** What the app needs from the spool (spool.ts implements it). */
export interface SpoolPort {
  refusal(bytes: number): RefusalCode | undefined;
  append(record: Buffer, rows: number, receivedAtMs: number): Promise<void>;
  barrier(): Promise<void>;
  readonly bytes: number;
  readonly rows: number;
  readonly oldestReceivedAtMs: number | undefined;
  readonly writable: boolean;
}

export interface AppDeps {
  readonly writeKeys: readonly string[];
  readonly retryAfterSeconds: number;
  readonly spool: SpoolPort;
  readonly messageIds: MessageIdIndex;
  readonly metrics: IngestMetrics;
  readonly logger: Logger;
  /** Whether ClickHouse answers (readiness). */
  readonly clickhouseReachable: () => Promise<boolean>;
  readonly now?: () => number;
  readonly newMessageId?: () => string;
  /** Whether batch bodies try the fast path (fast-batch.ts) before the slow one. Defaults to true; tests compare both. */
  readonly batchFastPath?: boolean;
}

interface RequestOutcome {
  events?: number;
  accepted?: number;
  duplicates?: number;
  reason?: string;
  problems?: string[];
  user_ids?: string[];
}

declare module "fastify" {
  interface FastifyRequest {
    outcome: RequestOutcome | null;
    /** Message ids the batch fast path drew before it declined; the slow path uses them first (see the parser). */
    drawnMessageIds: string[] | null;
  }
}

const SINGLE_ROUTES: readonly [string, EventType][] = [
  ["/track", "track"], ["/v1/track", "track"], ["/v1/page", "page"], ["/v1/screen", "screen"],
  ["/v1/identify", "identify"], ["/v1/group", "group"], ["/v1/alias", "alias"],
];
const BATCH_ROUTES = ["/batch", "/v1/batch", "/v1/import"];
const BATCH_ROUTE_SET = new Set(BATCH_ROUTES);
/** Request ids a client may choose (echoed in logs and the X-Request-Id header). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
/** Longest a readiness probe waits for ClickHouse's ping (probes time out after a few seconds). */
const READY_PING_WAIT_MS = 2000;
/** Distinct user ids written into one request log line, so Loki can find a user's requests. */
const LOGGED_USER_IDS = 20;

/**
 * A batch body the fast path (fast-batch.ts) has already checked and turned into rows. Fastify's schema check sees
 * an empty batch (plus the envelope's writeKey, for authentication) and passes it in constant time; the handler
 * takes the rows from `fast`, and the receive time the rows were built with.
 */
class PrevalidatedBatch {
  readonly batch: readonly never[] = [];
  readonly writeKey: string | undefined;
  constructor(readonly fast: FastBatch, readonly receivedAtMs: number) {
    this.writeKey = fast.writeKey;
  }
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** Constant-time check against every key (digests make lengths equal, so timingSafeEqual applies). */
export function writeKeyMatcher(keys: readonly string[]): (candidate: string | undefined) => boolean {
  const digests = keys.map(digest);
  return (candidate) => {
    if (candidate === undefined || candidate.length === 0) return false;
    const d = digest(candidate);
    let match = false;
    for (const k of digests) match = timingSafeEqual(d, k) || match;
    return match;
  };
}

/** The write key from `Authorization: Basic base64(key:)`, or undefined when there is no Basic header. */
export function basicAuthUser(header: string | undefined): string | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon >= 0 ? decoded.slice(0, colon) : decoded;
}

/** Ajv's error -> the field (with the batch index) and what is allowed there. */
function schemaProblem(error: { instancePath: string; message?: string; keyword: string; params: Record<string, unknown> }): FieldProblem {
  const parts = error.instancePath.split("/").filter(Boolean);
  let index: number | undefined;
  if (parts[0] === "batch" && parts.length > 1 && /^\d+$/.test(parts[1])) {
    index = Number(parts[1]);
    parts.splice(0, 2);
  }
  if (error.keyword === "required") parts.push(String(error.params.missingProperty));
  const field = parts.join(".") || "body";
  let problem = error.message ?? "is invalid";
  if (error.keyword === "enum") problem = `must be one of ${(error.params.allowedValues as unknown[]).join(", ")}`;
  if (error.keyword === "type") problem = `must be ${String(error.params.type).replace(",", " or ")}`;
  if (error.keyword === "required") problem = "is required";
  if (error.keyword === "maximum" || error.keyword === "minimum") {
    problem = `must be a whole number from -${Number.MAX_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER} (larger ids lose digits as JSON numbers: send them as strings)`;
  }
  return index === undefined ? { field, problem } : { index, field, problem };
}

function toIngestError(error: FastifyError & { validation?: unknown[] }): IngestError | undefined {
  if (error instanceof IngestError) return error;
  if (Array.isArray(error.validation)) {
    const problems = (error.validation as Parameters<typeof schemaProblem>[0][]).map(schemaProblem);
    const tooMany = (error.validation as { keyword: string; instancePath: string }[]).some((v) => v.keyword === "maxItems" && v.instancePath === "/batch");
    const inEvent = problems.some((p) => p.index !== undefined) || (error.validationContext === "body" && !problems.some((p) => p.field === "batch" || p.field === "body"));
    return new IngestError(tooMany ? "too_many_events" : inEvent ? "invalid_event" : "invalid_body", problems);
  }
  const byFastifyCode: Record<string, ErrorCode> = {
    FST_ERR_CTP_BODY_TOO_LARGE: "batch_too_large",
    FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
    FST_ERR_CTP_EMPTY_JSON_BODY: "invalid_body",
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: "bad_request",
    FST_ERR_CTP_EMPTY_TYPE: "unsupported_media_type",
    FST_ERR_CTP_INVALID_TYPE: "unsupported_media_type",
  };
  const code = byFastifyCode[error.code];
  if (code) return new IngestError(code);
  if (error.statusCode === 408) return new IngestError("request_timeout");
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return new IngestError("bad_request");
  return undefined;
}

/** How long a request may take to arrive in full (headers and body). */
export const REQUEST_TIMEOUT_MS = 30_000;

export function buildApp(deps: AppDeps): FastifyInstance {
  const now = deps.now ?? Date.now;
  const newMessageId = deps.newMessageId ?? randomUUID;
  const isWriteKey = writeKeyMatcher(deps.writeKeys);
  const { metrics, spool, messageIds } = deps;

  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // Our onResponse hook writes the one line per request; Fastify's own two lines are off.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "request_id" }),
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: MAX_BATCH_BYTES,
    // A request whose body stops arriving gets 408 after this long instead of holding its connection (and a shutdown)
    // open for ever: Fastify's default is no limit. 500 KB, the largest batch, in 30 s is 17 KB/s.
    requestTimeout: REQUEST_TIMEOUT_MS,
    // While closing, a request on an open connection still reaches our handler, which answers shutting_down: 503 with
    // Retry-After and our error body (Fastify's own closing 503 had neither). The spool stops accepting first.
    return503OnClosing: false,
    ajv: { customOptions: { ...AJV_OPTIONS } },
  });
  app.decorateRequest("outcome", null);
  app.decorateRequest("drawnMessageIds", null);

  app.removeContentTypeParser(["application/json", "text/plain"]);
  // Browsers' analytics.js sends JSON as text/plain to avoid CORS preflights; both are parsed as JSON.
  const batchFastPath = deps.batchFastPath ?? true;
  app.addContentTypeParser(["application/json", "text/plain"], { parseAs: "buffer" }, (request, body, done) => {
    try {
      if (batchFastPath && BATCH_ROUTE_SET.has(request.routeOptions.url ?? "")) {
        const receivedAtMs = now();
        const drawn: string[] = [];
        const fast = parseBatchFast(body as Buffer, { receivedAtMs, newMessageId: () => { const id = newMessageId(); drawn.push(id); return id; } });
        if (fast) {
          done(null, new PrevalidatedBatch(fast, receivedAtMs));
          return;
        }
        // Ids drawn before the fast path declined go to the slow path first, so the ids a request gets do not
        // depend on whether the fast path looked at it.
        if (drawn.length > 0) request.drawnMessageIds = drawn;
      }
      done(null, parseJsonBody(body as Buffer, MAX_JSON_DEPTH));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.addHook("onRequest", async (request, reply) => {
    void reply.header("x-request-id", request.id);
  });

  // Compressed bodies are decompressed before parsing, so the body limits apply to what they decompress to.
  // A callback hook, not async: the common uncompressed request passes without a promise.
  app.addHook("preParsing", (request, _reply, payload, done) => {
    const encoding = bodyEncoding(request.headers["content-encoding"]);
    if (encoding === undefined) done(null, payload);
    else if (encoding === "unsupported") done(new IngestError("unsupported_encoding"));
    else done(null, gunzipBody(payload));
  });

  app.addHook("onResponse", async (request, reply) => {
    const outcome = request.outcome;
    const line = {
      method: request.method, url: request.url, status: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 100) / 100, ...outcome,
    };
    // Probes and scrapes (no outcome) are routine, whatever their status: debug. Event requests: info, warn on 4xx.
    if (!outcome) request.log.debug(line, "request");
    else if (reply.statusCode >= 500) request.log.error(line, "request");
    else if (reply.statusCode >= 400) request.log.warn(line, "request");
    else request.log.info(line, "request");
  });

  app.setErrorHandler(async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const ingestError = toIngestError(error);
    if (!ingestError) {
      request.log.error({ err: error }, "unexpected error");
      request.outcome = { ...request.outcome, reason: "internal" };
      metrics.rejected.inc({ reason: "internal" });
      return reply.code(500).send({ success: false, code: "internal", message: "Unexpected error; it was logged with this request's id.", request_id: request.id });
    }
    const events = request.outcome?.events ?? 1;
    metrics.rejected.inc({ reason: ingestError.code }, events);
    request.outcome = { ...request.outcome, reason: ingestError.code, ...(ingestError.problems.length > 0 ? { problems: ingestError.problems.slice(0, 5).map(describeProblem) } : {}) };
    if (ingestError.status === 503) void reply.header("retry-after", String(ingestError.retryAfterSeconds ?? deps.retryAfterSeconds));
    return reply.code(ingestError.status).send(ingestError.body());
  });

  app.setNotFoundHandler(async (request, reply) => {
    const error = new IngestError("not_found");
    return reply.code(404).send(error.body());
  });

  /** Auth before validation, so a request without a valid key gets 401 whatever its body. */
  async function authenticate(request: FastifyRequest): Promise<void> {
    // An empty Basic user (a client that always sends the header) leaves the key to the body.
    const basic = basicAuthUser(request.headers.authorization) || undefined;
    const body = request.body as { writeKey?: unknown } | undefined;
    const key = basic ?? (body !== null && typeof body === "object" && typeof body.writeKey === "string" ? body.writeKey : undefined);
    if (!isWriteKey(key)) throw new IngestError("unauthorized");
  }

  async function ingest(request: FastifyRequest, endpointType: EventType | undefined): Promise<{ success: true; accepted: number; duplicates: number }> {
    const prevalidated = request.body instanceof PrevalidatedBatch ? request.body : undefined;
    const receivedAtMs = prevalidated?.receivedAtMs ?? now();
    const body = request.body as Record<string, unknown>;
    const events = prevalidated ? undefined : endpointType ? [body] : (body.batch as Record<string, unknown>[]);
    const eventCount = prevalidated?.fast.events ?? (events as unknown[]).length;
    const outcome: RequestOutcome = { events: eventCount };
    request.outcome = outcome;
    metrics.received.inc({ endpoint: request.routeOptions.url ?? "unknown" }, eventCount);

    const { rows, clamped } = prevalidated?.fast ?? normalizeEvents(events as Record<string, unknown>[], {
      endpointType, batch: endpointType === undefined, envelopeSentAt: body.sentAt, envelopeContext: endpointType === undefined ? body.context : undefined, receivedAtMs,
      newMessageId: request.drawnMessageIds ? () => request.drawnMessageIds?.shift() ?? newMessageId() : newMessageId,
    });
    let bytes = 0;
    for (const row of rows) bytes += row.bytes + 1;
    const refusal = spool.refusal(bytes + 64 + rows.length * 8);
    if (refusal) throw new IngestError(refusal);

    // Idempotency: a messageId accepted within the window (or earlier in this batch) is acknowledged, not stored.
    const fingerprints = new Uint32Array(rows.length * 2);
    let fp = 0;
    const kept: NormalizedRow[] = [];
    for (const row of rows) {
      if (row.clientMessageId) {
        fingerprint(row.messageId, fingerprints, fp);
        if (messageIds.hasFingerprint(fingerprints[fp], fingerprints[fp + 1], receivedAtMs)) continue;
        messageIds.addFingerprint(fingerprints[fp], fingerprints[fp + 1], receivedAtMs);
        fp += 2;
      }
      kept.push(row);
    }
    const duplicates = rows.length - kept.length;

    if (kept.length === 0) {
      // Every event is a repeat: answer once the original is durable (it may still be in this group commit).
      try {
        await spool.barrier();
      } catch (error) {
        // The original's write failed with it: not durable, so the client must retry (503), as the original's sender.
        request.log.error({ err: error }, "spool write failed");
        throw new IngestError("spool_unavailable");
      }
    } else {
      const byTable = new Map<Table, { lines: string[]; byteLength: number }>();
      for (const row of kept) {
        const section = byTable.get(row.table);
        if (section) {
          section.lines.push(row.json);
          section.byteLength += row.bytes + 1;
        } else {
          byTable.set(row.table, { lines: [row.json], byteLength: row.bytes + 1 });
        }
      }
      const sections: LineSection[] = [];
      for (const [table, { lines, byteLength }] of byTable) sections.push({ table, rows: lines.length, lines, byteLength });
      const record = encodeRecord({ receivedAtMs, fingerprints: fingerprints.subarray(0, fp), sections });
      try {
        await spool.append(record, kept.length, receivedAtMs);
      } catch (error) {
        request.log.error({ err: error }, "spool append failed");
        throw new IngestError("spool_unavailable");
      }
      for (const [table, { lines }] of byTable) metrics.accepted.inc({ table }, lines.length);
    }
    if (duplicates > 0) metrics.duplicates.inc(duplicates);
    if (clamped > 0) metrics.clamped.inc(clamped);
    const userIds = new Set<string>();
    for (const row of rows) {
      if (userIds.size >= LOGGED_USER_IDS) break;
      userIds.add(row.userId);
    }
    Object.assign(outcome, { accepted: kept.length, duplicates, user_ids: [...userIds] });
    return { success: true, accepted: kept.length, duplicates };
  }

  for (const [url, type] of SINGLE_ROUTES) {
    app.post(url, { schema: { body: eventSchema }, bodyLimit: MAX_EVENT_BYTES, preValidation: authenticate }, (request) => ingest(request, type));
  }
  for (const url of BATCH_ROUTES) {
    app.post(url, { schema: { body: batchSchema }, bodyLimit: MAX_BATCH_BYTES, preValidation: authenticate }, (request) => ingest(request, undefined));
  }

  app.get("/healthz", async () => ({ status: "ok" }));

  let readyCache: { atMs: number; clickhouse: boolean } | undefined;
  /**
   * The ping in flight, shared by every probe until it settles: a ClickHouse that hangs would otherwise get one more
   * ping per probe, each holding one of the client's few sockets (shared with the shipper's inserts) until its timeout.
   */
  let pinging: Promise<boolean> | undefined;
  const ping = (): Promise<boolean> => {
    pinging ??= deps.clickhouseReachable().catch((error: unknown) => {
      deps.logger.warn({ err_message: (error as Error).message }, "ClickHouse ping failed");
      return false;
    }).finally(() => { pinging = undefined; });
    return pinging;
  };
  app.get("/readyz", async (_request, reply) => {
    if (!readyCache || now() - readyCache.atMs > 1000) {
      // A probe is answered within READY_PING_WAIT_MS: a ping still pending by then means not reachable.
      let timer: NodeJS.Timeout | undefined;
      const clickhouse = await Promise.race([ping(), new Promise<boolean>((resolve) => { timer = setTimeout(resolve, READY_PING_WAIT_MS, false); })]);
      clearTimeout(timer);
      readyCache = { atMs: now(), clickhouse };
    }
    const checks = { spool: spool.writable, clickhouse: readyCache.clickhouse };
    const ready = checks.spool && checks.clickhouse;
    return reply.code(ready ? 200 : 503).send({ ready, checks });
  });

  app.get("/metrics", async (_request, reply) => {
    const oldest = spool.oldestReceivedAtMs;
    metrics.spoolBytes.set(spool.bytes);
    metrics.spoolRows.set(spool.rows);
    metrics.oldestUnshippedAgeSeconds.set(oldest === undefined ? 0 : Math.max(0, (now() - oldest) / 1000));
    metrics.dedupWindowSeconds.set(messageIds.windowMs(now()) / 1000);
    return reply.header("content-type", metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  return app;
}
