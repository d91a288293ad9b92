/**
 * ClickHouse users as a `users.d` XML file: three least-privilege users and no `default` user.
 *
 * | user             | for                         | may                                                          |
 * |------------------|-----------------------------|--------------------------------------------------------------|
 * | `migrator`       | schema migrations (Pulumi)  | DDL, SELECT and INSERT on analytics.* (nothing elsewhere)    |
 * | `ingest_writer`  | the ingest service          | INSERT into the ingest tables, nothing else                  |
 * | `grafana_reader` | Grafana's ClickHouse source | SELECT on analytics.*, readonly=1, dashboard-sized limits    |
 *
 * Why these grants:
 * - Materialized views run their SELECT and INSERT as their definer, and a view created by a migration is defined
 *   by `migrator` (ClickHouse's default `SQL SECURITY DEFINER`, `DEFINER = CURRENT_USER`). So the migrator needs
 *   SELECT on the source tables and INSERT on the targets, or every ingest insert into `events` would fail; the
 *   same grants let a migration backfill a rollup with `INSERT ... SELECT`. The migrator gets no DROP DATABASE, no
 *   access outside `analytics`, no user management.
 * - The ingest writes but never reads: its readiness check is the unauthenticated /ping, and `SELECT 1` or
 *   `EXISTS TABLE analytics.events` work for any user with an INSERT grant on the table, so it gets no SELECT.
 * - Grafana gets `readonly=1`, so a dashboard query (which Grafana does not vet) cannot write or change settings,
 *   except `max_execution_time`, which the Grafana plugin's driver sends with every query; a constraint keeps it in
 *   1..300 s (set the datasource's query timeout within that range).
 *
 * Passwords are stored as `password_sha256_hex` (they are random, generated per stack, so an unsalted hash is not a
 * dictionary risk) and the file's content is a Pulumi secret. `<grants>` makes the users' privileges exactly the
 * listed GRANTs (without `<grants>` an XML user may do anything). Connections are accepted from loopback and
 * private ranges only (the Docker networks and the Docker host), not from public addresses, whatever the bind
 * address.
 */

import { BACKUP_GRANTS } from "./clickhouse-backups";

export const CLICKHOUSE_USERS = {
  migrator: "migrator",
  writer: "ingest_writer",
  reader: "grafana_reader",
} as const;
export type ClickHouseRole = keyof typeof CLICKHOUSE_USERS;
export const CLICKHOUSE_ROLES: readonly ClickHouseRole[] = ["migrator", "writer", "reader"];

/** Tables the ingest service inserts into (0001, 0002, and the dead-letter table of migration 0003). */
export const INGEST_WRITE_TABLES = [
  "analytics.events",
  "analytics.identifies",
  "analytics.groups",
  "analytics.aliases",
  "analytics.ingest_dead_letters",
] as const;

/** Loopback and RFC 1918 / unique-local ranges: Docker networks and the host, never the internet. */
export const PRIVATE_NETWORKS = ["127.0.0.1", "::1", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"] as const;

/** Limits for dashboard queries (bytes, seconds, rows). */
export const READER_LIMITS = {
  maxExecutionSeconds: 60,
  maxExecutionSecondsCeiling: 300,
  maxMemoryBytes: 2 * 1024 ** 3,
  /** Above this a GROUP BY or ORDER BY spills to disk instead of failing. */
  spillBytes: 1024 ** 3,
  maxResultRows: 1_000_000,
  maxConcurrentQueries: 20,
} as const;

/** The GRANT statements of each role, as they appear in `<grants><query>` (no `TO` clause). */
export function roleGrants(): Record<ClickHouseRole, string[]> {
  return {
    migrator: [
      // No dictionary grants: no migration uses one, and a DDL dictionary with an HTTP source fetches any URL the
      // server reaches without the READ ON URL grant that url() needs (tests/review-security-clickhouse-grants).
      "GRANT CREATE DATABASE, CREATE TABLE, CREATE VIEW ON analytics.*",
      "GRANT ALTER TABLE, ALTER VIEW ON analytics.*",
      "GRANT DROP TABLE, DROP VIEW ON analytics.*",
      "GRANT SELECT, INSERT, SHOW ON analytics.*",
      // Refresh the DAU, retention and adoption snapshots on demand (after a bulk load) and see how their refreshes
      // went (system tables need a grant here: select_from_system_db_requires_grant); their schedule needs no grant.
      "GRANT SYSTEM VIEWS ON analytics.*",
      "GRANT SELECT ON system.view_refreshes",
      // `npm run backup` runs as the migrator (restore needs only the DDL and INSERT grants above).
      ...BACKUP_GRANTS,
    ],
    writer: INGEST_WRITE_TABLES.map((table) => `GRANT INSERT ON ${table}`),
    reader: ["GRANT SELECT ON analytics.*"],
  };
}

/** sha256 of a password, hex, as ClickHouse's `password_sha256_hex` expects. */
export function passwordSha256Hex(password: string): string {
  const { createHash } = require("node:crypto") as typeof import("node:crypto");
  return createHash("sha256").update(password, "utf8").digest("hex");
}

/** Escapes text for an XML element body or attribute. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const IPV4_OR_CIDR = /^(\d{1,3}\.){3}\d{1,3}(\/\d{1,2})?$/;
const IPV6_OR_CIDR = /^[0-9a-fA-F:]+(\/\d{1,3})?$/;

export interface UsersXmlInput {
  /** `password_sha256_hex` per role (or a placeholder in rendered artifacts). */
  readonly passwordSha256: Readonly<Record<ClickHouseRole, string>>;
  /** Client addresses or CIDR ranges every user may connect from. Defaults to PRIVATE_NETWORKS. */
  readonly networks?: readonly string[];
}

