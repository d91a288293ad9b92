import { createHash } from "node:crypto";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServerConfigXml, DURABLE_INSERT_SETTINGS, SYSTEM_LOG_TABLES } from "../components/clickhouse-server-config";
import { buildUsersXml, roleGrants, usersXmlFromPasswords } from "../components/clickhouse-users";
import { startTestEngine, type TestEngine } from "./support/clickhouse-engine";

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@", isArray: (name) => ["ip", "query"].includes(name) });
const parse = (xml: string) => {
  expect(XMLValidator.validate(xml)).toBe(true);
  return parser.parse(xml).clickhouse;
};
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("users.d XML", () => {
  const passwords = { migrator: "m-secret", writer: "w-secret", reader: "r-secret" };
  const users = parse(usersXmlFromPasswords(passwords)).users;

  it("removes the passwordless default user and defines exactly three users", () => {
    expect(users.default).toEqual({ "@remove": "remove" });
    expect(Object.keys(users).sort()).toEqual(["default", "grafana_reader", "ingest_writer", "migrator"]);
  });

  it("stores each password as its sha256 and never in clear", () => {
    expect(users.migrator.password_sha256_hex).toBe(sha("m-secret"));
    expect(users.ingest_writer.password_sha256_hex).toBe(sha("w-secret"));
    expect(users.grafana_reader.password_sha256_hex).toBe(sha("r-secret"));
    const xml = usersXmlFromPasswords(passwords);
    for (const p of Object.values(passwords)) expect(xml).not.toContain(p);
    for (const u of ["migrator", "ingest_writer", "grafana_reader"]) {
      expect(users[u].password).toBeUndefined();
      expect(users[u].access_management).toBe(0);
    }
  });

  it("grants each role exactly what it needs", () => {
    expect(users.migrator.grants.query).toEqual([
      "GRANT CREATE DATABASE, CREATE TABLE, CREATE VIEW ON analytics.*",
      "GRANT ALTER TABLE, ALTER VIEW ON analytics.*",
      "GRANT DROP TABLE, DROP VIEW ON analytics.*",
      "GRANT SELECT, INSERT, SHOW ON analytics.*",
      "GRANT SYSTEM VIEWS ON analytics.*",
      "GRANT SELECT ON system.view_refreshes",
      "GRANT BACKUP ON analytics.*",
    ]);
    expect(users.ingest_writer.grants.query).toEqual([
      "GRANT INSERT ON analytics.events",
      "GRANT INSERT ON analytics.identifies",
      "GRANT INSERT ON analytics.groups",
      "GRANT INSERT ON analytics.aliases",
      "GRANT INSERT ON analytics.ingest_dead_letters",
    ]);
    expect(users.grafana_reader.grants.query).toEqual(["GRANT SELECT ON analytics.*"]);
  });

  it("accepts connections from loopback and private networks only", () => {
    const expected = ["127.0.0.1", "::1", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];
    for (const u of ["migrator", "ingest_writer", "grafana_reader"]) expect(users[u].networks.ip).toEqual(expected);
    expect(() => buildUsersXml({ passwordSha256: { migrator: "a", writer: "b", reader: "c" }, networks: ["::/0", "any"] }))
      .toThrow('ClickHouse allowed network "any": expected an IP address or CIDR range such as 10.0.0.0/8');
  });

  it("makes the reader read-only with dashboard limits and lets Grafana set the execution time within bounds", () => {
    const profiles = parse(usersXmlFromPasswords(passwords)).profiles;
    expect(users.grafana_reader.profile).toBe("analytics_reader");
    const reader = profiles.analytics_reader;
    expect(reader.readonly).toBe(1);
    expect(reader.max_execution_time).toBe(60);
    expect(reader.max_memory_usage).toBe(2 * 1024 ** 3);
    expect(reader.max_result_rows).toBe(1_000_000);
    expect(reader.constraints.max_execution_time).toEqual({ min: 1, max: 300, changeable_in_readonly: "" });
    expect(profiles.analytics_writer.readonly).toBeUndefined();
    expect(profiles.analytics_migrator.readonly).toBeUndefined();
  });

  it("refuses an empty password, naming the user", () => {
    expect(() => usersXmlFromPasswords({ ...passwords, writer: "" })).toThrow(/ClickHouse password for ingest_writer is empty/);
  });

  it("escapes what it embeds, so a placeholder stays well-formed XML", () => {
    const xml = buildUsersXml({ passwordSha256: { migrator: "<generated: x>", writer: "a&b", reader: "c" } });
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).toContain("&lt;generated: x&gt;");
  });
});

