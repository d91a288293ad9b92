/**
 * Grafana Explore URLs (Grafana 10+ `panes` state), shared by the Loki datasource's derived-field links and the
 * dashboards' data links. The state is URL-encoded except the tokens Grafana must still find and replace
 * (`${__from}`, `${__value.raw}`, variables), which stay literal.
 */
export function exploreUrlFromPanes(panes: Record<string, unknown>, literalTokens: readonly string[]): string {
  let encoded = encodeURIComponent(JSON.stringify(panes));
  for (const token of literalTokens) encoded = encoded.split(encodeURIComponent(token)).join(token);
  return `/explore?schemaVersion=1&orgId=1&panes=${encoded}`;
}
