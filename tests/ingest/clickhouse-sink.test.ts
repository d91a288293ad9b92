import { describe, expect, it } from "vitest";
import { coalesceChunks } from "../../ingest/src/clickhouse-sink";

describe("coalescing insert chunks", () => {
  it("joins runs of small chunks to about the target size, keeps the bytes and their order, passes large chunks through", () => {
    const small = Array.from({ length: 1000 }, (_, i) => Buffer.from(`{"n":${i}}\n`));
    const large = Buffer.alloc(5000, 0x61);
    const chunks = [...small.slice(0, 500), large, ...small.slice(500)];
    const out = [...coalesceChunks(chunks, 1024)];
    expect(Buffer.concat(out).equals(Buffer.concat(chunks))).toBe(true);
    expect(out).toContain(large);
    expect(out.length).toBeLessThan(30);
    // Only the run cut short by the large chunk and the final run may be under the target.
    out.forEach((b, i) => {
      if (b !== large && out[i + 1] !== large && i !== out.length - 1) expect(b.length).toBeGreaterThanOrEqual(1024);
    });
    expect([...coalesceChunks([], 1024)]).toEqual([]);
    const [one] = [...coalesceChunks([small[0]], 1024)];
    expect(one).toBe(small[0]);
  });
});
