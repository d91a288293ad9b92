/**
 * Rollup TTLs: derived from rollupRetentionDays and accepted by ClickHouse on every rollup table.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { retentionRules, ttlStatement } from "../../components/retention";
import type { TestEngine } from "../support/clickhouse-engine";
import { startAnalyticsEngine } from "./analytics-engine";

describe("rollup retention", () => {
  let engine: TestEngine;
  beforeAll(async () => { engine = await startAnalyticsEngine("rollup-retention"); });
  afterAll(async () => engine?.close());

  it("keeps the daily, weekly, hourly and funnel rollups rollupRetentionDays, and applies on ClickHouse", async () => {
    const cfg = loadConfig({ eventRetentionDays: "30", rollupRetentionDays: "400" }, "dev");
    const rollupRules = retentionRules(cfg).filter((r) => r.table !== "analytics.events");
    expect(rollupRules.map((r) => r.days)).toEqual([400, 400, 400, 400, 400]);
    for (const rule of rollupRules) await engine.client.command({ query: ttlStatement(rule) });
    const tables = await engine.rows<{ name: string; create: string }>(
      "SELECT name, create_table_query AS create FROM system.tables WHERE database = 'analytics' AND create_table_query LIKE '%TTL%' ORDER BY name");
    // link_changes (sql/0011) has its own fixed TTL: two days, all the snapshots' staleness check reads.
    expect(tables.map((t) => t.name)).toEqual(["activity_daily", "activity_weekly", "events_hourly", "feature_usage_weekly", "funnel_events", "link_changes"]);
    for (const t of tables.slice(0, -1)) expect(t.create).toContain("toIntervalDay(400)");
    expect(tables.at(-1)!.create).toContain("toIntervalDay(2)");
  });
});
