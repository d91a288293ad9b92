import { describe, expect, it } from "vitest";
import { clickhouseTime, correctEventTime, daysFromCivil, daysInMonth, ONE_DAY_MS, parseIsoTime } from "../../ingest/src/event-time";

const received = Date.UTC(2024, 4, 1, 14, 2, 0);

describe("clock skew correction (Segment's timestamp = receivedAt - (sentAt - originalTimestamp))", () => {
  it("shifts a client clock that runs an hour fast back onto the server clock", () => {
    const hour = 3_600_000;
    const t = correctEventTime({ timestampMs: received + hour - 5000, sentAtMs: received + hour, receivedAtMs: received });
    expect(t).toEqual({ eventTimeMs: received - 5000, clamped: false });
  });

  it("takes the timestamp as is without sentAt, and the receive time without any timestamp", () => {
    expect(correctEventTime({ timestampMs: received - 60_000, receivedAtMs: received })).toEqual({ eventTimeMs: received - 60_000, clamped: false });
    expect(correctEventTime({ receivedAtMs: received })).toEqual({ eventTimeMs: received, clamped: false });
  });

  it("clamps an event more than a day in the future to the receive time and flags it", () => {
    expect(correctEventTime({ timestampMs: received + ONE_DAY_MS + 1, receivedAtMs: received })).toEqual({ eventTimeMs: received, clamped: true });
    expect(correctEventTime({ timestampMs: received + ONE_DAY_MS, receivedAtMs: received })).toEqual({ eventTimeMs: received + ONE_DAY_MS, clamped: false });
  });
});

describe("ISO-8601 parsing", () => {
  it("reads zoned, zone-less (as UTC) and offset times", () => {
    expect(parseIsoTime("2024-05-01T14:02:00.000Z")).toBe(received);
    expect(parseIsoTime("2024-05-01 14:02:00")).toBe(received);
    expect(parseIsoTime("2024-05-01T16:02:00+02:00")).toBe(received);
  });

  it("explains what is wrong with a bad date", () => {
    expect(parseIsoTime("yesterday")).toMatch(/ISO-8601/);
    expect(parseIsoTime("2024-13-45T99:00:00Z")).toMatch(/not a real date-time/);
    expect(parseIsoTime("1969-12-31T23:59:59Z")).toMatch(/between 1970/);
  });

  it("formats times the way DateTime64(3, 'UTC') parses them", () => {
    expect(clickhouseTime(received + 7)).toBe("2024-05-01 14:02:00.007");
  });
});

describe("fast paths agree with the general ones", () => {
  it("parses toISOString output exactly like Date.parse, and rejects impossible dates", () => {
    for (let i = 0; i < 2000; i++) {
      const ms = Math.floor(Math.random() * Date.UTC(2200, 0, 1));
      expect(parseIsoTime(new Date(ms).toISOString())).toBe(ms);
    }
    expect(parseIsoTime("2024-02-30T10:00:00.000Z")).toMatch(/not a real date-time/);
    expect(parseIsoTime("2024-02-29T10:00:00.000Z")).toBe(Date.UTC(2024, 1, 29, 10));
  });

  it("formats any millisecond the way toISOString would", () => {
    for (const ms of [0, 1, 9, 10, 99, 100, 999, 1000, 1714572120007, 1714572120999, 1714572121000]) {
      expect(clickhouseTime(ms)).toBe(new Date(ms).toISOString().replace("T", " ").slice(0, 23));
    }
  });
});

describe("days in a month", () => {
  it("agrees with the Date object for every month from 1900 to 2300", () => {
    for (let year = 1900; year <= 2300; year++) {
      for (let month = 1; month <= 12; month++) expect(daysInMonth(year, month)).toBe(new Date(Date.UTC(year, month, 0)).getUTCDate());
    }
  });
});

describe("days from the epoch", () => {
  it("agrees with Date.UTC for every day from 1900 to 2300", () => {
    for (let t = Date.UTC(1900, 0, 1); t <= Date.UTC(2300, 11, 31); t += 86_400_000) {
      const d = new Date(t);
      expect(daysFromCivil(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()) * 86_400_000).toBe(t);
    }
  });

  it("parses canonical timestamps to the same milliseconds as Date.parse", () => {
    for (const iso of ["1970-01-01T00:00:00.000Z", "2024-02-29T23:59:59.999Z", "2000-03-01T12:34:56.789Z", "2261-12-31T00:00:00.000Z"]) {
      expect(parseIsoTime(iso)).toBe(Date.parse(iso));
    }
  });
});
