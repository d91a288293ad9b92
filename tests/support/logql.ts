/**
 * LogQL checks Loki would apply, without a Loki binary: syntax through Grafana's own lezer grammar, and Loki's
 * rule that every stream selector needs at least one matcher that cannot match the empty string
 * (`{service=~".*"}` is refused with "queries require at least one regexp or equality matcher that does not
 * have an empty-compatible value").
 */
import { parser } from "@grafana/lezer-logql";

export interface LogqlProblem {
  readonly at: number;
  readonly message: string;
}

/** Returns every problem found in a LogQL query; empty when Loki would accept it. */
export function logqlProblems(query: string): LogqlProblem[] {
  const problems: LogqlProblem[] = [];
  if (query.trim() === "") return [{ at: 0, message: "empty query" }];
  const tree = parser.parse(query);
  tree.iterate({
    enter(node) {
      if (node.type.isError) {
        problems.push({ at: node.from, message: `syntax error near ${JSON.stringify(query.slice(Math.max(0, node.from - 8), node.to + 8))}` });
      }
      if (node.name === "Selector") {
        const text = query.slice(node.from, node.to);
        const matchers = [...text.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)/g)];
        const nonEmpty = matchers.some(([, , op, quoted]) => {
          const value = quoted.startsWith("`") ? quoted.slice(1, -1) : JSON.parse(quoted) as string;
          if (op === "=") return value !== "";
          if (op === "=~") return !new RegExp(`^(?:${value})$`).test("");
          return false; // negative matchers always match the empty string of an absent label
        });
        if (!nonEmpty) {
          problems.push({ at: node.from, message: `selector ${text} has no matcher that excludes the empty string; use =~".+" or an equality` });
        }
      }
    },
  });
  return problems;
}
