import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, readMigrationSources, toMigrationFiles } from "../components/migrations";
import { retentionStatements, ttlStatement } from "../components/retention";
import { loadConfig } from "../components/stack-config";
import { startTestEngine, type TestEngine } from "./support/clickhouse-engine";

describe("retention statements", () => {
  it("derive the events TTL from eventRetentionDays and the rollups' from rollupRetentionDays", () => {
    const cfg = loadConfig({ eventRetentionDays: "30", rollupRetentionDays: "400" }, "dev");
    expect(retentionStatements(cfg)).toEqual([
      "ALTER TABLE analytics.events MODIFY TTL toDate(event_time) + INTERVAL 30 DAY DELETE",
      "ALTER TABLE analytics.activity_daily MODIFY TTL toDate(day) + INTERVAL 400 DAY DELETE",
      "ALTER TABLE analytics.activity_weekly MODIFY TTL toDate(week) + INTERVAL 400 DAY DELETE",
      "ALTER TABLE analytics.feature_usage_weekly MODIFY TTL toDate(week) + INTERVAL 400 DAY DELETE",
      "ALTER TABLE analytics.events_hourly MODIFY TTL toDate(hour) + INTERVAL 400 DAY DELETE",
      "ALTER TABLE analytics.funnel_events MODIFY TTL toDate(day) + INTERVAL 400 DAY DELETE",
    ]);
  });

  it("reject malformed rules with a message naming the rule", () => {
    expect(() => ttlStatement({ table: "events; DROP TABLE x", timeColumn: "t", days: 1 })).toThrow(/expected database\.table/);
    expect(() => ttlStatement({ table: "analytics.daily", timeColumn: "day", days: 0 })).toThrow(
      "retention rule for analytics.daily: days must be a positive integer, got 0");
  });
});

describe("retention on ClickHouse (chDB)", () => {
  let engine: TestEngine;
  beforeAll(async () => { engine = await startTestEngine("retention"); });
  afterAll(async () => { await engine.close(); });

  it("applies after the migrations and deletes exactly the events older than the retention", async () => {
    const cfg = loadConfig({ eventRetentionDays: "30" }, "dev");
    const files = toMigrationFiles(readMigrationSources(join(__dirname, "..", "sql")));
    await applyMigrations(engine.client, files, { afterStatements: retentionStatements(cfg) });

    const [table] = await engine.rows<{ create: string }>("SELECT create_table_query AS create FROM system.tables " +
      "WHERE database = 'analytics' AND name = 'events'");
    expect(table.create).toContain("TTL toDate(event_time) + toIntervalDay(30)");

    // Ages in days: 0, 10, 29 are kept; 31, 45, 400 expire. Times relative to now so the test is date-independent.
    const ages = [0, 10, 29, 31, 45, 400];
    await engine.client.insert({
      table: "analytics.events",
      values: ages.map((age, i) => ({
        message_id: `m${i}`, type: "track", event_name: "page", user_id: `u${age}`, anonymous_id: "",
        properties: {}, context: {},
        event_time: new Date(Date.now() - age * 86_400_000).toISOString().replace("T", " ").replace("Z", ""),
        received_at: new Date().toISOString().replace("T", " ").replace("Z", ""),
      })),
      format: "JSONEachRow",
    });
    await engine.client.command({ query: "OPTIMIZE TABLE analytics.events FINAL" });
    const rows = await engine.rows<{ user_id: string }>("SELECT user_id FROM analytics.events ORDER BY user_id");
    expect(rows.map((r) => r.user_id)).toEqual(["u0", "u10", "u29"]);
  });

  it("a changed retention replaces the TTL", async () => {
    const cfg = loadConfig({ eventRetentionDays: "120" }, "dev");
    const files = toMigrationFiles(readMigrationSources(join(__dirname, "..", "sql")));
    const result = await applyMigrations(engine.client, files, { afterStatements: retentionStatements(cfg) });
    expect(result.statementsExecuted).toBe(retentionStatements(cfg).length);
    const [table] = await engine.rows<{ create: string }>("SELECT create_table_query AS create FROM system.tables " +
      "WHERE database = 'analytics' AND name = 'events'");
    expect(table.create).toContain("TTL toDate(event_time) + toIntervalDay(120)");
    expect(table.create).not.toContain("toIntervalDay(30)");
  });
});
