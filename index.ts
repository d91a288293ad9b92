/**
 * Entry point of `pulumi up`: reads and validates the stack's config once, builds the stack, exports what a user
 * opens. Everything else lives in components/ (resources) and dashboards/ (pure builders).
 */
import { AnalyticsStack } from "./components/analytics-stack";
import { readStackConfig } from "./components/pulumi-config";

const { cfg, secrets } = readStackConfig();
const stack = new AnalyticsStack("analytics", { config: cfg, secrets });

export const grafanaUrl = stack.grafanaUrl;
export const productDashboardUrl = stack.productDashboardUrl;
export const ingestDashboardUrl = stack.ingestDashboardUrl;
export const clickhouseUrl = stack.clickhouseUrl;
/** Point your app or Segment SDK here (Segment's HTTP Tracking API paths: /v1/batch, /v1/track, ...). */
export const ingestUrl = stack.ingestUrl;
/** Generated credentials: `pulumi stack output --show-secrets`. */
export const grafanaAdminUser = "admin";
export const grafanaAdminPassword = stack.grafanaAdminPassword;
/** Write keys the ingest accepts (comma-separated); use one as the Segment SDK's writeKey. */
export const ingestWriteKeys = stack.ingestWriteKeys;
/** Password of the ClickHouse `migrator` user, which `npm run backup`, `restore` and `forget-user` run as. */
export const clickhouseMigratorPassword = stack.clickhouseMigratorPassword;
