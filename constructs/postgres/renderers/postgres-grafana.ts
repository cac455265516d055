import { throwIfProblems } from "../../contract/errors";

/**
 * Pure renderer for Grafana's Postgres role: first-boot SQL for the cluster's
 * /docker-entrypoint-initdb.d, like renderMonitorRoleSql and renderBackupRoleSql.
 */

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const ABS_PATH = /^\/[A-Za-z0-9_./-]+$/;
/** Names pg_hba.conf reads as keywords, and the databases every cluster already has. */
const RESERVED_DATABASES = new Set(["all", "sameuser", "samerole", "samegroup", "replication", "postgres", "template0", "template1"]);

/**
 * What Grafana's dashboards may read, by name: the Postgres dashboard's sessions table calls this
 * function (renderDashboards), and nothing else in Grafana queries Postgres.
 */
export const GRAFANA_PG_STATS = {
  schema: "stats",
  /** One row per server process: datname, usename, state, backend_type. No query text, no addresses, no pids. */
  sessionStates: "stats.session_states",
} as const;

export interface GrafanaRoleInput {
  /** The login role, e.g. "updateio_grafana". */
  readonly role: string;
  /**
   * Grafana's own database, created here and holding only the stats schema, e.g. "updateio_grafana".
   * Not the app's database: Grafana needs no app data, so it gets no CONNECT there and sees not even
   * the app's catalog (table and column names, function bodies).
   */
  readonly database: string;
  /** File (under /run/secrets) holding the role's password. */
  readonly passwordFile: string;
  /**
   * Most sessions the role may hold at once (per server: primary and each replica). Grafana's pool
   * opens at most 5 (renderDatasources' maxOpenConns); one more lets a restarted Grafana in while
   * the server still counts a dying session.
   * @default 6
   */
  readonly connectionLimit?: number;
  /** statement_timeout of the role's sessions, in seconds: a dashboard query never runs longer. @default 10 */
  readonly statementTimeoutSeconds?: number;
}

export const GRAFANA_ROLE_DEFAULTS = { connectionLimit: 6, statementTimeoutSeconds: 10 } as const;

/** The NOLOGIN role that owns the stats functions and holds pg_read_all_stats for them. */
export function grafanaStatsOwnerRole(role: string): string {
  return `${role}_stats`;
}

/**
 * First-boot SQL for Grafana's role. Grafana's only Postgres query is the sessions table (state of
 * every client session); the alerts all query Prometheus. So the role gets:
 *
 * - CONNECT on its own database only (REVOKE ALL FROM PUBLIC first: no TEMPORARY either), where a
 *   `stats` schema owned by the superuser holds one function, and EXECUTE on that function only;
 * - no membership in pg_monitor or pg_read_all_stats: either would show it the full text of every
 *   session's current query, literals (app data) included. Without them Postgres nulls the state of
 *   other roles' sessions, so the function is SECURITY DEFINER, owned by a NOLOGIN role that holds
 *   pg_read_all_stats (`<role>_stats`, which Grafana is not a member of and cannot SET ROLE to), and
 *   returns four columns of pg_stat_activity, never query, client address or pid. A fixed
 *   search_path keeps the definer from resolving anything the caller could plant.
 * - defence in depth, all overridable by the session itself (the privileges above are the barrier):
 *   default_transaction_read_only, statement_timeout, idle_in_transaction_session_timeout, and a
 *   connection limit so a runaway dashboard cannot eat max_connections.
 *
 * psql reads the password from the secret file (backquote substitution in \set), so it never
 * appears in this file, in Terraform JSON or on a command line. The cluster's pg_hba must let the
 * role into `database` only (PostgresExtraRole.database). Replicas get role, database and function
 * by replication, and the function answers there with the replica's sessions.
 */
export function renderGrafanaRoleSql(input: GrafanaRoleInput): string {
  const problems: string[] = [];
  const owner = grafanaStatsOwnerRole(input.role);
  if (!IDENT.test(input.role) || !IDENT.test(owner))
    problems.push(`role "${input.role}" must be a lowercase SQL identifier of at most ${63 - "_stats".length} characters`);
  if (!IDENT.test(input.database)) problems.push(`database "${input.database}" must be a lowercase SQL identifier`);
  else if (RESERVED_DATABASES.has(input.database))
    problems.push(`database "${input.database}" is reserved; give Grafana a database of its own, e.g. "updateio_grafana"`);
  if (!ABS_PATH.test(input.passwordFile))
    problems.push(`passwordFile "${input.passwordFile}" must be an absolute path of letters, digits, _ . / -`);
  const limit = input.connectionLimit ?? GRAFANA_ROLE_DEFAULTS.connectionLimit;
  if (!Number.isInteger(limit) || limit < 2 || limit > 50) problems.push(`connectionLimit ${limit} must be a whole number from 2 to 50`);
  const timeout = input.statementTimeoutSeconds ?? GRAFANA_ROLE_DEFAULTS.statementTimeoutSeconds;
  if (!Number.isInteger(timeout) || timeout < 1 || timeout > 300)
    problems.push(`statementTimeoutSeconds ${timeout} must be a whole number from 1 to 300`);
  throwIfProblems("renderGrafanaRoleSql input", problems);
  const { role, database } = input;
  const fn = `${GRAFANA_PG_STATS.sessionStates}()`;
  return `-- Generated by the UpdateIO infrastructure (Grafana's Postgres role). Runs once, on first boot.
-- Grafana reads session states through one function in a database of its own; no app data.
\\set ON_ERROR_STOP on
\\set grafana_password \`cat ${input.passwordFile}\`
CREATE ROLE ${role} LOGIN CONNECTION LIMIT ${limit} PASSWORD :'grafana_password';
\\unset grafana_password
ALTER ROLE ${role} SET default_transaction_read_only = on;
ALTER ROLE ${role} SET statement_timeout = '${timeout}s';
ALTER ROLE ${role} SET idle_in_transaction_session_timeout = '${timeout * 6}s';
-- Owns the stats functions; nobody logs in as it and ${role} is not a member.
CREATE ROLE ${owner} NOLOGIN;
GRANT pg_read_all_stats TO ${owner};
CREATE DATABASE ${database};
REVOKE ALL ON DATABASE ${database} FROM PUBLIC;
GRANT CONNECT ON DATABASE ${database} TO ${role};
\\connect ${database}
REVOKE ALL ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA ${GRAFANA_PG_STATS.schema};
GRANT USAGE ON SCHEMA ${GRAFANA_PG_STATS.schema} TO ${role};
CREATE FUNCTION ${fn}
  RETURNS TABLE (datname name, usename name, state text, backend_type text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  AS $$ SELECT a.datname, a.usename, a.state, a.backend_type FROM pg_catalog.pg_stat_activity AS a $$;
REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC;
ALTER FUNCTION ${fn} OWNER TO ${owner};
GRANT EXECUTE ON FUNCTION ${fn} TO ${role};
`;
}
