/**
 * The funnel rollup (sql/0010 + components/funnel-rollup.ts): the funnel panel reads analytics.funnel_events and
 * must answer exactly what windowFunnel over the raw events answers, whichever way the rows got there:
 * - events stored BEFORE the view existed (the backfill),
 * - events inserted AFTER (the materialized view), a batch replayed, the statements rerun (duplicate rows),
 * - the funnel steps changed (the view recreated, the new steps backfilled).
 * Two oracles: the funnel computed in TypeScript from the rows (tests/support/dataset.ts) and the panel's former
 * query over analytics.events, run on the same engine.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { funnelRollupStatements } from "../../components/funnel-rollup";
import { applyMigrations, readMigrationSources, toMigrationFiles } from "../../components/migrations";
import { loadConfig } from "../../components/stack-config";
import { productQueries } from "../../dashboards/queries";
import { analyticsSettings } from "../../dashboards/settings";
import { startTestEngine, type TestEngine } from "../support/clickhouse-engine";
import { DAY_MS, FUNNEL, expectedFunnel, generateDataset, parseTime, splitIntoBatches, type Dataset, type EventRow } from "../support/dataset";
import type { GrafanaContext } from "../support/grafana-macros";
import { insertEvents, insertIdentities, runQuery, SQL_DIR } from "./analytics-engine";

describe("funnel rollup statements", () => {
  it("drop the view, recreate it for the steps, then backfill, in that order", () => {
    const statements = funnelRollupStatements(["signup", "invite_sent"]);
    expect(statements).toHaveLength(3);
    expect(statements[0]).toBe("DROP VIEW IF EXISTS analytics.funnel_events_mv");
    expect(statements[1]).toMatch(/^CREATE MATERIALIZED VIEW analytics\.funnel_events_mv TO analytics\.funnel_events AS SELECT/);
    expect(statements[2]).toMatch(/^INSERT INTO analytics\.funnel_events SELECT/);
    for (const s of statements.slice(1)) expect(s).toContain("WHERE event_name IN ('invite_sent', 'signup')");
  });

  it("are the same for the same set of steps in another order or repeated, so reordering reruns nothing", () => {
    expect(funnelRollupStatements(["b", "a", "b"])).toEqual(funnelRollupStatements(["a", "b"]));
    expect(funnelRollupStatements(["a", "c"])).not.toEqual(funnelRollupStatements(["a", "b"]));
  });

  it("escape steps as SQL strings and refuse an empty list", () => {
    expect(funnelRollupStatements(["it's", "a\\b"])[1]).toContain("IN ('a\\\\b', 'it\\'s')");
    expect(() => funnelRollupStatements([])).toThrow("funnel steps: got none");
  });
});

/**
 * Steps sent anonymously, from a device the user is linked to, an hour or more after the user's signup: only identity
 * resolution joins them to the user's signup. (The generated dataset sends its funnel steps with a user id.)
 */
function anonymousSteps(ds: Dataset, users: number): EventRow[] {
  const signups = new Map(ds.events.filter((e) => e.event_name === "signup" && e.user_id !== "").map((e) => [e.user_id, e.event_time]));
  const devices = ds.identifies.filter((i) => i.anonymous_id !== "" && signups.has(i.user_id)).slice(0, users);
  const later = (time: string, hours: number) => new Date(parseTime(time) + hours * 3_600_000).toISOString().replace("T", " ").replace("Z", "");
  const steps: [string, number][] = [["project_created", 1], ["invite_sent", 2], ["subscription_started", 3], ["dashboard_viewed", 1], ["report_exported", 2]];
  return devices.flatMap((device, d) => steps.map(([name, hours], i) => {
    const at = later(signups.get(device.user_id)!, hours);
    return { message_id: `anon-step-${d}-${i}`, type: "track", event_name: name, user_id: "", anonymous_id: device.anonymous_id,
      properties: {}, context: {}, event_time: at, received_at: at };
  }));
}

/** The funnel panel's query before the rollup: windowFunnel over analytics.events (the oracle in SQL). */
function rawFunnelSql(steps: readonly string[], windowSeconds: number): string {
  const list = steps.map((s) => `'${s}'`).join(", ");
  return `SELECT n AS step_number, [${list}][n] AS step, countIf(level >= n) AS people
FROM (
  SELECT if(user_id != '', cityHash64(user_id), if(ifNull(linked_user, 0) = 0, anon_key, linked_user)) AS person,
    windowFunnel(${windowSeconds * 1000})(toUInt64(toUnixTimestamp64Milli(event_time)), ${steps.map((s) => `event_name = '${s}'`).join(", ")}) AS level
  FROM (
    SELECT user_id, if(user_id = '', cityHash64(anonymous_id), 0) AS anon_key, event_time, event_name
    FROM analytics.events WHERE $__timeFilter(event_time) AND event_name IN (${list})
  ) AS steps
  LEFT ANY JOIN (SELECT anon_key, user_key AS linked_user FROM analytics.identity_links FINAL) AS links USING (anon_key)
  GROUP BY person
)
ARRAY JOIN range(1, ${steps.length + 1}) AS n
GROUP BY n
ORDER BY n`;
}

