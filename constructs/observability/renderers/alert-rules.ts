// The one alert catalogue, and two renderers from it: a Prometheus rule file (checked by
// `promtool check rules` / `promtool test rules`) and a Grafana alerting provisioning file (Grafana
// does the notifying: docs/architecture.md "Metrics"). Both carry the same PromQL, so what promtool proves about
// an expression holds for the rule Grafana evaluates.
import { stringify } from "yaml";
import { CADVISOR_LABELS, DATASOURCE_UIDS } from "./observability-catalogue";

export type AlertSeverity = "critical" | "warning";

/** Rule groups (one Prometheus group and one Grafana group each). */
export type AlertGroup = "availability" | "postgres" | "redis" | "rabbitmq" | "backup" | "host" | "edge" | "logs";

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

/**
 * Label the Redis cache instance's scrape target must carry as `{ redis_role: "cache" }`. The cache
 * role (allkeys-lru) fills up to maxmemory and evicts by design, so the memory and eviction alerts
 * exclude it; every other instance (the noeviction "state" one holding sessions and rate limits, or
 * a target without the label) is watched.
 */
export const REDIS_ROLE_LABEL = "redis_role";

/** Dead-letter queues are "<queue>.dlq" (rabbitmq-definitions.ts, deadLetterQueueOf): they have no consumers on purpose. */
const DLQ_REGEX = ".+[.]dlq";

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
}

export const ALERT_DEFAULTS = {
  expectedServices: [] as readonly string[],
  redisMemoryRatio: 0.9,
  backupMaxAgeHours: 26,
  queueReadyThreshold: 1000,
  replicaLagSeconds: 30,
  diskFreeRatio: 0.1,
  edge5xxRatio: 0.05,
  edgeMinRequestsPerSecond: 0.1,
  containerRestarts: 2,
} as const;

/** Filesystems that are not the Docker data root or a volume: memory-backed or image layers. */
const PSEUDO_FS = 'fstype!~"tmpfs|ramfs|squashfs|overlay|nsfs"';

/**
 * The alert catalogue. Thresholds come from the input (validated, all problems at once); everything
 * else is fixed here so the Prometheus rule file and Grafana's rules cannot drift apart.
 */
