/**
 * Schema-checked events -> rows for ClickHouse (one JSONEachRow line each), or every problem at once.
 *
 * Pure: the receive time and the message-id generator are passed in. Rules beyond the JSON schema:
 * - the type comes from the endpoint (`/v1/track`), else from `type`, else the simple shape (`event_name`) is a track;
 * - every call but alias needs `userId` or `anonymousId`; track needs `event`; group needs `groupId`; alias needs
 *   `userId` and `previousId` (Segment's rules);
 * - ids may be numbers (many apps use integer user ids) and are stored as strings;
 * - event time is corrected with `sentAt` (event-time.ts); too-far-future events are clamped and flagged;
 * - a value ClickHouse's JSON type would refuse (json-column.ts) is refused here, before the 200, naming its path;
 * - an event larger than 32 KB as sent is refused (Segment's per-event limit; the row it becomes may be a little larger);
 * - a missing `messageId` gets a generated one, so every stored row has an idempotency key.
 * Nothing is stored unless every event is valid, so a client can fix and resend the whole request.
 */
import { Batch } from "./batch";
import { clickhouseTime, correctEventTime, parseIsoTime } from "./event-time";
import { IngestError, type FieldProblem } from "./errors";
import { jsonColumnProblem } from "./json-column";
import { MAX_BATCH_EVENTS, MAX_EVENT_BYTES, type EventType } from "./event-schema";

export const TABLES = ["events", "identifies", "groups", "aliases"] as const;
export type Table = (typeof TABLES)[number];

export const TABLE_OF: Record<EventType, Table> = {
  track: "events", page: "events", screen: "events", identify: "identifies", group: "groups", alias: "aliases",
};

export interface NormalizedRow {
  readonly table: Table;
  /** One JSONEachRow line, without the newline. */
  readonly json: string;
  readonly bytes: number;
  readonly messageId: string;
  /** False when the ingest generated the id (it cannot repeat, so it needs no duplicate check). */
  readonly clientMessageId: boolean;
  readonly userId: string;
  readonly clamped: boolean;
}

export interface NormalizeOptions {
  /** The type the endpoint implies (`/v1/identify`), or undefined for batches. */
  readonly endpointType?: EventType;
  /** True for `/batch` and `/v1/batch`: problems carry the event's index. */
  readonly batch: boolean;
  /** `sentAt` of the batch envelope, used when an event has none. */
  readonly envelopeSentAt?: unknown;
  /** `context` of the batch envelope: Segment merges it into each event's context (the event's keys win). */
  readonly envelopeContext?: unknown;
  readonly receivedAtMs: number;
  readonly newMessageId: () => string;
  /** Most problems listed in one error response. Defaults to 20. */
  readonly maxProblems?: number;
}

export interface NormalizedRequest {
  readonly rows: readonly NormalizedRow[];
  readonly clamped: number;
}

type RawEvent = Readonly<Record<string, unknown>>;

/** Most bytes a batch's envelope `context` may add to its events in all (its size times the event count). */
export const MAX_MERGED_CONTEXT_BYTES = 8 * 1024 * 1024;

export function idValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return "";
}

class Problems {
  readonly list: FieldProblem[] = [];
  /** All problems found, including those past `max` that are not listed. */
  count = 0;
  tooLarge = false;
  constructor(private readonly batch: boolean, private readonly max: number) {}
  add(index: number, field: string, problem: string): void {
    this.count++;
    if (this.list.length < this.max) this.list.push(this.batch ? { index, field, problem } : { field, problem });
  }
}

function timeField(event: RawEvent, field: string, problems: Problems, index: number, value = event[field]): number | undefined {
  if (value === undefined || value === null) return undefined;
  const parsed = parseIsoTime(String(value));
  if (typeof parsed === "string") {
    problems.add(index, field, parsed);
    return undefined;
  }
  return parsed;
}

/**
 * One JSONEachRow line, from its parts already serialized as JSON (`...Json`) and the two formatted times. Shared by
 * this slow path and the fast path (fast-batch.ts), so both write the same columns in the same order.
 * The line is built by concatenation rather than JSON.stringify of a row object: the same bytes (same key order,
 * each part through JSON.stringify), without allocating the row object on the hot path.
 * `idJson` is `group_id` for groups and `previous_id` for aliases; `objectJson` is `properties` for the events table
 * and `traits` for identifies and groups (unused for aliases).
 */
export function rowJson(table: Table, type: EventType, messageIdJson: string, eventNameJson: string, userIdJson: string, anonymousIdJson: string,
  idJson: string, objectJson: string, contextJson: string, eventTime: string, receivedAt: string): string {
  const head = `{"message_id":${messageIdJson}`;
  const tail = `,"context":${contextJson},"event_time":"${eventTime}","received_at":"${receivedAt}"}`;
  if (table === "events") {
    return `${head},"type":"${type}","event_name":${eventNameJson},"user_id":${userIdJson},"anonymous_id":${anonymousIdJson},"properties":${objectJson}${tail}`;
  }
  if (table === "identifies") return `${head},"user_id":${userIdJson},"anonymous_id":${anonymousIdJson},"traits":${objectJson}${tail}`;
  if (table === "groups") return `${head},"user_id":${userIdJson},"anonymous_id":${anonymousIdJson},"group_id":${idJson},"traits":${objectJson}${tail}`;
  return `${head},"user_id":${userIdJson},"previous_id":${idJson}${tail}`;
}

