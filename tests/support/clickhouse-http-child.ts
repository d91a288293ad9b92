/**
 * Child process behind `startClickHouseHttp` (clickhouse-http-server.ts): serves one chDB session over the subset
 * of ClickHouse's HTTP interface that `@clickhouse/client` uses, so the ingest service talks to the real engine
 * through its real client code path, and a test can stop and restart "ClickHouse" to simulate an outage.
 *
 * What it implements (and why each part is needed):
 * - `GET /ping`, `GET /` without a query: the client's ping and our readiness check.
 * - `INSERT INTO <table> [(<columns>)] FORMAT <fmt>` with the data in the body: handed to chDB's raw insert
 *   (zero-copy, the engine parses it) with the URL's settings as per-insert settings, so
 *   `insert_deduplication_token` applies to exactly this insert.
 * - any other statement: run on the session; settings from the URL are SET before and restored after, because
 *   a chDB session keeps SETs across queries while ClickHouse applies URL settings to one query only.
 * - `param_<name>` query parameters, as ClickHouse's HTTP text form.
 * - errors as ClickHouse sends them: `Code: N. DB::Exception: ...` with `X-ClickHouse-Exception-Code`.
 * - optional credentials (`CH_HTTP_USER`/`CH_HTTP_PASSWORD`): wrong ones get AUTHENTICATION_FAILED (516).
 *
 * chDB runs one statement at a time per session, so all engine work is serialized on one promise chain.
 * Environment: CH_HTTP_DATA_DIR (required), CH_HTTP_PORT (0 = any free port). Reports its port over IPC.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { Session } from "chdb";

const dataDir = process.env.CH_HTTP_DATA_DIR;
if (!dataDir) throw new Error("CH_HTTP_DATA_DIR is required");
const requestedPort = Number(process.env.CH_HTTP_PORT ?? "0");
const expectedUser = process.env.CH_HTTP_USER;
const expectedPassword = process.env.CH_HTTP_PASSWORD ?? "";

const session = new Session(dataDir);
const version = session.query("SELECT version()", "TSVRaw").trim();

/** URL parameters that belong to the HTTP layer, not to the engine's settings. */
const HTTP_PARAMS = new Set([
  "query", "database", "default_format", "query_id", "user", "password", "session_id", "session_timeout",
  "session_check", "compress", "decompress", "role", "wait_end_of_query", "enable_http_compression",
  "send_progress_in_http_headers", "http_headers_progress_interval_ms", "http_zlib_compression_level",
  "buffer_size", "http_response_buffer_size",
]);
const INSERT_FORMATS = new Set(["JSONEachRow", "JSONCompactEachRow", "CSV", "CSVWithNames", "TSV", "TabSeparated",
  "TSVWithNames", "TabSeparatedWithNames"]);
