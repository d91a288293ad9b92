import { describe, expect, it } from "vitest";
import { classify, clickhouseErrorCode, retryDelayMs } from "../../ingest/src/classify";

describe("retry classification", () => {
  it("drops (dead-letters) rows ClickHouse cannot parse or that violate a constraint", () => {
    expect(classify({ code: "117", type: "INCORRECT_DATA", message: "Cannot parse JSON object here" })).toBe("drop");
    expect(classify({ code: "27", message: "Cannot parse input" })).toBe("drop");
    expect(classify({ code: "469", type: "VIOLATED_CONSTRAINT" })).toBe("drop");
    expect(classify(new Error("Code: 41. DB::Exception: Cannot read DateTime"))).toBe("drop");
  });

  it("retries outages, overload and configuration errors: dropping would lose events an operator can save", () => {
    expect(classify(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8123"), { code: "ECONNREFUSED" }))).toBe("retry");
    expect(classify(new Error("Timeout error."))).toBe("retry");
    expect(classify({ code: "252", type: "TOO_MANY_PARTS" })).toBe("retry");
    expect(classify({ code: "241", type: "MEMORY_LIMIT_EXCEEDED" })).toBe("retry");
    expect(classify({ code: "60", type: "UNKNOWN_TABLE" })).toBe("retry");
    expect(classify({ code: "516", type: "AUTHENTICATION_FAILED" })).toBe("retry");
    expect(classify(undefined)).toBe("retry");
  });

  it("reads the code from client errors and from message text", () => {
    expect(clickhouseErrorCode({ code: "60" })).toBe(60);
    expect(clickhouseErrorCode(new Error("Code: 516. DB::Exception: bad password"))).toBe(516);
    expect(clickhouseErrorCode({ code: "ECONNRESET" })).toBeUndefined();
  });

  it("backs off exponentially up to a cap", () => {
    expect([0, 1, 2, 3, 10, 100].map((a) => retryDelayMs(a, 100, 5000))).toEqual([100, 200, 400, 800, 5000, 5000]);
  });
});
