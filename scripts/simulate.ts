/**
 * npm run simulate -- [--days 30] [--seed 1] [--live-rate 20] ...   (see --help, or scripts/simulate/flags.ts)
 *
 * Demo and load traffic for a deployed stack: realistic SaaS usage (scripts/simulate/model.ts) sent through the
 * ingest's public, Segment-compatible API, plus the app's JSON log lines (an incident included) for Loki.
 * stdout carries only the app's log lines (with --app-logs stdout); the progress bar and the summary go to stderr.
 * Exit codes: 0 done, 1 sending failed or valid events were refused, 2 bad flags or no target.
 */
import { randomBytes } from "node:crypto";
import { ConfigError } from "../components/stack-config";
import { dockerRelaySink, nullSink, streamSink, type LogSink } from "./simulate/app-logs";
import { parseSimulateArgs, redactUrl, USAGE, type SimulateOptions } from "./simulate/flags";
import { silentProgress, terminalProgress } from "./simulate/progress";
import { runSimulation } from "./simulate/run";
import { IngestSender, SendError } from "./simulate/sender";
import { summaryLines } from "./simulate/summary";
import { resolveTarget, stackConfig, TargetError, type CommandRunner, type Target } from "./simulate/target";

export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now?: () => number;
  /** Runs the Pulumi wrapper (tests pass a stand-in). */
  readonly runCommand?: CommandRunner;
  readonly signal?: AbortSignal;
}

function chooseSink(options: SimulateOptions, target: Target | undefined, io: CliIo): LogSink {
  const sink = options.appLogs === "auto" ? (options.dryRun ? "none" : target?.source === "stack" ? "docker" : "stdout") : options.appLogs;
  if (sink === "none") return nullSink;
  if (sink === "stdout") return streamSink(io.stdout as NodeJS.WritableStream as import("node:stream").Writable, "written to stdout");
  const cfg = stackConfig(options.stack);
  return dockerRelaySink({ namePrefix: cfg.namePrefix, image: cfg.images.node, runId: randomBytes(3).toString("hex") });
}

/** Checks the ingest answers before generating anything, so a wrong URL fails in a second with a clear message. */
async function checkReachable(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${url.replace(/\/+$/, "")}/healthz`, { signal: AbortSignal.timeout(5000) });
    return response.ok ? undefined : `${redactUrl(url)}/healthz answered ${response.status}; is this the ingest service?`;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    return `cannot reach the ingest at ${redactUrl(url)} (${cause}). Is the stack up (\`npm run pulumi -- dev stack output\`)?`;
  }
}

/** Closing the log sink on an error path: a failure there is reported, not allowed to hide the first error. */
async function closeQuietly(sink: LogSink, say: (line: string) => void): Promise<void> {
  try {
    await sink.close();
  } catch (error) {
    say(`simulate: closing the app log sink (${sink.description}) failed: ${(error as Error).message}`);
  }
}

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const say = (line: string) => io.stderr.write(`${line}\n`);
  const parsed = parseSimulateArgs(argv, io.env, (io.now ?? Date.now)());
  if (parsed.kind === "help") {
    io.stdout.write(USAGE);
    return 0;
  }
  if (parsed.kind === "error") {
    for (const error of parsed.errors) say(`simulate: ${error}`);
    say("Run `npm run simulate -- --help` for the options.");
    return 2;
  }
  const options = parsed.options;

  let target: Target | undefined;
  let sink: LogSink;
  try {
    if (!options.dryRun) target = resolveTarget(options, io.runCommand);
    sink = chooseSink(options, target, io);
  } catch (error) {
    if (error instanceof TargetError || error instanceof ConfigError) {
      say(`simulate: ${error.message}`);
      return 2;
    }
    throw error;
  }

  if (target) {
    const problem = await checkReachable(target.url);
    if (problem) {
      say(`simulate: ${problem}`);
      await closeQuietly(sink, say);
      return 1;
    }
    say(`Sending to ${redactUrl(target.url)} (write key from ${target.source === "stack" ? `stack ${options.stack}'s outputs` : "flags/environment"}); app log lines ${sink.description}.`);
  }

  const progress = options.progress && io.stderr.isTTY ? terminalProgress(io.stderr as NodeJS.WriteStream) : silentProgress;
  const sender = target ? new IngestSender({ url: target.url, writeKey: target.writeKey, concurrency: options.concurrency, onSettled: (n) => progress.increment(n) }) : undefined;
  try {
    const result = await runSimulation(options, { sender, logSink: sink, progress, now: io.now, signal: io.signal });
    await sink.close();
    for (const line of summaryLines(options, result, sink.description)) say(line);
    return result.sender && result.sender.unexpectedRejections > 0 ? 1 : 0;
  } catch (error) {
    progress.stop();
    await closeQuietly(sink, say);
    if (error instanceof SendError) {
      say(`simulate: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

if (require.main === module) {
  // First Ctrl-C ends the live phase gracefully (in-flight batches are sent, the summary printed); a second exits.
  const controller = new AbortController();
  process.on("SIGINT", () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  });
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal }).then(
    (code) => { process.exitCode = code; },
    (error: unknown) => {
      process.stderr.write(`simulate failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
