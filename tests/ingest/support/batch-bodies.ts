/**
 * A seeded generator of batch request bodies for the fast-path tests: SDK-shaped batches (what JSON.stringify of a
 * Segment batch gives), reformatted ones (valid JSON with other bytes), near-valid ones (one rule or limit broken)
 * and hostile byte mutations. Seeded so a failing case reproduces from its number.
 */
import { prng } from "../../support/dataset";

/** Seeded random numbers in [0, 1) (mulberry32, from the test dataset). */
export const random = prng;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export class Gen {
  constructor(readonly rnd: () => number) {}
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  text(max = 12): string {
    const alphabets = ["abcdefghij", "ABC xyz_-", "éü日本😀", '"\\/\n\t\r\b\f', "\u007f\u2028<>&'"];
    let s = "";
    const n = this.int(max + 1);
    for (let i = 0; i < n; i++) s += this.pick([...this.pick(alphabets)]);
    return s;
  }

  number(): number {
    return this.pick([
      () => this.int(1000),
      () => -this.int(1000),
      () => 0,
      () => Math.round(this.rnd() * 1e6) / 100,
      // Large integers ClickHouse's JSON type takes (up to 2^64; beyond it ingest refuses them), and exponent forms.
      () => this.rnd() * 1e19,
      () => 1e21 + this.rnd() * 1e22,
      () => 2 ** 53 + this.int(10),
      () => 1e-7 * this.int(100),
      () => -0.5,
    ])();
  }

  value(depth: number): Json {
    const kinds = depth > 3 ? 4 : 6;
    switch (this.int(kinds)) {
      case 0: return this.text();
      case 1: return this.number();
      case 2: return this.pick([true, false, null]);
      case 3: return this.text(3);
      case 4: return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
      default: return this.object(depth + 1);
    }
  }

  object(depth: number): { [key: string]: Json } {
    const out: { [key: string]: Json } = {};
    const n = this.int(5);
    for (let i = 0; i < n; i++) out[this.chance(0.1) ? String(this.int(20)) : this.chance(0.7) ? this.pick(["plan", "path", "n", "price", "tags", "nested"]) : this.text(6)] = this.value(depth);
    return out;
  }

  time(): string {
    const base = Date.UTC(2024, 4, 1, 13, 0, 0) + this.int(7200_000);
    return this.pick([
      () => new Date(base).toISOString(),
      () => new Date(base).toISOString().replace(".000Z", "Z").replace(/\.\d{3}Z$/, "Z"),
      () => new Date(base).toISOString().replace("Z", "+02:00"),
      () => new Date(base).toISOString().slice(0, 16).replace("T", " "),
      () => new Date(base + 3 * 86_400_000).toISOString(),
    ])();
  }

  /** An event the slow path accepts (in any of Segment's and the simple shape's spellings). */
  event(): Record<string, Json> {
    const type = this.pick(["track", "track", "track", "page", "screen", "identify", "group", "alias", "simple"]);
    const e: Record<string, Json> = {};
    const id = () => (this.chance(0.2) ? this.int(100_000) : `user-${this.text(6)}x`);
    if (type === "simple") {
      e.user_id = id();
      e.event_name = `name ${this.text(5)}`;
    } else {
      e.type = type;
      if (this.chance(0.8)) e[this.chance(0.8) ? "userId" : "user_id"] = id();
      if (this.chance(0.4) || e.userId === undefined && e.user_id === undefined) e[this.chance(0.8) ? "anonymousId" : "anonymous_id"] = id();
      if (type === "alias") {
        e.userId = id();
        e.previousId = id();
      }
      if (type === "track") e[this.chance(0.9) ? "event" : "event_name"] = `Signed ${this.text(6)}!`;
      if ((type === "page" || type === "screen") && this.chance(0.7)) e.name = this.text(8);
      if (type === "group") e.groupId = id();
    }
    if (this.chance(0.8)) e[this.chance(0.9) ? "messageId" : "message_id"] = `m-${this.text(10)}-${this.int(1e9)}`;
    if (this.chance(0.7)) e.timestamp = this.time();
    else if (this.chance(0.3)) e.originalTimestamp = this.time();
    if (this.chance(0.3)) e.sentAt = this.time();
    if (this.chance(0.8)) e.properties = this.object(4);
    if (this.chance(0.3)) e.traits = this.object(4);
    if (this.chance(0.6)) e.context = { library: { name: "analytics-node", version: "2.1.0" }, ip: "1.2.3.4", ...this.object(4) };
    if (this.chance(0.2)) e.integrations = { All: true, Mixpanel: false };
    if (this.chance(0.1)) e._metadata = { bundled: ["Segment.io"], unbundled: [] };
    if (this.chance(0.1)) e.writeKey = "event-level-key";
    if (type === "track" && this.chance(0.1)) e.category = "ignored for track";
    return e;
  }

  batch(): Record<string, Json> {
    const body: Record<string, Json> = { batch: Array.from({ length: 1 + this.int(12) }, () => this.event()) };
    if (this.chance(0.5)) body.sentAt = this.time();
    if (this.chance(0.3)) body.writeKey = this.pick(["bench-write-key", 'key"with\\escapes']);
    if (this.chance(0.2)) body.context = { library: { name: "x" } };
    if (this.chance(0.1)) body.metadata = [1, "two", null];
    return body;
  }

  /**
   * Valid JSON whose bytes JSON.stringify would not write: whitespace, `\/`, numbers in other notations, keys
   * repeated (the earlier value loses), escaped ASCII characters. The parsed value is what `value` holds, except
   * for repeated keys, which JSON.parse resolves.
   */
  reformat(value: Json): string {
    const ws = () => (this.chance(0.2) ? this.pick([" ", "\n", "\t", "\r\n  "]) : "");
    if (value === null || typeof value === "boolean") return String(value);
    if (typeof value === "number") {
      if (!this.chance(0.3)) return JSON.stringify(value);
      return this.pick([() => value.toExponential(), () => (Number.isInteger(value) ? `${value}.0` : `${value}0`), () => `${value}E+0`, () => String(value)])();
    }
    if (typeof value === "string") {
      let s = JSON.stringify(value);
      if (this.chance(0.3)) s = s.replace(/\//g, "\\/");
      return s;
    }
    if (Array.isArray(value)) return `[${ws()}${value.map((v) => this.reformat(v)).join(`${ws()},${ws()}`)}${ws()}]`;
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      if (this.chance(0.05)) parts.push(`${JSON.stringify(k)}${ws()}:${ws()}${this.reformat(this.value(4))}`);
      parts.push(`${JSON.stringify(k)}${ws()}:${ws()}${this.reformat(v)}`);
    }
    return `{${ws()}${parts.join(`${ws()},${ws()}`)}${ws()}}`;
  }

  /** A valid batch with one thing wrong that the schema or the rules refuse. */
  nearValid(): Record<string, Json> {
    const body = this.batch();
    const events = body.batch as Record<string, Json>[];
    const e = this.pick(events);
    this.pick([
      () => { delete e.userId; delete e.user_id; delete e.anonymousId; delete e.anonymous_id; },
      () => { e.type = "launch"; },
      () => { e.type = "track"; delete e.event; delete e.event_name; },
      () => { e.type = "track"; e.event = ""; },
      () => { e.type = "group"; delete e.groupId; },
      () => { e.type = "alias"; delete e.previousId; },
      () => { e.timestamp = this.pick(["last tuesday", "2024-02-30T10:00:00.000Z", "1960-01-01T00:00:00.000Z", ""]); },
      () => { delete e.timestamp; e.originalTimestamp = "not a time"; },
      () => { e.sentAt = "2024-13-01T00:00:00.000Z"; },
      () => { delete e.sentAt; body.sentAt = "yesterday"; },
      () => { e.properties = this.pick<Json>([[1, 2], "string", null, 5]); },
      () => { e.context = null; },
      () => { e.userId = this.pick<Json>([true, null, ["u"], { id: 1 }]); },
      () => { e.messageId = this.pick<Json>(["", 5, "m".repeat(257)]); },
      () => { e.event = "e".repeat(1025); e.type = "track"; },
      () => { e.timestamp = `${"2024-05-01T14:02:00.000"}${"0".repeat(60)}Z`; },
      () => { e.properties = { blob: "x".repeat(33_000) }; },
      () => { e.type = "page"; e.category = "Docs"; },
      () => { e.type = "track"; e.event = "a"; e.userId = 1e400; delete e.anonymousId; delete e.anonymous_id; },
      () => { body.writeKey = 12345; },
      () => { body.batch = "not a list"; },
      () => { delete body.batch; body.events = events; },
      () => { body.sentAt = "x".repeat(70); },
      () => { body.batch = Array.from({ length: 2501 }, () => ({ type: "track", userId: "u", event: "e" })); },
      () => { (events as Json[]).push(this.pick<Json>([null, 1, "event", []])); },
    ])();
    return body;
  }

  /** Bytes a client or an attacker might send: damaged, oversized, escaped or nested beyond the limit. */
  hostile(): Buffer {
    const text = JSON.stringify(this.batch());
    return this.pick([
      () => Buffer.from(text.slice(0, this.int(text.length))),
      () => {
        const b = Buffer.from(text);
        for (let k = 0; k < 1 + this.int(3); k++) b[this.int(b.length)] = this.pick([0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x20, 0x00, 0x0a, 0x30, 0x2d, 0xff, 0xc3, 0x65]);
        return b;
      },
      () => Buffer.from(text.replace('"userId"', '"user\\u0049d"').replace('"event"', '"\\u0065vent"')),
      () => Buffer.from(text.replace('"properties":{', '"properties":{"__proto__":{"admin":true},')),
      () => Buffer.from(text.replace('"properties":{', '"properties":{"constructor":{"prototype":{"admin":true}},')),
      () => Buffer.from(text.replace('"properties":{', `"properties":{"deep":${"[".repeat(30 + this.int(10))}${"]".repeat(30 + this.int(10))},`)),
      () => Buffer.from(text.replace('"properties":{', '"properties":{"lone":"\\ud800",')),
      () => Buffer.concat([Buffer.from(text.slice(0, 20)), Buffer.from([0xc3, 0x28]), Buffer.from(text.slice(20))]),
      () => Buffer.from(`\ufeff${text}`),
      () => Buffer.from(`${text} {}`),
      () => Buffer.from(text.replace(/"userId":"/, '"userId":"\u0001')),
      () => Buffer.from(text.replace(/:(\d+)/, ":0$1")),
      () => Buffer.from(text.replace(/:(\d+)/, ":$1.")),
      () => Buffer.from(text.replace("true", "tru")),
      () => Buffer.from(text.replace('"batch"', '"batch":[],"batch"')),
      () => Buffer.from(text.replace('"type":', '"type":"track","type":')),
    ])();
  }
}
