/**
 * Retention: statements derived from config that run after the migrations whenever they change.
 *
 * Migration files are frozen and static, but how long data is kept is a per-stack setting, so table TTLs are not
 * written in sql/ but set here with `ALTER TABLE ... MODIFY TTL`. The statements are idempotent; the schema
 * resource reruns them only when their text changes, because ClickHouse materializes a new TTL over every existing
 * part (a background mutation that rewrites the table).
 *
 * To give another table a retention, add a rule to `retentionRules` (for example a rollup kept for
 * `cfg.rollupRetentionDays`): the table must exist after the migrations, and the column must be a Date, DateTime or
 * DateTime64.
 */
import type { StackConfig } from "./stack-config";

export interface RetentionRule {
  /** Fully qualified table, such as "analytics.events". */
  readonly table: string;
  /** Column whose age decides when a row expires. */
  readonly timeColumn: string;
  /** Rows older than this many days are deleted. */
  readonly days: number;
}

/** The tables that expire data, and after how long. */
export function retentionRules(cfg: Pick<StackConfig, "eventRetentionDays" | "rollupRetentionDays">): RetentionRule[] {
  return [
    // Raw events: the biggest table by far. Rollups (which keep rollupRetentionDays) outlive it by design.
    { table: "analytics.events", timeColumn: "event_time", days: cfg.eventRetentionDays },
    // The daily, weekly and hourly rollups (sql/0005-0007) keep trends and cohorts after the raw events expire.
    // The identity links (0004) and signups (0008) hold one row per person and never expire: dropping them would
    // move old users into new cohorts and split people in two.
    { table: "analytics.activity_daily", timeColumn: "day", days: cfg.rollupRetentionDays },
    { table: "analytics.activity_weekly", timeColumn: "week", days: cfg.rollupRetentionDays },
    { table: "analytics.feature_usage_weekly", timeColumn: "week", days: cfg.rollupRetentionDays },
    { table: "analytics.events_hourly", timeColumn: "hour", days: cfg.rollupRetentionDays },
    // The funnel steps' events (0010): the funnel panel keeps working over ranges whose raw events expired.
    { table: "analytics.funnel_events", timeColumn: "day", days: cfg.rollupRetentionDays },
  ];
}

/** The TTL statement for one rule. Throws on a malformed rule so a bad edit fails at preview, not in ClickHouse. */
export function ttlStatement(rule: RetentionRule): string {
  if (!/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/.test(rule.table)) {
    throw new Error(`retention rule table ${JSON.stringify(rule.table)}: expected database.table in lowercase snake_case`);
  }
  if (!/^[a-z_][a-z0-9_]*$/.test(rule.timeColumn)) {
    throw new Error(`retention rule for ${rule.table}: time column ${JSON.stringify(rule.timeColumn)} is not a plain column name`);
  }
  if (!Number.isSafeInteger(rule.days) || rule.days < 1) {
    throw new Error(`retention rule for ${rule.table}: days must be a positive integer, got ${rule.days}`);
  }
  // toDate() makes one expression work for Date, DateTime and DateTime64 columns (TTL accepts Date or DateTime,
  // not DateTime64); whole days are the granularity anyone asks of a retention setting.
  return `ALTER TABLE ${rule.table} MODIFY TTL toDate(${rule.timeColumn}) + INTERVAL ${rule.days} DAY DELETE`;
}

/** Statements to run after the migrations, in order. */
export function retentionStatements(cfg: Pick<StackConfig, "eventRetentionDays" | "rollupRetentionDays">): string[] {
  return retentionRules(cfg).map(ttlStatement);
}