export function alertRules(input: AlertRulesInput = {}): AlertRule[] {
  assertValidAlertInput(input);
  const o = { ...ALERT_DEFAULTS, ...definedOnly(input) };
  const svc = CADVISOR_LABELS.service;
  const envMatcher = input.environment !== undefined ? `, ${CADVISOR_LABELS.environment}="${input.environment}"` : "";
  const ours = `{${svc}!=""${envMatcher}}`;
  const withService = (expr: string, from: string) => `label_replace(${expr}, "service", "$1", "${from}", "(.+)")`;
  const pct = (ratio: number) => `${Math.round(ratio * 1000) / 10}%`;
  const caddy = "caddy_http_request_duration_seconds_count";
  const by = "sum by (job, instance, server)";

  const rules: AlertRule[] = [
    {
      name: "ScrapeTargetDown",
      group: "availability",
      expr: withService("up == 0", "job"),
      for: "2m",
      severity: "critical",
      labels: {},
      summary: "{{ $labels.job }} target {{ $labels.instance }} is down",
      description:
        "Prometheus has not been able to scrape {{ $labels.instance }} (job {{ $labels.job }}) for 2 minutes: the exporter, or the service it runs beside, is not answering. Check the container's state and logs.",
    },
  ];

  const expected = [...new Set(o.expectedServices)].sort();
  if (expected.length > 0) {
    const absents = expected.map((s) => `absent(container_last_seen{${svc}="${s}"${envMatcher}})`).join(" or ");
    rules.push({
      name: "ContainerMissing",
      group: "availability",
      expr: withService(absents, svc),
      for: "2m",
      severity: "critical",
      labels: {},
      summary: "No running container for service {{ $labels.service }}",
      description:
        "cAdvisor has seen no container labelled io.updateio.service={{ $labels.service }} for 2 minutes: every replica is stopped or removed. If all services alert at once, cAdvisor itself is down (see ScrapeTargetDown).",
    });
  }

  rules.push(
    {
      // Not changes(container_start_time_seconds): for Docker, cAdvisor reports the container's
      // *creation* time there (container/docker/handler.go: creationTime = inspect's Created), which a
      // restart-policy restart keeps. What a restart does change is the `restartcount` label cAdvisor
      // adds from inspect's RestartCount, so each restart (or replacement) starts a new series: more
      // than N restarts in 15 minutes = more than N+1 distinct series of one container.
      name: "ContainerRestarting",
      group: "availability",
      expr: withService(
        `count by (instance, name, ${svc}, ${CADVISOR_LABELS.environment}) (count_over_time(container_start_time_seconds${ours}[15m])) > ${o.containerRestarts + 1}`,
        svc,
      ),
      for: "0s",
      severity: "warning",
      labels: {},
      summary: "Container {{ $labels.name }} ({{ $labels.service }}) keeps restarting",
      description: `Container {{ $labels.name }} restarted (or was replaced) more than ${o.containerRestarts} times in 15 minutes: it is crash-looping or failing its healthcheck. Read its last logs before the next restart replaces them.`,
    },
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
    {
      name: "RedisDown",
      group: "redis",
      expr: "redis_up == 0",
      for: "1m",
      severity: "critical",
      labels: { service: "redis" },
      summary: "Redis {{ $labels.instance }} is down",
      description:
        "redis_exporter on {{ $labels.instance }} cannot reach its Redis (redis_up is 0): sessions, rate limits and locks are unavailable.",
    },
    {
      name: "RedisMemoryNearLimit",
      group: "redis",
      expr: `redis_memory_used_bytes{${REDIS_ROLE_LABEL}!="cache"} / (redis_memory_max_bytes{${REDIS_ROLE_LABEL}!="cache"} > 0) > ${o.redisMemoryRatio}`,
      for: "5m",
      severity: "critical",
      labels: { service: "redis" },
      summary: "Redis {{ $labels.instance }} is close to maxmemory",
      description: `Redis {{ $labels.instance }} uses more than ${pct(o.redisMemoryRatio)} of its maxmemory. It is a noeviction instance (sessions, rate limits): when full it refuses writes, so logins and rate-limited requests start failing. Raise its memory or find the key growth.`,
    },
    {
      name: "RedisEvictingKeys",
      group: "redis",
      expr: `rate(redis_evicted_keys_total{${REDIS_ROLE_LABEL}!="cache"}[5m]) > 0`,
      for: "0s",
      severity: "critical",
      labels: { service: "redis" },
      summary: "Redis {{ $labels.instance }} is evicting keys",
      description:
        "Redis {{ $labels.instance }} evicted keys in the last 5 minutes. It holds sessions and rate-limit windows and is meant to run with maxmemory-policy noeviction, so any eviction means users were logged out or limits reset: check its maxmemory-policy and memory.",
    },
    {
      name: "RabbitmqQueueBacklog",
      group: "rabbitmq",
      expr: `rabbitmq_queue_messages_ready{queue!~"${DLQ_REGEX}"} > ${o.queueReadyThreshold} and deriv(rabbitmq_queue_messages_ready{queue!~"${DLQ_REGEX}"}[15m]) >= 0`,
      for: "15m",
      severity: "warning",
      labels: { service: "rabbitmq" },
      summary: "Queue {{ $labels.queue }} has a growing backlog",
      description: `Queue {{ $labels.queue }} (vhost {{ $labels.vhost }}) holds more than ${o.queueReadyThreshold} ready messages and has not been shrinking for 15 minutes: consumers are too slow, stuck or failing. Check the consuming service's logs and replicas.`,
    },
    {
      name: "RabbitmqQueueWithoutConsumers",
      group: "rabbitmq",
      expr: `rabbitmq_queue_messages_ready{queue!~"${DLQ_REGEX}"} > 0 and on (instance, vhost, queue) rabbitmq_queue_consumers == 0`,
      for: "10m",
      severity: "warning",
      labels: { service: "rabbitmq" },
      summary: "Queue {{ $labels.queue }} has messages but no consumers",
      description:
        "Queue {{ $labels.queue }} (vhost {{ $labels.vhost }}) has had ready messages and no consumer for 10 minutes: the service that consumes it is down or cannot connect to the broker.",
    },
    {
      name: "RabbitmqDeadLetters",
      group: "rabbitmq",
      expr: `delta(rabbitmq_queue_messages_ready{queue=~"${DLQ_REGEX}"}[15m]) > 0`,
      for: "0s",
      severity: "warning",
      labels: { service: "rabbitmq" },
      summary: "Messages are being dead-lettered into {{ $labels.queue }}",
      description:
        "New messages arrived in dead-letter queue {{ $labels.queue }} in the last 15 minutes: they failed every delivery attempt. Inspect them before replaying; the consumer's logs say why.",
    },
    {
      name: "BackupFailed",
      group: "backup",
      expr: "updateio_backup_last_run_success == 0",
      for: "0s",
      severity: "critical",
      labels: { service: "backup" },
      summary: "The last backup run failed",
      description:
        "The backup scheduler reports that its last run failed (updateio_backup_last_run_success is 0). Read the backup container's logs and run a backup by hand once fixed.",
    },
    {
      name: "BackupTooOld",
      group: "backup",
      expr: `time() - updateio_backup_last_success_timestamp_seconds > ${o.backupMaxAgeHours * 3600}`,
      for: "5m",
      severity: "critical",
      labels: { service: "backup" },
      summary: `No successful backup for more than ${o.backupMaxAgeHours} hours`,
      description: `The last successful backup is older than ${o.backupMaxAgeHours} hours: a restore today would lose more than a day of data. Check that the backup schedule runs and succeeds.`,
    },
    {
      name: "BackupStatusMissing",
      group: "backup",
      expr: "absent(updateio_backup_last_success_timestamp_seconds)",
      for: "1h",
      severity: "critical",
      labels: { service: "backup" },
      summary: "No backup status has been reported for an hour",
      description:
        "updateio_backup_last_success_timestamp_seconds is missing: the backup scheduler has not written its status file (node-exporter textfile collector), or node-exporter is not scraped. Backups may not be running at all.",
    },
    {
      name: "BackupOffsiteFailed",
      group: "backup",
      expr: "updateio_backup_offsite_success == 0",
      for: "0s",
      severity: "warning",
      labels: { service: "backup" },
      summary: "The last backup was not copied off-site",
      description:
        "The last backup exists locally but its off-site copy failed (updateio_backup_offsite_success is 0): losing this host would lose the backups too.",
    },
    {
      name: "DiskSpaceLow",
      group: "host",
      expr: `node_filesystem_avail_bytes{${PSEUDO_FS}} / node_filesystem_size_bytes{${PSEUDO_FS}} < ${o.diskFreeRatio}`,
      for: "10m",
      severity: "critical",
      labels: { service: "host" },
      summary: "Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} is almost full",
      description: `Less than ${pct(o.diskFreeRatio)} of {{ $labels.mountpoint }} ({{ $labels.device }}) is free. Postgres, RabbitMQ and Loki stop writing when the disk fills: free space or grow the volume now.`,
    },
    {
      name: "EdgeHigh5xxRate",
      group: "edge",
      expr: `(${by} (rate(${caddy}{code=~"5.."}[5m])) / ${by} (rate(${caddy}[5m])) > ${o.edge5xxRatio}) and ${by} (rate(${caddy}[5m])) > ${o.edgeMinRequestsPerSecond}`,
      for: "5m",
      severity: "critical",
      labels: { service: "edge" },
      summary: "The edge proxy answers many 5xx on {{ $labels.server }}",
      description: `More than ${pct(o.edge5xxRatio)} of the responses of Caddy server {{ $labels.server }} ({{ $labels.instance }}) were 5xx over 5 minutes: an upstream is failing or unreachable (502/504). Check ScrapeTargetDown and ContainerMissing, then the upstream's logs.`,
    },
    {
      name: "LokiDiscardingSamples",
      group: "logs",
      expr: "sum by (job, instance, reason, tenant) (rate(loki_discarded_samples_total[5m])) > 0",
      for: "1m",
      severity: "warning",
      labels: { service: "loki" },
      summary: "Loki is discarding log lines ({{ $labels.reason }})",
      description:
        "Loki refused log lines for reason {{ $labels.reason }} (rate limits, too old, too long, stream limits): those logs are lost. Adjust the limit or the shipper's labels.",
    },
    {
      name: "LogShipperDroppingEntries",
      group: "logs",
      expr: "sum by (job, instance) (rate(loki_write_dropped_entries_total[5m])) > 0 or sum by (job, instance) (rate(promtail_dropped_entries_total[5m])) > 0",
      for: "1m",
      severity: "warning",
      labels: { service: "logs" },
      summary: "{{ $labels.job }} on {{ $labels.instance }} is dropping log entries",
      description:
        "The log shipper ({{ $labels.job }}) gave up sending entries to Loki after all retries: those logs are lost. Check that Loki is up and accepting writes.",
    },
  );

  assertValidCatalogue(rules);
  return rules;
}

