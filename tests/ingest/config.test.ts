import { describe, expect, it } from "vitest";
import { IngestConfigError, loadIngestConfig, withFileSecrets } from "../../ingest/src/config";

const minimal = { INGEST_WRITE_KEYS: "key-aaaaaaaa, key-bbbbbbbb", CLICKHOUSE_URL: "http://clickhouse:8123", CLICKHOUSE_PASSWORD: "pw" };

describe("ingest configuration from the environment", () => {
  it("applies documented defaults", () => {
    const c = loadIngestConfig(minimal);
    expect(c.writeKeys).toEqual(["key-aaaaaaaa", "key-bbbbbbbb"]);
    expect(c).toMatchObject({ host: "127.0.0.1", port: 8080, clickhouse: { username: "ingest_writer", database: "analytics" },
      spool: { maxBytes: 1024 ** 3, batchMaxEvents: 50_000, flushIntervalMs: 1000, groupCommitIntervalMs: 2 }, retryAfterSeconds: 5 });
    expect(loadIngestConfig({ ...minimal, INGEST_GROUP_COMMIT_INTERVAL_MS: "0" }).spool.groupCommitIntervalMs).toBe(0);
    expect(() => loadIngestConfig({ ...minimal, INGEST_GROUP_COMMIT_INTERVAL_MS: "1000" })).toThrow(/INGEST_GROUP_COMMIT_INTERVAL_MS/);
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

describe("secrets from files", () => {
  it("reads <NAME>_FILE into <NAME>, dropping one trailing newline, unless <NAME> is set", () => {
    const files: Record<string, string> = { "/run/secrets/keys": "key-aaaaaaaa,key-bbbbbbbb\n", "/run/secrets/pw": "pw\n" };
    const env = withFileSecrets({ INGEST_WRITE_KEYS_FILE: "/run/secrets/keys", CLICKHOUSE_PASSWORD_FILE: "/run/secrets/pw", CLICKHOUSE_URL: "http://ch:8123" }, (p) => files[p]);
    expect(loadIngestConfig(env)).toMatchObject({ writeKeys: ["key-aaaaaaaa", "key-bbbbbbbb"], clickhouse: { password: "pw" } });
    expect(withFileSecrets({ CLICKHOUSE_PASSWORD: "direct", CLICKHOUSE_PASSWORD_FILE: "/x" }, () => "file").CLICKHOUSE_PASSWORD).toBe("direct");
  });
});
