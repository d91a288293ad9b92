/**
 * The fast path for batch bodies (`/batch`, `/v1/batch`, `/v1/import`): one pass over the bytes that checks the
 * common case (our fields, their types and limits, the event rules) and builds the rows directly, copying
 * `properties`, `context` and `traits` as slices of the body when those bytes are already exactly what
 * JSON.stringify would write. No object tree, no Ajv run, no re-serialization of the property bags.
 *
 * It never refuses anything. On anything it does not handle it declines (returns undefined) and the request takes
 * the slow path (json-body.ts, the JSON schema, normalize-events.ts), which decides and words every error. The
 * guarantee is equivalence: for any body, `parseBatchFast` either declines or returns the rows (bytes, ids,
 * tables, clamping) the slow path returns for it (tests/ingest/fast-batch.test.ts checks it on generated bodies).
 *
 * It declines a body that:
 * - is not UTF-8, has a `\u` escape in any string, or a key `__proto__` or `constructor` (prototype keys and lone
 *   surrogates stay with secure-json-parse and json-body.ts; without `\u`, a key can only spell them literally);
 * - is not valid JSON, nests deeper than MAX_JSON_DEPTH, or is not `{"batch": [objects...], ...}`;
 * - has a known field twice in one object (JSON.parse would keep the last), a known field of the wrong type or
 *   longer than the schema allows (lengths are checked on the raw bytes, which are never fewer than the
 *   characters Ajv counts), more than MAX_BATCH_EVENTS events;
 * - has a key with a dot or a possibly out-of-range integer in a kept object (json-column.ts decides, on the slow path);
 * - has a batch-level `context` (merged into each event's context by the slow path);
 * - has an event the rules would refuse (missing ids, bad time, ...), a row over MAX_EVENT_BYTES, or a page or
 *   screen with `category` (merged into properties by the slow path).
 *
 * A kept object is copied raw only when canonical: no whitespace between tokens, numbers written as JavaScript
 * prints them, no escape but \" \\ \b \f \n \r \t, no key twice, no key starting with a digit (V8 puts integer
 * keys first). Any other kept object is written as JSON.stringify(JSON.parse(slice)), the same value the slow path
 * serializes, because JSON.parse of a sub-slice builds the same value as the sub-tree of the whole body.
 */
import { isAscii, isUtf8 } from "node:buffer";
import { clickhouseTime, correctEventTime, parseIsoTime } from "./event-time";
import { EVENT_TYPES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES, MAX_JSON_DEPTH, type EventType } from "./event-schema";
import { integerOutOfRange } from "./json-column";
import { idValue, rowJson, TABLE_OF, type NormalizedRequest, type NormalizedRow } from "./normalize-events";

export interface FastBatchOptions {
  readonly receivedAtMs: number;
  readonly newMessageId: () => string;
}

export interface FastBatch extends NormalizedRequest {
  /** Events in the batch (all valid: the fast path never returns a partial result). */
  readonly events: number;
  /** The envelope's `writeKey`, when it is a string. */
  readonly writeKey: string | undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_1 = 0x31;
const DIGIT_9 = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;

/** Escapes JSON.stringify writes in this same short form (it writes `/` unescaped, so `\/` is not canonical). */
const SHORT_ESCAPE = new Uint8Array(256);
for (const c of '"\\bfnrt') SHORT_ESCAPE[c.charCodeAt(0)] = 1;
const IS_WHITESPACE = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) IS_WHITESPACE[c] = 1;

/** Keys secure-json-parse guards (prototype poisoning): left to the slow path, which refuses or allows them. */
const GUARDED_KEYS = ["__proto__", "constructor"].map((w) => Buffer.from(w));
const LITERALS = ["true", "false", "null"].map((w) => Buffer.from(w));

