/**
 * Replacing a container must delete the old one first. Almost every container input forces a replacement (image,
 * environment, uploaded config, ports), and the Docker provider creates the replacement before deleting the old
 * one unless told otherwise (pulumi/pulumi-docker#1356, "by design"). Every container here has a fixed name and
 * fixed host ports, so a create-first replacement fails on "container name already in use" / "port is already
 * allocated": a second `pulumi up` after changing the ingest's code, an image or a retention setting would stop.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { installMocks } from "./support/pulumi-harness";
import { stackConfig } from "./support/stack-graph";

interface Registration { type: string; name: string; deleteBeforeReplace: boolean }

describe("replacing the stack's containers", () => {
  const registered: Registration[] = [];
  beforeAll(async () => {
    await installMocks({
      stack: "dev",
      config: stackConfig("dev"),
      outputs: (type, name) => type === "random:index/randomPassword:RandomPassword" ? { result: `generated-${name}` }
        : type === "docker:index/remoteImage:RemoteImage" ? { imageId: `sha256:${name}` } : undefined,
    });
    // The registration request carries the option; record it next to the harness's own recording.
    const monitor = pulumi.runtime.getMonitor() as any;
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: any) => {
      registered.push({ type: req.getType(), name: req.getName(), deleteBeforeReplace: req.getDeletebeforereplace() });
      return register(req, callback);
    };
    await import("../index.js");
    await new Promise((resolve) => setTimeout(resolve, 1500));
  });

  it("deletes the old container before creating its replacement, for every container", () => {
    const containers = registered.filter((r) => r.type === "docker:index/container:Container");
    expect(containers.map((c) => c.name).sort()).toEqual([
      "analytics-clickhouse-container", "analytics-grafana-container", "analytics-ingest-container",
      "analytics-logs-container", "analytics-loki-container",
    ]);
    for (const c of containers) expect(c.deleteBeforeReplace, c.name).toBe(true);
  });
});
