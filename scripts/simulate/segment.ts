/**
 * Simulated calls -> the Segment wire format the ingest accepts (`POST /v1/batch`, analytics.js / analytics-node
 * shapes), packed into batches under the ingest's limits.
 *
 * Message ids are derived from the seed and the call itself (a hash, formatted as a UUID), never random: running
 * the same simulation twice sends the same ids, so the ingest's 24-hour idempotency window stores them once, and a
 * batch retried after a timeout cannot double-count.
 */
import { createHash } from "node:crypto";
import type { AppLogLine, SimEvent } from "./model";

/** The ingest's limits (ingest/src/event-schema.ts): 2500 events and 500 KB per batch; we stay well below. */
export const MAX_BATCH_EVENTS = 500;
export const MAX_BATCH_BYTES = 400 * 1024;

export const LIBRARY = { name: "analytics-simulate", version: "1.0.0" } as const;

export type SegmentMessage = Record<string, unknown> & { readonly type: string; readonly messageId: string; readonly timestamp: string };

function uuidFrom(text: string): string {
  const h = createHash("sha256").update(text).digest("hex");
  // A version-4-shaped id (variant bits set), so clients that validate UUIDs accept it.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * The Segment message for one call. `seq` is the call's position in the run: two identical calls in the same
 * millisecond (a double click) stay two events.
 */
export function toSegmentMessage(event: SimEvent, seed: number, seq: number): SegmentMessage {
  const timestamp = new Date(event.timeMs).toISOString();
  const context = { library: LIBRARY };
  const idOf = (body: object) => uuidFrom(`${seed}:${seq}:${JSON.stringify(body)}`);
  switch (event.kind) {
    case "track": {
      const body = { type: "track", event: event.event, ...(event.userId ? { userId: event.userId } : {}), anonymousId: event.anonymousId, properties: event.properties, timestamp };
      return { ...body, context, messageId: idOf(body) };
    }
    case "identify": {
      const body = { type: "identify", userId: event.userId, anonymousId: event.anonymousId, traits: event.traits, timestamp };
      return { ...body, context, messageId: idOf(body) };
    }
    case "group": {
      const body = { type: "group", userId: event.userId, anonymousId: event.anonymousId, groupId: event.groupId, traits: event.traits, timestamp };
      return { ...body, context, messageId: idOf(body) };
    }
    case "alias": {
      const body = { type: "alias", userId: event.userId, previousId: event.previousId, timestamp };
      return { ...body, context, messageId: idOf(body) };
    }
    case "invalid": {
      // The buggy release's call: a track without an event name. The ingest refuses the whole request (400).
      const body = { type: "track", userId: event.userId, anonymousId: event.anonymousId, properties: { release: "v2.14.0" }, timestamp };
      return { ...body, context, messageId: idOf(body) };
    }
  }
}

export interface Batch {
  readonly messages: readonly SegmentMessage[];
  /** Serialized size of the messages (the envelope adds a few dozen bytes). */
  readonly bytes: number;
  /** True for the incident's deliberately broken calls, sent on their own so valid events are not refused with them. */
  readonly invalid: boolean;
}

/**
 * Packs messages into batches of at most `maxEvents` events and `maxBytes` bytes, in order. Broken calls go in
 * batches of their own: the ingest refuses a whole request when one event is invalid.
 */
export class BatchPacker {
  private messages: SegmentMessage[] = [];
  private bytes = 0;
  private readonly ready: Batch[] = [];

  constructor(private readonly maxEvents = MAX_BATCH_EVENTS, private readonly maxBytes = MAX_BATCH_BYTES) {}

  add(message: SegmentMessage, invalid = false): void {
    const size = Buffer.byteLength(JSON.stringify(message)) + 1;
    if (invalid) {
      this.ready.push({ messages: [message], bytes: size, invalid: true });
      return;
    }
    if (this.messages.length >= this.maxEvents || (this.messages.length > 0 && this.bytes + size > this.maxBytes)) this.flush();
    this.messages.push(message);
    this.bytes += size;
  }

  /** Closes the batch being filled (call at the end, or to send what is there now). */
  flush(): void {
    if (this.messages.length === 0) return;
    this.ready.push({ messages: this.messages, bytes: this.bytes, invalid: false });
    this.messages = [];
    this.bytes = 0;
  }

  /** Batches closed so far, removed from the packer. */
  take(): Batch[] {
    return this.ready.splice(0);
  }
}

/** The request body for a batch. `sentAt` lets the ingest correct for this machine's clock skew. */
export function batchBody(batch: Batch, sentAtMs: number): string {
  return JSON.stringify({ batch: batch.messages, sentAt: new Date(sentAtMs).toISOString() });
}

/**
 * One stdout line of the simulated app: JSON with `time` (ISO-8601, which the log shipper turns into the entry's
 * timestamp, so backfilled lines land at the incident's time), `level`, `msg`, and correlation fields
 * (`user_id`, `request_id` become Loki structured metadata).
 */
export function appLogLine(line: AppLogLine): string {
  return JSON.stringify({ time: new Date(line.timeMs).toISOString(), level: line.level, service: "app", msg: line.msg, ...line.fields });
}
