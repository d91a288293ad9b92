import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";

export interface NetworkArgs {
  /** Docker object name prefix, from StackConfig.namePrefix. */
  readonly namePrefix: string;
}

/**
 * The private bridge network every container joins. Services find each other by alias (clickhouse, loki, ...);
 * only the ports a stack publishes, bound to its bind address, are reachable from the host.
 */
export class Network extends pulumi.ComponentResource {
  public readonly name: pulumi.Output<string>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("analytics:stack:Network", name, {}, opts);
    const network = new docker.Network(`${name}-bridge`, {
      name: `${args.namePrefix}-net`,
      driver: "bridge",
      labels: [{ label: "analytics.stack", value: args.namePrefix }],
    }, { parent: this });
    this.name = network.name;
    this.registerOutputs({ name: this.name });
  }
}
