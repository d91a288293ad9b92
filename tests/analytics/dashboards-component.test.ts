/**
 * The Dashboards component under Pulumi mocks: folder, dashboards, rule group, contact point and policy are
 * created with the Grafana provider passed in, inside the folder, after the datasources.
 */
import * as grafana from "@pulumiverse/grafana";
import { beforeAll, describe, expect, it } from "vitest";
// Static imports are safe here: these modules register no resource when loaded (only index.ts does).
import { Dashboards } from "../../components/dashboards";
import { loadConfig } from "../../components/stack-config";
import { installMocks, type PulumiTestRuntime, type RecordedResource } from "../support/pulumi-harness";

let rt: PulumiTestRuntime;
beforeAll(async () => { rt = await installMocks({ stack: "dev", outputs: (type, _name, inputs) =>
  type === "grafana:oss/dashboard:Dashboard" ? { url: `http://grafana/d/${JSON.parse(inputs.configJson).uid}` } : undefined }); });

async function deploy(raw: Record<string, string>) {
  return rt.run(() => {
    const provider = new grafana.Provider("grafana", { url: "http://127.0.0.1:3000", auth: "admin:pw" });
    const clickhouse = new grafana.oss.DataSource("ds-clickhouse", { type: "grafana-clickhouse-datasource", name: "ClickHouse", uid: "clickhouse" }, { provider });
    const loki = new grafana.oss.DataSource("ds-loki", { type: "loki", name: "Loki", uid: "loki", url: "http://loki:3100" }, { provider });
    return new Dashboards("dashboards", { config: loadConfig(raw, "dev"), provider, datasources: [clickhouse, loki] });
  });
}

const grafanaTypes = ["grafana:oss/folder:Folder", "grafana:oss/dashboard:Dashboard", "grafana:alerting/ruleGroup:RuleGroup",
  "grafana:alerting/contactPoint:ContactPoint", "grafana:alerting/notificationPolicy:NotificationPolicy"];

describe("Dashboards component", () => {
  let resources: RecordedResource[];
  beforeAll(async () => { ({ resources } = await deploy({ alertWebhookUrl: "https://hooks.example.com/abc" })); });

  it("creates every Grafana resource as a child, with the passed provider, after both datasources", () => {
    const component = rt.find(resources, "analytics:stack:Dashboards", "dashboards");
    const provider = rt.find(resources, "pulumi:providers:grafana", "grafana");
    const datasources = resources.filter((r) => r.type === "grafana:oss/dataSource:DataSource").map((r) => r.urn);
    const created = resources.filter((r) => grafanaTypes.includes(r.type));
    expect(created.map((r) => r.type).sort()).toEqual([...grafanaTypes, "grafana:oss/dashboard:Dashboard"].sort());
    for (const r of created) {
      expect(r.parent, r.name).toBe(component.urn);
      expect(r.provider, r.name).toMatch(new RegExp(`^${provider.urn.replace(/[$()[\]]/g, "\\$&")}::`));
      for (const ds of datasources) expect(r.dependencies, r.name).toContain(ds);
    }
  });

  it("puts both dashboards and the rule group in the analytics folder (a uid no dashboard has)", () => {
    const folder = rt.find(resources, "grafana:oss/folder:Folder");
    expect(folder.inputs).toMatchObject({ uid: "analytics" });
    const dashboards = resources.filter((r) => r.type === "grafana:oss/dashboard:Dashboard");
    expect(dashboards.map((d) => JSON.parse(d.inputs.configJson).uid).sort()).toEqual(["ingest-health", "product-analytics"]);
    for (const d of dashboards) {
      // Grafana keeps folders in its dashboard table, unique on (org, uid): a shared uid fails the dashboard's creation.
      expect(JSON.parse(d.inputs.configJson).uid).not.toBe(folder.inputs.uid);
      expect(d.inputs.folder).toBe("analytics");
      expect(d.dependencies).toContain(folder.urn);
    }
    const rules = rt.find(resources, "grafana:alerting/ruleGroup:RuleGroup");
    expect(rules.inputs.folderUid).toBe("analytics");
    expect(rules.inputs.rules.map((r: { uid: string }) => r.uid)).toEqual(
      ["analytics-dau-drop", "analytics-no-events", "analytics-ingest-errors", "analytics-ingest-lag", "analytics-spool-backlog"]);
  });

  it("routes alerts to the configured webhook, kept secret", () => {
    const contactPoint = rt.find(resources, "grafana:alerting/contactPoint:ContactPoint");
    expect(contactPoint.inputs.webhooks).toEqual([{ url: "https://hooks.example.com/abc" }]);
    expect(contactPoint.secretInputs).toContain("webhooks");
    const policy = rt.find(resources, "grafana:alerting/notificationPolicy:NotificationPolicy");
    expect(policy.inputs.contactPoint).toBe(contactPoint.inputs.name);
    expect(policy.dependencies).toContain(contactPoint.urn);
  });

  it("sends email when only an email is configured, and creates no contact point when neither is", async () => {
    const email = await deploy({ alertEmail: "oncall@example.com, pm@example.com", smtpHost: "relay.internal:25" });
    expect(rt.find(email.resources, "grafana:alerting/contactPoint:ContactPoint").inputs.emails)
      .toEqual([{ addresses: ["oncall@example.com", "pm@example.com"] }]);
    const none = await deploy({});
    expect(none.resources.filter((r) => r.type.startsWith("grafana:alerting/") && r.type !== "grafana:alerting/ruleGroup:RuleGroup")).toEqual([]);
    expect(none.resources.filter((r) => r.type === "grafana:alerting/ruleGroup:RuleGroup")).toHaveLength(1);
  });
});
