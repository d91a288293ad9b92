import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LINE_TO_DASHBOARD_WINDOW_MS, MATCHED_VALUE, REQUEST_ID_MATCHER, clickhouseDatasource, clickhouseSecureJsonData,
  lokiDatasource, requestLogsQuery,
} from "../components/grafana-datasources";
import { GRAFANA_HEALTHCHECK_TESTS, GRAFANA_HTTP_PORT, grafanaArtifacts, grafanaEnvironment, grafanaHostUrl } from "../components/grafana";
import { loadConfig } from "../components/stack-config";
import { logqlProblems } from "./support/logql";
import { runHealthcheck, startStatusServer } from "./support/healthcheck-probe";

const dev = loadConfig({ logRetentionDays: "7" }, "dev");
// A line as the ingest service's pino logger writes it (numeric level, epoch-ms time).
const pinoLine = '{"level":50,"time":1767225600123,"pid":1,"hostname":"ingest","request_id":"req-7f3a","user_id":"u_42","msg":"insert failed"}';

describe("ClickHouse datasource", () => {
  it("uses the plugin over the native protocol as the read-only reader, on the analytics database", () => {
    expect(clickhouseDatasource()).toEqual({
      name: "ClickHouse", type: "grafana-clickhouse-datasource", uid: "clickhouse", accessMode: "proxy", isDefault: true,
      jsonData: { host: "clickhouse", port: 9000, protocol: "native", secure: false, username: "grafana_reader", defaultDatabase: "analytics" },
    });
  });

  it("keeps the password out of jsonData", () => {
    expect(JSON.stringify(clickhouseDatasource())).not.toMatch(/password/i);
    expect(clickhouseSecureJsonData("s3cret")).toEqual({ password: "s3cret" });
  });
});

describe("Loki datasource", () => {
  const loki = lokiDatasource(dev);
  const fields = loki.jsonData.derivedFields as Array<Record<string, string>>;
  const field = (name: string) => fields.find((f) => f.name === name)!;
  /** What Grafana does with a derived field's URL: substitute the matched value (percent-encoded), then open it. */
  const follow = (url: string, value: string) =>
    new URL(url.replaceAll(MATCHED_VALUE, encodeURIComponent(value)).replaceAll("${__value.raw}", value), "http://grafana.test");

  it("points at Loki inside the network with a fixed uid", () => {
    expect(loki).toMatchObject({ type: "loki", uid: "loki", url: "http://loki:3100", accessMode: "proxy" });
    expect(loki.jsonData.maxLines).toBe(1000);
  });

  it("finds the request id in a pino line and opens Explore on every line of the stack that mentions it", () => {
    const requestId = field("request_id");
    const id = new RegExp(requestId.matcherRegex).exec(pinoLine)?.[1];
    expect(id).toBe("req-7f3a");
    expect(requestId.datasourceUid).toBeUndefined();
    const url = follow(requestId.url, id!);
    expect(url.pathname).toBe("/explore");
    const panes = JSON.parse(url.searchParams.get("panes")!);
    const pane = Object.values(panes)[0] as { datasource: string; queries: Array<{ expr: string }>; range: { from: string } };
    expect(pane.datasource).toBe("loki");
    expect(pane.queries[0].expr).toBe('{stack="analytics-dev"} |= "req-7f3a"');
    // The whole retention: the request's lines are found wherever the user is looking from.
    expect(pane.range).toEqual({ from: "now-7d", to: "now" });
  });

  it("links UUID request ids, and no id that would break the URL, the JSON state or the LogQL string", () => {
    const matcher = new RegExp(field("request_id").matcherRegex);
    const uuid = "5f0c6a1e-8a4b-4c1d-9a39-2f6f1f2b7c11";
    expect(matcher.exec(`{"request_id":"${uuid}"}`)?.[1]).toBe(uuid);
    const pane = Object.values(JSON.parse(follow(field("request_id").url, uuid).searchParams.get("panes")!))[0] as { queries: Array<{ expr: string }> };
    expect(pane.queries[0].expr).toBe(`{stack="analytics-dev"} |= "${uuid}"`);
    for (const odd of ['a&b=c', 'q\\"uote', "sp ace", "x".repeat(129)]) {
      expect(matcher.exec(JSON.stringify({ request_id: odd })), odd).toBeNull();
    }
  });

  it("opens the product dashboard on the hour around the line's time_ms", () => {
    const dashboard = field("product_dashboard");
    expect(dashboard.matcherType).toBe("label");
    expect(new RegExp(dashboard.matcherRegex).test("time_ms")).toBe(true);
    expect(new RegExp(dashboard.matcherRegex).test("time_ms_x")).toBe(false);
    const url = follow(dashboard.url, "1767225600123");
    expect(url.pathname).toBe("/d/product-analytics");
    const time = Number(url.searchParams.get("time"));
    const window = Number(url.searchParams.get("time.window"));
    // Grafana opens [time - window/2, time + window/2].
    expect([time - window / 2, time + window / 2]).toEqual([1767225600123 - 1_800_000, 1767225600123 + 1_800_000]);
    expect(window).toBe(LINE_TO_DASHBOARD_WINDOW_MS);
  });

  it("finds no request id in a line without one", () => {
    expect(new RegExp(REQUEST_ID_MATCHER).exec('{"level":30,"msg":"flush"}')).toBeNull();
  });

  it("generates LogQL that Loki accepts, as a template and with real ids", () => {
    for (const query of [requestLogsQuery(dev.namePrefix), requestLogsQuery(dev.namePrefix, "req-7f3a"),
      requestLogsQuery(dev.namePrefix, 'odd "quoted\\ id')]) {
      expect(logqlProblems(query), query).toEqual([]);
    }
  });
});