// ---------------------------------------------------------------------------------------------
// Prometheus rule file

/**
 * The catalogue as a Prometheus rule file: one group per AlertGroup ("updateio-<group>"), groups
 * sorted by name, rules in catalogue order. `severity` is always a label; annotations are summary and
 * description.
 */
export function renderPrometheusRules(rules: readonly AlertRule[] = alertRules()): string {
  assertValidCatalogue(rules);
  const groups = groupsOf(rules).map(([group, list]) => ({
    name: `updateio-${group}`,
    rules: list.map((r) => ({
      alert: r.name,
      expr: r.expr,
      for: r.for,
      labels: sortedRecord({ ...r.labels, severity: r.severity }),
      annotations: { summary: r.summary, description: r.description },
    })),
  }));
  return `# Generated by constructs/renderers/alert-rules.ts: change the catalogue, not this file.\n${toYaml({ groups })}`;
}

// ---------------------------------------------------------------------------------------------
// Grafana alerting provisioning file

/** Contact point and receiver names (also the policy tree's receivers). */
export const CONTACT_POINTS = {
  telegram: "updateio-telegram",
  discord: "updateio-discord",
  /**
   * The contact point every Grafana org has in its default Alertmanager configuration. With no
   * Telegram/Discord configured the policy tree routes to it, so provisioning still validates (a
   * policy must name an existing contact point, and a contact point with no integration is not
   * created at all). It emails <example@email.com>; with SMTP off, as here, Grafana only logs the
   * failed delivery, while alerts stay visible in Grafana's alert list.
   */
  fallback: "grafana-default-email",
} as const;

