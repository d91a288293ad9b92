/**
 * Review regression test: a never-linked anonymous id that equals someone's user id is another person
 * (docs/data-model.md: "An anonymous id that was never linked is a person of its own"). Both keys are cityHash64 of an
 * id string, and the panels' person key used an unlinked anonymous row's key as is, in the user keys' space: the
 * visitor "bob" and the user "bob" were one person in DAU, WAU and retention (the visitor's visit retained the user),
 * while adoption counted them apart. Not a hash collision: the same string in the two id spaces, e.g. an app sending
 * its user id as anonymousId after logout without identify. dashboards/queries.ts moves unlinked anonymous keys out of
 * the user keys' space (unlinkedAnonPerson).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { ALL_EVENT_NAMES, productQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import type { TestEngine } from "../support/clickhouse-engine";
import { DAY_MS, expectedActiveInDays, expectedAdoptionInWeek, expectedDau, expectedRetention, type Dataset } from "../support/dataset";
import type { GrafanaContext } from "../support/grafana-macros";
import { ev, tinyDataset } from "../support/review-tiny-dataset";
import { insertEvents, runQuery, startAnalyticsEngine } from "./analytics-engine";

const settings = analyticsSettings(loadConfig({}, "test"));
const product = productQueries(settings);
const MONDAY = Date.parse("2026-01-12T00:00:00Z");
const H = 3_600_000;
let engine: TestEngine;
let ds: Dataset;
const week: GrafanaContext = { fromMs: MONDAY, toMs: MONDAY + 3 * DAY_MS - 1000, intervalSeconds: 3600, variables: { event_name: { allValue: ALL_EVENT_NAMES } } };

beforeAll(async () => {
  engine = await startAnalyticsEngine("review-id-namespaces");
  const events = [
    ev("signup", "bob", "", MONDAY + 10 * H), // the user bob signs up on Monday
    ev("page_viewed", "", "bob", MONDAY + DAY_MS + 10 * H), // Tuesday: only a visitor whose device id is "bob"
    ev("dashboard_viewed", "bob", "", MONDAY + 2 * DAY_MS + 9 * H), // Wednesday: both
    ev("page_viewed", "", "bob", MONDAY + 2 * DAY_MS + 10 * H),
  ];
  ds = tinyDataset(MONDAY, MONDAY + 3 * DAY_MS, events);
  await insertEvents(engine, events);
});
afterAll(async () => engine?.close());

describe("a visitor whose anonymous id equals a user id is another person", () => {
  it("DAU", async () => {
    const rows = await runQuery<{ dau: number }>(engine, product.dau.sql, week);
    expect(rows.map((r) => Number(r.dau))).toEqual([...expectedDau(ds, MONDAY, MONDAY + 2 * DAY_MS).values()]); // [1, 1, 2]
  });

  it("WAU", async () => {
    const [{ wau }] = await runQuery<{ wau: number }>(engine, product.wau.sql, week);
    expect(Number(wau)).toBe(expectedActiveInDays(ds, week.toMs, 7)); // 2
  });

  it("retention: the visitor's Tuesday visit does not retain the user", async () => {
    const [row] = await runQuery<{ size: number; day_1: number }>(engine, product.retention.sql, week);
    const [cohort] = expectedRetention(ds, week.fromMs, week.toMs, settings.retentionOffsetsDays);
    expect(row.day_1).toBe(cohort.retained.get(1)! / cohort.size); // 0
  });

  it("adoption this week counts them apart, as the truth does", async () => {
    const rows = await runQuery<{ active: number }>(engine, product.adoptionThisWeek.sql, week);
    expect(Number(rows[0].active)).toBe(expectedAdoptionInWeek(ds, MONDAY, settings.nonFeatureEvents)[0].active); // 2
  });
});
