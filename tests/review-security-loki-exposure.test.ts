/**
 * Security review: Loki has no authentication (auth_enabled: false, single tenant), so whoever reaches its published
 * port reads every log line, pushes forged ones (a fake burst of ingest errors fires the alert) and, with the
 * compactor's delete API on, deletes logs. `bindAddress` is one stack-wide setting, and setting it to 0.0.0.0 or a
 * LAN address to publish the ingest or Grafana (both authenticated) must not publish Loki along with them: nothing in
 * the stack uses Loki's host port (Grafana and the log shipper reach it on the Docker network).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { Loki } from "../components/loki";
import { lokiConfig } from "../components/loki-config";
import { loadConfig } from "../components/stack-config";
import { CONTAINER, installComponentMocks } from "./support/component-mocks";
import type { PulumiTestRuntime } from "./support/pulumi-harness";

let rt: PulumiTestRuntime;
beforeAll(async () => { rt = await installComponentMocks(); });

async function publishedPorts(bindAddress: string) {
  const cfg = loadConfig({ bindAddress }, "dev");
  const { resources } = await rt.run(() => new Loki("loki", { config: cfg, networkName: "analytics-dev-net" }));
  return rt.find(resources, CONTAINER, "loki-container").inputs.ports as Array<{ internal: number; external: number; ip: string }>;
}

describe("security review: Loki's unauthenticated API stays on loopback", () => {
  it("runs without authentication (which is why it must not be published beyond the host)", () => {
    expect(lokiConfig({ logRetentionDays: 7 }).auth_enabled).toBe(false);
  });

  it.each(["0.0.0.0", "10.0.0.5", "127.0.0.1"])("with bindAddress %s it publishes port 3100 on 127.0.0.1 only", async (bindAddress) => {
    const ports = await publishedPorts(bindAddress);
    expect(ports).toEqual([{ internal: 3100, external: 3100, ip: "127.0.0.1" }]);
  });
});
