import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { ALLOY_CONFIG_PATH, ALLOY_DATA_DIR, ALLOY_HTTP_PORT, renderAlloyConfig } from "./alloy-config";
import { DOCKER_SOCKET } from "./log-pipeline";
import {
  PROMTAIL_CONFIG_PATH, PROMTAIL_DATA_DIR, PROMTAIL_EOL_NOTICE, PROMTAIL_HTTP_PORT, renderPromtailConfig,
} from "./promtail-config";
import { containerOptions, healthcheck, imageAndVolume, serviceContainerArgs } from "./service-container";
import type { LogShipper as LogShipperKind, StackConfig } from "./stack-config";

/**
 * A healthcheck command that GETs http://127.0.0.1:<port><path> and succeeds only on status 200, using nothing but
 * bash: the Promtail and Alloy images (Ubuntu based) ship bash but neither wget nor, for Promtail, curl.
 */
export function bashHttpProbe(port: number, path: string): string[] {
  const script = `exec 3<>/dev/tcp/127.0.0.1/${port} && ` +
    `printf 'GET ${path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && ` +
    `read -r _ status _ <&3 && [ "$status" = 200 ]`;
  return ["CMD", "bash", "-c", script];
}

/** Everything that differs between the two shippers' containers. */
export interface ShipperPlan {
  readonly service: LogShipperKind;
  readonly image: string;
  readonly command: string[];
  readonly configPath: string;
  readonly config: string;
  readonly dataDir: string;
  readonly healthcheckTests: string[];
}

export function shipperPlan(cfg: StackConfig, lokiUrl?: string): ShipperPlan {
  if (cfg.logShipper === "alloy") {
    return {
      service: "alloy",
      image: cfg.images.alloy,
      command: ["run", ALLOY_CONFIG_PATH, `--storage.path=${ALLOY_DATA_DIR}`,
        `--server.http.listen-addr=127.0.0.1:${ALLOY_HTTP_PORT}`, "--disable-reporting"],
      configPath: ALLOY_CONFIG_PATH,
      config: renderAlloyConfig(cfg, lokiUrl),
      dataDir: ALLOY_DATA_DIR,
      healthcheckTests: bashHttpProbe(ALLOY_HTTP_PORT, "/-/ready"),
    };
  }
  return {
    service: "promtail",
    image: cfg.images.promtail,
    command: [`-config.file=${PROMTAIL_CONFIG_PATH}`],
    configPath: PROMTAIL_CONFIG_PATH,
    config: renderPromtailConfig(cfg, lokiUrl),
    dataDir: PROMTAIL_DATA_DIR,
    // Promtail's /ready also wants one live target; it always has one, itself, as it carries the stack label.
    healthcheckTests: bashHttpProbe(PROMTAIL_HTTP_PORT, "/ready"),
  };
}

/** Files `npm run render` writes for both shippers, whichever the stack runs. */
export function logShipperArtifacts(cfg: StackConfig): Record<string, string> {
  return {
    "promtail/config.yml": renderPromtailConfig(cfg),
    "alloy/config.alloy": renderAlloyConfig(cfg),
  };
}

export interface LogShipperArgs {
  /** Stack config: logShipper picks Promtail or Alloy; images, namePrefix, protectData. */
  readonly config: StackConfig;
  /** The stack's Docker network; the shipper joins it with its own name as alias. */
  readonly networkName: pulumi.Input<string>;
  /** Loki's URL inside the network, normally `Loki.internalUrl` (which also orders the shipper after Loki). */
  readonly lokiUrl: pulumi.Input<string>;
}

/**
 * Ships the logs of this stack's containers (found by the `analytics.stack` label) to Loki, with Promtail or Alloy
 * as `config.logShipper` says. It reads the Docker socket, mounted read-only; note that read-only only protects the
 * socket file: whoever can connect to the Docker API controls the host, which is why the shipper publishes no port.
 */
export class LogShipper extends pulumi.ComponentResource {
  public readonly kind: LogShipperKind;
  public readonly container: docker.Container;

  constructor(name: string, args: LogShipperArgs, opts?: pulumi.ComponentResourceOptions) {
    super("analytics:stack:LogShipper", name, {}, opts);
    const cfg = args.config;
    const plan = shipperPlan(cfg);
    this.kind = plan.service;
    if (plan.service === "promtail") pulumi.log.warn(PROMTAIL_EOL_NOTICE, this);

    const { image, volume: data } = imageAndVolume(name, {
      image: plan.image, namePrefix: cfg.namePrefix, what: plan.service, protectData: cfg.protectData,
    }, this);

    this.container = new docker.Container(`${name}-container`, {
      ...serviceContainerArgs({ namePrefix: cfg.namePrefix, service: plan.service, networkName: args.networkName }),
      image: image.imageId,
      command: plan.command,
      uploads: [{
        file: plan.configPath,
        content: pulumi.output(args.lokiUrl).apply((url) => shipperPlan(cfg, url).config),
        permissions: "0644",
      }],
      volumes: [
        { hostPath: DOCKER_SOCKET, containerPath: DOCKER_SOCKET, readOnly: true },
        { volumeName: data.name, containerPath: plan.dataDir },
      ],
      healthcheck: healthcheck(plan.healthcheckTests, "15s"),
    }, containerOptions(this));

    this.registerOutputs({ kind: this.kind });
  }
}