export interface GrafanaAlertingInput {
  /** The catalogue to provision (alertRules(...)): the same one the Prometheus rule file comes from. */
  readonly rules: readonly AlertRule[];
  /**
   * Telegram bot. Both values are passed through to Grafana, which expands them when it reads the
   * file: prefer `$__file{/run/secrets/telegram_bot_token}` (Grafana reads the secret file, nothing
   * secret is rendered), or a Terraform token. A literal bot token is refused.
   */
  readonly telegram?: { readonly botToken: string; readonly chatId: string };
  /** Discord webhook. Same rule: `$__file{/run/secrets/discord_webhook_url}` or a Terraform token, never the literal URL. */
  readonly discord?: { readonly webhookUrl: string };
  /**
   * Where warnings go when both channels are configured (critical alerts go to both).
   * @default "telegram"
   */
  readonly warningsTo?: "telegram" | "discord";
  /** Grafana folder holding the rule groups. @default "UpdateIO" */
  readonly folder?: string;
  /** Evaluation interval of every rule group (a multiple of Grafana's 10s base interval). @default "1m" */
  readonly interval?: string;
  /** Notification timing of the policy tree. @default { groupWait: "30s", groupInterval: "5m", repeatInterval: "4h", criticalRepeatInterval: "1h" } */
  readonly timing?: {
    readonly groupWait?: string;
    readonly groupInterval?: string;
    readonly repeatInterval?: string;
    readonly criticalRepeatInterval?: string;
  };
}