const INSERT_RE = /^\s*INSERT\s+INTO\s+([A-Za-z0-9_.`"]+)\s*(?:\(([^)]*)\))?\s*FORMAT\s+([A-Za-z]+)\s*$/i;
const FORMAT_RE = /\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$/i;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

class ClickHouseHttpError extends Error {
  constructor(readonly code: number, message: string, readonly status = 500) {
    super(message);
  }
}

let chain: Promise<unknown> = Promise.resolve();
/** Serializes engine work: settings and `USE` are session state. */
function serial<T>(work: () => Promise<T>): Promise<T> {
  const next = chain.then(work, work);
  chain = next.then(() => undefined, () => undefined);
  return next;
}

/** A SQL literal for a SET statement; numbers stay numbers so numeric settings parse. */
function literal(value: string): string {
  return /^-?\d+(\.\d+)?$/.test(value) ? value : `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

function errorCode(error: unknown): number {
  const e = error as { clickhouseCode?: number; message?: string };
  if (typeof e?.clickhouseCode === "number") return e.clickhouseCode;
  const m = /Code: (\d+)/.exec(String(e?.message ?? error));
  return m ? Number(m[1]) : 1001;
}

function sendError(res: ServerResponse, error: unknown, queryId: string): void {
  const code = error instanceof ClickHouseHttpError ? error.code : errorCode(error);
  let message = String((error as Error)?.message ?? error).replace(/^Query failed: /, "");
  if (!/^Code: \d+/.test(message)) message = `Code: ${code}. DB::Exception: ${message}`;
  res.writeHead(error instanceof ClickHouseHttpError ? error.status : 500, {
    "Content-Type": "text/plain; charset=UTF-8",
    "X-ClickHouse-Exception-Code": String(code),
    "X-ClickHouse-Query-Id": queryId,
  });
  res.end(`${message} (version ${version})\n`);
}

function checkCredentials(req: IncomingMessage, params: URLSearchParams): void {
  if (expectedUser === undefined) return;
  let user = (req.headers["x-clickhouse-user"] as string | undefined) ?? params.get("user") ?? "default";
  let password = (req.headers["x-clickhouse-key"] as string | undefined) ?? params.get("password") ?? "";
  const auth = req.headers.authorization;
  if (auth?.startsWith("Basic ")) {
    const decoded = Buffer.from(auth.slice(6), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    user = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (user !== expectedUser || password !== expectedPassword) {
    throw new ClickHouseHttpError(516, `Code: 516. DB::Exception: ${user}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)`, 401);
  }
}

function summaryHeader(readRows: number, readBytes: number, writtenRows: number, writtenBytes: number, resultBytes: number, startedNs: bigint): string {
  return JSON.stringify({
    read_rows: String(readRows), read_bytes: String(readBytes), written_rows: String(writtenRows),
    written_bytes: String(writtenBytes), total_rows_to_read: "0", result_rows: String(readRows),
    result_bytes: String(resultBytes), elapsed_ns: String(process.hrtime.bigint() - startedNs),
  });
}

async function runInsert(table: string, columns: string | undefined, format: string, body: Buffer,
  settings: Record<string, string>, queryId: string, res: ServerResponse): Promise<void> {
  if (!INSERT_FORMATS.has(format)) throw new ClickHouseHttpError(73, `Code: 73. DB::Exception: Unknown format ${format}. (UNKNOWN_FORMAT)`, 400);
  const startedNs = process.hrtime.bigint();
  const summary = await serial(() => session.insert({
    table: table.replace(/[`"]/g, ""),
    values: body,
    format: format as "JSONEachRow",
    columns: columns ? columns.split(",").map((c) => c.trim().replace(/[`"]/g, "")) : undefined,
    settings,
  }));
  res.writeHead(200, {
    "Content-Type": "text/plain; charset=UTF-8",
    "X-ClickHouse-Query-Id": queryId,
    "X-ClickHouse-Summary": summaryHeader(summary.rowsSent ?? 0, body.length, summary.rowsWritten, summary.bytesWritten, 0, startedNs),
  });
  res.end();
}

async function runQuery(sql: string, params: URLSearchParams, settings: Record<string, string>,
  queryParams: [string, string][], req: IncomingMessage, queryId: string, res: ServerResponse): Promise<void> {
  const defaultFormat = params.get("default_format") ?? "TabSeparated";
  const isInsert = /^\s*INSERT\b/i.test(sql);
  const outputFormat = !isInsert ? FORMAT_RE.exec(sql)?.[1] ?? defaultFormat : defaultFormat;
  const database = params.get("database");
  if (database && !NAME_RE.test(database)) throw new ClickHouseHttpError(81, `Code: 81. DB::Exception: Database ${database} does not exist. (UNKNOWN_DATABASE)`, 404);
  const startedNs = process.hrtime.bigint();
  const out = await serial(async () => {
    const saved: [string, string][] = [];
    try {
      for (const [name, value] of Object.entries(settings)) {
        const before = await session.queryBindAsync("SELECT toString(getSetting({name:String}))", { name }, { format: "TSVRaw" });
        saved.push([name, before.text().trim()]);
        await session.queryAsync(`SET ${name} = ${literal(value)}`);
      }
      if (database) await session.queryAsync(`USE ${database}`);
      // The HTTP text form of a parameter is what ClickHouse parses; SET param_x gives the engine the same text.
      for (const [name, value] of queryParams) {
        await session.queryAsync(`SET ${name} = '${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`);
      }
      const result = await session.queryAsync(sql, { format: defaultFormat });
      return { bytes: Buffer.from(result.bytes()), rowsRead: result.rowsRead, bytesRead: result.bytesRead };
    } finally {
      for (const [name, value] of saved) {
        await session.queryAsync(`SET ${name} = ${literal(value)}`).catch((e: unknown) => {
          process.stderr.write(`clickhouse-http-child: could not restore setting ${name}: ${String(e)}\n`);
        });
      }
      if (database) await session.queryAsync("USE default");
    }
  });
  const headers: Record<string, string> = {
    "Content-Type": /JSON/.test(outputFormat) ? "application/json; charset=UTF-8" : "text/tab-separated-values; charset=UTF-8",
    "X-ClickHouse-Format": outputFormat,
    "X-ClickHouse-Query-Id": queryId,
    "X-ClickHouse-Summary": summaryHeader(out.rowsRead, out.bytesRead, 0, 0, out.bytes.length, startedNs),
    "X-ClickHouse-Server-Display-Name": "chdb-http",
    "X-ClickHouse-Timezone": "UTC",
  };
  const gzip = params.get("enable_http_compression") === "1" && /gzip/.test(String(req.headers["accept-encoding"] ?? ""));
  if (gzip) headers["Content-Encoding"] = "gzip";
  res.writeHead(200, headers);
  res.end(gzip ? gzipSync(out.bytes) : out.bytes);
}

async function handle(req: IncomingMessage, res: ServerResponse, rawBody: Buffer): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const params = url.searchParams;
  const queryId = params.get("query_id") ?? randomUUID();
  try {
    if (url.pathname === "/ping" || (url.pathname === "/" && req.method === "GET" && !params.has("query"))) {
      res.writeHead(200, { "Content-Type": "text/html; charset=UTF-8" });
      res.end("Ok.\n");
      return;
    }
    if (url.pathname !== "/") {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("Not found\n");
      return;
    }
    checkCredentials(req, params);
    const body = req.headers["content-encoding"] === "gzip" ? gunzipSync(rawBody) : rawBody;
    const settings: Record<string, string> = {};
    const queryParams: [string, string][] = [];
    for (const [name, value] of params) {
      if (name.startsWith("param_")) {
        if (!NAME_RE.test(name)) throw new ClickHouseHttpError(36, `Code: 36. DB::Exception: Bad parameter name ${name}. (BAD_ARGUMENTS)`, 400);
        queryParams.push([name, value]);
      } else if (!HTTP_PARAMS.has(name)) {
        if (!NAME_RE.test(name)) throw new ClickHouseHttpError(115, `Code: 115. DB::Exception: Unknown setting ${name}. (UNKNOWN_SETTING)`, 400);
        settings[name] = value;
      }
    }
    const queryText = params.get("query");
    const insert = queryText && body.length > 0 ? INSERT_RE.exec(queryText) : null;
    if (insert) {
      await runInsert(insert[1], insert[2], insert[3], body, settings, queryId, res);
      return;
    }
    // ClickHouse's rule: the statement is the `query` parameter followed by the body.
    const sql = queryText ? (body.length > 0 ? `${queryText}\n${body.toString("utf8")}` : queryText) : body.toString("utf8");
    await runQuery(sql, params, settings, queryParams, req, queryId, res);
  } catch (error) {
    sendError(res, error, queryId);
  }
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    void handle(req, res, Buffer.concat(chunks));
  });
});
server.keepAliveTimeout = 30_000;
server.listen(requestedPort, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : requestedPort;
  process.send?.({ ready: true, port, version });
});

function shutdown(): void {
  server.close();
  server.closeAllConnections();
  void chain.finally(() => {
    session.close();
    process.exit(0);
  });
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
process.on("disconnect", shutdown);
