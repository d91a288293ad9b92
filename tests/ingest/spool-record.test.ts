import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeSegment, encodeRecord, RECORD_HEADER_BYTES, RECORD_MAGIC, rowsByTable } from "../../ingest/src/spool-record";

const a = encodeRecord({ receivedAtMs: 1714572120000, fingerprints: Uint32Array.from([1, 2, 3, 4]), sections: [
  { table: "events", rows: 2, bytes: Buffer.from('{"e":1}\n{"e":2}\n') },
  { table: "identifies", rows: 1, bytes: Buffer.from('{"i":1}\n') },
] });
const b = encodeRecord({ receivedAtMs: 1714572121000, fingerprints: new Uint32Array(0), sections: [{ table: "events", rows: 1, bytes: Buffer.from('{"e":3}\n') }] });

describe("spool record format", () => {
  it("frames each record with magic, length and a crc32 of the payload", () => {
    expect(a.readUInt32LE(0)).toBe(RECORD_MAGIC);
    expect(a.readUInt32LE(4)).toBe(a.length - RECORD_HEADER_BYTES);
    expect(a.readUInt32LE(8)).toBe(crc32(a.subarray(RECORD_HEADER_BYTES)));
  });

  it("reads back what was written", () => {
    const { records, validBytes, tornBytes } = decodeSegment(Buffer.concat([a, b]));
    expect(validBytes).toBe(a.length + b.length);
    expect(tornBytes).toBe(0);
    expect(records[0].receivedAtMs).toBe(1714572120000);
    expect([...records[0].fingerprints]).toEqual([1, 2, 3, 4]);
    expect(records[0].sections.map((s) => [s.table, s.rows, s.bytes.toString()])).toEqual([["events", 2, '{"e":1}\n{"e":2}\n'], ["identifies", 1, '{"i":1}\n']]);
  });

  it("drops a torn tail record: every cut through the last record keeps exactly the records before it", () => {
    const whole = Buffer.concat([a, b]);
    for (let cut = a.length; cut < whole.length; cut++) {
      const { records, validBytes, tornBytes } = decodeSegment(whole.subarray(0, cut));
      expect(records).toHaveLength(1);
      expect(validBytes).toBe(a.length);
      expect(tornBytes).toBe(cut - a.length);
    }
  });

  it("detects a flipped bit by checksum and stops there", () => {
    const corrupt = Buffer.concat([a, b]);
    corrupt[a.length + RECORD_HEADER_BYTES + 20] ^= 0x01;
    expect(decodeSegment(corrupt).records).toHaveLength(1);
    const zeros = Buffer.concat([a, Buffer.alloc(4096)]);
    expect(decodeSegment(zeros)).toMatchObject({ validBytes: a.length, tornBytes: 4096 });
  });

  it("concatenates each table's rows across records in order", () => {
    const byTable = rowsByTable(decodeSegment(Buffer.concat([a, b])).records);
    expect([...byTable.keys()]).toEqual(["events", "identifies"]);
    const events = byTable.get("events");
    expect(events?.rows).toBe(3);
    expect(Buffer.concat(events?.chunks ?? []).toString()).toBe('{"e":1}\n{"e":2}\n{"e":3}\n');
  });

  it("writes sections given as lines, ASCII or not, byte for byte as their UTF-8 and refuses a wrong byteLength", () => {
    for (const lines of [['{"e":1}', '{"e":22}'], ['{"name":"Zoë"}', '{"s":"日本😀"}', '{"a":1}']]) {
      const byteLength = lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
      const record = encodeRecord({ receivedAtMs: 1, fingerprints: new Uint32Array(0), sections: [{ table: "events", rows: lines.length, lines, byteLength }] });
      const [decoded] = decodeSegment(record).records;
      expect(decoded.sections[0].bytes.toString("utf8")).toBe(`${lines.join("\n")}\n`);
      expect(() => encodeRecord({ receivedAtMs: 1, fingerprints: new Uint32Array(0), sections: [{ table: "events", rows: lines.length, lines, byteLength: byteLength + 1 }] })).toThrow(/byteLength/);
    }
  });
});
