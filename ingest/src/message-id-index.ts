/**
 * Which message ids were accepted recently, for Segment's idempotency rule: an event re-sent with the same
 * `messageId` within the window (24 hours) is stored once.
 *
 * Memory is bounded: ids are kept as 64-bit fingerprints (two independent 32-bit string hashes; a false match
 * between two different ids is about 1 in 10^12 per event with 2 million ids held) in open-addressing tables,
 * one per time slice (generation). Expired slices are dropped whole. When `maxIds` is reached, the oldest slice
 * is dropped early: the effective window shrinks (reported by `windowMs()` and the dedup-window metric) rather
 * than memory growing without bound. The spool persists fingerprints so the index survives a restart.
 */

/** Two 32-bit hashes of a string (cyrb53's mixing, both lanes kept). Written into `out` to avoid allocation. */
export function fingerprint(id: string, out: Uint32Array, at = 0): void {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  out[at] = h1 >>> 0;
  // (0, 0) marks an empty slot, so a fingerprint never has a zero low word.
  out[at + 1] = (h2 >>> 0) || 1;
}

/** Open-addressing set of (hi, lo) pairs; grows at half load. */
class FingerprintTable {
  private keys: Uint32Array;
  private mask: number;
  size = 0;

  constructor(initialSlots = 1024) {
    this.keys = new Uint32Array(initialSlots * 2);
    this.mask = initialSlots - 1;
  }

  private slot(hi: number, lo: number): number {
    let i = (hi ^ Math.imul(lo, 0x9e3779b1)) & this.mask;
    for (;;) {
      const k = i * 2;
      if ((this.keys[k] === hi && this.keys[k + 1] === lo) || this.keys[k + 1] === 0) return i;
      i = (i + 1) & this.mask;
    }
  }

  has(hi: number, lo: number): boolean {
    return this.keys[this.slot(hi, lo) * 2 + 1] !== 0;
  }

  /** Adds the pair; returns false when it was already there. */
  add(hi: number, lo: number): boolean {
    const k = this.slot(hi, lo) * 2;
    if (this.keys[k + 1] !== 0) return false;
    this.keys[k] = hi;
    this.keys[k + 1] = lo;
    if (++this.size * 2 > this.mask + 1) this.grow();
    return true;
  }

  private grow(): void {
    const old = this.keys;
    this.keys = new Uint32Array(old.length * 2);
    this.mask = old.length - 1;
    for (let k = 0; k < old.length; k += 2) {
      if (old[k + 1] !== 0) {
        const j = this.slot(old[k], old[k + 1]) * 2;
        this.keys[j] = old[k];
        this.keys[j + 1] = old[k + 1];
      }
    }
  }
}

export interface MessageIdIndexOptions {
  /** How long an id is remembered. Defaults to 24 hours. */
  readonly windowMs?: number;
  /** Most ids held; beyond it the oldest slice is forgotten early. Defaults to 2,000,000. */
  readonly maxIds?: number;
  /** Slices per window. Defaults to 24. */
  readonly slices?: number;
}

interface Generation {
  readonly startMs: number;
  readonly table: FingerprintTable;
}

export class MessageIdIndex {
  readonly maxWindowMs: number;
  readonly maxIds: number;
  private readonly sliceMs: number;
  private readonly maxPerGeneration: number;
  private generations: Generation[] = [];
  private held = 0;
  /** Ids forgotten before their window ended because maxIds was reached. */
  evictedEarly = 0;
  private readonly scratch = new Uint32Array(2);

  constructor(options: MessageIdIndexOptions = {}) {
    this.maxWindowMs = options.windowMs ?? 24 * 60 * 60 * 1000;
    this.maxIds = options.maxIds ?? 2_000_000;
    this.sliceMs = Math.max(1, Math.floor(this.maxWindowMs / (options.slices ?? 24)));
    this.maxPerGeneration = Math.max(1, Math.ceil(this.maxIds / 8));
  }

  /** Ids held (kept as a running count: it is checked on every add). */
  get size(): number {
    return this.held;
  }

  /** The span the index currently remembers (shorter than the window when maxIds forced early eviction). */
  windowMs(nowMs: number): number {
    const oldest = this.generations[0];
    if (!oldest || this.evictedEarly === 0) return this.maxWindowMs;
    return Math.min(this.maxWindowMs, nowMs - oldest.startMs);
  }

  /** True when the fingerprint was seen within the window ending at `nowMs`. */
  hasFingerprint(hi: number, lo: number, nowMs: number): boolean {
    this.expire(nowMs);
    for (let g = this.generations.length - 1; g >= 0; g--) if (this.generations[g].table.has(hi, lo)) return true;
    return false;
  }

  /** Remembers a fingerprint as seen at `atMs` (which may be in the past, when loading persisted ids). */
  addFingerprint(hi: number, lo: number, atMs: number, nowMs = atMs): void {
    this.expire(nowMs);
    if (atMs <= nowMs - this.maxWindowMs) return;
    if (this.generationFor(atMs).table.add(hi, lo)) this.held++;
    while (this.held > this.maxIds && this.generations.length > 1) {
      const dropped = this.generations.shift() as Generation;
      this.held -= dropped.table.size;
      this.evictedEarly += dropped.table.size;
    }
  }

  /** True when `id` was seen within the window; otherwise remembers it and returns false. */
  seenBefore(id: string, nowMs: number): boolean {
    fingerprint(id, this.scratch);
    const hi = this.scratch[0];
    const lo = this.scratch[1];
    if (this.hasFingerprint(hi, lo, nowMs)) return true;
    this.addFingerprint(hi, lo, nowMs, nowMs);
    return false;
  }

  private expire(nowMs: number): void {
    while (this.generations.length > 0 && this.generations[0].startMs + this.sliceMs <= nowMs - this.maxWindowMs) {
      this.held -= (this.generations.shift() as Generation).table.size;
    }
  }

  /**
   * The generation new ids go to: the newest one while `atMs` is inside its slice and it holds fewer than
   * maxIds/8 ids; otherwise a new one starting at `atMs`. Splitting full slices is what lets maxIds evict whole
   * generations even when every id arrived within one slice (sustained load). Ids older than the newest
   * generation (loaded at startup) join it: they are remembered a little longer, never shorter.
   */
  private generationFor(atMs: number): Generation {
    const newest = this.generations[this.generations.length - 1];
    if (newest && atMs < newest.startMs + this.sliceMs && newest.table.size < this.maxPerGeneration) return newest;
    const created = { startMs: newest ? Math.max(atMs, newest.startMs) : atMs, table: new FingerprintTable() };
    this.generations.push(created);
    return created;
  }
}
