/**
 * Stack configuration: every setting the program reads, validated in one pure function.
 *
 * `Pulumi.yaml` declares each key (type, description, default) under the `analytics:` namespace; this module
 * is the single place that turns the raw strings Pulumi hands us into a typed `StackConfig`. Defaults live in
 * `DEFAULTS` only (a test checks they match `Pulumi.yaml`). Secrets never end up in the `StackConfig`:
 * `pulumi-config.ts` reads them with `getSecret` and generates the missing ones; this module only checks the set
 * ones (`secretProblems`: length and encryption, never printing a value) and stays free of Pulumi.
 *
 * Bad values throw a `ConfigError` listing every problem at once ("analytics:grafanaPort: got \"abc\", expected an
 * integer port 1-65535"), so `pulumi preview` fails before any resource is registered.
 */

import { createHash } from "node:crypto";
import { lokiImageProblem } from "./loki-config";

export type LogShipper = "promtail" | "alloy";

export interface ImageVersions {
  /** ClickHouse server image (an LTS release). */
  readonly clickhouse: string;
  readonly loki: string;
  readonly promtail: string;
  readonly alloy: string;
  readonly grafana: string;
  /** Node base image the ingest service is built on. */
  readonly node: string;
}

export interface HostPorts {
  readonly grafana: number;
  readonly ingest: number;
  /** ClickHouse HTTP; the schema migrations run from the Pulumi host through it. */
  readonly clickhouseHttp: number;
  readonly loki: number;
}

export interface AlertSettings {
  /** Webhook the alerts are posted to. One of webhook or email is required for alerts to reach anyone. */
  readonly webhookUrl?: string;
  /** Comma-separated addresses; requires smtpHost (Grafana sends email only through an SMTP server). */
  readonly email?: string;
  /**
   * host:port of the SMTP relay Grafana sends alert email through, one that accepts mail from this host without a
   * password (the host's own MTA or an internal relay; authenticated SMTP is not configurable yet). Required with email.
   */
  readonly smtpHost?: string;
  /** Sender address of the alert email. Defaults to Grafana's own (admin@grafana.localhost). */
  readonly smtpFromAddress?: string;
  /**
   * Where the runbooks are served (an http(s) URL, such as this repository's docs/runbooks on your Git host): each
   * alert links `<runbookBaseUrl>/<alert uid>.md`. Unset, the link is the repository path docs/runbooks/<uid>.md,
   * which a notification or Grafana's alert view cannot open.
   */
  readonly runbookBaseUrl?: string;
  /** Fire when today's DAU so far is down more than this share versus the same weekday last week. */
  readonly dauDropShare: number;
  /** Fire when no event was received for this many minutes. */
  readonly noEventsMinutes: number;
  /** Fire when the ingest logs more than this many error lines per minute. */
  readonly ingestErrorsPerMinute: number;
  /** Fire when the p95 ingest lag (received minus event time) is above this many seconds. */
  readonly ingestLagSeconds: number;
  /** Fire when the oldest event accepted but not yet in ClickHouse has waited in the ingest's spool this many seconds. */
  readonly spoolBacklogSeconds: number;
}

export interface IngestSettings {
  /** Largest size the on-disk spool may reach before the service answers 503 with Retry-After. */
  readonly spoolMaxBytes: number;
  /** Ship a batch to ClickHouse after this many events. */
  readonly batchMaxEvents: number;
  /** Ship a batch at least this often when events are waiting. */
  readonly flushIntervalMs: number;
}

export interface StackConfig {
  /** Host address every published port binds to. */
  readonly bindAddress: string;
  readonly ports: HostPorts;
  readonly images: ImageVersions;
  /** Grafana ClickHouse datasource plugin version installed into Grafana. */
  readonly clickhousePluginVersion: string;
  /** Days raw events are kept in ClickHouse; rollups keep `rollupRetentionDays`. */
  readonly eventRetentionDays: number;
  readonly rollupRetentionDays: number;
  /** Days Loki keeps log lines (enforced by the compactor). */
  readonly logRetentionDays: number;
  readonly logShipper: LogShipper;
  /** Protect data volumes from `pulumi destroy` (and retain them on replacement). */
  readonly protectData: boolean;
  readonly alerts: AlertSettings;
  readonly ingest: IngestSettings;
  /** Prefix of every Docker object's name, so two stacks can share one Docker host. */
  readonly namePrefix: string;
}

