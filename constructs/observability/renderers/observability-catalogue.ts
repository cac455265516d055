/**
 * The observability contract shared by the Prometheus, alerting, Grafana and log renderers: data
 * source uids, the log labels the shippers attach, the scrape jobs, and the metric names each job
 * produces. Dashboards and alert rules may only use names listed here (tests check it), so a
 * renamed exporter metric is caught at test time, not on the night an alert should have fired.
 */

/** Fixed Grafana data source uids (dashboards and alert rules reference them). */
export const DATASOURCE_UIDS = {
  prometheus: "prometheus",
  loki: "loki",
  postgres: "postgres-readonly",
} as const;

/**
 * Labels every log stream carries in Loki (set by Alloy or Promtail from the container's
 * io.updateio.* labels and Docker metadata). `level` is extracted from JSON logs and kept as a
 * label because it has few values; request and trace ids stay in the line (structured metadata in
 * Alloy), never labels, so streams stay few.
 */
export const LOG_LABELS = ["environment", "service", "component", "container", "stream", "level"] as const;
export type LogLabel = (typeof LOG_LABELS)[number];

/** Fields the UpdateIO services write in their JSON log lines (parsed by the shipper). */
export const APP_LOG_FIELDS = { level: "level", message: "msg", requestId: "request_id", traceId: "trace_id", status: "status" } as const;

/** Scrape job names (the `job` label) and where each one's metrics come from. */
export const SCRAPE_JOBS = {
  prometheus: { port: 9090, path: "/metrics" },
  postgres: { port: 9187, path: "/metrics" },
  redis: { port: 9121, path: "/metrics" },
  /** RabbitMQ's built-in rabbitmq_prometheus plugin; per-object metrics carry the queue label. */
  rabbitmq: { port: 15692, path: "/metrics/per-object" },
  cadvisor: { port: 8080, path: "/metrics" },
  node: { port: 9100, path: "/metrics" },
  /** Caddy's metrics handler, served on a port only the monitoring network reaches. */
  edge: { port: 9180, path: "/metrics" },
  loki: { port: 3100, path: "/metrics" },
  alloy: { port: 12345, path: "/metrics" },
  promtail: { port: 9080, path: "/metrics" },
  grafana: { port: 3000, path: "/metrics" },
  /**
   * The app services' own /metrics (prom-client), on each service's port and path (its entry's
   * `metrics`): one scrape config per service, `app-<service>`, every series labelled job="app".
   */
  app: { port: 3000, path: "/metrics" },
} as const;
export type ScrapeJob = keyof typeof SCRAPE_JOBS;

/**
 * An io.updateio.service or .environment value as the alerts and the expected-services file put it
 * in a label value: nothing there would have to be escaped.
 */
export const LABEL_VALUE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** One series per service the stack declares, from node-exporter's live config (renderExpectedServices). */
export const EXPECTED_SERVICE_METRIC = "updateio_expected_service";

/**
 * Metric names we rely on, by job. Every job also has Prometheus' own `up`. Names follow the
 * exporters' documentation for the pinned versions (see environments/images.ts).
 */
export const METRICS: Readonly<Record<ScrapeJob | "backup" | "volumes" | "restoreDrill" | "expected", readonly string[]>> = {
  prometheus: ["prometheus_tsdb_head_series", "prometheus_rule_evaluation_failures_total"],
  // prometheuscommunity/postgres-exporter (one per Postgres node).
  postgres: [
    "pg_up",
    "pg_stat_database_numbackends",
    "pg_settings_max_connections",
    "pg_replication_lag_seconds",
    "pg_replication_is_replica",
    "pg_stat_database_xact_commit",
    "pg_stat_database_xact_rollback",
    "pg_stat_database_deadlocks",
    "pg_database_size_bytes",
  ],
  // oliver006/redis_exporter.
  redis: [
    "redis_up",
    "redis_memory_used_bytes",
    "redis_memory_max_bytes",
    "redis_evicted_keys_total",
    "redis_keyspace_hits_total",
    "redis_keyspace_misses_total",
    "redis_connected_clients",
    "redis_connected_slaves",
    "redis_commands_processed_total",
  ],
  // rabbitmq_prometheus, /metrics/per-object.
  rabbitmq: [
    "rabbitmq_queue_messages_ready",
    "rabbitmq_queue_messages_unacked",
    "rabbitmq_queue_consumers",
    "rabbitmq_queue_messages_published_total",
    "rabbitmq_identity_info",
    "rabbitmq_alarms_memory_used_watermark",
    "rabbitmq_alarms_free_disk_space_watermark",
  ],
  // cAdvisor: container_label_io_updateio_<label> carries our container labels.
  cadvisor: [
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "container_spec_memory_limit_bytes",
    "container_start_time_seconds",
    "container_last_seen",
  ],
  // prom/node-exporter (filesystem of the Docker data root, textfile collector).
  node: ["node_filesystem_avail_bytes", "node_filesystem_size_bytes", "node_textfile_scrape_error"],
  // Caddy's metrics (http handler metrics on).
  edge: ["caddy_http_request_duration_seconds_count", "caddy_http_requests_total", "caddy_http_requests_in_flight"],
  loki: [
    "loki_distributor_lines_received_total",
    "loki_discarded_samples_total",
    "loki_request_duration_seconds_count",
    "loki_ingester_memory_streams",
  ],
  // Alloy's loki.write component.
  alloy: ["loki_write_sent_entries_total", "loki_write_dropped_entries_total", "loki_write_request_duration_seconds_count"],
  promtail: ["promtail_sent_entries_total", "promtail_dropped_entries_total"],
  grafana: ["grafana_alerting_active_alerts"],
  // The services choose their own metric names; the alerts rely on `up` only.
  app: [],
  // Written by the backup scheduler into the backups volume, read by node-exporter's textfile collector.
  backup: [
    "updateio_backup_last_run_success",
    "updateio_backup_last_run_timestamp_seconds",
    "updateio_backup_last_success_timestamp_seconds",
    "updateio_backup_offsite_success",
  ],
  // Written by the volume-usage job (VolumeUsage) into the same textfile directory.
  volumes: [
    "updateio_volume_used_bytes",
    "updateio_volume_budget_bytes",
    "updateio_volume_usage_last_run_timestamp_seconds",
    "updateio_volume_usage_last_run_success",
  ],
  // node-exporter's live config of the services the stack declares (ContainerMissing's list).
  expected: [EXPECTED_SERVICE_METRIC],
  // Written by the Postgres restore drill (PostgresRestoreDrill) into the same textfile directory.
  restoreDrill: [
    "updateio_restore_drill_success",
    "updateio_restore_drill_last_run_timestamp_seconds",
    "updateio_restore_drill_last_success_timestamp_seconds",
    "updateio_restore_drill_tables_checked",
    "updateio_restore_drill_tables_failed",
    "updateio_restore_drill_duration_seconds",
    "updateio_restore_drill_dump_timestamp_seconds",
    "updateio_restore_drill_interval_seconds",
  ],
};

/** Container labels as cAdvisor exposes them (dots and dashes become underscores). */
export const CADVISOR_LABELS = {
  environment: "container_label_io_updateio_environment",
  service: "container_label_io_updateio_service",
  component: "container_label_io_updateio_component",
} as const;

/** Every metric name any job produces, for "does this query name a real metric" checks. */
export function knownMetricNames(): Set<string> {
  const names = new Set<string>(["up", "ALERTS", "scrape_duration_seconds"]);
  for (const list of Object.values(METRICS)) for (const name of list) names.add(name);
  return names;
}
