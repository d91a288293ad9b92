/**
 * Where the simulated app's log lines go.
 *
 * The stack's log shipper (Promtail or Alloy) reads the stdout of Docker containers labelled
 * `analytics.stack=<namePrefix>`, and names the stream after their `analytics.service` label. The simulator runs
 * on the host, not in a container, so for its lines to reach Loki the `docker` sink pipes them into a small relay
 * container of the stack's own Node image (`sh -c 'cat; sleep N'`): the relay prints what it reads, carries the
 * stack and `service=app` labels, and stays up a few seconds after the last line so the shipper (which looks for
 * containers every 5 s) reads everything before `--rm` removes it. Lines carry their own `time`, which the shipper
 * uses as the timestamp, so a backfilled incident lands at its historical time (Loki accepts lines up to a week
 * old; older ones are not written, see APP_LOG_MAX_AGE_MS).
 *
 * The `stdout` sink prints the lines (for piping anywhere, e.g. `| docker run -i ...` by hand); `none` drops them.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Writable } from "node:stream";
import { SERVICE_LABEL, STACK_LABEL } from "../../components/service-container";

/** Loki refuses lines older than a week (components/loki-config.ts); older app lines are not written at all. */
export const APP_LOG_MAX_AGE_MS = 6 * 86_400_000;
/** Value of the relay's analytics.service label: the `service` label of the app's streams in Loki. */
export const APP_SERVICE = "app";
/** Seconds the relay stays up after the last line: a bit over the shipper's 5 s discovery interval. */
export const RELAY_LINGER_SECONDS = 12;

export interface LogSink {
  readonly description: string;
  write(line: string): Promise<void>;
  close(): Promise<void>;
}

async function writeLine(stream: Writable, line: string): Promise<void> {
  if (!stream.write(`${line}\n`)) await new Promise<void>((resolve) => stream.once("drain", () => resolve()));
}

export function streamSink(stream: Writable, description: string): LogSink {
  return { description, write: (line) => writeLine(stream, line), close: async () => {} };
}

export const nullSink: LogSink = { description: "not written (--app-logs none)", write: async () => {}, close: async () => {} };

export interface RelaySpec {
  readonly namePrefix: string;
  /** An image with `sh`, `cat` and `sleep`: the stack's pinned Node image, already pulled by `pulumi up`. */
  readonly image: string;
  /** Makes the container name unique per run. */
  readonly runId: string;
}

/** `docker` arguments of the relay container (pure, so the labels and log options are tested). */
export function relayContainerArgs(spec: RelaySpec): string[] {
  return [
    "run", "-i", "--rm",
    "--name", `${spec.namePrefix}-simulate-app-${spec.runId}`,
    "--label", `${STACK_LABEL}=${spec.namePrefix}`,
    "--label", `${SERVICE_LABEL}=${APP_SERVICE}`,
    // Same rotation as the stack's containers: a long live run cannot fill the disk.
    "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
    "--network", "none",
    spec.image,
    "sh", "-c", `cat; sleep ${RELAY_LINGER_SECONDS}`,
  ];
}

/** Pipes lines into the relay container; `close` ends its input and waits for it to exit. */
export function dockerRelaySink(spec: RelaySpec, spawnImpl: typeof spawn = spawn): LogSink {
  const child: ChildProcess = spawnImpl("docker", relayContainerArgs(spec), { stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => { stderr = (stderr + chunk.toString("utf8")).slice(-2000); });
  let failure: Error | undefined;
  child.on("error", (error) => { failure = new Error(`cannot start the app-log relay container (docker ${error.message}); use --app-logs stdout or none`); });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  // A relay that died makes writes fail with EPIPE; report it once, with docker's own words.
  child.stdin!.on("error", (error) => { failure ??= new Error(`the app-log relay container stopped: ${stderr.trim() || error.message}`); });
  return {
    description: `docker relay container ${spec.namePrefix}-simulate-app-${spec.runId} (service="${APP_SERVICE}" in Loki)`,
    async write(line) {
      if (failure) throw failure;
      await writeLine(child.stdin!, line);
    },
    async close() {
      if (failure) throw failure;
      child.stdin!.end();
      const code = await exited;
      if (failure) throw failure;
      if (code !== 0) throw new Error(`the app-log relay container exited with code ${code}: ${stderr.trim()}`);
    },
  };
}