/** Raw values as Pulumi returns them: key without namespace -> string, absent when unset. */
export type RawConfig = Readonly<Record<string, string | undefined>>;

/** The config namespace in Pulumi.yaml (the project name). */
export const CONFIG_NAMESPACE = "analytics";

/** Secret keys: read with getSecret in index.ts; generated with @pulumi/random when a stack sets none. */
export const SECRET_KEYS = [
  "grafanaAdminPassword",
  "clickhouseMigratorPassword",
  "clickhouseWriterPassword",
  "clickhouseReaderPassword",
  "ingestWriteKeys",
] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

/**
 * Shortest secret the stack may set. The ingest refuses write keys shorter than this at start (after `pulumi up`
 * waited minutes for it), and an empty Grafana admin password is ignored by Grafana, which then keeps its default
 * `admin`: both are caught here, before anything is created.
 */
export const MIN_SECRET_LENGTH = 8;

/** The secrets a stack set, as the program checks them (see secretProblems). */
export interface SetSecrets {
  /** Values of the secret keys the stack set (encrypted, as `pulumi config set --secret` stores them). */
  readonly values?: Partial<Record<SecretKey, string>>;
  /** Secret keys the stack set in plain text (without --secret), so their value sits readable in the stack file. */
  readonly plaintext?: readonly SecretKey[];
  /** Other keys the stack stored encrypted (a webhook URL carrying a token): an error never prints their value. */
  readonly encryptedKeys?: readonly string[];
}

/**
 * Problems with the secrets a stack set (only the set ones: missing ones are generated). Messages give lengths,
 * never values.
 */
export function secretProblems({ values = {}, plaintext = [] }: SetSecrets): string[] {
  const problems: string[] = [];
  const fix = (key: string) => `Set it with \`pulumi config set --secret ${CONFIG_NAMESPACE}:${key} <value>\`, or remove it ` +
    `with \`pulumi config rm ${CONFIG_NAMESPACE}:${key}\` so the stack generates one.`;
  for (const key of plaintext) {
    problems.push(`${CONFIG_NAMESPACE}:${key}: is stored in plain text in the stack's Pulumi.<stack>.yaml, expected a secret. ${fix(key)}`);
  }
  for (const key of SECRET_KEYS) {
    const value = values[key];
    if (value === undefined) continue;
    if (key === "ingestWriteKeys") {
      // The ingest's own rule: comma-separated, trimmed, empty entries ignored, each at least MIN_SECRET_LENGTH.
      const keys = value.split(",").map((k) => k.trim()).filter((k) => k.length > 0);
      if (keys.length === 0) problems.push(`${CONFIG_NAMESPACE}:${key}: holds no write key (expected comma-separated keys). ${fix(key)}`);
      for (const k of keys.filter((k) => k.length < MIN_SECRET_LENGTH)) {
        problems.push(`${CONFIG_NAMESPACE}:${key}: a key is ${k.length} characters long, expected at least ${MIN_SECRET_LENGTH}. ${fix(key)}`);
      }
    } else if (value.length === 0) {
      problems.push(`${CONFIG_NAMESPACE}:${key}: is empty, expected at least ${MIN_SECRET_LENGTH} characters. ${fix(key)}`);
    } else if (value.length < MIN_SECRET_LENGTH) {
      problems.push(`${CONFIG_NAMESPACE}:${key}: is ${value.length} characters long, expected at least ${MIN_SECRET_LENGTH}. ${fix(key)}`);
    }
  }
  return problems;
}