export const GRAFANA_ALERTING_DEFAULTS = {
  folder: "UpdateIO",
  interval: "1m",
  warningsTo: "telegram",
  timing: { groupWait: "30s", groupInterval: "5m", repeatInterval: "4h", criticalRepeatInterval: "1h" },
} as const;

/** Prefix of the Grafana rule uids ("uio-<kebab name>", at most 40 characters). */
const UID_PREFIX = "uio-";

/**
 * Grafana alerting file provisioning (apiVersion 1): rule `groups`, `contactPoints` and the notification
 * `policies` tree, in the shape documented in Grafana's "file provisioning" page.
 *
 * Each rule is the catalogue's PromQL as query `query` against the Prometheus data source, then the
 * two expression steps Grafana's own Prometheus-rule converter builds (pkg/services/ngalert/prom):
 * math `is_number($query) || is_nan($query) || is_inf($query)` (1 for every series the query
 * returned, whatever its value: `up == 0` returns 0, which a plain "> 0" threshold would miss) and a
 * threshold "> 0" on it. No data means no series matched, which is the healthy state: noDataState OK.
 *
 * What Grafana interpolates when it reads this file (values.go in its provisioning package): contact
 * point settings and policies go through env-var and `$__file{}` expansion (hence the secret file
 * references), rule labels get env-var expansion (so no "$" in labels), annotations and query models
 * are taken raw (so `{{ $labels.x }}` and `$query` survive).
 */
