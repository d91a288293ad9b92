import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { SECRET_KEYS, type SecretKey } from "./stack-config";

export type StackSecrets = Readonly<Record<SecretKey, pulumi.Output<string>>>;

export interface GeneratedSecretsArgs {
  /** Secrets the stack set with `pulumi config set --secret`; every missing one is generated. */
  readonly provided: Partial<Record<SecretKey, pulumi.Output<string>>>;
}

/**
 * No default passwords: a secret the stack did not set is generated once with @pulumi/random and kept, encrypted,
 * in the stack state (stable across updates, rotated by `pulumi up --replace` on its resource).
 * Generated values are alphanumeric so they can be embedded in XML, URLs and env files without escaping.
 */
export class GeneratedSecrets extends pulumi.ComponentResource {
  public readonly values: StackSecrets;

  constructor(name: string, args: GeneratedSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("analytics:stack:GeneratedSecrets", name, {}, opts);
    const values = {} as Record<SecretKey, pulumi.Output<string>>;
    for (const key of SECRET_KEYS) {
      const provided = args.provided[key];
      // RandomPassword.result is secret in real deployments; wrapping makes that explicit and provider-independent.
      values[key] = pulumi.secret(provided ?? new random.RandomPassword(`${name}-${key}`, {
        length: key === "ingestWriteKeys" ? 40 : 32,
        special: false,
      }, { parent: this }).result);
    }
    this.values = values;
    this.registerOutputs({});
  }
}