/** Every default, in one place. Pulumi.yaml repeats them for `pulumi config` users; a test keeps both in step. */
export const DEFAULTS = {
  bindAddress: "127.0.0.1",
  grafanaPort: 3000,
  ingestPort: 8080,
  clickhouseHttpPort: 8123,
  lokiPort: 3100,
  clickhouseImage: "clickhouse/clickhouse-server:25.8",
  lokiImage: "grafana/loki:3.5.0",
  promtailImage: "grafana/promtail:3.5.0",
  alloyImage: "grafana/alloy:v1.10.0",
  grafanaImage: "grafana/grafana:12.1.0",
  nodeImage: "node:20.19.4-bookworm-slim",
  clickhousePluginVersion: "4.11.2",
  eventRetentionDays: 90,
  rollupRetentionDays: 730,
  logRetentionDays: 14,
  logShipper: "promtail" as LogShipper,
  protectData: false,
  dauDropShare: 0.3,
  noEventsMinutes: 15,
  ingestErrorsPerMinute: 5,
  ingestLagSeconds: 60,
  spoolBacklogSeconds: 300,
  spoolMaxBytes: 1024 * 1024 * 1024,
  batchMaxEvents: 50_000,
  flushIntervalMs: 1000,
} as const;

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid stack configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** Collects problems instead of throwing on the first, so one `pulumi preview` shows every mistake. */
class Reader {
  readonly problems: string[] = [];
  constructor(private readonly raw: RawConfig, private readonly encrypted: ReadonlySet<string> = new Set()) {}

  private fail(key: string, value: string, expected: string): void {
    const got = this.encrypted.has(key) ? "a secret value (not shown)" : JSON.stringify(value);
    this.problems.push(`${CONFIG_NAMESPACE}:${key}: got ${got}, expected ${expected}. ` +
      `Fix it with \`pulumi config set ${CONFIG_NAMESPACE}:${key} <value>\`.`);
  }

  string(key: string, fallback: string, rule?: { test: (v: string) => boolean; expected: string }): string {
    const value = this.raw[key];
    if (value === undefined) return fallback;
    if (rule && !rule.test(value)) {
      this.fail(key, value, rule.expected);
      return fallback;
    }
    return value;
  }

  optional(key: string, rule: { test: (v: string) => boolean; expected: string }): string | undefined {
    const value = this.raw[key];
    if (value === undefined || value === "") return undefined;
    if (!rule.test(value)) {
      this.fail(key, value, rule.expected);
      return undefined;
    }
    return value;
  }

  integer(key: string, fallback: number, min: number, max: number, what = "an integer"): number {
    const value = this.raw[key];
    if (value === undefined) return fallback;
    const n = /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      this.fail(key, value, `${what} from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  share(key: string, fallback: number): number {
    const value = this.raw[key];
    if (value === undefined) return fallback;
    const n = /^\d*\.?\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!(n > 0 && n < 1)) {
      this.fail(key, value, "a share between 0 and 1 exclusive, such as 0.3 for 30%");
      return fallback;
    }
    return n;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw[key];
    if (value === undefined) return fallback;
    if (value === "true") return true;
    if (value === "false") return false;
    this.fail(key, value, "true or false");
    return fallback;
  }

  oneOf<T extends string>(key: string, fallback: T, allowed: readonly T[]): T {
    const value = this.raw[key];
    if (value === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(value)) {
      this.fail(key, value, `one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`);
      return fallback;
    }
    return value as T;
  }

  unknownKeys(known: ReadonlySet<string>): void {
    for (const key of Object.keys(this.raw)) {
      if (!known.has(key)) {
        this.problems.push(`${CONFIG_NAMESPACE}:${key}: unknown setting. Known settings are listed in Pulumi.yaml; ` +
          `remove it with \`pulumi config rm ${CONFIG_NAMESPACE}:${key}\`.`);
      }
    }
  }
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** A Docker image reference with an explicit tag or digest, never `latest`. */
const PINNED_IMAGE = /^[a-z0-9][a-z0-9._\/-]*(:(?!latest$)[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64})$/;
const SEMVER = /^\d+\.\d+\.\d+$/;
const HTTP_URL = /^https?:\/\/[^\s]+$/;
const SMTP_HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?:\d{1,5}$/;
const EMAILS = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+(\s*,\s*[^\s@,]+@[^\s@,]+\.[^\s@,]+)*$/;
const NAME_PREFIX = /^[a-z][a-z0-9-]{0,30}$/;

/**
 * `analytics-<stack>`, or, when that is no valid prefix (too long, upper case, `_` or `.`), a readable part plus a
 * hash of the whole stack name. Truncating or lower-casing alone would give two stacks one prefix, and Docker
 * hands an existing volume to whoever creates one by its name: the second stack would share the first one's data,
 * and its `pulumi destroy` would delete it.
 */
