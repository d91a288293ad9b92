/** `npm run simulate` flag rules, and the wire format: batches, message ids, app log lines. */
import { describe, expect, it } from "vitest";
import { epochMillis, normalizeLevel } from "../../components/log-pipeline";
import { MAX_BATCH_BYTES as INGEST_MAX_BATCH_BYTES, MAX_BATCH_EVENTS as INGEST_MAX_BATCH_EVENTS, MAX_EVENT_BYTES } from "../../ingest/src/event-schema";
import { parseSimulateArgs, redactUrl, USAGE } from "../../scripts/simulate/flags";
import { DAY_MS, HOUR_MS } from "../../scripts/simulate/model";
import { appLogLine, BatchPacker, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, toSegmentMessage } from "../../scripts/simulate/segment";

const NOW = Date.parse("2026-03-18T10:30:00Z");
const parse = (args: string[], env: Record<string, string> = {}) => parseSimulateArgs(args, env, NOW);
const errorsOf = (args: string[], env: Record<string, string> = {}) => {
  const result = parse(args, env);
  return result.kind === "error" ? result.errors : [];
};
const optionsOf = (args: string[], env: Record<string, string> = {}) => {
  const result = parse(args, env);
  if (result.kind !== "ok") throw new Error(`expected ok, got ${JSON.stringify(result)}`);
  return result.options;
};

describe("simulate flags", () => {
  it("defaults: a week of history up to now, seed 1, an incident yesterday at 14:00 UTC, target from stack dev", () => {
    const o = optionsOf([]);
    expect(o).toMatchObject({ days: 7, seed: 1, untilMs: NOW, signupsPerDay: 40, liveRate: 0, stack: "dev", appLogs: "auto", concurrency: 4, batchSize: 500, dryRun: false });
    expect(o.url).toBeUndefined();
    expect(o.incident).toEqual({ startMs: Date.parse("2026-03-17T14:00:00Z"), endMs: Date.parse("2026-03-17T15:30:00Z") });
  });

  it("reads the target from the environment, flags first", () => {
    expect(optionsOf([], { INGEST_URL: "http://127.0.0.1:8080", INGEST_WRITE_KEY: "k".repeat(40) })).toMatchObject({ url: "http://127.0.0.1:8080", writeKey: "k".repeat(40) });
    expect(optionsOf(["--url", "http://10.0.0.5:8380"], { INGEST_URL: "http://127.0.0.1:8080" }).url).toBe("http://10.0.0.5:8380");
  });

  it("takes an incident relative to --until, or none", () => {
    expect(optionsOf(["--until", "2026-03-01T00:00:00Z", "--incident-at", "6h", "--incident-minutes", "30"]).incident)
      .toEqual({ startMs: Date.parse("2026-02-28T18:00:00Z"), endMs: Date.parse("2026-02-28T18:30:00Z") });
    expect(optionsOf(["--incident-at", "none"]).incident).toBeUndefined();
  });

  it("lists every problem at once, naming the flag, the value and what is expected", () => {
    const errors = errorsOf(["--days=-3", "--seed", "x", "--signups-per-day", "0", "--app-logs", "loki", "--url", "ftp://x", "--concurrency", "99"]);
    expect(errors).toHaveLength(6);
    expect(errors[0]).toBe('--days: got "-3", expected a whole number from 0 to 365');
    expect(errors.join("\n")).toContain('--seed: got "x"');
    expect(errors.join("\n")).toContain("--signups-per-day");
    expect(errors.join("\n")).toContain('--app-logs: got "loki", expected stdout, docker or none');
    expect(errors.join("\n")).toContain("--url: got \"ftp://x\", expected the ingest's base URL");
    expect(errors.join("\n")).toContain("--concurrency");
  });

  it("rejects an unknown flag with a pointer to --help", () => {
    expect(errorsOf(["--dayz", "3"])).toEqual(["Unknown option '--dayz'. See --help for the options."]);
    expect(errorsOf(["--days", "-3"])[0]).toMatch(/^Option '--days' argument is ambiguous.*See --help/);
  });

  it("refuses a future --until, a malformed time, and an incident outside the simulated span", () => {
    expect(errorsOf(["--until", "2026-03-19T00:00:00Z"])[0]).toContain("is in the future");
    expect(errorsOf(["--until", "yesterday"])[0]).toContain("expected an ISO-8601 time with a zone");
    expect(errorsOf(["--days", "2", "--incident-at", "2026-01-01T00:00:00Z"])[0]).toContain("is outside the simulated time");
  });

  it("refuses combinations that cannot do anything sensible", () => {
    expect(errorsOf(["--days", "0"])[0]).toContain("sends nothing");
    expect(errorsOf(["--live-minutes", "5"])[0]).toContain("only applies with --live-rate");
    expect(errorsOf(["--dry-run", "--live-rate", "10"])[0]).toContain("cannot be combined");
    expect(errorsOf(["--incident-at", "none", "--incident-minutes", "5"])[0]).toContain("does not apply");
  });

  it("never echoes credentials: a URL with user:password is refused and shown redacted", () => {
    const errors = errorsOf(["--url", "http://admin:hunter2@127.0.0.1:8080"]);
    expect(errors[0]).toContain("no credentials in it");
    expect(errors[0]).not.toContain("hunter2");
    expect(redactUrl("http://a:b@h:1/x")).toBe("http://<redacted>@h:1/x");
    expect(errorsOf(["--write-key", "short"])[0]).not.toContain("short");
  });

  it("has help that lists every flag the parser knows", () => {
    expect(parse(["--help"]).kind).toBe("help");
    for (const flag of ["--days", "--seed", "--until", "--signups-per-day", "--visitors-per-signup", "--incident-at", "--incident-minutes",
      "--live-rate", "--live-minutes", "--url", "--write-key", "--stack", "--app-logs", "--concurrency", "--batch-size", "--dry-run", "--no-progress"]) {
      expect(USAGE).toContain(flag);
    }
  });
});