/** Event fields the schema knows (event-schema.ts). */
const FIELDS = [
  "type", "event", "event_name", "name", "category", "userId", "user_id", "anonymousId", "anonymous_id", "groupId", "previousId",
  "messageId", "message_id", "timestamp", "originalTimestamp", "sentAt", "properties", "traits", "context", "integrations", "writeKey",
] as const;
const F = Object.fromEntries(FIELDS.map((f, i) => [f, i])) as Record<(typeof FIELDS)[number], number>;
const FIELD_BYTES = FIELDS.map((f) => Buffer.from(f));
const ENVELOPE_FIELDS = ["batch", "writeKey", "sentAt", "context"].map((f) => Buffer.from(f));
const TYPE_BYTES = EVENT_TYPES.map((t) => Buffer.from(t));

/** What each field's value must be (the schema's type and maxLength, or -1 for no length limit). */
const enum Rule { Name, Id, MessageId, Time, Object, Text }
const RULE: Rule[] = FIELDS.map((f) => {
  if (["event", "event_name", "name", "category", "type"].includes(f)) return Rule.Name;
  if (["userId", "user_id", "anonymousId", "anonymous_id", "groupId", "previousId"].includes(f)) return Rule.Id;
  if (f === "messageId" || f === "message_id") return Rule.MessageId;
  if (["timestamp", "originalTimestamp", "sentAt"].includes(f)) return Rule.Time;
  if (["properties", "traits", "context", "integrations"].includes(f)) return Rule.Object;
  return Rule.Text;
});
/** Objects that may be written into a row, so their canonical form is tracked while scanning. */
const KEPT = new Set([F.properties, F.traits, F.context]);

const enum Kind { String = 1, Number = 2, Object = 3, Other = 4 }
/** Flags stored with a value: the string has a backslash escape; the value's bytes are not canonical. */
const ESCAPED = 8;
const NOT_CANONICAL = 16;
const SLOTS = FIELDS.length * 3;

/** Keys compared for duplicates per object; an object with more keys is simply not copied raw. */
const MAX_TRACKED_KEYS = 64;

/**
 * Per-event field positions: for field f of event e, [start, end, kind | flags] at (e * FIELDS + f) * 3.
 * One module-level table, reused: the scan is synchronous, so no two calls overlap.
 */
let fieldTable = new Int32Array(64 * SLOTS);
/** Key positions (start, end) of the object being read at each depth, and how many: for the duplicate-key check. */
const keyPositions = Array.from({ length: MAX_JSON_DEPTH + 2 }, () => new Int32Array(MAX_TRACKED_KEYS * 2));
const keyCounts = new Int32Array(MAX_JSON_DEPTH + 2);

class Scanner {
  /** Set by scanString: the last string held a backslash escape. */
  escaped = false;
  /** Cleared when a scanned value's bytes differ from what JSON.stringify would write (only while `tracking`). */
  canonical = true;
  tracking = false;
  /** Set while `tracking` on a key with a dot or an integer out of ClickHouse's range (json-column.ts): declined. */
  refusable = false;
  depth = 0;
  private readonly keyPositions = keyPositions;
  private readonly keyCounts = keyCounts;

  constructor(readonly b: Buffer, readonly n: number) {}

  skipWhitespace(i: number): number {
    const b = this.b;
    while (i < this.n && IS_WHITESPACE[b[i]] === 1) i++;
    return i;
  }

  /** Whitespace inside a value: allowed, but not canonical. */
  private innerWhitespace(i: number): number {
    const j = this.skipWhitespace(i);
    if (j !== i) this.canonical = false;
    return j;
  }

  /** `b[i]` is a quote; returns the index after the closing quote, or -1 when the string is not valid JSON. */
  scanString(i: number): number {
    const b = this.b;
    const n = this.n;
    let escaped = false;
    for (i++; i < n; i++) {
      const c = b[i];
      if (c === QUOTE) {
        this.escaped = escaped;
        return i + 1;
      }
      if (c === BACKSLASH) {
        const e = b[++i];
        if (SHORT_ESCAPE[e] === 1) escaped = true;
        else if (e === SLASH) {
          escaped = true;
          this.canonical = false;
        } else {
          return -1; // \u was ruled out for the whole body; anything else is not JSON
        }
      } else if (c < 0x20) {
        return -1;
      }
    }
    return -1;
  }

