/**
 * The progress bar (cli-progress, on stderr so stdout stays free for the app's log lines): events sent, the rate
 * over the last few seconds, and the phase. Off when stderr is not a terminal or with --no-progress.
 */
import { SingleBar } from "cli-progress";

export interface Progress {
  /** Starts a phase; `total` undefined for an open-ended live phase. */
  start(phase: string, total: number | undefined): void;
  increment(events: number): void;
  stop(): void;
}

export const silentProgress: Progress = { start() {}, increment() {}, stop() {} };

/** Events per second over a sliding window of recent increments. */
export class RateMeter {
  private readonly samples: { atMs: number; count: number }[] = [];
  constructor(private readonly windowMs = 5000, private readonly now: () => number = Date.now) {}

  add(count: number): void {
    this.samples.push({ atMs: this.now(), count });
  }

  perSecond(): number {
    const now = this.now();
    while (this.samples.length > 0 && now - this.samples[0].atMs > this.windowMs) this.samples.shift();
    if (this.samples.length === 0) return 0;
    const spanMs = Math.max(1000, now - this.samples[0].atMs);
    return Math.round((this.samples.reduce((sum, s) => sum + s.count, 0) * 1000) / spanMs);
  }
}

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  let bar: SingleBar | undefined;
  let value = 0;
  const meter = new RateMeter();
  return {
    start(phase, total) {
      bar?.stop();
      value = 0;
      const format = total === undefined
        ? "{phase} | {value} events | {rate} events/s"
        : "{phase} [{bar}] {percentage}% | {value}/{total} events | {rate} events/s | eta {eta_formatted}";
      bar = new SingleBar({ format, stream, hideCursor: true, etaBuffer: 50, fps: 5 });
      bar.start(total ?? 0, 0, { phase, rate: 0 });
    },
    increment(events) {
      value += events;
      meter.add(events);
      bar?.update(value, { rate: meter.perSecond() });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
