/**
 * Review 2: a write the disk takes only in part. When a write crosses the end of the free space (ENOSPC) or the file-size
 * limit, write(2) stores a prefix and returns its length; libuv's write loop then gets the error on the rest and returns
 * the prefix length without an error, so `FileHandle.writev` resolves with bytesWritten < the bytes given. The promise is
 * that a 2xx means durable: an append whose record is not wholly on disk must not resolve.
 *
 * Reproduced with a real short write: the spool runs in a child process under RLIMIT_FSIZE (`ulimit -f`), which cuts a
 * write at the limit exactly as a full disk does. Afterwards the spool is recovered (as after a restart) and every
 * acknowledged record must be there.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MessageIdIndex } from "../../ingest/src/message-id-index";
import { Spool } from "../../ingest/src/spool";

const CHILD = join(__dirname, "..", "support", "review2-short-write-child.ts");

describe("review2: spool append cut short by the disk", () => {
  const dir = mkdtempSync(join(tmpdir(), "review2-short-write-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("never acknowledges a record that is only partly on disk", { timeout: 30_000 }, async () => {
    const spoolDir = join(dir, "spool");
    // 1 MiB file-size limit (bash counts 1024-byte blocks); 150 KB records: the 7th crosses the limit.
    const child = spawnSync("bash", ["-c", `ulimit -f 1024 && exec "${process.execPath}" --import tsx "${CHILD}" "${spoolDir}" 150000 10`], { encoding: "utf8", timeout: 20_000 });
    expect(child.status, child.stderr).toBe(0);
    const lines = child.stdout.trim().split("\n").map((l) => JSON.parse(l) as { acked?: number; refused?: number });
    const acked = lines.filter((l) => l.acked !== undefined).map((l) => l.acked);
    // The limit was hit: some append after the first few was refused.
    expect(lines.some((l) => l.refused !== undefined), child.stdout).toBe(true);

    // Restart: recovery reads every segment, drops torn tails, and must still hold every acknowledged record.
    const { spool } = await Spool.open({ dir: spoolDir, maxBytes: 1024 ** 3, segmentMaxRows: 1_000_000, sealAfterMs: 60_000, messageIds: new MessageIdIndex() });
    try {
      const recovered: number[] = [];
      for (const segment of spool.sealedSegments()) for (const record of (await spool.readSegment(segment)).records) recovered.push(record.receivedAtMs);
      expect(recovered, "records recovered after the restart, by index").toEqual(acked);
    } finally {
      await spool.close();
    }
  });
});