  scanNumber(i: number): number {
    const b = this.b;
    const start = i;
    let c = b[i];
    if (c === MINUS) c = b[++i];
    if (c === DIGIT_0) {
      c = b[++i];
    } else if (c >= DIGIT_1 && c <= DIGIT_9) {
      do c = b[++i]; while (c >= DIGIT_0 && c <= DIGIT_9);
    } else {
      return -1;
    }
    const integerEnd = i;
    if (c === DOT) {
      c = b[++i];
      if (!(c >= DIGIT_0 && c <= DIGIT_9)) return -1;
      do c = b[++i]; while (c >= DIGIT_0 && c <= DIGIT_9);
    }
    const exponent = c === LOWER_E || c === UPPER_E;
    if (exponent) {
      c = b[++i];
      if (c === PLUS || c === MINUS) c = b[++i];
      if (!(c >= DIGIT_0 && c <= DIGIT_9)) return -1;
      do c = b[++i]; while (c >= DIGIT_0 && c <= DIGIT_9);
    }
    // Only numbers of 19 characters or more, or with an exponent, can be integers of 2^63 and more.
    if (this.tracking && (i - start >= 19 || exponent) && integerOutOfRange(Number(this.b.toString("latin1", start, i)))) this.refusable = true;
    if (this.tracking && this.canonical) {
      const negative = b[start] === MINUS;
      // An integer of up to 15 digits prints as written (except -0); anything else is checked the slow way.
      const plainInteger = i === integerEnd && integerEnd - start - (negative ? 1 : 0) <= 15 && !(negative && b[start + 1] === DIGIT_0);
      if (!plainInteger) {
        const text = this.b.toString("latin1", start, i);
        if (String(Number(text)) !== text) this.canonical = false;
      }
    }
    return i;
  }

