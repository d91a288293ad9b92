import { describe, expect, it } from "vitest";
import { fingerprint, MessageIdIndex } from "../../ingest/src/message-id-index";

const HOUR = 3_600_000;

describe("message id index (24-hour idempotency)", () => {
  it("recognizes an id seen within the window and forgets it after", () => {
    const index = new MessageIdIndex({ windowMs: 24 * HOUR });
    const t0 = Date.UTC(2024, 0, 1);
    expect(index.seenBefore("m-1", t0)).toBe(false);
    expect(index.seenBefore("m-1", t0 + 23 * HOUR)).toBe(true);
    expect(index.seenBefore("m-2", t0 + 23 * HOUR)).toBe(false);
    expect(index.seenBefore("m-1", t0 + 26 * HOUR)).toBe(false);
  });

  it("holds a million distinct ids without a false match", () => {
    const index = new MessageIdIndex({ maxIds: 2_000_000 });
    const t = Date.now();
    let falseMatches = 0;
    for (let i = 0; i < 1_000_000; i++) if (index.seenBefore(`msg-${i}`, t)) falseMatches++;
    expect(falseMatches).toBe(0);
    expect(index.size).toBe(1_000_000);
    expect(index.seenBefore("msg-999999", t)).toBe(true);
  });

  it("stays within maxIds by forgetting the oldest slice early, and reports the shorter window", () => {
    const index = new MessageIdIndex({ windowMs: 24 * HOUR, maxIds: 1000, slices: 24 });
    const t0 = Date.UTC(2024, 0, 1);
    for (let h = 0; h < 5; h++) for (let i = 0; i < 400; i++) index.seenBefore(`h${h}-${i}`, t0 + h * HOUR);
    expect(index.size).toBeLessThanOrEqual(1000);
    expect(index.evictedEarly).toBeGreaterThan(0);
    expect(index.windowMs(t0 + 5 * HOUR)).toBeLessThan(24 * HOUR);
    expect(index.seenBefore("h4-1", t0 + 5 * HOUR)).toBe(true);
  });

  it("fingerprints are deterministic and never use the empty-slot marker", () => {
    const a = new Uint32Array(2);
    const b = new Uint32Array(2);
    fingerprint("same", a);
    fingerprint("same", b);
    expect([...a]).toEqual([...b]);
    fingerprint("other", b);
    expect([...a]).not.toEqual([...b]);
    expect(b[1]).not.toBe(0);
  });
});

describe("memory bound under sustained load", () => {
  it("never holds more than maxIds, even when every id arrives within one slice", () => {
    const index = new MessageIdIndex({ maxIds: 10_000 });
    const t = Date.UTC(2024, 0, 1);
    for (let i = 0; i < 100_000; i++) index.seenBefore(`burst-${i}`, t + Math.floor(i / 1000));
    expect(index.size).toBeLessThanOrEqual(10_000);
    expect(index.size).toBeGreaterThan(8_000);
    expect(index.seenBefore("burst-99999", t + 100)).toBe(true);
    expect(index.windowMs(t + 100)).toBeLessThan(24 * HOUR);
  });
});
