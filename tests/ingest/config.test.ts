import { describe, expect, it } from "vitest";
import { IngestConfigError, loadIngestConfig } from "../../ingest/src/config";

const minimal = { INGEST_WRITE_KEYS: "key-aaaaaaaa, key-bbbbbbbb", CLICKHOUSE_URL: "http://clickhouse:8123", CLICKHOUSE_PASSWORD: "pw" };

describe("ingest configuration from the environment", () => {
  it("applies documented defaults", () => {
    const c = loadIngestConfig(minimal);
    expect(c.writeKeys).toEqual(["key-aaaaaaaa", "key-bbbbbbbb"]);
    expect(c).toMatchObject({ host: "127.0.0.1", port: 8080, clickhouse: { username: "ingest_writer", database: "analytics" },
      spool: { maxBytes: 1024 ** 3, batchMaxEvents: 50_000, flushIntervalMs: 1000 }, retryAfterSeconds: 5 });
  });

  it("lists every problem at once, naming the variable", () => {
    try {
      loadIngestConfig({ INGEST_WRITE_KEYS: "short", INGEST_PORT: "http", CLICKHOUSE_URL: "clickhouse", CLICKHOUSE_DATABASE: "a;b" });
      throw new Error("expected an error");
    } catch (error) {
      expect(error).toBeInstanceOf(IngestConfigError);
      const problems = (error as IngestConfigError).problems.join("\n");
      for (const name of ["INGEST_WRITE_KEYS", "INGEST_PORT", "CLICKHOUSE_URL", "CLICKHOUSE_DATABASE", "CLICKHOUSE_PASSWORD"]) expect(problems).toContain(name);
    }
  });

  it("has no default secrets", () => {
    expect(() => loadIngestConfig({ CLICKHOUSE_URL: "http://x:8123", CLICKHOUSE_PASSWORD: "p" })).toThrow(/INGEST_WRITE_KEYS is required/);
    expect(() => loadIngestConfig({ INGEST_WRITE_KEYS: "key-aaaaaaaa", CLICKHOUSE_URL: "http://x:8123" })).toThrow(/CLICKHOUSE_PASSWORD is required/);
  });
});
