/**
 * Right to be forgotten, on the real engine with the real schema, run as a user holding exactly the migrator's
 * grants. Known answers: a small world whose rows per table are counted by hand (below), including a shared
 * computer (one anonymous id linked to two people) and an alias from a second anonymous id.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FORGET_PLAN, forgetPerson, main, reportLines } from "../../scripts/forget-user";
import type { StackLookup } from "../../scripts/ops/clickhouse-connection";
import { startClickHouseHttp } from "../support/clickhouse-http-server";
import { migrate } from "../ingest/support/ingest-process";
import { startOpsEngine, type OpsEngine } from "./support/ops-engine";

const DAY1 = "2026-03-02 10:15:00.000";
const DAY2 = "2026-03-03 16:40:00.000";

/**
 * alice: anonymous pages as anon-a1 (2 rows), then signs up and works as alice with anon-a1 (3 rows); identify
 *        alice/anon-a1; group alice/acme; alias anon-a2 -> alice, and anon-a2 had one anonymous page (1 row).
 *        On the shared laptop anon-shared: one anonymous page (1 row), identify alice/anon-shared.
 * bob:   two events as bob carrying anon-shared (they stay: bob's rows), identify bob/anon-b. (Bob is not linked
 *        to anon-shared by an identify: identity_links keeps one user per anonymous id after a merge, and merges run
 *        when they like, so two links on one anonymous id would make the row count a race.)
 * carol: unrelated, two events, identify carol/anon-c.
 */
const EVENTS: [string, string, string, string, string][] = [
  // message_id, event_name, user_id, anonymous_id, event_time
  ["e1", "page_viewed", "", "anon-a1", DAY1],
  ["e2", "page_viewed", "", "anon-a1", DAY1],
  ["e3", "signup", "alice", "anon-a1", DAY1],
  ["e4", "report_created", "alice", "anon-a1", DAY1],
  ["e5", "report_created", "alice", "anon-a1", DAY2],
  ["e6", "page_viewed", "", "anon-a2", DAY2],
  ["e7", "page_viewed", "", "anon-shared", DAY2],
  ["e8", "signup", "bob", "anon-shared", DAY2],
  ["e9", "report_created", "bob", "anon-shared", DAY2],
  ["e10", "signup", "carol", "anon-c", DAY1],
  ["e11", "report_created", "carol", "anon-c", DAY2],
];

async function seed(engine: OpsEngine): Promise<void> {
  const c = engine.client;
  await c.insert({
    table: "analytics.events", format: "JSONEachRow",
    values: EVENTS.map(([message_id, event_name, user_id, anonymous_id, event_time]) => ({
      message_id, type: "track", event_name, user_id, anonymous_id, properties: {}, context: {}, event_time, received_at: event_time,
    })),
  });
  const identify = (message_id: string, user_id: string, anonymous_id: string) =>
    ({ message_id, user_id, anonymous_id, traits: { plan: "team" }, context: {}, event_time: DAY1, received_at: DAY1 });
  await c.insert({ table: "analytics.identifies", format: "JSONEachRow", values: [identify("i1", "alice", "anon-a1"), identify("i2", "alice", "anon-shared"), identify("i3", "bob", "anon-b"), identify("i4", "carol", "anon-c")] });
  await c.insert({ table: "analytics.groups", format: "JSONEachRow", values: [{ message_id: "g1", user_id: "alice", anonymous_id: "anon-a1", group_id: "acme", traits: {}, context: {}, event_time: DAY1, received_at: DAY1 }] });
  await c.insert({ table: "analytics.aliases", format: "JSONEachRow", values: [{ message_id: "l1", user_id: "alice", previous_id: "anon-a2", context: {}, event_time: DAY2, received_at: DAY2 }] });
  await c.insert({
    table: "analytics.ingest_dead_letters", format: "JSONEachRow",
    values: [
      { failed_at: DAY2, target_table: "events", error_code: 27, reason: "Cannot parse input", message_id: "d1", row: JSON.stringify({ message_id: "d1", user_id: "alice", anonymous_id: "anon-a1" }) },
      { failed_at: DAY2, target_table: "events", error_code: 27, reason: "Cannot parse input", message_id: "d2", row: JSON.stringify({ message_id: "d2", user_id: "carol", anonymous_id: "anon-c" }) },
    ],
  });
}

