import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  LOKI_DATA_DIR, LOKI_HTTP_PORT, imageVersion, lokiArtifacts, lokiHealthcheckTests, renderLokiConfig,
} from "../components/loki-config";
import { loadConfig } from "../components/stack-config";
import { runHealthcheck, startStatusServer, type ProbeServer } from "./support/healthcheck-probe";

const dev = loadConfig({ logRetentionDays: "7" }, "dev");
const parsed = (days: number) => parse(renderLokiConfig({ logRetentionDays: days }));

describe("Loki config", () => {
  it("stores logs with the TSDB index, schema v13, on the filesystem under the data volume", () => {
    const cfg = parsed(7);
    expect(cfg.schema_config.configs).toHaveLength(1);
    expect(cfg.schema_config.configs[0]).toMatchObject({ store: "tsdb", object_store: "filesystem", schema: "v13", index: { period: "24h" } });
    expect(cfg.common.path_prefix).toBe(LOKI_DATA_DIR);
    for (const dir of [cfg.common.storage.filesystem.chunks_directory, cfg.common.storage.filesystem.rules_directory, cfg.compactor.working_directory]) {
      expect(dir.startsWith(`${LOKI_DATA_DIR}/`), `${dir} is outside the data volume`).toBe(true);
    }
  });

  it.each([[1, "24h"], [7, "168h"], [14, "336h"], [31, "744h"]])(
    "keeps logs %i days through the compactor (retention_period %s)", (days, period) => {
      const cfg = parsed(days);
      expect(cfg.limits_config.retention_period).toBe(period);
      expect(cfg.compactor.retention_enabled).toBe(true);
      expect(cfg.compactor.delete_request_store).toBe("filesystem");
    });

  it("rejects late lines no older than the retention, at most 7 days", () => {
    expect(parsed(1).limits_config).toMatchObject({ reject_old_samples: true, reject_old_samples_max_age: "24h" });
    expect(parsed(3).limits_config.reject_old_samples_max_age).toBe("72h");
    expect(parsed(90).limits_config.reject_old_samples_max_age).toBe("168h");
  });

  it("runs without auth for the single tenant, allows structured metadata and reports nothing home", () => {
    const cfg = parsed(14);
    expect(cfg.auth_enabled).toBe(false);
    expect(cfg.limits_config.allow_structured_metadata).toBe(true);
    expect(cfg.analytics).toEqual({ reporting_enabled: false });
    expect(cfg.server.http_listen_port).toBe(LOKI_HTTP_PORT);
  });

  it("refuses a retention that is not a whole positive number of days, naming the setting", () => {
    expect(() => renderLokiConfig({ logRetentionDays: 0 })).toThrow(/logRetentionDays: got 0/);
    expect(() => renderLokiConfig({ logRetentionDays: 1.5 })).toThrow(/analytics:logRetentionDays/);
  });

  it("renders one artifact, loki/loki.yaml, from the stack config", () => {
    const files = lokiArtifacts(dev);
    expect(Object.keys(files)).toEqual(["loki/loki.yaml"]);
    expect(parse(files["loki/loki.yaml"]).limits_config.retention_period).toBe("168h");
  });
});

describe("Loki healthcheck", () => {
  it.each([
    ["grafana/loki:3.5.0", [3, 5, 0]],
    ["grafana/loki:3.7.1-amd64", [3, 7, 1]],
    ["registry.local:5000/grafana/loki:3.4.2", [3, 4, 2]],
    ["grafana/loki:main-4f2a1b", undefined],
    [`grafana/loki@sha256:${"a".repeat(64)}`, undefined],
  ])("reads the version of %s", (image, version) => {
    expect(imageVersion(image)).toEqual(version);
  });

  it("uses busybox wget on /ready up to 3.5 and the binary's own -health from 3.7", () => {
    expect(lokiHealthcheckTests("grafana/loki:3.5.0")).toEqual(["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:3100/ready"]);
    expect(lokiHealthcheckTests("grafana/loki:3.7.0")).toEqual(["CMD", "/usr/bin/loki", "-health"]);
    expect(lokiHealthcheckTests(`grafana/loki@sha256:${"b".repeat(64)}`)).toEqual(["CMD", "/usr/bin/loki", "-health"]);
  });

  it("refuses Loki 3.6, whose image can run no healthcheck, and says which versions work", () => {
    expect(() => lokiHealthcheckTests("grafana/loki:3.6.3")).toThrow(/3\.5\.x or 3\.7\.0 or later.*analytics:lokiImage/s);
  });

  describe("the wget probe, run here against a stand-in /ready", () => {
    let ready: ProbeServer;
    let starting: ProbeServer;
    beforeAll(async () => {
      ready = await startStatusServer({ "/ready": 200 });
      starting = await startStatusServer({ "/ready": 503 });
    });
    afterAll(async () => { await ready.close(); await starting.close(); });

    const probe = lokiHealthcheckTests("grafana/loki:3.5.0");
    it("passes when /ready answers 200", async () => {
      expect(await runHealthcheck(probe, LOKI_HTTP_PORT, ready.port)).toBe(0);
    });
    it("fails while /ready answers 503 (ingester still joining its ring)", async () => {
      expect(await runHealthcheck(probe, LOKI_HTTP_PORT, starting.port)).not.toBe(0);
    });
  });
});
