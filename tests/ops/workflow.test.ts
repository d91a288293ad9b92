/**
 * The CI workflow cannot run here, so it is linted: valid YAML (parsed with the `yaml` package, duplicate keys are
 * errors), the keys GitHub Actions requires, the jobs the issue asks for (tests on pull requests, `pulumi preview`
 * of dev and prod), pinned actions, least-privilege permissions, no untrusted input in shell scripts, and every
 * secret it reads documented in docs/operations.md. What the workflow runs must exist: the CI script, the npm
 * scripts and the stack files.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDocument } from "yaml";

const ROOT = join(__dirname, "..", "..");
const WORKFLOWS = join(ROOT, ".github", "workflows");

interface Step { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; if?: string; id?: string; env?: Record<string, string> }
interface Job { name?: string; "runs-on"?: string; "timeout-minutes"?: number; steps?: Step[]; strategy?: { matrix?: Record<string, unknown> }; env?: Record<string, string>; permissions?: unknown }
interface Workflow { name?: string; on?: Record<string, unknown>; permissions?: Record<string, string>; jobs?: Record<string, Job> }

function load(file: string): { workflow: Workflow; text: string } {
  const text = readFileSync(join(WORKFLOWS, file), "utf8");
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  expect(doc.errors.map((e) => e.message), `${file} is not valid YAML`).toEqual([]);
  return { workflow: doc.toJS() as Workflow, text };
}

const files = existsSync(WORKFLOWS) ? readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)) : [];

describe("GitHub Actions workflows", () => {
  it("exist", () => {
    expect(files).toContain("ci.yml");
  });

  for (const file of files) {
    describe(file, () => {
      const { workflow, text } = load(file);
      const jobs = Object.entries(workflow.jobs ?? {});

      it("has the keys GitHub Actions requires: name, on, jobs with runs-on and steps", () => {
        expect(typeof workflow.name).toBe("string");
        expect(workflow.on).toBeTypeOf("object");
        expect(jobs.length).toBeGreaterThan(0);
        for (const [id, job] of jobs) {
          expect(id, "job ids: letters, digits, - and _").toMatch(/^[A-Za-z_][A-Za-z0-9_-]*$/);
          expect(job["runs-on"], `${id}: runs-on`).toBeTypeOf("string");
          expect(job["timeout-minutes"], `${id}: set timeout-minutes so a hung job cannot run for 6 hours`).toBeGreaterThan(0);
          expect(Array.isArray(job.steps) && job.steps.length > 0, `${id}: steps`).toBe(true);
          for (const step of job.steps ?? []) {
            expect(Number(step.uses !== undefined) + Number(step.run !== undefined), `${id}: each step has exactly one of uses/run: ${JSON.stringify(step)}`).toBe(1);
          }
        }
      });

      it("grants the token read access only", () => {
        expect(workflow.permissions).toEqual({ contents: "read" });
        for (const [id, job] of jobs) expect(job.permissions, `${id} must not widen permissions`).toBeUndefined();
      });

      it("pins every action to a release tag or commit, never a branch", () => {
        for (const [, job] of jobs) {
          for (const step of job.steps ?? []) {
            if (step.uses === undefined) continue;
            expect(step.uses, "use owner/repo@vN (or a full commit SHA), not a branch").toMatch(/^[A-Za-z0-9-]+\/[A-Za-z0-9._/-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/);
          }
        }
      });

      it("does not put event payload (untrusted input) into shell scripts", () => {
        for (const [, job] of jobs) {
          for (const step of job.steps ?? []) expect(step.run ?? "").not.toMatch(/\$\{\{\s*github\.(event|head_ref)/);
        }
      });

      it("documents every secret it reads in docs/operations.md", () => {
        const secrets = [...text.matchAll(/secrets\.([A-Za-z0-9_]+)/g)].map((m) => m[1]).filter((s) => s !== "GITHUB_TOKEN");
        const docs = readFileSync(join(ROOT, "docs", "operations.md"), "utf8");
        for (const secret of secrets) expect(docs, `document ${secret} in docs/operations.md`).toContain(secret);
      });
    });
  }

  describe("ci.yml", () => {
    const { workflow } = load("ci.yml");
    const jobs = workflow.jobs ?? {};
    const runs = (job: Job) => (job.steps ?? []).map((s) => s.run ?? "").join("\n");
    const nodeVersions = (job: Job) => (job.steps ?? []).filter((s) => s.uses?.startsWith("actions/setup-node@")).map((s) => String(s.with?.["node-version"]));

    it("runs on pull requests (and on pushes to main)", () => {
      expect(workflow.on).toHaveProperty("pull_request");
      expect((workflow.on?.push as { branches?: string[] }).branches).toEqual(["main"]);
    });

    it("runs the tests the README's way (npm ci && npm test through .ci/run) on the Node the project supports", () => {
      expect(runs(jobs.test)).toContain(".ci/run");
      const script = readFileSync(join(ROOT, ".ci", "run"), "utf8");
      expect(script).toMatch(/npm ci/);
      expect(script).toMatch(/npm test/);
      expect(statSync(join(ROOT, ".ci", "run")).mode & 0o111, ".ci/run must be executable").not.toBe(0);
      const engines = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;
      for (const v of [...nodeVersions(jobs.test), ...nodeVersions(jobs.preview)]) expect(engines).toBe(`>=${v}`);
    });

    it("previews the dev and prod stacks with the repository's Pulumi wrapper", () => {
      const stacks = jobs.preview.strategy?.matrix?.stack as string[];
      expect(stacks).toEqual(["dev", "prod"]);
      for (const stack of stacks) expect(existsSync(join(ROOT, `Pulumi.${stack}.yaml`)), `Pulumi.${stack}.yaml`).toBe(true);
      expect(runs(jobs.preview)).toContain('npm run pulumi -- "${{ matrix.stack }}" preview');
      const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
      expect(scripts.pulumi).toBe("scripts/pulumi-local.sh");
      expect((jobs.preview.steps ?? []).some((s) => s.uses?.startsWith("pulumi/actions@"))).toBe(true);
      // The prod passphrase comes from a secret, and only for prod.
      expect(jobs.preview.env?.PULUMI_CONFIG_PASSPHRASE).toBe("${{ matrix.stack == 'prod' && secrets.PULUMI_CONFIG_PASSPHRASE_PROD || '' }}");
    });
  });
});
