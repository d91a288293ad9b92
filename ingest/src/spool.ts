/**
 * The durable spool: where an accepted event lives until ClickHouse has it. A 2xx is sent only after the
 * request's record is fsync'd here, so a crash at any moment loses nothing that was acknowledged.
 *
 * On-disk layout (under `dir`, a Docker volume in production):
 *
 *   segments/<16-digit id>.seg   append-only files of records (spool-record.ts: length-prefixed, crc32-checked).
 *                                Ids only grow (max(last + 1, now in µs)), so name order is arrival order.
 *                                The newest file is the active segment; all others are sealed and immutable.
 *   seen/<ms>.ids                message-id fingerprints (hi u32, lo u32 pairs) of segments already shipped,
 *                                so the 24-hour idempotency index survives restarts. Bounded to `maxIds` ids.
 *
 * Invariants:
 * - Group commit: requests that arrive while a write is in flight are written together with one writev and one
 *   fdatasync; each request's promise resolves only after the fdatasync that covers its record. Durability
 *   costs one fsync per group, not per request. Groups start at most every `groupCommitIntervalMs`: under
 *   steady traffic a group would otherwise hold one or two requests, and each group's two thread-pool hand-offs
 *   and disk flush cost more CPU than the requests themselves (docs/benchmarks-ingest.md).
 * - A new segment's directory entry is fsync'd before any record in it is acknowledged.
 * - A segment is sealed when it holds `segmentMaxRows` rows or `segmentMaxBytes` bytes, or is `sealAfterMs`
 *   old. Sealed segments never change, so a shipper's batch (one sealed segment, one insert per table) and its
 *   insert_deduplication_token are the same on every replay.
 * - A segment is deleted only after ClickHouse acknowledged every table's insert of it, and after its
 *   fingerprints were appended to `seen/` and fsync'd.
 * - On open, every segment is read and checked; a torn tail (a write that never reached its fsync, so was never
 *   acknowledged) is truncated and counted; every segment found is sealed; a new active segment is started.
 * - A failed write or fsync makes the spool unavailable (503) until restart: after a failed fsync the page
 *   cache cannot be trusted, and the restart's recovery is the only safe way back.
 */
import { promises as fs, constants as fsConstants } from "node:fs";
import { join } from "node:path";
import { BatchBudget } from "./batch";
import { appendDurably } from "./durable-append";
import type { MessageIdIndex } from "./message-id-index";
import { decodeSegment, decodeSegmentAsync, type DecodedSegment, type SpoolRecord } from "./spool-record";

export interface SpoolOptions {
  readonly dir: string;
  /** Bytes the spool may hold (segments plus writes in flight) before it refuses with spool_full. */
  readonly maxBytes: number;
  /** Seal a segment at this many rows (the shipper's batch size). */
  readonly segmentMaxRows: number;
  /** Seal a segment at this many bytes. Defaults to 32 MiB. */
  readonly segmentMaxBytes?: number;
  /** Seal a non-empty segment this long after its first record. */
  readonly sealAfterMs: number;
  /**
   * Least time between the starts of two group commits; requests arriving meanwhile join the next group. Defaults
   * to 2: at 2,000 steady requests/s it cut the ingest's CPU per request from 367 to 205 µs (0 commits as soon as
   * the previous group is on disk).
   */
  readonly groupCommitIntervalMs?: number;
  /** Bytes waiting in memory for the next group commit before new requests are refused. Defaults to 64 MiB. */
  readonly maxPendingBytes?: number;
  readonly messageIds: MessageIdIndex;
  readonly now?: () => number;
}

export interface SegmentInfo {
  readonly id: string;
  readonly path: string;
  readonly bytes: number;
  readonly rows: number;
  /** Receive time of the segment's first record: the age of the oldest unshipped event. */
  readonly firstReceivedAtMs: number;
}

