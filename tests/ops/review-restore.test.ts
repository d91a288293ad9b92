/**
 * Review: `npm run restore` with a backup name that does not exist (a typo) must refuse before doing anything,
 * as its message says ("nothing was changed"): no safety backup written to the backups disk either (a full copy
 * of the database, minutes and gigabytes on a real stack, left behind for every mistyped name).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restoreDatabase } from "../../scripts/backup";
import { insertSignup, startBackupEngine, type OpsEngine } from "./support/ops-engine";

describe("restore of a backup that does not exist", () => {
  let engine: OpsEngine;
  const backupDir = () => join(engine.dir, "backups");

  beforeAll(async () => {
    engine = await startBackupEngine();
    await insertSignup(engine, "m1", "u1", "2026-03-02 10:00:00.000");
  });
  afterAll(async () => { await engine?.close(); });

  it("is refused before the safety backup is taken", async () => {
    await expect(restoreDatabase(engine.client, { kind: "volume", name: "no-such-backup" }, { kind: "volume", name: "before-restore-x" }))
      .rejects.toThrow(/cannot read backup volume disk "backups", backup no-such-backup; nothing was changed/);
    expect(existsSync(join(backupDir(), "before-restore-x")), `backups disk holds ${existsSync(backupDir()) ? readdirSync(backupDir()).join(", ") : "nothing"}`).toBe(false);
    expect(await engine.rows("SELECT message_id FROM analytics.events")).toEqual([{ message_id: "m1" }]);
  });
});
