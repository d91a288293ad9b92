/**
 * The deploy command of the README (`npm run pulumi -- dev up`) cannot run here (no Pulumi CLI, no Docker), so this
 * runs the script against recording stand-ins for `pulumi` and `docker` and checks what it would have done.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const script = join(__dirname, "..", "scripts", "pulumi-local.sh");

function fakeBin(opts: { stackExists: boolean; dockerUp: boolean }) {
  const dir = mkdtempSync(join(tmpdir(), "fakebin-"));
  const log = join(dir, "calls.log");
  writeFileSync(join(dir, "pulumi"), `#!/usr/bin/env bash
echo "pulumi $* | backend=$PULUMI_BACKEND_URL passphrase=\${PULUMI_CONFIG_PASSPHRASE:-}" >> ${log}
if [ "$1 $2" = "stack select" ]; then ${opts.stackExists ? "exit 0" : "exit 1"}; fi
exit 0
`);
  writeFileSync(join(dir, "docker"), `#!/usr/bin/env bash\n${opts.dockerUp ? "exit 0" : "exit 1"}\n`);
  chmodSync(join(dir, "pulumi"), 0o755);
  chmodSync(join(dir, "docker"), 0o755);
  return { dir, log };
}

function run(args: string[], bin: string, env: Record<string, string> = {}) {
  return spawnSync("bash", [script, ...args], {
    encoding: "utf8",
    env: { PATH: `${bin}:/usr/bin:/bin`, HOME: process.env.HOME ?? "/tmp", ...env },
  });
}

describe("scripts/pulumi-local.sh", () => {
  it("creates the dev stack on a local file backend with the dev passphrase, then runs the command", () => {
    const { dir, log } = fakeBin({ stackExists: false, dockerUp: true });
    const result = run(["dev", "up", "--yes"], dir);
    expect(result.status, result.stderr).toBe(0);
    const calls = readFileSync(log, "utf8").trim().split("\n");
    expect(calls[0]).toMatch(/^pulumi stack select dev/);
    expect(calls[1]).toMatch(/^pulumi stack init dev --secrets-provider passphrase/);
    expect(calls[2]).toMatch(/^pulumi up --yes --stack dev \| backend=file:\/\/.*\/\.pulumi-state passphrase=analytics-dev-passphrase-not-secret$/);
  });

  it("reuses an existing stack", () => {
    const { dir, log } = fakeBin({ stackExists: true, dockerUp: true });
    expect(run(["dev", "destroy"], dir).status).toBe(0);
    const calls = readFileSync(log, "utf8").trim().split("\n");
    expect(calls.map((c) => c.split(" | ")[0])).toEqual(["pulumi stack select dev --non-interactive", "pulumi destroy --stack dev"]);
  });

  it("refuses a non-dev stack without a passphrase", () => {
    const { dir } = fakeBin({ stackExists: true, dockerUp: true });
    const result = run(["prod", "up"], dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("PULUMI_CONFIG_PASSPHRASE");
  });

  it("uses the passphrase the user sets for prod", () => {
    const { dir, log } = fakeBin({ stackExists: true, dockerUp: true });
    expect(run(["prod", "up"], dir, { PULUMI_CONFIG_PASSPHRASE: "mine" }).status).toBe(0);
    expect(readFileSync(log, "utf8")).toContain("passphrase=mine");
  });

  it("says what to start when Docker is not running", () => {
    const { dir } = fakeBin({ stackExists: true, dockerUp: false });
    const result = run(["dev", "up"], dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("No Docker engine");
  });

  it("needs no Docker engine for commands that only read or write the stack's config and outputs", () => {
    // The README sets config (and prod's alert webhook) before the first `up`, and reads outputs after it.
    const { dir, log } = fakeBin({ stackExists: true, dockerUp: false });
    for (const args of [["prod", "config", "set", "analytics:alertWebhookUrl", "https://hooks.example.com/x"],
      ["dev", "stack", "output", "--show-secrets"], ["dev", "config", "get", "analytics:grafanaPort"]]) {
      const result = run(args, dir, { PULUMI_CONFIG_PASSPHRASE: "mine" });
      expect(result.status, `${args.join(" ")}: ${result.stderr}`).toBe(0);
    }
    expect(readFileSync(log, "utf8")).toContain("pulumi config set analytics:alertWebhookUrl https://hooks.example.com/x --stack prod");
    for (const command of ["up", "destroy", "refresh"]) expect(run(["dev", command], dir).stderr, command).toContain("No Docker engine");
  });

  it("says how to install the Pulumi CLI when it is missing", () => {
    const empty = mkdtempSync(join(tmpdir(), "nobin-"));
    const result = run(["dev", "up"], empty);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("get.pulumi.com");
  });

  it("rejects a malformed stack name", () => {
    const { dir } = fakeBin({ stackExists: true, dockerUp: true });
    expect(run(["Dev;rm", "up"], dir).status).toBe(2);
  });
});
