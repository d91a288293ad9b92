import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ingestDir = join(__dirname, "..", "..", "ingest");
const read = (file: string) => JSON.parse(readFileSync(join(ingestDir, file), "utf8"));

describe("the ingest image's lockfile", () => {
  it("matches ingest/package.json (the Dockerfile runs npm ci from it)", () => {
    const pkg = read("package.json");
    const lock = read("package-lock.json");
    const root = lock.packages[""];
    expect({ dependencies: root.dependencies, devDependencies: root.devDependencies },
      "ingest/package-lock.json is stale: copy ingest/package.json to an empty directory, run `npm install --package-lock-only` there, and copy the lockfile back")
      .toEqual({ dependencies: pkg.dependencies, devDependencies: pkg.devDependencies });
    for (const [name, version] of Object.entries<string>(pkg.dependencies)) expect(lock.packages[`node_modules/${name}`]?.version, name).toBe(version);
  });

  it("pins the same versions as the workspace install the tests run against", () => {
    const lock = read("package-lock.json");
    for (const name of ["fastify", "pino", "prom-client", "@clickhouse/client", "ajv", "secure-json-parse"]) {
      const installed = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")).version;
      expect(lock.packages[`node_modules/${name}`].version, name).toBe(installed);
    }
  });
});