  scanValue(i: number): number {
    const c = this.b[i];
    if (c === QUOTE) return this.scanString(i);
    if (c === OPEN_BRACE) return this.scanObject(i);
    if (c === OPEN_BRACKET) return this.scanArray(i);
    if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) return this.scanNumber(i);
    for (const literal of LITERALS) {
      if (c !== literal[0]) continue;
      const end = i + literal.length;
      return end <= this.n && this.equals(literal, i) ? end : -1;
    }
    return -1;
  }

  scanArray(i: number): number {
    if (++this.depth > MAX_JSON_DEPTH) return -1;
    const b = this.b;
    i = this.innerWhitespace(i + 1);
    if (b[i] === CLOSE_BRACKET) {
      this.depth--;
      return i + 1;
    }
    for (;;) {
      i = this.scanValue(i);
      if (i < 0) return -1;
      i = this.innerWhitespace(i);
      const c = b[i];
      if (c === CLOSE_BRACKET) break;
      if (c !== COMMA) return -1;
      i = this.innerWhitespace(i + 1);
    }
    this.depth--;
    return i + 1;
  }

  scanObject(i: number): number {
    if (++this.depth > MAX_JSON_DEPTH) return -1;
    const b = this.b;
    this.keyCounts[this.depth] = 0;
    i = this.innerWhitespace(i + 1);
    if (b[i] === CLOSE_BRACE) {
      this.depth--;
      return i + 1;
    }
    for (;;) {
      if (b[i] !== QUOTE) return -1;
      const keyStart = i;
      i = this.scanString(i);
      if (i < 0) return -1;
      if (this.isGuardedKey(keyStart + 1, i - 1)) return -1;
      if (this.tracking && !this.refusable) {
        for (let k = keyStart + 1; k < i - 1; k++) if (b[k] === DOT) this.refusable = true;
      }
      if (this.tracking && this.canonical) this.checkKey(keyStart + 1, i - 1);
      i = this.innerWhitespace(i);
      if (b[i] !== COLON) return -1;
      i = this.scanValue(this.innerWhitespace(i + 1));
      if (i < 0) return -1;
      i = this.innerWhitespace(i);
      const c = b[i];
      if (c === CLOSE_BRACE) break;
      if (c !== COMMA) return -1;
      i = this.innerWhitespace(i + 1);
    }
    this.depth--;
    return i + 1;
  }

  /** A key starting with a digit (V8 orders integer keys first) or seen before in this object is not canonical. */
  private checkKey(start: number, end: number): void {
    const b = this.b;
    const first = b[start];
    const keys = this.keyPositions[this.depth];
    const count = this.keyCounts[this.depth];
    if ((first >= DIGIT_0 && first <= DIGIT_9) || count >= MAX_TRACKED_KEYS * 2) {
      this.canonical = false;
      return;
    }
    const length = end - start;
    for (let k = 0; k < count; k += 2) {
      const s = keys[k];
      if (keys[k + 1] - s !== length) continue;
      let j = 0;
      while (j < length && b[s + j] === b[start + j]) j++;
      if (j === length) {
        this.canonical = false;
        return;
      }
    }
    keys[count] = start;
    keys[count + 1] = end;
    this.keyCounts[this.depth] = count + 2;
  }

  /** Which of `names` the last key read by scanMemberKey is, or -1 for another key. */
  memberName = -1;

  /**
   * At a member of the envelope or an event: reads the key and the colon, sets `memberName`, and returns the index
   * of the value, or -1. A key with an escape cannot spell one of our names (letters and underscores only).
   */
  scanMemberKey(i: number, names: readonly Buffer[]): number {
    const b = this.b;
    if (b[i] !== QUOTE) return -1;
    const end = this.scanString(i);
    if (end < 0) return -1;
    if (this.isGuardedKey(i + 1, end - 1)) return -1;
    this.memberName = this.escaped ? -1 : this.keyIndex(names, i + 1, end - 1);
    const colon = this.skipWhitespace(end);
    return b[colon] === COLON ? this.skipWhitespace(colon + 1) : -1;
  }

  isGuardedKey(start: number, end: number): boolean {
    return (end - start === 9 || end - start === 11) && this.keyIndex(GUARDED_KEYS, start, end) >= 0;
  }

  /** Whether the body holds the bytes of `word` at `at` (the caller checked that they fit). */
  equals(word: Buffer, at: number): boolean {
    const b = this.b;
    for (let j = 0; j < word.length; j++) if (b[at + j] !== word[j]) return false;
    return true;
  }

  /** Index of the key at [start, end) (quotes excluded) in `names`, or -1. */
  private keyIndex(names: readonly Buffer[], start: number, end: number): number {
    const length = end - start;
    const b = this.b;
    for (let k = 0; k < names.length; k++) {
      const name = names[k];
      if (name.length !== length || name[0] !== b[start]) continue;
      let j = 1;
      while (j < length && name[j] === b[start + j]) j++;
      if (j === length) return k;
    }
    return -1;
  }
}

/** Reads one event object at `i` into `fieldTable` at `base`; returns the index after it, or -1 to decline. */
function scanEvent(s: Scanner, i: number, base: number): number {
  const b = s.b;
  fieldTable.fill(-1, base, base + SLOTS);
  if (++s.depth > MAX_JSON_DEPTH) return -1;
  i = s.skipWhitespace(i + 1);
  if (b[i] === CLOSE_BRACE) {
    s.depth--;
    return i + 1;
  }
  for (;;) {
    i = s.scanMemberKey(i, FIELD_BYTES);
    if (i < 0) return -1;
    const field = s.memberName;
    const valueStart = i;
    const c = b[i];
    s.tracking = field >= 0 && KEPT.has(field);
    s.canonical = true;
    s.refusable = false;
    i = s.scanValue(i);
    s.tracking = false;
    if (i < 0 || s.refusable) return -1;
    if (field >= 0) {
      const slot = base + field * 3;
      if (fieldTable[slot] >= 0) return -1; // a known field twice: JSON.parse keeps the last; leave that to it
      const kind = c === QUOTE ? Kind.String : c === OPEN_BRACE ? Kind.Object : c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9) ? Kind.Number : Kind.Other;
      if (!fits(RULE[field], kind, i - valueStart - 2)) return -1;
      fieldTable[slot] = valueStart;
      fieldTable[slot + 1] = i;
      fieldTable[slot + 2] = kind | (kind === Kind.String && s.escaped ? ESCAPED : 0) | (s.canonical ? 0 : NOT_CANONICAL);
    }
    i = s.skipWhitespace(i);
    if (b[i] === CLOSE_BRACE) break;
    if (b[i] !== COMMA) return -1;
    i = s.skipWhitespace(i + 1);
  }
  s.depth--;
  return i + 1;
}