describe("Grafana environment", () => {
  const env = Object.fromEntries(grafanaEnvironment(dev).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));

  it("takes the admin password from the secret and turns anonymous access and sign-up off", () => {
    expect(env).toMatchObject({
      GF_SECURITY_ADMIN_USER: "admin", GF_SECURITY_ADMIN_PASSWORD__FILE: "/run/grafana-secrets/admin-password",
      GF_AUTH_ANONYMOUS_ENABLED: "false", GF_USERS_ALLOW_SIGN_UP: "false", GF_ANALYTICS_REPORTING_ENABLED: "false",
    });
  });

  it("sends alert email through the configured SMTP relay, and enables no SMTP without one", () => {
    expect(Object.keys(env).filter((k) => k.startsWith("GF_SMTP_"))).toEqual([]);
    const mail = grafanaEnvironment(loadConfig({ alertEmail: "oncall@example.com", smtpHost: "relay.internal:25", smtpFromAddress: "alerts@example.com" }, "dev"));
    expect(mail.filter((kv) => kv.startsWith("GF_SMTP_"))).toEqual(["GF_SMTP_ENABLED=true", "GF_SMTP_HOST=relay.internal:25", "GF_SMTP_FROM_ADDRESS=alerts@example.com"]);
  });

  it("installs the ClickHouse plugin at the pinned version before the server starts, not with the deprecated variable", () => {
    expect(env.GF_PLUGINS_PREINSTALL_SYNC).toBe("grafana-clickhouse-datasource@4.11.2");
    expect(Object.keys(env)).not.toContain("GF_INSTALL_PLUGINS");
    const pinned = loadConfig({ clickhousePluginVersion: "4.10.1" }, "dev");
    expect(grafanaEnvironment(pinned)).toContain("GF_PLUGINS_PREINSTALL_SYNC=grafana-clickhouse-datasource@4.10.1");
  });

  it("is reached on the bind address, or on loopback when the stack binds every interface", () => {
    expect(grafanaHostUrl(dev)).toBe("http://127.0.0.1:3000");
    expect(grafanaHostUrl(loadConfig({ bindAddress: "0.0.0.0", grafanaPort: "3300" }, "x"))).toBe("http://127.0.0.1:3300");
    expect(grafanaHostUrl(loadConfig({ bindAddress: "10.1.2.3" }, "x"))).toBe("http://10.1.2.3:3000");
    expect(env.GF_SERVER_ROOT_URL).toBe("http://127.0.0.1:3000/");
  });
});

describe("Grafana artifacts", () => {
  const files = grafanaArtifacts(dev);

  it("renders the environment and both datasource payloads with secrets as placeholders", () => {
    expect(Object.keys(files).sort()).toEqual(["grafana/datasources/clickhouse.json", "grafana/datasources/loki.json", "grafana/environment.env", "grafana/secret-files.txt"]);
    expect(files["grafana/environment.env"]).not.toContain("<generated");
    expect(files["grafana/secret-files.txt"]).toBe("/run/grafana-secrets/admin-password: <generated: grafanaAdminPassword>\n");
    const clickhouse = JSON.parse(files["grafana/datasources/clickhouse.json"]);
    expect(clickhouse.secureJsonData).toEqual({ password: "<generated: clickhouseReaderPassword>" });
    expect(JSON.parse(files["grafana/datasources/loki.json"])).toEqual(lokiDatasource(dev));
  });
});

describe("Grafana healthcheck, run here against a stand-in /api/health", () => {
  let server: Awaited<ReturnType<typeof startStatusServer>>;
  beforeAll(async () => { server = await startStatusServer({ "/api/health": 200 }); });
  afterAll(async () => { await server.close(); });
  const probe = GRAFANA_HEALTHCHECK_TESTS;

  it("passes on 200 and fails on anything else", async () => {
    expect(await runHealthcheck(probe, GRAFANA_HTTP_PORT, server.port)).toBe(0);
    const failing = await startStatusServer({ "/api/health": 503 });
    expect(await runHealthcheck(probe, GRAFANA_HTTP_PORT, failing.port)).not.toBe(0);
    await failing.close();
  });
});
