/**
 * Values ClickHouse's JSON column type refuses although they are valid JSON, found before a request is
 * acknowledged: once a row is spooled and ClickHouse refuses it, it can only be dead-lettered (the event never
 * reaches its table). Pure. Two such values exist (checked against the engine in tests/ingest/review-*.test.ts):
 * - an integer outside Int64/UInt64 that JSON.stringify writes in plain digits (|n| < 1e21): ClickHouse infers an
 *   integer and fails to parse it (code 117);
 * - the same path twice in one object once keys are split at dots: `{"a.b": 1, "a": {"b": 2}}` (code 117,
 *   "Duplicate path found during parsing JSON object"). Objects inside arrays are objects of their own.
 */

export interface JsonColumnProblem {
  /** Where, from the field name given: `properties.items[2]`. */
  readonly field: string;
  readonly problem: string;
}

/** JSON.stringify writes integers below this magnitude in plain digits (above it, with an exponent: a float). */
const PLAIN_DIGITS_LIMIT = 1e21;
const UINT64_END = 2 ** 64;
/** -(2^63) itself prints as -9223372036854776000, below Int64's minimum once parsed. */
const INT64_START = -(2 ** 63);

export function integerOutOfRange(n: number): boolean {
  return Number.isInteger(n) && Math.abs(n) < PLAIN_DIGITS_LIMIT && (n >= UINT64_END || n <= INT64_START);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Whether anything below `v` could be refused: a key with a dot or an out-of-range integer. Allocates nothing. */
function suspicious(v: unknown): boolean {
  if (typeof v === "number") return integerOutOfRange(v);
  if (Array.isArray(v)) {
    for (const item of v) if (suspicious(item)) return true;
    return false;
  }
  if (isObject(v)) {
    for (const key in v) {
      if (key.includes(".") || suspicious(v[key])) return true;
    }
  }
  return false;
}

/** The first path of `root` (keys split at dots, nested objects flattened) that occurs twice, or undefined. */
function duplicatePath(root: Record<string, unknown>): string | undefined {
  const seen = new Set<string>();
  const walk = (obj: Record<string, unknown>, prefix: string): string | undefined => {
    for (const key of Object.keys(obj)) {
      const path = prefix === "" ? key : `${prefix}.${key}`;
      const value = obj[key];
      if (isObject(value)) {
        const found = walk(value, path);
        if (found !== undefined) return found;
      } else if (value !== null) {
        if (seen.has(path)) return path;
        seen.add(path);
      }
    }
    return undefined;
  };
  return walk(root, "");
}

/** The first value under `value` that ClickHouse's JSON type would refuse, named from `field`, or undefined. */
export function jsonColumnProblem(value: unknown, field: string): JsonColumnProblem | undefined {
  if (!suspicious(value)) return undefined;
  const visit = (v: unknown, path: string, root: boolean): JsonColumnProblem | undefined => {
    if (typeof v === "number") {
      return integerOutOfRange(v)
        ? { field: path, problem: `is an integer outside ClickHouse's range (-9223372036854775807 to 18446744073709551615); send it as a string` }
        : undefined;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const found = visit(v[i], `${path}[${i}]`, true);
        if (found) return found;
      }
      return undefined;
    }
    if (!isObject(v)) return undefined;
    if (root) {
      const duplicate = duplicatePath(v);
      if (duplicate !== undefined) {
        return { field: path, problem: `holds the path "${duplicate}" twice once keys are split at dots (a key with dots and a nested object); rename one of them` };
      }
    }
    for (const key of Object.keys(v)) {
      const found = visit(v[key], `${path}.${key}`, false);
      if (found) return found;
    }
    return undefined;
  };
  return visit(value, field, true);
}
