/**
 * Secrets a stack sets are validated like every other setting, before anything is registered: an empty Grafana
 * admin password would otherwise reach Grafana as an empty GF_SECURITY_ADMIN_PASSWORD, which Grafana ignores, so the
 * admin account would get Grafana's default password `admin`; a short write key would stop the ingest container
 * only after `pulumi up` waited minutes for it to become healthy.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { readStackConfig } from "../components/pulumi-config";
import { runStack, stackConfig } from "./support/stack-graph";

const GRAFANA = "analytics:grafanaAdminPassword";
const KEYS = "analytics:ingestWriteKeys";

/** Runs the config reader on the dev stack's files plus these secrets; returns the error message or "". */
function problemFor(secrets: Record<string, string>): string {
  pulumi.runtime.setAllConfig(stackConfig("dev", secrets), Object.keys(secrets));
  try {
    readStackConfig();
    return "";
  } catch (error) {
    return (error as Error).message;
  }
}

describe("secrets the stack sets", () => {
  it("refuses an empty Grafana admin password before registering anything, naming the key and the way out", async () => {
    let registered = -1;
    const error = await runStack("dev", { [GRAFANA]: "" }, [GRAFANA])
      .then((s) => { registered = s.resources.length; return undefined; }, (e: Error) => e);
    expect(registered).toBe(-1);
    expect(error?.message).toContain(`${GRAFANA}: is empty`);
    expect(error?.message).toContain(`pulumi config set --secret ${GRAFANA}`);
    expect(error?.message).toContain(`pulumi config rm ${GRAFANA}`);
  });

  it("refuses short passwords and write keys the ingest would reject, without printing them", () => {
    const message = problemFor({ "analytics:clickhouseWriterPassword": "hunter2", [KEYS]: "good-write-key-1, tiny" });
    expect(message).toContain("analytics:clickhouseWriterPassword: is 7 characters long, expected at least 8");
    expect(message).toContain(`${KEYS}: a key is 4 characters long, expected at least 8`);
    expect(message).not.toContain("hunter2");
    expect(message).not.toContain("tiny");
    expect(problemFor({ [KEYS]: " , " })).toContain(`${KEYS}: holds no write key`);
  });

  it("refuses a secret stored in plain text (set without --secret), and takes Pulumi.yaml's empty default as unset", () => {
    pulumi.runtime.setAllConfig(stackConfig("dev", { [GRAFANA]: "a-long-admin-password" }), []);
    expect(() => readStackConfig()).toThrow(`${GRAFANA}: is stored in plain text`);
    expect(() => readStackConfig()).not.toThrow(/a-long-admin-password/);
    pulumi.runtime.setAllConfig(stackConfig("dev"), []);
    expect(stackConfig("dev")[GRAFANA]).toBe("");
    expect(readStackConfig().secrets).toEqual({});
  });

  it("accepts good secrets and keeps them secret", async () => {
    expect(problemFor({ [GRAFANA]: "a-long-admin-password", [KEYS]: "write-key-one,write-key-two" })).toBe("");
    const { secrets } = readStackConfig();
    expect(await pulumi.isSecret(secrets.grafanaAdminPassword!)).toBe(true);
  });
});
