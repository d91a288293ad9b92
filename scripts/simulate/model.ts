/**
 * The simulated SaaS product: who signs up, who activates, which features they adopt, who churns, and what the app
 * logs when something breaks. A pure, deterministic function of a `ModelSpec`: the same spec yields the same
 * events in the same order, which is what makes `--seed` reproducible and the tests exact.
 *
 * The story each person follows (times in UTC):
 *   1. arrives as an anonymous visitor (an anonymous id, a few `page_viewed` events), and either leaves
 *      (`visitorsPerSignup` of them per signup never sign up) or, within two hours,
 *   2. signs up: `signup` (user id and anonymous id), `identify` (traits), `group` (their company) and, for some,
 *      `alias` (previous id = anonymous id); from then on every event carries both ids;
 *   3. activates (`project_created`) within two days, or not; activated people may invite a teammate
 *      (`invite_sent`) and start a subscription (`subscription_started`), the steps of the dashboards' funnel;
 *   4. adopts features at different rates (FEATURES), each after a few days;
 *   5. comes back on some days (weekdays more than weekends), until they churn: the daily churn hazard is much
 *      higher for people who never activated, which is what the retention cohorts show.
 * An incident window makes sessions bounce, makes one feature fail (its events are not sent; the app logs an
 * error per failure instead) and makes a buggy client send events without a name, which the ingest rejects.
 */
import { Random } from "./random";

export const DAY_MS = 86_400_000;
export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

/** Event names the dashboards know (dashboards/settings.ts: funnel steps and non-feature events). */
export const EVENTS = {
  pageViewed: "page_viewed",
  signup: "signup",
  projectCreated: "project_created",
  inviteSent: "invite_sent",
  subscriptionStarted: "subscription_started",
} as const;

export interface Feature {
  /** The track event name (a feature is an event name on the adoption panels). */
  readonly event: string;
  /** Share of activated people who eventually adopt it. */
  readonly adoption: number;
  /** Mean days from signup to first use. */
  readonly meanDaysToAdopt: number;
}

/** Features in decreasing adoption, so the adoption panel shows a clear ranking. */
export const FEATURES: readonly Feature[] = [
  { event: "dashboard_viewed", adoption: 0.85, meanDaysToAdopt: 0.5 },
  { event: "report_created", adoption: 0.5, meanDaysToAdopt: 2 },
  { event: "alert_configured", adoption: 0.3, meanDaysToAdopt: 4 },
  { event: "data_exported", adoption: 0.18, meanDaysToAdopt: 6 },
  { event: "integration_connected", adoption: 0.09, meanDaysToAdopt: 8 },
  { event: "api_key_created", adoption: 0.04, meanDaysToAdopt: 10 },
];

/** The feature that fails during an incident (its requests error out in the app). */
export const INCIDENT_FEATURE = "report_created";

/** Relative signup and activity level by UTC weekday, Sunday first. */
export const WEEKDAY_FACTOR: readonly number[] = [0.4, 1.1, 1.05, 1.0, 0.95, 0.85, 0.45];

/** Relative activity by UTC hour: a working-day curve with a lunch dip. */
const HOUR_WEIGHTS: readonly number[] = [
  1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 9, 7, 8, 10, 10, 9, 7, 5, 4, 3, 2, 2, 1,
];

const PAGES = ["/", "/pricing", "/features", "/docs", "/blog/launch", "/customers"] as const;
const APP_PAGES = ["/app", "/app/projects", "/app/reports", "/app/settings", "/app/team"] as const;
const PLANS = ["free", "free", "free", "trial", "trial", "team", "business"] as const;
const COMPANY_SIZES = ["1-10", "11-50", "51-200", "201-1000"] as const;

export interface IncidentWindow {
  readonly startMs: number;
  readonly endMs: number;
}

export interface ModelSpec {
  readonly seed: number;
  /** First simulated instant (inclusive), ms since the epoch. */
  readonly startMs: number;
  /** End of the simulated span (exclusive). */
  readonly endMs: number;
  /** Mean signups per day on an average weekday. */
  readonly signupsPerDay: number;
  /** Anonymous visitors who never sign up, per signup. */
  readonly visitorsPerSignup: number;
  readonly incident?: IncidentWindow;
}

