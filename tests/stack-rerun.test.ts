/**
 * A second `pulumi up` with nothing changed must be a no-op: every resource input has to be a pure function of the
 * stack's config, files and secrets. The program runs twice (fresh modules, another day, other random numbers) and
 * every registered resource's inputs are compared, the serialized schema provider included.
 */
import { describe, expect, it, vi } from "vitest";
import type { RecordedResource } from "./support/pulumi-harness";
import { runStack } from "./support/stack-graph";

async function runOn(day: string): Promise<Map<string, string>> {
  vi.resetModules();
  vi.useFakeTimers({ toFake: ["Date"], now: new Date(day) });
  try {
    const { resources } = await runStack("prod");
    return new Map(resources.map((r: RecordedResource) => [`${r.type}::${r.name}`,
      JSON.stringify({ inputs: r.inputs, deps: [...r.dependencies].sort(), protect: r.protect, parent: r.parent })]));
  } finally {
    vi.useRealTimers();
  }
}

describe("re-running the program", () => {
  it("registers the same resources with the same inputs on another day", async () => {
    const first = await runOn("2026-03-02T10:00:00Z");
    const second = await runOn("2027-07-19T23:59:30Z");
    expect([...second.keys()].sort()).toEqual([...first.keys()].sort());
    expect(first.size).toBeGreaterThan(30);
    for (const [key, value] of first) expect(second.get(key), key).toBe(value);
  });
});
