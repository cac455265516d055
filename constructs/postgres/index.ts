/** Public API of the postgres module. */
export * from "./postgres-cluster";
export * from "./postgres-backup";
export * from "./renderers/backup-scripts";
export * from "./renderers/pgbouncer";
export * from "./renderers/postgres-grafana";
export * from "./renderers/postgres-hba";
export * from "./renderers/postgres-monitor";
export * from "./renderers/postgres-offsite";
export * from "./renderers/postgres-reload";
export * from "./renderers/postgres-settings";
export * from "./renderers/postgres";
export * from "./postgres-restore-drill";
export * from "./pre-migration-dump";
export * from "./renderers/pre-migration-dump";
export * from "./renderers/restore-drill-role";
