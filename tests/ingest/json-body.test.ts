import { describe, expect, it } from "vitest";
import { IngestError } from "../../ingest/src/errors";
import { findExcessiveNesting, parseJsonBody } from "../../ingest/src/json-body";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof IngestError ? error.code : `not an IngestError: ${String(error)}`;
  }
}

describe("JSON body parsing", () => {
  it("parses ordinary JSON, brackets inside strings do not count as nesting", () => {
    expect(parseJsonBody(Buffer.from('{"a":"[[[[{{{{","b":[1,{"c":2}]}'), 3)).toEqual({ a: "[[[[{{{{", b: [1, { c: 2 }] });
    expect(findExcessiveNesting(Buffer.from('{"a":"\\"[[[["}'), 1)).toBe(-1);
  });

  it("refuses nesting deeper than allowed before parsing, at the byte where it happens", () => {
    const deep = Buffer.from(`${"[".repeat(100_000)}${"]".repeat(100_000)}`);
    expect(findExcessiveNesting(deep, 32)).toBe(32);
    expect(codeOf(() => parseJsonBody(deep, 32))).toBe("too_deep");
  });

  it("refuses bytes that are not UTF-8 and escapes that decode to a lone surrogate", () => {
    expect(codeOf(() => parseJsonBody(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 32))).toBe("invalid_utf8");
    expect(codeOf(() => parseJsonBody(Buffer.from('{"a":{"b":"x\\ud800y"}}'), 32))).toBe("invalid_utf8");
    expect(parseJsonBody(Buffer.from('{"a":"\\ud83d\\ude00"}'), 32)).toEqual({ a: "😀" });
  });

  it("refuses prototype-poisoning keys", () => {
    expect(codeOf(() => parseJsonBody(Buffer.from('{"properties":{"__proto__":{"admin":true}}}'), 32))).toBe("forbidden_key");
    expect(codeOf(() => parseJsonBody(Buffer.from('{"constructor":{"prototype":{"admin":true}}}'), 32))).toBe("forbidden_key");
    // Spelled with \u escapes, so the words never appear literally in the bytes.
    expect(codeOf(() => parseJsonBody(Buffer.from('{"properties":{"\\u005f_proto__":{"admin":true}}}'), 32))).toBe("forbidden_key");
    expect(codeOf(() => parseJsonBody(Buffer.from('{"\\u0063onstructor":{"prototype":{"admin":true}}}'), 32))).toBe("forbidden_key");
    expect(parseJsonBody(Buffer.from('{"properties":{"proto":1,"constructs":2}}'), 32)).toEqual({ properties: { proto: 1, constructs: 2 } });
  });

  it("reports truncated and otherwise malformed JSON as malformed_json", () => {
    expect(codeOf(() => parseJsonBody(Buffer.from('{"userId":"u1","event":"A'), 32))).toBe("malformed_json");
    expect(codeOf(() => parseJsonBody(Buffer.from(""), 32))).toBe("malformed_json");
    expect(codeOf(() => parseJsonBody(Buffer.from("{'single':'quotes'}"), 32))).toBe("malformed_json");
  });
});
