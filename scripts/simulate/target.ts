/**
 * Where the simulator sends: the ingest URL and write key from flags or the environment, else from the deployed
 * stack's outputs (`npm run pulumi -- <stack> stack output --json --show-secrets`, through scripts/pulumi-local.sh
 * so the local file backend and the stack's passphrase are used). The write key is never printed.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { loadConfig, type StackConfig } from "../../components/stack-config";
import { rawConfigForStack } from "../../components/stack-files";

/** Stack outputs the simulator reads (exported by index.ts). */
export const STACK_OUTPUTS = { url: "ingestUrl", writeKey: "ingestWriteKey" } as const;

export const ROOT_DIR = join(__dirname, "..", "..");

export interface Target {
  readonly url: string;
  readonly writeKey: string;
  /** "flags" when both came from flags/environment, else "stack". */
  readonly source: "flags" | "stack";
}

export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TargetError";
  }
}

/** Picks the URL and key from parsed `stack output --json` values; the first key when several are configured. */
export function targetFromOutputs(outputs: Readonly<Record<string, unknown>>, stack: string): { url: string; writeKey: string } {
  const url = outputs[STACK_OUTPUTS.url];
  const keys = outputs[STACK_OUTPUTS.writeKey];
  const missing = [typeof url === "string" && url ? undefined : STACK_OUTPUTS.url, typeof keys === "string" && keys ? undefined : STACK_OUTPUTS.writeKey].filter(Boolean);
  if (missing.length > 0) {
    throw new TargetError(`stack ${stack} has no ${missing.join(" or ")} output. Deploy it first (\`npm run pulumi -- ${stack} up\`), ` +
      "or pass --url and --write-key (or INGEST_URL and INGEST_WRITE_KEY).");
  }
  const writeKey = (keys as string).split(",").map((k) => k.trim()).find((k) => k.length > 0) ?? "";
  return { url: url as string, writeKey };
}

/** The JSON object in `pulumi stack output --json` output (the wrapper may print a line or two before it). */
export function parseOutputsJson(stdout: string): Record<string, unknown> {
  const start = stdout.search(/^\{/m);
  if (start < 0) throw new TargetError("`pulumi stack output --json` printed no JSON object");
  try {
    return JSON.parse(stdout.slice(start)) as Record<string, unknown>;
  } catch (error) {
    throw new TargetError(`cannot read \`pulumi stack output --json\`: ${(error as Error).message}`);
  }
}

export type CommandRunner = (command: string, args: readonly string[]) => { status: number | null; stdout: string; stderr: string; error?: Error };

const defaultRunner: CommandRunner = (command, args) => {
  const result = spawnSync(command, [...args], { cwd: ROOT_DIR, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "", error: result.error };
};

/** Runs the repository's Pulumi wrapper and reads the stack's outputs (secrets included, kept in memory only). */
export function readStackOutputs(stack: string, run: CommandRunner = defaultRunner): Record<string, unknown> {
  const result = run(join(ROOT_DIR, "scripts", "pulumi-local.sh"), [stack, "stack", "output", "--json", "--show-secrets"]);
  if (result.error || result.status !== 0) {
    const why = (result.error?.message ?? result.stderr.trim().split("\n").slice(-3).join(" ")) || `exit code ${result.status}`;
    throw new TargetError(`cannot read the outputs of stack ${stack} (${why}). Pass --url and --write-key ` +
      "(or INGEST_URL and INGEST_WRITE_KEY) to send without a deployed stack.");
  }
  return parseOutputsJson(result.stdout);
}

/** Flags/environment first; the stack's outputs only when something is missing. */
export function resolveTarget(opts: { url?: string; writeKey?: string; stack: string }, run?: CommandRunner): Target {
  if (opts.url !== undefined && opts.writeKey !== undefined) return { url: opts.url, writeKey: opts.writeKey, source: "flags" };
  const fromStack = targetFromOutputs(readStackOutputs(opts.stack, run), opts.stack);
  return { url: opts.url ?? fromStack.url, writeKey: opts.writeKey ?? fromStack.writeKey, source: "stack" };
}

/** The stack's validated config (name prefix, images), read from Pulumi.yaml and Pulumi.<stack>.yaml. */
export function stackConfig(stack: string): StackConfig {
  return loadConfig(rawConfigForStack(ROOT_DIR, stack), stack);
}
