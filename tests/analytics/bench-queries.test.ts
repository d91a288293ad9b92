/**
 * The query benchmark's parts on a small scale: argument checking, the SQL traffic generator (shape and
 * determinism) and the reference baseline (schema, copy and every baseline query run on chDB).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASELINE_COPY, BASELINE_QUERIES, BASELINE_RETENTION_ERRORS, BASELINE_SCHEMA } from "../../bench/queries-baseline";
import { median, parseBenchArgs } from "../../bench/queries";
import { DEFAULT_SHAPE, identifiesInsertSql, signupsInsertSql, trafficInsertSql, trafficSelectSql } from "../../bench/queries-traffic";
import type { TestEngine } from "../support/clickhouse-engine";
import { expandClickHouseMacros } from "../support/grafana-macros";
import { startAnalyticsEngine } from "./analytics-engine";

describe("bench arguments", () => {
  it("default to 10 million events and 5 runs, accept underscores", () => {
    expect(parseBenchArgs([])).toEqual({ events: 10_000_000, runs: 5 });
    expect(parseBenchArgs(["--events", "100_000_000", "--runs", "3"])).toEqual({ events: 100_000_000, runs: 3 });
  });

  it("reject a bad count naming the flag and the accepted range", () => {
    expect(() => parseBenchArgs(["--events", "lots"])).toThrow(/--events: got "lots", expected a whole number from 100000 to 1000000000/);
    expect(() => parseBenchArgs(["--runs", "0"])).toThrow(/--runs: got "0"/);
  });

  it("take a data directory to keep or reuse, and refuse an empty one", () => {
    expect(parseBenchArgs(["--data-dir", "/tmp/q100m"])).toEqual({ events: 10_000_000, runs: 5, dataDir: "/tmp/q100m" });
    expect(() => parseBenchArgs(["--data-dir", " "])).toThrow(/--data-dir: got an empty path/);
  });

  it("median of odd and even counts", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe("generated traffic and the baseline on chDB", () => {
  let engine: TestEngine;
  const shape = { ...DEFAULT_SHAPE, endDay: "2026-03-31", coreUsers: 200, casualUsers: 1800, casualDrawsPerDay: 300, visitors: 1000 };
  beforeAll(async () => {
    engine = await startAnalyticsEngine("bench-queries");
    for (const statement of BASELINE_SCHEMA) await engine.client.command({ query: statement });
    await engine.client.command({ query: identifiesInsertSql(shape) });
    await engine.client.command({ query: signupsInsertSql(shape) });
    await engine.client.command({ query: trafficInsertSql(shape, 0, 100_000) });
    await engine.client.command({ query: BASELINE_COPY });
  });
  afterAll(async () => engine?.close());

  it("has the documented shape: 60 days, about 4% anonymous events, late arrivals, every user and a quarter of the visitors linked", async () => {
    const [r] = await engine.rows<Record<string, number>>(`SELECT count() AS events, uniqExact(toDate(event_time)) AS days,
      countIf(user_id = '') / count() AS anonymous_share, countIf(received_at - event_time > 3600) / count() AS late_share,
      max(toDate(event_time)) = toDate('2026-03-31') AS ends_on_end_day FROM analytics.events`);
    expect(Number(r.events)).toBeGreaterThan(100_000); // plus signups and funnel steps
    expect(Number(r.days)).toBe(60);
    expect(r.anonymous_share).toBeGreaterThan(0.03);
    expect(r.anonymous_share).toBeLessThan(0.05);
    expect(r.late_share).toBeGreaterThan(0.01);
    expect(Number(r.ends_on_end_day)).toBe(1);
    const [links] = await engine.rows<{ devices: string; visitors: string; visitor_rows: string; anonymous_rows: string }>(`SELECT
      (SELECT count() FROM analytics.identity_links FINAL WHERE anon_key IN (SELECT cityHash64(anonymous_id) FROM analytics.identifies WHERE startsWith(anonymous_id, 'anon_v'))) AS visitors,
      (SELECT count() FROM analytics.identity_links FINAL) - visitors AS devices,
      (SELECT count() FROM analytics.activity_daily WHERE user_key = 0 AND anon_key IN (SELECT anon_key FROM analytics.identity_links)) AS visitor_rows,
      (SELECT count() FROM analytics.activity_daily WHERE user_key = 0) AS anonymous_rows`);
    expect(Number(links.devices)).toBe(2000);
    expect(Number(links.visitors)).toBeGreaterThan(200);
    expect(Number(links.visitors)).toBeLessThan(300);
    // The linked visitors' anonymous rows are about a quarter of all anonymous rows: resolution has work to do.
    expect(Number(links.visitor_rows) / Number(links.anonymous_rows)).toBeGreaterThan(0.15);
    expect(Number(links.visitor_rows) / Number(links.anonymous_rows)).toBeLessThan(0.35);
  });

  it("is deterministic: the inserted rows are exactly what the generator's SELECT returns again", async () => {
    const digest = "sum(cityHash64(message_id, event_name, user_id, anonymous_id, toString(properties), toString(context), event_time, received_at))";
    const [stored] = await engine.rows<{ h: string }>(`SELECT ${digest} AS h FROM analytics.events WHERE event_name NOT IN ('signup', 'project_created', 'invite_sent', 'subscription_started')`);
    const [again] = await engine.rows<{ h: string }>(`SELECT ${digest} AS h FROM (${trafficSelectSql(shape, 0, 100_000)})`);
    expect(again.h).toBe(stored.h);
    const [ids] = await engine.rows<{ n: string; distinct: string }>("SELECT count() AS n, uniqExact(message_id) AS distinct FROM analytics.events");
    expect(ids.distinct).toBe(ids.n);
  });

  it("copies the same events into the reference schema and runs every baseline query", async () => {
    const [r] = await engine.rows<{ ours: string; theirs: string }>("SELECT (SELECT count() FROM analytics.events) AS ours, (SELECT count() FROM reference.events) AS theirs");
    expect(r.theirs).toBe(r.ours);
    const ctx = { fromMs: Date.parse("2026-03-02T00:00:00Z"), toMs: Date.parse("2026-03-31T23:59:59Z"), intervalSeconds: 3600 };
    for (const [name, sql] of Object.entries(BASELINE_QUERIES)) {
      expect((await engine.rows(expandClickHouseMacros(sql, ctx))).length, name).toBeGreaterThan(0);
    }
    const [errors] = await engine.rows<{ wrong_cohorts: string; cohorts: string }>(expandClickHouseMacros(BASELINE_RETENTION_ERRORS, ctx));
    expect(Number(errors.cohorts)).toBeGreaterThan(20);
    expect(Number(errors.wrong_cohorts)).toBeGreaterThan(0); // the reference's off-by-one shows on this data
  });
});
