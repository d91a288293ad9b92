/**
 * Everything the dashboards and alert rules are a function of: the stack's config plus the product choices that
 * are not stack settings (funnel steps, retention offsets). One object, so panels, alerts and tests read the same
 * selectors and thresholds.
 */
import type { AlertSettings, StackConfig } from "../components/stack-config";

export interface AnalyticsSettings {
  /** Value of the Loki `stack` label (the containers' analytics.stack label): the stack's name prefix. */
  readonly stack: string;
  /** Funnel steps, in order (event names). Defaults to signup -> project_created -> invite_sent -> subscription_started. */
  readonly funnelSteps: readonly string[];
  /** A person completes the funnel when every step happens within this many seconds of the first. Defaults to 2 days. */
  readonly funnelWindowSeconds: number;
  /** Retention grid columns: days after the signup day. Defaults to 1, 7, 14, 30. */
  readonly retentionOffsetsDays: readonly number[];
  /** Event names that are not features (left out of adoption). Defaults to signup and page_viewed. */
  readonly nonFeatureEvents: readonly string[];
  /**
   * The DAU-drop alert stays quiet while the same weekday last week had fewer people than this by the same time of
   * day (a few users early in the morning make any share meaningless). Defaults to 20.
   */
  readonly dauDropMinBaseline: number;
  /** Services offered by the dashboards' service variable (the analytics.service container labels). */
  readonly services: readonly string[];
  readonly alerts: AlertSettings;
  /**
   * Where the runbooks live; each alert links `${runbookBaseUrl}/<alert uid>.md`. From the stack config's
   * runbookBaseUrl (e.g. https://git.example.com/team/analytics/blob/main/docs/runbooks, so the link opens from a
   * notification); the repository path `docs/runbooks` when that is unset.
   */
  readonly runbookBaseUrl: string;
}

export const DEFAULT_FUNNEL = ["signup", "project_created", "invite_sent", "subscription_started"] as const;
export const DEFAULT_RETENTION_OFFSETS = [1, 7, 14, 30] as const;

export function analyticsSettings(cfg: StackConfig, overrides: Partial<AnalyticsSettings> = {}): AnalyticsSettings {
  const settings: AnalyticsSettings = {
    stack: cfg.namePrefix,
    funnelSteps: DEFAULT_FUNNEL,
    funnelWindowSeconds: 2 * 86_400,
    retentionOffsetsDays: DEFAULT_RETENTION_OFFSETS,
    nonFeatureEvents: ["signup", "page_viewed"],
    dauDropMinBaseline: 20,
    // "app": your application's containers labelled analytics.service=app (and `npm run simulate`'s log relay).
    services: ["app", "ingest", "clickhouse", "loki", cfg.logShipper, "grafana"],
    alerts: cfg.alerts,
    runbookBaseUrl: cfg.alerts.runbookBaseUrl ?? "docs/runbooks",
    ...overrides,
  };
  return validateSettings(settings);
}

const EVENT_NAME = /^[A-Za-z0-9_. :-]{1,100}$/;

/** Rejects settings that would produce broken SQL or an empty panel, saying which field and what to do. */
export function validateSettings(s: AnalyticsSettings): AnalyticsSettings {
  const problems: string[] = [];
  if (s.funnelSteps.length < 2 || s.funnelSteps.length > 10) {
    problems.push(`funnelSteps: got ${s.funnelSteps.length} steps, expected 2 to 10 event names`);
  }
  // One event can satisfy two steps of the same name in windowFunnel (it counted a single page view as both steps of
  // page_viewed -> page_viewed), and 'strict_increase' would stop counting distinct steps sent in the same millisecond.
  s.funnelSteps.forEach((name, i) => {
    const first = s.funnelSteps.indexOf(name);
    if (first !== i) problems.push(`funnelSteps: step ${i + 1} repeats step ${first + 1} (${JSON.stringify(name)}); each step must be a different event name`);
  });
  for (const name of [...s.funnelSteps, ...s.nonFeatureEvents]) {
    if (!EVENT_NAME.test(name)) problems.push(`event name ${JSON.stringify(name)}: use letters, digits, space, _ . : - (at most 100)`);
  }
  if (!Number.isInteger(s.funnelWindowSeconds) || s.funnelWindowSeconds < 1) {
    problems.push(`funnelWindowSeconds: got ${s.funnelWindowSeconds}, expected a positive whole number of seconds`);
  }
  if (s.retentionOffsetsDays.length === 0 || s.retentionOffsetsDays.some((d) => !Number.isInteger(d) || d < 0 || d > 365)) {
    problems.push(`retentionOffsetsDays: got [${s.retentionOffsetsDays.join(", ")}], expected whole days from 0 to 365`);
  }
  if (!Number.isInteger(s.dauDropMinBaseline) || s.dauDropMinBaseline < 0) {
    problems.push(`dauDropMinBaseline: got ${s.dauDropMinBaseline}, expected a whole number of people (0 or more)`);
  }
  if (!/^[a-z][a-z0-9-]*$/.test(s.stack)) problems.push(`stack: got ${JSON.stringify(s.stack)}, expected the stack's namePrefix`);
  if (problems.length > 0) throw new Error(`Invalid analytics settings:\n  - ${problems.join("\n  - ")}`);
  return s;
}
