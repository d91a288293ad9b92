import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as grafana from "@pulumiverse/grafana";
import {
  CLICKHOUSE_PLUGIN_ID, clickhouseDatasource, clickhouseSecureJsonData, lokiDatasource, type DatasourcePayload,
} from "./grafana-datasources";
import { containerOptions, healthcheck, imageAndVolume, reachableHost, serviceContainerArgs } from "./service-container";
import type { StackConfig } from "./stack-config";

export const GRAFANA_HTTP_PORT = 3000;
export const GRAFANA_DATA_DIR = "/var/lib/grafana";
export const GRAFANA_ADMIN_USER = "admin";
/**
 * The admin password, uploaded as a file: the image's entrypoint turns `GF_<KEY>__FILE` into `GF_<KEY>` from the
 * file, so the password never shows in the container's environment (`docker inspect`).
 */
export const GRAFANA_ADMIN_PASSWORD_FILE = "/run/grafana-secrets/admin-password";

/** /api/health answers 200 once the database is up; the image (Alpine or Ubuntu based) ships curl. */
export const GRAFANA_HEALTHCHECK_TESTS = ["CMD", "curl", "-fsS", "-o", "/dev/null", `http://127.0.0.1:${GRAFANA_HTTP_PORT}/api/health`];

/** Grafana as the Pulumi host and the user's browser reach it. */
export function grafanaHostUrl(cfg: Pick<StackConfig, "bindAddress" | "ports">): string {
  return `http://${reachableHost(cfg.bindAddress)}:${cfg.ports.grafana}`;
}

/**
 * The container's environment, without secrets. Grafana reads `GF_<SECTION>_<KEY>` as grafana.ini settings.
 * - The admin password comes from a stack secret, in the file GRAFANA_ADMIN_PASSWORD_FILE. Grafana applies it only
 *   when it creates its database (first start on an empty volume); to rotate it later use
 *   `grafana cli admin reset-admin-password` in the container.
 * - No anonymous access, no sign-up, no org creation by users, no public snapshot sharing, no phoning home.
 * - The ClickHouse plugin is installed, at the pinned version, before the server starts (`preinstall_sync`,
 *   Grafana 12.1+; `GF_INSTALL_PLUGINS` is deprecated), so "healthy" implies "plugin installed".
 * - JSON logs, so the log shipper reads Grafana's `level` like every other service's.
 */
export function grafanaEnvironment(cfg: Pick<StackConfig, "bindAddress" | "ports" | "clickhousePluginVersion" | "alerts">): string[] {
  const settings: [string, string][] = [
    ["GF_SECURITY_ADMIN_USER", GRAFANA_ADMIN_USER],
    ["GF_SECURITY_ADMIN_PASSWORD__FILE", GRAFANA_ADMIN_PASSWORD_FILE],
    ["GF_SECURITY_DISABLE_GRAVATAR", "true"],
    ["GF_AUTH_ANONYMOUS_ENABLED", "false"],
    ["GF_USERS_ALLOW_SIGN_UP", "false"],
    ["GF_USERS_ALLOW_ORG_CREATE", "false"],
    ["GF_SNAPSHOTS_EXTERNAL_ENABLED", "false"],
    ["GF_ANALYTICS_REPORTING_ENABLED", "false"],
    ["GF_ANALYTICS_CHECK_FOR_UPDATES", "false"],
    ["GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES", "false"],
    ["GF_NEWS_NEWS_FEED_ENABLED", "false"],
    ["GF_PLUGINS_PREINSTALL_SYNC", `${CLICKHOUSE_PLUGIN_ID}@${cfg.clickhousePluginVersion}`],
    // Links in alert notifications and the derived-field links point here.
    ["GF_SERVER_ROOT_URL", `${grafanaHostUrl(cfg)}/`],
    ["GF_LOG_MODE", "console"],
    ["GF_LOG_CONSOLE_FORMAT", "json"],
    // Alert email goes through the configured relay (no authentication: a relay that trusts this host).
    ...(cfg.alerts.smtpHost === undefined ? [] : [
      ["GF_SMTP_ENABLED", "true"], ["GF_SMTP_HOST", cfg.alerts.smtpHost],
      ...(cfg.alerts.smtpFromAddress === undefined ? [] : [["GF_SMTP_FROM_ADDRESS", cfg.alerts.smtpFromAddress]]),
    ] as [string, string][]),
  ];
  return settings.map(([key, value]) => `${key}=${value}`);
}

/** Placeholder for a secret in rendered artifacts: the real value only exists in the encrypted stack state. */
export const secretPlaceholder = (key: string) => `<generated: ${key}>`;

