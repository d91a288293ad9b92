/** npm run config-table: rewrites the configuration table in README.md from Pulumi.yaml. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configTable, withConfigTable } from "../components/config-reference";

const root = join(__dirname, "..");
const readmePath = join(root, "README.md");
const table = configTable(readFileSync(join(root, "Pulumi.yaml"), "utf8"));
writeFileSync(readmePath, withConfigTable(readFileSync(readmePath, "utf8"), table));
console.log("README.md configuration table updated from Pulumi.yaml");
