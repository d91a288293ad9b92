/**
 * What the ingest benchmarks share about their child processes: compiling the ingest as its image runs it,
 * starting and stopping a service child, and reading CPU time from /proc.
 */
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(__dirname, "..");

/** Compiles the ingest service (ingest/dist, as its image runs it) and returns the path of its entry point. */
export function compileIngest(): string {
  execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", join(ROOT, "ingest", "tsconfig.json")], { stdio: "inherit" });
  return join(ROOT, "ingest", "dist", "server.js");
}

export interface Started {
  readonly url: string;
  readonly child: ChildProcess;
}

/**
 * Starts a service child that reports `{ listening: url }` over IPC once it accepts requests. TypeScript children run
 * under tsx; compiled JavaScript (the ingest, as its image runs it) under plain node.
 */
export function startChild(script: string, env: Record<string, string>, logFile: string, nodeArgs: readonly string[] = []): Promise<Started> {
  const out = openSync(logFile, "a");
  const execArgv = [...(script.endsWith(".ts") ? ["--import", "tsx"] : []), ...nodeArgs];
  const child = fork(script, [], { execArgv, env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", out, out, "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("message", (m: { listening?: string }) => (m.listening ? resolve({ url: m.listening, child }) : reject(new Error("unexpected message"))));
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}; see ${logFile}`)));
  });
}

export async function stopChild(started: Started): Promise<void> {
  // A child ended by a signal has exitCode null and signalCode set; waiting for its exit again would hang.
  if (started.child.exitCode !== null || started.child.signalCode !== null) return;
  const exited = new Promise((resolve) => started.child.once("exit", resolve));
  started.child.kill("SIGTERM");
  await exited;
}

const CLOCK_TICKS_PER_S = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/** User and system CPU seconds in a /proc stat file (a process's, or one thread's under /proc/<pid>/task). */
export function statCpuSeconds(statPath: string): { user: number; system: number } {
  const stat = readFileSync(statPath, "utf8");
  // The command name (field 2) may hold spaces and parentheses: the fields after it start past the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { user: Number(fields[11]) / CLOCK_TICKS_PER_S, system: Number(fields[12]) / CLOCK_TICKS_PER_S };
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  const [, ...ticks] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).map(Number);
  const idle = ticks[3] + ticks[4];
  return (ticks.reduce((a, b) => a + b, 0) - idle) / CLOCK_TICKS_PER_S;
}