/** A Segment call the simulated app makes (before it is turned into the wire format). */
export type SimEvent =
  | { readonly kind: "track"; readonly timeMs: number; readonly event: string; readonly userId?: string; readonly anonymousId: string; readonly properties: Record<string, string | number | boolean> }
  | { readonly kind: "identify"; readonly timeMs: number; readonly userId: string; readonly anonymousId: string; readonly traits: Record<string, string | number> }
  | { readonly kind: "group"; readonly timeMs: number; readonly userId: string; readonly anonymousId: string; readonly groupId: string; readonly traits: Record<string, string | number> }
  | { readonly kind: "alias"; readonly timeMs: number; readonly userId: string; readonly previousId: string }
  /** A broken track call (no event name) from the incident's buggy client; the ingest must refuse it. */
  | { readonly kind: "invalid"; readonly timeMs: number; readonly userId: string; readonly anonymousId: string };

export type LogLevel = "info" | "warn" | "error";

/** One line the simulated app writes to stdout (JSON with `time`, `level`, `msg`, as the log shipper expects). */
export interface AppLogLine {
  readonly timeMs: number;
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields: Readonly<Record<string, string | number>>;
}

export interface DayOutput {
  /** Start of the UTC day (ms). */
  readonly dayMs: number;
  /** Events of the day inside [startMs, endMs), in time order. */
  readonly events: readonly SimEvent[];
  readonly logs: readonly AppLogLine[];
}

/** Counts the summary reports; they are also the known answers the end-to-end test checks in ClickHouse. */
export interface ModelStats {
  /** People who stopped coming back (signups and activations are the `signup` and `project_created` counts). */
  churned: number;
  anonymousVisitors: number;
  incidentFailures: number;
  /** Track events by name. */
  readonly eventsByName: Record<string, number>;
  /** Calls by kind (track, identify, group, alias, invalid). */
  readonly callsByKind: Record<string, number>;
}

interface Person {
  readonly index: number;
  readonly userId: string;
  readonly anonymousId: string;
  readonly signupMs: number;
  readonly plan: string;
  /** 0.2-0.95: chance of coming back on an average weekday. */
  readonly engagement: number;
  /** When the person activates (project_created), if ever. */
  readonly activationMs?: number;
  readonly inviteMs?: number;
  readonly subscriptionMs?: number;
  /** Feature -> first day (ms) they may use it. */
  readonly adoptsAt: ReadonlyMap<string, number>;
  churned: boolean;
}

export function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

function inIncident(spec: ModelSpec, timeMs: number): boolean {
  return spec.incident !== undefined && timeMs >= spec.incident.startMs && timeMs < spec.incident.endMs;
}

/** A moment of the day drawn from the working-hours curve. */
function timeOfDay(rng: Random, dayMs: number): number {
  const hour = rng.weighted(HOUR_WEIGHTS);
  return dayMs + hour * HOUR_MS + Math.floor(rng.next() * HOUR_MS);
}

/** Exponential delay with the given mean, in ms. */
function exponentialMs(rng: Random, meanMs: number): number {
  return Math.floor(-Math.log(1 - rng.next()) * meanMs);
}

/**
 * Simulates the product day by day. Create one per run; `days()` yields each UTC day that overlaps
 * [startMs, endMs) in order. People who signed up earlier keep their state from day to day.
 */
export class ProductModel {
  readonly stats: ModelStats = {
    churned: 0, anonymousVisitors: 0, incidentFailures: 0, eventsByName: {}, callsByKind: {},
  };
  private readonly people: Person[] = [];
  private readonly root: Random;
  /** Events and lines a day produced for a later day (a session after midnight), released on that day. */
  private carriedEvents: SimEvent[] = [];
  private carriedLogs: AppLogLine[] = [];
  private readonly live: Random;
  private liveBursts = 0;

  constructor(readonly spec: ModelSpec) {
    if (!(spec.endMs > spec.startMs)) throw new Error("ModelSpec: endMs must be after startMs");
    this.root = new Random(spec.seed);
    this.live = this.root.fork("live");
  }

  *days(): Generator<DayOutput> {
    for (let day = startOfUtcDay(this.spec.startMs); day < this.spec.endMs; day += DAY_MS) yield this.simulateDay(day);
  }

