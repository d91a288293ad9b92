/**
 * Review regression test: two links of one anonymous id with the same timestamp (two identify calls in the same
 * millisecond). The rule (docs/data-model.md, "People"): the link stored last wins, as identity_links
 * (ReplacingMergeTree(linked_at)) keeps the last inserted row of a tie, merged or not, from the rollups or the
 * snapshots alike. (sql/0004's comment promised the larger user id on a tie; it is out of date and checksummed.) Two
 * devices get the same pair of links (uX and uY, same millisecond) in opposite orders, one insert each: each resolves
 * to the user of its last link, so they are two people.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { ALL_EVENT_NAMES, productQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import type { TestEngine } from "../support/clickhouse-engine";
import { DAY_MS } from "../support/dataset";
import type { GrafanaContext } from "../support/grafana-macros";
import { ev, identify } from "../support/review-tiny-dataset";
import { insertEvents, refreshSnapshots, runQuery, startAnalyticsEngine } from "./analytics-engine";

const settings = analyticsSettings(loadConfig({}, "test"));
const product = productQueries(settings);
const DAY = Date.parse("2026-01-14T00:00:00Z");
let engine: TestEngine;
const day: GrafanaContext = { fromMs: DAY, toMs: DAY + DAY_MS - 1000, intervalSeconds: 3600, variables: { event_name: { allValue: ALL_EVENT_NAMES } } };

beforeAll(async () => {
  engine = await startAnalyticsEngine("review-link-ties");
  await insertEvents(engine, [ev("page_viewed", "", "A1", DAY + 3_600_000), ev("page_viewed", "", "A2", DAY + 3_600_000)]);
  const at = DAY - DAY_MS; // both links of each device at the same millisecond
  // The same two links per device, inserted in opposite orders (one insert each, as separate ingest batches).
  for (const row of [identify("uX", "A1", at), identify("uY", "A1", at), identify("uY", "A2", at), identify("uX", "A2", at)]) {
    await engine.client.insert({ table: "analytics.identifies", values: [row], format: "JSONEachRow" });
  }
});
afterAll(async () => engine?.close());

describe("links with equal timestamps", () => {
  const dau = async () => Number((await runQuery<{ dau: number }>(engine, product.dau.sql, day))[0].dau);

  it("resolve each device to the user of the link stored last, the same before and after a merge and from a snapshot", async () => {
    expect(await dau()).toBe(2); // A1 -> uY, A2 -> uX
    await engine.client.command({ query: "OPTIMIZE TABLE analytics.identity_links FINAL" });
    expect(await dau()).toBe(2);
    await refreshSnapshots(engine);
    expect(await dau()).toBe(2);
    const links = await engine.rows<{ anon: string; user: string }>(
      "SELECT toString(anon_key = cityHash64('A1')) AS anon, toString(user_key = cityHash64('uY')) AS user FROM analytics.identity_links FINAL ORDER BY anon");
    expect(links).toEqual([{ anon: "0", user: "0" }, { anon: "1", user: "1" }]); // A2 -> uX, A1 -> uY
  });
});