/** The users.d XML. Pure; throws on a malformed network entry. */
export function buildUsersXml(input: UsersXmlInput): string {
  const networks = input.networks ?? PRIVATE_NETWORKS;
  for (const net of networks) {
    if (!IPV4_OR_CIDR.test(net) && !(net.includes(":") && IPV6_OR_CIDR.test(net))) {
      throw new Error(`ClickHouse allowed network ${JSON.stringify(net)}: expected an IP address or CIDR range such as 10.0.0.0/8`);
    }
  }
  const grants = roleGrants();
  const profileOf: Record<ClickHouseRole, string> = {
    migrator: "analytics_migrator",
    writer: "analytics_writer",
    reader: "analytics_reader",
  };
  const why: Record<ClickHouseRole, string> = {
    migrator: "Applies sql/ migrations from the Pulumi host; definer of the materialized views.",
    writer: "The ingest service: inserts events and identity calls, nothing else.",
    reader: "Grafana's ClickHouse datasource: read-only.",
  };
  const indent = (n: number) => " ".repeat(n);
  const user = (role: ClickHouseRole) => [
    `${indent(8)}<!-- ${why[role]} -->`,
    `${indent(8)}<${CLICKHOUSE_USERS[role]}>`,
    `${indent(12)}<password_sha256_hex>${escapeXml(input.passwordSha256[role])}</password_sha256_hex>`,
    `${indent(12)}<networks>`,
    ...networks.map((net) => `${indent(16)}<ip>${escapeXml(net)}</ip>`),
    `${indent(12)}</networks>`,
    `${indent(12)}<profile>${profileOf[role]}</profile>`,
    `${indent(12)}<quota>default</quota>`,
    `${indent(12)}<access_management>0</access_management>`,
    `${indent(12)}<grants>`,
    ...grants[role].map((q) => `${indent(16)}<query>${escapeXml(q)}</query>`),
    `${indent(12)}</grants>`,
    `${indent(8)}</${CLICKHOUSE_USERS[role]}>`,
  ];
  const r = READER_LIMITS;
  // A settings profile that inherits the server's default profile, then sets its own values.
  const profile = (name: string, settings: [string, string | number][], extra: string[] = []) => [
    `${indent(8)}<${name}>`,
    `${indent(12)}<profile>default</profile>`,
    ...settings.map(([key, value]) => `${indent(12)}<${key}>${value}</${key}>`),
    ...extra,
    `${indent(8)}</${name}>`,
  ];
  return [
    "<?xml version=\"1.0\"?>",
    "<!-- Generated by components/clickhouse-users.ts from the stack config; do not edit by hand. -->",
    "<clickhouse>",
    "    <profiles>",
    ...profile("analytics_migrator", []),
    // The ingest never changes its memory limit; a constraint stops whoever holds the writer's password from lifting
    // it (0 means unlimited, hence the minimum) and running the server out of memory.
    ...profile("analytics_writer", [["max_memory_usage", r.maxMemoryBytes]], [
      "            <constraints>",
      "                <max_memory_usage>",
      "                    <min>1</min>",
      `                    <max>${r.maxMemoryBytes}</max>`,
      "                </max_memory_usage>",
      "            </constraints>",
    ]),
    ...profile("analytics_reader", [
      ["readonly", 1],
      ["max_execution_time", r.maxExecutionSeconds],
      ["timeout_overflow_mode", "throw"],
      ["max_memory_usage", r.maxMemoryBytes],
      ["max_bytes_before_external_group_by", r.spillBytes],
      ["max_bytes_before_external_sort", r.spillBytes],
      ["max_result_rows", r.maxResultRows],
      ["result_overflow_mode", "throw"],
      ["max_concurrent_queries_for_user", r.maxConcurrentQueries],
    ], [
      "            <constraints>",
      "                <!-- The Grafana plugin's driver sets max_execution_time on every query. -->",
      "                <max_execution_time>",
      "                    <min>1</min>",
      `                    <max>${r.maxExecutionSecondsCeiling}</max>`,
      "                    <changeable_in_readonly/>",
      "                </max_execution_time>",
      "            </constraints>",
    ]),
    "    </profiles>",
    "    <users>",
    "        <!-- The image's passwordless default user, removed: every client authenticates as a role below. -->",
    "        <default remove=\"remove\"/>",
    ...CLICKHOUSE_ROLES.flatMap(user),
    "    </users>",
    "</clickhouse>",
    "",
  ].join("\n");
}

/**
 * Hashes the passwords and builds the XML; throws naming the role of an empty password. Call it inside
 * `pulumi.all(...).apply(...)` and wrap the result in `pulumi.secret` (see clickhouse.ts).
 */
export function usersXmlFromPasswords(
  passwords: Readonly<Record<ClickHouseRole, string>>,
  networks?: readonly string[],
): string {
  const hashes = {} as Record<ClickHouseRole, string>;
  for (const role of CLICKHOUSE_ROLES) {
    const password = passwords[role];
    if (typeof password !== "string" || password.length === 0) {
      throw new Error(`ClickHouse password for ${CLICKHOUSE_USERS[role]} is empty; set it with ` +
        "`pulumi config set --secret` or leave it unset so the stack generates one.");
    }
    hashes[role] = passwordSha256Hex(password);
  }
  return buildUsersXml({ passwordSha256: hashes, networks });
}
