/**
 * Runs a container healthcheck command (Docker's `["CMD", argv...]` form) on this machine against a local HTTP
 * server, so tests see the exit code the real probe gives for a healthy and an unhealthy service. Only the port
 * changes: the command is otherwise exactly what the component generated.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ProbeServer {
  readonly port: number;
  close(): Promise<void>;
}

/** An HTTP server on 127.0.0.1 answering each path with the given status (404 for any other path). */
export async function startStatusServer(statusByPath: Record<string, number>): Promise<ProbeServer> {
  const server: Server = createServer((req, res) => {
    const status = statusByPath[req.url ?? ""] ?? 404;
    res.writeHead(status, { "content-type": "text/plain" });
    res.end(status === 200 ? "ready" : "not ready");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}

/**
 * Runs `tests` (which must start with "CMD") with every reference to 127.0.0.1:<fromPort> pointed at `toPort`;
 * resolves to the exit code. Times out after 5 s like a Docker healthcheck would.
 */
export function runHealthcheck(tests: readonly string[], fromPort: number, toPort: number): Promise<number> {
  if (tests[0] !== "CMD") throw new Error(`healthcheck must use the exec form ["CMD", ...], got ${JSON.stringify(tests)}`);
  const argv = tests.slice(1).map((a) => a
    .replaceAll(`127.0.0.1:${fromPort}`, `127.0.0.1:${toPort}`)
    .replaceAll(`/dev/tcp/127.0.0.1/${fromPort}`, `/dev/tcp/127.0.0.1/${toPort}`));
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { timeout: 5000 }, (error) => {
      if (!error) return resolve(0);
      const code = (error as NodeJS.ErrnoException & { code?: number | string }).code;
      resolve(typeof code === "number" ? code : -1);
    });
  });
}
