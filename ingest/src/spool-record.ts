/**
 * The byte layout of one spool record (one accepted request), and the reader that finds where a segment's valid
 * records end. Pure: no file IO, so the format is tested byte by byte.
 *
 *   record  = magic u32 "SPL1" | payloadLength u32 | crc32(payload) u32 | payload          (little-endian)
 *   payload = receivedAtMs f64
 *           | fingerprintCount u32 | fingerprintCount x (hi u32, lo u32)     message ids, for idempotency
 *           | sectionCount u8 | sectionCount x (tableIndex u8 | rowCount u32 | byteLength u32 | JSONEachRow bytes)
 *
 * A section's bytes are complete JSONEachRow lines (each ends in "\n"), so the shipper concatenates the
 * sections of one table across records without parsing a row.
 *
 * The reader stops at the first record whose header or checksum is wrong: that is a torn tail (the process died
 * between write and fsync, so the request was never acknowledged) and everything from there is dropped.
 */
import { crc32 } from "node:zlib";
import { TABLES, type Table } from "./normalize-events";

export const RECORD_MAGIC = 0x314c5053; // "SPL1" read as a little-endian u32
export const RECORD_HEADER_BYTES = 12;
/** A record larger than this is a corrupt length, not data (a request is at most 500 KB). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

export interface RecordSection {
  readonly table: Table;
  readonly rows: number;
  readonly bytes: Buffer;
}

/**
 * A section to encode given as its JSONEachRow lines (without newlines) and their total UTF-8 size including one
 * newline each: encodeRecord writes them straight into the record, with no joined string or interim buffer.
 */
export interface LineSection {
  readonly table: Table;
  readonly rows: number;
  readonly lines: readonly string[];
  readonly byteLength: number;
}

export interface SpoolRecord {
  readonly receivedAtMs: number;
  /** Pairs of (hi, lo) message-id fingerprints. */
  readonly fingerprints: Uint32Array;
  readonly sections: readonly RecordSection[];
}

function sectionBytes(s: RecordSection | LineSection): number {
  return "lines" in s ? s.byteLength : s.bytes.length;
}

/** Buffer's own string writers (what write(string, offset, encoding) dispatches to, without its argument checks). */
interface LineWriters {
  latin1Write(text: string, offset: number): number;
  utf8Write(text: string, offset: number): number;
}

export function encodeRecord(record: { readonly receivedAtMs: number; readonly fingerprints: Uint32Array; readonly sections: readonly (RecordSection | LineSection)[] }): Buffer {
  let payloadBytes = 8 + 4 + record.fingerprints.length * 4 + 1;
  for (const s of record.sections) payloadBytes += 9 + sectionBytes(s);
  const buf = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payloadBytes);
  let o = RECORD_HEADER_BYTES;
  o = buf.writeDoubleLE(record.receivedAtMs, o);
  o = buf.writeUInt32LE(record.fingerprints.length / 2, o);
  for (let i = 0; i < record.fingerprints.length; i++) o = buf.writeUInt32LE(record.fingerprints[i], o);
  o = buf.writeUInt8(record.sections.length, o);
  for (const s of record.sections) {
    o = buf.writeUInt8(TABLES.indexOf(s.table), o);
    o = buf.writeUInt32LE(s.rows, o);
    const length = sectionBytes(s);
    o = buf.writeUInt32LE(length, o);
    if ("lines" in s) {
      const end = o + length;
      // Lines whose UTF-8 size equals their length are ASCII: written as Latin-1, a plain copy without encoding.
      let chars = s.lines.length;
      for (const line of s.lines) chars += line.length;
      const writer = buf as unknown as LineWriters;
      for (const line of s.lines) {
        o += chars === length ? writer.latin1Write(line, o) : writer.utf8Write(line, o);
        buf[o++] = 0x0a;
      }
      // A byteLength that disagrees with the lines would corrupt the record: refuse rather than write it.
      if (o !== end) throw new Error(`section byteLength ${length} does not match its lines`);
    } else {
      o += s.bytes.copy(buf, o);
    }
  }
  buf.writeUInt32LE(RECORD_MAGIC, 0);
  buf.writeUInt32LE(payloadBytes, 4);
  buf.writeUInt32LE(crc32(buf.subarray(RECORD_HEADER_BYTES)), 8);
  return buf;
}

