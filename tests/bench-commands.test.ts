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
  it.each([["ingest.ts", "npm run bench:ingest"], ["queries.ts", "npm run bench:queries"], ["ingest-steady.ts", "npm run bench:ingest-steady"],
    ["queries-compare.ts", "npm run bench:queries-compare"]])("%s --help prints its usage", (script, usage) => {
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

  it("bench:queries-compare names what is wrong: no directory, a bad flag, an unknown panel, a missing file", () => {
    const noDir = run("queries-compare.ts", ["panel:dau"]);
    expect(noDir.status).toBe(2);
    expect(noDir.stderr).toContain("--data-dir: missing");
    expect(run("queries-compare.ts", ["--data-dir", "x", "--runs", "0", "panel:dau"]).stderr).toContain('--runs: got "0", expected a whole number from 1 to 101');
    expect(run("queries-compare.ts", ["--data-dir", "x", "--changed", "week", "panel:dau"]).stderr).toContain('--changed: got "week", expected today or two-days');
    expect(run("queries-compare.ts", ["--data-dir", "x"]).stderr).toContain("no query given");
    const panel = run("queries-compare.ts", ["--print", "panel:daily"]);
    expect(panel.status).toBe(2);
    expect(panel.stderr).toContain("panel:daily: no product panel of that name; panels: dau, wau");
    expect(run("queries-compare.ts", ["--print", "no-such-file.sql"]).stderr).toContain("no-such-file.sql: no such file");
    const missing = run("queries-compare.ts", ["--data-dir", join(root, "no-such-dir"), "panel:dau"]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("no such directory");
  });

  it("bench:queries-compare --print shows a panel's SQL with Grafana's macros expanded", () => {
    const result = run("queries-compare.ts", ["--print", "panel:dau"]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("-- panel:dau");
    expect(result.stdout).toContain("FROM analytics.dau_snapshots");
    expect(result.stdout).not.toContain("$__");
  });
});
