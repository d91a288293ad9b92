import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configTable, withConfigTable } from "../components/config-reference";

const root = join(__dirname, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

describe("README", () => {
  it("has the configuration table of Pulumi.yaml (run `npm run config-table` after changing Pulumi.yaml)", () => {
    const table = configTable(readFileSync(join(root, "Pulumi.yaml"), "utf8"));
    expect(withConfigTable(readme, table)).toBe(readme);
  });

  it("gives the two fresh-machine commands, and CI runs the same test command", () => {
    expect(readme).toContain("npm ci && npm run pulumi -- dev up");
    expect(readme).toContain("npm ci && npm test");
    const ci = readFileSync(join(root, ".ci", "run"), "utf8");
    expect(ci).toMatch(/^npm ci\b/m);
    expect(ci).toMatch(/^npm test$/m);
  });

  it("only names npm scripts that exist", () => {
    const scripts = Object.keys(JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts);
    const named = [...readme.matchAll(/npm run ([a-z][a-z0-9:-]*)/g)].map((m) => m[1]);
    for (const name of new Set(named)) expect(scripts, `README names npm run ${name}`).toContain(name);
  });
});
