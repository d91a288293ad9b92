/**
 * Review 2: payloads that Segment's own SDKs send, through the HTTP API (`app.inject()`, a real spool), both batch paths.
 * - analytics-python (segmentio/analytics-python, segment/analytics/client.py) builds every message with all its keys
 *   and serializes the ones not given as null: `"anonymousId": null` on a call with only user_id, `"userId": null` on
 *   an anonymous call, `"name": null, "category": null` on page() and screen() without them. Segment accepts these.
 * - An event under Segment's 32 KB limit as sent (analytics-node checks its events against 32768 bytes before it
 *   batches them) must be accepted; refusing it refuses the whole batch, which the SDK then drops (a 4xx is not retried).
 * - Integer ids beyond 2^53 (64-bit database ids sent as JSON numbers by Python, Go, Java backends) must be stored as
 *   sent, or refused naming the field; never stored as another user's id.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeSegment } from "../../ingest/src/spool-record";
import { useSpooledApp } from "./support/spooled-app";

const KEY = "write-key-123";
const AUTH = `Basic ${Buffer.from(`${KEY}:`).toString("base64")}`;

/** JSON the way Python's json.dumps writes it (", " and ": " separators). */
function pythonJson(value: unknown): string {
  return JSON.stringify(value).replace(/("(?:[^"\\]|\\.)*")|([,:])/g, (match, string: string | undefined) => string ?? `${match} `);
}

describe.each([true, false])("review2: payloads of Segment's SDKs (batch fast path %s)", (batchFastPath) => {
  const ctx = useSpooledApp("review2-payloads", KEY, batchFastPath);

  const post = (url: string, body: string) => ctx.app.inject({ method: "POST", url, payload: body, headers: { "content-type": "application/json", authorization: AUTH } });

  /** The stored row with this message_id. */
  async function stored(messageId: string): Promise<Record<string, unknown> | undefined> {
    await ctx.spool.sealNow();
    for (const segment of ctx.spool.sealedSegments()) {
      for (const record of decodeSegment(readFileSync(segment.path)).records) {
        for (const section of record.sections) {
          for (const line of section.bytes.toString("utf8").split("\n")) {
            if (line && (JSON.parse(line) as { message_id: string }).message_id === messageId) return JSON.parse(line) as Record<string, unknown>;
          }
        }
      }
    }
    return undefined;
  }

  it("accepts analytics-python's batch, whose ids, page name and category not given are null", async () => {
    const id = (n: string) => `py-${n}-${batchFastPath}`;
    const library = { library: { name: "analytics-python", version: "2.3.4" } };
    const timestamp = "2024-05-01T14:02:00.123+00:00";
    // What client.track(user_id=...), identify(user_id=...), page(anonymous_id=...) enqueue, as request.post sends them.
    const batch = [
      { integrations: {}, anonymousId: null, properties: { plan: "pro" }, timestamp, context: library, userId: "u-1", type: "track", event: "Signed Up", messageId: id("track") },
      { integrations: {}, anonymousId: null, timestamp, context: library, type: "identify", userId: "u-1", traits: { email: "a@example.com" }, messageId: id("identify") },
      { integrations: {}, anonymousId: "anon-1", properties: {}, timestamp, category: null, context: library, userId: null, type: "page", name: null, messageId: id("page") },
    ];
    const res = await post("/v1/batch", pythonJson({ batch, sentAt: "2024-05-01T14:02:00.456789+00:00", writeKey: KEY }));
    expect({ status: res.statusCode, body: res.json() as unknown }).toEqual({ status: 200, body: { success: true, accepted: 3, duplicates: 0 } });
    expect(await stored(id("track"))).toMatchObject({ user_id: "u-1", anonymous_id: "", event_name: "Signed Up" });
    expect(await stored(id("page"))).toMatchObject({ user_id: "", anonymous_id: "anon-1", type: "page", event_name: "" });
  });

  it("stores an integer id beyond 2^53 as sent, or refuses it naming the field, never as a neighbouring id", async () => {
    for (const [url, body] of [
      ["/v1/track", `{"userId":9007199254740993,"event":"Big id","messageId":"big-track-${batchFastPath}"}`],
      ["/v1/batch", `{"batch":[{"type":"track","userId":9007199254740993,"event":"Big id","messageId":"big-batch-${batchFastPath}"}]}`],
    ]) {
      const res = await post(url, body);
      if (res.statusCode === 200) {
        const messageId = (/"messageId":"([^"]+)"/.exec(body) as RegExpExecArray)[1];
        expect((await stored(messageId))?.user_id, `user_id stored from ${url}`).toBe("9007199254740993");
      } else {
        expect({ status: res.statusCode, body: res.json() as unknown }).toMatchObject({ status: 400, body: { errors: [expect.objectContaining({ field: "userId" })] } });
      }
    }
  });

  it("accepts an event under 32 KB as sent (the limit is on the event, not on the row it becomes)", async () => {
    const event = { type: "track", userId: "u", event: "Near the limit", messageId: `near-limit-${batchFastPath}`, timestamp: "2024-05-01T14:02:00.000Z", properties: { p: "" } };
    const pad = 32_700 - Buffer.byteLength(JSON.stringify(event));
    const sent = { ...event, properties: { p: "x".repeat(pad) } };
    expect(Buffer.byteLength(JSON.stringify(sent))).toBe(32_700);
    const res = await post("/v1/batch", JSON.stringify({ batch: [sent] }));
    expect({ status: res.statusCode, body: res.json() as unknown }).toEqual({ status: 200, body: { success: true, accepted: 1, duplicates: 0 } });
  });
});
