/**
 * Sends batches to the ingest's `POST /v1/batch` with the write key as the HTTP Basic user, a bounded number in
 * flight (backpressure: `send` waits for a free slot), and the retry rules a well-behaved Segment client follows:
 * network errors, 408, 429 and 5xx are retried with exponential backoff (honouring Retry-After); any other 4xx is
 * the client's fault and is not retried, it is counted by the ingest's error code.
 */
import { batchBody, type Batch } from "./segment";

export interface SenderOptions {
  readonly url: string;
  readonly writeKey: string;
  readonly concurrency: number;
  /** Attempts per batch before giving up. Defaults to 8 (about two minutes of backoff). */
  readonly maxAttempts?: number;
  /** First backoff delay in ms, doubled per attempt up to 30 s. Defaults to 500. */
  readonly baseDelayMs?: number;
  readonly fetchImpl?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** Called after each batch is settled, with the number of events it held (for the progress bar). */
  readonly onSettled?: (events: number) => void;
}

export interface SenderStats {
  batches: number;
  /** Events the ingest stored (new message ids). */
  accepted: number;
  /** Events the ingest acknowledged as repeats of a message id it already had. */
  duplicates: number;
  /** Events in refused requests, by the ingest's error code. */
  readonly rejected: Record<string, number>;
  /** Refusals of batches that were meant to be valid (a bug in the simulator or an ingest change). */
  unexpectedRejections: number;
  retries: number;
  /** First problems reported by the ingest, for the summary. */
  readonly problems: string[];
}

/** A failure that makes going on pointless (bad key, wrong URL, ingest gone for minutes). */
export class SendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SendError";
  }
}

const RETRY_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 300) * 1000 : undefined;
}

export class IngestSender {
  readonly stats: SenderStats = { batches: 0, accepted: 0, duplicates: 0, rejected: {}, unexpectedRejections: 0, retries: 0, problems: [] };
  private readonly inFlight = new Set<Promise<void>>();
  private failure: SendError | undefined;
  private readonly endpoint: string;
  private readonly authorization: string;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly options: SenderOptions) {
    this.endpoint = `${options.url.replace(/\/+$/, "")}/v1/batch`;
    this.authorization = `Basic ${Buffer.from(`${options.writeKey}:`).toString("base64")}`;
    this.fetchImpl = options.fetchImpl ?? fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = options.now ?? Date.now;
  }

  /** Queues a batch; resolves when there is room for another. Throws the first fatal error. */
  async send(batch: Batch): Promise<void> {
    if (this.failure) throw this.failure;
    while (this.inFlight.size >= this.options.concurrency) {
      await Promise.race(this.inFlight);
      if (this.failure) throw this.failure;
    }
    const task = this.deliver(batch).catch((error: unknown) => {
      this.failure ??= error instanceof SendError ? error : new SendError(`sending failed: ${(error as Error).message}`);
    }).finally(() => {
      this.inFlight.delete(task);
      this.options.onSettled?.(batch.messages.length);
    });
    this.inFlight.add(task);
  }

  /** Waits for every batch in flight. Throws the first fatal error. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }

  private async deliver(batch: Batch): Promise<void> {
    const maxAttempts = this.options.maxAttempts ?? 8;
    const base = this.options.baseDelayMs ?? 500;
    let lastProblem = "";
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) this.stats.retries++;
      let response: Response | undefined;
      try {
        response = await this.fetchImpl(this.endpoint, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: this.authorization },
          body: batchBody(batch, this.now()),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        lastProblem = `cannot reach ${this.endpoint} (${cause ?? (error as Error).message})`;
      }
      if (response) {
        const text = await response.text();
        if (response.ok) {
          const body = safeJson(text) as { accepted?: number; duplicates?: number };
          this.stats.batches++;
          this.stats.accepted += body.accepted ?? batch.messages.length;
          this.stats.duplicates += body.duplicates ?? 0;
          return;
        }
        const body = safeJson(text) as { code?: string; message?: string; errors?: { index?: number; field?: string; problem?: string }[] };
        if (response.status === 401) {
          throw new SendError(`the ingest refused the write key (401 ${body.code ?? ""}). Use the stack's key: ` +
            "`npm run pulumi -- dev stack output --show-secrets` (ingestWriteKeys), or --write-key / INGEST_WRITE_KEY.");
        }
        if (response.status === 404) throw new SendError(`${this.endpoint} answered 404: is --url the ingest's base URL (for example http://127.0.0.1:8080)?`);
        if (!RETRY_STATUSES.has(response.status)) {
          const code = body.code ?? `http_${response.status}`;
          this.stats.batches++;
          this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + batch.messages.length;
          if (!batch.invalid) {
            this.stats.unexpectedRejections++;
            if (this.stats.problems.length < 5) {
              const first = body.errors?.[0];
              this.stats.problems.push(`${response.status} ${code}: ${body.message ?? text.slice(0, 200)}${first ? ` (batch[${first.index}].${first.field}: ${first.problem})` : ""}`);
            }
          }
          return;
        }
        lastProblem = `${response.status} ${body.code ?? ""}`.trim();
        const wait = retryAfterMs(response.headers.get("retry-after"));
        if (attempt < maxAttempts) await this.sleep(wait ?? backoff(base, attempt));
        continue;
      }
      if (attempt < maxAttempts) await this.sleep(backoff(base, attempt));
    }
    throw new SendError(`gave up on a batch of ${batch.messages.length} events after ${maxAttempts} attempts: ${lastProblem}`);
  }
}

/** Exponential backoff with full jitter, capped at 30 s (jitter spreads retries of parallel batches). */
function backoff(baseMs: number, attempt: number): number {
  const cap = Math.min(30_000, baseMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + (Math.random() * cap) / 2);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return {};
  }
}
