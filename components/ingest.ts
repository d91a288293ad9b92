/**
 * The ingest service: the image built from ingest/Dockerfile (context: the repository root), a spool volume, and
 * the container, wired to ClickHouse as the least-privileged `ingest_writer` user.
 *
 * - Secrets (the writer's password and the write keys) are uploaded as files and passed as `*_FILE` variables,
 *   so they never appear in the container's environment (`docker inspect`); the uploads are Pulumi secrets.
 * - The image tag is a hash of the service's sources, so a code change rebuilds and replaces the container.
 * - The spool volume holds events accepted but not yet in ClickHouse: it is protected like the other data volumes.
 * - The healthcheck asks the service's own /healthz with Node's fetch (the slim base image has no curl or wget);
 *   `stopTimeout` leaves the service time to ship its spool on SIGTERM.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { containerOptions, CPU_SHARES, dataVolume, healthcheck, reachableHost, serviceContainerArgs, STACK_LABEL } from "./service-container";
import type { StackConfig } from "./stack-config";

export const INGEST_SERVICE = "ingest";
/** Port the service listens on inside the container. */
export const INGEST_CONTAINER_PORT = 8080;
export const INGEST_SPOOL_DIR = "/var/lib/ingest/spool";
export const INGEST_SECRETS_DIR = "/run/ingest-secrets";
/** ClickHouse user the service writes as (see clickhouse-users.ts). */
export const INGEST_CLICKHOUSE_USER = "ingest_writer";
/** Seconds Docker waits after SIGTERM; the service ships its spool for up to 20 s of it. */
export const INGEST_STOP_TIMEOUT_SECONDS = 30;
const SHUTDOWN_TIMEOUT_MS = 20_000;
/** The repository root: the image's build context. */
export const REPOSITORY_ROOT = join(__dirname, "..");

export interface IngestEnvironmentInputs {
  /** ClickHouse HTTP URL on the stack's network, such as http://clickhouse:8123. */
  readonly clickhouseUrl: string;
}

/** The container's environment: everything but the secrets, which are files (see ingestSecretFiles). Pure. */
export function ingestEnvironment(cfg: StackConfig, inputs: IngestEnvironmentInputs): string[] {
  return [
    "INGEST_HOST=0.0.0.0",
    `INGEST_PORT=${INGEST_CONTAINER_PORT}`,
    `INGEST_SPOOL_DIR=${INGEST_SPOOL_DIR}`,
    `INGEST_SPOOL_MAX_BYTES=${cfg.ingest.spoolMaxBytes}`,
    `INGEST_BATCH_MAX_EVENTS=${cfg.ingest.batchMaxEvents}`,
    `INGEST_FLUSH_INTERVAL_MS=${cfg.ingest.flushIntervalMs}`,
    `INGEST_SHUTDOWN_TIMEOUT_MS=${SHUTDOWN_TIMEOUT_MS}`,
    `INGEST_WRITE_KEYS_FILE=${INGEST_SECRETS_DIR}/write-keys`,
    `CLICKHOUSE_URL=${inputs.clickhouseUrl}`,
    `CLICKHOUSE_USER=${INGEST_CLICKHOUSE_USER}`,
    `CLICKHOUSE_PASSWORD_FILE=${INGEST_SECRETS_DIR}/clickhouse-password`,
    "CLICKHOUSE_DATABASE=analytics",
  ];
}

/** The secret files uploaded into the container: path -> content. Pure. */
export function ingestSecretFiles(secrets: { writeKeys: string; clickhousePassword: string }): Record<string, string> {
  return {
    [`${INGEST_SECRETS_DIR}/write-keys`]: secrets.writeKeys,
    [`${INGEST_SECRETS_DIR}/clickhouse-password`]: secrets.clickhousePassword,
  };
}

/** What the container gets, for `npm run render`: its environment and secret files, with secrets as placeholders. */
export function ingestArtifacts(cfg: StackConfig): Record<string, string> {
  const env = ingestEnvironment(cfg, { clickhouseUrl: "http://clickhouse:8123" });
  const files = ingestSecretFiles({ writeKeys: "<generated: ingestWriteKeys>", clickhousePassword: "<generated: clickhouseWriterPassword>" });
  return {
    "ingest/ingest.env": `${env.join("\n")}\n`,
    "ingest/secret-files.txt": `${Object.entries(files).map(([path, content]) => `${path}: ${content}`).join("\n")}\n`,
  };
}

/** The container's healthcheck command: the service's own /healthz. */
export function ingestHealthcheckTests(): string[] {
  return ["CMD", "node", "-e",
    `fetch('http://127.0.0.1:${INGEST_CONTAINER_PORT}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`];
}

