/**
 * `SchemaMigration`: a Pulumi dynamic resource that applies the sql/ migrations (then the config-derived statements:
 * retention TTLs and the funnel view) to a running ClickHouse, as the `migrator` user, from the machine running Pulumi.
 *
 * - The migration files' names and contents are inputs, so the diff is on content: a new file is an update that
 *   applies only that file; an edited or removed applied file fails `pulumi preview` itself with the runner's
 *   message (the file, both checksums, "add a new migration instead"); an unchanged tree is no change at all.
 * - The after-migration statements run on create and whenever their text changes (a changed TTL rewrites the table
 *   in the background, so they are not rerun needlessly).
 * - Outputs: `applied`, every applied file's name and checksum (others can `dependsOn` this resource to run after
 *   the schema exists), and the `afterStatements` last run. The password is an input only, kept secret.
 * - Deleting the resource changes nothing in ClickHouse: the data goes with the volume (protected in prod).
 *
 * Pulumi serializes the provider's functions into the state. They use `require("@clickhouse/client")` lazily in
 * their bodies and the pure functions of migrations.ts, so no module object is captured.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  applyMigrations,
  findTamperedMigrations,
  tamperedMigrationsError,
  toMigrationFiles,
  waitForClickHouse,
  type AppliedMigration,
  type MigrationSource,
} from "./migrations";

export interface SchemaMigrationArgs {
  /** ClickHouse HTTP URL reachable from the machine running Pulumi, such as "http://127.0.0.1:8123". */
  readonly url: pulumi.Input<string>;
  /** User that applies the migrations (the `migrator`). */
  readonly username: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
  /** Migration files (name and content), in any order; they are validated and sorted by name. */
  readonly migrations: pulumi.Input<pulumi.Input<MigrationSource>[]>;
  /** Idempotent statements run after the migrations whenever they change (retention TTLs, the funnel view and its backfill). Defaults to none. */
  readonly afterStatements?: pulumi.Input<pulumi.Input<string>[]>;
  /** Seconds to wait for ClickHouse to accept the user before giving up. Defaults to 120. */
  readonly connectTimeoutSeconds?: pulumi.Input<number>;
  /**
   * Name of the Docker volume holding ClickHouse's data. A new volume is an empty server: a change applies every
   * migration and after-statement again. Defaults to "" (not tracked).
   */
  readonly dataVolume?: pulumi.Input<string>;
}

/** Inputs as the provider receives them. */
interface ProviderInputs {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly migrations: MigrationSource[];
  readonly afterStatements: string[];
  readonly connectTimeoutSeconds: number;
  readonly dataVolume?: string;
}

/** State the provider records (no password). */
interface ProviderOutputs {
  readonly url: string;
  readonly username: string;
  readonly applied: AppliedMigration[];
  readonly afterStatements: string[];
  /** Absent in states written before it was tracked. */
  readonly dataVolume?: string;
}

async function migrate(inputs: ProviderInputs, runAfterStatements: boolean): Promise<ProviderOutputs> {
  const files = toMigrationFiles(inputs.migrations);
  const { createClient, ClickHouseLogLevel } = require("@clickhouse/client") as typeof import("@clickhouse/client");
  const client = createClient({
    url: inputs.url,
    username: inputs.username,
    password: inputs.password,
    // DDL such as a TTL change can take minutes on a large table; the HTTP request must outlive it.
    request_timeout: 900_000,
    // Refused connections while the server starts are expected; the final error carries the last one.
    log: { level: ClickHouseLogLevel.OFF },
  });
  try {
    await waitForClickHouse(client, { timeoutMs: inputs.connectTimeoutSeconds * 1000, target: inputs.url });
    const result = await applyMigrations(client, files, { afterStatements: runAfterStatements ? inputs.afterStatements : [] });
    return {
      url: inputs.url,
      username: inputs.username,
      applied: result.applied.map((a) => ({ name: a.name, checksum: a.checksum })),
      afterStatements: inputs.afterStatements,
      dataVolume: inputs.dataVolume ?? "",
    };
  } finally {
    await client.close();
  }
}

function sameList(a: readonly unknown[] | undefined, b: readonly unknown[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

/**
 * Whether the data volume changed: a new volume holds no schema, so everything is applied again. A state written
 * before the volume was tracked counts as unchanged (no needless update on upgrade).
 */
function newDataVolume(olds: ProviderOutputs, news: ProviderInputs): boolean {
  return olds.dataVolume !== undefined && olds.dataVolume !== (news.dataVolume ?? "");
}

async function checkInputs(_olds: unknown, news: ProviderInputs): Promise<pulumi.dynamic.CheckResult> {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  if (Array.isArray(news.migrations)) {
    try {
      toMigrationFiles(news.migrations);
    } catch (error) {
      failures.push({ property: "migrations", reason: error instanceof Error ? error.message : String(error) });
    }
  }
  if (typeof news.url === "string" && !/^https?:\/\/[^\s/]+(:\d+)?\/?$/.test(news.url)) {
    failures.push({ property: "url", reason: `expected an http(s) URL such as http://127.0.0.1:8123, got ${JSON.stringify(news.url)}` });
  }
  return { inputs: news, failures };
}

async function diffState(_id: string, olds: ProviderOutputs, news: ProviderInputs): Promise<pulumi.dynamic.DiffResult> {
  const files = toMigrationFiles(news.migrations);
  // Refuse at preview: an applied file that changed can never be applied again.
  const tampered = findTamperedMigrations(olds.applied ?? [], files);
  if (tampered.length > 0) throw tamperedMigrationsError(tampered);
  const changes = !sameList((olds.applied ?? []).map((a) => [a.name, a.checksum]), files.map((f) => [f.name, f.checksum])) ||
    !sameList(olds.afterStatements, news.afterStatements) || olds.url !== news.url || olds.username !== news.username ||
    newDataVolume(olds, news);
  return { changes };
}

async function createState(inputs: ProviderInputs): Promise<pulumi.dynamic.CreateResult> {
  const outs = await migrate(inputs, true);
  return { id: `${inputs.username}@${inputs.url}`, outs };
}

async function updateState(_id: string, olds: ProviderOutputs, news: ProviderInputs): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: await migrate(news, !sameList(olds.afterStatements, news.afterStatements) || newDataVolume(olds, news)) };
}

async function deleteState(): Promise<void> {
  // Nothing to undo: dropping tables is a migration's job, and the data volume carries the data.
}

/** The provider object Pulumi serializes; exported for tests that run its methods directly. */
export const schemaMigrationProvider: pulumi.dynamic.ResourceProvider = {
  check: checkInputs,
  diff: diffState,
  create: createState,
  update: updateState,
  delete: deleteState,
};

export class SchemaMigration extends pulumi.dynamic.Resource {
  /** Every applied migration (name, sha256), in name order. */
  declare public readonly applied: pulumi.Output<AppliedMigration[]>;
  /** The after-migration statements last run. */
  declare public readonly afterStatements: pulumi.Output<string[]>;

  constructor(name: string, args: SchemaMigrationArgs, opts?: pulumi.CustomResourceOptions) {
    super(schemaMigrationProvider, name, {
      url: args.url,
      username: args.username,
      password: pulumi.secret(args.password),
      migrations: args.migrations,
      afterStatements: args.afterStatements ?? [],
      connectTimeoutSeconds: args.connectTimeoutSeconds ?? 120,
      dataVolume: args.dataVolume ?? "",
      applied: undefined,
    }, opts, "analytics", "SchemaMigration");
  }
}
