/**
 * Request bodies sent with `Content-Encoding: gzip`, as Segment's HTTP API takes them (analytics-python's `gzip`
 * option, other SDKs and proxies compress batches). The body is decompressed as a stream before it is parsed, so
 * Fastify's body limits (32 KB per event, 500 KB per batch) apply to the decompressed bytes: a small "zip bomb"
 * is refused with 413 after reading at most the limit, never inflated in memory.
 */
import { createGunzip } from "node:zlib";
import { PassThrough, type Readable } from "node:stream";
import { IngestError } from "./errors";

/** The encodings a body may have: undefined for none or identity, "gzip", or "unsupported". */
export function bodyEncoding(header: string | undefined): "gzip" | "unsupported" | undefined {
  const encoding = header?.trim().toLowerCase();
  if (encoding === undefined || encoding === "" || encoding === "identity") return undefined;
  return encoding === "gzip" || encoding === "x-gzip" ? "gzip" : "unsupported";
}

/**
 * The decompressed body. `receivedEncodedLength` counts the bytes received, which Fastify checks against
 * Content-Length; corrupt gzip ends the stream with an `invalid_gzip` IngestError.
 */
export function gunzipBody(payload: Readable): PassThrough & { receivedEncodedLength: number } {
  const out = Object.assign(new PassThrough(), { receivedEncodedLength: 0 });
  const gunzip = createGunzip();
  payload.on("data", (chunk: Buffer) => { out.receivedEncodedLength += chunk.length; });
  payload.on("error", (error) => out.destroy(error));
  gunzip.on("error", (error) => {
    out.destroy(new IngestError("invalid_gzip", [{ field: "body", problem: `is sent with Content-Encoding gzip but does not decompress (${error.message}); send valid gzip or no Content-Encoding` }]));
  });
  payload.pipe(gunzip).pipe(out);
  return out;
}
