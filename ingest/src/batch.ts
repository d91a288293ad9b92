/**
 * A bounded batch that says why it refuses an item instead of throwing: the request parser uses it to enforce
 * Segment's per-event and per-batch limits, and the spool uses it to decide when a segment is full and must be
 * sealed (a sealed segment is what the shipper sends to ClickHouse as one insert per table).
 */

export interface BatchLimits {
  /** Items a batch may hold. */
  readonly maxItems: number;
  /** Total bytes a batch may hold. */
  readonly maxBytes: number;
  /** Bytes one item may have. Defaults to maxBytes. */
  readonly maxItemBytes?: number;
}

export type TryAddResult = { readonly ok: true } | { readonly ok: false; readonly reason: "item_too_large" | "full_items" | "full_bytes" };

/** Counts only: for batches whose items live elsewhere (a spool segment's records are on disk). */
export class BatchBudget {
  private itemCount = 0;
  private byteCount = 0;

  constructor(private readonly limits: BatchLimits) {}

  /** Takes `items` items of `bytes` bytes in total, or says why not. An empty batch takes any group that is not itself too large, so nothing is refused forever. */
  tryAdd(items: number, bytes: number): TryAddResult {
    if (items === 1 && bytes > (this.limits.maxItemBytes ?? this.limits.maxBytes)) return { ok: false, reason: "item_too_large" };
    if (this.itemCount > 0 && this.itemCount + items > this.limits.maxItems) return { ok: false, reason: "full_items" };
    if (this.itemCount > 0 && this.byteCount + bytes > this.limits.maxBytes) return { ok: false, reason: "full_bytes" };
    this.itemCount += items;
    this.byteCount += bytes;
    return { ok: true };
  }

  get size(): number {
    return this.itemCount;
  }

  get bytes(): number {
    return this.byteCount;
  }
}

/** A batch that keeps its items (the rows of one request). */
export class Batch<T> {
  private readonly list: T[] = [];
  private readonly budget: BatchBudget;

  constructor(limits: BatchLimits) {
    this.budget = new BatchBudget(limits);
  }

  tryAdd(item: T, bytes: number): TryAddResult {
    const result = this.budget.tryAdd(1, bytes);
    if (result.ok) this.list.push(item);
    return result;
  }

  get items(): readonly T[] {
    return this.list;
  }

  get bytes(): number {
    return this.budget.bytes;
  }

  get size(): number {
    return this.list.length;
  }
}
