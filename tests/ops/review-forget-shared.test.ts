/**
 * Review: a shared computer. Alice identified on anonymous id anon-s, then bob did (the later link: the dashboards
 * count anon-s's anonymous events for bob). Forgetting alice must not take bob's link: bob's later anonymous visits
 * on that computer still count as bob, as in a dataset that never had alice. Known answer: bob active on the day
 * as himself and anonymously on anon-s is 1 person in DAU.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { productQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import { forgetPerson } from "../../scripts/forget-user";
import { DAY_MS, parseTime } from "../support/dataset";
import { runQuery } from "../analytics/analytics-engine";
import { startOpsEngine, type OpsEngine } from "./support/ops-engine";

const product = productQueries(analyticsSettings(loadConfig({}, "test")));
const DAY = "2026-03-04";

describe("forget-user on a shared computer", () => {
  let engine: OpsEngine;
  const event = (message_id: string, user_id: string, anonymous_id: string, at: string) =>
    ({ message_id, type: "track", event_name: "report_created", user_id, anonymous_id, properties: {}, context: {}, event_time: at, received_at: at });
  const identify = (message_id: string, user_id: string, anonymous_id: string, at: string) =>
    ({ message_id, user_id, anonymous_id, traits: {}, context: {}, event_time: at, received_at: at });
  const dau = async () => {
    const from = parseTime(`${DAY} 00:00:00`);
    const rows = await runQuery<{ time: string; dau: number }>(engine as never, product.dau.sql,
      { fromMs: from, toMs: from + DAY_MS - 1000, intervalSeconds: 3600, variables: { event_name: ["report_created"] } });
    return rows.map((r) => Number(r.dau));
  };

  beforeAll(async () => {
    engine = await startOpsEngine({ role: "migrator" });
    await engine.client.insert({ table: "analytics.identifies", format: "JSONEachRow", values: [identify("i1", "alice", "anon-s", "2026-03-01 09:00:00.000")] });
    await engine.client.insert({ table: "analytics.identifies", format: "JSONEachRow", values: [identify("i2", "bob", "anon-s", "2026-03-02 09:00:00.000")] });
    await engine.client.insert({ table: "analytics.events", format: "JSONEachRow", values: [
      event("a1", "alice", "anon-s", "2026-03-01 09:05:00.000"),
      event("b1", "bob", "anon-s", `${DAY} 09:00:00.000`), event("b2", "", "anon-s", `${DAY} 18:00:00.000`),
    ] });
  });
  afterAll(async () => { await engine?.close(); });

  it("keeps bob's link, so bob stays one person", async () => {
    expect(await dau()).toEqual([1]);
    await forgetPerson(engine.client, ["alice"], { dryRun: false });
    // A later anonymous visit of bob on the shared computer, after the deletion.
    await engine.client.insert({ table: "analytics.events", format: "JSONEachRow", values: [event("b3", "", "anon-s", `${DAY} 19:00:00.000`)] });
    expect(await dau()).toEqual([1]);
    const links = await engine.rows<{ n: string | number }>("SELECT count() AS n FROM analytics.identity_links WHERE user_key = cityHash64('alice')");
    expect(Number(links[0].n)).toBe(0);
  });
});