describe("funnel panel on the rollup (chDB)", () => {
  const cfg = loadConfig({}, "test");
  const NEW_STEPS = ["signup", "dashboard_viewed", "report_exported"];
  let engine: TestEngine;
  let ds: Dataset;
  let batches: EventRow[][];
  /** The dataset with only the events stored so far (the TypeScript oracle counts what ClickHouse holds). */
  let stored: Dataset;
  const files = toMigrationFiles(readMigrationSources(SQL_DIR));
  const runStatements = (steps: readonly string[]) => applyMigrations(engine.client, files, { afterStatements: funnelRollupStatements(steps) });
  const store = async (rows: readonly EventRow[]) => {
    await insertEvents(engine, rows);
    stored = { ...stored, events: [...stored.events, ...rows] };
  };
  const range = (fromMs: number, toMs: number): GrafanaContext => ({ fromMs, toMs, intervalSeconds: 3600, variables: {} });

  /**
   * Everything, the last 30 days, and ranges that start (end) just at and just after (before) a step event whose
   * inclusion changes the answer, mid-day: a filter on whole days alone would give both the same answer.
   * Bounds are whole seconds, as the Grafana plugin's macros render them.
   */
  function ranges(steps: readonly string[], windowMs: number): GrafanaContext[] {
    const whole = range(ds.startMs - DAY_MS, ds.endMs);
    const funnel = (ctx: GrafanaContext) => expectedFunnel(stored, steps, windowMs, ctx.fromMs, ctx.toMs).join();
    // Candidates: mid-day events of the first step (for the start) and of the last step (for the end).
    const midDay = (step: string) => stored.events.filter((e) => e.event_name === step).map((e) => parseTime(e.event_time))
      .filter((t) => t % DAY_MS > 3_600_000 && t % DAY_MS < DAY_MS - 3_600_000).sort((a, b) => a - b);
    const second = (t: number) => Math.floor(t / 1000) * 1000;
    const from = midDay(steps[0]).find((t) => funnel(range(second(t), whole.toMs)) !== funnel(range(second(t) + 1000, whole.toMs)))!;
    const to = midDay(steps.at(-1)!).find((t) => funnel(range(whole.fromMs, Math.ceil(t / 1000) * 1000)) !== funnel(range(whole.fromMs, Math.ceil(t / 1000) * 1000 - 1000)))!;
    expect(from, "a step event whose range start changes the funnel").toBeDefined();
    expect(to, "a step event whose range end changes the funnel").toBeDefined();
    return [
      whole,
      range(ds.endMs - 30 * DAY_MS, ds.endMs - 1000),
      range(second(from), whole.toMs),
      range(second(from) + 1000, whole.toMs),
      range(whole.fromMs, Math.ceil(to / 1000) * 1000),
      range(whole.fromMs, Math.ceil(to / 1000) * 1000 - 1000),
    ];
  }

  /** The panel's answer for every range equals the TypeScript oracle's and the raw-events query's. */
  async function expectFunnelsAgree(steps: readonly string[]): Promise<void> {
    const settings = analyticsSettings(cfg, { funnelSteps: steps });
    const panel = productQueries(settings).funnel.sql;
    expect(panel).toContain("FROM analytics.funnel_events");
    expect(panel).not.toContain("analytics.events");
    for (const ctx of ranges(steps, settings.funnelWindowSeconds * 1000)) {
      const ours = await runQuery<{ step: string; people: string }>(engine, panel, ctx);
      const raw = await runQuery<{ step: string; people: string }>(engine, rawFunnelSql(steps, settings.funnelWindowSeconds), ctx);
      const expected = expectedFunnel(stored, steps, settings.funnelWindowSeconds * 1000, ctx.fromMs, ctx.toMs);
      expect(ours.map((r) => r.step)).toEqual([...steps]);
      expect(ours.map((r) => Number(r.people)), `range ${new Date(ctx.fromMs).toISOString()} .. ${new Date(ctx.toMs).toISOString()}`)
        .toEqual(expected);
      expect(raw.map((r) => Number(r.people))).toEqual(expected);
    }
    // Known answers that test something: people at every step, and fewer at the last than at the first.
    const whole = expectedFunnel(stored, steps, settings.funnelWindowSeconds * 1000, ds.startMs - DAY_MS, ds.endMs);
    expect(whole.at(-1)).toBeGreaterThan(0);
    expect(whole[0]).toBeGreaterThan(whole.at(-1)!);
    // ...and that depend on resolving anonymous ids: without the links the answer would differ.
    const unlinked = expectedFunnel({ ...stored, identifies: [], aliases: [] }, steps, settings.funnelWindowSeconds * 1000, ds.startMs - DAY_MS, ds.endMs);
    expect(unlinked).not.toEqual(whole);
  }

  /** The rollup holds exactly the distinct step rows of the raw events (duplicates aside). */
  async function expectRollupRows(steps: readonly string[]): Promise<void> {
    const list = steps.map((s) => `'${s}'`).join(", ");
    const rollup = await engine.rows<{ h: string; n: string }>(`SELECT sum(cityHash64(day, event_name, user_key, anon_key, event_time)) AS h, count() AS n
      FROM (SELECT DISTINCT * FROM analytics.funnel_events WHERE event_name IN (${list}))`);
    const raw = await engine.rows<{ h: string; n: string }>(`SELECT sum(cityHash64(day, event_name, user_key, anon_key, event_time)) AS h, count() AS n
      FROM (SELECT DISTINCT toDate(event_time) AS day, event_name, if(user_id != '', cityHash64(user_id), 0) AS user_key,
        if(user_id = '', cityHash64(anonymous_id), 0) AS anon_key, event_time FROM analytics.events WHERE event_name IN (${list}))`);
    expect(Number(rollup[0].n)).toBeGreaterThan(0);
    expect(rollup).toEqual(raw);
  }

  beforeAll(async () => {
    engine = await startTestEngine("funnel-rollup");
    ds = generateDataset();
    batches = splitIntoBatches(ds.events, 6);
    // Anonymous steps go both ways: half stored before the view exists (backfill), half after (the view).
    const extra = anonymousSteps(ds, 12);
    batches[0] = [...batches[0], ...extra.slice(0, extra.length / 2)];
    batches[3] = [...batches[3], ...extra.slice(extra.length / 2)];
    ds = { ...ds, events: batches.flat() };
    stored = { ...ds, events: [] };
    // Migrations only: the events of the first batches are stored before the funnel view exists.
    await applyMigrations(engine.client, files);
    for (const batch of batches.slice(0, 3)) await store(batch);
  });
  afterAll(async () => engine?.close());

  it("backfills the events stored before the view existed", async () => {
    const result = await runStatements(FUNNEL);
    expect(result.statementsExecuted).toBe(3);
    await insertIdentities(engine, ds);
    await expectRollupRows(FUNNEL);
    await expectFunnelsAgree(FUNNEL);
  });

  it("collects events inserted after, through the view, a replayed batch changing nothing", async () => {
    for (const batch of batches.slice(3, 5)) await store(batch);
    await insertEvents(engine, batches[4]); // the ingest retried a batch ClickHouse had already stored
    await expectRollupRows(FUNNEL);
    await expectFunnelsAgree(FUNNEL);
  });

  it("gives the same answer with the duplicate rows of a rerun backfill, before and after they merge", async () => {
    await runStatements(FUNNEL);
    const count = async (sql: string) => Number((await engine.rows<{ n: string }>(sql))[0].n);
    const distinct = await count("SELECT count() AS n FROM (SELECT DISTINCT * FROM analytics.funnel_events)");
    expect(await count("SELECT count() AS n FROM analytics.funnel_events")).toBeGreaterThan(distinct);
    await expectFunnelsAgree(FUNNEL);
    await engine.client.command({ query: "OPTIMIZE TABLE analytics.funnel_events FINAL" });
    expect(await count("SELECT count() AS n FROM analytics.funnel_events")).toBe(distinct);
    await expectFunnelsAgree(FUNNEL);
  });

  it("backfills new steps when the steps change, and the recreated view collects only the new steps", async () => {
    await runStatements(NEW_STEPS);
    await expectRollupRows(NEW_STEPS);
    await expectFunnelsAgree(NEW_STEPS);
    const before = await engine.rows<{ n: string }>("SELECT count() AS n FROM analytics.funnel_events WHERE event_name IN ('project_created', 'invite_sent', 'subscription_started')");
    await store(batches[5]);
    await expectRollupRows(NEW_STEPS);
    await expectFunnelsAgree(NEW_STEPS);
    // The dropped steps' rows stay as they were (the query filters by step); no new ones arrive.
    expect(await engine.rows("SELECT count() AS n FROM analytics.funnel_events WHERE event_name IN ('project_created', 'invite_sent', 'subscription_started')"))
      .toEqual(before);
    expect(batches[5].some((e) => ["project_created", "invite_sent", "subscription_started"].includes(e.event_name))).toBe(true);
  });
});
