/**
 * Pure renderers for PostgresBackup: the primary's WAL archive settings, the backup role SQL, the
 * scheduler script (dumps, base backups, retention, status, metrics, healthcheck) and the two
 * restore scripts, which are files in ../assets (backup.sh, restore-dump.sh, restore-pitr.sh) filled
 * in here. Every script is POSIX sh using only what the official postgres
 * image (Debian) ships: pg_dump, pg_restore, pg_basebackup, pg_archivecleanup, psql, tar, gzip,
 * sed, grep, sort, cmp, sync. Paths and connection settings are rendered as defaults that the
 * environment may override (`: "${X:=default}"`), which is how the tests point them at temp dirs.
 */
import { join } from "node:path";
import { fillAsset, readAsset } from "../../kit/assets";
import { renderTextfileMetricsFunction } from "../../observability/renderers/textfile-metrics";

// The scripts are files (shellcheck runs on them); every value below is validated before it is filled in.
const ASSETS = join(__dirname, "..", "assets");
const BACKUP_SH = readAsset(ASSETS, "backup.sh");
const RESTORE_DUMP_SH = readAsset(ASSETS, "restore-dump.sh");
const RESTORE_PITR_SH = readAsset(ASSETS, "restore-pitr.sh");

/**
 * Where the backups volume is mounted, in the backup container, in the primary and in restore
 * containers alike. It is the postgres user's home in the official image: the directory exists
 * there owned by postgres, so Docker's copy-up gives an empty named volume mounted here postgres
 * ownership, which a fresh path (e.g. /backups) would not (root-owned, unwritable by a non-root
 * container). The cluster's data volume stays mounted below it at /var/lib/postgresql/data.
 */
export const BACKUP_ROOT = "/var/lib/postgresql";
/** WAL archive directory (inside the backups volume). */
export const WAL_ARCHIVE_DIR = `${BACKUP_ROOT}/wal-archive`;
/** Where the scripts are mounted (read-only, root-owned 0644/0744: always run them with `sh`). */
export const BACKUP_SCRIPTS_DIR = "/etc/postgres-backup";
export const DEFAULT_PGDATA = "/var/lib/postgresql/data";

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const ABS_PATH = /^\/[A-Za-z0-9_./-]+$/;

export interface WalArchiveOptions {
  /**
   * Force a WAL segment switch after this many seconds with writes (bounds how much committed
   * data an off-host copy or a lost primary disk can lose; an idle server does not switch).
   * @default 300
   */
  readonly archiveTimeoutSeconds?: number;
}

/**
 * Settings the PRIMARY needs for point-in-time recovery, to merge into PostgresCluster `settings`.
 * archive_command copies each finished segment to a temp name, syncs it, then renames it, and
 * succeeds (without copying) when an identical file is already archived, so a retry after a crash
 * between copy and PostgreSQL's bookkeeping never wedges archiving.
 */
export function walArchiveSettings(archiveDir: string = WAL_ARCHIVE_DIR, options: WalArchiveOptions = {}): Record<string, string> {
  if (!ABS_PATH.test(archiveDir))
    throw new Error(`walArchiveSettings: archiveDir "${archiveDir}" must be an absolute path of letters, digits, _ . / -`);
  const timeout = options.archiveTimeoutSeconds ?? 300;
  if (!Number.isInteger(timeout) || timeout < 30 || timeout > 86400)
    throw new Error(`walArchiveSettings: archiveTimeoutSeconds ${timeout} must be a whole number from 30 to 86400`);
  const d = archiveDir;
  return {
    archive_command: `mkdir -p ${d} && if [ -f ${d}/%f ]; then cmp -s %p ${d}/%f; else cp %p ${d}/%f.tmp && sync ${d}/%f.tmp && mv ${d}/%f.tmp ${d}/%f; fi`,
    archive_mode: "on",
    archive_timeout: String(timeout),
    wal_level: "replica",
  };
}

export interface BackupRoleInput {
  /** e.g. "updateio_backup". */
  readonly role: string;
  /** The database it backs up (first boot revokes CONNECT from PUBLIC, so it is granted here). */
  readonly database: string;
  /** File (under /run/secrets) holding its password. */
  readonly passwordFile: string;
}

/**
 * First-boot SQL for a dedicated backup role, for the cluster's /docker-entrypoint-initdb.d
 * (e.g. as 20-updateio-backup-role.sql). Read-only by design: pg_read_all_data (PostgreSQL 14+)
 * lets pg_dump read every table, sequence and schema; REPLICATION lets pg_basebackup stream a base
 * backup; BYPASSRLS lets pg_dump dump tables with row-level security (it refuses otherwise);
 * CONNECT on the database, which first boot revokes from PUBLIC. It cannot write or run DDL.
 * Run it after the roles script (the database must exist). The cluster's pg_hba must also allow
 * `host replication <role> samenet scram-sha-256` for pg_basebackup.
 */
