// PostgreSQL: exporter health, backups (textfile metrics), connections, replication, and live
// session states read through Grafana's own restricted role.
import { GRAFANA_PG_STATS } from "../../postgres/renderers/postgres-grafana";
import { dashboard, job, prom, promInstant, sql, stat, timeseries, upMapping } from "./panels";

const pg = job("postgres");
const dbs = `${pg}, datname!~"template.*"`;
const resultMapping = { "0": ["failed", "red"], "1": ["succeeded", "green"] } as const;
export const POSTGRES_DASHBOARD = dashboard("postgres", "PostgreSQL", [
  stat("Postgres up", { w: 6, h: 4 }, [promInstant(`min by (instance) (pg_up{${pg}})`, "{{instance}}")], { mappings: upMapping }),
  stat(
    "Last successful backup age",
    { w: 6, h: 4 },
    [promInstant(`time() - max(updateio_backup_last_success_timestamp_seconds{${job("node")}})`)],
    {
      description: "Seconds since the last backup run that succeeded (textfile metrics of the backup scheduler).",
      unit: "s",
      thresholds: [
        [26 * 3600, "orange"],
        [50 * 3600, "red"],
      ],
    },
  ),
  stat("Last backup run result", { w: 6, h: 4 }, [promInstant(`max(updateio_backup_last_run_success{${job("node")}})`)], {
    mappings: resultMapping,
  }),
  stat("Last off-site copy result", { w: 6, h: 4 }, [promInstant(`max(updateio_backup_offsite_success{${job("node")}})`)], {
    mappings: resultMapping,
  }),
  timeseries("Connections vs max_connections", [
    prom(`sum by (instance) (pg_stat_database_numbackends{${pg}})`, "{{instance}} connections"),
    prom(`max by (instance) (pg_settings_max_connections{${pg}})`, "{{instance}} max_connections"),
  ]),
  timeseries(
    "Replication lag",
    [
      prom(
        `max by (instance) (pg_replication_lag_seconds{${pg}}) and on (instance) (pg_replication_is_replica{${pg}} == 1)`,
        "{{instance}}",
      ),
    ],
    {
      description: "Time since the last transaction a replica replayed; on an idle primary this grows although nothing is missing.",
      unit: "s",
    },
  ),
  timeseries(
    "Commits and rollbacks",
    [
      prom(`sum by (datname) (rate(pg_stat_database_xact_commit{${dbs}}[$__rate_interval]))`, "{{datname}} commits"),
      prom(`sum by (datname) (rate(pg_stat_database_xact_rollback{${dbs}}[$__rate_interval]))`, "{{datname}} rollbacks"),
    ],
    { unit: "ops" },
  ),
  timeseries("Database size", [prom(`max by (datname) (pg_database_size_bytes{${dbs}})`, "{{datname}}")], { unit: "bytes" }),
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
]);