export interface RecoveryReport {
  readonly segments: number;
  readonly records: number;
  readonly rows: number;
  /** Segments whose tail was torn (truncated). */
  readonly tornTails: number;
  readonly tornBytes: number;
  readonly seenIdsLoaded: number;
}

export type RefusalCode = "spool_full" | "spool_unavailable" | "shutting_down";

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

interface ActiveSegment {
  readonly id: string;
  readonly path: string;
  readonly handle: fs.FileHandle;
  readonly budget: BatchBudget;
  firstReceivedAtMs: number;
}

const SEGMENT_RE = /^(\d{16})\.seg$/;
const SEEN_RE = /^(\d+)\.ids$/;
const HOUR_MS = 60 * 60 * 1000;

function rowsOf(record: SpoolRecord): number {
  let rows = 0;
  for (const s of record.sections) rows += s.rows;
  return rows;
}

export class Spool {
  private readonly segmentsDir: string;
  private readonly seenDir: string;
  private readonly now: () => number;
  private readonly sealed: SegmentInfo[] = [];
  private active: ActiveSegment | undefined;
  private lastId = 0;
  private sealedBytes = 0;
  private activeBytes = 0;
  private pending: Buffer[] = [];
  private pendingRows = 0;
  private pendingBytes = 0;
  private pendingFirstReceivedAtMs = 0;
  private waiters: Waiter[] = [];
  private writing = false;
  /** When the last group commit started (performance.now()), for groupCommitIntervalMs. */
  private lastGroupStartedMs = Number.NEGATIVE_INFINITY;
  private sealRequested = false;
  private sealTimer: NodeJS.Timeout | undefined;
  private brokenBy: Error | undefined;
  private closing = false;
  private readonly sealListeners: (() => void)[] = [];
  private seenFile: { path: string; startMs: number; bytes: number } | undefined;
  private seenFiles: { path: string; bytes: number }[] = [];
  /** Start (file name) of the newest seen/ file found at startup; new files are named after it. */
  private lastSeenStartMs = 0;

  private constructor(private readonly options: SpoolOptions, private readonly dirHandle: fs.FileHandle) {
    this.segmentsDir = join(options.dir, "segments");
    this.seenDir = join(options.dir, "seen");
    this.now = options.now ?? Date.now;
  }

  /** Opens the spool directory, recovering whatever a previous process left (see the invariants above). */
  static async open(options: SpoolOptions): Promise<{ spool: Spool; recovery: RecoveryReport }> {
    await fs.mkdir(join(options.dir, "segments"), { recursive: true });
    await fs.mkdir(join(options.dir, "seen"), { recursive: true });
    const dirHandle = await fs.open(join(options.dir, "segments"), fsConstants.O_RDONLY);
    const spool = new Spool(options, dirHandle);
    const recovery = await spool.recover();
    const interval = Math.max(5, Math.min(options.sealAfterMs, 250));
    spool.sealTimer = setInterval(() => spool.sealIfOld(), interval);
    spool.sealTimer.unref();
    return { spool, recovery };
  }

  private async recover(): Promise<RecoveryReport> {
    const seenIdsLoaded = await this.loadSeen();
    let records = 0;
    let rows = 0;
    let tornTails = 0;
    let tornBytes = 0;
    const names = (await fs.readdir(this.segmentsDir)).filter((n) => SEGMENT_RE.test(n)).sort();
    for (const name of names) {
      const path = join(this.segmentsDir, name);
      const decoded = decodeSegment(await fs.readFile(path));
      this.lastId = Math.max(this.lastId, Number(name.slice(0, 16)));
      if (decoded.tornBytes > 0) {
        tornTails++;
        tornBytes += decoded.tornBytes;
        const handle = await fs.open(path, "r+");
        await handle.truncate(decoded.validBytes);
        await handle.sync();
        await handle.close();
      }
      if (decoded.records.length === 0) {
        await fs.unlink(path);
        continue;
      }
      let segmentRows = 0;
      for (const record of decoded.records) {
        segmentRows += rowsOf(record);
        this.rememberFingerprints(record.fingerprints, record.receivedAtMs);
      }
      records += decoded.records.length;
      rows += segmentRows;
      this.sealed.push({ id: name.slice(0, 16), path, bytes: decoded.validBytes, rows: segmentRows, firstReceivedAtMs: decoded.records[0].receivedAtMs });
      this.sealedBytes += decoded.validBytes;
    }
    return { segments: this.sealed.length, records, rows, tornTails, tornBytes, seenIdsLoaded };
  }