export function renderBackupRoleSql(input: BackupRoleInput): string {
  if (!IDENT.test(input.role)) throw new Error(`renderBackupRoleSql: role "${input.role}" must be a lowercase SQL identifier`);
  if (!IDENT.test(input.database)) throw new Error(`renderBackupRoleSql: database "${input.database}" must be a lowercase SQL identifier`);
  if (!ABS_PATH.test(input.passwordFile))
    throw new Error(`renderBackupRoleSql: passwordFile "${input.passwordFile}" must be an absolute path`);
  return `-- Generated by the UpdateIO infrastructure (PostgresBackup). Runs once, on first boot.
\\set ON_ERROR_STOP on
\\set backup_password \`cat ${input.passwordFile}\`
CREATE ROLE ${input.role} LOGIN REPLICATION BYPASSRLS PASSWORD :'backup_password';
\\unset backup_password
GRANT pg_read_all_data TO ${input.role};
GRANT CONNECT ON DATABASE ${input.database} TO ${input.role};
`;
}

export interface RetentionPolicy {
  /** @default 7 */
  readonly daily?: number;
  /** @default 4 */
  readonly weekly?: number;
  /** @default 6 */
  readonly monthly?: number;
}

export interface BackupScriptInput {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** Role the backups connect as. */
  readonly role: string;
  readonly passwordFile: string;
  /** Daily run time, "HH:MM" UTC. */
  readonly at: string;
  readonly retention: Required<RetentionPolicy>;
  /** A base backup is taken when the newest one is at least this old. */
  readonly baseBackupEveryDays: number;
  readonly keepBaseBackups: number;
  /** Delay before retrying after a failed run. @default 3600 */
  readonly retrySeconds?: number;
}

const BACKUP_METRICS = renderTextfileMetricsFunction("postgres_backup.prom", [
  { name: "updateio_backup_last_run_success", help: "1 when the last scheduled backup run succeeded.", value: "$1" },
  { name: "updateio_backup_last_run_timestamp_seconds", help: "Unix time of the last backup run.", value: "$2" },
  { name: "updateio_backup_last_success_timestamp_seconds", help: "Unix time of the last successful backup run.", value: "${3:-0}" },
]);

/** Seconds between scheduled runs (daily). */
export const BACKUP_INTERVAL_SECONDS = 86400;

/** Validates and returns the problems (empty when fine). */
export function backupScriptProblems(input: BackupScriptInput): string[] {
  const p: string[] = [];
  if (!/^[a-z0-9][a-z0-9.-]{0,62}$/.test(input.host)) p.push(`host "${input.host}" must be a DNS name`);
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) p.push(`port ${input.port} must be 1-65535`);
  if (!IDENT.test(input.database)) p.push(`database "${input.database}" must be a lowercase SQL identifier`);
  if (!IDENT.test(input.role)) p.push(`role "${input.role}" must be a lowercase SQL identifier`);
  if (!ABS_PATH.test(input.passwordFile)) p.push(`passwordFile "${input.passwordFile}" must be an absolute path`);
  if (!/^([01][0-9]|2[0-3]):[0-5][0-9]$/.test(input.at)) p.push(`schedule.at "${input.at}" must be HH:MM (24h, UTC), e.g. "02:00"`);
  const r = input.retention;
  if (!Number.isInteger(r.daily) || r.daily < 1 || r.daily > 366) p.push(`retention.daily ${r.daily} must be a whole number from 1 to 366`);
  if (!Number.isInteger(r.weekly) || r.weekly < 0 || r.weekly > 520)
    p.push(`retention.weekly ${r.weekly} must be a whole number from 0 to 520`);
  if (!Number.isInteger(r.monthly) || r.monthly < 0 || r.monthly > 240)
    p.push(`retention.monthly ${r.monthly} must be a whole number from 0 to 240`);
  if (!Number.isInteger(input.baseBackupEveryDays) || input.baseBackupEveryDays < 1 || input.baseBackupEveryDays > 31)
    p.push(`baseBackupEveryDays ${input.baseBackupEveryDays} must be a whole number from 1 to 31`);
  if (!Number.isInteger(input.keepBaseBackups) || input.keepBaseBackups < 1 || input.keepBaseBackups > 52)
    p.push(`keepBaseBackups ${input.keepBaseBackups} must be a whole number from 1 to 52`);
  return p;
}

