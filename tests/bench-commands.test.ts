/**
 * The README's benchmark commands take minutes and the whole machine, so CI does not run them; this checks that each
 * starts, explains itself and refuses a bad flag with the flag named, as the README promises.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(__dirname, "..");
const tsx = join(root, "node_modules", ".bin", "tsx");
const run = (script: string, args: string[]) => spawnSync(tsx, [join(root, "bench", script), ...args], { encoding: "utf8", timeout: 60_000 });

describe("benchmark commands", () => {
  it.each([["ingest.ts", "npm run bench:ingest"], ["queries.ts", "npm run bench:queries"], ["ingest-steady.ts", "npm run bench:ingest-steady"]])("%s --help prints its usage", (script, usage) => {
    const result = run(script, ["--help"]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout + result.stderr).toContain(`usage: ${usage}`);
  });

  it("bench:queries refuses a bad --events naming the flag", () => {
    const result = run("queries.ts", ["--events", "lots"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--events: got "lots"');
  });

  it("bench:ingest-steady refuses a bad flag naming it", () => {
    expect(run("ingest-steady.ts", ["--rate", "fast"]).stderr).toContain('--rate: got "fast"');
    const result = run("ingest-steady.ts", ["--clickhouse", "real"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--clickhouse: got "real", expected none or stub');
  });

  it("bench:ingest refuses a bad number naming the flag", () => {
    const result = run("ingest.ts", ["--sustained-percent", "most"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--sustained-percent: got "most", expected a positive number');
  });
});
