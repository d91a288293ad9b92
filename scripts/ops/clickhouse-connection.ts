/**
 * Connection settings of the operations commands (backup, restore, forget-user): flags, then the environment
 * (CLICKHOUSE_URL, CLICKHOUSE_USER, CLICKHOUSE_PASSWORD), then the stack (its ClickHouse HTTP port on the bind
 * address, and the migrator's password from its outputs). Validated in one pure function that reports every
 * problem at once; the password is accepted only from the environment or the stack, never as a flag (flags show
 * in process lists and shell history), and is never printed.
 *
 * These commands run as `migrator`: the stack's users are migrator (DDL, SELECT, INSERT, ALTER on analytics.*),
 * ingest_writer (INSERT only) and grafana_reader (read-only), and only the migrator may delete rows and recreate
 * tables. The image's passwordless `default` user is removed by the stack and refused here.
 */
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { plainHttpUrl } from "./http-url";

/** The user operations run as, and the stack output holding its password. */
export const OPS_USER = "migrator";
export const OPS_PASSWORD_OUTPUT = "clickhouseMigratorPassword";

export interface ClickHouseConnection {
  readonly url: string;
  readonly username: string;
  readonly password: string;
}

export interface ConnectionInputs {
  readonly url?: string;
  readonly user?: string;
  readonly stack: string;
}

/** What a connection needs from the deployed stack, when flags and environment leave something out. */
export interface StackLookup {
  /** ClickHouse HTTP URL from the stack's config (bind address and port). */
  url(stack: string): string;
  /** The migrator's password from the stack's outputs. */
  password(stack: string): string;
}

export class OpsUsageError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "OpsUsageError";
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** The URL for messages: no credentials, no query string. */
export function safeUrl(url: string): string {
  return url.replace(/\/\/[^/@\s]*@/, "//").replace(/\?.*$/, "");
}

export function describeConnection(conn: ClickHouseConnection): string {
  return `${conn.username}@${safeUrl(conn.url)}`;
}

export function resolveConnection(inputs: ConnectionInputs, env: Env, stack: StackLookup): ClickHouseConnection {
  const problems: string[] = [];
  let url = inputs.url ?? env.CLICKHOUSE_URL;
  if (url === undefined) {
    try {
      url = stack.url(inputs.stack);
    } catch (error) {
      problems.push(`no ClickHouse URL: pass --url or set CLICKHOUSE_URL (${(error as Error).message})`);
    }
  }
  if (url !== undefined) {
    const parsed = plainHttpUrl(url);
    if (!parsed || (parsed.pathname !== "/" && parsed.pathname !== "")) {
      problems.push(`--url/CLICKHOUSE_URL: got ${JSON.stringify(safeUrl(url))}, expected ClickHouse's HTTP address such as http://127.0.0.1:8123 ` +
        "(no user, password, path or query in it: use CLICKHOUSE_USER and CLICKHOUSE_PASSWORD)");
    }
  }
  const username = inputs.user ?? env.CLICKHOUSE_USER ?? OPS_USER;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(username)) problems.push(`--user/CLICKHOUSE_USER: got ${JSON.stringify(username)}, expected a ClickHouse user name such as ${OPS_USER}`);
  if (username === "default") {
    problems.push(`--user/CLICKHOUSE_USER: the passwordless "default" user is removed by the stack; run as ${OPS_USER} (its password: ` +
      `\`npm run pulumi -- ${inputs.stack} stack output ${OPS_PASSWORD_OUTPUT} --show-secrets\`)`);
  }
  let password = env.CLICKHOUSE_PASSWORD;
  if (password === undefined && username === OPS_USER && problems.length === 0) {
    try {
      password = stack.password(inputs.stack);
    } catch (error) {
      problems.push(`no password for ${username}: set CLICKHOUSE_PASSWORD (${(error as Error).message})`);
    }
  } else if (password === undefined && username !== OPS_USER) {
    problems.push(`CLICKHOUSE_PASSWORD: required for user ${username} (the stack's outputs only hold the ${OPS_USER} password)`);
  }
  if (password !== undefined && password.length === 0) {
    problems.push("CLICKHOUSE_PASSWORD: is empty; the stack's users all have generated passwords");
  }
  if (problems.length > 0) throw new OpsUsageError(problems);
  return { url: url!, username, password: password! };
}

const STACK_NAME = /^[a-z][a-z0-9-]*$/;

/**
 * Validates the stack name and the connection settings and opens a client: the shared front half of every
 * operations command. Returns the problems instead when there are any (the command prints them and exits 2).
 */
export function openOpsClient(inputs: ConnectionInputs, env: Env, stack: StackLookup):
  { readonly client: ClickHouseClient; readonly connection: string } | { readonly problems: readonly string[] } {
  if (!STACK_NAME.test(inputs.stack)) return { problems: [`--stack: got ${JSON.stringify(inputs.stack)}, expected a stack name such as dev or prod`] };
  try {
    const conn = resolveConnection(inputs, env, stack);
    return { client: opsClient(conn), connection: describeConnection(conn) };
  } catch (error) {
    if (error instanceof OpsUsageError) return { problems: error.problems };
    throw error;
  }
}

/**
 * A client for long operations: mutations and backups can take minutes on a big table. Progress headers keep the
 * HTTP connection busy meanwhile, so an idle timeout on the way (a proxy, a NAT) does not cut it.
 */
export function opsClient(conn: ClickHouseConnection): ClickHouseClient {
  return createClient({
    url: conn.url, username: conn.username, password: conn.password, request_timeout: 30 * 60_000,
    clickhouse_settings: { send_progress_in_http_headers: 1, http_headers_progress_interval_ms: "60000" },
  });
}