describe("config.d XML", () => {
  const config = parse(buildServerConfigXml({ systemLogRetentionDays: 14 }));

  it("logs JSON lines to stdout only", () => {
    expect(config.logger.console).toBe(1);
    expect(config.logger.formatting.type).toBe("json");
    expect(config.logger.log).toEqual({ "@remove": "remove" });
    expect(config.logger.errorlog).toEqual({ "@remove": "remove" });
  });

  it("runs in UTC, so every day the panels count is a UTC day", () => {
    expect(config.timezone).toBe("UTC");
  });

  it("serves HTTP 8123 and native 9000 and removes the other protocols", () => {
    expect(config.http_port).toBe(8123);
    expect(config.tcp_port).toBe(9000);
    for (const p of ["mysql_port", "postgresql_port", "interserver_http_port"]) expect(config[p]).toEqual({ "@remove": "remove" });
  });

  it("requires grants for system tables and enables changeable_in_readonly", () => {
    expect(config.access_control_improvements).toEqual({
      select_from_system_db_requires_grant: true,
      select_from_information_schema_requires_grant: true,
      settings_constraints_replace_previous: true,
      users_without_row_policies_can_read_rows: true,
    });
  });

  it("acknowledges an insert only once its parts are on disk (the ingest deletes its spooled copy then)", async () => {
    expect(config.merge_tree).toEqual({ fsync_after_insert: 1, fsync_part_directory: 1 });
    // The names are MergeTree settings this ClickHouse knows (an unknown one in config.d would stop the server).
    const engine = await startTestEngine("durable-insert");
    try {
      const names = Object.keys(DURABLE_INSERT_SETTINGS);
      const known = await engine.rows<{ name: string }>("SELECT name FROM system.merge_tree_settings WHERE name IN {names:Array(String)} ORDER BY name", { names });
      expect(known.map((r) => r.name)).toEqual([...names].sort());
    } finally {
      await engine.close();
    }
  });

  it("gives every system log table a TTL of logRetentionDays", () => {
    expect(SYSTEM_LOG_TABLES.length).toBeGreaterThanOrEqual(15);
    for (const { table, dateColumn } of SYSTEM_LOG_TABLES) {
      expect(config[table].ttl, table).toBe(`${dateColumn} + INTERVAL 14 DAY DELETE`);
    }
    expect(config.query_log.ttl).toBe("event_date + INTERVAL 14 DAY DELETE");
    expect(config.opentelemetry_span_log.ttl).toBe("finish_date + INTERVAL 14 DAY DELETE");
    expect(config.text_log.level).toBe("warning");
    // Adding a section for a log the image does not enable would enable it: session_log stays off.
    expect(config.session_log).toBeUndefined();
  });

  it("rejects a retention that is not a positive whole number of days", () => {
    expect(() => buildServerConfigXml({ systemLogRetentionDays: 0 })).toThrow(/positive whole number of days, got 0/);
    expect(() => buildServerConfigXml({ systemLogRetentionDays: 1.5 })).toThrow(/got 1.5/);
  });
});

describe("generated SQL fragments parse in ClickHouse", () => {
  let engine: TestEngine;
  beforeAll(async () => { engine = await startTestEngine("config-parse"); });
  afterAll(async () => { await engine.close(); });

  it("every GRANT and every system log TTL is accepted by ClickHouse's parser", async () => {
    const statements = [
      ...Object.values(roleGrants()).flat().map((g) => `EXPLAIN AST ${g} TO someone`),
      ...SYSTEM_LOG_TABLES.map(({ dateColumn }) => `EXPLAIN AST ALTER TABLE t MODIFY TTL ${dateColumn} + INTERVAL 7 DAY DELETE`),
    ];
    for (const statement of statements) await expect(engine.client.query({ query: statement }).then((r) => r.text()), statement).resolves.toBeTypeOf("string");
    // And the check is not vacuous: an unknown privilege is a syntax error.
    await expect(engine.client.query({ query: "EXPLAIN AST GRANT FROBNICATE ON analytics.* TO someone" })).rejects.toThrow(/Syntax error/);
  });
});