  private rememberFingerprints(fingerprints: Uint32Array, atMs: number): void {
    const now = this.now();
    for (let i = 0; i < fingerprints.length; i += 2) this.options.messageIds.addFingerprint(fingerprints[i], fingerprints[i + 1], Math.min(atMs, now), now);
  }

  /** Loads persisted fingerprints, newest files first, up to the index's capacity and window. */
  private async loadSeen(): Promise<number> {
    const index = this.options.messageIds;
    const files = (await fs.readdir(this.seenDir)).filter((n) => SEEN_RE.test(n))
      .map((n) => ({ path: join(this.seenDir, n), startMs: Number(n.split(".")[0]) }))
      .sort((a, b) => a.startMs - b.startMs);
    this.lastSeenStartMs = files.at(-1)?.startMs ?? 0;
    const now = this.now();
    let loaded = 0;
    let budget = index.maxIds;
    const keep: { path: string; startMs: number; bytes: number; from: number }[] = [];
    // Newest files first choose what fits the budget (the newest ids win it)...
    for (const file of [...files].reverse()) {
      if (file.startMs + HOUR_MS <= now - index.maxWindowMs || budget <= 0) {
        await fs.unlink(file.path);
        continue;
      }
      const { size } = await fs.stat(file.path);
      const pairs = Math.floor(size / 8);
      const taken = Math.min(pairs, budget);
      budget -= taken;
      // Ids are appended in acceptance order: a file only partly in the budget keeps its newest (last) ids.
      keep.push({ ...file, bytes: size, from: pairs - taken });
    }
    keep.reverse();
    // ...then they go into the index oldest first, as they were accepted: its generations are in age order, and
    // when maxIds forces ids out early it drops the oldest generation (loaded newest first, that held the newest ids).
    for (const { path, startMs, bytes, from } of keep) {
      const data = await fs.readFile(path);
      // A file holds ids of segments that started within its hour; remember them to the end of that hour.
      const atMs = Math.min(now, startMs + HOUR_MS - 1);
      for (let i = from; i < Math.floor(Math.min(bytes, data.length) / 8); i++, loaded++) {
        index.addFingerprint(data.readUInt32LE(i * 8), data.readUInt32LE(i * 8 + 4), atMs, now);
      }
    }
    this.seenFiles = keep.map(({ path, bytes }) => ({ path, bytes }));
    return loaded;
  }

  /** Why a request of `bytes` would be refused now, or undefined when it can be accepted. */
  refusal(bytes: number): RefusalCode | undefined {
    if (this.brokenBy) return "spool_unavailable";
    if (this.closing) return "shutting_down";
    if (this.sealedBytes + this.activeBytes + this.pendingBytes + bytes > this.options.maxBytes) return "spool_full";
    if (this.pendingBytes + bytes > (this.options.maxPendingBytes ?? 64 * 1024 * 1024)) return "spool_full";
    return undefined;
  }

  /** Appends one encoded record; resolves once it is on disk (fdatasync'd). */
  append(record: Buffer, rows: number, receivedAtMs: number): Promise<void> {
    if (this.brokenBy) return Promise.reject(this.brokenBy);
    if (this.pending.length === 0) this.pendingFirstReceivedAtMs = receivedAtMs;
    this.pending.push(record);
    this.pendingRows += rows;
    this.pendingBytes += record.length;
    return this.barrier();
  }

