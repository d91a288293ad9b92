/**
 * Turns a request body into a JavaScript value, refusing what a plain `JSON.parse` would let through:
 * - bytes that are not UTF-8 (a decoder would silently turn them into U+FFFD and we would store garbage);
 * - nesting deeper than `maxDepth` (checked on the bytes before parsing, so a 500 KB `[[[[...` costs one linear
 *   scan and never reaches a recursive serializer or ClickHouse's JSON type);
 * - `__proto__` and `constructor.prototype` keys (prototype poisoning), via secure-json-parse;
 * - `\ud800`-style escapes that decode to a lone UTF-16 surrogate: valid JSON, but not text, and ClickHouse's
 *   JSON type rejects it (the row would end in the dead-letter table after we had said 200).
 * Each refusal is an `IngestError` with a 400 status and the byte offset where the problem is.
 */
import { isUtf8 } from "node:buffer";
import sjson from "secure-json-parse";
import { IngestError } from "./errors";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** Byte offset where nesting first exceeds `maxDepth`, or -1. Brackets inside strings do not count. */
export function findExcessiveNesting(body: Buffer, maxDepth: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      if (++depth > maxDepth) return i;
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
    }
  }
  return -1;
}

/** Only bodies with a surrogate escape need the full walk; the common case costs one regex test. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Path of the first string (or key) that is not well-formed UTF-16, or undefined. Iterative: depth is bounded already, but a stack is cheap. */
export function findLoneSurrogate(value: unknown): string | undefined {
  const stack: [unknown, string][] = [[value, "body"]];
  while (stack.length > 0) {
    const [v, path] = stack.pop() as [unknown, string];
    if (typeof v === "string") {
      if (LONE_SURROGATE.test(v)) return path;
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push([item, `${path}[${i}]`]));
    } else if (v !== null && typeof v === "object") {
      for (const [key, item] of Object.entries(v)) {
        if (LONE_SURROGATE.test(key)) return `${path} (a key)`;
        stack.push([item, `${path}.${key}`]);
      }
    }
  }
  return undefined;
}

export function parseJsonBody(body: Buffer, maxDepth: number): unknown {
  if (!isUtf8(body)) {
    throw new IngestError("invalid_utf8", [{ field: "body", problem: "contains bytes that are not valid UTF-8; encode text as UTF-8" }]);
  }
  const deepAt = findExcessiveNesting(body, maxDepth);
  if (deepAt >= 0) {
    throw new IngestError("too_deep", [{ field: "body", problem: `nesting exceeds ${maxDepth} levels at byte ${deepAt}; flatten properties and traits` }]);
  }
  const text = body.toString("utf8");
  // A key can only decode to "__proto__" or "constructor" if the text holds that word or a \u escape, so a body
  // with neither goes to JSON.parse alone and skips secure-json-parse's two regex scans; the rest get the full check.
  const hasEscape = text.includes("\\u");
  const plain = !hasEscape && !text.includes("__proto__") && !text.includes("constructor");
  let value: unknown;
  try {
    value = plain ? JSON.parse(text) : sjson.parse(text, undefined, { protoAction: "error", constructorAction: "error" });
  } catch (error) {
    const message = (error as Error).message;
    if (/prototype/i.test(message)) {
      throw new IngestError("forbidden_key", [{ field: "body", problem: "uses __proto__ or constructor.prototype as a key; rename the key" }]);
    }
    throw new IngestError("malformed_json", [{ field: "body", problem: `${message}; send one JSON object` }]);
  }
  if (hasEscape && SURROGATE_ESCAPE.test(text)) {
    const path = findLoneSurrogate(value);
    if (path) throw new IngestError("invalid_utf8", [{ field: path, problem: "contains a \\u escape of a lone UTF-16 surrogate, which is not text; send valid Unicode" }]);
  }
  return value;
}
