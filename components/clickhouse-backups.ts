/**
 * Where `npm run backup` puts ClickHouse backups on a deployed stack: a `backups` disk on its own Docker volume,
 * allowed as a BACKUP/RESTORE destination by a config.d fragment (ClickHouse refuses Disk() and File()
 * destinations its config does not list), and the grant the migrator needs to take them.
 */

/** Name of the server disk backups go to, and where it lives in the ClickHouse container. */
export const BACKUP_DISK = "backups";
export const BACKUP_CONTAINER_PATH = "/var/lib/clickhouse-backups/";
/** What the migrator needs beyond its DDL grants to take backups (restore needs only the DDL and INSERT grants). */
export const BACKUP_GRANTS = ["GRANT BACKUP ON analytics.*"] as const;

/**
 * The config.d fragment that gives the server a `backups` disk and allows BACKUP/RESTORE to it (ClickHouse refuses
 * Disk() and File() destinations that the config does not list). Mount a volume at `path`.
 */
export function backupDiskConfigXml(path: string = BACKUP_CONTAINER_PATH): string {
  const dir = path.endsWith("/") ? path : `${path}/`;
  return [
    "<clickhouse>",
    "    <!-- BACKUP/RESTORE destination for `npm run backup`: a directory on its own Docker volume. -->",
    "    <storage_configuration>",
    "        <disks>",
    `            <${BACKUP_DISK}>`,
    "                <type>local</type>",
    `                <path>${dir}</path>`,
    `            </${BACKUP_DISK}>`,
    "        </disks>",
    "    </storage_configuration>",
    "    <backups>",
    `        <allowed_disk>${BACKUP_DISK}</allowed_disk>`,
    `        <allowed_path>${dir}</allowed_path>`,
    "    </backups>",
    "</clickhouse>",
    "",
  ].join("\n");
}
