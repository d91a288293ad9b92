/**
 * Review 2: the runbook link of every deployed alert rule opens from a notification (webhook, email) and from
 * Grafana's alert view: an absolute URL. The component builds the rules from the stack config (components/dashboards.ts
 * passes no runbookBaseUrl), so the stack config must be able to set the base.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../components/stack-config";
import { alertRules } from "../dashboards/alert-rules";
import { analyticsSettings } from "../dashboards/settings";

const BASE = "https://git.example.com/team/analytics/blob/main/docs/runbooks";

describe("runbook links of the deployed rules", () => {
  it("can be made absolute from the stack config", () => {
    let problem = "";
    let urls: string[] = [];
    try {
      urls = alertRules(analyticsSettings(loadConfig({ runbookBaseUrl: BASE }, "dev"))).map((r) => r.annotations.runbook_url);
    } catch (error) {
      problem = (error as Error).message.split("\n").slice(0, 3).join(" ");
    }
    // Without it every notification links `docs/runbooks/<uid>.md`, which Grafana resolves against its own page (404).
    expect(problem, "no stack config key sets the runbook base").toBe("");
    expect(urls.every((u) => u.startsWith(`${BASE}/`))).toBe(true);
  });
});
