// PostgreSQL: exporter health, backups (textfile metrics), connections, replication, and live
// session states read through Grafana's own restricted role.
import { GRAFANA_PG_STATS } from "../../postgres/renderers/postgres-grafana";
import { DASHBOARD_UIDS, job, prom, promInstant, sql, upMapping, type DashboardSpec } from "./panels";

const pg = job("postgres");
const dbs = `${pg}, datname!~"template.*"`;
export const POSTGRES_DASHBOARD: DashboardSpec = {
  uid: DASHBOARD_UIDS.postgres,
  title: "UpdateIO / PostgreSQL",
  tags: ["updateio", "postgres"],
  panels: [
    {
      title: "Postgres up",
      type: "stat",
      w: 6,
      h: 4,
      queries: [promInstant(`min by (instance) (pg_up{${pg}})`, "{{instance}}")],
      mappings: upMapping,
    },
    {
      title: "Last successful backup age",
      type: "stat",
      w: 6,
      h: 4,
      description: "Seconds since the last backup run that succeeded (textfile metrics of the backup scheduler).",
      queries: [promInstant(`time() - max(updateio_backup_last_success_timestamp_seconds{${job("node")}})`)],
      unit: "s",
      thresholds: [
        [26 * 3600, "orange"],
        [50 * 3600, "red"],
      ],
    },
    {
      title: "Last backup run result",
      type: "stat",
      w: 6,
      h: 4,
      queries: [promInstant(`max(updateio_backup_last_run_success{${job("node")}})`)],
      mappings: { "0": ["failed", "red"], "1": ["succeeded", "green"] },
    },
    {
      title: "Last off-site copy result",
      type: "stat",
      w: 6,
      h: 4,
      queries: [promInstant(`max(updateio_backup_offsite_success{${job("node")}})`)],
      mappings: { "0": ["failed", "red"], "1": ["succeeded", "green"] },
    },
    {
      title: "Connections vs max_connections",
      type: "timeseries",
      w: 12,
      h: 8,
      queries: [
        prom(`sum by (instance) (pg_stat_database_numbackends{${pg}})`, "{{instance}} connections"),
        prom(`max by (instance) (pg_settings_max_connections{${pg}})`, "{{instance}} max_connections"),
      ],
      min: 0,
    },
    {
      title: "Replication lag",
      type: "timeseries",
      w: 12,
      h: 8,
      description: "Time since the last transaction a replica replayed; on an idle primary this grows although nothing is missing.",
      queries: [
        prom(
          `max by (instance) (pg_replication_lag_seconds{${pg}}) and on (instance) (pg_replication_is_replica{${pg}} == 1)`,
          "{{instance}}",
        ),
      ],
      unit: "s",
      min: 0,
    },
    {
      title: "Commits and rollbacks",
      type: "timeseries",
      w: 12,
      h: 8,
      queries: [
        prom(`sum by (datname) (rate(pg_stat_database_xact_commit{${dbs}}[$__rate_interval]))`, "{{datname}} commits"),
        prom(`sum by (datname) (rate(pg_stat_database_xact_rollback{${dbs}}[$__rate_interval]))`, "{{datname}} rollbacks"),
      ],
      unit: "ops",
      min: 0,
    },
    {
      title: "Database size",
      type: "timeseries",
      w: 12,
      h: 8,
      queries: [prom(`max by (datname) (pg_database_size_bytes{${dbs}})`, "{{datname}}")],
      unit: "bytes",
      min: 0,
    },
    {
      title: "Sessions by state (pg_stat_activity)",
      type: "table",
      w: 24,
      h: 8,
      description: `Client sessions of every role, read live through ${GRAFANA_PG_STATS.sessionStates}(): states only, never query text.`,
      queries: [
        sql(
          [
            "SELECT datname AS database, usename AS role, coalesce(state, 'unknown') AS state, count(*) AS sessions",
            // Grafana's role has no pg_read_all_stats (it would show every query's text); this
            // function returns the states of every session and nothing else (renderGrafanaRoleSql).
            `FROM ${GRAFANA_PG_STATS.sessionStates}()`,
            "WHERE datname IS NOT NULL AND backend_type = 'client backend'",
            "GROUP BY 1, 2, 3",
            "ORDER BY sessions DESC, database, role, state",
          ].join("\n"),
        ),
      ],
    },
  ],
};
