/** Renderer inputs for the prod Postgres cluster's scripts, shared by their unit tests, the real-server tests and shellcheck. */
import type { BackupScriptInput } from "../../constructs/postgres/renderers/backup-scripts";
import type { PreMigrationDumpScriptInput } from "../../constructs/postgres/renderers/pre-migration-dump";
import { postgresClusterSettings } from "../../constructs/postgres/renderers/postgres";

/** The backup job: daily dumps at 02:00 kept 7/4/6, weekly base backups (two kept). */
export const BACKUP_SCRIPT_INPUT: BackupScriptInput = {
  host: "postgres",
  port: 5432,
  database: "updateio",
  role: "updateio_backup",
  passwordFile: "/run/secrets/postgres_backup_password",
  at: "02:00",
  retention: { daily: 7, weekly: 4, monthly: 6 },
  baseBackupEveryDays: 7,
  keepBaseBackups: 2,
};

/** The pre-migration dump as the backup job's role, three kept, prod's backups budget. */
export const PRE_MIGRATION_DUMP_INPUT: PreMigrationDumpScriptInput = {
  host: "postgres",
  port: 5432,
  database: "updateio",
  role: "updateio_backup",
  passwordFile: "/run/secrets/postgres_backup_password",
  keep: 3,
  budgetMb: 81920,
};

/** The reload job for a primary and one replica. */
export const RELOAD_JOB_INPUT = {
  role: "updateio_reload",
  database: "updateio",
  port: 5432,
  hosts: ["postgres", "postgres-replica-1"],
  passwordFile: "/run/secrets/postgres_reload_password",
  passfile: "/tmp/reload.pgpass",
  checkFile: "/etc/postgres-reload/check.sql",
  primaryContainer: "prod-postgres",
  roleSqlFile: "/docker-entrypoint-initdb.d/15-updateio-reload-role.sql",
};

/** The first replica's bootstrap, with the cluster's settings for 512 MiB. */
export const REPLICA_BOOTSTRAP_INPUT = {
  dataDir: "/var/lib/postgresql/data",
  primaryHost: "postgres",
  primaryPort: 5432,
  port: 5432,
  replicationRole: "updateio_replication",
  passwordFile: "/run/secrets/postgres_replication_password",
  passfile: "/var/run/postgresql/replication.pgpass",
  slot: "postgres_replica_1",
  applicationName: "postgres_replica_1",
  settings: postgresClusterSettings({ memoryMb: 512, hbaFile: "/etc/postgresql/pg_hba.conf", replicas: 1 }),
};
