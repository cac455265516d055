// Types and defaults of the alert catalogue: what one rule is, which groups exist, and the
// thresholds the catalogue takes from the environment's configuration.
export type AlertSeverity = "critical" | "warning";

/** Rule groups (one Prometheus group and one Grafana group each). */
export type AlertGroup = "availability" | "postgres" | "redis" | "rabbitmq" | "backup" | "host" | "edge" | "logs" | "capacity";

export interface AlertRule {
  /** Alert name (the `alertname` label, the Grafana title): PascalCase, unique. */
  readonly name: string;
  readonly group: AlertGroup;
  /** PromQL; any series it returns is an alert (Prometheus semantics; Grafana gets the same via its math/threshold steps). */
  readonly expr: string;
  /** How long the expression must hold before the alert fires (Prometheus duration, e.g. "5m", "0s"). */
  readonly for: string;
  readonly severity: AlertSeverity;
  /**
   * Static labels added to the alert. `service` is set here when the alert is about one fixed
   * service; alerts about any target or container derive `service` in the expression instead
   * (label_replace), so it is absent here. Never a "$" in a value: Grafana expands env vars in labels.
   */
  readonly labels: Readonly<Record<string, string>>;
  /** One line. Only `{{ $labels.<name> }}` templating (identical in Prometheus and Grafana). */
  readonly summary: string;
  /** What it means and where to look first. Same templating rule as summary. */
  readonly description: string;
}

export interface AlertRulesInput {
  /**
   * Environment whose containers the cAdvisor alerts look at (matched on the container's
   * io.updateio.environment label), so several stacks on one Docker host don't alert for each other.
   * @default undefined (every container with an io.updateio.service label)
   */
  readonly environment?: string;
  /**
   * Services (io.updateio.service values) that must always have a running container; each one with
   * none fires ContainerMissing. A replicated service alerts only when all its replicas are gone.
   * Empty: no ContainerMissing rule.
   * @default []
   */
  readonly expectedServices?: readonly string[];
  /**
   * Where ContainerMissing reads expectedServices from. "rule": the rule names each service
   * (absent() per service), so a new service changes the rule file, and Prometheus and Grafana are
   * replaced to load it. "metric": the rule compares the `updateio_expected_service` series that
   * node-exporter publishes from its live config (renderExpectedServices) with cAdvisor's
   * containers and names no service; only that file changes. Use "metric" only where node-exporter
   * publishes the list: without the series the rule never fires.
   * @default "rule"
   */
  readonly expectedServicesFrom?: "rule" | "metric";
  /** Redis used/maxmemory ratio above which RedisMemoryNearLimit fires. @default 0.9 */
  readonly redisMemoryRatio?: number;
  /** Age of the last successful backup (hours) above which BackupTooOld fires: daily backups plus slack. @default 26 */
  readonly backupMaxAgeHours?: number;
  /** Ready messages in one queue above which a backlog that is not shrinking fires RabbitmqQueueBacklog. @default 1000 */
  readonly queueReadyThreshold?: number;
  /** Replica replay lag (seconds) above which PostgresReplicationLag fires. @default 30 */
  readonly replicaLagSeconds?: number;
  /** Free-space ratio of a filesystem below which DiskSpaceLow fires. @default 0.1 */
  readonly diskFreeRatio?: number;
  /** Share of edge responses that are 5xx above which EdgeHigh5xxRate fires. @default 0.05 */
  readonly edge5xxRatio?: number;
  /** Requests per second a Caddy server must see before its 5xx ratio counts (one 502 at 3 a.m. is not 33%). @default 0.1 */
  readonly edgeMinRequestsPerSecond?: number;
  /** Container restarts within 15 minutes above which ContainerRestarting fires. @default 2 */
  readonly containerRestarts?: number;
  /** Share of a volume's size budget above which VolumeNearBudget (warning) fires. @default 0.8 */
  readonly volumeBudgetWarningRatio?: number;
  /** Share of a volume's size budget above which VolumeOverBudget (critical) fires. @default 0.9 */
  readonly volumeBudgetCriticalRatio?: number;
  /**
   * Docker's data root on the host (`docker info -f '{{.DockerRootDir}}'`): the disk alerts watch
   * the filesystems mounted at it or at one of its parents (whichever holds it).
   * @default "/var/lib/docker"
   */
  readonly dockerDataRoot?: string;
  /**
   * Free bytes on the Docker data root below which DockerDiskLow (critical) fires: above RabbitMQ's
   * disk_free_limit (1 GB, when it blocks publishers) with room to act, and Postgres stops at 0.
   * @default 2147483648 (2 GiB)
   */
  readonly diskMinFreeBytes?: number;
  /** DockerDiskFillingUp (warning) fires when the last 6h's trend empties the disk within this many hours. @default 24 */
  readonly diskFillWarningHours?: number;
  /** DockerDiskFillingFast (critical) fires when the last hour's trend reaches diskMinFreeBytes within this many hours. @default 4 */
  readonly diskFillCriticalHours?: number;
  /** Seconds between scheduled Postgres restore drills (PostgresRestoreDrill.intervalSeconds); RestoreDrillNotRun fires after 1.5 of them. @default 86400 */
  readonly restoreDrillIntervalSeconds?: number;
  /**
   * The stores backed up by ScheduledBackup (metrics labelled store="<store>"), each with the age
   * (hours) of its last success above which BackupTooOld fires for it, and BackupStatusMissing when
   * its status is absent. The Postgres backup (no store label) keeps backupMaxAgeHours.
   * @default [] (the two rules watch the Postgres backup's series alone)
   */
  readonly backupStores?: readonly BackupStoreAlert[];
}

export interface BackupStoreAlert {
  /** The `store` label, e.g. "redis". */
  readonly store: string;
  /** Hours since the last success before BackupTooOld fires: the interval plus slack. */
  readonly maxAgeHours: number;
}

export const ALERT_DEFAULTS = {
  expectedServices: [] as readonly string[],
  expectedServicesFrom: "rule" as "rule" | "metric",
  redisMemoryRatio: 0.9,
  backupMaxAgeHours: 26,
  queueReadyThreshold: 1000,
  replicaLagSeconds: 30,
  diskFreeRatio: 0.1,
  edge5xxRatio: 0.05,
  edgeMinRequestsPerSecond: 0.1,
  containerRestarts: 2,
  volumeBudgetWarningRatio: 0.8,
  volumeBudgetCriticalRatio: 0.9,
  dockerDataRoot: "/var/lib/docker",
  diskMinFreeBytes: 2 * 1024 ** 3,
  diskFillWarningHours: 24,
  diskFillCriticalHours: 4,
  restoreDrillIntervalSeconds: 86400,
  backupStores: [] as readonly BackupStoreAlert[],
} as const;

/** The thresholds with defaults applied (alertRules' input minus the environment). */
export type AlertThresholds = Readonly<Required<Omit<AlertRulesInput, "environment">>>;
