/**
 * Review of the tour: Pulumi.prod.yaml tells users to set alertWebhookUrl with --secret (it carries a token).
 * `npm run render` (and simulate's stack lookup) read Pulumi.<stack>.yaml without decrypting: the secret must be
 * rendered as a placeholder, never refused as "not a URL", and its ciphertext never written.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { render } from "../../scripts/render";

const root = join(__dirname, "..", "..");

describe("a stack whose alertWebhookUrl is stored encrypted", () => {
  it("renders, with the webhook URL as a placeholder and no ciphertext", () => {
    const dir = mkdtempSync(join(tmpdir(), "review-tour-secret-"));
    copyFileSync(join(root, "Pulumi.yaml"), join(dir, "Pulumi.yaml"));
    writeFileSync(join(dir, "Pulumi.dev.yaml"), `${readFileSync(join(root, "Pulumi.dev.yaml"), "utf8").trimEnd()}\n` +
      "  analytics:alertWebhookUrl:\n    secure: v1:abcdefABCDEF0123:CIPHERTEXTxyz\n");
    const out = join(dir, "out");
    const written = render(dir, "dev", out);
    const all = written.map((p) => readFileSync(join(out, p), "utf8")).join("\n");
    expect(all).not.toContain("CIPHERTEXTxyz");
    expect(all).not.toContain("encrypted.invalid");
    expect(all).toContain("<encrypted: alertWebhookUrl>");
  });
});
