import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestEngine, type TestEngine } from "./support/clickhouse-engine";

describe("test ClickHouse engine", () => {
  let engine: TestEngine;
  beforeAll(async () => { engine = await startTestEngine("smoke"); });
  afterAll(async () => { await engine.close(); });

  it("runs DDL, JSON inserts and parameterized queries through @clickhouse/client", async () => {
    await engine.client.command({ query: "CREATE TABLE t (id String, p JSON) ENGINE = MergeTree ORDER BY id" });
    await engine.client.insert({ table: "t", values: [{ id: "a", p: { plan: "pro" } }, { id: "b", p: { plan: "free" } }], format: "JSONEachRow" });
    const rows = await engine.rows<{ id: string; plan: string }>(
      "SELECT id, p.plan::String AS plan FROM t WHERE id = {id:String}", { id: "b" });
    expect(rows).toEqual([{ id: "b", plan: "free" }]);
  });
});
