/**
 * `npm ci` (the README's test command and CI) refuses a lockfile that lacks any optional dependency of any package.
 * chdb lists one native library per platform, and the registry this project is built against only carries the
 * linux-x64 one, so `npm install` leaves the others out of package-lock.json. Their entries are kept by hand
 * (platform-tagged, so npm skips them on other platforms and never fetches them here).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(__dirname, "..");

describe("package-lock.json", () => {
  it("lists every platform library chdb declares, so `npm ci` accepts the lockfile", () => {
    const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
    const chdb = JSON.parse(readFileSync(join(root, "node_modules", "chdb", "package.json"), "utf8"));
    for (const [name, version] of Object.entries(chdb.optionalDependencies ?? {})) {
      const entry = lock.packages[`node_modules/${name}`];
      expect(entry, `${name} is missing from package-lock.json: re-add its entry (version ${version}, optional, os/cpu of its platform)`).toBeDefined();
      expect(entry.version).toBe(version);
      expect(entry.optional).toBe(true);
    }
  });
});