describe("Segment wire format", () => {
  const track = { kind: "track" as const, timeMs: Date.UTC(2026, 2, 1, 9), event: "report_created", userId: "user-000001", anonymousId: "anon-1", properties: { plan: "team" } };

  it("derives message ids from the seed and the call, so a rerun repeats them and another seed does not", () => {
    const a = toSegmentMessage(track, 1, 0);
    expect(a).toMatchObject({ type: "track", event: "report_created", userId: "user-000001", anonymousId: "anon-1", timestamp: "2026-03-01T09:00:00.000Z" });
    expect(a.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(toSegmentMessage(track, 1, 0).messageId).toBe(a.messageId);
    expect(toSegmentMessage(track, 2, 0).messageId).not.toBe(a.messageId);
    expect(toSegmentMessage(track, 1, 1).messageId).not.toBe(a.messageId);
    const alias = toSegmentMessage({ kind: "alias", timeMs: track.timeMs, userId: "user-000001", previousId: "anon-1" }, 1, 2);
    expect(alias).toMatchObject({ type: "alias", userId: "user-000001", previousId: "anon-1" });
    const broken = toSegmentMessage({ kind: "invalid", timeMs: track.timeMs, userId: "u", anonymousId: "a" }, 1, 3);
    expect(broken.type).toBe("track");
    expect(broken).not.toHaveProperty("event");
  });

  it("packs batches under the ingest's limits, in order, with broken calls in batches of their own", () => {
    expect(MAX_BATCH_EVENTS).toBeLessThanOrEqual(INGEST_MAX_BATCH_EVENTS);
    expect(MAX_BATCH_BYTES).toBeLessThan(INGEST_MAX_BATCH_BYTES);
    const packer = new BatchPacker(3, 10_000);
    for (let i = 0; i < 7; i++) packer.add(toSegmentMessage({ ...track, timeMs: track.timeMs + i }, 1, i), i === 4);
    packer.flush();
    const batches = packer.take();
    expect(batches.map((b) => [b.messages.length, b.invalid])).toEqual([[3, false], [1, true], [3, false]]);
    expect(batches.flatMap((b) => b.messages.map((m) => m.timestamp))).toHaveLength(7);

    const big = { ...track, properties: { blob: "x".repeat(3000) } };
    const bytesPacker = new BatchPacker(500, 8000);
    for (let i = 0; i < 5; i++) bytesPacker.add(toSegmentMessage(big, 1, i));
    bytesPacker.flush();
    const sized = bytesPacker.take();
    expect(sized.map((b) => b.messages.length)).toEqual([2, 2, 1]);
    for (const b of sized) expect(b.bytes).toBeLessThanOrEqual(8000);
    expect(Buffer.byteLength(JSON.stringify(toSegmentMessage(track, 1, 0)))).toBeLessThan(MAX_EVENT_BYTES);
  });

  it("writes app log lines the log shipper reads: its time, level and correlation fields", () => {
    const line = JSON.parse(appLogLine({ timeMs: Date.UTC(2026, 2, 17, 14, 5), level: "error", msg: "report generation failed", fields: { user_id: "user-000001", request_id: "req-1" } })) as Record<string, unknown>;
    expect(line).toEqual({ time: "2026-03-17T14:05:00.000Z", level: "error", service: "app", msg: "report generation failed", user_id: "user-000001", request_id: "req-1" });
    expect(epochMillis(line.time)).toBe(Date.UTC(2026, 2, 17, 14, 5));
    expect(normalizeLevel(line.level)).toBe("error");
    expect(normalizeLevel("warn")).toBe("warn");
  });

  it("defaults cover the whole backfill day span", () => {
    const o = optionsOf(["--days", "30", "--until", "2026-03-01T12:00:00Z"]);
    expect(o.untilMs - o.days * DAY_MS).toBe(Date.parse("2026-01-30T12:00:00Z"));
    expect(o.incident!.startMs).toBe(Date.parse("2026-02-28T00:00:00Z") + 14 * HOUR_MS);
  });
});