/** sha256 over the files the image is built from (ingest/package*.json, tsconfig, src), in path order. */
export function ingestSourceHash(root: string = REPOSITORY_ROOT): string {
  const hash = createHash("sha256");
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(path);
    }
  };
  for (const file of ["ingest/Dockerfile", "ingest/package.json", "ingest/package-lock.json", "ingest/tsconfig.json"]) files.push(join(root, file));
  walk(join(root, "ingest", "src"));
  for (const file of files) hash.update(relative(root, file)).update("\0").update(readFileSync(file)).update("\0");
  return hash.digest("hex");
}

export interface IngestArgs {
  /** Stack config: namePrefix, bindAddress, ports.ingest, images.node, ingest (spool and batch settings), protectData. */
  readonly config: StackConfig;
  /** The stack's Docker network; the container joins it with the alias `ingest`. */
  readonly networkName: pulumi.Input<string>;
  /** ClickHouse HTTP URL on that network (ClickHouse.internalHttpUrl). */
  readonly clickhouseUrl: pulumi.Input<string>;
  /** Password of the `ingest_writer` ClickHouse user (secret clickhouseWriterPassword). */
  readonly clickhouseWriterPassword: pulumi.Input<string>;
  /** Comma-separated write keys clients authenticate with (secret ingestWriteKeys). */
  readonly writeKeys: pulumi.Input<string>;
  /** Build context holding ingest/. Defaults to the repository root. */
  readonly repositoryRoot?: string;
}

export class Ingest extends pulumi.ComponentResource {
  public readonly container: docker.Container;
  public readonly spoolVolume: docker.Volume;
  public readonly image: docker.RemoteImage;
  /** The service from the Docker host, such as http://127.0.0.1:8080. */
  public readonly url: pulumi.Output<string>;
  /** The service on the stack's network: http://ingest:8080. */
  public readonly internalUrl: pulumi.Output<string>;

  constructor(name: string, args: IngestArgs, opts?: pulumi.ComponentResourceOptions) {
    super("analytics:stack:Ingest", name, {}, opts);
    const cfg = args.config;
    const root = args.repositoryRoot ?? REPOSITORY_ROOT;
    const sourceHash = ingestSourceHash(root);

    this.image = new docker.RemoteImage(`${name}-image`, {
      name: `${cfg.namePrefix}-ingest:${sourceHash.slice(0, 16)}`,
      build: {
        context: root,
        dockerfile: "ingest/Dockerfile",
        buildArgs: { NODE_IMAGE: cfg.images.node },
        label: { [STACK_LABEL]: cfg.namePrefix },
      },
      keepLocally: true,
      triggers: { sourceHash },
    }, { parent: this });

    this.spoolVolume = dataVolume(`${name}-spool`, {
      namePrefix: cfg.namePrefix, what: `${INGEST_SERVICE}-spool`, protectData: cfg.protectData,
    }, this);

    const secretFiles = pulumi.secret(pulumi.all([args.writeKeys, args.clickhouseWriterPassword])
      .apply(([writeKeys, clickhousePassword]) => ingestSecretFiles({ writeKeys, clickhousePassword })));

    this.container = new docker.Container(`${name}-container`, {
      ...serviceContainerArgs({ namePrefix: cfg.namePrefix, service: INGEST_SERVICE, networkName: args.networkName }),
      image: this.image.imageId,
      envs: pulumi.output(args.clickhouseUrl).apply((clickhouseUrl) => ingestEnvironment(cfg, { clickhouseUrl })),
      uploads: secretFiles.apply((files) => Object.entries(files).map(([file, content]) => ({ file, content, permissions: "0444" }))),
      volumes: [{ volumeName: this.spoolVolume.name, containerPath: INGEST_SPOOL_DIR }],
      ports: [{ internal: INGEST_CONTAINER_PORT, external: cfg.ports.ingest, ip: cfg.bindAddress }],
      healthcheck: healthcheck(ingestHealthcheckTests(), "15s"),
      stopTimeout: INGEST_STOP_TIMEOUT_SECONDS,
      // Requests first when the cores are busy (service-container.ts says why and what was measured).
      cpuShares: CPU_SHARES.ingest,
    }, containerOptions(this));

    this.url = pulumi.output(`http://${reachableHost(cfg.bindAddress)}:${cfg.ports.ingest}`);
    this.internalUrl = this.container.id.apply(() => `http://${INGEST_SERVICE}:${INGEST_CONTAINER_PORT}`);
    this.registerOutputs({ url: this.url, internalUrl: this.internalUrl });
  }
}
