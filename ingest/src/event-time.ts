/**
 * Event time as Segment defines it, corrected for the client's clock:
 *
 *   timestamp = receivedAt - (sentAt - originalTimestamp)
 *
 * A client whose clock runs an hour fast sends both its event time and its send time an hour ahead; the
 * difference is what elapsed on the client, and we subtract it from our own clock. Without `sentAt` the client's
 * timestamp is taken as is; without any timestamp the event happened when we received it. An event still more
 * than `maxFutureMs` ahead of us after correction is clamped to the receive time (and counted by the caller),
 * because a future-dated event would sit on every dashboard's right edge and never age out.
 */

export const ONE_DAY_MS = 24 * 60 * 60 * 1000;

export interface EventTimeInput {
  /** The client's event time (Segment `timestamp`, or `originalTimestamp`), in ms since the epoch. */
  readonly timestampMs?: number;
  /** When the client sent the request, by its own clock. */
  readonly sentAtMs?: number;
  /** When we received it, by our clock. */
  readonly receivedAtMs: number;
  /** How far ahead of receivedAt an event may be. Defaults to one day. */
  readonly maxFutureMs?: number;
}

export interface EventTime {
  readonly eventTimeMs: number;
  /** True when the corrected time was too far in the future and was replaced by receivedAt. */
  readonly clamped: boolean;
}

export function correctEventTime(input: EventTimeInput): EventTime {
  const { timestampMs, sentAtMs, receivedAtMs } = input;
  const maxFutureMs = input.maxFutureMs ?? ONE_DAY_MS;
  if (timestampMs === undefined) return { eventTimeMs: receivedAtMs, clamped: false };
  const corrected = sentAtMs === undefined ? timestampMs : receivedAtMs - (sentAtMs - timestampMs);
  if (corrected > receivedAtMs + maxFutureMs) return { eventTimeMs: receivedAtMs, clamped: true };
  return { eventTimeMs: corrected, clamped: false };
}

/** ISO-8601 date-time as Segment sends it: a date, a time, optional fraction and zone. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$/i;
/** DateTime64(3) holds 1900..2299; we keep to the unambiguous, non-negative part of it. */
const MIN_MS = 0;
const MAX_MS = Date.UTC(2261, 11, 31);

/** Milliseconds since the epoch for an ISO-8601 string, or an explanation of what is wrong with it. */
export function parseIsoTime(value: string): number | string {
  if (!ISO_DATE_TIME.test(value)) return "expected an ISO-8601 date-time such as 2024-05-01T14:02:00.000Z";
  // A zone-less time is UTC here (Date.parse would use the server's zone).
  const ms = Date.parse(/[zZ]|[+-]\d{2}(:?\d{2})?$/.test(value.slice(10)) ? value : `${value.replace(" ", "T")}Z`);
  if (Number.isNaN(ms)) return "is not a real date-time (check month, day and hour)";
  if (ms < MIN_MS || ms > MAX_MS) return "must be between 1970-01-01 and 2261-12-31";
  return ms;
}

/** `YYYY-MM-DD hh:mm:ss.sss` in UTC: what ClickHouse's DateTime64(3, 'UTC') parses without extra settings. */
export function clickhouseTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}
