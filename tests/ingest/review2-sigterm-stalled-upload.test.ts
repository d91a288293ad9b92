/**
 * Review 2: SIGTERM while a client connection is open but unfinished. The promise: SIGTERM stops accepting, ships or
 * spools everything and exits 0. A half-open connection (a phone that lost its network mid-upload, a proxy's
 * pre-opened connection that has not sent a request yet) must not keep the process from exiting: the container
 * runtime would SIGKILL it at its stop timeout, and the spool would not be shipped first.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startIngestProcess, type IngestProcess } from "./support/ingest-process";

const KEY = "stalled-upload-key";

describe("review2: SIGTERM with an unfinished connection", () => {
  const dir = mkdtempSync(join(tmpdir(), "review2-sigterm-"));
  const started: IngestProcess[] = [];
  afterAll(async () => {
    for (const p of started) await p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the service, opens a connection that sends `bytes` and then nothing, SIGTERMs; the exit within 10 s. */
  async function sigtermWithOpenConnection(name: string, bytes: string) {
    // ClickHouse is not needed: nothing is accepted, so nothing has to ship.
    const ingest = await startIngestProcess({
      clickhouseUrl: "http://127.0.0.1:9", spoolDir: join(dir, name), writeKeys: [KEY], env: { INGEST_SHUTDOWN_TIMEOUT_MS: "2000" },
    });
    started.push(ingest);
    const socket = connect(Number(new URL(ingest.url).port), "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    if (bytes) socket.write(bytes);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const outcome = await Promise.race([ingest.kill("SIGTERM"), new Promise<"still running">((resolve) => setTimeout(resolve, 10_000, "still running"))]);
    socket.destroy();
    return outcome;
  }

  it("exits 0 although one request body stopped arriving halfway", { timeout: 30_000 }, async () => {
    const head = `POST /v1/track HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\nAuthorization: Basic ${Buffer.from(`${KEY}:`).toString("base64")}\r\n\r\n`;
    expect(await sigtermWithOpenConnection("stalled-body", `${head}{"userId":"u","even`), "SIGTERM (shutdown timeout 2 s), 10 s later").toEqual({ code: 0, signal: null });
  });

  it("exits 0 although a connection is open that has not sent a request yet", { timeout: 30_000 }, async () => {
    expect(await sigtermWithOpenConnection("no-request", ""), "SIGTERM (shutdown timeout 2 s), 10 s later").toEqual({ code: 0, signal: null });
  });
});