export function normalizeEvents(events: readonly RawEvent[], options: NormalizeOptions): NormalizedRequest {
  const problems = new Problems(options.batch, options.maxProblems ?? 20);
  const receivedAt = clickhouseTime(options.receivedAtMs);
  const limiter = new Batch<NormalizedRow>({ maxItems: MAX_BATCH_EVENTS, maxBytes: Number.MAX_SAFE_INTEGER, maxItemBytes: MAX_EVENT_BYTES });
  let clamped = 0;
  const envelopeContext = options.envelopeContext !== null && typeof options.envelopeContext === "object" ? options.envelopeContext as RawEvent : undefined;
  const envelopeContextBytes = envelopeContext ? Buffer.byteLength(JSON.stringify(envelopeContext)) : 0;
  if (envelopeContext) {
    // Copied into every event, it multiplies: bound what one 500 KB request can become in the spool and in CPU.
    const contextBytes = envelopeContextBytes;
    if (contextBytes * events.length > MAX_MERGED_CONTEXT_BYTES) {
      throw new IngestError("batch_too_large", [{ field: "context", problem: `is ${contextBytes} bytes and is merged into each of the ${events.length} events; at most ${MAX_MERGED_CONTEXT_BYTES} bytes in all: send a smaller batch context or fewer events` }]);
    }
  }

  events.forEach((event, index) => {
    const before = problems.count;
    const type = options.endpointType ?? (event.type as EventType | undefined) ?? (event.event_name !== undefined ? "track" : undefined);
    if (type === undefined) {
      problems.add(index, "type", "is required in a batch: one of track, page, screen, identify, group, alias (or send event_name for a track)");
      return;
    }
    const userId = idValue(event.userId ?? event.user_id);
    const anonymousId = idValue(event.anonymousId ?? event.anonymous_id);
    if (type === "alias") {
      if (!userId) problems.add(index, "userId", "is required for alias (the id the user has now)");
      if (!idValue(event.previousId)) problems.add(index, "previousId", "is required for alias (the id the user had before)");
    } else if (!userId && !anonymousId) {
      problems.add(index, "userId", "userId or anonymousId is required: a non-empty string or number");
    }
    const eventName = type === "track" ? String(event.event ?? event.event_name ?? "") : type === "page" || type === "screen" ? String(event.name ?? "") : "";
    if (type === "track" && !eventName) problems.add(index, "event", "is required for track: the name of the action, such as \"Signed Up\"");
    const groupId = idValue(event.groupId);
    if (type === "group" && !groupId) problems.add(index, "groupId", "is required for group: the account or company id");

    const timestampMs = timeField(event, "timestamp", problems, index) ?? timeField(event, "originalTimestamp", problems, index);
    const sentAtMs = event.sentAt !== undefined
      ? timeField(event, "sentAt", problems, index)
      : timeField(event, "sentAt", problems, index, typeof options.envelopeSentAt === "string" ? options.envelopeSentAt : undefined);
    // The objects as they will be stored, checked for what ClickHouse's JSON type would refuse after we said 200.
    const table = TABLE_OF[type];
    const objectField = table === "events" ? "properties" : "traits";
    let object: unknown;
    if (table === "events") {
      const properties = (event.properties as Record<string, unknown> | undefined) ?? {};
      object = typeof event.category === "string" && type !== "track" ? { ...properties, category: event.category } : properties;
    } else if (table !== "aliases") {
      object = event.traits ?? {};
    }
    const context = envelopeContext ? { ...envelopeContext, ...(event.context as RawEvent | undefined) } : event.context ?? {};
    for (const [field, value] of [[objectField, object], ["context", context]] as const) {
      const found = jsonColumnProblem(value, field);
      if (found) problems.add(index, found.field, found.problem);
    }
    if (problems.count > before) return;

    const time = correctEventTime({ timestampMs, sentAtMs, receivedAtMs: options.receivedAtMs });
    if (time.clamped) clamped++;
    const clientId = (event.messageId ?? event.message_id) as string | undefined;
    const messageId = clientId ?? options.newMessageId();
    const eventTime = clickhouseTime(time.eventTimeMs);
    const objectJson = object === undefined ? "" : JSON.stringify(object);
    const json = rowJson(table, type, JSON.stringify(messageId), JSON.stringify(eventName), JSON.stringify(userId), JSON.stringify(anonymousId),
      table === "aliases" ? JSON.stringify(idValue(event.previousId)) : table === "groups" ? JSON.stringify(groupId) : "", objectJson, JSON.stringify(context), eventTime, receivedAt);
    const bytes = Buffer.byteLength(json);
    // Segment's 32 KB is on the event as sent (analytics-node checks its events against it before batching), not on the
    // row it becomes, which adds the two times and the ids: an event near the limit was refused, and with it the whole
    // batch, which the SDK then drops. A batch's envelope context counts: it becomes part of every event. Measured as
    // sent only when the row is over the limit.
    const limited = bytes <= MAX_EVENT_BYTES ? bytes : Math.min(bytes, Buffer.byteLength(JSON.stringify(event)) + envelopeContextBytes);
    const added = limiter.tryAdd({ table, json, bytes, messageId, clientMessageId: clientId !== undefined, userId: userId || anonymousId, clamped: time.clamped }, limited);
    if (!added.ok) {
      problems.tooLarge = true;
      problems.add(index, "event", `is ${limited} bytes as sent; at most ${MAX_EVENT_BYTES} (32 KB) are allowed per event`);
    }
  });

  if (problems.count > 0) throw new IngestError(problems.tooLarge ? "event_too_large" : "invalid_event", problems.list);
  return { rows: limiter.items, clamped };
}
