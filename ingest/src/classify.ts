/**
 * Should a failed insert be retried, or does ClickHouse reject these rows for good?
 *
 * Only errors that describe the data are "drop": retrying the same bytes can never succeed, so the shipper
 * bisects the batch and dead-letters the rows ClickHouse refuses. Everything else is "retry": refused
 * connections, timeouts, 5xx without a code, overload (TOO_MANY_PARTS, MEMORY_LIMIT_EXCEEDED), and also
 * configuration errors such as a missing table or a wrong password, because dropping events over a deploy
 * mistake would lose data that an operator can still save by fixing the mistake. Unknown means retry.
 */

export type Decision = "retry" | "drop";

/** ClickHouse error codes that mean "these rows are invalid for this table". */
export const DATA_ERROR_CODES: ReadonlyMap<number, string> = new Map([
  [6, "CANNOT_PARSE_TEXT"],
  [26, "CANNOT_PARSE_QUOTED_STRING"],
  [27, "CANNOT_PARSE_INPUT_ASSERTION_FAILED"],
  [32, "ATTEMPT_TO_READ_AFTER_EOF"],
  [38, "CANNOT_PARSE_DATE"],
  [41, "CANNOT_PARSE_DATETIME"],
  [53, "TYPE_MISMATCH"],
  [69, "ARGUMENT_OUT_OF_BOUND"],
  [70, "CANNOT_CONVERT_TYPE"],
  [72, "CANNOT_PARSE_NUMBER"],
  [117, "INCORRECT_DATA"],
  [130, "CANNOT_READ_ARRAY_FROM_TEXT"],
  [131, "TOO_LARGE_STRING_SIZE"],
  [190, "SIZES_OF_ARRAYS_DONT_MATCH"],
  [321, "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE"],
  [349, "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN"],
  [469, "VIOLATED_CONSTRAINT"],
  [25, "CANNOT_PARSE_ESCAPE_SEQUENCE"],
  [467, "CANNOT_PARSE_BOOL"],
  [632, "UNEXPECTED_DATA_AFTER_PARSED_VALUE"],
]);

/** The numeric ClickHouse error code of an error from @clickhouse/client, if it has one. */
export function clickhouseErrorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^\d+$/.test(code)) return Number(code);
  if (typeof code === "number") return code;
  const m = /^Code: (\d+)\./.exec(String((error as Error | null)?.message ?? ""));
  return m ? Number(m[1]) : undefined;
}

export function classify(error: unknown): Decision {
  const code = clickhouseErrorCode(error);
  return code !== undefined && DATA_ERROR_CODES.has(code) ? "drop" : "retry";
}

/** Delay before retry number `attempt` (0-based): doubling from initialMs, capped at maxMs. */
export function retryDelayMs(attempt: number, initialMs = 100, maxMs = 5000): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
}
