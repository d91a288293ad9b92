import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { startClickHouseHttp, type ClickHouseHttp } from "../support/clickhouse-http-server";

describe("ClickHouse HTTP endpoint over chDB", () => {
  let dataDir: string;
  let ch: ClickHouseHttp;
  let client: ClickHouseClient;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "ch-http-"));
    ch = await startClickHouseHttp({ dataDir, user: "writer", password: "s3cret" });
    client = createClient({ url: ch.url, username: "writer", password: "s3cret" });
  });
  afterAll(async () => {
    await client.close();
    await ch.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("answers ping, DDL, JSONEachRow inserts and parameterized queries like ClickHouse", async () => {
    expect((await client.ping()).success).toBe(true);
    await client.command({ query: "CREATE TABLE t (id String, p JSON, n UInt32) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100" });
    await client.insert({ table: "t", values: [{ id: "a", p: { plan: "pro" }, n: 1 }, { id: "b'; DROP TABLE t; --", p: {}, n: 2 }], format: "JSONEachRow" });
    const rows = await (await client.query({ query: "SELECT id, n FROM t WHERE n >= {min:UInt32} ORDER BY n", query_params: { min: 1 }, format: "JSONEachRow" })).json();
    expect(rows).toEqual([{ id: "a", n: 1 }, { id: "b'; DROP TABLE t; --", n: 2 }]);
    const json = await (await client.query({ query: "SELECT count() AS c FROM t WHERE id = {id:String}", query_params: { id: "b'; DROP TABLE t; --" }, format: "JSON" })).json<{ c: string }>();
    expect(json.data.map((r) => Number(r.c))).toEqual([1]);
  });

  it("honours insert_deduplication_token per insert", async () => {
    await client.command({ query: "CREATE TABLE d (id String) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100" });
    for (let i = 0; i < 3; i++) {
      await client.insert({ table: "d", values: [{ id: "x" }, { id: "y" }], format: "JSONEachRow", clickhouse_settings: { insert_deduplication_token: "batch-1" } });
    }
    await client.insert({ table: "d", values: [{ id: "x" }, { id: "y" }], format: "JSONEachRow", clickhouse_settings: { insert_deduplication_token: "batch-2" } });
    const [{ c }] = await (await client.query({ query: "SELECT count() AS c FROM d", format: "JSONEachRow" })).json<{ c: string }>();
    expect(Number(c)).toBe(4);
  });

  it("applies URL settings to one query only", async () => {
    const first = await (await client.query({ query: "SELECT getSetting('max_threads') AS v", format: "JSONEachRow", clickhouse_settings: { max_threads: 1 } })).json<{ v: number }>();
    const after = await (await client.query({ query: "SELECT getSetting('max_threads') AS v", format: "JSONEachRow" })).json<{ v: number }>();
    expect(Number(first[0].v)).toBe(1);
    expect(Number(after[0].v)).not.toBe(1);
  });

  it("returns ClickHouse errors with their code", async () => {
    await expect(client.query({ query: "SELECT * FROM missing_table" })).rejects.toMatchObject({ code: "60", type: "UNKNOWN_TABLE" });
    await expect(client.insert({ table: "t", values: [{ id: 1, n: "not a number" }], format: "JSONEachRow" })).rejects.toMatchObject({ code: expect.stringMatching(/^\d+$/) });
  });

  it("refuses wrong credentials with AUTHENTICATION_FAILED", async () => {
    const wrong = createClient({ url: ch.url, username: "writer", password: "nope" });
    await expect(wrong.query({ query: "SELECT 1" })).rejects.toMatchObject({ code: "516" });
    await wrong.close();
  });

  it("stops (connections refused) and restarts on the same data dir and port", async () => {
    await ch.stop();
    expect(ch.running()).toBe(false);
    await expect(client.query({ query: "SELECT 1" })).rejects.toThrow(/ECONNREFUSED|socket|connect/i);
    await ch.restart();
    const [{ c }] = await (await client.query({ query: "SELECT count() AS c FROM d", format: "JSONEachRow" })).json<{ c: string }>();
    expect(Number(c)).toBe(4);
  });
});
