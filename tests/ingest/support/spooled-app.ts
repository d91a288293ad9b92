/**
 * The ingest's HTTP app over a real spool in a temporary directory, for tests that post through `app.inject()`:
 * created in beforeAll, closed and removed in afterAll of the calling describe block.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll } from "vitest";
import { buildApp } from "../../../ingest/src/app";
import { MessageIdIndex } from "../../../ingest/src/message-id-index";
import { createMetrics } from "../../../ingest/src/metrics";
import { Spool } from "../../../ingest/src/spool";

export interface SpooledApp {
  readonly dir: string;
  readonly spool: Spool;
  readonly app: ReturnType<typeof buildApp>;
}

/**
 * Registers the set-up and tear-down; the returned object is filled in beforeAll (read its fields inside tests).
 * @param label prefix of the temporary directory
 * @param writeKey the one write key the app accepts
 * @param batchFastPath whether batches take the single-pass fast path (the app's default: true)
 */
export function useSpooledApp(label: string, writeKey: string, batchFastPath = true): SpooledApp {
  const state = {} as { dir: string; spool: Spool; app: ReturnType<typeof buildApp> };
  beforeAll(async () => {
    state.dir = mkdtempSync(join(tmpdir(), `${label}-`));
    const messageIds = new MessageIdIndex();
    ({ spool: state.spool } = await Spool.open({ dir: state.dir, maxBytes: 16 * 1024 * 1024, segmentMaxRows: 100_000, sealAfterMs: 60_000, messageIds }));
    state.app = buildApp({
      writeKeys: [writeKey], retryAfterSeconds: 5, spool: state.spool, messageIds, metrics: createMetrics(),
      logger: pino({ level: "silent" }), clickhouseReachable: async () => true, batchFastPath,
    });
  });
  afterAll(async () => {
    await state.app?.close();
    await state.spool?.close();
    if (state.dir) rmSync(state.dir, { recursive: true, force: true });
  });
  return state;
}
