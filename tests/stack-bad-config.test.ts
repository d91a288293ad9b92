import { describe, expect, it } from "vitest";
import { runStack } from "./support/stack-graph";

describe("the program with a bad stack config", () => {
  it("fails with every bad key, its value and what is allowed", async () => {
    let registered = -1;
    const error = await runStack("dev", { "analytics:bindAddress": "localhost", "analytics:logShipper": "fluentd" })
      .then((s) => { registered = s.resources.length; return undefined; }, (e: Error) => e);
    expect(registered).toBe(-1);
    expect(error?.message).toContain('analytics:bindAddress: got "localhost", expected an IPv4 address');
    expect(error?.message).toContain('analytics:logShipper: got "fluentd", expected one of "promtail", "alloy"');
  });
});
