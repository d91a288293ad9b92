import { describe, expect, it } from "vitest";
import { logqlProblems } from "./support/logql";

describe("LogQL checker", () => {
  it.each([
    '{service="ingest"} | json | level="error"',
    'sum(rate({service="ingest"} |= "error" [5m]))',
    '{service=~".+"} |= "x"',
    'sum by (level) (count_over_time({service="ingest", level=~"error|warn"} [1m]))',
  ])("accepts %s", (q) => {
    expect(logqlProblems(q)).toEqual([]);
  });

  it.each([
    ['{service=~".*"} |= "x"', "empty string"],
    ['{service!="a"}', "empty string"],
    ['{service="ingest" | json', "syntax"],
    ['sum(rate({service="ingest"} [5m])', "syntax"],
    ["", "empty"],
  ])("rejects %s", (q, why) => {
    const problems = logqlProblems(q);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.map((p) => p.message).join(" ")).toContain(why);
  });
});
