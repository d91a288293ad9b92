/**
 * Review: after forget-user, every product panel gives the answer of a dataset that never had the person, computed
 * independently in TypeScript (tests/support/dataset.ts) from the rows without the person's; with the DAU, retention
 * and adoption snapshots refreshed before the deletion (stored answers that counted the person) and after it.
 * The person: the user with the most anonymous ids linked (identify and alias), a signup inside the range.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../components/stack-config";
import { productQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import { forgetPerson } from "../../scripts/forget-user";
import type { TestEngine } from "../support/clickhouse-engine";
import {
  DAY_MS, FUNNEL, dayOf, expectedActiveInDays, expectedAdoptionByWeek, expectedAdoptionInWeek, expectedDau, expectedFunnel, expectedRetention, expectedSignups,
  expectedStickiness, generateDataset, identityMap, panelTime, parseTime, splitIntoBatches, weekStart, type Dataset,
} from "../support/dataset";
import type { GrafanaContext } from "../support/grafana-macros";
import { insertEvents, insertIdentities, refreshSnapshots, runQuery, startAnalyticsEngine } from "../analytics/analytics-engine";

const settings = analyticsSettings(loadConfig({}, "test"));
const product = productQueries(settings);
const offsets = settings.retentionOffsetsDays;
const time = panelTime;

let engine: TestEngine;
let ds: Dataset;
let month: GrafanaContext;

/** The dataset without the person: their own rows, and the anonymous-only rows of the anonymous ids linked to them. */
function without(data: Dataset, user: string): Dataset {
  const links = identityMap(data);
  const theirs = new Set([user, ...[...links].filter(([, u]) => u === user).map(([anon]) => anon)]);
  return {
    ...data,
    events: data.events.filter((e) => e.user_id !== user && !(e.user_id === "" && theirs.has(e.anonymous_id))),
    identifies: data.identifies.filter((r) => r.user_id !== user),
    aliases: data.aliases.filter((r) => r.user_id !== user && !theirs.has(r.previous_id)),
  };
}

async function panels(): Promise<unknown> {
  const dau = (await runQuery<{ time: string; dau: number }>(engine, product.dau.sql, month)).map((r) => [time(r.time), Number(r.dau)]);
  const [{ wau }] = await runQuery<{ wau: number }>(engine, product.wau.sql, month);
  const [{ mau }] = await runQuery<{ mau: number }>(engine, product.mau.sql, month);
  const [{ stickiness }] = await runQuery<{ stickiness: number }>(engine, product.stickiness.sql, month);
  const [{ signups }] = await runQuery<{ signups: number }>(engine, product.newSignups.sql, month);
  const adoption = (await runQuery<{ feature: string; users: number; active: number; share: number }>(engine, product.adoptionThisWeek.sql, month))
    .map((r) => ({ feature: r.feature, users: Number(r.users), active: Number(r.active), share: r.share }));
  const adoptionByWeek = (await runQuery<{ time: string; feature: string; share: number }>(engine, product.adoptionOverTime.sql, month))
    .map((r) => [time(r.time), r.feature, r.share]);
  const funnel = (await runQuery<{ people: number }>(engine, product.funnel.sql, month)).map((r) => Number(r.people));
  const retention = (await runQuery<Record<string, number | string | null>>(engine, product.retention.sql, month))
    .map((r) => [time(r.cohort as string), Number(r.size), ...offsets.map((n) => r[`day_${n}`])]);
  return { dau, wau: Number(wau), mau: Number(mau), stickiness, signups: Number(signups), adoption, adoptionByWeek, funnel, retention };
}

function expected(data: Dataset): unknown {
  return {
    dau: [...expectedDau(data, dayOf(month.fromMs), dayOf(month.toMs))].filter(([, n]) => n > 0),
    wau: expectedActiveInDays(data, month.toMs, 7),
    mau: expectedActiveInDays(data, month.toMs, 30),
    stickiness: expectedStickiness(data, month.toMs),
    signups: expectedSignups(data, month.fromMs, month.toMs),
    adoption: expectedAdoptionInWeek(data, weekStart(month.toMs), settings.nonFeatureEvents)
      .sort((a, b) => b.share - a.share || a.feature.localeCompare(b.feature)),
    adoptionByWeek: expectedAdoptionByWeek(data, month.fromMs, month.toMs, settings.nonFeatureEvents),
    funnel: expectedFunnel(data, FUNNEL, settings.funnelWindowSeconds * 1000, month.fromMs, month.toMs),
    retention: expectedRetention(data, month.fromMs, month.toMs, offsets).map((c) => [c.cohort, c.size, ...offsets.map((n) => {
      const retained = c.retained.get(n);
      return retained === null || retained === undefined ? null : retained / c.size;
    })]),
  };
}

beforeAll(async () => {
  engine = await startAnalyticsEngine("review-forget-panels");
  ds = generateDataset();
  for (const batch of splitIntoBatches(ds.events, 3)) await insertEvents(engine, batch);
  await insertIdentities(engine, ds);
  const names = [...new Set(ds.events.map((e) => e.event_name))].sort();
  month = { fromMs: ds.endMs - 30 * DAY_MS, toMs: ds.endMs - 1000, intervalSeconds: 3600, variables: { event_name: names } };
});
afterAll(async () => engine?.close());

describe("panels after forget-user", () => {
  it("equal those of a dataset that never had the person, before and after the snapshots refresh", async () => {
    const links = identityMap(ds);
    const signedUp = new Set(ds.events.filter((e) => e.event_name === "signup" && e.user_id !== "" && parseTime(e.event_time) >= month.fromMs).map((e) => e.user_id));
    const linkedCount = (u: string) => [...links.values()].filter((v) => v === u).length;
    const person = [...signedUp].sort((a, b) => linkedCount(b) - linkedCount(a) || a.localeCompare(b))[0];
    expect(linkedCount(person)).toBeGreaterThan(0);
    const rest = without(ds, person);
    expect(expected(rest)).not.toEqual(expected(ds)); // the person shows in the panels

    expect(await panels()).toEqual(expected(ds));
    await refreshSnapshots(engine);
    expect(await panels()).toEqual(expected(ds));

    await forgetPerson(engine.client, [person], { dryRun: false });
    expect(await panels()).toEqual(expected(rest));
    await refreshSnapshots(engine);
    expect(await panels()).toEqual(expected(rest));
  });
});
