/** Pure renderers for the PostgresCluster: server arguments, the first-boot role script and the replica's start script. */
import { join } from "node:path";
import { fillAsset, readAsset } from "../../kit/assets";
import { ValidationError } from "../../contract/errors";

/** The replica's start script (a file, so shellcheck runs on it); the renderer validates or quotes every value. */
const REPLICA_BOOTSTRAP_SH = readAsset(join(__dirname, "..", "assets"), "replica-bootstrap.sh");

export interface PostgresTuningInput {
  /** Container memory limit in MiB. */
  readonly memoryMb: number;
  /** Extra settings; they win over the computed ones. */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * Settings sized from the memory limit. shared_buffers = 25% and effective_cache_size = 75% of
 * memory follow the PostgreSQL manual ("Resource Consumption": a reasonable starting value for
 * shared_buffers is 25% of memory) and the usual tuning guides; max_connections is kept low
 * because every connection costs memory and pgbouncer pools them later; work_mem spends at most
 * a quarter of memory if every connection runs two sorts at once (floor 64kB, PostgreSQL's minimum).
 */
export function postgresSettings(input: PostgresTuningInput): Record<string, string> {
  const mem = input.memoryMb;
  const maxConnections = mem >= 2048 ? 200 : 100;
  const settings: Record<string, string | number | boolean> = {
    listen_addresses: "*",
    password_encryption: "scram-sha-256",
    max_connections: maxConnections,
    shared_buffers: `${Math.max(32, Math.floor(mem * 0.25))}MB`,
    effective_cache_size: `${Math.max(64, Math.floor(mem * 0.75))}MB`,
    work_mem: `${Math.max(64, Math.floor((mem * 0.25 * 1024) / maxConnections / 2))}kB`,
    maintenance_work_mem: `${Math.max(16, Math.min(1024, Math.floor(mem * 0.05)))}MB`,
    wal_level: "replica",
    max_wal_size: mem >= 2048 ? "2GB" : "1GB",
    min_wal_size: "80MB",
    checkpoint_completion_target: 0.9,
    log_destination: "stderr",
    log_min_duration_statement: 500,
    log_connections: false,
    log_line_prefix: "%m [%p] %q%u@%d ",
    ...input.settings,
  };
  return Object.fromEntries(
    Object.keys(settings)
      .sort()
      .map((k) => [k, String(settings[k])]),
  );
}

export interface PostgresClusterSettingsInput extends PostgresTuningInput {
  /** Path of the rendered pg_hba.conf in the container. */
  readonly hbaFile: string;
  readonly replicas: number;
}

/**
 * The PostgresCluster's server settings: postgresSettings plus hba_file and, with replicas,
 * max_slot_wal_keep_size (a slot keeps WAL until its replica has it; a replica that is gone for
 * good must not fill the primary's disk: past 4GB the slot is invalidated and that replica must
 * be re-cloned from an empty volume). Explicit settings still win.
 */
export function postgresClusterSettings(input: PostgresClusterSettingsInput): Record<string, string> {
  return postgresSettings({
    memoryMb: input.memoryMb,
    settings: { hba_file: input.hbaFile, ...(input.replicas > 0 ? { max_slot_wal_keep_size: "4GB" } : {}), ...input.settings },
  });
}

/**
 * `postgres -c key=value ...`: settings as server arguments. Arguments override every config file
 * and change only with a restart; PostgresCluster passes only restart-only settings this way (see
 * splitPostgresSettings).
 */
export function postgresCommand(settings: Readonly<Record<string, string>>): string[] {
  return ["postgres", ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])];
}

export interface PostgresRolesInput {
  readonly database: string;
  /** Owns the schema; Prisma migrations run as this role. */
  readonly ownerRole: string;
  /** The services' role: data only (SELECT/INSERT/UPDATE/DELETE), no DDL. */
  readonly appRole: string;
  /** Files (under /run/secrets) holding each role's password. */
  readonly ownerPasswordFile: string;
  readonly appPasswordFile: string;
  /** Dashboards and reporting: SELECT only, on everything the owner creates. */
  readonly readonly?: { readonly role: string; readonly passwordFile: string };
  /**
   * Streaming replication: a REPLICATION LOGIN role (nothing else) and one physical slot per
   * replica, so the primary keeps the WAL a replica has not received yet.
   */
  readonly replication?: { readonly role: string; readonly passwordFile: string; readonly slots: readonly string[] };
  /** Dev only: the owner may CREATE DATABASE (prisma migrate dev's shadow database). @default false */
  readonly ownerCreatedb?: boolean;
}

/**
 * SQL for /docker-entrypoint-initdb.d, run once by the image's entrypoint (psql as POSTGRES_USER)
 * on an empty data directory. A .sql file, not a script: uploads land root-owned 0744, which the
 * postgres user cannot execute, and a non-executable .sh would be sourced into the entrypoint.
 * psql reads the passwords from the secret files (backquote substitution in \set), so they never
 * appear in this file, in Terraform JSON or on a command line.
 */
