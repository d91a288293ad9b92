/**
 * The simulated product, checked against what it promises: deterministic per seed, weekday seasonality, the
 * anonymous-then-identified journey, adoption in the declared order, churn that shows in retention, and an incident
 * that dips traffic and produces error logs only inside its window.
 */
import { describe, expect, it } from "vitest";
import { DAY_MS, EVENTS, FEATURES, HOUR_MS, ProductModel, type AppLogLine, type ModelSpec, type SimEvent } from "../../scripts/simulate/model";
import { Random } from "../../scripts/simulate/random";

const START = Date.UTC(2026, 0, 5); // a Monday
const spec = (overrides: Partial<ModelSpec> = {}): ModelSpec => ({
  seed: 7, startMs: START, endMs: START + 56 * DAY_MS, signupsPerDay: 40, visitorsPerSignup: 2, ...overrides,
});

function run(s: ModelSpec): { events: SimEvent[]; logs: AppLogLine[]; model: ProductModel } {
  const model = new ProductModel(s);
  const events: SimEvent[] = [];
  const logs: AppLogLine[] = [];
  for (const day of model.days()) {
    events.push(...day.events);
    logs.push(...day.logs);
  }
  return { events, logs, model };
}

const eight = run(spec());
const userOf = (e: SimEvent) => ("userId" in e ? e.userId : undefined);
const tracks = (events: SimEvent[], name: string) => events.filter((e): e is Extract<SimEvent, { kind: "track" }> => e.kind === "track" && e.event === name);

describe("random", () => {
  it("repeats a stream for the same seed and label, and differs otherwise", () => {
    const draws = (r: Random) => Array.from({ length: 5 }, () => r.next());
    expect(draws(new Random(1).fork("a"))).toEqual(draws(new Random(1).fork("a")));
    expect(draws(new Random(1).fork("a"))).not.toEqual(draws(new Random(1).fork("b")));
    expect(draws(new Random(1))).not.toEqual(draws(new Random(2)));
  });

  it("draws Poisson counts with the requested mean", () => {
    const r = new Random(3);
    const n = 20_000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += r.poisson(12);
    expect(sum / n).toBeCloseTo(12, 0);
  });
});

