/**
 * The open-loop load generator of bench:ingest's half-rate phase: it parses HTTP/1.1 answers as they arrive in
 * pieces, sends every request it is asked for, and counts a slow answer's wait from when the request was due.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { completeResponse, openLoop, quantile } from "../../bench/open-loop";

describe("completeResponse", () => {
  const answer = Buffer.from("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}");

  it("waits for the whole body, then gives the answer's length and status", () => {
    expect(completeResponse(answer.subarray(0, 30))).toBeUndefined();
    expect(completeResponse(answer.subarray(0, answer.length - 1))).toBeUndefined();
    expect(completeResponse(Buffer.concat([answer, Buffer.from("HTTP/1.1 503")]))).toEqual({ length: answer.length, status: 200 });
  });

  it("reads a chunked body to its last chunk (Node's http server without a Content-Length)", () => {
    const chunked = Buffer.from("HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\nb\r\n{\"ok\":true}\r\n2\r\n\r\n\r\n0\r\n\r\n");
    for (const cut of [40, chunked.length - 2, chunked.length - 1]) expect(completeResponse(chunked.subarray(0, cut))).toBeUndefined();
    expect(completeResponse(Buffer.concat([chunked, Buffer.from("HTTP/1.1 200 OK\r\n")]))).toEqual({ length: chunked.length, status: 503 });
  });

  it("reads a bodiless answer", () => {
    expect(completeResponse(Buffer.from("HTTP/1.1 503 Service Unavailable\r\nretry-after: 5\r\n\r\n"))).toEqual({ length: 52, status: 503 });
  });
});

describe("quantile", () => {
  it("takes the nearest rank", () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect([quantile(sorted, 0.5), quantile(sorted, 0.99), quantile(sorted, 1)]).toEqual([50, 99, 100]);
    expect(quantile(new Float64Array(0), 0.5)).toBeNaN();
  });
});

describe("openLoop", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  /** A server answering after `delayMs` with 200, or 503 for every `failEvery`-th request. */
  async function serve(delayMs: number, failEvery = 0): Promise<string> {
    let n = 0;
    server = createServer((req, res) => {
      req.resume();
      const failed = failEvery > 0 && ++n % failEvery === 0;
      setTimeout(() => res.writeHead(failed ? 503 : 200, { "content-type": "application/json" }).end(failed ? "" : '{"ok":true}'), delayMs);
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(server?.address() as AddressInfo).port}`;
  }

  const load = (origin: string, connections: number) => ({ origin, path: "/track", headers: { "content-type": "application/json" }, body: "{}", rate: 200, seconds: 0.5, warmupSeconds: 0.25, connections });

  it("sends rate x seconds requests after the warm-up and sorts their answers", async () => {
    let measuring = 0;
    const result = await openLoop({ ...load(await serve(1, 10), 4), onMeasuring: () => measuring++ });
    expect(measuring).toBe(1);
    expect(result.sent).toBe(100);
    expect(result.ok + result.non2xx).toBe(100);
    // 150 requests in all, every 10th answered 503: 10 of the measured 100, give or take one at the warm-up boundary.
    expect(result.non2xx).toBeGreaterThanOrEqual(9);
    expect(result.non2xx).toBeLessThanOrEqual(11);
    expect(result.errors).toBe(0);
    expect(result.p50).toBeGreaterThanOrEqual(1);
    expect(Number.isFinite(result.warmup.p99)).toBe(true);
  });

  it("counts a request whose connection the server closes as an error, without waiting for it", async () => {
    let n = 0;
    server = createServer((req, res) => {
      req.resume();
      if (++n === 80) req.socket.end(); // no answer: this connection is gone, the others carry on
      else res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const startedMs = performance.now();
    const result = await openLoop(load(`http://127.0.0.1:${(server?.address() as AddressInfo).port}`, 4));
    expect(performance.now() - startedMs).toBeLessThan(5000);
    expect(result).toMatchObject({ sent: 100, ok: 99, non2xx: 0, errors: 1, max: Number.POSITIVE_INFINITY });
  });

  it("counts the wait for a free connection: one connection, answers slower than the interval", async () => {
    // 200 requests/s on one connection answered after 20 ms: each waits for the ones before it, so latencies grow
    // far beyond the server's 20 ms (a closed-loop generator would report about 20 ms).
    const result = await openLoop(load(await serve(20), 1));
    expect(result.p50).toBeGreaterThan(200);
    expect(result.max).toBeGreaterThan(result.p50);
  });
});
