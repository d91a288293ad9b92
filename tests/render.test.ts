import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { render } from "../scripts/render";

const root = join(__dirname, "..");
const tsx = join(root, "node_modules", ".bin", "tsx");

describe("npm run render", () => {
  it.each(["dev", "prod"])("writes every artifact of the %s stack, secrets as placeholders", (stack) => {
    const out = mkdtempSync(join(tmpdir(), `render-${stack}-`));
    const written = render(root, stack, out);
    expect(written).toEqual(expect.arrayContaining([
      "stack-config.json",
      "clickhouse/users.d/analytics-users.xml",
      "clickhouse/config.d/analytics.xml",
      "clickhouse/migration-plan.sql",
      "loki/loki.yaml",
      "promtail/config.yml",
      "alloy/config.alloy",
      "grafana/datasources/clickhouse.json",
      "grafana/datasources/loki.json",
      "grafana/dashboards/product-analytics.json",
      "grafana/alerting/rule-group.json",
    ]));
    for (const path of written) expect(existsSync(join(out, path)), path).toBe(true);
    const cfg = JSON.parse(readFileSync(join(out, "stack-config.json"), "utf8"));
    expect(cfg.namePrefix).toBe(`analytics-${stack}`);
    expect(parse(readFileSync(join(out, "loki/loki.yaml"), "utf8"))).toBeTypeOf("object");
    expect(readFileSync(join(out, "grafana/datasources/clickhouse.json"), "utf8")).toContain("<generated: clickhouseReaderPassword>");
    expect(readFileSync(join(out, "clickhouse/migration-plan.sql"), "utf8")).toContain("CREATE TABLE IF NOT EXISTS analytics.events");
  });

  it("fails with the key, the value and what is allowed when a stack's config is bad", () => {
    const dir = mkdtempSync(join(tmpdir(), "render-bad-"));
    copyFileSync(join(root, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
    writeFileSync(join(dir, "Pulumi.bad.yaml"), "config:\n  analytics:grafanaPort: \"99999\"\n");
    expect(() => render(dir, "bad", join(dir, "out"))).toThrow(/analytics:grafanaPort: got "99999", expected an integer port/);
  });

  it("as a command, explains its usage when a flag is missing", () => {
    const result = spawnSync(tsx, [join(root, "scripts", "render.ts"), "--stack", "dev"], { encoding: "utf8" });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("usage: npm run render -- --stack");
  });
});