  private simulateDay(dayMs: number): DayOutput {
    const rng = this.root.fork(`day:${dayMs}`);
    const events: SimEvent[] = [];
    const logs: AppLogLine[] = [];
    const weekday = new Date(dayMs).getUTCDay();

    // Returning people first (everyone who signed up before today), then today's new ones.
    for (const person of this.people) this.returningDay(person, dayMs, weekday, rng.fork(`person:${person.index}`), events, logs);

    const signups = rng.poisson(this.spec.signupsPerDay * WEEKDAY_FACTOR[weekday]);
    for (let i = 0; i < signups; i++) this.newPerson(dayMs, rng, events, logs);
    const visitors = rng.poisson(this.spec.signupsPerDay * this.spec.visitorsPerSignup * WEEKDAY_FACTOR[weekday]);
    for (let i = 0; i < visitors; i++) this.anonymousVisit(dayMs, rng, events);

    if (this.spec.incident) this.incidentDay(dayMs, rng, events, logs);

    const nextDay = dayMs + DAY_MS;
    const today = this.release(events, this.carriedEvents, nextDay);
    const todayLogs = this.release(logs, this.carriedLogs, nextDay);
    this.carriedEvents = today.later;
    this.carriedLogs = todayLogs.later;
    this.count(today.now);
    return { dayMs, events: today.now, logs: todayLogs.now };
  }

  /** Splits into what falls before `until` (in range, time order) and what waits for a later day. */
  private release<T extends { timeMs: number }>(fresh: T[], carried: T[], until: number): { now: T[]; later: T[] } {
    const now: T[] = [];
    const later: T[] = [];
    for (const item of [...carried, ...fresh]) {
      if (item.timeMs >= until) later.push(item);
      else if (item.timeMs >= this.spec.startMs && item.timeMs < this.spec.endMs) now.push(item);
    }
    // Stable sort: same-millisecond events keep the order the person did them in.
    now.sort((a, b) => a.timeMs - b.timeMs);
    return { now, later };
  }

  private count(events: readonly SimEvent[]): void {
    for (const e of events) {
      this.stats.callsByKind[e.kind] = (this.stats.callsByKind[e.kind] ?? 0) + 1;
      if (e.kind === "track") this.stats.eventsByName[e.event] = (this.stats.eventsByName[e.event] ?? 0) + 1;
    }
  }

  /**
   * Live traffic at `nowMs`: one session of a returning person picked by engagement, or (one time in twenty, or
   * when nobody has signed up yet) a new signup with its anonymous journey. Call it after `days()` is exhausted;
   * events are stamped from `nowMs` on, and the incident window applies as in the backfill.
   */
  liveBurst(nowMs: number): { events: SimEvent[]; logs: AppLogLine[] } {
    const rng = this.live.fork(`burst:${this.liveBursts++}`);
    const events: SimEvent[] = [];
    const logs: AppLogLine[] = [];
    const dayMs = startOfUtcDay(nowMs);
    const active = this.people.filter((p) => !p.churned);
    if (active.length === 0 || rng.chance(0.05)) {
      this.newPerson(dayMs, rng, events, logs, nowMs);
    } else {
      const person = active[rng.weighted(active.map((p) => p.engagement))];
      if (!this.bounces(person, nowMs, rng, logs)) this.session(person, nowMs, dayMs, rng, events, logs);
    }
    // Live events are never in the past: the anonymous pages of a live signup happened just now, not hours ago.
    const shifted = events.map((e) => (e.timeMs < nowMs ? { ...e, timeMs: nowMs } : e)).sort((a, b) => a.timeMs - b.timeMs);
    this.count(shifted);
    return { events: shifted, logs: logs.sort((a, b) => a.timeMs - b.timeMs) };
  }

