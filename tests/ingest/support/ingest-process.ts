/**
 * Runs the real ingest server (ingest/src/server.ts) as a child process, so tests can SIGKILL it, and a helper
 * that applies the repository's migrations to a ClickHouse HTTP endpoint with the project's migration runner.
 */
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createClient } from "@clickhouse/client";
import { funnelRollupStatements } from "../../../components/funnel-rollup";
import { applyMigrations, readMigrationSources, toMigrationFiles } from "../../../components/migrations";
import { DEFAULT_FUNNEL } from "../../../dashboards/settings";

const SERVER = join(__dirname, "..", "..", "..", "ingest", "src", "server.ts");
export const SQL_DIR = join(__dirname, "..", "..", "..", "sql");

export interface IngestProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Log lines (parsed JSON) the process wrote so far. */
  readonly logs: Record<string, unknown>[];
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface IngestProcessOptions {
  readonly clickhouseUrl: string;
  readonly spoolDir: string;
  readonly writeKeys: readonly string[];
  /** Fixed port so clients can keep their URL across restarts. Defaults to 0 (any). */
  readonly port?: number;
  readonly env?: Record<string, string>;
}

export async function startIngestProcess(options: IngestProcessOptions): Promise<IngestProcess> {
  const child = fork(SERVER, [], {
    execArgv: ["--import", "tsx"],
    env: {
      PATH: process.env.PATH,
      INGEST_HOST: "127.0.0.1",
      INGEST_PORT: String(options.port ?? 0),
      INGEST_WRITE_KEYS: options.writeKeys.join(","),
      CLICKHOUSE_URL: options.clickhouseUrl,
      CLICKHOUSE_USER: "default",
      CLICKHOUSE_PASSWORD: "",
      INGEST_SPOOL_DIR: options.spoolDir,
      INGEST_LOG_LEVEL: "info",
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const logs: Record<string, unknown>[] = [];
  let buffered = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
    }
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => { stderr += chunk.toString("utf8"); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ingest did not listen within 30 s; stderr: ${stderr}`)), 30_000);
    child.on("message", (m: { listening?: string }) => {
      if (m.listening) { clearTimeout(timer); resolve(m.listening); }
    });
    void exited.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`ingest exited before listening (code ${code}, signal ${signal}); stderr: ${stderr}`)); });
  });
  return {
    url: address,
    child,
    logs,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Applies every migration in sql/ and the funnel rollup's view to the endpoint, as the stack's SchemaMigration does
 * after ClickHouse is healthy (the retention TTLs are left out: test data is dated).
 */
export async function migrate(clickhouseUrl: string): Promise<void> {
  const client = createClient({ url: clickhouseUrl });
  try {
    await applyMigrations(client, toMigrationFiles(readMigrationSources(SQL_DIR)), { afterStatements: funnelRollupStatements(DEFAULT_FUNNEL) });
  } finally {
    await client.close();
  }
}
