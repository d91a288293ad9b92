/**
 * The settings every long-running service container of a stack shares (see the conventions in the design notes):
 * one network with the service name as alias, a `${namePrefix}-<service>` container name, the two labels the log
 * shipper discovers containers by, bounded json-file logs, restart on failure, and `wait` so that whatever depends
 * on the container is created only once its healthcheck passes.
 *
 * `serviceContainerArgs` is pure: plain ContainerArgs fragments that components spread and tests compare directly.
 * `imageAndVolume` creates the two resources every such service starts from.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";

/** Docker label holding the stack's name prefix; the log shipper keeps only containers that carry it. */
export const STACK_LABEL = "analytics.stack";
/** Docker label holding the service name; it becomes the Loki `service` label. */
export const SERVICE_LABEL = "analytics.service";

export interface ServiceContainerOptions {
  /** StackConfig.namePrefix. */
  readonly namePrefix: string;
  /** Service name: network alias, container name suffix and `analytics.service` label. */
  readonly service: string;
  readonly networkName: pulumi.Input<string>;
  /** Seconds `pulumi up` waits for the container to report healthy. Defaults to 180. */
  readonly waitTimeoutSeconds?: number;
}

type SharedArgs = Required<Pick<docker.ContainerArgs,
  "name" | "restart" | "labels" | "networksAdvanced" | "logDriver" | "logOpts" | "wait" | "waitTimeout" | "securityOpts">>;

export function serviceContainerArgs(opts: ServiceContainerOptions): SharedArgs {
  return {
    name: `${opts.namePrefix}-${opts.service}`,
    restart: "unless-stopped",
    labels: [
      { label: STACK_LABEL, value: opts.namePrefix },
      { label: SERVICE_LABEL, value: opts.service },
    ],
    networksAdvanced: [{ name: opts.networkName, aliases: [opts.service] }],
    // Rotated by Docker itself, so a chatty container cannot fill the disk before the shipper reads it.
    logDriver: "json-file",
    logOpts: { "max-size": "10m", "max-file": "3" },
    wait: true,
    waitTimeout: opts.waitTimeoutSeconds ?? 180,
    // No setuid escalation inside the container, whatever the image ships.
    securityOpts: ["no-new-privileges:true"],
  };
}

/**
 * Docker CPU weights (`--cpu-shares`; Docker's default, which the other services keep, is 1024). They only matter
 * when the host's cores are all busy, and then the ingest goes first: a client is waiting for its 2xx, while
 * ClickHouse's inserts and merges are batch work that the spool absorbs when they fall behind. The ingest's event loop
 * uses at most about one core, so on a host of two or more cores ClickHouse is never starved below the rest.
 * The ratio (64x) is the one bench:ingest models with niceness 19 for chDB (CFS weight 15 against 1024: 68x): in
 * alternating runs on the 2-core build machine the half-rate p99 went from 37-72 ms to 22-25 ms; over 16 runs with it,
 * 14.5-80.2 ms, 8 under 25 (docs/benchmarks-ingest.md, "Sixth look").
 */
export const CPU_SHARES = { ingest: 8192, clickhouse: 128 } as const;

/**
 * Resource options of every service container: delete the old container before creating its replacement. Nearly
 * every container input forces a replacement, and the Docker provider otherwise creates the new container first,
 * which fails here on the fixed container name and host ports (pulumi/pulumi-docker#1356).
 */
export function containerOptions(parent: pulumi.Resource): pulumi.CustomResourceOptions {
  return { parent, deleteBeforeReplace: true };
}

/** The host address a URL should use to reach a published port: 0.0.0.0 is a bind-all, not a destination. */
export function reachableHost(bindAddress: string): string {
  return bindAddress === "0.0.0.0" ? "127.0.0.1" : bindAddress;
}

/**
 * Healthcheck timing shared by the services: checks every 5 s, and a generous start period so a cold start
 * (Grafana installing its plugin, Loki's ingester joining its ring) is not counted as failures.
 */
export function healthcheck(tests: string[], startPeriod = "30s"): docker.types.input.ContainerHealthcheck {
  return { tests, interval: "5s", timeout: "3s", retries: 24, startPeriod };
}

export interface ImageAndVolumeOptions {
  /** Pinned image reference from StackConfig.images. */
  readonly image: string;
  readonly namePrefix: string;
  /** What the volume holds; the volume is named `${namePrefix}-<what>-data`. */
  readonly what: string;
  /** StackConfig.protectData: protect the volume from `pulumi destroy` and keep it when replaced. */
  readonly protectData: boolean;
}

/** The pinned image, pulled once and kept when the stack goes, and the service's named data volume. */
export function imageAndVolume(name: string, opts: ImageAndVolumeOptions, parent: pulumi.Resource): { image: docker.RemoteImage; volume: docker.Volume } {
  const image = new docker.RemoteImage(`${name}-image`, { name: opts.image, keepLocally: true }, { parent });
  return { image, volume: dataVolume(`${name}-data`, opts, parent) };
}

/**
 * A named data volume `${namePrefix}-<what>-data`, labelled with the stack, protected from `pulumi destroy` and kept
 * on replacement when the stack protects its data. Every volume that holds state is made here.
 */
export function dataVolume(resourceName: string, opts: Omit<ImageAndVolumeOptions, "image">, parent: pulumi.Resource): docker.Volume {
  return new docker.Volume(resourceName, {
    name: `${opts.namePrefix}-${opts.what}-data`,
    labels: [{ label: STACK_LABEL, value: opts.namePrefix }],
  }, { parent, protect: opts.protectData, retainOnDelete: opts.protectData });
}
