/**
 * The refreshable views that write the DAU, retention (sql/0011) and adoption (sql/0012) snapshots, as statements run
 * after the migrations whenever their text changes (like the funnel rollup's view): their queries come from the panel
 * builders (dashboards/queries.ts) and the retention offsets are a per-stack setting, so they cannot be frozen
 * migrations.
 *
 * Each refresh replaces its table atomically with the full answer over the window: rows still valid are copied (their
 * staleness rule is the panels', dashboards/snapshots.ts), the others counted again — typically today and a day with
 * late events, so a refresh costs about as much as counting one or two days. The token written is the refresh's start
 * minus `settleSeconds`: an insert whose change record is older than that has committed all its rows (each inserted
 * block gets its change time when its views run and commits right after, well under a second), so the refresh has
 * read them. Assumed, not enforced: a block whose commit came more than settleSeconds after its change time would not
 * be counted until that day changes again; likewise a server clock set back by more than settleSeconds (a token from
 * the future is ignored, but only until the clock passes it). After either, run these statements again (a deploy
 * that changes them does): they empty the snapshots.
 */
import { adoptionRowsSql, dauRowsSql, daysArray, retentionCellsSql } from "../dashboards/queries";
import { ADOPTION_SNAPSHOTS, DAU_SNAPSHOTS, RETENTION_SNAPSHOTS } from "../dashboards/snapshots";

export const DAU_SNAPSHOTS_VIEW = "analytics.dau_snapshots_refresh";
export const RETENTION_SNAPSHOTS_VIEW = "analytics.retention_snapshots_refresh";
export const ADOPTION_SNAPSHOTS_VIEW = "analytics.adoption_snapshots_refresh";

export interface SnapshotViewOptions {
  /** Retention offsets in days (AnalyticsSettings.retentionOffsetsDays). */
  readonly retentionOffsetsDays: readonly number[];
  /** Days back from today the snapshots cover: the rollups' retention (older days are not kept by the rollups). */
  readonly windowDays: number;
  /** Seconds from the end of one refresh to the start of the next. Default 60. */
  readonly refreshSeconds?: number;
  /** Seconds an insert is given to commit before its changes count as read. Default 60; tests use 0. */
  readonly settleSeconds?: number;
  /** Create the views without their first refresh (tests refresh them with SYSTEM REFRESH VIEW when they choose). */
  readonly startEmpty?: boolean;
}

const integerAtLeast = (name: string, value: number, min: number) => {
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`snapshot views: ${name} must be an integer >= ${min}, got ${value}`);
  return value;
};

/** Statements that (re)create the refreshable views, in order. */
export function snapshotViewStatements(options: SnapshotViewOptions): string[] {
  const windowDays = integerAtLeast("windowDays", options.windowDays, 1);
  const every = integerAtLeast("refreshSeconds", options.refreshSeconds ?? 60, 1);
  const settle = integerAtLeast("settleSeconds", options.settleSeconds ?? 60, 0);
  const offsets = options.retentionOffsetsDays;
  if (offsets.length === 0) throw new Error("snapshot views: got no retention offsets, expected the retention panel's (AnalyticsSettings.retentionOffsetsDays)");
  offsets.forEach((n, i) => integerAtLeast(`retentionOffsetsDays[${i}]`, n, 0));
  const token = `now64(3, 'UTC') - toIntervalMillisecond(${settle * 1000}) AS valid_as_of`;
  // The days the rollups still keep: their TTL deletes a day once day + windowDays has come. Not before 1970: Date
  // arithmetic below it wraps around to 2149.
  const firstDay = `if(today() - toDate(0) >= ${windowDays}, today() - ${windowDays - 1}, toDate(0))`;
  const dau = `SELECT day, people, ${token}, day + ${windowDays} AS expires_on FROM (${dauRowsSql(firstDay, "today()")})`;
  // Every (cohort day, offset) whose day has come, cohort days without signups included, with 0 where nobody was
  // retained: every cell a panel may ask for is stored.
  const retention = `WITH cohorts AS (
  SELECT user_key, toDate(signed_up_at) AS cohort FROM analytics.signups FINAL WHERE toDate(signed_up_at) >= ${firstDay}
)
SELECT cells.cohort AS cohort, cells.offset_days AS offset_days, counted.retained AS retained, ${token}
FROM (
  SELECT cohort, offset_days
  FROM (SELECT arrayJoin(${daysArray(firstDay, "today()")}) AS cohort)
  ARRAY JOIN [${offsets.map((n) => `toUInt16(${n})`).join(", ")}] AS offset_days
  WHERE cohort + offset_days <= today()
) AS cells
LEFT JOIN (${retentionCellsSql(offsets, firstDay, "today()", "today()")}) AS counted USING (cohort, offset_days)`;
  // The weeks the weekly rollups still keep (their TTL deletes a week once week + windowDays has come): the first
  // Monday on or after firstDay.
  const adoption = `SELECT week, scope, event_name, people, ${token}, week + ${windowDays} AS expires_on
FROM (${adoptionRowsSql(`toMonday((${firstDay}) + 6)`, "toMonday(today())")})`;
  const refresh = `REFRESH AFTER ${every} SECOND`;
  const empty = options.startEmpty ? " EMPTY" : "";
  // The stored answers are emptied between the drop and the create: they were counted by the definition being
  // replaced (another offset list, window or counting SQL), and a refresh copies every answer it finds still valid.
  const clear = (table: string) => `ALTER TABLE ${table} DELETE WHERE 1 SETTINGS mutations_sync = 2`;
  return [
    `DROP VIEW IF EXISTS ${DAU_SNAPSHOTS_VIEW}`,
    clear(DAU_SNAPSHOTS),
    `CREATE MATERIALIZED VIEW ${DAU_SNAPSHOTS_VIEW} ${refresh} TO ${DAU_SNAPSHOTS}${empty} AS ${dau}`,
    `DROP VIEW IF EXISTS ${RETENTION_SNAPSHOTS_VIEW}`,
    clear(RETENTION_SNAPSHOTS),
    `CREATE MATERIALIZED VIEW ${RETENTION_SNAPSHOTS_VIEW} ${refresh} TO ${RETENTION_SNAPSHOTS}${empty} AS ${retention}`,
    `DROP VIEW IF EXISTS ${ADOPTION_SNAPSHOTS_VIEW}`,
    clear(ADOPTION_SNAPSHOTS),
    `CREATE MATERIALIZED VIEW ${ADOPTION_SNAPSHOTS_VIEW} ${refresh} TO ${ADOPTION_SNAPSHOTS}${empty} AS ${adoption}`,
  ];
}

/** Refresh every snapshot now and wait for them: after a bulk load, or in tests. Needs the SYSTEM VIEWS grant. */
export function refreshSnapshotsStatements(): string[] {
  return [DAU_SNAPSHOTS_VIEW, RETENTION_SNAPSHOTS_VIEW, ADOPTION_SNAPSHOTS_VIEW]
    .flatMap((view) => [`SYSTEM REFRESH VIEW ${view}`, `SYSTEM WAIT VIEW ${view}`]);
}
