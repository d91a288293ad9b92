/**
 * Expands what Grafana substitutes before a query reaches its datasource, so panel and alert SQL/LogQL can run
 * on chDB (and be parsed as LogQL) exactly as Grafana would send it.
 *
 * ClickHouse plugin v4 macros, as the plugin renders them (grafana/clickhouse-datasource pkg/macros/macros.go):
 *   $__timeFilter(col)   -> col >= toDateTime(<from s>) AND col <= toDateTime(<to s>)   (whole seconds, rounded down)
 *   $__timeFilter_ms(col) -> col >= fromUnixTimestamp64Milli(<from ms>) AND col <= fromUnixTimestamp64Milli(<to ms>)
 *   $__fromTime / $__toTime -> toDateTime(<from s>) / toDateTime(<to s>)
 *   $__fromTime_ms / $__toTime_ms -> fromUnixTimestamp64Milli(<from ms>) / fromUnixTimestamp64Milli(<to ms>)
 *   $__timeInterval(col) -> toStartOfInterval(toDateTime(col), INTERVAL <n> second)
 *   $__interval_s        -> <n>
 * Grafana's own: `$__interval` (a duration such as 60s), and dashboard variables as `$name`, `${name}` or
 * `${name:format}` with the formats singlequote, percentencode, regex, pipe and csv, formatted as Grafana's scenes
 * format registry does (singlequote escapes ' and nothing else: a backslash goes through as is). A variable at its
 * custom All value is `{ allValue }`: Grafana inserts it unformatted, except that percentencode encodes it. Anything
 * left that looks like a macro or a variable is an error, so a typo in a panel fails the test instead of reaching
 * ClickHouse.
 */
export interface GrafanaContext {
  readonly fromMs: number;
  readonly toMs: number;
  /** Panel interval in seconds. Defaults to 60. */
  readonly intervalSeconds?: number;
  /** Variable values: a string, an array (a multi-value selection), or `{ allValue }` (All picked, with a custom all value). */
  readonly variables?: Readonly<Record<string, VariableValue>>;
}

export type VariableValue = string | readonly string[] | { readonly allValue: string };

/** Grafana's encodeURIComponentStrict (RFC 3986: also !'()* encoded). */
const encodeStrict = (v: string) => encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const escapeRegex = (v: string) => v.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

function formatVariable(value: VariableValue, format: string | undefined, name: string): string {
  if (typeof value === "object" && "allValue" in value) return format === "percentencode" ? encodeStrict(value.allValue) : value.allValue;
  const multi = typeof value !== "string";
  const values: readonly string[] = typeof value === "string" ? [value] : value;
  switch (format) {
    case undefined:
    case "raw":
    case "csv":
      return values.join(",");
    case "singlequote":
      return values.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(",");
    case "percentencode":
      return encodeStrict(multi ? `{${values.join(",")}}` : values[0]);
    case "regex":
      return values.length === 1 ? values[0] : `(${values.map(escapeRegex).join("|")})`;
    case "pipe":
      return values.join("|");
    default:
      throw new Error(`variable ${name}: format ${format} is not supported by this expander`);
  }
}

export function expandVariables(text: string, ctx: GrafanaContext): string {
  const vars = ctx.variables ?? {};
  const interval = ctx.intervalSeconds ?? 60;
  const lookup = (name: string, format?: string): string => {
    if (name === "__interval") return `${interval}s`;
    const value = vars[name];
    if (value === undefined) throw new Error(`variable $${name} has no value in the test context`);
    return formatVariable(value, format, name);
  };
  return text
    .replace(/\$\{([A-Za-z0-9_]+)(?::([a-z]+))?\}/g, (_, name: string, format?: string) => lookup(name, format))
    .replace(/\$(__interval)(?![_A-Za-z0-9])/g, (_, name: string) => lookup(name))
    .replace(/\$(?!__)([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => lookup(name));
}

export function expandClickHouseMacros(sql: string, ctx: GrafanaContext): string {
  const from = Math.floor(ctx.fromMs / 1000);
  const to = Math.floor(ctx.toMs / 1000);
  const interval = ctx.intervalSeconds ?? 60;
  const expanded = sql
    .replace(/\$__timeFilter\(\s*([^)]+?)\s*\)/g, (_, col: string) => `${col} >= toDateTime(${from}) AND ${col} <= toDateTime(${to})`)
    .replace(/\$__timeFilter_ms\(\s*([^)]+?)\s*\)/g, (_, col: string) =>
      `${col} >= fromUnixTimestamp64Milli(${Math.floor(ctx.fromMs)}) AND ${col} <= fromUnixTimestamp64Milli(${Math.floor(ctx.toMs)})`)
    .replace(/\$__fromTime_ms(?![_A-Za-z0-9])/g, `fromUnixTimestamp64Milli(${Math.floor(ctx.fromMs)})`)
    .replace(/\$__toTime_ms(?![_A-Za-z0-9])/g, `fromUnixTimestamp64Milli(${Math.floor(ctx.toMs)})`)
    .replace(/\$__timeInterval\(\s*([^)]+?)\s*\)/g, (_, col: string) => `toStartOfInterval(toDateTime(${col}), INTERVAL ${interval} second)`)
    .replace(/\$__fromTime(?![_A-Za-z0-9])/g, `toDateTime(${from})`)
    .replace(/\$__toTime(?![_A-Za-z0-9])/g, `toDateTime(${to})`)
    .replace(/\$__interval_s(?![_A-Za-z0-9])/g, String(interval));
  const result = expandVariables(expanded, ctx);
  const left = result.match(/\$[_A-Za-z{][^\s,)]*/);
  if (left) throw new Error(`unexpanded macro or variable ${left[0]} in:\n${result}`);
  return result;
}

export function expandLogql(expr: string, ctx: GrafanaContext): string {
  const result = expandVariables(expr, ctx);
  const left = result.match(/\$[_A-Za-z{][^\s,)"]*/);
  if (left) throw new Error(`unexpanded variable ${left[0]} in: ${result}`);
  return result;
}