  /** Resolves once everything appended so far is on disk. */
  barrier(): Promise<void> {
    if (this.brokenBy) return Promise.reject(this.brokenBy);
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (!this.writing) void this.writeLoop();
  }

  private async writeLoop(): Promise<void> {
    this.writing = true;
    try {
      while (this.waiters.length > 0 || this.sealRequested) {
        const wait = this.lastGroupStartedMs + (this.options.groupCommitIntervalMs ?? 2) - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        this.lastGroupStartedMs = performance.now();
        const buffers = this.pending;
        const rows = this.pendingRows;
        const bytes = this.pendingBytes;
        const firstReceivedAtMs = this.pendingFirstReceivedAtMs;
        const waiters = this.waiters;
        this.pending = [];
        this.pendingRows = 0;
        this.pendingBytes = 0;
        this.waiters = [];
        try {
          if (this.sealRequested) {
            this.sealRequested = false;
            await this.sealActive();
          }
          if (buffers.length > 0) {
            if (this.active && !this.active.budget.tryAdd(rows, bytes).ok) await this.sealActive();
            const active = this.active ?? (await this.startSegment(rows, bytes, firstReceivedAtMs));
            // A write can come back short without an error (disk full, a file size limit): libuv returns the bytes it
            // wrote. Acknowledging then would lose the record's tail, and every later record of the segment behind it.
            const { bytesWritten } = await active.handle.writev(buffers);
            if (bytesWritten !== bytes) throw new Error(`short write: ${bytesWritten} of ${bytes} bytes reached the segment file`);
            await active.handle.datasync();
            this.activeBytes += bytes;
          }
        } catch (error) {
          this.brokenBy = new Error(`spool write failed: ${(error as Error).message}`);
          for (const w of waiters) w.reject(this.brokenBy);
          for (const w of this.waiters) w.reject(this.brokenBy);
          this.waiters = [];
          return;
        }
        for (const w of waiters) w.resolve();
      }
    } finally {
      this.writing = false;
    }
  }

  private async startSegment(rows: number, bytes: number, firstReceivedAtMs: number): Promise<ActiveSegment> {
    this.lastId = Math.max(this.lastId + 1, this.now() * 1000);
    const id = String(this.lastId).padStart(16, "0");
    const path = join(this.segmentsDir, `${id}.seg`);
    const handle = await fs.open(path, "a");
    await this.dirHandle.sync();
    const budget = new BatchBudget({ maxItems: this.options.segmentMaxRows, maxBytes: this.options.segmentMaxBytes ?? 32 * 1024 * 1024 });
    budget.tryAdd(rows, bytes);
    this.active = { id, path, handle, budget, firstReceivedAtMs };
    this.activeBytes = 0;
    return this.active;
  }

  private async sealActive(): Promise<void> {
    const active = this.active;
    if (!active) return;
    this.active = undefined;
    await active.handle.close();
    this.sealed.push({ id: active.id, path: active.path, bytes: this.activeBytes, rows: active.budget.size, firstReceivedAtMs: active.firstReceivedAtMs });
    this.sealedBytes += this.activeBytes;
    this.activeBytes = 0;
    for (const listener of this.sealListeners) listener();
  }

  private sealIfOld(): void {
    if (this.active && this.now() - this.active.firstReceivedAtMs >= this.options.sealAfterMs) this.requestSeal();
  }

  private requestSeal(): void {
    if (!this.active || this.brokenBy) return;
    this.sealRequested = true;
    this.kick();
  }

  /** Seals the active segment (used at shutdown so the shipper can send everything). */
  async sealNow(): Promise<void> {
    if (this.active) this.sealRequested = true;
    // The write loop seals before it resolves the waiters of the same round.
    await this.barrier();
  }

  /** Called after each seal; the shipper wakes up on it. */
  onSealed(listener: () => void): void {
    this.sealListeners.push(listener);
  }

  /** Sealed segments, oldest first. */
  sealedSegments(): readonly SegmentInfo[] {
    return this.sealed;
  }

