import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { GRAFANA_HEALTHCHECK_TESTS, Grafana } from "../components/grafana";
import { lokiDatasource } from "../components/grafana-datasources";
import { loadConfig } from "../components/stack-config";
import { CONTAINER, IMAGE, VOLUME, installComponentMocks } from "./support/component-mocks";
import { isSecretOutput, unwrap, type PulumiTestRuntime, type RecordedResource } from "./support/pulumi-harness";

const PROVIDER = "pulumi:providers:grafana";
const DATASOURCE = "grafana:oss/dataSource:DataSource";

let rt: PulumiTestRuntime;
beforeAll(async () => {
  rt = await installComponentMocks();
});

describe("Grafana component", () => {
  const dev = loadConfig({}, "dev");
  let resources: RecordedResource[];
  let grafana: Grafana;
  let container: RecordedResource;
  let schema: docker.Network;
  const find = (type: string, name: string) => rt.find(resources, type, name);

  beforeAll(async () => {
    ({ resources, result: grafana } = await rt.run(() => {
      // Stands in for the ClickHouse schema the datasources must wait for.
      schema = new docker.Network("schema-stand-in", { name: "x" });
      return new Grafana("grafana", {
        config: dev,
        networkName: "analytics-dev-net",
        grafanaAdminPassword: pulumi.secret("admin-pw"),
        // Given as a plain value: the component must still treat it as a secret.
        clickhouseReaderPassword: "reader-pw",
        datasourcesDependOn: [schema],
      });
    }));
    container = find(CONTAINER, "grafana-container");
  });

  it("runs the pinned image with anonymous access and sign-up off and the admin password as a secret", () => {
    expect(find(IMAGE, "grafana-image").inputs).toMatchObject({ name: "grafana/grafana:12.1.0", keepLocally: true });
    expect(container.inputs.image).toBe("sha256:grafana/grafana:12.1.0");
    expect(container.inputs.envs).toEqual(expect.arrayContaining([
      "GF_SECURITY_ADMIN_PASSWORD__FILE=/run/grafana-secrets/admin-password", "GF_AUTH_ANONYMOUS_ENABLED=false",
      "GF_USERS_ALLOW_SIGN_UP=false", "GF_ANALYTICS_REPORTING_ENABLED=false",
      "GF_PLUGINS_PREINSTALL_SYNC=grafana-clickhouse-datasource@4.11.2",
    ]));
    expect(JSON.stringify(container.inputs.envs)).not.toContain("admin-pw");
    expect(container.inputs.uploads).toEqual([{ file: "/run/grafana-secrets/admin-password", content: "admin-pw", permissions: "0444" }]);
    expect(container.secretInputs).toContain("uploads");
  });

  it("publishes port 3000 on the bind address and waits for /api/health", () => {
    expect(container.inputs.ports).toEqual([{ internal: 3000, external: 3000, ip: "127.0.0.1" }]);
    expect(container.inputs.healthcheck.tests).toEqual(GRAFANA_HEALTHCHECK_TESTS);
    expect(container.inputs.wait).toBe(true);
    expect(container.inputs.volumes).toEqual([{ volumeName: "analytics-dev-grafana-data", containerPath: "/var/lib/grafana" }]);
    expect(find(VOLUME, "grafana-data").protect).toBe(false);
    expect(container.inputs.networksAdvanced).toEqual([{ name: "analytics-dev-net", aliases: ["grafana"] }]);
  });

  it("points a Grafana provider at the host URL, as admin with the secret password, after the container", async () => {
    const provider = find(PROVIDER, "grafana-provider");
    expect(provider.inputs.url).toBe("http://127.0.0.1:3000");
    expect(provider.inputs.auth).toBe("admin:admin-pw");
    expect(provider.secretInputs).toContain("auth");
    expect(provider.dependencies).toContain(container.urn);
    expect(await unwrap(grafana.url)).toBe("http://127.0.0.1:3000");
  });

  it("creates both datasources through that provider, after the healthy container and what they were told to wait for", () => {
    const provider = find(PROVIDER, "grafana-provider");
    for (const name of ["grafana-clickhouse-datasource", "grafana-loki-datasource"]) {
      const ds = find(DATASOURCE, name);
      expect(ds.provider?.startsWith(`${provider.urn}::`), `${name} uses the stack's Grafana provider`).toBe(true);
      expect(ds.dependencies).toEqual(expect.arrayContaining([container.urn, find("docker:index/network:Network", "schema-stand-in").urn]));
    }
  });

  it("gives the datasources their fixed uids and keeps the reader password secret", async () => {
    const clickhouse = find(DATASOURCE, "grafana-clickhouse-datasource");
    expect(clickhouse.inputs).toMatchObject({ uid: "clickhouse", type: "grafana-clickhouse-datasource", isDefault: true });
    expect(JSON.parse(clickhouse.inputs.jsonDataEncoded)).toMatchObject({ username: "grafana_reader", protocol: "native", port: 9000 });
    expect(JSON.parse(clickhouse.inputs.secureJsonDataEncoded)).toEqual({ password: "reader-pw" });
    expect(clickhouse.secretInputs).toContain("secureJsonDataEncoded");
    expect(await isSecretOutput(grafana.clickhouseDatasource.secureJsonDataEncoded)).toBe(true);

    const loki = find(DATASOURCE, "grafana-loki-datasource");
    expect(loki.inputs).toMatchObject({ uid: "loki", type: "loki", url: "http://loki:3100" });
    expect(JSON.parse(loki.inputs.jsonDataEncoded)).toEqual(lokiDatasource(dev).jsonData);
    expect(loki.secretInputs).toEqual([]);
  });

  it("protects the data volume and reaches Grafana on loopback when the stack binds every interface", async () => {
    const prod = loadConfig({ protectData: "true", bindAddress: "0.0.0.0", grafanaPort: "3300" }, "prod");
    const { resources: prodResources } = await rt.run(() => new Grafana("gf", {
      config: prod, networkName: "n", grafanaAdminPassword: pulumi.secret("a"), clickhouseReaderPassword: pulumi.secret("b"),
    }));
    const volume = rt.find(prodResources, VOLUME, "gf-data");
    expect([volume.inputs.name, volume.protect, volume.retainOnDelete]).toEqual(["analytics-prod-grafana-data", true, true]);
    expect(rt.find(prodResources, CONTAINER, "gf-container").inputs.ports[0]).toMatchObject({ external: 3300, ip: "0.0.0.0" });
    expect(rt.find(prodResources, PROVIDER, "gf-provider").inputs.url).toBe("http://127.0.0.1:3300");
  });
});