export function defaultNamePrefix(stack: string): string {
  const plain = `analytics-${stack}`;
  if (NAME_PREFIX.test(plain)) return plain;
  const hash = createHash("sha256").update(stack).digest("hex").slice(0, 8);
  return `${plain.toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 31 - hash.length - 1)}-${hash}`;
}

/** Keys this module reads (non-secret), plus the secret keys that index.ts reads. */
export const KNOWN_KEYS: ReadonlySet<string> = new Set([
  "bindAddress", "grafanaPort", "ingestPort", "clickhouseHttpPort", "lokiPort",
  "clickhouseImage", "lokiImage", "promtailImage", "alloyImage", "grafanaImage", "nodeImage",
  "clickhousePluginVersion", "eventRetentionDays", "rollupRetentionDays", "logRetentionDays", "logShipper",
  "protectData", "alertWebhookUrl", "alertEmail", "smtpHost", "smtpFromAddress", "runbookBaseUrl", "dauDropShare", "noEventsMinutes", "ingestErrorsPerMinute",
  "ingestLagSeconds", "spoolBacklogSeconds", "spoolMaxBytes", "batchMaxEvents", "flushIntervalMs", "namePrefix",
  ...SECRET_KEYS,
]);

/**
 * Validates and types a stack's configuration.
 * @param raw keys without the `analytics:` namespace, as strings (what `pulumi.Config.get` returns)
 * @param stack the stack name, used for the default Docker name prefix
 * @param secrets the secrets the stack set, only checked (see secretProblems), never kept
 */
