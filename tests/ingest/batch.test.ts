import { describe, expect, it } from "vitest";
import { Batch, BatchBudget } from "../../ingest/src/batch";

describe("tryAdd", () => {
  it("refuses an item over the item limit, then a full batch, with the reason", () => {
    const batch = new Batch<string>({ maxItems: 2, maxBytes: 100, maxItemBytes: 40 });
    expect(batch.tryAdd("big", 41)).toEqual({ ok: false, reason: "item_too_large" });
    expect(batch.tryAdd("a", 40)).toEqual({ ok: true });
    expect(batch.tryAdd("b", 40)).toEqual({ ok: true });
    expect(batch.tryAdd("c", 1)).toEqual({ ok: false, reason: "full_items" });
    expect(batch.items).toEqual(["a", "b"]);
    expect(batch.bytes).toBe(80);
  });

  it("stops at the byte limit but always takes a first group, so nothing waits forever", () => {
    const budget = new BatchBudget({ maxItems: 1000, maxBytes: 100 });
    expect(budget.tryAdd(10, 500)).toEqual({ ok: true });
    expect(budget.tryAdd(1, 1)).toEqual({ ok: false, reason: "full_bytes" });
    const second = new BatchBudget({ maxItems: 10, maxBytes: 1000 });
    expect(second.tryAdd(8, 10)).toEqual({ ok: true });
    expect(second.tryAdd(3, 10)).toEqual({ ok: false, reason: "full_items" });
    expect(second.size).toBe(8);
  });
});
