/**
 * Child process for tests/ingest/review2-spool-short-write.test.ts: opens the spool in argv[2] and appends records of
 * argv[3] bytes one at a time, printing one JSON line per append (`{"acked": i}` once its promise resolves, i.e. once the
 * service would answer 2xx; `{"refused": i}` when it rejects), then exits. The test runs it under a file-size limit
 * (RLIMIT_FSIZE, `ulimit -f`), which makes the kernel write only part of a write that crosses the limit, as a full disk does.
 * Each record's receivedAtMs is its index, so the test can tell which records survived.
 */
import { MessageIdIndex } from "../../ingest/src/message-id-index";
import { Spool } from "../../ingest/src/spool";
import { encodeRecord } from "../../ingest/src/spool-record";

async function main(): Promise<void> {
  const [dir, recordBytes, count] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
  const { spool } = await Spool.open({ dir, maxBytes: 1024 ** 3, segmentMaxRows: 1_000_000, segmentMaxBytes: 1024 ** 3, sealAfterMs: 60_000, messageIds: new MessageIdIndex() });
  const line = `{"message_id":"m","pad":"${"x".repeat(recordBytes)}"}\n`;
  for (let i = 0; i < count; i++) {
    const record = encodeRecord({ receivedAtMs: i, fingerprints: new Uint32Array(0), sections: [{ table: "events", rows: 1, bytes: Buffer.from(line) }] });
    try {
      await spool.append(record, 1, i);
      process.stdout.write(`${JSON.stringify({ acked: i })}\n`);
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ refused: i, error: (error as Error).message })}\n`);
      break;
    }
  }
  process.exit(0);
}

void main();