/** Files `npm run render` writes for Grafana (secrets as placeholders). */
export function grafanaArtifacts(cfg: StackConfig): Record<string, string> {
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  return {
    "grafana/environment.env": `${grafanaEnvironment(cfg).join("\n")}\n`,
    "grafana/secret-files.txt": `${GRAFANA_ADMIN_PASSWORD_FILE}: ${secretPlaceholder("grafanaAdminPassword")}\n`,
    "grafana/datasources/clickhouse.json": json({
      ...clickhouseDatasource(),
      secureJsonData: clickhouseSecureJsonData(secretPlaceholder("clickhouseReaderPassword")),
    }),
    "grafana/datasources/loki.json": json(lokiDatasource(cfg)),
  };
}

export interface GrafanaArgs {
  /** Stack config: image, plugin version, namePrefix, bindAddress, ports.grafana, protectData. */
  readonly config: StackConfig;
  /** The stack's Docker network; Grafana joins it with the alias `grafana` and reaches `clickhouse` and `loki`. */
  readonly networkName: pulumi.Input<string>;
  /** Password of Grafana's `admin` user (a stack secret). */
  readonly grafanaAdminPassword: pulumi.Input<string>;
  /** Password of ClickHouse's read-only `grafana_reader` user (a stack secret). */
  readonly clickhouseReaderPassword: pulumi.Input<string>;
  /**
   * What the datasources wait for besides the healthy Grafana container, such as the ClickHouse schema (so the
   * reader user exists) and the Loki container. Defaults to none.
   */
  readonly datasourcesDependOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * Grafana with its data on a named volume, published on bindAddress:ports.grafana; a `@pulumiverse/grafana`
 * provider pointed at it that is only configured once the container is healthy; and the ClickHouse and Loki
 * datasources, created through that provider.
 */
export class Grafana extends pulumi.ComponentResource {
  /** Grafana's URL from the host, e.g. http://127.0.0.1:3000 (depends on the healthy container). */
  public readonly url: pulumi.Output<string>;
  public readonly container: docker.Container;
  /** Provider for every Grafana resource of the stack (folders, dashboards, alerts). */
  public readonly provider: grafana.Provider;
  public readonly clickhouseDatasource: grafana.oss.DataSource;
  public readonly lokiDatasource: grafana.oss.DataSource;

  constructor(name: string, args: GrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("analytics:stack:Grafana", name, {}, opts);
    const cfg = args.config;
    const adminPassword = pulumi.secret(args.grafanaAdminPassword);

    const { image, volume: data } = imageAndVolume(name, {
      image: cfg.images.grafana, namePrefix: cfg.namePrefix, what: "grafana", protectData: cfg.protectData,
    }, this);

    this.container = new docker.Container(`${name}-container`, {
      ...serviceContainerArgs({ namePrefix: cfg.namePrefix, service: "grafana", networkName: args.networkName, waitTimeoutSeconds: 300 }),
      image: image.imageId,
      envs: grafanaEnvironment(cfg),
      // Read by uid 472 (Grafana's user) through the entrypoint; a secret in the state like the password itself.
      uploads: adminPassword.apply((password) => [{ file: GRAFANA_ADMIN_PASSWORD_FILE, content: password, permissions: "0444" }]),
      volumes: [{ volumeName: data.name, containerPath: GRAFANA_DATA_DIR }],
      ports: [{ internal: GRAFANA_HTTP_PORT, external: cfg.ports.grafana, ip: cfg.bindAddress }],
      // Grafana runs as uid 472 and needs no capability.
      capabilities: { drops: ["ALL"] },
      // The start period covers the plugin download that preinstall_sync does before the server starts.
      healthcheck: healthcheck(GRAFANA_HEALTHCHECK_TESTS, "60s"),
    }, containerOptions(this));

    this.url = this.container.id.apply(() => grafanaHostUrl(cfg));
    this.provider = new grafana.Provider(`${name}-provider`, {
      url: grafanaHostUrl(cfg),
      auth: pulumi.interpolate`${GRAFANA_ADMIN_USER}:${adminPassword}`,
      // A fresh Grafana may still be settling right after its healthcheck passes.
      retries: 5,
    }, { parent: this, dependsOn: [this.container] });

    const datasourceOpts: pulumi.CustomResourceOptions = {
      parent: this,
      provider: this.provider,
      dependsOn: [this.container, ...(args.datasourcesDependOn ?? [])],
    };
    const toArgs = (p: DatasourcePayload): grafana.oss.DataSourceArgs => ({
      name: p.name, type: p.type, uid: p.uid, url: p.url, accessMode: p.accessMode, isDefault: p.isDefault,
      jsonDataEncoded: JSON.stringify(p.jsonData),
    });
    this.clickhouseDatasource = new grafana.oss.DataSource(`${name}-clickhouse-datasource`, {
      ...toArgs(clickhouseDatasource()),
      secureJsonDataEncoded: pulumi.secret(args.clickhouseReaderPassword)
        .apply((password) => JSON.stringify(clickhouseSecureJsonData(password))),
    }, datasourceOpts);
    this.lokiDatasource = new grafana.oss.DataSource(`${name}-loki-datasource`, toArgs(lokiDatasource(cfg)), datasourceOpts);

    this.registerOutputs({ url: this.url });
  }
}