  private newPerson(dayMs: number, rng: Random, events: SimEvent[], logs: AppLogLine[], atMs?: number): void {
    const index = this.people.length;
    const prng = rng.fork(`signup:${index}`);
    const anonymousId = `anon-${prng.hex(8)}`;
    const userId = `user-${String(index + 1).padStart(6, "0")}`;
    let signupMs = atMs ?? timeOfDay(prng, dayMs);
    // An incident makes sign-up fail for some visitors; they try again after it.
    if (inIncident(this.spec, signupMs) && prng.chance(0.5)) signupMs = this.spec.incident!.endMs + exponentialMs(prng, HOUR_MS);

    // The anonymous part of the journey: a few marketing pages in the two hours before signing up.
    const views = prng.int(1, 4);
    for (let v = 0; v < views; v++) {
      events.push({ kind: "track", timeMs: signupMs - prng.int(1, 120) * MINUTE_MS, event: EVENTS.pageViewed, anonymousId, properties: { path: prng.pick(PAGES) } });
    }

    const plan = prng.pick(PLANS);
    const activates = prng.chance(0.65);
    const activationMs = activates ? signupMs + MINUTE_MS + exponentialMs(prng, 8 * HOUR_MS) : undefined;
    // Invite and subscription within the funnel's two-day window of the signup, or (rarely) later.
    const inviteMs = activationMs !== undefined && prng.chance(0.5) ? activationMs + exponentialMs(prng, 10 * HOUR_MS) : undefined;
    const subscriptionMs = inviteMs !== undefined && prng.chance(0.45) ? inviteMs + exponentialMs(prng, 12 * HOUR_MS) : undefined;
    const adoptsAt = new Map<string, number>();
    if (activationMs !== undefined) {
      for (const f of FEATURES) {
        if (prng.chance(f.adoption)) adoptsAt.set(f.event, startOfUtcDay(activationMs + exponentialMs(prng, f.meanDaysToAdopt * DAY_MS)));
      }
    }
    const person: Person = {
      index, userId, anonymousId, signupMs, plan,
      engagement: 0.2 + prng.next() * 0.75,
      activationMs, inviteMs, subscriptionMs, adoptsAt, churned: false,
    };
    this.people.push(person);

    const company = `company-${String(Math.floor(index / 3) + 1).padStart(5, "0")}`;
    events.push({ kind: "track", timeMs: signupMs, event: EVENTS.signup, userId, anonymousId, properties: { plan, method: prng.pick(["email", "google", "github"]) } });
    events.push({ kind: "identify", timeMs: signupMs + 1, userId, anonymousId, traits: { plan, company_size: prng.pick(COMPANY_SIZES), created_at: new Date(signupMs).toISOString() } });
    events.push({ kind: "group", timeMs: signupMs + 2, userId, anonymousId, groupId: company, traits: { name: `Company ${company.slice(8)}`, plan } });
    if (prng.chance(0.3)) events.push({ kind: "alias", timeMs: signupMs + 3, userId, previousId: anonymousId });
    logs.push({ timeMs: signupMs, level: "info", msg: "account created", fields: { user_id: userId, plan, request_id: `req-${prng.hex(6)}` } });

    // The rest of the signup day: onboarding pages, and the activation steps that fall on it.
    this.session(person, signupMs + MINUTE_MS, dayMs, prng, events, logs);
  }

  private anonymousVisit(dayMs: number, rng: Random, events: SimEvent[]): void {
    const vrng = rng.fork(`visitor:${this.stats.anonymousVisitors}`);
    this.stats.anonymousVisitors++;
    const anonymousId = `anon-${vrng.hex(8)}`;
    const start = timeOfDay(vrng, dayMs);
    const views = vrng.int(1, 3);
    for (let v = 0; v < views; v++) {
      events.push({ kind: "track", timeMs: start + v * vrng.int(10, 180) * 1000, event: EVENTS.pageViewed, anonymousId, properties: { path: vrng.pick(PAGES) } });
    }
  }

  private returningDay(person: Person, dayMs: number, weekday: number, rng: Random, events: SimEvent[], logs: AppLogLine[]): void {
    if (person.churned) return;
    // Activation steps scheduled for today happen whether or not the person would otherwise come back.
    const scheduled = [person.activationMs, person.inviteMs, person.subscriptionMs].some((t) => t !== undefined && startOfUtcDay(t) === dayMs);
    const hazard = (person.activationMs !== undefined && person.activationMs < dayMs ? 0.02 : 0.12) * (1.2 - person.engagement);
    if (!scheduled && rng.chance(hazard)) {
      person.churned = true;
      this.stats.churned++;
      return;
    }
    if (!scheduled && !rng.chance(person.engagement * WEEKDAY_FACTOR[weekday])) return;
    let start = timeOfDay(rng, dayMs);
    // During an incident most sessions bounce: the person gives up and comes back later, or not at all today.
    if (this.bounces(person, start, rng, logs)) {
      if (!rng.chance(0.4)) return;
      start = this.spec.incident!.endMs + exponentialMs(rng, 2 * HOUR_MS);
    }
    this.session(person, start, dayMs, rng, events, logs);
  }

