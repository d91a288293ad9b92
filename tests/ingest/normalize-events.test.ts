import { describe, expect, it } from "vitest";
import { IngestError } from "../../ingest/src/errors";
import { normalizeEvents, type NormalizeOptions } from "../../ingest/src/normalize-events";

const receivedAtMs = Date.UTC(2024, 4, 1, 14, 2, 0);
let counter = 0;
const base: NormalizeOptions = { batch: true, receivedAtMs, newMessageId: () => `gen-${++counter}` };

function problems(events: Record<string, unknown>[], options: Partial<NormalizeOptions> = {}): { code: string; errors: unknown } {
  try {
    normalizeEvents(events, { ...base, ...options });
  } catch (error) {
    if (error instanceof IngestError) return { code: error.code, errors: error.problems };
    throw error;
  }
  throw new Error("expected the events to be refused");
}

describe("normalizing events into rows", () => {
  it("maps the simple shape and Segment's shape to the same events row", () => {
    const { rows } = normalizeEvents([
      { user_id: 42, event_name: "Signed Up", properties: { plan: "pro" } },
      { type: "track", userId: "42", event: "Signed Up", properties: { plan: "pro" }, messageId: "m-1", timestamp: "2024-05-01T14:01:00.000Z", context: { ip: "1.2.3.4" } },
    ], base);
    expect(rows.map((r) => r.table)).toEqual(["events", "events"]);
    expect(JSON.parse(rows[0].json)).toMatchObject({ type: "track", event_name: "Signed Up", user_id: "42", anonymous_id: "", properties: { plan: "pro" }, event_time: "2024-05-01 14:02:00.000", received_at: "2024-05-01 14:02:00.000" });
    expect(rows[0].clientMessageId).toBe(false);
    expect(JSON.parse(rows[1].json)).toEqual({
      message_id: "m-1", type: "track", event_name: "Signed Up", user_id: "42", anonymous_id: "", properties: { plan: "pro" },
      context: { ip: "1.2.3.4" }, event_time: "2024-05-01 14:01:00.000", received_at: "2024-05-01 14:02:00.000",
    });
    // Byte for byte what JSON.stringify of that row gives (the column order ClickHouse receives).
    expect(rows[1].json).toBe(JSON.stringify(JSON.parse(rows[1].json)));
    expect(Object.keys(JSON.parse(rows[1].json))).toEqual(["message_id", "type", "event_name", "user_id", "anonymous_id", "properties", "context", "event_time", "received_at"]);
  });

  it("routes identify, group and alias to their own tables with Segment's fields", () => {
    const { rows } = normalizeEvents([
      { type: "identify", userId: "u1", anonymousId: "a1", traits: { email: "x@example.com" } },
      { type: "group", userId: "u1", groupId: 7, traits: { name: "Acme" } },
      { type: "alias", userId: "u1", previousId: "a1" },
      { type: "page", anonymousId: "a1", name: "Pricing", category: "Docs" },
    ], base);
    expect(rows.map((r) => r.table)).toEqual(["identifies", "groups", "aliases", "events"]);
    expect(JSON.parse(rows[0].json)).toMatchObject({ user_id: "u1", anonymous_id: "a1", traits: { email: "x@example.com" } });
    expect(JSON.parse(rows[1].json)).toMatchObject({ group_id: "7", traits: { name: "Acme" } });
    expect(JSON.parse(rows[2].json)).toMatchObject({ user_id: "u1", previous_id: "a1" });
    expect(JSON.parse(rows[3].json)).toMatchObject({ type: "page", event_name: "Pricing", properties: { category: "Docs" } });
  });

  it("corrects event time with the envelope's sentAt and clamps far-future events", () => {
    const { rows, clamped } = normalizeEvents([
      { userId: "u", event: "A", type: "track", timestamp: "2024-05-01T15:00:00.000Z" },
      { userId: "u", event: "B", type: "track", timestamp: "2024-05-09T00:00:00.000Z", sentAt: "2024-05-01T14:02:00.000Z" },
    ], { ...base, envelopeSentAt: "2024-05-01T15:00:30.000Z" });
    expect(JSON.parse(rows[0].json).event_time).toBe("2024-05-01 14:01:30.000");
    expect(JSON.parse(rows[1].json).event_time).toBe("2024-05-01 14:02:00.000");
    expect(clamped).toBe(1);
  });

  it("names every invalid field with its index, and stores nothing", () => {
    const result = problems([
      { type: "track", userId: "u", event: "ok" },
      { type: "track", event: "no ids" },
      { type: "track", userId: "u" },
      { type: "group", userId: "u" },
      { type: "alias", userId: "u" },
      { userId: "u", event: "x" },
      { type: "track", userId: "u", event: "x", timestamp: "last tuesday" },
    ]);
    expect(result.code).toBe("invalid_event");
    expect(result.errors).toEqual([
      { index: 1, field: "userId", problem: expect.stringMatching(/userId or anonymousId is required/) },
      { index: 2, field: "event", problem: expect.stringMatching(/required for track/) },
      { index: 3, field: "groupId", problem: expect.stringMatching(/required for group/) },
      { index: 4, field: "previousId", problem: expect.stringMatching(/required for alias/) },
      { index: 5, field: "type", problem: expect.stringMatching(/required in a batch/) },
      { index: 6, field: "timestamp", problem: expect.stringMatching(/ISO-8601/) },
    ]);
  });

  it("refuses an event over 32 KB with 413 semantics", () => {
    const result = problems([{ type: "track", userId: "u", event: "big", properties: { blob: "x".repeat(33_000) } }]);
    expect(result.code).toBe("event_too_large");
    expect(result.errors).toEqual([{ index: 0, field: "event", problem: expect.stringMatching(/at most 32768/) }]);
  });

  it("leaves out the index for single-event endpoints", () => {
    expect(problems([{ event: "x" }], { batch: false, endpointType: "track" }).errors).toEqual([{ field: "userId", problem: expect.any(String) }]);
  });
});