export function renderPostgresInitSql(input: PostgresRolesInput): string {
  const identifiers: Record<string, string> = { database: input.database, ownerRole: input.ownerRole, appRole: input.appRole };
  const files: Record<string, string> = { ownerPasswordFile: input.ownerPasswordFile, appPasswordFile: input.appPasswordFile };
  if (input.readonly) {
    identifiers["readonly.role"] = input.readonly.role;
    files["readonly.passwordFile"] = input.readonly.passwordFile;
  }
  if (input.replication) {
    identifiers["replication.role"] = input.replication.role;
    files["replication.passwordFile"] = input.replication.passwordFile;
    input.replication.slots.forEach((slot, i) => (identifiers[`replication.slots.${i}`] = slot));
  }
  for (const [key, value] of Object.entries(identifiers)) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value))
      throw new ValidationError("renderPostgresInitSql input", [`${key} "${value}" must be a lowercase SQL identifier`]);
  }
  for (const [key, value] of Object.entries(files)) {
    if (!/^\/[A-Za-z0-9_./-]+$/.test(value))
      throw new ValidationError("renderPostgresInitSql input", [`${key} "${value}" must be an absolute path of letters, digits, _ . / -`]);
  }
  const roles = [input.ownerRole, input.appRole, input.readonly?.role, input.replication?.role].filter((r): r is string => r !== undefined);
  if (new Set(roles).size !== roles.length)
    throw new ValidationError("renderPostgresInitSql input", [`role names must differ (${roles.join(", ")})`]);
  return (
    renderBaseSql(input) +
    (input.readonly ? renderReadonlySql(input, input.readonly) : "") +
    (input.replication ? renderReplicationSql(input.replication) : "")
  );
}

function renderBaseSql(input: PostgresRolesInput): string {
  return `-- Generated by the UpdateIO infrastructure (PostgresCluster). Runs once, on first boot.
\\set ON_ERROR_STOP on
\\set owner_password \`cat ${input.ownerPasswordFile}\`
\\set app_password \`cat ${input.appPasswordFile}\`
CREATE ROLE ${input.ownerRole} LOGIN ${input.ownerCreatedb === true ? "CREATEDB " : ""}PASSWORD :'owner_password';
CREATE ROLE ${input.appRole} LOGIN PASSWORD :'app_password';
\\unset owner_password
\\unset app_password
CREATE DATABASE ${input.database} OWNER ${input.ownerRole};
REVOKE ALL ON DATABASE ${input.database} FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE ${input.database} TO ${input.appRole};
\\connect ${input.database}
REVOKE ALL ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO ${input.ownerRole};
GRANT USAGE ON SCHEMA public TO ${input.appRole};
ALTER DEFAULT PRIVILEGES FOR ROLE ${input.ownerRole} IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ${input.appRole};
ALTER DEFAULT PRIVILEGES FOR ROLE ${input.ownerRole} IN SCHEMA public
  GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO ${input.appRole};
ALTER DEFAULT PRIVILEGES FOR ROLE ${input.ownerRole} IN SCHEMA public
  GRANT EXECUTE ON FUNCTIONS TO ${input.appRole};
`;
}

/** The read-only role: CONNECT, USAGE on the schema and SELECT on what the owner creates (runs in the database). */
function renderReadonlySql(input: PostgresRolesInput, ro: { role: string; passwordFile: string }): string {
  return `-- Read-only role (dashboards, reporting): SELECT only.
\\set readonly_password \`cat ${ro.passwordFile}\`
CREATE ROLE ${ro.role} LOGIN PASSWORD :'readonly_password';
\\unset readonly_password
GRANT CONNECT ON DATABASE ${input.database} TO ${ro.role};
GRANT USAGE ON SCHEMA public TO ${ro.role};
ALTER ROLE ${ro.role} SET default_transaction_read_only = on;
ALTER DEFAULT PRIVILEGES FOR ROLE ${input.ownerRole} IN SCHEMA public
  GRANT SELECT ON TABLES TO ${ro.role};
ALTER DEFAULT PRIVILEGES FOR ROLE ${input.ownerRole} IN SCHEMA public
  GRANT SELECT ON SEQUENCES TO ${ro.role};
`;
}

/**
 * The replication role (REPLICATION LOGIN, no database rights: pg_hba lets it reach only the
 * replication pseudo-database) and one physical slot per replica.
 */
function renderReplicationSql(rep: { role: string; passwordFile: string; slots: readonly string[] }): string {
  return `-- Streaming replication: a role that can only replicate, and one physical slot per replica.
\\set replication_password \`cat ${rep.passwordFile}\`
CREATE ROLE ${rep.role} REPLICATION LOGIN PASSWORD :'replication_password';
\\unset replication_password
${rep.slots.map((slot) => `SELECT pg_create_physical_replication_slot('${slot}');\n`).join("")}`;
}

