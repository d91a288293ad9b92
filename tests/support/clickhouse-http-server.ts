/**
 * ClickHouse's HTTP interface over chDB, in a child process, for tests and benchmarks that need a ClickHouse
 * "server": the ingest service connects with `@clickhouse/client` exactly as it would in production.
 *
 *   const ch = await startClickHouseHttp({ dataDir });
 *   createClient({ url: ch.url });
 *   await ch.stop();      // ClickHouse is down: connections are refused
 *   await ch.restart();   // same data dir, same port: the outage is over and nothing stored was lost
 *
 * chDB locks its data directory per process, so the test process itself must not open `dataDir` while the child
 * runs. The child (clickhouse-http-child.ts) documents which parts of the protocol it implements.
 */
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";

export interface ClickHouseHttpOptions {
  /** chDB data directory; kept across stop/restart. */
  readonly dataDir: string;
  /** Port on 127.0.0.1. Defaults to 0 (any free port); restart reuses the port the first start got. */
  readonly port?: number;
  /** When set, requests must authenticate as this user (wrong credentials get code 516). Defaults to none. */
  readonly user?: string;
  readonly password?: string;
  /** Milliseconds to wait for the child to listen. Defaults to 30000. */
  readonly startTimeoutMs?: number;
}

export interface ClickHouseHttp {
  /** `http://127.0.0.1:<port>`, stable across restarts. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** ClickHouse version reported by the engine. */
  readonly version: string;
  /** Whether the child is currently serving. */
  running(): boolean;
  /** Stops serving. `SIGTERM` (default) closes the engine cleanly; `SIGKILL` simulates a crash. */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Starts serving again on the same data dir and port. */
  restart(): Promise<void>;
}

const CHILD = join(__dirname, "clickhouse-http-child.ts");

interface Started {
  readonly child: ChildProcess;
  readonly port: number;
  readonly version: string;
}

function launch(options: ClickHouseHttpOptions, port: number): Promise<Started> {
  const child = fork(CHILD, [], {
    execArgv: ["--import", "tsx"],
    env: {
      ...process.env,
      CH_HTTP_DATA_DIR: options.dataDir,
      CH_HTTP_PORT: String(port),
      ...(options.user !== undefined ? { CH_HTTP_USER: options.user, CH_HTTP_PASSWORD: options.password ?? "" } : {}),
    },
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  return new Promise<Started>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`ClickHouse HTTP child did not listen within ${timeoutMs} ms (data dir ${options.dataDir})`));
    }, timeoutMs);
    child.once("message", (message: { ready?: boolean; port?: number; version?: string }) => {
      clearTimeout(timer);
      if (message.ready && typeof message.port === "number") resolve({ child, port: message.port, version: message.version ?? "" });
      else reject(new Error(`ClickHouse HTTP child sent an unexpected message: ${JSON.stringify(message)}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`ClickHouse HTTP child exited before listening (code ${code}, signal ${signal}); ` +
        `is another process using the data dir ${options.dataDir}?`));
    });
  });
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export async function startClickHouseHttp(options: ClickHouseHttpOptions): Promise<ClickHouseHttp> {
  let current: Started | undefined = await launch(options, options.port ?? 0);
  const port = current.port;
  const version = current.version;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir: options.dataDir,
    version,
    running: () => current !== undefined,
    async stop(signal = "SIGTERM") {
      if (!current) return;
      const { child } = current;
      current = undefined;
      const exited = waitForExit(child);
      child.kill(signal);
      await exited;
    },
    async restart() {
      if (current) return;
      current = await launch(options, port);
    },
  };
}
