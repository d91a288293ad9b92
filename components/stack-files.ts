/**
 * Reads a stack's configuration the way the Pulumi CLI would hand it to the program (Pulumi.yaml defaults, then
 * Pulumi.<stack>.yaml values), without the CLI. `npm run render` and the tests use it; the deployed program gets
 * the same values from the engine.
 */
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { CONFIG_NAMESPACE, SECRET_KEYS, loadConfig, type RawConfig, type StackConfig } from "./stack-config";

export interface DeclaredSetting {
  readonly type: string;
  readonly description: string;
  /** The declared default; "" declares an optional key that is unset by default. */
  readonly default?: string;
  /**
   * A secret of the program (SECRET_KEYS). Pulumi.yaml cannot say `secret: true` for them: a key declared secret
   * must be set (encrypted) by every stack, and these are generated when unset.
   */
  readonly secret: boolean;
}

/** The `config:` block of Pulumi.yaml: key (without namespace) -> declaration. */
export function declaredSettings(projectYaml: string): Map<string, DeclaredSetting> {
  const doc = parse(projectYaml) as { config?: Record<string, Record<string, unknown>> };
  const out = new Map<string, DeclaredSetting>();
  for (const [key, decl] of Object.entries(doc.config ?? {})) {
    const name = key.startsWith(`${CONFIG_NAMESPACE}:`) ? key.slice(CONFIG_NAMESPACE.length + 1) : key;
    out.set(name, {
      type: String(decl.type ?? "string"),
      description: String(decl.description ?? ""),
      default: decl.default === undefined ? undefined : String(decl.default),
      secret: decl.secret === true || (SECRET_KEYS as readonly string[]).includes(name),
    });
  }
  return out;
}

/** Values from Pulumi.<stack>.yaml, namespace stripped; encrypted secrets are reported as present, not decrypted. */
export function stackValues(stackYaml: string): Record<string, string> {
  const doc = (parse(stackYaml) ?? {}) as { config?: Record<string, unknown> };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (!key.startsWith(`${CONFIG_NAMESPACE}:`)) continue;
    const name = key.slice(CONFIG_NAMESPACE.length + 1);
    out[name] = value !== null && typeof value === "object" && "secure" in value ? "<encrypted>" : String(value);
  }
  return out;
}

/** Raw config for a stack as the program would see it: declared defaults overlaid with the stack's values. */
export function rawConfigForStack(rootDir: string, stack: string): RawConfig {
  const stackFile = join(rootDir, `Pulumi.${stack}.yaml`);
  if (!existsSync(stackFile)) {
    throw new Error(`No stack file ${stackFile}: create it with \`pulumi stack init ${stack}\` or pick an existing stack (dev, prod).`);
  }
  const raw: Record<string, string> = {};
  for (const [key, decl] of declaredSettings(readFileSync(join(rootDir, "Pulumi.yaml"), "utf8"))) {
    if (decl.default !== undefined) raw[key] = decl.default;
  }
  return { ...raw, ...stackValues(readFileSync(stackFile, "utf8")) };
}

/**
 * Stack-file values stored with `pulumi config set --secret` arrive as "<encrypted>" (never decrypted here), which
 * the config check would refuse as "not a URL". They get a valid stand-in for the check, and the rendered files show
 * `<encrypted: key>` in its place (as generated passwords show `<generated: ...>`).
 */
const ENCRYPTED_STAND_INS: Readonly<Record<string, string>> = {
  alertWebhookUrl: "https://encrypted.invalid/alertWebhookUrl",
  alertEmail: "alertEmail@encrypted.invalid",
};

/** The stack's validated config from its files, encrypted values replaced by stand-ins (see ENCRYPTED_STAND_INS). */
export function stackConfigFromFiles(rootDir: string, stack: string): { cfg: StackConfig; standIns: Record<string, string> } {
  const raw = { ...rawConfigForStack(rootDir, stack) } as Record<string, string | undefined>;
  const standIns: Record<string, string> = {};
  for (const [key, standIn] of Object.entries(ENCRYPTED_STAND_INS)) {
    if (raw[key] === "<encrypted>") {
      raw[key] = standIn;
      standIns[standIn] = `<encrypted: ${key}>`;
    }
  }
  return { cfg: loadConfig(raw, stack), standIns };
}