/** The schema's type and maxLength for a field (`contentBytes` is a string's raw length without quotes). */
function fits(rule: Rule, kind: Kind, contentBytes: number): boolean {
  switch (rule) {
    case Rule.Name: return kind === Kind.String && contentBytes <= 1024;
    // Up to 15 characters a number id is within 2^53 (9007199254740991 has 16 digits); longer ones take the full path,
    // whose schema refuses those beyond it (their digits are already lost). A number has no quotes: its length is
    // contentBytes + 2.
    case Rule.Id: return (kind === Kind.Number && contentBytes + 2 <= 15) || (kind === Kind.String && contentBytes <= 1024);
    case Rule.MessageId: return kind === Kind.String && contentBytes >= 1 && contentBytes <= 256;
    case Rule.Time: return kind === Kind.String && contentBytes <= 64;
    case Rule.Object: return kind === Kind.Object;
    case Rule.Text: return kind === Kind.String;
  }
}

/** Buffer's own slice decoders (what toString(encoding, start, end) dispatches to, without its argument checks). */
interface SliceDecoders {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** Decoded values and JSON texts of one event's fields, read from the body and `fieldTable`. */
class EventView {
  base = 0;
  private readonly slice: (start: number, end: number) => string;
  constructor(private readonly b: Buffer, private readonly scanner: Scanner, ascii: boolean) {
    const decoders = b as unknown as SliceDecoders;
    // An all-ASCII body decodes the same as Latin-1, which is a plain copy.
    this.slice = ascii ? decoders.latin1Slice.bind(b) : decoders.utf8Slice.bind(b);
  }

  has(field: number): boolean {
    return fieldTable[this.base + field * 3] >= 0;
  }

  private flags(field: number): number {
    return fieldTable[this.base + field * 3 + 2];
  }

  /** The value's bytes as text, as written in the body. */
  raw(field: number): string {
    const slot = this.base + field * 3;
    return this.slice(fieldTable[slot], fieldTable[slot + 1]);
  }

  /** A string field's value (the field must be present and a string). */
  text(field: number): string {
    if (this.flags(field) & ESCAPED) return JSON.parse(this.raw(field)) as string;
    const slot = this.base + field * 3;
    return this.slice(fieldTable[slot] + 1, fieldTable[slot + 1] - 1);
  }

  /** What JSON.stringify writes for the field's value (a string or an object). */
  json(field: number): string {
    const flags = this.flags(field);
    if (flags & NOT_CANONICAL) return JSON.stringify(JSON.parse(this.raw(field)));
    return this.raw(field);
  }

  /** normalize-events' idValue of the field ("" when absent). */
  id(field: number): string {
    if (!this.has(field)) return "";
    return (this.flags(field) & 7) === Kind.Number ? idValue(Number(this.raw(field))) : this.text(field);
  }

  /** JSON of a string field whose value `text` was already read: without escapes, its bytes are the quoted text. */
  jsonOfText(field: number, text: string): string {
    return this.flags(field) & ESCAPED ? this.json(field) : `"${text}"`;
  }

  /** JSON of the id `id` (this field's idValue): as written when it is a string, else the stringified idValue. */
  idJson(field: number, id: string): string {
    if (this.has(field) && (this.flags(field) & 7) === Kind.String) return this.jsonOfText(field, id);
    return JSON.stringify(id);
  }

