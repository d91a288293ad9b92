/**
 * A real ClickHouse engine for tests: chDB in-process, behind `@clickhouse/client` through `chdb/connection`,
 * so tests exercise the same client calls production code makes.
 *
 * chDB locks its data directory per process, so each test file gets a fresh directory (and vitest runs each
 * file in its own forked process). Call `close()` in `afterAll`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { createChdbConnection } from "chdb/connection";

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>["connection"]>;

export interface TestEngine {
  readonly client: ClickHouseClient;
  readonly dataDir: string;
  /** Runs a query and returns its rows (JSONEachRow). */
  rows<T = Record<string, unknown>>(query: string, params?: Record<string, unknown>): Promise<T[]>;
  close(): Promise<void>;
}

export async function startTestEngine(label = "engine"): Promise<TestEngine> {
  const dataDir = mkdtempSync(join(tmpdir(), `chdb-${label}-`));
  // chdb types the connection against its own copy of @clickhouse/client-common; the runtime shape is the same.
  const connection = createChdbConnection({ path: dataDir }) as unknown as ClientConnection;
  const client = createClient({ connection });
  return {
    client,
    dataDir,
    async rows<T>(query: string, params?: Record<string, unknown>): Promise<T[]> {
      const result = await client.query({ query, query_params: params, format: "JSONEachRow" });
      return result.json<T>();
    },
    async close() {
      await client.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
