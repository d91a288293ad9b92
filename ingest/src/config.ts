/**
 * The service's settings, read from environment variables once at startup by a pure function. Every problem is
 * reported at once, naming the variable, what it got and what it expects, so a misconfigured container says
 * exactly what to fix in its first log line. Secrets (write keys, ClickHouse password) have no defaults.
 */

export interface IngestConfig {
  /** Address the HTTP server binds. Defaults to 127.0.0.1 (the container image sets 0.0.0.0). */
  readonly host: string;
  /** Defaults to 8080. */
  readonly port: number;
  /** Accepted write keys (INGEST_WRITE_KEYS, comma-separated, required). */
  readonly writeKeys: readonly string[];
  readonly clickhouse: {
    readonly url: string;
    /** Defaults to ingest_writer. */
    readonly username: string;
    readonly password: string;
    /** Defaults to analytics. */
    readonly database: string;
  };
  readonly spool: {
    /** Defaults to ./spool (the image sets /var/lib/ingest/spool, a volume). */
    readonly dir: string;
    /** Defaults to 1 GiB. */
    readonly maxBytes: number;
    /** Events per ClickHouse insert (rows per sealed segment). Defaults to 50000. */
    readonly batchMaxEvents: number;
    /** Seal (and so ship) a segment at least this often. Defaults to 1000. */
    readonly flushIntervalMs: number;
    /** Least time between two group commits (fsyncs) of the spool. Defaults to 2. */
    readonly groupCommitIntervalMs: number;
  };
  /** Message ids remembered for the 24-hour idempotency window. Defaults to 2,000,000 (about 32-64 MB). */
  readonly dedupMaxIds: number;
  /** Retry-After sent with 503s. Defaults to 5. */
  readonly retryAfterSeconds: number;
  /** Time SIGTERM allows for shipping the spool before exiting (the rest stays spooled). Defaults to 20000. */
  readonly shutdownTimeoutMs: number;
  /** pino level. Defaults to info. */
  readonly logLevel: string;
}

export class IngestConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid ingest configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "IngestConfigError";
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Variables that may instead be given as `<NAME>_FILE`, a path whose content is the value (Docker-secrets style). */
export const FILE_VARIABLES = ["INGEST_WRITE_KEYS", "CLICKHOUSE_PASSWORD"] as const;

/**
 * Resolves `<NAME>_FILE` variables into `<NAME>`, so secrets can be files in the container instead of environment
 * variables (which `docker inspect` shows). `readFile` is passed in so this stays testable without a filesystem.
 */
export function withFileSecrets(env: Env, readFile: (path: string) => string): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  for (const name of FILE_VARIABLES) {
    const path = env[`${name}_FILE`];
    if (path !== undefined && env[name] === undefined) out[name] = readFile(path).replace(/\r?\n$/, "");
  }
  return out;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function loadIngestConfig(env: Env): IngestConfig {
  const problems: string[] = [];
  const text = (name: string, fallback?: string): string => {
    const value = env[name];
    if (value !== undefined) return value;
    if (fallback === undefined) problems.push(`${name} is required`);
    return fallback ?? "";
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const value = env[name];
    if (value === undefined || value === "") return fallback;
    const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      problems.push(`${name}: got ${JSON.stringify(value)}, expected an integer from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };

  const writeKeys = text("INGEST_WRITE_KEYS").split(",").map((k) => k.trim()).filter((k) => k.length > 0);
  if (env.INGEST_WRITE_KEYS !== undefined && writeKeys.length === 0) problems.push("INGEST_WRITE_KEYS: expected at least one write key (comma-separated)");
  if (writeKeys.some((k) => k.length < 8)) problems.push("INGEST_WRITE_KEYS: every write key must be at least 8 characters; generate random keys");
  const url = text("CLICKHOUSE_URL");
  if (url && !/^https?:\/\/[^\s/]+/.test(url)) problems.push(`CLICKHOUSE_URL: got ${JSON.stringify(url)}, expected http(s)://host:port`);
  const database = text("CLICKHOUSE_DATABASE", "analytics");
  if (!IDENTIFIER.test(database)) problems.push(`CLICKHOUSE_DATABASE: got ${JSON.stringify(database)}, expected a plain identifier such as analytics`);
  const logLevel = text("INGEST_LOG_LEVEL", "info");
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`INGEST_LOG_LEVEL: got ${JSON.stringify(logLevel)}, expected one of ${LOG_LEVELS.join(", ")}`);

  const config: IngestConfig = {
    host: text("INGEST_HOST", "127.0.0.1"),
    port: integer("INGEST_PORT", 8080, 0, 65535),
    writeKeys,
    clickhouse: {
      url,
      username: text("CLICKHOUSE_USER", "ingest_writer"),
      password: text("CLICKHOUSE_PASSWORD"),
      database,
    },
    spool: {
      dir: text("INGEST_SPOOL_DIR", "./spool"),
      maxBytes: integer("INGEST_SPOOL_MAX_BYTES", 1024 ** 3, 1024 * 1024, 1024 ** 4),
      batchMaxEvents: integer("INGEST_BATCH_MAX_EVENTS", 50_000, 1, 1_000_000),
      flushIntervalMs: integer("INGEST_FLUSH_INTERVAL_MS", 1000, 10, 60_000),
      groupCommitIntervalMs: integer("INGEST_GROUP_COMMIT_INTERVAL_MS", 2, 0, 100),
    },
    dedupMaxIds: integer("INGEST_DEDUP_MAX_IDS", 2_000_000, 1000, 100_000_000),
    retryAfterSeconds: integer("INGEST_RETRY_AFTER_SECONDS", 5, 1, 3600),
    shutdownTimeoutMs: integer("INGEST_SHUTDOWN_TIMEOUT_MS", 20_000, 0, 600_000),
    logLevel,
  };
  if (problems.length > 0) throw new IngestConfigError(problems);
  return config;
}
