/**
 * Loki 3.x configuration for one single-binary instance (`-target=all`), as a pure function of the stack config.
 *
 * - Storage: TSDB index, schema v13 (the schema structured metadata needs), chunks and index on the local
 *   filesystem under /loki, which is the data volume.
 * - Retention: enforced by the compactor (`retention_enabled`), which deletes chunks older than
 *   `limits_config.retention_period` = logRetentionDays. Loki 3 refuses to start with retention on and no
 *   `delete_request_store`, so delete requests are kept on the same filesystem.
 * - Ingestion: lines older than min(7 days, retention) are rejected; they would be deleted at the next compaction.
 * - No usage reporting to Grafana Labs.
 *
 * The healthcheck depends on the image: see `lokiHealthcheckTests`.
 */
import { stringify } from "yaml";
import type { StackConfig } from "./stack-config";

export const LOKI_HTTP_PORT = 3100;
/** Loki as seen from inside the stack's Docker network (network alias `loki`). */
export const LOKI_INTERNAL_URL = `http://loki:${LOKI_HTTP_PORT}`;
export const LOKI_PUSH_PATH = "/loki/api/v1/push";
/** Path of the generated config inside the container. */
export const LOKI_CONFIG_PATH = "/etc/loki/loki.yaml";
/** Mount point of the data volume; every path Loki writes is below it. */
export const LOKI_DATA_DIR = "/loki";

const HOURS_PER_DAY = 24;
/** Ingestion window for late lines when retention is longer than this. */
const MAX_LATE_LINE_HOURS = 7 * HOURS_PER_DAY;

/** Loki's own default max_query_length (30 days and an hour). */
const DEFAULT_MAX_QUERY_LENGTH_HOURS = 721;

export type LokiSettings = Pick<StackConfig, "logRetentionDays">;

/** The Loki config as a plain object (what the YAML file holds). */
export function lokiConfig(cfg: LokiSettings): Record<string, unknown> {
  if (!Number.isInteger(cfg.logRetentionDays) || cfg.logRetentionDays < 1) {
    throw new Error(`logRetentionDays: got ${cfg.logRetentionDays}, expected a whole number of days of at least 1; ` +
      "set it with `pulumi config set analytics:logRetentionDays <days>`");
  }
  const retentionHours = cfg.logRetentionDays * HOURS_PER_DAY;
  return {
    auth_enabled: false,
    server: {
      http_listen_port: LOKI_HTTP_PORT,
      grpc_listen_port: 9096,
      log_level: "info",
      // JSON so the log shipper reads Loki's own `level` like every other service's.
      log_format: "json",
    },
    common: {
      instance_addr: "127.0.0.1",
      path_prefix: LOKI_DATA_DIR,
      storage: {
        filesystem: {
          chunks_directory: `${LOKI_DATA_DIR}/chunks`,
          rules_directory: `${LOKI_DATA_DIR}/rules`,
        },
      },
      replication_factor: 1,
      ring: { kvstore: { store: "inmemory" } },
    },
    schema_config: {
      configs: [{
        // A fixed date before any data this stack can hold: changing it later would orphan stored chunks.
        from: "2024-01-01",
        store: "tsdb",
        object_store: "filesystem",
        schema: "v13",
        index: { prefix: "index_", period: "24h" },
      }],
    },
    compactor: {
      working_directory: `${LOKI_DATA_DIR}/compactor`,
      compaction_interval: "10m",
      retention_enabled: true,
      retention_delete_delay: "2h",
      delete_request_store: "filesystem",
    },
    limits_config: {
      retention_period: `${retentionHours}h`,
      reject_old_samples: true,
      reject_old_samples_max_age: `${Math.min(retentionHours, MAX_LATE_LINE_HOURS)}h`,
      // request_id and user_id travel as structured metadata (schema v13 + tsdb), not as labels.
      allow_structured_metadata: true,
      volume_enabled: true,
      // Loki refuses queries longer than this (default 721h): at least the whole retention (plus the hour a range
      // ending now spills over), so "Last 90 days" and the request_id link over the retention open on lines.
      max_query_length: `${Math.max(DEFAULT_MAX_QUERY_LENGTH_HOURS, retentionHours + 1)}h`,
    },
    query_range: {
      results_cache: { cache: { embedded_cache: { enabled: true, max_size_mb: 100 } } },
    },
    analytics: { reporting_enabled: false },
  };
}

export function renderLokiConfig(cfg: LokiSettings): string {
  return `# Generated from the stack config by components/loki-config.ts; do not edit.\n${stringify(lokiConfig(cfg), { lineWidth: 0 })}`;
}

/** Leading `major.minor.patch` of an image tag such as `grafana/loki:3.5.0` or `grafana/loki:3.7.1-amd64`. */
export function imageVersion(image: string): [number, number, number] | undefined {
  if (image.includes("@")) return undefined;
  const tag = image.slice(image.lastIndexOf(":") + 1);
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(tag);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/**
 * A healthcheck that can run inside the pinned Loki image and asks Loki's /ready endpoint:
 * - up to 3.5.x the image is distroless `static:debug` with busybox on PATH, so busybox `wget` works;
 * - 3.6.x removed busybox and has no shell, no wget and no self-check: no container healthcheck can run there;
 * - from 3.7.0 the binary has `-health`, which GETs http://localhost:3100/ready and exits 0 only on 200.
 * An image pinned by digest (version unknown) gets `-health`, the only probe a current image can run.
 */
export function lokiHealthcheckTests(image: string): string[] {
  const version = imageVersion(image);
  const healthFlag = ["CMD", "/usr/bin/loki", "-health"];
  if (!version) return healthFlag;
  const [major, minor] = version;
  if (major < 3 || (major === 3 && minor <= 5)) {
    return ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${LOKI_HTTP_PORT}/ready`];
  }
  const problem = lokiImageProblem(image);
  if (problem) throw new Error(`lokiImage: ${image} cannot be health-checked: ${problem}`);
  return healthFlag;
}

/**
 * Why the stack cannot health-check this Loki image, or undefined when it can. loadConfig reports it with the other
 * config problems, before anything is created.
 */
export function lokiImageProblem(image: string): string | undefined {
  const version = imageVersion(image);
  if (!version || version[0] !== 3 || version[1] !== 6) return undefined;
  return "Loki 3.6 images have no shell, no wget and no `-health` flag, so the stack could not wait for Loki to be " +
    "ready. Pin grafana/loki 3.5.x or 3.7.0 or later with `pulumi config set analytics:lokiImage grafana/loki:<version>`.";
}

/** Files `npm run render` writes for Loki. */
export function lokiArtifacts(cfg: StackConfig): Record<string, string> {
  return { "loki/loki.yaml": renderLokiConfig(cfg) };
}
