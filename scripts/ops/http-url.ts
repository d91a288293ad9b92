/** Checks for the URLs the commands take (ingest, ClickHouse, S3): plain http(s), no credentials, no query. */

/** The parsed URL when it is http(s) without user, password or query string; undefined otherwise. */
export function plainHttpUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (!/^https?:$/.test(url.protocol) || url.username || url.password || url.search) return undefined;
  return url;
}

/** The URL with any user:password replaced, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@\s]*@/, "//<redacted>@");
}
