/**
 * Review findings on Segment semantics through the HTTP API (`app.inject()`, a real spool in a temporary directory).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeSegment } from "../../ingest/src/spool-record";
import { useSpooledApp } from "./support/spooled-app";

const KEY = "write-key-123";

describe.each([true, false])("review: Segment semantics (batch fast path %s)", (batchFastPath) => {
  const ctx = useSpooledApp("review-segment", KEY, batchFastPath);

  /** Rows of every sealed segment so far, parsed. */
  async function storedRows(): Promise<Record<string, unknown>[]> {
    await ctx.spool.sealNow();
    const rows: Record<string, unknown>[] = [];
    for (const segment of ctx.spool.sealedSegments()) {
      for (const record of decodeSegment(readFileSync(segment.path)).records) {
        for (const section of record.sections) for (const line of section.bytes.toString("utf8").split("\n")) if (line) rows.push(JSON.parse(line) as Record<string, unknown>);
      }
    }
    return rows;
  }

  it("merges a batch's envelope context into each event's context (the event's own keys win)", async () => {
    const res = await ctx.app.inject({
      method: "POST", url: "/v1/batch", headers: { "content-type": "application/json" },
      payload: JSON.stringify({
        writeKey: KEY,
        context: { ip: "203.0.113.7", library: { name: "curl-backfill", version: "1" } },
        batch: [
          { type: "track", userId: "u1", event: "A", messageId: `ctx-a-${batchFastPath}` },
          { type: "identify", userId: "u1", messageId: `ctx-b-${batchFastPath}`, traits: { plan: "pro" }, context: { ip: "198.51.100.1", locale: "de-DE" } },
        ],
      }),
    });
    expect(res.statusCode).toBe(200);
    const rows = await storedRows();
    const byId = (id: string) => rows.find((r) => r.message_id === id);
    expect(byId(`ctx-a-${batchFastPath}`)?.context).toEqual({ ip: "203.0.113.7", library: { name: "curl-backfill", version: "1" } });
    expect(byId(`ctx-b-${batchFastPath}`)?.context).toEqual({ ip: "198.51.100.1", library: { name: "curl-backfill", version: "1" }, locale: "de-DE" });
  });

  it("refuses a batch context too large to merge, naming the field, and stores nothing", async () => {
    const rowsBefore = ctx.spool.rows;
    const post = (context: unknown, events: number) => ctx.app.inject({
      method: "POST", url: "/v1/batch", headers: { "content-type": "application/json" },
      payload: JSON.stringify({ writeKey: KEY, context, batch: Array.from({ length: events }, (_, i) => ({ type: "track", userId: `u${i}`, event: "A" })) }),
    });
    const huge = await post({ pad: "c".repeat(40_000) }, 1);
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toMatchObject({ code: "event_too_large", errors: [{ index: 0, field: "event" }] });
    // 20 KB copied into 2,000 events would be 40 MB in the spool from one 480 KB request.
    const multiplied = await post({ pad: "c".repeat(20_000) }, 2000);
    expect(multiplied.statusCode).toBe(413);
    expect(multiplied.json()).toMatchObject({ code: "batch_too_large", errors: [{ field: "context", problem: expect.stringMatching(/merged into each of the 2000 events/) }] });
    expect(ctx.spool.rows).toBe(rowsBefore);
  });

  it("refuses with 400 the values ClickHouse's JSON type would refuse after a 200 (they could only be dead-lettered)", async () => {
    const rowsBefore = ctx.spool.rows;
    const batch = (extra: Record<string, unknown>) => ctx.app.inject({
      method: "POST", url: "/v1/batch", headers: { "content-type": "application/json" },
      payload: JSON.stringify({ writeKey: KEY, batch: [{ type: "track", userId: "u", event: "fine" }, { type: "track", userId: "u", event: "A", ...extra }] }),
    });
    const dotted = await batch({ properties: { "page.url": "/a", page: { url: "/b" } } });
    expect(dotted.statusCode).toBe(400);
    expect(dotted.json()).toMatchObject({ code: "invalid_event", errors: [{ index: 1, field: "properties", problem: expect.stringMatching(/"page\.url" twice/) }] });
    const inArray = await batch({ context: { items: [{ ok: 1 }, { "a.b": 1, a: { b: 2 } }] } });
    expect(inArray.json()).toMatchObject({ code: "invalid_event", errors: [{ index: 1, field: "context.items[1]" }] });
    const big = await batch({ properties: { n: 2e19 } });
    expect(big.statusCode).toBe(400);
    expect(big.json()).toMatchObject({ code: "invalid_event", errors: [{ index: 1, field: "properties.n", problem: expect.stringMatching(/send it as a string/) }] });
    const negative = await ctx.app.inject({
      method: "POST", url: "/v1/identify", headers: { "content-type": "application/json" },
      payload: `{"writeKey":"${KEY}","userId":"u","traits":{"n":-9223372036854775809}}`,
    });
    expect(negative.json()).toMatchObject({ code: "invalid_event", errors: [{ field: "traits.n" }] });
    expect(ctx.spool.rows).toBe(rowsBefore);
    // Their neighbours ClickHouse takes are accepted: dotted keys without a clash, 2^64 - 2048, -2^63 + 1024, 1e21 (written with an exponent: a float).
    const fine = await batch({ properties: { "page.url": "/a", page: { title: "t" }, n: 18446744073709549568, m: -9223372036854774784, f: 1e21, g: 0.5 } });
    expect(fine.statusCode).toBe(200);
    expect(ctx.spool.rows).toBe(rowsBefore + 2);
  });
});
