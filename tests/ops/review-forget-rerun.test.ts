/**
 * Review: forget-user promises that a command stopped half-way can be run again. The hourly rollup is re-aggregated
 * for the person's hours; if the run stops after those hours were cleared but before they were written again (a
 * failed INSERT, a killed process), the rerun must still restore everyone else's hourly numbers. Known answer: the
 * hourly rollup equals what the remaining raw events give, hour by hour.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forgetPerson } from "../../scripts/forget-user";
import { startOpsEngine, type OpsEngine } from "./support/ops-engine";

const HOUR = "2026-03-02 10:15:00.000";

/** The client, with the first INSERT into analytics.events_hourly failing (as a timeout or a killed process would). */
function failingRebuild(client: ClickHouseClient): ClickHouseClient {
  let failed = false;
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === "command") {
        return async (params: { query: string }) => {
          if (!failed && /^\s*INSERT INTO analytics\.events_hourly\b/.test(params.query)) {
            failed = true;
            throw new Error("simulated failure of the hourly re-aggregation");
          }
          return target.command(params as Parameters<ClickHouseClient["command"]>[0]);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe("forget-user stopped half-way, then run again", () => {
  let engine: OpsEngine;
  const hourly = () => engine.rows("SELECT toString(hour) AS hour, event_name, toString(sum(events)) AS events, toString(uniqMerge(actors)) AS actors FROM analytics.events_hourly GROUP BY hour, event_name ORDER BY hour, event_name");
  const fromEvents = () => engine.rows("SELECT toString(toStartOfHour(event_time)) AS hour, event_name, toString(count()) AS events, " +
    "toString(uniq(if(user_id != '', cityHash64(user_id), cityHash64(anonymous_id)))) AS actors FROM analytics.events GROUP BY hour, event_name ORDER BY hour, event_name");

  beforeAll(async () => {
    engine = await startOpsEngine({ role: "migrator" });
    await engine.client.insert({
      table: "analytics.events", format: "JSONEachRow",
      values: ["alice", "bob", "carol", "bob"].map((user_id, i) => ({
        message_id: `m${i}`, type: "track", event_name: "report_created", user_id, anonymous_id: "", properties: {}, context: {}, event_time: HOUR, received_at: HOUR,
      })),
    });
  });
  afterAll(async () => { await engine?.close(); });

  it("keeps everyone else's hourly counts", async () => {
    await expect(forgetPerson(failingRebuild(engine.client), ["alice"], { dryRun: false })).rejects.toThrow(/simulated failure/);
    await forgetPerson(engine.client, ["alice"], { dryRun: false });
    expect(await fromEvents()).toEqual([{ hour: "2026-03-02 10:00:00", event_name: "report_created", events: "3", actors: "2" }]);
    expect(await hourly()).toEqual(await fromEvents());
  });

  it("forgets ids with quotes, backslashes and SQL-looking text as plain strings", async () => {
    const hostile = ["o'brien\\'); DROP TABLE analytics.events; --", "back\\slash\\", "{ids:Array(String)}", "x' OR 1=1 OR '"];
    await engine.client.insert({
      table: "analytics.events", format: "JSONEachRow",
      values: [...hostile, "dave"].map((user_id, i) => ({
        message_id: `h${i}`, type: "track", event_name: "report_created", user_id, anonymous_id: "", properties: {}, context: {}, event_time: HOUR, received_at: HOUR,
      })),
    });
    const report = await forgetPerson(engine.client, hostile, { dryRun: false });
    expect(report.tables.find((t) => t.table === "analytics.events")?.rows).toBe(hostile.length);
    expect((await engine.rows<{ user_id: string }>("SELECT DISTINCT user_id FROM analytics.events ORDER BY user_id")).map((r) => r.user_id)).toEqual(["bob", "carol", "dave"]);
    expect(await hourly()).toEqual(await fromEvents());
  });
});
