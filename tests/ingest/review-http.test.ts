/**
 * Review findings on HTTP answers (`app.inject()`, a real spool in a temporary directory): no request may get a 500.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, describe, expect, it, vi } from "vitest";
import { buildApp } from "../../ingest/src/app";
import { MessageIdIndex } from "../../ingest/src/message-id-index";
import { createMetrics } from "../../ingest/src/metrics";
import { Spool } from "../../ingest/src/spool";

const KEY = "write-key-123";

describe("review: HTTP answers when the spool disk fails", () => {
  const dirs: string[] = [];
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  it("answers a repeat of an event whose write failed with 503 (retry), not 500", async () => {
    const dir = mkdtempSync(join(tmpdir(), "review-http-"));
    dirs.push(dir);
    const messageIds = new MessageIdIndex();
    const { spool } = await Spool.open({ dir, maxBytes: 16 * 1024 * 1024, segmentMaxRows: 100_000, sealAfterMs: 60_000, messageIds, groupCommitIntervalMs: 20 });
    const app = buildApp({ writeKeys: [KEY], retryAfterSeconds: 5, spool, messageIds, metrics: createMetrics(), logger: pino({ level: "silent" }), clickhouseReachable: async () => true });
    // The disk fails the next fdatasync (EIO), as a failing volume would.
    const probe = await open(join(dir, "probe"), "w");
    const datasync = vi.spyOn(Object.getPrototypeOf(probe) as { datasync: () => Promise<void> }, "datasync").mockRejectedValueOnce(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    await probe.close();
    try {
      const event = { userId: "u", event: "A", messageId: "written-once", writeKey: KEY };
      const send = () => app.inject({ method: "POST", url: "/v1/track", headers: { "content-type": "application/json" }, payload: JSON.stringify(event) });
      // The client retries while its first request is still waiting for the disk (a timeout on its side).
      const [first, repeat] = await Promise.all([send(), send()]);
      expect(first.statusCode).toBe(503);
      expect(repeat.statusCode).toBe(503);
      expect(repeat.json()).toMatchObject({ code: "spool_unavailable" });
      expect(repeat.headers["retry-after"]).toBe("5");
    } finally {
      datasync.mockRestore();
      await app.close();
      await spool.close();
    }
  });
});
