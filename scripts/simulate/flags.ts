/**
 * `npm run simulate` flags -> validated options, as a pure function of argv, the environment and the clock, so
 * every rule is tested without running anything. Every problem is reported at once, naming the flag, what it got
 * and what it expects; the command exits 2 on any of them.
 */
import { parseArgs } from "node:util";
import { plainHttpUrl, redactUrl } from "../ops/http-url";
import { DAY_MS, HOUR_MS, MINUTE_MS, startOfUtcDay } from "./model";

export type AppLogSink = "stdout" | "docker" | "none";

export interface SimulateOptions {
  readonly seed: number;
  /** Days of history before `untilMs` (0: live traffic only). The first day starts at UTC midnight. */
  readonly days: number;
  /** End of the backfill: now, or the pinned `--until` (which makes a run byte-for-byte repeatable). */
  readonly untilMs: number;
  readonly signupsPerDay: number;
  readonly visitorsPerSignup: number;
  readonly incident?: { readonly startMs: number; readonly endMs: number };
  /** Events per second after the backfill; 0 means no live phase. */
  readonly liveRate: number;
  /** Minutes of live traffic; 0 means until Ctrl-C. */
  readonly liveMinutes: number;
  /** Ingest URL and write key, when given by flag or environment; otherwise read from the stack's outputs. */
  readonly url?: string;
  readonly writeKey?: string;
  /** Stack whose outputs give the URL and write key (and whose name prefix labels the app-log relay). */
  readonly stack: string;
  /** Where the app's log lines go; "auto" resolves to docker when the target comes from a deployed stack. */
  readonly appLogs: AppLogSink | "auto";
  readonly concurrency: number;
  readonly batchSize: number;
  readonly dryRun: boolean;
  readonly progress: boolean;
}

export const USAGE = `Usage: npm run simulate -- [options]

Generates realistic SaaS usage and sends it to the ingest service (Segment-compatible /v1/batch).

Traffic
  --days <n>                  days of history to backfill before now, 0-365 (default 7)
  --seed <n>                  random seed, 0-4294967295 (default 1); same seed + same --until = same events
  --until <time>              end of the backfill, ISO-8601 UTC, not in the future (default: now)
  --signups-per-day <n>       mean signups on a weekday, 1-100000 (default 40)
  --visitors-per-signup <x>   anonymous visitors who never sign up, per signup, 0-50 (default 2)
  --incident-at <when>        start of an incident window: an ISO-8601 time, "<n>h" for n hours before --until
                              (such as 26h), or "none"
                              (default: 14:00 UTC the day before --until, when the backfill covers it)
  --incident-minutes <n>      length of the incident window, 1-1440 (default 90)
  --live-rate <n>             after the backfill, keep sending about n events/s with current timestamps (default 0: stop)
  --live-minutes <n>          stop the live phase after n minutes (default 0: run until Ctrl-C)

Target
  --url <url>                 ingest base URL (or INGEST_URL); default: the stack's ingestUrl output
  --write-key <key>           write key (or INGEST_WRITE_KEY, preferred: flags show in process lists);
                              default: the stack's ingestWriteKeys output
  --stack <name>              stack whose outputs to read, via \`npm run pulumi -- <stack> stack output\` (default dev)
  --app-logs <sink>           where the app's JSON log lines go: stdout, docker (a container labelled for this
                              stack's log shipper, so they reach Loki), none; default docker when the target came
                              from the stack's outputs, else stdout
  --concurrency <n>           batches in flight, 1-32 (default 4)
  --batch-size <n>            events per batch, 1-2500 (default 500)

Other
  --dry-run                   generate and summarise without sending (prints a digest of every message)
  --no-progress               no progress bar (it is also off when stderr is not a terminal)
  -h, --help                  this help

Exit codes: 0 done, 1 sending failed, 2 bad flags or missing target.
Example: npm run simulate -- --days 30
`;

export type ParseResult =
  | { readonly kind: "help" }
  | { readonly kind: "ok"; readonly options: SimulateOptions }
  | { readonly kind: "error"; readonly errors: readonly string[] };

type Env = Readonly<Record<string, string | undefined>>;

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const STACK = /^[a-z][a-z0-9-]*$/;