  async readSegment(segment: SegmentInfo): Promise<DecodedSegment> {
    return decodeSegmentAsync(await fs.readFile(segment.path));
  }

  /**
   * ClickHouse has every row of `segment`: persist its message-id fingerprints for the idempotency window, then
   * delete it. A crash between the two leaves the segment to be shipped again, which the dedup token absorbs.
   */
  async complete(segment: SegmentInfo, records: readonly SpoolRecord[]): Promise<void> {
    let count = 0;
    for (const r of records) count += r.fingerprints.length;
    if (count > 0) {
      const data = Buffer.allocUnsafe(count * 4);
      let o = 0;
      for (const r of records) for (let i = 0; i < r.fingerprints.length; i++) o = data.writeUInt32LE(r.fingerprints[i], o);
      await this.appendSeen(data, segment.firstReceivedAtMs);
    }
    await fs.unlink(segment.path);
    const at = this.sealed.indexOf(segment);
    if (at >= 0) this.sealed.splice(at, 1);
    this.sealedBytes -= segment.bytes;
  }

  private async appendSeen(data: Buffer, atMs: number): Promise<void> {
    const index = this.options.messageIds;
    const fileLimit = Math.max(8, Math.floor((index.maxIds * 8) / 4));
    const hourStart = atMs - (atMs % HOUR_MS);
    if (!this.seenFile || this.seenFile.startMs < hourStart || this.seenFile.bytes >= fileLimit) {
      // After the newest file found at startup too: a name already on disk would mix new ids into an older file
      // (listed twice), and pruning that file would delete them with it.
      const startMs = Math.max(hourStart, (this.seenFile?.startMs ?? this.lastSeenStartMs) + 1);
      this.seenFile = { path: join(this.seenDir, `${startMs}.ids`), startMs, bytes: 0 };
      this.seenFiles.push({ path: this.seenFile.path, bytes: 0 });
    }
    await appendDurably(this.seenFile.path, data);
    this.seenFile.bytes += data.length;
    this.seenFiles[this.seenFiles.length - 1].bytes = this.seenFile.bytes;
    // Keep at most maxIds fingerprints on disk (plus the file being written), oldest files go first.
    let total = this.seenFiles.reduce((n, f) => n + f.bytes, 0);
    while (this.seenFiles.length > 1 && total - this.seenFiles[0].bytes >= index.maxIds * 8) {
      const oldest = this.seenFiles.shift() as { path: string; bytes: number };
      total -= oldest.bytes;
      await fs.unlink(oldest.path);
    }
  }

  /** Bytes held: sealed and active segments plus records waiting for the next fsync. */
  get bytes(): number {
    return this.sealedBytes + this.activeBytes + this.pendingBytes;
  }

  /** Share of maxBytes held. */
  get fillRatio(): number {
    return this.bytes / this.options.maxBytes;
  }

  /** Rows not yet acknowledged by ClickHouse (sealed plus active segments). */
  get rows(): number {
    let rows = this.active?.budget.size ?? 0;
    for (const s of this.sealed) rows += s.rows;
    return rows;
  }

  /** Receive time of the oldest event not yet in ClickHouse, or undefined when the spool is empty. */
  get oldestReceivedAtMs(): number | undefined {
    return this.sealed[0]?.firstReceivedAtMs ?? this.active?.firstReceivedAtMs;
  }

  get writable(): boolean {
    return this.brokenBy === undefined && !this.closing;
  }

  /** Stops accepting (new requests get shutting_down); writes already queued still complete. */
  stopAccepting(): void {
    this.closing = true;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.sealTimer) clearInterval(this.sealTimer);
    // A broken spool already rejected (and the caller logged) every waiting request; nothing is left to flush.
    if (!this.brokenBy) await this.barrier();
    if (this.active) {
      await this.active.handle.close();
      this.active = undefined;
    }
    await this.dirHandle.close();
  }
}
