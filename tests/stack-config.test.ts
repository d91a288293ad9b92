import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ConfigError, DEFAULTS, KNOWN_KEYS, SECRET_KEYS, loadConfig } from "../components/stack-config";
import { declaredSettings, rawConfigForStack, stackValues } from "../components/stack-files";

const root = join(__dirname, "..");

function problemsOf(raw: Record<string, string>): string[] {
  try {
    loadConfig(raw, "dev");
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

describe("loadConfig", () => {
  it("fills every default when nothing is set", () => {
    const cfg = loadConfig({}, "dev");
    expect(cfg.bindAddress).toBe("127.0.0.1");
    expect(cfg.ports).toEqual({ grafana: 3000, ingest: 8080, clickhouseHttp: 8123, loki: 3100 });
    expect(cfg.logShipper).toBe("promtail");
    expect(cfg.protectData).toBe(false);
    expect(cfg.namePrefix).toBe("analytics-dev");
    expect(cfg.alerts.webhookUrl).toBeUndefined();
  });

  it("types the values a stack sets, and 0-like values are kept, not replaced by defaults", () => {
    const cfg = loadConfig({ bindAddress: "0.0.0.0", grafanaPort: "3300", protectData: "true", logShipper: "alloy", dauDropShare: "0.25" }, "prod");
    expect(cfg.bindAddress).toBe("0.0.0.0");
    expect(cfg.ports.grafana).toBe(3300);
    expect(cfg.protectData).toBe(true);
    expect(cfg.logShipper).toBe("alloy");
    expect(cfg.alerts.dauDropShare).toBe(0.25);
  });

  it("never prints the value of a key the stack stored encrypted (a webhook URL carrying a token)", () => {
    const raw = { alertWebhookUrl: "hooks.example.com/services/T0KEN-SECRET" };
    expect(() => loadConfig(raw, "dev")).toThrow("T0KEN-SECRET");
    let message = "";
    try { loadConfig(raw, "dev", { encryptedKeys: ["alertWebhookUrl"] }); } catch (error) { message = (error as Error).message; }
    expect(message).toContain("analytics:alertWebhookUrl: got a secret value (not shown), expected an http(s) URL");
    expect(message).not.toContain("T0KEN");
  });

  it("refuses alert email without an SMTP relay (Grafana would accept the contact point and fail every email)", () => {
    const problems = problemsOf({ alertEmail: "oncall@example.com" });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain("analytics:alertEmail is set but analytics:smtpHost is not");
    expect(problems[0]).toContain("pulumi config set analytics:smtpHost");
    expect(problemsOf({ alertEmail: "oncall@example.com", smtpHost: "mail.example.com:25" })).toEqual([]);
  });

  it.each([
    ["grafanaPort", "abc", "analytics:grafanaPort: got \"abc\", expected an integer port from 1 to 65535"],
    ["grafanaPort", "70000", "analytics:grafanaPort"],
    ["bindAddress", "localhost", "expected an IPv4 address"],
    ["clickhouseImage", "clickhouse/clickhouse-server:latest", "pinned tag"],
    ["lokiImage", "grafana/loki", "pinned tag"],
    ["logShipper", "fluentd", "one of \"promtail\", \"alloy\""],
    ["protectData", "yes", "true or false"],
    ["dauDropShare", "30", "a share between 0 and 1"],
    ["alertWebhookUrl", "hooks.example.com", "an http(s) URL"],
    ["alertEmail", "ops@", "email"],
    ["smtpHost", "mail.example.com", "host:port of an SMTP relay"],
    ["smtpFromAddress", "a@example.com, b@example.com", "one email address"],
    ["eventRetentionDays", "0", "a number of days from 1"],
    ["namePrefix", "Analytics_Dev", "lowercase letters"],
  ])("rejects %s=%s naming the key and what is allowed", (key, value, message) => {
    const problems = problemsOf({ [key]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`analytics:${key}`);
    expect(problems[0]).toContain(message);
    expect(problems[0]).toContain("pulumi config set");
  });

  it("reports every problem at once", () => {
    const problems = problemsOf({ grafanaPort: "x", ingestPort: "y", logShipper: "z" });
    expect(problems).toHaveLength(3);
  });

  it("rejects unknown keys, so a typo is not silently ignored", () => {
    expect(problemsOf({ grafanPort: "3000" })[0]).toMatch(/analytics:grafanPort: unknown setting/);
  });

  it("rejects two services on one host port", () => {
    const [problem] = problemsOf({ grafanaPort: "8080" });
    expect(problem).toMatch(/analytics:ingestPort and analytics:grafanaPort are both 8080/);
    expect(problem).toContain("`pulumi config set analytics:grafanaPort <another port>`");
  });

  it("rejects rollups that would expire before the raw events", () => {
    const [problem] = problemsOf({ eventRetentionDays: "400", rollupRetentionDays: "100" });
    expect(problem).toMatch(/analytics:rollupRetentionDays: got 100, expected at least analytics:eventRetentionDays \(400\)/);
    expect(problem).toContain("`pulumi config set analytics:rollupRetentionDays 400`");
  });

  it("gives every stack name its own default Docker name prefix, so two stacks never share containers or volumes", () => {
    const prefix = (stack: string) => loadConfig({}, stack).namePrefix;
    expect(prefix("dev")).toBe("analytics-dev");
    expect(prefix("prod")).toBe("analytics-prod");
    // Names that are no valid prefix as they are (too long, or with characters Docker names here do not use).
    const pairs = [["feature-checkout-redesign-a", "feature-checkout-redesign-b"], ["dev_eu", "dev-eu"], ["Staging", "staging"], ["qa.1", "qa-1"]];
    for (const [a, b] of pairs) {
      expect(prefix(a), `${a} vs ${b}`).not.toBe(prefix(b));
      for (const p of [prefix(a), prefix(b)]) expect(p).toMatch(/^[a-z][a-z0-9-]{0,30}$/);
    }
  });

  it("rejects a Loki image the stack cannot health-check here, not halfway through `pulumi up`", () => {
    // Thrown by the Loki component, it came after the network, volumes, images and passwords were registered.
    const [problem] = problemsOf({ lokiImage: "grafana/loki:3.6.3" });
    expect(problem).toMatch(/^analytics:lokiImage: got "grafana\/loki:3\.6\.3", .*3\.5\.x or 3\.7\.0 or later/);
    expect(problem).toContain("pulumi config set analytics:lokiImage");
    expect(problemsOf({ lokiImage: "grafana/loki:3.7.0" })).toEqual([]);
  });

  it("never reads secret values", () => {
    const cfg = loadConfig({ grafanaAdminPassword: "not-read" }, "dev");
    expect(JSON.stringify(cfg)).not.toContain("not-read");
  });
});

describe("Pulumi.yaml", () => {
  const declared = declaredSettings(readFileSync(join(root, "Pulumi.yaml"), "utf8"));

  it("declares exactly the settings the program reads", () => {
    expect([...declared.keys()].sort()).toEqual([...KNOWN_KEYS].sort());
  });

  it("declares the same defaults as the code", () => {
    const codeDefaults: Record<string, unknown> = { ...DEFAULTS };
    for (const [key, decl] of declared) {
      if (decl.default === undefined || decl.default === "") continue; // "": optional, unset by default
      expect(codeDefaults[key], `Pulumi.yaml default of ${key} has no counterpart in DEFAULTS`).toBeDefined();
      expect(decl.default, `default of ${key}: Pulumi.yaml says ${decl.default}, stack-config.ts says ${codeDefaults[key]}; make them equal`).toBe(String(codeDefaults[key]));
    }
  });

  it("requires nothing a stack does not set: the Pulumi CLI refuses to run a stack missing a key declared without a default", () => {
    // pulumi/pulumi sdk/go/common/workspace (mergeConfig): a key of the project's namespace with neither `default`
    // nor `value` is required, and `pulumi up` stops with "Stack 'dev' is missing configuration values ...".
    for (const stack of ["dev", "prod"]) {
      const set = stackValues(readFileSync(join(root, `Pulumi.${stack}.yaml`), "utf8"));
      const missing = [...declared].filter(([key, d]) => d.default === undefined && set[key] === undefined).map(([key]) => key);
      expect(missing, `Pulumi.${stack}.yaml`).toEqual([]);
    }
  });

  it("declares the secret keys optional (default \"\", never `secret: true`, which Pulumi would require every stack to set)", () => {
    const secret = [...declared].filter(([, d]) => d.secret).map(([k]) => k).sort();
    expect(secret).toEqual([...SECRET_KEYS].sort());
    const doc = parse(readFileSync(join(root, "Pulumi.yaml"), "utf8")) as { config: Record<string, Record<string, unknown>> };
    for (const key of SECRET_KEYS) {
      expect(declared.get(key)?.default, key).toBe("");
      expect(doc.config[key].secret, key).toBeUndefined();
    }
  });

  it("describes every setting", () => {
    for (const [key, decl] of declared) expect(decl.description.length, key).toBeGreaterThan(10);
  });
});

describe("stack files", () => {
  it("dev and prod are valid and differ where environments should", () => {
    const dev = loadConfig(rawConfigForStack(root, "dev"), "dev");
    const prod = loadConfig(rawConfigForStack(root, "prod"), "prod");
    expect(dev.protectData).toBe(false);
    expect(prod.protectData).toBe(true);
    expect(prod.eventRetentionDays).toBeGreaterThan(dev.eventRetentionDays);
    expect(prod.ports.grafana).not.toBe(dev.ports.grafana);
    expect(prod.logShipper).toBe("alloy");
    expect(dev.logShipper).toBe("promtail");
    expect(prod.namePrefix).not.toBe(dev.namePrefix);
  });

  it("names a missing stack file and how to create it", () => {
    expect(() => rawConfigForStack(root, "staging")).toThrow(/pulumi stack init staging/);
  });
});
