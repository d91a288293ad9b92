/**
 * How long the rollups of sql/0005-0007 (daily, weekly and hourly) keep data: `cfg.rollupRetentionDays`, longer than the raw events
 * (`cfg.eventRetentionDays`, see components/retention.ts), so trends and cohorts outlive the events they summarize.
 *
 * The identity links (0004) and signups (0008) hold one row per person and never expire: dropping them would move
 * old users into new cohorts and split people in two.
 *
 * Run these after the migrations, next to `retentionStatements(cfg)`:
 *   afterStatements: [...retentionStatements(cfg), ...rollupRetentionStatements(cfg)]
 */
import { ttlStatement, type RetentionRule } from "../components/retention";
import type { StackConfig } from "../components/stack-config";

export function rollupRetentionRules(cfg: Pick<StackConfig, "rollupRetentionDays">): RetentionRule[] {
  return [
    { table: "analytics.activity_daily", timeColumn: "day", days: cfg.rollupRetentionDays },
    { table: "analytics.activity_weekly", timeColumn: "week", days: cfg.rollupRetentionDays },
    { table: "analytics.feature_usage_weekly", timeColumn: "week", days: cfg.rollupRetentionDays },
    { table: "analytics.events_hourly", timeColumn: "hour", days: cfg.rollupRetentionDays },
  ];
}

export function rollupRetentionStatements(cfg: Pick<StackConfig, "rollupRetentionDays">): string[] {
  return rollupRetentionRules(cfg).map(ttlStatement);
}
