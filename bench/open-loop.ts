/**
 * An open-loop load at a steady rate, for latency at a given load: request i is due at start + i / rate whatever
 * the answers to earlier ones, and its latency runs from that due time to its response. A request that waits for a
 * free connection, or is sent late because the generator itself was busy, counts that wait: a slow server cannot
 * slow down its own measurement (coordinated omission).
 *
 * Why not autocannon's `overallRate`: it gives each connection a per-second budget, so the connections send back to
 * back as fast as answers come until the second's budget is spent, then sit idle until the next second; "half the
 * maximum rate" becomes full speed for about half of each second. And its latency correction for that mode assumes
 * an interval of ceil(1 / rate) ms, 1 ms at any rate above 1 per second, so every response slower than 1 ms adds
 * synthetic samples (a 20 ms response adds 19). Both make its percentiles describe something other than the server
 * under a steady half load.
 *
 * The client is a few lines over raw keep-alive sockets, one request in flight per connection, the request bytes
 * built once: an HTTP library's per-request cost (undici's Pool took half a core at 5,000 requests/s here) would
 * take the shared cores from the server and make the generator, not the server, the source of the delays.
 */
import { connect, type Socket } from "node:net";

export interface OpenLoopOptions {
  /** http://host:port */
  readonly origin: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** Requests per second, spread evenly. */
  readonly rate: number;
  /** Seconds measured, after the warm-up. */
  readonly seconds: number;
  /** Seconds of the same load first, reported apart (a fresh process runs unoptimized code at first). */
  readonly warmupSeconds?: number;
  /** Called when the measured seconds begin (to start other meters then). */
  readonly onMeasuring?: () => void;
  /** Keep-alive connections; a request due while all are busy waits for one (and that wait counts). */
  readonly connections: number;
}

export interface LatencySummary {
  /** Percentiles of (response time - due time), ms; a request unanswered at the end counts as Infinity. */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface OpenLoopResult extends LatencySummary {
  /** Requests of the measured seconds, and how they ended. */
  readonly sent: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  /** The warm-up's requests. */
  readonly warmup: LatencySummary;
}

function summary(latencies: Float64Array): LatencySummary {
  const sorted = latencies.slice().sort();
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN };
}

/** The q-quantile of sorted values (nearest rank). */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)];
}

/**
 * The length of the first complete HTTP/1.1 response in `data` and its status, or undefined while incomplete.
 * Enough for the ingest's answers (a body of Content-Length bytes) and for chunked bodies (Node's http server
 * without a Content-Length): reading a chunked body as empty would leave its chunks to be taken for the next answer.
 */
export function completeResponse(data: Buffer): { length: number; status: number } | undefined {
  const headerEnd = data.indexOf("\r\n\r\n");
  if (headerEnd < 0) return undefined;
  const head = data.toString("latin1", 0, headerEnd);
  const status = Number(head.slice(9, 12));
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) {
    // "<hex size>[;ext]\r\n<size bytes>\r\n" until a zero-size chunk, then optional trailers and an empty line.
    for (let at = headerEnd + 4; ;) {
      const lineEnd = data.indexOf("\r\n", at);
      if (lineEnd < 0) return undefined;
      const size = Number.parseInt(data.toString("latin1", at, lineEnd), 16);
      if (!(size >= 0)) throw new Error(`open-loop: malformed chunk size ${JSON.stringify(data.toString("latin1", at, lineEnd))}`);
      if (size === 0) {
        const end = data.indexOf("\r\n\r\n", lineEnd);
        return end < 0 ? undefined : { length: end + 4, status };
      }
      at = lineEnd + 2 + size + 2;
      if (at > data.length) return undefined;
    }
  }
  const match = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const length = headerEnd + 4 + (match ? Number(match[1]) : 0);
  return data.length >= length ? { length, status } : undefined;
}

export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const url = new URL(options.origin);
  const body = Buffer.from(options.body);
  const head = [`POST ${options.path} HTTP/1.1`, `host: ${url.host}`, "connection: keep-alive", `content-length: ${body.length}`,
    ...Object.entries(options.headers).map(([k, v]) => `${k}: ${v}`)].join("\r\n");
  const request = Buffer.concat([Buffer.from(`${head}\r\n\r\n`), body]);

  const warm = Math.floor(options.rate * (options.warmupSeconds ?? 0));
  const total = warm + Math.floor(options.rate * options.seconds);
  const latencies = new Float64Array(total).fill(Number.POSITIVE_INFINITY);
  let startMs = 0;
  const intervalMs = 1000 / options.rate;
  let ok = 0;
  let non2xx = 0;
  let done = 0;
  /** Due requests waiting for a free connection, oldest first. */
  const waiting: number[] = [];
  let waitingHead = 0;
  const idle: Connection[] = [];

  interface Connection { socket: Socket; inFlight: number; buffered: Buffer }
  const dispatch = (connection: Connection) => {
    if (waitingHead < waiting.length) {
      connection.inFlight = waiting[waitingHead++];
      connection.socket.write(request);
    } else {
      connection.inFlight = -1;
      idle.push(connection);
    }
  };
  const connections = await Promise.all(Array.from({ length: options.connections }, () => new Promise<Connection>((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), noDelay: true }, () => resolve(connection));
    const connection: Connection = { socket, inFlight: -1, buffered: Buffer.alloc(0) };
    socket.once("error", reject);
    socket.on("data", (chunk: Buffer) => {
      connection.buffered = connection.buffered.length === 0 ? chunk : Buffer.concat([connection.buffered, chunk]);
      const response = completeResponse(connection.buffered);
      if (!response || connection.inFlight < 0) return;
      connection.buffered = connection.buffered.subarray(response.length);
      latencies[connection.inFlight] = performance.now() - (startMs + connection.inFlight * intervalMs);
      if (connection.inFlight < warm) { /* warm-up: latency only */ } else if (response.status >= 200 && response.status < 300) ok++;
      else non2xx++;
      done++;
      dispatch(connection);
    });
  })));
  let open = connections.length;
  for (const connection of connections) {
    connection.socket.removeAllListeners("error");
    // A connection that breaks, or that the server closes, fails its request (latency Infinity, counted as an error)
    // and leaves the pool, idle or not ('close' follows every 'error', and a plain close has no 'error').
    connection.socket.on("error", () => {});
    connection.socket.once("close", () => {
      open--;
      if (connection.inFlight >= 0) done++;
      connection.inFlight = -1;
      const at = idle.indexOf(connection);
      if (at >= 0) idle.splice(at, 1);
    });
    idle.push(connection);
  }

  startMs = performance.now(); // the schedule starts once every connection is open
  await new Promise<void>((resolve) => {
    let sent = 0;
    const tick = () => {
      // Everything due by now (timers fire about every millisecond: a few requests per tick at these rates).
      const due = Math.min(total, Math.floor((performance.now() - startMs) / intervalMs) + 1);
      while (sent < due) {
        if (sent === warm) options.onMeasuring?.();
        waiting.push(sent++);
        const connection = idle.pop();
        if (connection) dispatch(connection);
      }
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const giveUpMs = performance.now() + 30_000;
  while (done < total && open > 0 && performance.now() < giveUpMs) await new Promise((resolve) => setTimeout(resolve, 5));
  let unanswered = 0;
  for (let i = warm; i < total; i++) if (latencies[i] === Number.POSITIVE_INFINITY) unanswered++;
  const counts = { sent: total - warm, ok, non2xx, errors: unanswered };
  for (const connection of connections) connection.socket.destroy();
  return { ...counts, ...summary(latencies.subarray(warm)), warmup: summary(latencies.subarray(0, warm)) };
}