/** Rows of each table that name alice by any of her ids or keys, computed by hand from the world above. */
const ALICE_ROWS: Record<string, number> = {
  "analytics.events": 7, // e1-e7
  "analytics.identifies": 2, // i1, i2
  "analytics.groups": 1,
  "analytics.aliases": 1,
  "analytics.ingest_dead_letters": 1,
  // Links from the identify and alias views: (anon-a1, alice), (anon-shared, alice), (anon-a2, alice).
  "analytics.identity_links": 3,
  // activity_daily: alice day1 and day2, anon-a1 day1, anon-a2 day2, anon-shared day2.
  "analytics.activity_daily": 5,
  // DAY1 and DAY2 are the Monday and Tuesday of one ISO week, so the weekly rollups hold one row per actor:
  // activity_weekly: alice, anon-a1, anon-a2, anon-shared.
  "analytics.activity_weekly": 4,
  // feature_usage_weekly: (signup, alice), (report_created, alice), (page_viewed, anon-a1), (page_viewed, anon-a2),
  // (page_viewed, anon-shared).
  "analytics.feature_usage_weekly": 5,
  "analytics.signups": 1,
  // funnel_events (default funnel steps): alice's signup, e3.
  "analytics.funnel_events": 1,
  // link_changes: the three links above as they arrived.
  "analytics.link_changes": 3,
  // day_changes: not deleted, marked changed: alice's two active days.
  "analytics.day_changes": 2,
};

