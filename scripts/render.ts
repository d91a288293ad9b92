/**
 * npm run render -- --stack dev --out ./render
 *
 * Writes every artifact the stack would deploy (ClickHouse users and server config, migration plan, Loki and
 * Promtail/Alloy config, Grafana datasource payloads, dashboards and alert rules) for a stack's config, from the
 * same pure functions the components use. Needs no Docker and no Pulumi CLI. Generated passwords appear as
 * placeholders: they only exist in the encrypted stack state.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { allArtifacts } from "../components/artifacts";
import { ConfigError } from "../components/stack-config";
import { stackConfigFromFiles } from "../components/stack-files";

const USAGE = "usage: npm run render -- --stack <dev|prod|...> --out <directory>";

export function render(rootDir: string, stack: string, outDir: string): string[] {
  const { cfg, standIns } = stackConfigFromFiles(rootDir, stack);
  const written: string[] = [];
  for (const [path, content] of allArtifacts(cfg)) {
    const target = join(outDir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, Object.entries(standIns).reduce((text, [standIn, shown]) => text.split(standIn).join(shown), content));
    written.push(path);
  }
  return written.sort();
}

function main(): number {
  let values: { stack?: string; out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ options: { stack: { type: "string" }, out: { type: "string" }, help: { type: "boolean", short: "h" } } }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.stack || !values.out) {
    console.error(`--stack and --out are required\n${USAGE}`);
    return 2;
  }
  try {
    const outDir = resolve(values.out);
    const written = render(join(__dirname, ".."), values.stack, outDir);
    console.log(`rendered ${written.length} files for stack ${values.stack} into ${outDir}`);
    for (const path of written) console.log(`  ${path}`);
    return 0;
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : `render failed: ${(e as Error).message}`);
    return 1;
  }
}

if (require.main === module) process.exitCode = main();
