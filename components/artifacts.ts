/**
 * Every file the stack generates, as a pure function of its config: what `npm run render` writes, what reviewers
 * read to see exactly what will run, and what tests parse. Each component module contributes its own producer.
 */
import { clickhouseArtifacts } from "./clickhouse";
import { dashboardArtifacts } from "./dashboards";
import { grafanaArtifacts } from "./grafana";
import { ingestArtifacts } from "./ingest";
import { logShipperArtifacts } from "./log-shipper";
import { lokiArtifacts } from "./loki";
import type { StackConfig } from "./stack-config";

export type ArtifactProducer = (cfg: StackConfig) => Record<string, string>;

/** Resolved, non-secret stack configuration. */
function stackConfigArtifacts(cfg: StackConfig): Record<string, string> {
  return { "stack-config.json": `${JSON.stringify(cfg, null, 2)}\n` };
}

export const ARTIFACT_PRODUCERS: readonly ArtifactProducer[] = [
  stackConfigArtifacts,
  (cfg) => clickhouseArtifacts(cfg),
  lokiArtifacts,
  logShipperArtifacts,
  grafanaArtifacts,
  ingestArtifacts,
  (cfg) => dashboardArtifacts(cfg),
];

/** All artifacts for a stack; throws if two producers claim the same path. */
export function allArtifacts(cfg: StackConfig): Map<string, string> {
  const files = new Map<string, string>();
  for (const produce of ARTIFACT_PRODUCERS) {
    for (const [path, content] of Object.entries(produce(cfg))) {
      if (files.has(path)) throw new Error(`two artifact producers write ${path}`);
      files.set(path, content);
    }
  }
  return files;
}