describe("npm run forget-user", () => {
  let engine: OpsEngine;
  const counts = async (query: string) => Number((await engine.rows<{ n: string | number }>(query))[0].n);
  const hourly = () => engine.rows<{ hour: string; event_name: string; events: string; actors: string }>(
    "SELECT hour, event_name, sum(events) AS events, uniqMerge(actors) AS actors FROM analytics.events_hourly GROUP BY hour, event_name ORDER BY hour, event_name");
  const hourlyFromEvents = () => engine.rows<{ hour: string; event_name: string; events: string; actors: string }>(
    "SELECT toStartOfHour(event_time) AS hour, event_name, count() AS events, uniq(if(user_id != '', cityHash64(user_id), cityHash64(anonymous_id))) AS actors " +
    "FROM analytics.events GROUP BY hour, event_name ORDER BY hour, event_name");

  beforeAll(async () => {
    engine = await startOpsEngine({ role: "migrator" });
    await seed(engine);
  });
  afterAll(async () => { await engine?.close(); });

  it("covers every table the migrations create (add new tables to FORGET_PLAN in scripts/forget-user.ts)", async () => {
    const tables = await engine.rows<{ name: string; engine: string }>("SELECT name, engine FROM system.tables WHERE database = 'analytics'");
    const stored = tables.filter((t) => !/View$/.test(t.engine)).map((t) => `analytics.${t.name}`).sort();
    expect(stored, "a table holds data that forget-user does not know about: say in FORGET_PLAN how it holds per-person data")
      .toEqual(Object.keys(FORGET_PLAN).sort());
  });

  it("counts without deleting on a dry run", async () => {
    const report = await forgetPerson(engine.client, ["alice"], { dryRun: true });
    expect([...report.person.ids].sort()).toEqual(["alice", "anon-a1", "anon-a2", "anon-shared"]);
    expect(Object.fromEntries(report.tables.filter((t) => t.rebuiltBuckets === undefined).map((t) => [t.table, t.rows]))).toEqual(ALICE_ROWS);
    expect(report.tables.find((t) => t.table === "analytics.events_hourly")?.rebuiltBuckets).toBe(2);
    expect(await counts("SELECT count() AS n FROM analytics.events")).toBe(11);
  });

  it("deletes the person everywhere, keeps everyone else, and re-aggregates the hourly rollup without them", async () => {
    const bobBefore = await engine.rows("SELECT * FROM analytics.activity_daily WHERE user_key = cityHash64('bob') ORDER BY day");
    const [{ started }] = await engine.rows<{ started: string }>("SELECT toString(now64(3, 'UTC')) AS started");
    const report = await forgetPerson(engine.client, ["alice"], { dryRun: false });
    // Her days are marked changed until a day from now, so the DAU and retention snapshots count them again.
    expect(await engine.rows(`SELECT toString(day) AS day FROM analytics.day_changes
      WHERE changed_at >= toDateTime64('${started}', 3, 'UTC') + INTERVAL 1 DAY AND signup_changed_at >= toDateTime64('${started}', 3, 'UTC') + INTERVAL 1 DAY ORDER BY day`))
      .toEqual([{ day: "2026-03-02" }, { day: "2026-03-03" }]);
    expect(Object.fromEntries(report.tables.filter((t) => t.rebuiltBuckets === undefined).map((t) => [t.table, t.rows]))).toEqual(ALICE_ROWS);

    expect((await engine.rows<{ message_id: string }>("SELECT message_id FROM analytics.events ORDER BY message_id")).map((r) => r.message_id))
      .toEqual(["e10", "e11", "e8", "e9"]);
    expect((await engine.rows<{ message_id: string }>("SELECT message_id FROM analytics.identifies ORDER BY message_id")).map((r) => r.message_id)).toEqual(["i3", "i4"]);
    expect(await counts("SELECT count() AS n FROM analytics.groups")).toBe(0);
    expect(await counts("SELECT count() AS n FROM analytics.aliases")).toBe(0);
    expect((await engine.rows<{ message_id: string }>("SELECT message_id FROM analytics.ingest_dead_letters")).map((r) => r.message_id)).toEqual(["d2"]);
    const aliceKeys = "(cityHash64('alice'), cityHash64('anon-a1'), cityHash64('anon-a2'), cityHash64('anon-shared'))";
    for (const table of ["identity_links", "activity_daily", "activity_weekly", "feature_usage_weekly", "funnel_events"]) {
      expect(await counts(`SELECT count() AS n FROM analytics.${table} WHERE user_key IN ${aliceKeys} OR anon_key IN ${aliceKeys}`), table).toBe(0);
    }
    expect(await counts("SELECT count() AS n FROM analytics.signups WHERE user_key = cityHash64('alice')")).toBe(0);
    // Bob and carol are untouched: bob's activity, both signups, carol's link.
    expect(await engine.rows("SELECT * FROM analytics.activity_daily WHERE user_key = cityHash64('bob') ORDER BY day")).toEqual(bobBefore);
    expect(await counts("SELECT count() AS n FROM analytics.signups")).toBe(2);
    expect(await counts("SELECT count() AS n FROM analytics.funnel_events WHERE user_key IN (cityHash64('bob'), cityHash64('carol'))")).toBe(2);
    expect(await counts("SELECT count() AS n FROM analytics.identity_links WHERE anon_key IN (cityHash64('anon-c'), cityHash64('anon-b'))")).toBe(2);
    // The hourly rollup equals what the remaining events give, hour by hour (alice's hours included).
    expect(await hourly()).toEqual(await hourlyFromEvents());
    expect(await counts("SELECT sum(events) AS n FROM analytics.events_hourly")).toBe(4);
  });

  it("finds nothing the second time, and reports it", async () => {
    const report = await forgetPerson(engine.client, ["alice"], { dryRun: false });
    expect(report.tables.every((t) => t.rows === 0 && (t.rebuiltBuckets ?? 0) === 0)).toBe(true);
    const lines = reportLines(["alice"], report, "migrator@http://127.0.0.1:8123");
    expect(lines[0]).toBe('Forgot: "alice" and 0 linked ids on migrator@http://127.0.0.1:8123');
    expect(lines).toContain("Total: 0 rows deleted.");
    expect(lines.at(-1)).toContain("Loki");
  });
});