export function renderGrafanaAlerting(input: GrafanaAlertingInput): string {
  assertValidGrafanaInput(input);
  const folder = input.folder ?? GRAFANA_ALERTING_DEFAULTS.folder;
  const interval = input.interval ?? GRAFANA_ALERTING_DEFAULTS.interval;
  const timing = { ...GRAFANA_ALERTING_DEFAULTS.timing, ...definedOnly(input.timing ?? {}) };
  const expr = { type: "__expr__", uid: "__expr__" };

  const groups = groupsOf(input.rules).map(([group, list]) => ({
    orgId: 1,
    name: `updateio-${group}`,
    folder,
    interval,
    rules: list.map((r) => ({
      uid: grafanaRuleUid(r.name),
      title: r.name,
      condition: "threshold",
      data: [
        {
          refId: "query",
          relativeTimeRange: { from: 600, to: 0 },
          datasourceUid: DATASOURCE_UIDS.prometheus,
          model: {
            refId: "query",
            datasource: { type: "prometheus", uid: DATASOURCE_UIDS.prometheus },
            expr: r.expr,
            instant: true,
            range: false,
            intervalMs: 1000,
            maxDataPoints: 43200,
          },
        },
        {
          refId: "prometheus_math",
          relativeTimeRange: { from: 0, to: 0 },
          datasourceUid: "__expr__",
          model: {
            refId: "prometheus_math",
            datasource: expr,
            type: "math",
            expression: "is_number($query) || is_nan($query) || is_inf($query)",
          },
        },
        {
          refId: "threshold",
          relativeTimeRange: { from: 0, to: 0 },
          datasourceUid: "__expr__",
          model: {
            refId: "threshold",
            datasource: expr,
            type: "threshold",
            expression: "prometheus_math",
            conditions: [{ evaluator: { type: "gt", params: [0] } }],
          },
        },
      ],
      noDataState: "OK",
      execErrState: "Error",
      for: r.for,
      annotations: { summary: r.summary, description: r.description },
      labels: sortedRecord({ ...r.labels, severity: r.severity }),
      isPaused: false,
    })),
  }));

  const contactPoints: object[] = [];
  if (input.telegram) {
    contactPoints.push({
      orgId: 1,
      name: CONTACT_POINTS.telegram,
      receivers: [
        {
          uid: "uio-telegram",
          type: "telegram",
          settings: { bottoken: input.telegram.botToken, chatid: input.telegram.chatId },
          disableResolveMessage: false,
        },
      ],
    });
  }
  if (input.discord) {
    contactPoints.push({
      orgId: 1,
      name: CONTACT_POINTS.discord,
      receivers: [{ uid: "uio-discord", type: "discord", settings: { url: input.discord.webhookUrl }, disableResolveMessage: false }],
    });
  }

  const configured = [input.telegram ? CONTACT_POINTS.telegram : undefined, input.discord ? CONTACT_POINTS.discord : undefined].filter(
    (name): name is (typeof CONTACT_POINTS)["telegram" | "discord"] => name !== undefined,
  );
  const warningsTo = input.warningsTo ?? GRAFANA_ALERTING_DEFAULTS.warningsTo;
  // Root receiver = where warnings (and anything unmatched) go: the chosen channel, else the only one, else Grafana's default.
  const root = configured.includes(CONTACT_POINTS[warningsTo]) ? CONTACT_POINTS[warningsTo] : (configured[0] ?? CONTACT_POINTS.fallback);
  // Critical to every configured channel: one child route per channel, all but the last with `continue`.
  const criticalRoutes = configured.map((receiver, i) => ({
    receiver,
    object_matchers: [["severity", "=", "critical"]],
    ...(i < configured.length - 1 ? { continue: true } : {}),
    repeat_interval: timing.criticalRepeatInterval,
  }));
  const policies = [
    {
      orgId: 1,
      receiver: root,
      group_by: ["alertname", "service"],
      group_wait: timing.groupWait,
      group_interval: timing.groupInterval,
      repeat_interval: timing.repeatInterval,
      ...(criticalRoutes.length > 0 ? { routes: criticalRoutes } : {}),
    },
  ];

  const doc = { apiVersion: 1, groups, ...(contactPoints.length > 0 ? { contactPoints } : {}), policies };
  return `# Generated by constructs/renderers/alert-rules.ts: change the catalogue, not this file.\n${toYaml(doc)}`;
}

/** Grafana rule uid of an alert: "uio-" + kebab-case name (Grafana allows 40 characters of [a-zA-Z0-9-_]). */
export function grafanaRuleUid(name: string): string {
  return (
    UID_PREFIX +
    name
      .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
      .replace(/([A-Z])([A-Z][a-z])/g, "$1-$2")
      .toLowerCase()
  );
}

/**
 * Whether a value handed in for a secret setting is a reference, not the secret: Grafana's
 * `$__file{/abs/path}` (or `$__env{NAME}`) expansion, or an unresolved Terraform token (rendered
 * at apply time).
 */
export function isSecretReference(value: string): boolean {
  return (
    /^\$__file\{\/[^{}\s]+\}$/.test(value) || /^\$__env\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(value) || /\$\{TfToken\[[^\]]+\]\}/.test(value)
  );
}

// ---------------------------------------------------------------------------------------------
// validation and helpers

