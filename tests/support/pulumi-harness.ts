/**
 * Runs Pulumi program code under `pulumi.runtime.setMocks` and records every resource registration, so tests can
 * assert on the resource graph: types, names, inputs, parents, dependencies and providers.
 *
 * Usage (one test file = one forked process, so mocks are process-wide):
 *   const pulumiRun = await installMocks({ stack: "dev", config: { "analytics:bindAddress": "127.0.0.1" } });
 *   const { resources } = await pulumiRun.run(() => new MyComponent("x", args));
 *
 * Import program modules with `await import(...)` *after* `installMocks`: a module that registers resources at
 * import time (index.ts) would otherwise talk to no monitor and every output would resolve to undefined.
 */
import * as pulumi from "@pulumi/pulumi";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  /** Inputs as the mock monitor received them (secrets unwrapped; see `secretInputs`). */
  readonly inputs: Record<string, any>;
  /** Names of inputs that were registered as secrets. */
  readonly secretInputs: readonly string[];
  readonly parent?: string;
  /** URNs this resource depends on (explicit dependsOn plus inputs taken from other resources). */
  readonly dependencies: readonly string[];
  /** Provider reference (urn::id) for custom resources that use an explicit provider. */
  readonly provider?: string;
  readonly custom: boolean;
  readonly protect: boolean;
  readonly retainOnDelete: boolean;
}

export interface MockRun<T> {
  readonly result: T;
  readonly resources: RecordedResource[];
}

export interface MockOptions {
  readonly project?: string;
  readonly stack: string;
  /** Full keys ("analytics:grafanaPort") to string values. */
  readonly config?: Record<string, string>;
  /** Full keys among `config` that are secrets. */
  readonly secretKeys?: string[];
  /** Extra state returned for a resource type, such as ids a provider would compute. */
  readonly outputs?: (type: string, name: string, inputs: Record<string, any>) => Record<string, any> | undefined;
}

export interface PulumiTestRuntime {
  run<T>(program: () => T | Promise<T>): Promise<MockRun<T>>;
  /** Finds exactly one recorded resource; throws naming what was registered otherwise. */
  find(resources: readonly RecordedResource[], type: string, name?: string | RegExp): RecordedResource;
}

/** Unwraps an Output (or plain value) in a test; resolves to undefined for unknowns. */
export function unwrap<T>(value: pulumi.Input<T> | pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => {
    pulumi.output(value).apply((v) => {
      resolve(v as T);
      return v;
    });
  });
}

/** True when the Output is marked secret (so it is encrypted in state and masked in CLI output). */
export function isSecretOutput(value: pulumi.Output<unknown>): Promise<boolean> {
  return pulumi.isSecret(value);
}

// Pulumi's wire marker for a secret value inside a serialized property.
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Replaces secret wrappers with their plain values, so tests can compare inputs directly. */
function revealSecrets(value: unknown): any {
  if (Array.isArray(value)) return value.map(revealSecrets);
  if (value && typeof value === "object") {
    const record = value as Record<string, unknown>;
    if (record[SIG_KEY] === SECRET_SIG) return revealSecrets(record.value);
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, revealSecrets(v)]));
  }
  return value;
}

function containsSecret(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(containsSecret);
  if (value && typeof value === "object") {
    if ((value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG) return true;
    return Object.values(value).some(containsSecret);
  }
  return false;
}

export async function installMocks(options: MockOptions): Promise<PulumiTestRuntime> {
  const project = options.project ?? "analytics";
  pulumi.runtime.setAllConfig(options.config ?? {}, options.secretKeys ?? []);

  let records: RecordedResource[] = [];
  const inputsByKey = new Map<string, Record<string, any>>();
  let pending = 0;

  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        inputsByKey.set(`${args.type}::${args.name}`, revealSecrets(args.inputs));
        const extra = options.outputs?.(args.type, args.name, args.inputs) ?? {};
        return { id: `${args.name}-id`, state: { ...args.inputs, ...extra } };
      },
      call(args: pulumi.runtime.MockCallArgs) {
        return args.inputs;
      },
    },
    project,
    options.stack,
    false,
  );

  // The mock monitor's request carries what MockResourceArgs leaves out: parent, dependencies, provider, protect.
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback: any) => {
    pending++;
    const type: string = req.getType();
    const name: string = req.getName();
    return register(req, (err: any, resp: any) => {
      try {
        const urn: string = resp?.getUrn?.() ?? "";
        const secretInputs: string[] = [];
        const struct = req.getObject()?.toJavaScript?.() ?? {};
        for (const [key, value] of Object.entries(struct)) {
          if (containsSecret(value)) secretInputs.push(key);
        }
        records.push({
          type,
          name,
          urn,
          inputs: inputsByKey.get(`${type}::${name}`) ?? {},
          secretInputs,
          parent: req.getParent() || undefined,
          dependencies: req.getDependenciesList(),
          provider: req.getProvider() || undefined,
          custom: req.getCustom(),
          protect: req.getProtect?.() ?? false,
          retainOnDelete: req.getRetainondelete?.() ?? false,
        });
      } finally {
        pending--;
        callback(err, resp);
      }
    });
  };

  // Registrations resolve over several turns of the event loop; wait until none is in flight and the count
  // stays put, with a deadline so a stuck program fails the test instead of hanging it.
  async function settle(): Promise<void> {
    const deadline = Date.now() + 20_000;
    let stableTurns = 0;
    let last = -1;
    while (stableTurns < 5) {
      if (Date.now() > deadline) throw new Error(`Pulumi mocks: ${pending} registrations still pending after 20 s`);
      await new Promise((r) => setImmediate(r));
      if (pending === 0 && records.length === last) stableTurns++;
      else stableTurns = 0;
      last = records.length;
    }
  }

  return {
    async run<T>(program: () => T | Promise<T>): Promise<MockRun<T>> {
      records = [];
      const result = await program();
      await settle();
      return { result, resources: records };
    },
    find(resources, type, name) {
      const matches = resources.filter((r) => r.type === type &&
        (name === undefined || (typeof name === "string" ? r.name === name : name.test(r.name))));
      if (matches.length !== 1) {
        throw new Error(`expected one ${type}${name ? ` named ${name}` : ""}, found ${matches.length}; registered: ` +
          resources.map((r) => `${r.type}::${r.name}`).join(", "));
      }
      return matches[0];
    },
  };
}