export function parseSimulateArgs(argv: readonly string[], env: Env, nowMs: number): ParseResult {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        days: { type: "string" }, seed: { type: "string" }, until: { type: "string" },
        "signups-per-day": { type: "string" }, "visitors-per-signup": { type: "string" },
        "incident-at": { type: "string" }, "incident-minutes": { type: "string" },
        "live-rate": { type: "string" }, "live-minutes": { type: "string" },
        url: { type: "string" }, "write-key": { type: "string" }, stack: { type: "string" },
        "app-logs": { type: "string" }, concurrency: { type: "string" }, "batch-size": { type: "string" },
        "dry-run": { type: "boolean" }, "no-progress": { type: "boolean" }, help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    // node:util names the flag ("Unknown option '--dayz'"); keep its first line and add what to do.
    const message = (error as Error).message.split("\n")[0].replace(/\.\s.*$/, "").replace(/\.$/, "");
    const hint = /ambiguous/.test(message) ? " (values below 0 are never valid here)" : "";
    return { kind: "error", errors: [`${message}${hint}. See --help for the options.`] };
  }
  if (values.help) return { kind: "help" };

  const errors: string[] = [];
  const str = (name: string) => values[name] as string | undefined;
  const number = (name: string, fallback: number, min: number, max: number, integer = true): number => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    const n = (integer ? /^\d+$/ : /^\d+(\.\d+)?$/).test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) {
      errors.push(`--${name}: got ${JSON.stringify(raw)}, expected ${integer ? "a whole number" : "a number"} from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };
  const time = (name: string, raw: string): number | undefined => {
    const ms = ISO_TIME.test(raw) ? Date.parse(raw) : NaN;
    if (Number.isNaN(ms)) {
      errors.push(`--${name}: got ${JSON.stringify(raw)}, expected an ISO-8601 time with a zone, such as 2026-01-15T14:00:00Z`);
      return undefined;
    }
    return ms;
  };

  const days = number("days", 7, 0, 365);
  const seed = number("seed", 1, 0, 0xffffffff);
  let untilMs = nowMs;
  const untilRaw = str("until");
  if (untilRaw !== undefined) {
    const parsed = time("until", untilRaw);
    if (parsed !== undefined && parsed > nowMs + MINUTE_MS) {
      errors.push(`--until: got ${untilRaw}, which is in the future; the ingest clamps future events to their arrival time. Use a past time or leave it out (now).`);
    } else if (parsed !== undefined) {
      untilMs = parsed;
    }
  }
  const signupsPerDay = number("signups-per-day", 40, 1, 100_000);
  const visitorsPerSignup = number("visitors-per-signup", 2, 0, 50, false);
  const incidentMinutes = number("incident-minutes", 90, 1, 1440);
  const liveRate = number("live-rate", 0, 0, 100_000);
  const liveMinutes = number("live-minutes", 0, 0, 7 * 24 * 60);
  if (str("live-minutes") !== undefined && liveRate === 0) errors.push("--live-minutes: only applies with --live-rate above 0");
  if (days === 0 && liveRate === 0 && !errors.some((e) => e.startsWith("--days") || e.startsWith("--live-rate"))) {
    errors.push("--days 0 with no --live-rate sends nothing: give --days 1 or more, or a --live-rate");
  }

  const startMs = startOfUtcDay(untilMs) - days * DAY_MS;
  const liveEndMs = liveRate > 0 ? (liveMinutes > 0 ? untilMs + liveMinutes * MINUTE_MS : Number.POSITIVE_INFINITY) : untilMs;
  let incident: SimulateOptions["incident"];
  const incidentRaw = str("incident-at");
  if (incidentRaw === undefined) {
    const defaultStart = startOfUtcDay(untilMs) - DAY_MS + 14 * HOUR_MS;
    if (days >= 1 && defaultStart >= startMs) incident = { startMs: defaultStart, endMs: defaultStart + incidentMinutes * MINUTE_MS };
  } else if (incidentRaw !== "none") {
    const relative = /^(\d+(\.\d+)?)h$/.exec(incidentRaw);
    const at = relative ? untilMs - Number(relative[1]) * HOUR_MS : time("incident-at", incidentRaw);
    if (at !== undefined) {
      const endMs = at + incidentMinutes * MINUTE_MS;
      if (endMs <= startMs || at >= liveEndMs) {
        errors.push(`--incident-at: ${incidentRaw} is outside the simulated time (${new Date(startMs).toISOString()} to ` +
          `${Number.isFinite(liveEndMs) ? new Date(liveEndMs).toISOString() : "the end of the live phase"}); pick a time inside it or "none"`);
      } else {
        incident = { startMs: at, endMs };
      }
    }
  } else if (str("incident-minutes") !== undefined) {
    errors.push("--incident-minutes: does not apply with --incident-at none");
  }

  const url = str("url") ?? env.INGEST_URL;
  if (url !== undefined && !plainHttpUrl(url)) {
    errors.push(`--url: got ${JSON.stringify(redactUrl(url))}, expected the ingest's base URL, such as http://127.0.0.1:8080 (no credentials in it: use --write-key or INGEST_WRITE_KEY)`);
  }
  const writeKey = str("write-key") ?? env.INGEST_WRITE_KEY;
  if (writeKey !== undefined && (writeKey.length < 8 || /[\s:]/.test(writeKey))) {
    errors.push("--write-key: expected the stack's write key (at least 8 characters, no spaces or colons); see `npm run pulumi -- dev stack output --show-secrets`");
  }
  const stack = str("stack") ?? "dev";
  if (!STACK.test(stack)) errors.push(`--stack: got ${JSON.stringify(stack)}, expected a stack name such as dev or prod`);
  const appLogsRaw = str("app-logs") ?? "auto";
  if (!["stdout", "docker", "none", "auto"].includes(appLogsRaw)) errors.push(`--app-logs: got ${JSON.stringify(appLogsRaw)}, expected stdout, docker or none`);
  const concurrency = number("concurrency", 4, 1, 32);
  const batchSize = number("batch-size", 500, 1, 2500);
  const dryRun = values["dry-run"] === true;
  if (dryRun && liveRate > 0) errors.push("--dry-run: cannot be combined with --live-rate (a live phase has to send)");

  if (errors.length > 0) return { kind: "error", errors };
  return {
    kind: "ok",
    options: {
      seed, days, untilMs, signupsPerDay, visitorsPerSignup, incident, liveRate, liveMinutes, url, writeKey, stack,
      appLogs: appLogsRaw as SimulateOptions["appLogs"], concurrency, batchSize, dryRun,
      progress: values["no-progress"] !== true,
    },
  };
}

export { redactUrl };
