/**
 * The real engine for spool and shipper tests: chDB behind the ClickHouse HTTP endpoint with every migration applied,
 * a query client and the ingest's own sink, started once per describe block and removed after it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { createClickHouseSink, type ClickHouseSink } from "../../../ingest/src/clickhouse-sink";
import { startClickHouseHttp, type ClickHouseHttp } from "../../support/clickhouse-http-server";
import { migrate } from "./ingest-process";

export interface ShippingEngine {
  /** A scratch directory for the block's spools (the engine's data lives under it too). */
  readonly dir: string;
  readonly ch: ClickHouseHttp;
  readonly client: ClickHouseClient;
  readonly sink: ClickHouseSink;
  /** The number in column `c` of the query's first row. */
  count(query: string): Promise<number>;
}

/**
 * Registers the block's beforeAll/afterAll and hands the started engine to `use` (tests keep it in their own
 * variables). `sinkTimeoutMs`: the sink's request timeout.
 */
export function useShippingEngine(prefix: string, sinkTimeoutMs: number, use: (engine: ShippingEngine) => void): void {
  let engine: ShippingEngine | undefined;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    const ch = await startClickHouseHttp({ dataDir: join(dir, "clickhouse") });
    await migrate(ch.url);
    const client = createClient({ url: ch.url });
    const sink = createClickHouseSink({ url: ch.url, username: "default", password: "", database: "analytics", requestTimeoutMs: sinkTimeoutMs });
    const count = async (query: string) => Number((await (await client.query({ query, format: "JSONEachRow" })).json<{ c: string }>())[0].c);
    engine = { dir, ch, client, sink, count };
    use(engine);
  });
  afterAll(async () => {
    await engine?.sink.close();
    await engine?.client.close();
    await engine?.ch.stop();
    if (engine) rmSync(engine.dir, { recursive: true, force: true });
  });
}