describe("product model", () => {
  it("is deterministic: same spec, same events and logs; another seed, other events", () => {
    const again = run(spec());
    expect(again.events).toEqual(eight.events);
    expect(again.logs).toEqual(eight.logs);
    const other = run(spec({ seed: 8 }));
    expect(other.events.length).not.toBe(eight.events.length);
  });

  it("emits every event inside the simulated span, in time order", () => {
    const short = run(spec({ startMs: START + 6 * HOUR_MS, endMs: START + 3 * DAY_MS + 5 * HOUR_MS }));
    for (let i = 0; i < short.events.length; i++) {
      expect(short.events[i].timeMs).toBeGreaterThanOrEqual(START + 6 * HOUR_MS);
      expect(short.events[i].timeMs).toBeLessThan(START + 3 * DAY_MS + 5 * HOUR_MS);
      if (i > 0) expect(short.events[i].timeMs).toBeGreaterThanOrEqual(short.events[i - 1].timeMs);
    }
  });

  it("has weekday seasonality: more signups and active people on weekdays than at weekends", () => {
    const perWeekday = Array.from({ length: 7 }, () => ({ signups: 0, active: 0, days: 0 }));
    const activeByDay = new Map<number, Set<string>>();
    for (const e of eight.events) {
      const day = Math.floor(e.timeMs / DAY_MS);
      const who = userOf(e);
      if (who) (activeByDay.get(day) ?? activeByDay.set(day, new Set()).get(day)!).add(who);
      if (e.kind === "track" && e.event === EVENTS.signup) perWeekday[new Date(e.timeMs).getUTCDay()].signups++;
    }
    // Skip the ramp-up weeks: the active base grows while the first cohorts arrive.
    for (const [day, people] of activeByDay) {
      if (day * DAY_MS < START + 21 * DAY_MS) continue;
      const w = new Date(day * DAY_MS).getUTCDay();
      perWeekday[w].active += people.size;
      perWeekday[w].days++;
    }
    const mean = (days: number[], key: "signups" | "active") =>
      days.reduce((s, d) => s + perWeekday[d][key] / (key === "active" ? perWeekday[d].days : 8), 0) / days.length;
    expect(mean([1, 2, 3, 4], "signups")).toBeGreaterThan(2 * mean([0, 6], "signups"));
    expect(mean([1, 2, 3, 4], "active")).toBeGreaterThan(1.5 * mean([0, 6], "active"));
  });

  it("follows an anonymous visitor to the user they became: pages, then signup, identify and group with both ids", () => {
    const signups = tracks(eight.events, EVENTS.signup);
    expect(signups.length).toBeGreaterThan(1000);
    const identifies = new Map(eight.events.filter((e) => e.kind === "identify").map((e) => [userOf(e)!, e]));
    const groups = new Set(eight.events.filter((e) => e.kind === "group").map((e) => userOf(e)));
    const anonymousPages = new Map<string, number>();
    for (const e of tracks(eight.events, EVENTS.pageViewed)) {
      if (!e.userId) anonymousPages.set(e.anonymousId, Math.min(anonymousPages.get(e.anonymousId) ?? Infinity, e.timeMs));
    }
    for (const s of signups) {
      expect(s.userId).toMatch(/^user-\d{6}$/);
      const identify = identifies.get(s.userId!);
      expect(identify?.kind === "identify" && identify.anonymousId).toBe(s.anonymousId);
      expect(groups.has(s.userId)).toBe(true);
      // Only signups of the first minutes of the span can lack their pre-signup pages (they fell before it).
      if (s.timeMs > START + 3 * HOUR_MS) expect(anonymousPages.get(s.anonymousId)).toBeLessThan(s.timeMs);
    }
    const aliases = eight.events.filter((e) => e.kind === "alias");
    expect(aliases.length / signups.length).toBeGreaterThan(0.2);
    expect(aliases.length / signups.length).toBeLessThan(0.4);
    // Visitors who never sign up: anonymous ids with pages and no signup.
    const signedUpAnon = new Set(signups.map((s) => s.anonymousId));
    expect([...anonymousPages.keys()].filter((a) => !signedUpAnon.has(a)).length).toBeGreaterThan(signups.length);
  });

  it("activates about two thirds of signups, and the funnel narrows step by step", () => {
    const count = (name: string) => new Set(tracks(eight.events, name).map((e) => e.userId)).size;
    const signups = count(EVENTS.signup);
    expect(count(EVENTS.projectCreated) / signups).toBeGreaterThan(0.55);
    expect(count(EVENTS.projectCreated) / signups).toBeLessThan(0.72);
    expect(count(EVENTS.inviteSent)).toBeLessThan(count(EVENTS.projectCreated));
    expect(count(EVENTS.subscriptionStarted)).toBeLessThan(count(EVENTS.inviteSent));
    expect(count(EVENTS.subscriptionStarted)).toBeGreaterThan(0);
  });

  it("adopts features at their declared rates, in decreasing order", () => {
    const adopters = FEATURES.map((f) => new Set(tracks(eight.events, f.event).map((e) => e.userId)).size);
    for (let i = 1; i < adopters.length; i++) expect(adopters[i]).toBeLessThan(adopters[i - 1]);
    const activated = new Set(tracks(eight.events, EVENTS.projectCreated).map((e) => e.userId)).size;
    // The most adopted feature reaches most activated people; the least, a few percent.
    expect(adopters[0] / activated).toBeGreaterThan(0.6);
    expect(adopters[adopters.length - 1] / activated).toBeLessThan(0.06);
  });

  it("churns: fewer of a cohort come back after a week than after a day, and non-activated people churn faster", () => {
    const signupDay = new Map<string, number>();
    for (const s of tracks(eight.events, EVENTS.signup)) signupDay.set(s.userId!, Math.floor(s.timeMs / DAY_MS));
    const activated = new Set(tracks(eight.events, EVENTS.projectCreated).map((e) => e.userId));
    const activeDays = new Map<string, Set<number>>();
    for (const e of eight.events) {
      const who = userOf(e);
      if (who) (activeDays.get(who) ?? activeDays.set(who, new Set()).get(who)!).add(Math.floor(e.timeMs / DAY_MS));
    }
    const retained = (offset: number, filter: (u: string) => boolean) => {
      const cohort = [...signupDay].filter(([u, d]) => filter(u) && (d + offset) * DAY_MS < START + 56 * DAY_MS);
      return cohort.filter(([u, d]) => activeDays.get(u)!.has(d + offset)).length / cohort.length;
    };
    expect(retained(7, () => true)).toBeLessThan(retained(1, () => true));
    expect(retained(21, () => true)).toBeLessThan(retained(7, () => true));
    expect(retained(14, (u) => !activated.has(u))).toBeLessThan(retained(14, (u) => activated.has(u)) / 2);
    expect(eight.model.stats.churned).toBeGreaterThan(0);
  });

  it("dips traffic in the incident window, logs errors only there, and sends broken calls only there", () => {
    const incidentStart = START + 30 * DAY_MS + 14 * HOUR_MS;
    const incident = { startMs: incidentStart, endMs: incidentStart + 2 * HOUR_MS };
    const withIncident = run(spec({ incident }));
    const inWindow = (t: number, offsetDays = 0) => t >= incident.startMs - offsetDays * DAY_MS && t < incident.endMs - offsetDays * DAY_MS;
    const during = withIncident.events.filter((e) => e.kind === "track" && inWindow(e.timeMs)).length;
    // Same hours a week earlier (same weekday), before any incident.
    const weekBefore = withIncident.events.filter((e) => e.kind === "track" && inWindow(e.timeMs, 7)).length;
    expect(during).toBeLessThan(weekBefore * 0.7);

    const errors = withIncident.logs.filter((l) => l.level === "error");
    expect(errors.length).toBeGreaterThan(10);
    for (const line of errors) expect(inWindow(line.timeMs)).toBe(true);
    expect(errors.every((l) => typeof l.fields.user_id === "string" && typeof l.fields.request_id === "string")).toBe(true);
    const invalid = withIncident.events.filter((e) => e.kind === "invalid");
    expect(invalid).toHaveLength(12); // one per ten minutes of a two-hour window
    for (const e of invalid) expect(inWindow(e.timeMs)).toBe(true);
    expect(withIncident.logs.some((l) => l.msg === "release deployed" && l.timeMs === incident.startMs)).toBe(true);
    expect(withIncident.logs.some((l) => l.msg === "release rolled back" && l.timeMs === incident.endMs)).toBe(true);
    // Without an incident, nothing fails.
    expect(eight.logs.filter((l) => l.level !== "info")).toEqual([]);
    expect(eight.events.filter((e) => e.kind === "invalid")).toEqual([]);
  });

  it("keeps going live after the backfill: sessions of existing people stamped from the given time on", () => {
    const { model } = run(spec({ endMs: START + 7 * DAY_MS }));
    const now = START + 7 * DAY_MS + 10_000;
    let events = 0;
    for (let i = 0; i < 50; i++) {
      const burst = model.liveBurst(now);
      for (const e of burst.events) expect(e.timeMs).toBeGreaterThanOrEqual(now);
      events += burst.events.length;
    }
    expect(events).toBeGreaterThan(50);
  });
});
