/**
 * The only code that talks to ClickHouse: inserts of pre-serialized JSONEachRow bytes (the spool's bytes go to
 * ClickHouse untouched), with an insert_deduplication_token, plus a ping for readiness.
 *
 * Table names come from the fixed TABLES list and the database from validated config, never from a request:
 * user input only ever travels as data in the insert body.
 */
import { Readable } from "node:stream";
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from "@clickhouse/client";

export interface ClickHouseSinkOptions {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly database: string;
  /** Milliseconds before an insert is abandoned (and retried). Defaults to 60000. */
  readonly requestTimeoutMs?: number;
}

export interface ClickHouseSink {
  /** Inserts the JSONEachRow bytes `chunks` (in order) into `database.table`; a repeat with the same token is stored once. */
  insert(table: string, chunks: readonly Buffer[], dedupToken: string): Promise<void>;
  /** True when ClickHouse answers its ping within the timeout. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Joins runs of small chunks into buffers of about `targetBytes`, lazily (one joined buffer at a time, as the socket
 * asks for more): a segment of single-event requests has one section per event, and writing thousands of 400-byte
 * chunks costs a chunked-encoding frame and event-loop time each. Chunks already that large pass through uncopied.
 */
export function* coalesceChunks(chunks: readonly Buffer[], targetBytes = 256 * 1024): Generator<Buffer> {
  let run: Buffer[] = [];
  let runBytes = 0;
  const flush = (): Buffer => {
    const joined = run.length === 1 ? run[0] : Buffer.concat(run, runBytes);
    run = [];
    runBytes = 0;
    return joined;
  };
  for (const chunk of chunks) {
    if (chunk.length >= targetBytes) {
      if (run.length > 0) yield flush();
      yield chunk;
      continue;
    }
    run.push(chunk);
    runBytes += chunk.length;
    if (runBytes >= targetBytes) yield flush();
  }
  if (run.length > 0) yield flush();
}

export function createClickHouseSink(options: ClickHouseSinkOptions): ClickHouseSink {
  if (!IDENTIFIER.test(options.database)) throw new Error(`ClickHouse database name ${JSON.stringify(options.database)} is not a plain identifier`);
  const client: ClickHouseClient = createClient({
    url: options.url,
    username: options.username,
    password: options.password,
    request_timeout: options.requestTimeoutMs ?? 60_000,
    max_open_connections: 4,
    keep_alive: { enabled: true },
    // The shipper logs each failure once, as JSON with a decision; the client's own stderr lines would repeat it.
    log: { level: ClickHouseLogLevel.OFF },
    clickhouse_settings: {
      // The spool is our durable queue; ClickHouse's async-insert buffer would ack before data is in a part.
      async_insert: 0,
      wait_end_of_query: 1,
      // A spooled batch is already acknowledged: a backfill spanning more than 100 months (the default limit of
      // partitions per insert, tables partition by month) would fail with TOO_MANY_PARTS, be retried forever and
      // block every event behind it. No limit: ClickHouse writes one part per partition, as it would in smaller inserts.
      max_partitions_per_insert_block: "0",
    },
  });
  return {
    async insert(table, chunks, dedupToken) {
      if (!IDENTIFIER.test(table)) throw new Error(`table name ${JSON.stringify(table)} is not a plain identifier`);
      const result = await client.exec({
        query: `INSERT INTO ${options.database}.${table} FORMAT JSONEachRow`,
        values: Readable.from(coalesceChunks(chunks), { objectMode: false }),
        clickhouse_settings: { insert_deduplication_token: dedupToken },
      });
      // The response body is empty for an insert, but it must be consumed to free the socket.
      result.stream.resume();
      await new Promise<void>((resolve, reject) => {
        result.stream.once("end", resolve);
        result.stream.once("error", reject);
      });
    },
    async ping() {
      const result = await client.ping();
      return result.success;
    },
    close: () => client.close(),
  };
}