export interface ReplicaBootstrapInput {
  /** PGDATA of the replica (its own, initially empty, volume). */
  readonly dataDir: string;
  readonly primaryHost: string;
  readonly primaryPort: number;
  /** Port this replica listens on. */
  readonly port: number;
  readonly replicationRole: string;
  /** Secret file holding the replication role's password (root-owned 0644). */
  readonly passwordFile: string;
  /** Where the 0600 pgpass file is written at start: a tmpfs owned by nobody else. */
  readonly passfile: string;
  /** This replica's physical replication slot on the primary. */
  readonly slot: string;
  /** Name the primary shows in pg_stat_replication.application_name. */
  readonly applicationName: string;
  /** The server settings (the primary's, so a replica can take over); replication settings are added. */
  readonly settings: Readonly<Record<string, string>>;
  /**
   * The settings file the server reads (config_file), when `settings` holds only the restart-only
   * ones and the file the rest (PostgresCluster: renderPostgresSettingsFile). @default none
   */
  readonly configFile?: string;
}

/**
 * The replica container's command (`sh -c <this>`), in steps:
 * 1. Write a libpq passfile (host:port:*:role:password) from the secret file into a tmpfs with
 *    umask 077. primary_conninfo cannot read a password file itself, and libpq ignores a passfile
 *    that is group- or world-readable, which rules out the 0644 root-owned upload.
 * 2. If PGDATA is empty (a new volume): make sure the slot exists (pg_receivewal --create-slot
 *    --if-not-exists, over a replication connection, so replicas added to an existing primary
 *    work too), then clone the primary with pg_basebackup -R -S <slot> -X stream, which writes
 *    standby.signal. A failed clone removes what it wrote, so the next start retries cleanly.
 *    A non-empty PGDATA without PG_VERSION is refused rather than overwritten.
 * 3. exec postgres with the same settings as the primary, plus primary_conninfo (passfile=...,
 *    never the password), primary_slot_name and hot_standby. Settings given with -c win over the
 *    primary_conninfo that -R wrote to postgresql.auto.conf. These replication settings are fixed
 *    per replica, so they stay server arguments even where a settings file carries the rest.
 * The official image's entrypoint runs any command that is not `postgres` as is, so its initdb
 * never runs on a replica.
 */
export function renderReplicaBootstrapScript(input: ReplicaBootstrapInput): string {
  for (const [key, value] of Object.entries({
    dataDir: input.dataDir,
    passwordFile: input.passwordFile,
    passfile: input.passfile,
    ...(input.configFile !== undefined ? { configFile: input.configFile } : {}),
  })) {
    if (!/^\/[A-Za-z0-9_./-]+$/.test(value))
      throw new ValidationError("renderReplicaBootstrapScript input", [
        `${key} "${value}" must be an absolute path of letters, digits, _ . / -`,
      ]);
  }
  for (const [key, value] of Object.entries({
    replicationRole: input.replicationRole,
    slot: input.slot,
    applicationName: input.applicationName,
  })) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value))
      throw new ValidationError("renderReplicaBootstrapScript input", [`${key} "${value}" must be a lowercase SQL identifier`]);
  }
  if (!/^[A-Za-z0-9.-]+$/.test(input.primaryHost))
    throw new ValidationError("renderReplicaBootstrapScript input", [`primaryHost "${input.primaryHost}" must be a host name or address`]);
  for (const [key, value] of Object.entries({ primaryPort: input.primaryPort, port: input.port })) {
    if (!Number.isInteger(value) || value < 1 || value > 65535)
      throw new ValidationError("renderReplicaBootstrapScript input", [`${key} ${value} must be a TCP port`]);
  }
  const conninfo = `host=${input.primaryHost} port=${input.primaryPort} user=${input.replicationRole} passfile=${input.passfile} application_name=${input.applicationName}`;
  const settings: Record<string, string> = {
    ...input.settings,
    ...(input.configFile !== undefined ? { config_file: input.configFile } : {}),
    port: String(input.port),
    hot_standby: "on",
    primary_conninfo: conninfo,
    primary_slot_name: input.slot,
  };
  const args = postgresCommand(
    Object.fromEntries(
      Object.keys(settings)
        .sort()
        .map((k) => [k, settings[k]!]),
    ),
  );
  return fillAsset(
    REPLICA_BOOTSTRAP_SH,
    {
      PRIMARY_HOST: input.primaryHost,
      PRIMARY_HOST_WORD: shq(input.primaryHost),
      PRIMARY_PORT: input.primaryPort,
      REPLICATION_ROLE: input.replicationRole,
      REPLICATION_ROLE_WORD: shq(input.replicationRole),
      PASSWORD_FILE: input.passwordFile,
      PASSFILE: input.passfile,
      APPLICATION_NAME: input.applicationName,
      DATA_DIR: input.dataDir,
      SLOT: input.slot,
      POSTGRES_COMMAND: args.map(shq).join(" "),
    },
    "renderReplicaBootstrapScript",
  );
}

/** Single-quotes a word for sh unless it is plainly safe. */
function shq(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Promotes a streaming replica to primary (failover). pg_promote waits until the server has left
 * recovery, so success means it accepts writes. Used by docs/runbooks/postgres-failover.md and
 * checked on a real replica by __tests__/postgres/postgres-replication.integration.test.ts.
 */
export const PROMOTE_SQL = "SELECT pg_promote(wait => true, wait_seconds => 60)";
