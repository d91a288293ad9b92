/**
 * A request that arrives while the service shuts down (the spool has stopped accepting) gets the ingest's own 503:
 * code shutting_down, a Retry-After, and nothing stored. (While the server closes, such requests reach this handler:
 * return503OnClosing is off, so Fastify's own closing 503, without Retry-After or our body, is not sent.)
 */
import { describe, expect, it } from "vitest";
import { useSpooledApp } from "./support/spooled-app";

const KEY = "write-key-shutdown";

describe("a request during shutdown", () => {
  const ctx = useSpooledApp("shutting-down", KEY);

  it("gets 503 shutting_down with Retry-After, and nothing is stored", async () => {
    const before = ctx.spool.rows;
    ctx.spool.stopAccepting();
    const res = await ctx.app.inject({
      method: "POST", url: "/v1/track", headers: { "content-type": "application/json" },
      payload: JSON.stringify({ writeKey: KEY, userId: "u", event: "late", messageId: "during-shutdown" }),
    });
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toMatch(/^\d+$/);
    expect(res.json()).toMatchObject({ success: false, code: "shutting_down" });
    expect(ctx.spool.rows).toBe(before);
  });
});