  /** The event's `type`, or -1 when it is not one of EVENT_TYPES. */
  typeIndex(): number {
    const slot = this.base + F.type * 3;
    const start = fieldTable[slot] + 1;
    const length = fieldTable[slot + 1] - 1 - start;
    if (this.flags(F.type) & ESCAPED) return -1;
    for (let t = 0; t < TYPE_BYTES.length; t++) {
      if (TYPE_BYTES[t].length === length && this.scanner.equals(TYPE_BYTES[t], start)) return t;
    }
    return -1;
  }
}

/** Parsed ms of an ISO time field, or undefined when absent; NaN when the slow path would refuse it. */
function timeOf(view: EventView, field: number): number | undefined {
  if (!view.has(field)) return undefined;
  const parsed = parseIsoTime(view.text(field));
  return typeof parsed === "string" ? Number.NaN : parsed;
}

/** The rows of a batch body, or undefined to send it down the slow path (see the header). */
export function parseBatchFast(body: Buffer, options: FastBatchOptions): FastBatch | undefined {
  if (body.length === 0 || !isUtf8(body)) return undefined;
  const s = new Scanner(body, body.length);
  const b = body;

  // Envelope: {"batch": [...], "writeKey": "...", "sentAt": "...", "context": {...}, other keys ignored}
  let i = s.skipWhitespace(0);
  if (b[i] !== OPEN_BRACE) return undefined;
  s.depth = 1;
  const envelope = [-1, -1, -1, -1, -1, -1, -1, -1]; // [start, end] of batch, writeKey, sentAt, context
  let events = 0;
  let writeKeyEscaped = false;
  let sentAtEscaped = false;
  i = s.skipWhitespace(i + 1);
  if (b[i] === CLOSE_BRACE) return undefined; // no batch: the schema's error
  for (;;) {
    i = s.scanMemberKey(i, ENVELOPE_FIELDS);
    if (i < 0) return undefined;
    const key = s.memberName;
    const valueStart = i;
    const c = b[i];
    if (key >= 0 && envelope[key * 2] >= 0) return undefined;
    if (key === 0) {
      if (c !== OPEN_BRACKET) return undefined;
      s.depth = 2;
      i = s.skipWhitespace(i + 1);
      if (b[i] !== CLOSE_BRACKET) {
        for (;;) {
          if (b[i] !== OPEN_BRACE || events >= MAX_BATCH_EVENTS) return undefined;
          if ((events + 1) * SLOTS > fieldTable.length) {
            const grown = new Int32Array(Math.min(MAX_BATCH_EVENTS, events * 2) * SLOTS);
            grown.set(fieldTable);
            fieldTable = grown;
          }
          i = scanEvent(s, i, events * SLOTS);
          if (i < 0) return undefined;
          events++;
          i = s.skipWhitespace(i);
          if (b[i] === CLOSE_BRACKET) break;
          if (b[i] !== COMMA) return undefined;
          i = s.skipWhitespace(i + 1);
        }
      }
      i++;
      s.depth = 1;
    } else {
      i = s.scanValue(i);
      if (i < 0) return undefined;
      if (key === 1 && c !== QUOTE) return undefined;
      if (key === 1) writeKeyEscaped = s.escaped;
      if (key === 2 && (c !== QUOTE || i - valueStart - 2 > 64)) return undefined;
      if (key === 2) sentAtEscaped = s.escaped;
      // An envelope context is merged into every event's context: the slow path does that.
      if (key === 3) return undefined;
      s.depth = 1;
    }
    if (key >= 0) {
      envelope[key * 2] = valueStart;
      envelope[key * 2 + 1] = i;
    }
    i = s.skipWhitespace(i);
    if (b[i] === CLOSE_BRACE) break;
    if (b[i] !== COMMA) return undefined;
    i = s.skipWhitespace(i + 1);
  }
  if (s.skipWhitespace(i + 1) !== b.length || envelope[0] < 0) return undefined;

  const ascii = isAscii(body);
  const envelopeText = (key: number, escaped: boolean): string | undefined => {
    if (envelope[key * 2] < 0) return undefined;
    const raw = b.toString(ascii ? "latin1" : "utf8", envelope[key * 2], envelope[key * 2 + 1]);
    return escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
  };
  const writeKey = envelopeText(1, writeKeyEscaped);
  const envelopeSentAt = envelopeText(2, sentAtEscaped);
  let envelopeSentAtMs: number | undefined;

  const rows: NormalizedRow[] = [];
  let clamped = 0;
  const receivedAt = clickhouseTime(options.receivedAtMs);
  const view = new EventView(b, s, ascii);
  for (let e = 0; e < events; e++) {
    view.base = e * SLOTS;
    let type: EventType;
    if (view.has(F.type)) {
      const t = view.typeIndex();
      if (t < 0) return undefined;
      type = EVENT_TYPES[t];
    } else if (view.has(F.event_name)) {
      type = "track";
    } else {
      return undefined;
    }
    // `event.userId ?? event.user_id`: the first spelling wins whenever it is present.
    const userIdField = view.has(F.userId) ? F.userId : F.user_id;
    const anonymousIdField = view.has(F.anonymousId) ? F.anonymousId : F.anonymous_id;
    const userId = view.id(userIdField);
    const anonymousId = view.id(anonymousIdField);
    const otherIdField = type === "alias" ? F.previousId : F.groupId;
    const otherId = view.id(otherIdField);
    if (type === "alias" ? !userId || !otherId : !userId && !anonymousId) return undefined;
    let eventNameJson = '""';
    if (type === "track") {
      const nameField = view.has(F.event) ? F.event : F.event_name;
      const eventName = view.has(nameField) ? view.text(nameField) : "";
      if (eventName === "") return undefined;
      eventNameJson = view.jsonOfText(nameField, eventName);
    } else if (type === "page" || type === "screen") {
      if (view.has(F.category)) return undefined;
      if (view.has(F.name)) eventNameJson = view.json(F.name);
    }
    if (type === "group" && !otherId) return undefined;

    // `timestamp ?? originalTimestamp`: originalTimestamp is only read (and checked) when timestamp is absent.
    const timestampMs = view.has(F.timestamp) ? timeOf(view, F.timestamp) : timeOf(view, F.originalTimestamp);
    let sentAtMs: number | undefined;
    if (view.has(F.sentAt)) {
      sentAtMs = timeOf(view, F.sentAt);
    } else if (envelopeSentAt !== undefined) {
      if (envelopeSentAtMs === undefined) {
        const parsed = parseIsoTime(envelopeSentAt);
        envelopeSentAtMs = typeof parsed === "string" ? Number.NaN : parsed;
      }
      sentAtMs = envelopeSentAtMs;
    }
    if (Number.isNaN(timestampMs) || Number.isNaN(sentAtMs)) return undefined;

    const time = correctEventTime({ timestampMs, sentAtMs, receivedAtMs: options.receivedAtMs });
    if (time.clamped) clamped++;
    const messageIdField = view.has(F.messageId) ? F.messageId : view.has(F.message_id) ? F.message_id : -1;
    const messageId = messageIdField >= 0 ? view.text(messageIdField) : options.newMessageId();
    const messageIdJson = messageIdField >= 0 ? view.jsonOfText(messageIdField, messageId) : JSON.stringify(messageId);
    const table = TABLE_OF[type];
    const objectField = table === "events" ? F.properties : F.traits;
    const objectJson = table === "aliases" ? "" : view.has(objectField) ? view.json(objectField) : "{}";
    const json = rowJson(table, type, messageIdJson, eventNameJson, view.idJson(userIdField, userId), view.idJson(anonymousIdField, anonymousId),
      table === "aliases" || table === "groups" ? view.idJson(otherIdField, otherId) : "", objectJson,
      view.has(F.context) ? view.json(F.context) : "{}", clickhouseTime(time.eventTimeMs), receivedAt);
    // An ASCII body gives ASCII rows (a generated id may not be: measure those).
    const bytes = ascii && messageIdField >= 0 ? json.length : Buffer.byteLength(json);
    if (bytes > MAX_EVENT_BYTES) return undefined;
    rows.push({ table, json, bytes, messageId, clientMessageId: messageIdField >= 0, userId: userId || anonymousId, clamped: time.clamped });
  }
  return { rows, clamped, events, writeKey };
}
