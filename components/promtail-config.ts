/**
 * Promtail configuration (the default log shipper), as a pure function of the stack config.
 *
 * Promtail reached end of life on 2026-03-02: it gets no more fixes, security ones included. Grafana Alloy replaces
 * it; `analytics:logShipper alloy` switches this stack to the equivalent pipeline in alloy-config.ts. Promtail stays
 * the default only because the user's design asks for it.
 *
 * Containers are discovered through the Docker API (`docker_sd_configs`), restricted to this stack by its label, so
 * lines arrive without Docker's json-file wrapper and need no `docker` stage. The pipeline is log-pipeline.ts.
 */
import { stringify } from "yaml";
import { LOKI_INTERNAL_URL, LOKI_PUSH_PATH } from "./loki-config";
import {
  DOCKER_HOST, JSON_FIELDS, LINE_LABELS, RELABEL_RULES, STRUCTURED_METADATA, TIME_MS_FIELD, levelTemplate,
  sameNameSources, stackContainerFilter, timeMsTemplate,
} from "./log-pipeline";
import type { StackConfig } from "./stack-config";

export const PROMTAIL_HTTP_PORT = 9080;
export const PROMTAIL_CONFIG_PATH = "/etc/promtail/config.yml";
/** Mount point of the small volume that keeps read positions across restarts (no duplicate or lost lines). */
export const PROMTAIL_DATA_DIR = "/var/lib/promtail";

export const PROMTAIL_EOL_NOTICE = "Promtail reached end of life on 2026-03-02 and gets no more fixes; " +
  "switch to Grafana Alloy with `pulumi config set analytics:logShipper alloy`.";


export function promtailConfig(cfg: Pick<StackConfig, "namePrefix">, lokiUrl: string = LOKI_INTERNAL_URL): Record<string, unknown> {
  return {
    server: { http_listen_port: PROMTAIL_HTTP_PORT, grpc_listen_port: 0, log_level: "info", log_format: "json" },
    positions: { filename: `${PROMTAIL_DATA_DIR}/positions.yaml` },
    clients: [{ url: `${lokiUrl}${LOKI_PUSH_PATH}` }],
    scrape_configs: [{
      job_name: "docker",
      docker_sd_configs: [{
        host: DOCKER_HOST,
        refresh_interval: "5s",
        filters: [stackContainerFilter(cfg.namePrefix)],
      }],
      relabel_configs: RELABEL_RULES.map((r) => ({
        source_labels: [r.sourceLabel],
        ...(r.regex ? { regex: r.regex } : {}),
        target_label: r.targetLabel,
      })),
      pipeline_stages: [
        // A line that is not JSON passes through unchanged, with no level label.
        { json: { expressions: sameNameSources(JSON_FIELDS) } },
        { template: { source: "level", template: levelTemplate() } },
        { template: { source: TIME_MS_FIELD, template: timeMsTemplate() } },
        { labels: sameNameSources(LINE_LABELS) },
        { structured_metadata: sameNameSources(STRUCTURED_METADATA) },
        // Without a usable `time` the entry keeps Docker's receive time.
        { timestamp: { source: TIME_MS_FIELD, format: "UnixMs", action_on_failure: "skip" } },
      ],
    }],
  };
}

export function renderPromtailConfig(cfg: Pick<StackConfig, "namePrefix">, lokiUrl?: string): string {
  return `# Generated from the stack config by components/promtail-config.ts; do not edit.\n# ${PROMTAIL_EOL_NOTICE}\n` +
    stringify(promtailConfig(cfg, lokiUrl), { lineWidth: 0 });
}