describe("forget-user command line", () => {
  const noStack: StackLookup = {
    url: () => { throw new Error("no stack here"); },
    password: () => { throw new Error("no stack here"); },
  };
  async function run(args: string[], env: Record<string, string> = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, env, { out: (l) => out.push(l), err: (l) => err.push(l), stack: noStack });
    return { code, out: out.join("\n"), err: err.join("\n") };
  }

  it("prints help", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("--user-id <id>");
  });

  it("exits 2 naming what is missing or wrong, and never the password", async () => {
    expect((await run([])).err).toContain("--user-id: required");
    const r = await run(["--user-id", "alice", "--clickhouse-user", "default"], { CLICKHOUSE_URL: "http://127.0.0.1:8123", CLICKHOUSE_PASSWORD: "s3cret-value" });
    expect(r.code).toBe(2);
    expect(r.err).toContain('the passwordless "default" user is removed by the stack; run as migrator');
    const bad = await run(["--user-id", "alice", "--url", "http://migrator:s3cret-value@127.0.0.1:8123"], { CLICKHOUSE_PASSWORD: "x" });
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("no user, password, path or query in it");
    expect(bad.err).not.toContain("s3cret-value");
    const noPassword = await run(["--user-id", "alice"], { CLICKHOUSE_URL: "http://127.0.0.1:8123" });
    expect(noPassword.err).toContain("no password for migrator: set CLICKHOUSE_PASSWORD (no stack here)");
    expect((await run(["--user-id", "alice", "--bogus"])).code).toBe(2);
  });

  it("forgets a person over ClickHouse's HTTP interface and prints the report (exit 0)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "forget-cli-"));
    const ch = await startClickHouseHttp({ dataDir: join(dir, "ch"), user: "migrator", password: "cli-test-password" });
    try {
      const url = ch.url;
      await migrate(url.replace("http://", "http://migrator:cli-test-password@"));
      const client = createClient({ url, username: "migrator", password: "cli-test-password" });
      await client.insert({
        table: "analytics.events", format: "JSONEachRow",
        values: ["alice", "alice", "carol"].map((user, i) => ({ message_id: `c${i}`, type: "track", event_name: "signup", user_id: user, anonymous_id: "", properties: {}, context: {}, event_time: DAY1, received_at: DAY1 })),
      });
      const dry = await run(["--user-id", "alice"], { CLICKHOUSE_URL: url, CLICKHOUSE_PASSWORD: "cli-test-password" });
      expect(dry.code, dry.err).toBe(0);
      expect(dry.out).toContain("Dry run (nothing deleted; add --yes to delete)");
      expect(dry.out).toMatch(/analytics\.events\s+would delete 2 rows/);
      const r = await run(["--user-id", "alice", "--yes"], { CLICKHOUSE_URL: url, CLICKHOUSE_PASSWORD: "cli-test-password" });
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain('Forgot: "alice" and 0 linked ids on migrator@' + url);
      expect(r.out).toMatch(/analytics\.events\s+deleted 2 rows/);
      expect(r.out).not.toContain("cli-test-password");
      const left = await (await client.query({ query: "SELECT user_id FROM analytics.events", format: "JSONEachRow" })).json<{ user_id: string }>();
      expect(left).toEqual([{ user_id: "carol" }]);
      await client.close();
    } finally {
      await ch.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 1 with the address when ClickHouse is not reachable", async () => {
    const r = await run(["--user-id", "alice"], { CLICKHOUSE_URL: "http://127.0.0.1:9", CLICKHOUSE_PASSWORD: "x" });
    expect(r.code).toBe(1);
    expect(r.err).toContain("forget-user: ClickHouse at migrator@http://127.0.0.1:9 failed");
  });
});