const NAME = /^[A-Z][A-Za-z0-9]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SERVICE_NAME = /^[a-z0-9][a-z0-9_.-]*$/;
/** Prometheus durations ("5m", "1h30m", "0s"); Grafana parses `for` and intervals with the same parser. */
export const PROM_DURATION = /^(?:0|(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?)$/;

function assertValidAlertInput(input: AlertRulesInput): void {
  const problems: string[] = [];
  if (input.environment !== undefined && !SERVICE_NAME.test(input.environment)) {
    problems.push(
      `environment ${JSON.stringify(input.environment)} is not an io.updateio.environment value: use lowercase letters, digits, "-", e.g. "prod".`,
    );
  }
  (input.expectedServices ?? []).forEach((s, i) => {
    if (!SERVICE_NAME.test(s))
      problems.push(
        `expectedServices[${i}] ${JSON.stringify(s)} is not an io.updateio.service value: use lowercase letters, digits, "-", "_", ".", e.g. "api".`,
      );
  });
  const ratio = (key: keyof AlertRulesInput, value: number | undefined, example: string) => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0 && value < 1))
      problems.push(`${key} ${String(value)} must be a ratio strictly between 0 and 1, e.g. ${example}.`);
  };
  const positive = (key: keyof AlertRulesInput, value: number | undefined, example: string, integer: boolean) => {
    if (value !== undefined && !(Number.isFinite(value) && value > 0 && (!integer || Number.isInteger(value)))) {
      problems.push(`${key} ${String(value)} must be a positive ${integer ? "integer" : "number"}, e.g. ${example}.`);
    }
  };
  ratio("redisMemoryRatio", input.redisMemoryRatio, "0.9");
  ratio("diskFreeRatio", input.diskFreeRatio, "0.1");
  ratio("edge5xxRatio", input.edge5xxRatio, "0.05");
  positive("backupMaxAgeHours", input.backupMaxAgeHours, "26 (daily backups plus slack)", true);
  positive("queueReadyThreshold", input.queueReadyThreshold, "1000", true);
  positive("replicaLagSeconds", input.replicaLagSeconds, "30", true);
  positive("edgeMinRequestsPerSecond", input.edgeMinRequestsPerSecond, "0.1", false);
  positive("containerRestarts", input.containerRestarts, "2", true);
  throwIfAny("alert rules input", problems);
}

function assertValidCatalogue(rules: readonly AlertRule[]): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  rules.forEach((r, i) => {
    const at = `rules[${i}] (${r.name})`;
    if (!NAME.test(r.name)) problems.push(`${at}.name must be PascalCase letters and digits, e.g. "PostgresDown".`);
    if (seen.has(r.name)) problems.push(`${at}.name is used twice: alert names are unique (Grafana titles and uids come from them).`);
    seen.add(r.name);
    if (grafanaRuleUid(r.name).length > 40)
      problems.push(`${at}.name is too long: Grafana rule uids ("${grafanaRuleUid(r.name)}") allow 40 characters; shorten the name.`);
    if (r.expr.trim() === "") problems.push(`${at}.expr is empty: give the PromQL whose result series are the alerts.`);
    if (!PROM_DURATION.test(r.for))
      problems.push(`${at}.for ${JSON.stringify(r.for)} is not a Prometheus duration: write e.g. "0s", "5m" or "1h".`);
    if (r.severity !== "critical" && r.severity !== "warning") problems.push(`${at}.severity must be "critical" or "warning".`);
    for (const [k, v] of Object.entries(r.labels)) {
      if (!LABEL_NAME.test(k) || k.startsWith("__") || k === "severity" || k === "alertname") {
        problems.push(
          `${at}.labels.${k} is not a usable label name: use [a-zA-Z_][a-zA-Z0-9_]*, not "severity" (set by severity), "alertname" or a "__" prefix.`,
        );
      }
      if (v.includes("$") || v === "")
        problems.push(`${at}.labels.${k} ${JSON.stringify(v)} must be a non-empty value without "$" (Grafana expands env vars in labels).`);
    }
    for (const key of ["summary", "description"] as const) {
      const text = r[key];
      if (text.trim() === "") problems.push(`${at}.${key} is empty: say what broke and where to look.`);
      if (text.includes("${"))
        problems.push(`${at}.${key} contains "\${": Grafana would expand it as an env var; use only {{ $labels.<name> }}.`);
      const templates = text.match(/\{\{.*?\}\}/g) ?? [];
      for (const t of templates) {
        if (!/^\{\{ \$labels\.[a-zA-Z_][a-zA-Z0-9_]* \}\}$/.test(t))
          problems.push(`${at}.${key} uses ${t}: only "{{ $labels.<name> }}" renders the same in Prometheus and Grafana.`);
      }
    }
  });
  throwIfAny("alert catalogue", problems);
}