  /** During an incident most visits fail on their first request (logged by the app) and the person leaves. */
  private bounces(person: Person, atMs: number, rng: Random, logs: AppLogLine[]): boolean {
    if (!inIncident(this.spec, atMs) || !rng.chance(0.6)) return false;
    logs.push({
      timeMs: atMs, level: "error", msg: "request failed",
      fields: { user_id: person.userId, request_id: `req-${rng.hex(6)}`, path: rng.pick(APP_PAGES), status: 502, error: "upstream reports-renderer unavailable", release: "v2.14.0" },
    });
    return true;
  }

  /** One visit to the app: pages, the features the person has adopted, and any onboarding step due today. */
  private session(person: Person, startMs: number, dayMs: number, rng: Random, events: SimEvent[], logs: AppLogLine[]): void {
    const { userId, anonymousId } = person;
    let t = startMs;
    const step = () => (t += rng.int(5, 240) * 1000);
    const track = (event: string, properties: Record<string, string | number | boolean>) =>
      events.push({ kind: "track", timeMs: t, event, userId, anonymousId, properties });

    const pages = rng.int(1, 4);
    for (let p = 0; p < pages; p++) {
      track(EVENTS.pageViewed, { path: rng.pick(APP_PAGES) });
      step();
    }
    const due = (at: number | undefined) => at !== undefined && startOfUtcDay(at) === dayMs;
    if (due(person.activationMs)) events.push({ kind: "track", timeMs: person.activationMs!, event: EVENTS.projectCreated, userId, anonymousId, properties: { template: rng.pick(["blank", "saas-metrics", "marketing"]) } });
    if (due(person.inviteMs)) events.push({ kind: "track", timeMs: person.inviteMs!, event: EVENTS.inviteSent, userId, anonymousId, properties: { role: rng.pick(["editor", "viewer"]) } });
    if (due(person.subscriptionMs)) events.push({ kind: "track", timeMs: person.subscriptionMs!, event: EVENTS.subscriptionStarted, userId, anonymousId, properties: { plan: rng.pick(["team", "business"]), seats: rng.int(2, 25) } });

    for (const feature of FEATURES) {
      const from = person.adoptsAt.get(feature.event);
      if (from === undefined || from > dayMs || !rng.chance(0.55)) continue;
      const uses = rng.int(1, 3);
      for (let u = 0; u < uses; u++) {
        step();
        if (feature.event === INCIDENT_FEATURE && inIncident(this.spec, t)) {
          this.stats.incidentFailures++;
          logs.push({
            timeMs: t, level: "error", msg: "report generation failed",
            fields: { user_id: userId, request_id: `req-${rng.hex(6)}`, error: "upstream timeout after 30000 ms (reports-renderer)", release: "v2.14.0" },
          });
          continue;
        }
        track(feature.event, { plan: person.plan });
      }
    }
  }

  /** Deploy markers around the incident, retries logged as warnings, and the buggy client's nameless events. */
  private incidentDay(dayMs: number, rng: Random, events: SimEvent[], logs: AppLogLine[]): void {
    const { startMs, endMs } = this.spec.incident!;
    if (startOfUtcDay(startMs) === dayMs) {
      logs.push({ timeMs: startMs, level: "info", msg: "release deployed", fields: { release: "v2.14.0" } });
    }
    if (startOfUtcDay(endMs) === dayMs) {
      logs.push({ timeMs: endMs, level: "info", msg: "release rolled back", fields: { release: "v2.13.2", reason: "report generation failing" } });
    }
    const irng = rng.fork("incident");
    // Every ten minutes of the window that fall on this day: one warning and one broken call.
    for (let t = startMs; t < endMs; t += 10 * MINUTE_MS) {
      if (startOfUtcDay(t) !== dayMs) continue;
      const person = this.people.length > 0 ? this.people[irng.int(0, this.people.length - 1)] : undefined;
      logs.push({ timeMs: t + 1, level: "warn", msg: "reports-renderer slow; retrying", fields: { attempt: 2, request_id: `req-${irng.hex(6)}` } });
      if (person) events.push({ kind: "invalid", timeMs: t + 2, userId: person.userId, anonymousId: person.anonymousId });
    }
  }
}
