/**
 * Every error the ingest service answers with, in one registry: the HTTP status, and a message that tells the
 * client what was wrong and what to do. Responses are JSON:
 *
 *   { "success": false, "code": "invalid_event", "message": "...", "errors": [{ "index": 3, "field": "userId", "problem": "..." }] }
 *
 * The code is also the `reason` label of the `ingest_events_rejected_total` metric and the `reason` field of
 * the request log line, so a dashboard and a client see the same words.
 */

export const ERRORS = {
  unauthorized: { status: 401, message: "Missing or unknown write key. Send it as the HTTP Basic user (password empty) or as \"writeKey\" in the body." },
  malformed_json: { status: 400, message: "The body is not valid JSON." },
  invalid_utf8: { status: 400, message: "The body is not valid UTF-8." },
  too_deep: { status: 400, message: "The body nests objects or arrays too deeply." },
  forbidden_key: { status: 400, message: "The body uses a key that could alter object prototypes (__proto__ or constructor.prototype)." },
  invalid_body: { status: 400, message: "The body does not have the expected shape." },
  invalid_event: { status: 400, message: "One or more events are invalid; nothing in this request was stored." },
  event_too_large: { status: 413, message: "An event is larger than 32 KB (32768 bytes) as sent; nothing in this request was stored." },
  batch_too_large: { status: 413, message: "The request body is larger than allowed (32 KB for one event, 500 KB for a batch)." },
  too_many_events: { status: 400, message: "A batch holds at most 2500 events; split it into several requests." },
  unsupported_media_type: { status: 415, message: "Send the body as application/json." },
  unsupported_encoding: { status: 415, message: "Send the body uncompressed or with Content-Encoding: gzip." },
  invalid_gzip: { status: 400, message: "The body is not valid gzip." },
  not_found: { status: 404, message: "No such endpoint. Use POST /track, /batch or the Segment-compatible /v1/* endpoints." },
  method_not_allowed: { status: 405, message: "Use POST for event endpoints and GET for /healthz, /readyz and /metrics." },
  spool_full: { status: 503, message: "The ingest spool is full because ClickHouse is not keeping up; retry after the Retry-After delay." },
  shutting_down: { status: 503, message: "The ingest service is shutting down; retry after the Retry-After delay." },
  spool_unavailable: { status: 503, message: "The ingest spool cannot be written; retry after the Retry-After delay." },
  request_timeout: { status: 408, message: "The request body did not arrive in time." },
  bad_request: { status: 400, message: "The request could not be read." },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** One problem with one field of one event. `index` is the event's position in a batch. */
export interface FieldProblem {
  readonly index?: number;
  readonly field: string;
  readonly problem: string;
}

export class IngestError extends Error {
  readonly status: number;
  constructor(readonly code: ErrorCode, readonly problems: readonly FieldProblem[] = [], readonly retryAfterSeconds?: number) {
    super(ERRORS[code].message);
    this.name = "IngestError";
    this.status = ERRORS[code].status;
  }

  body(): { success: false; code: ErrorCode; message: string; errors?: readonly FieldProblem[] } {
    return { success: false, code: this.code, message: this.message, ...(this.problems.length > 0 ? { errors: this.problems } : {}) };
  }
}

/** Human-readable path of a problem for logs: `batch[3].userId`. */
export function describeProblem(p: FieldProblem): string {
  return `${p.index !== undefined ? `batch[${p.index}].` : ""}${p.field}: ${p.problem}`;
}