export function loadConfig(raw: RawConfig, stack: string, secrets: SetSecrets = {}): StackConfig {
  const r = new Reader(raw, new Set(secrets.encryptedKeys));
  r.unknownKeys(KNOWN_KEYS);
  r.problems.push(...secretProblems(secrets));
  const port = (key: string, fallback: number) => r.integer(key, fallback, 1, 65535, "an integer port");
  const image = (key: string, fallback: string) =>
    r.string(key, fallback, { test: (v) => PINNED_IMAGE.test(v), expected: "an image with a pinned tag or digest (not :latest), such as " + fallback });
  const days = (key: string, fallback: number) => r.integer(key, fallback, 1, 3650, "a number of days");

  const config: StackConfig = {
    bindAddress: r.string("bindAddress", DEFAULTS.bindAddress, { test: (v) => IPV4.test(v), expected: "an IPv4 address such as 127.0.0.1 (0.0.0.0 exposes every port on every interface)" }),
    ports: {
      grafana: port("grafanaPort", DEFAULTS.grafanaPort),
      ingest: port("ingestPort", DEFAULTS.ingestPort),
      clickhouseHttp: port("clickhouseHttpPort", DEFAULTS.clickhouseHttpPort),
      loki: port("lokiPort", DEFAULTS.lokiPort),
    },
    images: {
      clickhouse: image("clickhouseImage", DEFAULTS.clickhouseImage),
      loki: image("lokiImage", DEFAULTS.lokiImage),
      promtail: image("promtailImage", DEFAULTS.promtailImage),
      alloy: image("alloyImage", DEFAULTS.alloyImage),
      grafana: image("grafanaImage", DEFAULTS.grafanaImage),
      node: image("nodeImage", DEFAULTS.nodeImage),
    },
    clickhousePluginVersion: r.string("clickhousePluginVersion", DEFAULTS.clickhousePluginVersion, { test: (v) => SEMVER.test(v), expected: "a plugin version such as 4.11.2" }),
    eventRetentionDays: days("eventRetentionDays", DEFAULTS.eventRetentionDays),
    rollupRetentionDays: days("rollupRetentionDays", DEFAULTS.rollupRetentionDays),
    logRetentionDays: days("logRetentionDays", DEFAULTS.logRetentionDays),
    logShipper: r.oneOf("logShipper", DEFAULTS.logShipper, ["promtail", "alloy"] as const),
    protectData: r.boolean("protectData", DEFAULTS.protectData),
    alerts: {
      webhookUrl: r.optional("alertWebhookUrl", { test: (v) => HTTP_URL.test(v), expected: "an http(s) URL" }),
      email: r.optional("alertEmail", { test: (v) => EMAILS.test(v), expected: "one or more comma-separated email addresses" }),
      smtpHost: r.optional("smtpHost", { test: (v) => SMTP_HOST.test(v), expected: "host:port of an SMTP relay, such as mail.example.com:25" }),
      smtpFromAddress: r.optional("smtpFromAddress", { test: (v) => EMAILS.test(v) && !v.includes(","), expected: "one email address" }),
      runbookBaseUrl: r.optional("runbookBaseUrl", { test: (v) => HTTP_URL.test(v) && !v.endsWith("/"), expected: "an http(s) URL without a trailing slash" }),
      dauDropShare: r.share("dauDropShare", DEFAULTS.dauDropShare),
      noEventsMinutes: r.integer("noEventsMinutes", DEFAULTS.noEventsMinutes, 1, 1440, "a number of minutes"),
      ingestErrorsPerMinute: r.integer("ingestErrorsPerMinute", DEFAULTS.ingestErrorsPerMinute, 1, 1_000_000),
      ingestLagSeconds: r.integer("ingestLagSeconds", DEFAULTS.ingestLagSeconds, 1, 86_400, "a number of seconds"),
      spoolBacklogSeconds: r.integer("spoolBacklogSeconds", DEFAULTS.spoolBacklogSeconds, 10, 86_400, "a number of seconds"),
    },
    ingest: {
      spoolMaxBytes: r.integer("spoolMaxBytes", DEFAULTS.spoolMaxBytes, 16 * 1024 * 1024, 1024 ** 4, "a size in bytes"),
      batchMaxEvents: r.integer("batchMaxEvents", DEFAULTS.batchMaxEvents, 1, 1_000_000),
      flushIntervalMs: r.integer("flushIntervalMs", DEFAULTS.flushIntervalMs, 10, 60_000, "milliseconds"),
    },
    // "" is Pulumi.yaml's default: unset.
    namePrefix: raw.namePrefix === "" ? defaultNamePrefix(stack) : r.string("namePrefix", defaultNamePrefix(stack), {
      test: (v) => NAME_PREFIX.test(v), expected: "lowercase letters, digits and dashes, starting with a letter, at most 31 characters",
    }),
  };

  const published = Object.entries(config.ports);
  const seen = new Map<number, string>();
  for (const [name, value] of published) {
    const other = seen.get(value);
    if (other) {
      const [key, otherKey] = [`${name}Port`, `${other}Port`];
      // Suggest moving the one the stack set (the other one is at its default).
      const move = raw[otherKey] !== undefined && raw[key] === undefined ? otherKey : key;
      r.problems.push(`${CONFIG_NAMESPACE}:${key} and ${CONFIG_NAMESPACE}:${otherKey} are both ${value}; each published port ` +
        `must differ. Move one with \`pulumi config set ${CONFIG_NAMESPACE}:${move} <another port>\`.`);
    }
    seen.set(value, name);
  }
  // Without a relay Grafana accepts the email contact point and every notification then fails, in Grafana's log only.
  if (config.alerts.email !== undefined && (raw.smtpHost ?? "") === "") {
    r.problems.push(`${CONFIG_NAMESPACE}:alertEmail is set but ${CONFIG_NAMESPACE}:smtpHost is not: Grafana sends email only ` +
      `through an SMTP server, so every alert email would fail. Set the relay with \`pulumi config set ${CONFIG_NAMESPACE}:smtpHost ` +
      `mail.example.com:25\` (one that accepts mail from this host without a password), or use ${CONFIG_NAMESPACE}:alertWebhookUrl.`);
  }
  const lokiProblem = lokiImageProblem(config.images.loki);
  if (lokiProblem) r.problems.push(`${CONFIG_NAMESPACE}:lokiImage: got ${JSON.stringify(config.images.loki)}, expected an image the stack can health-check. ${lokiProblem}`);
  if (config.rollupRetentionDays < config.eventRetentionDays) {
    r.problems.push(`${CONFIG_NAMESPACE}:rollupRetentionDays: got ${config.rollupRetentionDays}, expected at least ` +
      `${CONFIG_NAMESPACE}:eventRetentionDays (${config.eventRetentionDays}); rollups must outlive the raw events they summarize. ` +
      `Fix it with \`pulumi config set ${CONFIG_NAMESPACE}:rollupRetentionDays ${config.eventRetentionDays}\` (or more), ` +
      `or lower ${CONFIG_NAMESPACE}:eventRetentionDays.`);
  }
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}
