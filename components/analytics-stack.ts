/**
 * The whole stack for one environment: network, generated secrets, ClickHouse with its schema, Loki, the log
 * shipper, Grafana with its datasources, dashboards and alerts, and the ingest service.
 *
 * Order is carried by dependencies, not by declaration: the schema waits for the healthy ClickHouse container;
 * the Grafana datasources wait for Grafana, the schema (the reader user and tables exist) and Loki; the
 * dashboards and alerts wait for the datasources; the ingest waits for the schema (its writer user and tables).
 */
import * as pulumi from "@pulumi/pulumi";
import { analyticsSettings } from "../dashboards/settings";
import { ClickHouse } from "./clickhouse";
import { Dashboards } from "./dashboards";
import { GeneratedSecrets } from "./generated-secrets";
import { Grafana } from "./grafana";
import { Ingest } from "./ingest";
import { LogShipper } from "./log-shipper";
import { Loki } from "./loki";
import { Network } from "./network";
import type { SecretKey, StackConfig } from "./stack-config";

export interface AnalyticsStackArgs {
  readonly config: StackConfig;
  /** Secrets the stack set; every missing one is generated. */
  readonly secrets: Partial<Record<SecretKey, pulumi.Output<string>>>;
  /** Directory of migration files; defaults to the repository's sql/. */
  readonly migrationsDir?: string;
}

export class AnalyticsStack extends pulumi.ComponentResource {
  public readonly grafanaUrl: pulumi.Output<string>;
  public readonly productDashboardUrl: pulumi.Output<string>;
  public readonly ingestDashboardUrl: pulumi.Output<string>;
  public readonly clickhouseUrl: pulumi.Output<string>;
  public readonly ingestUrl: pulumi.Output<string>;
  public readonly ingestWriteKeys: pulumi.Output<string>;
  public readonly grafanaAdminPassword: pulumi.Output<string>;
  public readonly clickhouseMigratorPassword: pulumi.Output<string>;
  public readonly clickhouse: ClickHouse;
  public readonly grafana: Grafana;
  public readonly secrets: GeneratedSecrets;

  constructor(name: string, args: AnalyticsStackArgs, opts?: pulumi.ComponentResourceOptions) {
    super("analytics:stack:AnalyticsStack", name, {}, opts);
    const cfg = args.config;
    const child = { parent: this };

    this.secrets = new GeneratedSecrets(`${name}-secrets`, { provided: args.secrets }, child);
    const secret = this.secrets.values;
    const network = new Network(`${name}-network`, { namePrefix: cfg.namePrefix }, child);
    // One list for both: ClickHouse collects the steps' events (analytics.funnel_events), the funnel panel reads them.
    // Likewise the retention offsets: the snapshots store the cells the retention panel shows.
    const { funnelSteps, retentionOffsetsDays } = analyticsSettings(cfg);

    this.clickhouse = new ClickHouse(`${name}-clickhouse`, {
      config: cfg,
      networkName: network.name,
      passwords: {
        migrator: secret.clickhouseMigratorPassword,
        writer: secret.clickhouseWriterPassword,
        reader: secret.clickhouseReaderPassword,
      },
      migrationsDir: args.migrationsDir,
      funnelSteps,
      retentionOffsetsDays,
    }, child);

    const loki = new Loki(`${name}-loki`, { config: cfg, networkName: network.name }, child);
    new LogShipper(`${name}-logs`, { config: cfg, networkName: network.name, lokiUrl: loki.internalUrl }, child);

    this.grafana = new Grafana(`${name}-grafana`, {
      config: cfg,
      networkName: network.name,
      grafanaAdminPassword: secret.grafanaAdminPassword,
      clickhouseReaderPassword: secret.clickhouseReaderPassword,
      datasourcesDependOn: [this.clickhouse.schema, loki.container],
    }, child);

    const dashboards = new Dashboards(`${name}-dashboards`, {
      config: cfg,
      settings: { funnelSteps },
      provider: this.grafana.provider,
      datasources: [this.grafana.clickhouseDatasource, this.grafana.lokiDatasource],
    }, child);

    // The writer user and the tables it inserts into exist only once the schema is applied.
    const ingest = new Ingest(`${name}-ingest`, {
      config: cfg,
      networkName: network.name,
      clickhouseUrl: this.clickhouse.internalHttpUrl,
      clickhouseWriterPassword: secret.clickhouseWriterPassword,
      writeKeys: secret.ingestWriteKeys,
    }, { parent: this, dependsOn: [this.clickhouse.schema] });

    this.grafanaUrl = this.grafana.url;
    this.ingestUrl = ingest.url;
    this.ingestWriteKeys = secret.ingestWriteKeys;
    this.productDashboardUrl = dashboards.productDashboardUrl;
    this.ingestDashboardUrl = dashboards.ingestDashboardUrl;
    this.clickhouseUrl = this.clickhouse.hostHttpUrl;
    this.grafanaAdminPassword = secret.grafanaAdminPassword;
    this.clickhouseMigratorPassword = secret.clickhouseMigratorPassword;
    this.registerOutputs({
      grafanaUrl: this.grafanaUrl,
      productDashboardUrl: this.productDashboardUrl,
      clickhouseUrl: this.clickhouseUrl,
      ingestUrl: this.ingestUrl,
    });
  }
}
