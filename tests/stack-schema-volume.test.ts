/**
 * The schema lives on ClickHouse's data volume. When the stack gets a new, empty volume (a new namePrefix renames
 * every Docker object, so the volume and the container are replaced), the schema resource must apply everything
 * again; if its diff saw no change, the new ClickHouse would run without tables and the ingest could insert nothing.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it, vi } from "vitest";
import { toMigrationFiles } from "../components/migrations";
import { schemaMigrationProvider } from "../components/schema-migration";
import { runStack } from "./support/stack-graph";

const SCHEMA = "pulumi-nodejs:dynamic/analytics:SchemaMigration";

/** The schema resource's inputs as the provider receives them, for the prod stack with these overrides. */
async function schemaInputs(overrides: Record<string, string>): Promise<any> {
  vi.resetModules();
  const { resources } = await runStack("prod", overrides);
  const schema = resources.find((r) => r.type === SCHEMA);
  if (!schema) throw new Error("no SchemaMigration registered");
  return schema.inputs;
}

/** What create would have recorded for these inputs. */
function stateAfterCreate(inputs: any): any {
  const applied = toMigrationFiles(inputs.migrations).map((f) => ({ name: f.name, checksum: f.checksum }));
  return { ...inputs, applied, password: undefined };
}

describe("the schema and ClickHouse's data volume", () => {
  it("re-applies the schema when the data volume is a new one, and only then", async () => {
    const before = await schemaInputs({});
    const same = await schemaInputs({});
    const renamed = await schemaInputs({ "analytics:namePrefix": "analytics-eu" });
    const diff = (news: any) => schemaMigrationProvider.diff!("id", stateAfterCreate(before), news) as Promise<pulumi.dynamic.DiffResult>;
    expect((await diff(same)).changes).toBe(false);
    expect((await diff(renamed)).changes).toBe(true);
    // A state written before the volume was tracked: no needless update on upgrade.
    const { dataVolume: _untracked, ...legacy } = stateAfterCreate(before);
    expect((await schemaMigrationProvider.diff!("id", legacy, same)).changes).toBe(false);
  });
});
