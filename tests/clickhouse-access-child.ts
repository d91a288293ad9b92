/**
 * Child process for tests/clickhouse-access.test.ts: boots chDB on a data directory with a given config file (so
 * its `default` user is whatever that config says: one of our generated users), optionally applies the
 * migrations as that user, runs queries, and prints one JSON line with every outcome. chDB binds one server per
 * process, so each user needs its own process.
 *
 * stdin: { dataDir, configFile, migrationsDir?, afterStatements?, queries }
 * stdout (last line): { migrate?: { ok, applied?, error? }, results: [{ query, ok, rows?, error? }] }
 */
import { createClient, type ClickHouseClient } from "@clickhouse/client";
import { Session } from "chdb";
import { createChdbConnection } from "chdb/connection";
import { applyMigrations, readMigrationSources, toMigrationFiles } from "../components/migrations";

type ClientConnection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>["connection"]>;

interface Job {
  readonly dataDir: string;
  readonly configFile: string;
  readonly migrationsDir?: string;
  readonly afterStatements?: string[];
  readonly queries: string[];
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function run(client: ClickHouseClient, query: string) {
  try {
    if (/^\s*(SELECT|SHOW|WITH)\b/i.test(query)) {
      const result = await client.query({ query, format: "JSONEachRow" });
      return { query, ok: true, rows: await result.json() };
    }
    await client.command({ query });
    return { query, ok: true };
  } catch (error) {
    return { query, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

async function main(): Promise<void> {
  const job = JSON.parse(await readStdin()) as Job;
  // The first session boots the process-wide engine with the config; the client's connection shares it.
  const session = new Session(job.dataDir, { connectionArgs: [`--config-file=${job.configFile}`] });
  const client = createClient({
    connection: createChdbConnection({ path: job.dataDir }) as unknown as ClientConnection,
  });
  const output: Record<string, unknown> = {};
  if (job.migrationsDir) {
    try {
      const result = await applyMigrations(client, toMigrationFiles(readMigrationSources(job.migrationsDir)),
        { afterStatements: job.afterStatements });
      output.migrate = { ok: true, applied: result.applied.map((a) => a.name) };
    } catch (error) {
      output.migrate = { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  }
  const results = [];
  for (const query of job.queries) results.push(await run(client, query));
  output.results = results;
  await client.close();
  session.close();
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
