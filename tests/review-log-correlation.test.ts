/**
 * Review tests of the log-correlation links against the Loki that serves them.
 */
import { describe, expect, it } from "vitest";
import { lokiDatasource } from "../components/grafana-datasources";
import { lokiConfig } from "../components/loki-config";
import { loadConfig } from "../components/stack-config";

/** Loki's documented default for limits_config.max_query_length (queries over a longer range are refused). */
const LOKI_DEFAULT_MAX_QUERY_LENGTH_HOURS = 721;

const hours = (duration: string) => {
  const m = /^(\d+)h$/.exec(duration);
  if (!m) throw new Error(`expected a duration in hours, got ${duration}`);
  return Number(m[1]);
};

describe("request_id link vs Loki's query length limit", () => {
  for (const days of [7, 30, 90, 365]) {
    it(`opens a range Loki accepts with logRetentionDays ${days}`, () => {
      const cfg = loadConfig({ logRetentionDays: String(days) }, "dev");
      const field = (lokiDatasource(cfg).jsonData.derivedFields as Array<{ name: string; url: string }>)
        .find((f) => f.name === "request_id")!;
      const panes = JSON.parse(new URL(field.url, "http://grafana.test").searchParams.get("panes")!);
      const range = (Object.values(panes)[0] as { range: { from: string; to: string } }).range;
      expect(range.to).toBe("now");
      const linkDays = Number(/^now-(\d+)d$/.exec(range.from)?.[1]);
      const limits = lokiConfig(cfg).limits_config as Record<string, string>;
      const maxHours = limits.max_query_length === undefined ? LOKI_DEFAULT_MAX_QUERY_LENGTH_HOURS : hours(limits.max_query_length);
      // Loki answers "the query time range exceeds the limit" to a longer query: the link would open on an error.
      expect(linkDays * 24).toBeLessThanOrEqual(maxHours);
      // And the link still covers the whole retention, where the request's lines may be.
      expect(linkDays).toBe(days);
    });
  }
});