function assertValidGrafanaInput(input: GrafanaAlertingInput): void {
  const problems: string[] = [];
  try {
    assertValidCatalogue(input.rules);
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (input.rules.length === 0)
    problems.push("rules is empty: pass alertRules(...), the catalogue the Prometheus rule file is rendered from.");
  if (input.telegram) {
    const { botToken, chatId } = input.telegram;
    if (!isSecretReference(botToken)) {
      problems.push(
        `telegram.botToken is not a reference: pass "$__file{/run/secrets/telegram_bot_token}" (Grafana reads the secret file) or a Terraform token, never the token itself (it would be written into the rendered file).`,
      );
    }
    if (!isSecretReference(chatId) && !/^-?\d+$/.test(chatId) && !/^@[A-Za-z0-9_]{5,}$/.test(chatId)) {
      problems.push(
        `telegram.chatId ${JSON.stringify(chatId)} is not a chat id: use the numeric id (e.g. "-1001234567890"), "@channelname", or a $__file{...} reference.`,
      );
    }
  }
  if (input.discord && !isSecretReference(input.discord.webhookUrl)) {
    problems.push(
      `discord.webhookUrl is not a reference: pass "$__file{/run/secrets/discord_webhook_url}" (Grafana reads the secret file) or a Terraform token, never the URL itself (it embeds the webhook's secret).`,
    );
  }
  if (input.warningsTo !== undefined && input.warningsTo !== "telegram" && input.warningsTo !== "discord")
    problems.push(`warningsTo must be "telegram" or "discord".`);
  if (input.warningsTo !== undefined && !input[input.warningsTo]) {
    problems.push(
      `warningsTo is "${input.warningsTo}" but ${input.warningsTo} is not configured: configure it, or point warningsTo at a configured channel.`,
    );
  }
  if (input.folder !== undefined && (input.folder.trim() === "" || input.folder.includes("$") || input.folder.includes("/"))) {
    problems.push(`folder ${JSON.stringify(input.folder)} must be a non-empty title without "$" or "/", e.g. "UpdateIO".`);
  }
  if (
    input.interval !== undefined &&
    !(PROM_DURATION.test(input.interval) && durationSeconds(input.interval) >= 10 && durationSeconds(input.interval) % 10 === 0)
  ) {
    problems.push(
      `interval ${JSON.stringify(input.interval)} must be a duration that is a multiple of Grafana's 10s base interval, e.g. "1m".`,
    );
  }
  for (const [key, value] of Object.entries(input.timing ?? {})) {
    if (value !== undefined && !(PROM_DURATION.test(value) && durationSeconds(value) > 0))
      problems.push(`timing.${key} ${JSON.stringify(value)} must be a positive duration, e.g. "5m".`);
  }
  throwIfAny("Grafana alerting input", problems);
}

/** Seconds in a Prometheus duration (already checked against PROM_DURATION). */
export function durationSeconds(value: string): number {
  const units: Record<string, number> = { y: 31_536_000, w: 604_800, d: 86_400, h: 3_600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  for (const [, n, unit] of value.matchAll(/(\d+)(ms|y|w|d|h|m|s)/g)) total += Number(n) * units[unit!]!;
  return total;
}

function groupsOf(rules: readonly AlertRule[]): [AlertGroup, AlertRule[]][] {
  const map = new Map<AlertGroup, AlertRule[]>();
  for (const r of rules) map.set(r.group, [...(map.get(r.group) ?? []), r]);
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function sortedRecord(record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Optional input keys that are set (so `{ ...defaults, ...definedOnly(input) }` keeps defaults for `undefined`). */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * YAML 1.1 output: Prometheus and Grafana parse with Go YAML libraries, so strings such as "on" or
 * "-100123" must come out quoted; no anchors/aliases for shared objects; no line folding.
 */
export function toYaml(value: unknown): string {
  return stringify(value, { version: "1.1", lineWidth: 0, aliasDuplicateObjects: false });
}

function throwIfAny(what: string, problems: readonly string[]): void {
  if (problems.length > 0) {
    throw new Error(
      `Invalid ${what} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
}
