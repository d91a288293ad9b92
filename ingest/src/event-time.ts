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

const DIGIT_0 = 48;

/** Two or more ASCII digits at `at` as a number, or NaN. */
function digits(value: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = value.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

/**
 * `YYYY-MM-DDTHH:MM:SS.sssZ`, the form `Date.prototype.toISOString` (and so every Segment SDK) sends, read
 * without a regex or Date.parse: this runs once or twice per event. Undefined for any other form.
 */
function parseCanonicalIso(value: string): number | undefined {
  if (value.length !== 24 || value[4] !== "-" || value[7] !== "-" || value[10] !== "T" || value[13] !== ":" || value[16] !== ":" || value[19] !== "." || value[23] !== "Z") return undefined;
  const year = digits(value, 0, 4);
  const month = digits(value, 5, 2);
  const day = digits(value, 8, 2);
  const hour = digits(value, 11, 2);
  const minute = digits(value, 14, 2);
  const second = digits(value, 17, 2);
  const ms = digits(value, 20, 3);
  if (Number.isNaN(year + month + day + hour + minute + second + ms) || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  // Date.UTC would roll 2024-02-30 over into March: refuse a day the month does not have.
  if (day > daysInMonth(year, month)) return undefined;
  return daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms;
}

/**
 * Days from 1970-01-01 to a date of the proleptic Gregorian calendar (month 1-12), by integer arithmetic
 * (H. Hinnant's days_from_civil): what Date.UTC computes, without its cost on every event.
 */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days in a month of the proleptic Gregorian calendar (month 1-12), without allocating a Date. */
export function daysInMonth(year: number, month: number): number {
  if (month !== 2) return DAYS_IN_MONTH[month - 1];
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

/** Milliseconds since the epoch for an ISO-8601 string, or an explanation of what is wrong with it. */
export function parseIsoTime(value: string): number | string {
  const canonical = parseCanonicalIso(value);
  if (canonical !== undefined) return canonical >= MIN_MS && canonical <= MAX_MS ? canonical : "must be between 1970-01-01 and 2261-12-31";
  if (!ISO_DATE_TIME.test(value)) return "expected an ISO-8601 date-time such as 2024-05-01T14:02:00.000Z";
  // Date.parse rolls 2024-02-30 over into March; refuse a day the month does not have.
  const year = digits(value, 0, 4);
  const month = digits(value, 5, 2);
  const day = digits(value, 8, 2);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return "is not a real date-time (check month, day and hour)";
  // A zone-less time is UTC here (Date.parse would use the server's zone).
  const ms = Date.parse(/[zZ]|[+-]\d{2}(:?\d{2})?$/.test(value.slice(10)) ? value : `${value.replace(" ", "T")}Z`);
  if (Number.isNaN(ms)) return "is not a real date-time (check month, day and hour)";
  if (ms < MIN_MS || ms > MAX_MS) return "must be between 1970-01-01 and 2261-12-31";
  return ms;
}

/** `YYYY-MM-DD hh:mm:ss.sss` in UTC: what ClickHouse's DateTime64(3, 'UTC') parses without extra settings. */
let cachedSecond = Number.NaN;
let cachedPrefix = "";

export function clickhouseTime(ms: number): string {
  // Events of one batch mostly fall in the same second: format the date and time once, append the milliseconds.
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    const iso = new Date(second * 1000).toISOString();
    cachedPrefix = `${iso.slice(0, 10)} ${iso.slice(11, 19)}.`;
    cachedSecond = second;
  }
  const millis = ms - second * 1000;
  return cachedPrefix + (millis < 10 ? `00${millis}` : millis < 100 ? `0${millis}` : String(millis));
}
