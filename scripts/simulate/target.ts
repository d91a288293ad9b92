/**
 * Where the simulator sends: the ingest URL and write key from flags or the environment, else from the deployed
 * stack's outputs (`npm run pulumi -- <stack> stack output --json --show-secrets`, through scripts/pulumi-local.sh
 * so the local file backend and the stack's passphrase are used). The write key is never printed.
 */
import type { StackConfig } from "../../components/stack-config";
import { stackConfigFromFiles } from "../../components/stack-files";
import { readStackOutputs, ROOT_DIR, StackOutputsError, type CommandRunner } from "../ops/stack-outputs";

export type { CommandRunner };

/** Stack outputs the simulator reads (exported by index.ts). */
export const STACK_OUTPUTS = { url: "ingestUrl", writeKey: "ingestWriteKeys" } as const;

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

/** The stack's outputs (secrets included, kept in memory only). */
function outputsOf(stack: string, run?: CommandRunner): Record<string, unknown> {
  try {
    return readStackOutputs(stack, "Pass --url and --write-key (or INGEST_URL and INGEST_WRITE_KEY) to send without a deployed stack.", run);
  } catch (error) {
    if (error instanceof StackOutputsError) throw new TargetError(error.message);
    throw error;
  }
}

/** Flags/environment first; the stack's outputs only when something is missing. */
export function resolveTarget(opts: { url?: string; writeKey?: string; stack: string }, run?: CommandRunner): Target {
  if (opts.url !== undefined && opts.writeKey !== undefined) return { url: opts.url, writeKey: opts.writeKey, source: "flags" };
  const fromStack = targetFromOutputs(outputsOf(opts.stack, run), opts.stack);
  return { url: opts.url ?? fromStack.url, writeKey: opts.writeKey ?? fromStack.writeKey, source: "stack" };
}

/** The stack's validated config (name prefix, images), read from Pulumi.yaml and Pulumi.<stack>.yaml. */
export function stackConfig(stack: string): StackConfig {
  return stackConfigFromFiles(ROOT_DIR, stack).cfg;
}