/**
 * The scheduler: `backup.sh [loop|once|dump|base|prune|health|status]`.
 * - loop (the container's command): runs once at start unless a recent success is recorded, then
 *   sleeps until the next `at` (UTC) and runs again, forever; after a failure it retries sooner.
 * - once: dump, base backup when due, retention; records the status file and the metrics file
 *   (METRICS_DIR, for node-exporter's textfile collector).
 * - health: exit 0 only when the last run succeeded and the last success is at most 1.5 x the
 *   interval old (the container healthcheck).
 *
 * Retention of dumps (`<db>-YYYYMMDDTHHMMSSZ.dump`, UTC), tiers filled newest first, each tier
 * keeping the newest dump of each period and only considering periods strictly older than the
 * period holding the oldest dump kept so far:
 *   daily:   the newest dump of each of the `daily` most recent calendar days that have a dump;
 *   weekly:  the newest dump of each of the `weekly` most recent ISO weeks (Monday-Sunday) older
 *            than the week of the oldest kept dump;
 *   monthly: the newest dump of each of the `monthly` most recent calendar months older than the
 *            month of the oldest kept dump.
 * So with enough history exactly daily + weekly + monthly dumps remain. Base backups: the newest
 * `keepBaseBackups`; archived WAL older than the oldest kept base backup's start segment is removed.
 */
export function renderBackupScript(input: BackupScriptInput): string {
  const problems = backupScriptProblems(input);
  if (problems.length > 0) throw new Error(`renderBackupScript: ${problems.join("; ")}`);
  return fillAsset(
    BACKUP_SH,
    {
      BACKUP_ROOT,
      HOST: input.host,
      PORT: input.port,
      DATABASE: input.database,
      ROLE: input.role,
      PASSWORD_FILE: input.passwordFile,
      AT: input.at,
      INTERVAL_SECONDS: BACKUP_INTERVAL_SECONDS,
      RETRY_SECONDS: input.retrySeconds ?? 3600,
      BASE_BACKUP_EVERY_SECONDS: input.baseBackupEveryDays * 86400,
      KEEP_DAILY: input.retention.daily,
      KEEP_WEEKLY: input.retention.weekly,
      KEEP_MONTHLY: input.retention.monthly,
      KEEP_BASE_BACKUPS: input.keepBaseBackups,
      WRITE_METRICS: BACKUP_METRICS,
    },
    "renderBackupScript",
  );
}

export interface RestoreScriptInput {
  readonly database: string;
  /** Owns the restored objects (pg_restore --role). */
  readonly ownerRole: string;
  /** Gets CONNECT/TEMPORARY on a newly created database, as on first boot. */
  readonly appRole: string;
  /** Gets CONNECT on a newly created database, so the next scheduled backup still works. */
  readonly backupRole: string;
}

function checkRestoreInput(name: string, input: RestoreScriptInput): void {
  for (const [k, v] of Object.entries(input)) {
    if (!IDENT.test(v)) throw new Error(`${name}: ${k} "${v}" must be a lowercase SQL identifier`);
  }
}

/**
 * `restore-dump.sh [latest|<file>] [target database]`: restores a dump as the superuser over the
 * local socket (run it in the postgres container, which mounts the backups volume), creating the
 * target database owned by the owner role if missing; objects are created as the owner role
 * (--no-owner --role) so the app role's default privileges apply, in one transaction.
 */
export function renderRestoreDumpScript(input: RestoreScriptInput): string {
  checkRestoreInput("renderRestoreDumpScript", input);
  return fillAsset(
    RESTORE_DUMP_SH,
    {
      BACKUP_ROOT,
      DATABASE: input.database,
      OWNER_ROLE: input.ownerRole,
      APP_ROLE: input.appRole,
      BACKUP_ROLE: input.backupRole,
    },
    "renderRestoreDumpScript",
  );
}

export interface PitrScriptInput {
  /** Seconds to wait for recovery to finish and promote. @default 900 */
  readonly waitSeconds?: number;
}

/**
 * `restore-pitr.sh all|prepare|wait ...`: point-in-time recovery from a base backup plus the WAL
 * archive. `prepare '<UTC time>' [base]` (server stopped) moves the data directory's contents
 * aside (into <backups>/pre-restore/<stamp>), extracts the newest base backup taken at or before the
 * target, writes restore_command, recovery_target_time, recovery_target_action=promote and
 * recovery.signal. `wait` (server started) polls until it has promoted, then removes the recovery
 * settings. `all` = $PITR_STOP_CMD, prepare, $PITR_START_CMD, wait (what the tests run).
 */
export function renderRestorePitrScript(input: PitrScriptInput = {}): string {
  const wait = input.waitSeconds ?? 900;
  if (!Number.isInteger(wait) || wait < 10) throw new Error(`renderRestorePitrScript: waitSeconds ${wait} must be a whole number ≥ 10`);
  return fillAsset(RESTORE_PITR_SH, { BACKUP_ROOT, PGDATA: DEFAULT_PGDATA, WAIT_SECONDS: wait }, "renderRestorePitrScript");
}
