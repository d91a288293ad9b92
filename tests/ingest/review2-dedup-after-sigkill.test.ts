/**
 * Review 2: messageId idempotency across a SIGKILL while ClickHouse is down. Acknowledged events are then only in the
 * spool's segments (not yet shipped, so not in seen/ files): the restarted process must rebuild its idempotency index
 * from them, so a client re-sending the same messageIds after the restart (its acknowledgements were lost with the
 * connection) is acknowledged without storing the events twice.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startIngestProcess, type IngestProcess } from "./support/ingest-process";
import { until } from "./support/until";

const KEY = "dedup-after-kill-key";
const AUTH = `Basic ${Buffer.from(`${KEY}:`).toString("base64")}`;

describe("review2: idempotency after a SIGKILL with the events still spooled", () => {
  const dir = mkdtempSync(join(tmpdir(), "review2-dedup-kill-"));
  const started: IngestProcess[] = [];
  afterAll(async () => {
    for (const p of started) await p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("acknowledges the re-sent events as duplicates after the restart and spools nothing new", { timeout: 30_000 }, async () => {
    const start = async () => {
      // No ClickHouse listens there: nothing ships, the events stay in the spool.
      const p = await startIngestProcess({ clickhouseUrl: "http://127.0.0.1:9", spoolDir: join(dir, "spool"), writeKeys: [KEY] });
      started.push(p);
      return p;
    };
    /** The "spool recovered" log line (stdout is asynchronous: it may arrive after the process says it listens). */
    const recovered = async (p: IngestProcess) => {
      await until("the spool recovery log line", () => p.logs.some((l) => l.msg === "spool recovered"), 10_000);
      return p.logs.find((l) => l.msg === "spool recovered");
    };
    const post = async (ingest: IngestProcess, path: string, body: unknown) => {
      const res = await fetch(`${ingest.url}${path}`, { method: "POST", headers: { "content-type": "application/json", authorization: AUTH }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const batch = {
      batch: [
        { type: "track", userId: "u", event: "A", messageId: "kill-1" },
        { type: "identify", userId: "u", traits: { plan: "pro" }, messageId: "kill-2" },
      ],
    };
    const first = await start();
    expect(await post(first, "/v1/batch", batch)).toEqual({ status: 200, body: { success: true, accepted: 2, duplicates: 0 } });
    expect(await post(first, "/v1/track", { userId: "u", event: "B", messageId: "kill-3" })).toEqual({ status: 200, body: { success: true, accepted: 1, duplicates: 0 } });
    await first.kill("SIGKILL");

    const second = await start();
    expect(await recovered(second)).toMatchObject({ rows: 3 });
    expect(await post(second, "/v1/batch", batch)).toEqual({ status: 200, body: { success: true, accepted: 0, duplicates: 2 } });
    expect(await post(second, "/v1/track", { userId: "u", event: "B", messageId: "kill-3" })).toEqual({ status: 200, body: { success: true, accepted: 0, duplicates: 1 } });
    // A new id is still accepted: the index remembers the old ids, it does not refuse everything.
    expect(await post(second, "/v1/track", { userId: "u", event: "C", messageId: "kill-4" })).toEqual({ status: 200, body: { success: true, accepted: 1, duplicates: 0 } });
    await second.kill("SIGKILL");

    const third = await start();
    expect(await recovered(third)).toMatchObject({ rows: 4 });
  });
});
