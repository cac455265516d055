// Postgres: the exporter's connection to its server, and replica lag (postgres-exporter).
import type { CatalogueContext } from "./context";
import type { AlertRule } from "./types";

export function postgresAlerts({ o }: CatalogueContext): AlertRule[] {
  return [
    {
      name: "PostgresDown",
      group: "postgres",
      expr: "pg_up == 0",
      for: "1m",
      severity: "critical",
      labels: { service: "postgres" },
      summary: "Postgres {{ $labels.instance }} is down",
      description:
        "postgres-exporter on {{ $labels.instance }} cannot connect to its database (pg_up is 0): the server is down, refusing connections or out of connection slots.",
    },
    {
      name: "PostgresReplicationLag",
      group: "postgres",
      expr: `pg_replication_lag_seconds > ${o.replicaLagSeconds}`,
      for: "5m",
      severity: "warning",
      labels: { service: "postgres" },
      summary: "Postgres replica {{ $labels.instance }} lags its primary",
      description: `Replica {{ $labels.instance }} has replayed nothing from its primary for more than ${o.replicaLagSeconds} seconds while behind (pg_replication_lag_seconds): reads there are stale and a failover to it would lose those transactions. Check the replica's logs and the replication slot on the primary.`,
    },
  ];
}