export interface DecodedSegment {
  readonly records: SpoolRecord[];
  /** Bytes from the start that hold whole, checksummed records. */
  readonly validBytes: number;
  /** Bytes after them (a torn or corrupt tail), to be truncated. */
  readonly tornBytes: number;
}

function decodePayload(p: Buffer): SpoolRecord | undefined {
  let o = 0;
  const receivedAtMs = p.readDoubleLE(o); o += 8;
  const count = p.readUInt32LE(o); o += 4;
  if (o + count * 8 + 1 > p.length) return undefined;
  const fingerprints = new Uint32Array(count * 2);
  for (let i = 0; i < count * 2; i++, o += 4) fingerprints[i] = p.readUInt32LE(o);
  const sectionCount = p.readUInt8(o); o += 1;
  const sections: RecordSection[] = [];
  for (let s = 0; s < sectionCount; s++) {
    if (o + 9 > p.length) return undefined;
    const table = TABLES[p.readUInt8(o)];
    const rows = p.readUInt32LE(o + 1);
    const length = p.readUInt32LE(o + 5);
    o += 9;
    if (!table || o + length > p.length) return undefined;
    sections.push({ table, rows, bytes: p.subarray(o, o + length) });
    o += length;
  }
  return o === p.length ? { receivedAtMs, fingerprints, sections } : undefined;
}

/** Walks a segment record by record; returns where the valid records end. Shared by both decoders below. */
function* walkSegment(data: Buffer): Generator<SpoolRecord, number> {
  let o = 0;
  while (o + RECORD_HEADER_BYTES <= data.length) {
    if (data.readUInt32LE(o) !== RECORD_MAGIC) break;
    const length = data.readUInt32LE(o + 4);
    if (length < 13 || length > MAX_RECORD_BYTES || o + RECORD_HEADER_BYTES + length > data.length) break;
    const payload = data.subarray(o + RECORD_HEADER_BYTES, o + RECORD_HEADER_BYTES + length);
    if (crc32(payload) !== data.readUInt32LE(o + 8)) break;
    const record = decodePayload(payload);
    if (!record) break;
    yield record;
    o += RECORD_HEADER_BYTES + length;
  }
  return o;
}

/** Reads records from the start of a segment until the end or the first invalid record. */
export function decodeSegment(data: Buffer): DecodedSegment {
  const records: SpoolRecord[] = [];
  const walk = walkSegment(data);
  for (let step = walk.next(); ; step = walk.next()) {
    if (step.done) return { records, validBytes: step.value, tornBytes: data.length - step.value };
    records.push(step.value);
  }
}

/**
 * The same, yielding to the event loop about every `sliceBytes` checksummed, so the shipper's read of a large
 * segment never stalls the requests being served meanwhile (128 KB is well under a millisecond of work, also for
 * segments of thousands of small single-event records).
 */
export async function decodeSegmentAsync(data: Buffer, sliceBytes = 128 * 1024): Promise<DecodedSegment> {
  const records: SpoolRecord[] = [];
  const walk = walkSegment(data);
  let sinceYield = 0;
  for (let step = walk.next(); ; step = walk.next()) {
    if (step.done) return { records, validBytes: step.value, tornBytes: data.length - step.value };
    records.push(step.value);
    for (const s of step.value.sections) sinceYield += s.bytes.length;
    if (sinceYield >= sliceBytes) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}

/**
 * Each table's rows across records, in record order: one insert body per table, as the list of section buffers
 * (slices of the segment; concatenating 15 MB only to send it would double the shipper's memory).
 */
export function rowsByTable(records: readonly SpoolRecord[]): Map<Table, { rows: number; chunks: Buffer[] }> {
  const parts = new Map<Table, { rows: number; chunks: Buffer[] }>();
  for (const record of records) {
    for (const s of record.sections) {
      const entry = parts.get(s.table) ?? { rows: 0, chunks: [] };
      entry.rows += s.rows;
      entry.chunks.push(s.bytes);
      parts.set(s.table, entry);
    }
  }
  const out = new Map<Table, { rows: number; chunks: Buffer[] }>();
  for (const table of TABLES) {
    const entry = parts.get(table);
    if (entry) out.set(table, entry);
  }
  return out;
}
