/**
 * Reads a deployed stack's outputs through the repository's Pulumi wrapper (`scripts/pulumi-local.sh <stack> stack
 * output --json --show-secrets`), so the local file backend and the stack's passphrase are used exactly as for
 * `pulumi up`. Secret values stay in memory; callers never print them.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

export const ROOT_DIR = join(__dirname, "..", "..");

export class StackOutputsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackOutputsError";
  }
}

export type CommandRunner = (command: string, args: readonly string[]) => { status: number | null; stdout: string; stderr: string; error?: Error };

const defaultRunner: CommandRunner = (command, args) => {
  const result = spawnSync(command, [...args], { cwd: ROOT_DIR, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "", error: result.error };
};

/** The JSON object in `pulumi stack output --json` output (the wrapper may print a line or two before it). */
export function parseOutputsJson(stdout: string): Record<string, unknown> {
  const start = stdout.search(/^\{/m);
  if (start < 0) throw new StackOutputsError("`pulumi stack output --json` printed no JSON object");
  try {
    return JSON.parse(stdout.slice(start)) as Record<string, unknown>;
  } catch (error) {
    throw new StackOutputsError(`cannot read \`pulumi stack output --json\`: ${(error as Error).message}`);
  }
}

/**
 * The stack's outputs, secrets included.
 * @param fallback what to tell the user to do instead when the outputs cannot be read
 */
export function readStackOutputs(stack: string, fallback: string, run: CommandRunner = defaultRunner): Record<string, unknown> {
  const result = run(join(ROOT_DIR, "scripts", "pulumi-local.sh"), [stack, "stack", "output", "--json", "--show-secrets"]);
  if (result.error || result.status !== 0) {
    const why = (result.error?.message ?? result.stderr.trim().split("\n").slice(-3).join(" ")) || `exit code ${result.status}`;
    throw new StackOutputsError(`cannot read the outputs of stack ${stack} (${why})${fallback ? `. ${fallback}` : ""}`);
  }
  return parseOutputsJson(result.stdout);
}
