/**
 * The floor bench:ingest-steady compares the ingest with must answer the load generator's requests like the ingest
 * does (200 to POST /track with a JSON body), or its figures would measure failed requests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startChild, stopChild, type Started } from "../../bench/children";
import { openLoop } from "../../bench/open-loop";

describe("bench/floor-server.ts", () => {
  let started: Started | undefined;
  const dir = mkdtempSync(join(tmpdir(), "floor-server-"));
  afterEach(async () => {
    if (started) await stopChild(started);
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers 200 to every steady POST /track", async () => {
    started = await startChild(join(__dirname, "..", "..", "bench", "floor-server.ts"), {}, join(dir, "floor.log"));
    const result = await openLoop({
      origin: started.url, path: "/track", headers: { "content-type": "application/json" },
      body: JSON.stringify({ user_id: 1, event_name: "page_view" }), rate: 200, seconds: 0.5, connections: 4,
    });
    expect(result).toMatchObject({ sent: 100, ok: 100, non2xx: 0, errors: 0 });
  }, 30_000);
});
