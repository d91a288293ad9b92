/**
 * The deployed stack's side of an operations command's connection: ClickHouse's published HTTP address from the
 * stack's config files, and the migrator's password from the stack's outputs.
 */
import { stackConfigFromFiles } from "../../components/stack-files";
import { OPS_PASSWORD_OUTPUT, type StackLookup } from "./clickhouse-connection";
import { readStackOutputs, ROOT_DIR, type CommandRunner } from "./stack-outputs";

export function stackLookup(run?: CommandRunner): StackLookup {
  return {
    url(stack) {
      // Encrypted values (a webhook URL set with --secret) get stand-ins: only the address is needed here.
      const { cfg } = stackConfigFromFiles(ROOT_DIR, stack);
      // A stack published on every interface is still reachable on loopback from its own host.
      const host = cfg.bindAddress === "0.0.0.0" ? "127.0.0.1" : cfg.bindAddress;
      return `http://${host}:${cfg.ports.clickhouseHttp}`;
    },
    password(stack) {
      const value = readStackOutputs(stack, "", run)[OPS_PASSWORD_OUTPUT];
      if (typeof value !== "string" || value.length === 0) {
        throw new Error(`stack ${stack} has no ${OPS_PASSWORD_OUTPUT} output; is it deployed (\`npm run pulumi -- ${stack} up\`)?`);
      }
      return value;
    },
  };
}
