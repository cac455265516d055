import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  ALERT_DEFAULTS,
  CONTACT_POINTS,
  alertRules,
  durationSeconds,
  grafanaRuleUid,
  isSecretReference,
  renderGrafanaAlerting,
  renderPrometheusRules,
  toYaml,
  type AlertRule,
  type AlertRulesInput,
  type GrafanaAlertingInput,
} from "../../constructs/observability/renderers/alert-rules";
import {
  CADVISOR_LABELS,
  DATASOURCE_UIDS,
  METRICS,
  knownMetricNames,
} from "../../constructs/observability/renderers/observability-catalogue";
import { prometheusArgs, renderPrometheusConfig, type PrometheusConfigInput } from "../../constructs/observability/renderers/prometheus";
import { describeIfBinary } from "../support/binaries";
import { errorOf, freePort } from "../support/helpers";
import {
  pollUntil,
  promAlerts,
  promqlIdentifiers,
  promQuery,
  startPrometheus,
  stopProcess,
  writeFastPrometheusConfig,
} from "../support/promql";
import { explain, promtool } from "../support/promtool";

// ---------------------------------------------------------------------------------------------
// fixtures

const RULE_OPTIONS: AlertRulesInput = { environment: "test", expectedServices: ["api", "telegram-bot"] };
const RULES = alertRules(RULE_OPTIONS);

const CONFIG: PrometheusConfigInput = {
  environment: "prod",
  scrapeTargets: [
    { job: "prometheus", targets: ["localhost:9090"] },
    { job: "postgres", targets: ["postgres-1-exporter:9187"], labels: { instance_role: "primary" } },
    { job: "postgres", targets: ["postgres-2-exporter:9187"], labels: { instance_role: "replica" } },
    { job: "redis", targets: ["redis-exporter:9121"] },
    { job: "redis", targets: ["redis-cache-exporter:9121"], labels: { redis_role: "cache" } },
    { job: "rabbitmq", targets: ["rabbitmq:15692"] },
    { job: "cadvisor", targets: ["cadvisor:8080"] },
    { job: "node", targets: ["node-exporter:9100"] },
    { job: "edge", targets: ["edge:9180"] },
    { job: "loki", targets: ["loki:3100"] },
    { job: "alloy", targets: ["alloy:12345"] },
    { job: "grafana", targets: ["grafana:3000"] },
  ],
};

const FILE_REFS: Pick<GrafanaAlertingInput, "telegram" | "discord"> = {
  telegram: { botToken: "$__file{/run/secrets/telegram_bot_token}", chatId: "-1001234567890" },
  discord: { webhookUrl: "$__file{/run/secrets/discord_webhook_url}" },
};

const metricNamesOf = (expr: string): string[] => promqlIdentifiers(expr).metrics;

// ---------------------------------------------------------------------------------------------
// promtool unit-test table: for EVERY alert, series that make it fire (and the alerts expected) and
// series of a healthy system on which it stays quiet. Interval 1m, evaluated at 30m unless said.

interface Series {
  readonly series: string;
  readonly values: string;
}
interface AlertCase {
  readonly firing: readonly Series[];
  /** Labels of each expected alert as the expression leaves them; the rule's own labels and severity are added. */
  readonly alerts: readonly Readonly<Record<string, string>>[];
  readonly healthy: readonly Series[];
  /** @default "30m" */
  readonly evalTime?: string;
}

function s(metric: string, labels: Readonly<Record<string, string>>, values: string): Series {
  const body = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(", ");
  return { series: `${metric}{${body}}`, values };
}

const SVC = CADVISOR_LABELS.service;
const ENV = CADVISOR_LABELS.environment;
const cadvisor = { job: "cadvisor", instance: "cadvisor:8080" };
const apiContainer = { ...cadvisor, [SVC]: "api", [ENV]: "test", name: "api-1", id: "/docker/aaa", image: "ghcr.io/updateio/api:1.0.0" };
const botContainer = {
  ...cadvisor,
  [SVC]: "telegram-bot",
  [ENV]: "test",
  name: "telegram-bot-1",
  id: "/docker/bbb",
  image: "ghcr.io/updateio/telegram-bot:1.0.0",
};
const prodBotContainer = { ...botContainer, [ENV]: "prod", name: "prod-telegram-bot-1", id: "/docker/ccc" };
const pg1 = { job: "postgres", instance: "postgres-1-exporter:9187" };
const pg2 = { job: "postgres", instance: "postgres-2-exporter:9187" };
const redisState = { job: "redis", instance: "redis-exporter:9121" };
const redisCache = { job: "redis", instance: "redis-cache-exporter:9121", redis_role: "cache" };
const redisNoMax = { job: "redis", instance: "redis-other-exporter:9121" };
const rq = { job: "rabbitmq", instance: "rabbitmq:15692", vhost: "updateio" };
const node = { job: "node", instance: "node-exporter:9100" };
const disk = { ...node, device: "/dev/sda1", fstype: "ext4", mountpoint: "/var/lib/docker" };
const tmpfs = { ...node, device: "tmpfs", fstype: "tmpfs", mountpoint: "/run" };
const volume = { ...node, volume: "test-postgres-data", service: "postgres" };
const edge = { job: "edge", instance: "edge:9180" };
const srv0 = { ...edge, server: "srv0", handler: "reverse_proxy", method: "GET" };
const srv1 = { ...edge, server: "srv1", handler: "reverse_proxy", method: "GET" };
const loki = { job: "loki", instance: "loki:3100", reason: "rate_limited", tenant: "fake" };
const alloy = { job: "alloy", instance: "alloy:12345", component_id: "loki.write.default" };
const promtail = { job: "promtail", instance: "promtail:9080" };
const appApi = { job: "app", instance: "10.0.1.7:3000", service: "api" };
const BACKUP_MAX_AGE_S = ALERT_DEFAULTS.backupMaxAgeHours * 3600;

const CASES: Readonly<Record<string, AlertCase>> = {
  ScrapeTargetDown: {
    // An app target down is AppTargetDown's, with its own service label: not this alert.
    firing: [s("up", redisState, "1+0x10 0+0x30"), s("up", pg1, "1+0x40"), s("up", appApi, "0+0x40")],
    alerts: [{ ...redisState, service: "redis" }],
    healthy: [s("up", redisState, "1+0x40"), s("up", pg1, "1+0x40"), s("up", appApi, "0+0x40")],
  },
  AppTargetDown: {
    firing: [s("up", appApi, "1+0x10 0+0x30"), s("up", redisState, "0+0x40")],
    alerts: [appApi],
    // Down for 4 minutes only (a task being replaced), then back.
    healthy: [s("up", appApi, "1+0x10 0+0x4 1+0x25"), s("up", redisState, "1+0x40")],
  },
  ContainerMissing: {
    // The bot runs only in another environment on the same host: still missing for "test".
    firing: [s("container_last_seen", apiContainer, "0+60x40"), s("container_last_seen", prodBotContainer, "0+60x40")],
    alerts: [{ [SVC]: "telegram-bot", [ENV]: "test", service: "telegram-bot" }],
    healthy: [s("container_last_seen", apiContainer, "0+60x40"), s("container_last_seen", botContainer, "0+60x40")],
  },
  ContainerRestarting: {
    // As cAdvisor shows a Docker restart: the start time (= creation time) stays, the restartcount
    // label changes, so each restart is a new series ("_" = no sample). Three restarts from 20m on.
    firing: [
      s("container_start_time_seconds", apiContainer, "1000+0x20"),
      s("container_start_time_seconds", { ...apiContainer, container_label_restartcount: "1" }, "_x20 1000+0x2"),
      s("container_start_time_seconds", { ...apiContainer, container_label_restartcount: "2" }, "_x23 1000+0x2"),
      s("container_start_time_seconds", { ...apiContainer, container_label_restartcount: "3" }, "_x26 1000+0x14"),
    ],
    alerts: [{ instance: cadvisor.instance, name: "api-1", [SVC]: "api", [ENV]: "test", service: "api" }],
    // One restart is not a loop; nor are restarts an hour ago; nor a loop in another environment.
    healthy: [
      s("container_start_time_seconds", apiContainer, "1000+0x25"),
      s("container_start_time_seconds", { ...apiContainer, container_label_restartcount: "1" }, "_x25 1000+0x15"),
      s("container_start_time_seconds", botContainer, "1000+0x2"),
      s("container_start_time_seconds", { ...botContainer, container_label_restartcount: "1" }, "_x2 1000+0x2"),
      s("container_start_time_seconds", { ...botContainer, container_label_restartcount: "2" }, "_x4 1000+0x2"),
      s("container_start_time_seconds", { ...botContainer, container_label_restartcount: "3" }, "_x6 1000+0x34"),
      s("container_start_time_seconds", prodBotContainer, "1000+0x20"),
      s("container_start_time_seconds", { ...prodBotContainer, container_label_restartcount: "1" }, "_x20 1000+0x2"),
      s("container_start_time_seconds", { ...prodBotContainer, container_label_restartcount: "2" }, "_x23 1000+0x2"),
      s("container_start_time_seconds", { ...prodBotContainer, container_label_restartcount: "3" }, "_x26 1000+0x14"),
    ],
  },
  PostgresDown: {
    firing: [s("pg_up", pg1, "1+0x10 0+0x30")],
    alerts: [pg1],
    healthy: [s("pg_up", pg1, "1+0x40")],
  },
  PostgresReplicationLag: {
    firing: [s("pg_replication_lag_seconds", pg1, "0+0x40"), s("pg_replication_lag_seconds", pg2, "0+0x10 120+0x30")],
    alerts: [pg2],
    healthy: [s("pg_replication_lag_seconds", pg1, "0+0x40"), s("pg_replication_lag_seconds", pg2, "2+0x40")],
  },
  RedisDown: {
    firing: [s("redis_up", redisState, "1+0x10 0+0x30")],
    alerts: [redisState],
    healthy: [s("redis_up", redisState, "1+0x40")],
  },
  RedisMemoryNearLimit: {
    firing: [s("redis_memory_used_bytes", redisState, "50+0x10 95+0x30"), s("redis_memory_max_bytes", redisState, "100+0x40")],
    alerts: [redisState],
    // A full cache is what an LRU cache is; an instance without maxmemory (0) has no ratio.
    healthy: [
      s("redis_memory_used_bytes", redisState, "50+0x40"),
      s("redis_memory_max_bytes", redisState, "100+0x40"),
      s("redis_memory_used_bytes", redisCache, "99+0x40"),
      s("redis_memory_max_bytes", redisCache, "100+0x40"),
      s("redis_memory_used_bytes", redisNoMax, "1000+0x40"),
      s("redis_memory_max_bytes", redisNoMax, "0+0x40"),
    ],
  },
  RedisEvictingKeys: {
    firing: [s("redis_evicted_keys_total", redisState, "0+0x20 0+5x20")],
    alerts: [redisState],
    healthy: [s("redis_evicted_keys_total", redisState, "0+0x40"), s("redis_evicted_keys_total", redisCache, "0+100x40")],
  },
  RabbitmqQueueBacklog: {
    firing: [s("rabbitmq_queue_messages_ready", { ...rq, queue: "notifications.telegram" }, "0+100x40")],
    alerts: [{ ...rq, queue: "notifications.telegram" }],
    // Large but draining; small; a dead-letter queue (not a backlog of work).
    healthy: [
      s("rabbitmq_queue_messages_ready", { ...rq, queue: "notifications.telegram" }, "9000-200x40"),
      s("rabbitmq_queue_messages_ready", { ...rq, queue: "notifications.discord" }, "10+0x40"),
      s("rabbitmq_queue_messages_ready", { ...rq, queue: "notifications.discord.dlq" }, "5000+10x40"),
    ],
  },
  RabbitmqQueueWithoutConsumers: {
    firing: [
      s("rabbitmq_queue_messages_ready", { ...rq, queue: "notifications.telegram" }, "5+0x40"),
      s("rabbitmq_queue_consumers", { ...rq, queue: "notifications.telegram" }, "0+0x40"),
    ],
    alerts: [{ ...rq, queue: "notifications.telegram" }],
    healthy: [
      s("rabbitmq_queue_messages_ready", { ...rq, queue: "notifications.telegram" }, "5+0x40"),
      s("rabbitmq_queue_consumers", { ...rq, queue: "notifications.telegram" }, "2+0x40"),
      s("rabbitmq_queue_messages_ready", { ...rq, queue: "notifications.telegram.dlq" }, "7+0x40"),
      s("rabbitmq_queue_consumers", { ...rq, queue: "notifications.telegram.dlq" }, "0+0x40"),
      s("rabbitmq_queue_messages_ready", { ...rq, queue: "notifications.discord" }, "0+0x40"),
      s("rabbitmq_queue_consumers", { ...rq, queue: "notifications.discord" }, "0+0x40"),
    ],
  },
  RabbitmqDeadLetters: {
    firing: [s("rabbitmq_queue_messages_ready", { ...rq, queue: "notifications.telegram.dlq" }, "0+0x20 1+1x20")],
    alerts: [{ ...rq, queue: "notifications.telegram.dlq" }],
    // Old dead letters nobody replayed yet, and a busy work queue: nothing new was dead-lettered.
    healthy: [
      s("rabbitmq_queue_messages_ready", { ...rq, queue: "notifications.telegram.dlq" }, "3+0x40"),
      s("rabbitmq_queue_messages_ready", { ...rq, queue: "notifications.telegram" }, "0+10x40"),
    ],
  },
  BackupFailed: {
    firing: [s("updateio_backup_last_run_success", node, "1+0x20 0+0x20")],
    alerts: [node],
    healthy: [s("updateio_backup_last_run_success", node, "1+0x40")],
  },
  BackupTooOld: {
    // time() is 1800 at 30m: a success at -(max age) - 10000 s is older than the limit, one at "now" is not.
    firing: [s("updateio_backup_last_success_timestamp_seconds", node, `${-(BACKUP_MAX_AGE_S + 10_000)}+0x40`)],
    alerts: [node],
    healthy: [s("updateio_backup_last_success_timestamp_seconds", node, "0+60x40")],
  },
  BackupStatusMissing: {
    firing: [s("up", node, "1+0x80")],
    alerts: [{}],
    healthy: [s("up", node, "1+0x80"), s("updateio_backup_last_success_timestamp_seconds", node, "0+60x80")],
    evalTime: "70m",
  },
  RestoreDrillFailed: {
    firing: [s("updateio_restore_drill_success", node, "1+0x20 0+0x20")],
    alerts: [node],
    healthy: [s("updateio_restore_drill_success", node, "1+0x40")],
  },
  RestoreDrillNotRun: {
    // No drill metrics at all: fires once the 2 h hold has passed.
    firing: [s("up", node, "1+0x150")],
    alerts: [{}],
    healthy: [s("up", node, "1+0x150"), s("updateio_restore_drill_last_success_timestamp_seconds", node, "0+60x150")],
    evalTime: "130m",
  },
  BackupOffsiteFailed: {
    firing: [s("updateio_backup_offsite_success", node, "0+0x40")],
    alerts: [node],
    healthy: [s("updateio_backup_offsite_success", node, "1+0x40")],
  },
  DiskSpaceLow: {
    firing: [s("node_filesystem_avail_bytes", disk, "50+0x10 5+0x30"), s("node_filesystem_size_bytes", disk, "100+0x40")],
    alerts: [disk],
    healthy: [
      s("node_filesystem_avail_bytes", disk, "50+0x40"),
      s("node_filesystem_size_bytes", disk, "100+0x40"),
      s("node_filesystem_avail_bytes", tmpfs, "1+0x40"),
      s("node_filesystem_size_bytes", tmpfs, "100+0x40"),
    ],
  },
  EdgeHigh5xxRate: {
    // 10 req/s of 200 and 2 req/s of 502: 17% errors.
    firing: [
      s("caddy_http_request_duration_seconds_count", { ...srv0, code: "200" }, "0+600x40"),
      s("caddy_http_request_duration_seconds_count", { ...srv0, code: "502" }, "0+120x40"),
    ],
    alerts: [{ ...edge, server: "srv0" }],
    // 1% errors on a busy server; 100% errors on a server that sees 0.05 req/s.
    healthy: [
      s("caddy_http_request_duration_seconds_count", { ...srv0, code: "200" }, "0+600x40"),
      s("caddy_http_request_duration_seconds_count", { ...srv0, code: "502" }, "0+6x40"),
      s("caddy_http_request_duration_seconds_count", { ...srv1, code: "502" }, "0+3x40"),
    ],
  },
  LokiDiscardingSamples: {
    firing: [s("loki_discarded_samples_total", loki, "0+0x20 0+10x20")],
    alerts: [loki],
    healthy: [s("loki_discarded_samples_total", loki, "7+0x40")],
  },
  LogShipperDroppingEntries: {
    firing: [s("loki_write_dropped_entries_total", alloy, "0+0x20 0+3x20"), s("promtail_dropped_entries_total", promtail, "0+0x20 0+3x20")],
    alerts: [{ job: "alloy", instance: "alloy:12345" }, promtail],
    healthy: [s("loki_write_dropped_entries_total", alloy, "4+0x40"), s("promtail_dropped_entries_total", promtail, "0+0x40")],
  },
  // Capacity (timing proofs in capacity-alerts.integration.test.ts).
  VolumeNearBudget: {
    firing: [s("updateio_volume_used_bytes", volume, "850+0x40"), s("updateio_volume_budget_bytes", volume, "1000+0x40")],
    alerts: [volume],
    healthy: [s("updateio_volume_used_bytes", volume, "790+0x40"), s("updateio_volume_budget_bytes", volume, "1000+0x40")],
  },
  VolumeOverBudget: {
    firing: [s("updateio_volume_used_bytes", volume, "950+0x40"), s("updateio_volume_budget_bytes", volume, "1000+0x40")],
    alerts: [volume],
    healthy: [s("updateio_volume_used_bytes", volume, "850+0x40"), s("updateio_volume_budget_bytes", volume, "1000+0x40")],
  },
  VolumeUsageStale: {
    firing: [
      s("updateio_volume_usage_last_run_timestamp_seconds", node, "0+0x70"),
      s("updateio_volume_usage_last_run_success", node, "1+0x70"),
    ],
    alerts: [node],
    healthy: [
      s("updateio_volume_usage_last_run_timestamp_seconds", node, "0+60x70"),
      s("updateio_volume_usage_last_run_success", node, "1+0x70"),
    ],
    evalTime: "62m",
  },
  DockerDiskFillingUp: {
    firing: [s("node_filesystem_avail_bytes", disk, `${6 * 1024 ** 3}-${10 * 1024 ** 2}x60`)],
    alerts: [disk],
    healthy: [s("node_filesystem_avail_bytes", disk, `${50 * 1024 ** 3}+0x60`)],
    evalTime: "40m",
  },
  DockerDiskFillingFast: {
    firing: [s("node_filesystem_avail_bytes", disk, `${6 * 1024 ** 3}-${10 * 1024 ** 2}x200`)],
    alerts: [disk],
    healthy: [s("node_filesystem_avail_bytes", disk, `${50 * 1024 ** 3}-${10 * 1024 ** 2}x200`)],
    evalTime: "190m",
  },
  DockerDiskLow: {
    firing: [s("node_filesystem_avail_bytes", disk, `${1.5 * 1024 ** 3}+0x40`)],
    alerts: [disk],
    healthy: [s("node_filesystem_avail_bytes", disk, `${2.5 * 1024 ** 3}+0x40`), s("node_filesystem_avail_bytes", tmpfs, "1+0x40")],
  },
};

/** Expands the only templating the catalogue allows, `{{ $labels.x }}`, as Prometheus does. */
function expand(text: string, labels: Readonly<Record<string, string>>): string {
  return text.replace(/\{\{ \$labels\.([a-zA-Z_][a-zA-Z0-9_]*) \}\}/g, (_, name: string) => labels[name] ?? "<no value>");
}

/** The promtool unit-test file for `rules`: per alert, one group where it fires and one where it does not. */
function promtoolTests(rulesFile: string, rules: readonly AlertRule[], cases: Readonly<Record<string, AlertCase>>): string {
  const tests = rules.flatMap((rule) => {
    const c = cases[rule.name];
    if (c === undefined) throw new Error(`no promtool case for ${rule.name}`);
    const evalTime = c.evalTime ?? "30m";
    const expAlerts = c.alerts.map((labels) => {
      const all = { ...labels, ...rule.labels, severity: rule.severity };
      return { exp_labels: all, exp_annotations: { summary: expand(rule.summary, all), description: expand(rule.description, all) } };
    });
    return [
      {
        name: `${rule.name} fires`,
        interval: "1m",
        input_series: c.firing,
        alert_rule_test: [{ eval_time: evalTime, alertname: rule.name, exp_alerts: expAlerts }],
      },
      {
        name: `${rule.name} stays quiet when healthy`,
        interval: "1m",
        input_series: c.healthy,
        alert_rule_test: [{ eval_time: evalTime, alertname: rule.name, exp_alerts: [] }],
      },
    ];
  });
  return toYaml({ rule_files: [rulesFile], evaluation_interval: "1m", tests });
}

// ---------------------------------------------------------------------------------------------

describe("renderPrometheusConfig: validation", () => {
  const cases: [string, PrometheusConfigInput, RegExp[]][] = [
    [
      "an environment that is not a label-friendly name",
      { ...CONFIG, environment: "Prod env" },
      [/environment "Prod env"/, /e\.g\. "prod"/],
    ],
    ["a fractional scrape interval", { ...CONFIG, scrapeInterval: "1.5s" }, [/scrapeInterval "1\.5s"/, /write e\.g\. "15s"/]],
    [
      "an evaluation interval with a space",
      { ...CONFIG, evaluationInterval: "15 s" },
      [/evaluationInterval "15 s"/, /Prometheus duration/],
    ],
    ["a relative rule file", { ...CONFIG, ruleFiles: ["rules/*.yml"] }, [/ruleFiles\[0\] "rules\/\*\.yml"/, /absolute path/]],
    ["no scrape targets", { ...CONFIG, scrapeTargets: [] }, [/scrapeTargets is empty/, /e\.g\. \{ job: "prometheus"/]],
    [
      "an unknown job",
      { ...CONFIG, scrapeTargets: [{ job: "mysql" as never, targets: ["db:9104"] }] },
      [/scrapeTargets\[0\]\.job "mysql"/, /use one of prometheus, postgres/],
    ],
    [
      "a job without targets",
      { ...CONFIG, scrapeTargets: [{ job: "redis", targets: [] }] },
      [/scrapeTargets\[0\]\.targets is empty/, /\["redis:9121"\]/],
    ],
    [
      "a target with a scheme",
      { ...CONFIG, scrapeTargets: [{ job: "redis", targets: ["http://redis:9121"] }] },
      [/targets\[0\] "http:\/\/redis:9121"/, /must not include a scheme/],
    ],
    [
      "a target without a port",
      { ...CONFIG, scrapeTargets: [{ job: "redis", targets: ["redis"] }] },
      [/targets\[0\] "redis"/, /not "host:port"/],
    ],
    [
      "a target port out of range",
      { ...CONFIG, scrapeTargets: [{ job: "redis", targets: ["redis:70000"] }] },
      [/targets\[0\] "redis:70000"/, /use 1\.\.65535/],
    ],
    [
      "a target listed twice",
      {
        ...CONFIG,
        scrapeTargets: [
          { job: "redis", targets: ["redis:9121"] },
          { job: "redis", targets: ["redis:9121"] },
        ],
      },
      [/scrapeTargets\[1\]\.targets\[0\] "redis:9121" is already listed/, /list each instance once/],
    ],
    [
      "a metrics path with a query",
      { ...CONFIG, scrapeTargets: [{ job: "rabbitmq", targets: ["rabbitmq:15692"], metricsPath: "/metrics?family=queue" }] },
      [/metricsPath "\/metrics\?family=queue"/, /go in params/],
    ],
    [
      "a label named job",
      { ...CONFIG, scrapeTargets: [{ job: "redis", targets: ["redis:9121"], labels: { job: "cache" } }] },
      [/labels\.job would override the job name/, /drop it/],
    ],
    [
      "a reserved label name",
      { ...CONFIG, scrapeTargets: [{ job: "redis", targets: ["redis:9121"], labels: { __address__: "x" } }] },
      [/labels\.__address__ is not a label name/, /"__" prefix/],
    ],
    [
      "an empty label value",
      { ...CONFIG, scrapeTargets: [{ job: "redis", targets: ["redis:9121"], labels: { instance_role: "" } }] },
      [/labels\.instance_role is empty/, /give a value or drop the key/],
    ],
    [
      "an empty params list",
      { ...CONFIG, scrapeTargets: [{ job: "redis", targets: ["redis:9121"], params: { module: [] } }] },
      [/params\.module is empty/, /drop the key/],
    ],
    [
      "two entries of one job with different paths",
      {
        ...CONFIG,
        scrapeTargets: [
          { job: "rabbitmq", targets: ["a:15692"] },
          { job: "rabbitmq", targets: ["b:15692"], metricsPath: "/metrics" },
        ],
      },
      [/scrapeTargets\[1\] \(job rabbitmq\) differs from scrapeTargets\[0\]/, /give them the same values/],
    ],
  ];
  for (const [what, input, patterns] of cases) {
    it(`rejects ${what}, naming the key and the fix`, () => {
      const message = errorOf(() => renderPrometheusConfig(input));
      for (const pattern of patterns) expect(message).toMatch(pattern);
    });
  }

  it("reports every problem at once", () => {
    const message = errorOf(() =>
      renderPrometheusConfig({ environment: "", scrapeInterval: "fast", scrapeTargets: [{ job: "redis", targets: ["redis"] }] }),
    );
    expect(message).toMatch(/^Prometheus config input is invalid:\n(  - .*\n){2}  - .*$/);
    expect(message).toMatch(/environment ""/);
    expect(message).toMatch(/scrapeInterval "fast"/);
    expect(message).toMatch(/targets\[0\] "redis"/);
  });
});

describe("renderPrometheusConfig: output", () => {
  const text = renderPrometheusConfig(CONFIG);
  const doc = parse(text) as {
    global: Record<string, unknown>;
    rule_files: string[];
    scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[]; labels?: Record<string, string> }[] }[];
    alerting?: unknown;
  };

  it("is independent of target order", () => {
    const shuffled = {
      ...CONFIG,
      scrapeTargets: [...CONFIG.scrapeTargets].reverse().map((t) => ({ ...t, targets: [...t.targets].reverse() })),
    };
    expect(renderPrometheusConfig(shuffled)).toBe(text);
  });

  it("sets the defaults, the environment external label and the default rule glob, and no alertmanager", () => {
    expect(doc.global).toEqual({
      scrape_interval: "15s",
      scrape_timeout: "10s",
      evaluation_interval: "15s",
      external_labels: { environment: "prod" },
    });
    expect(doc.rule_files).toEqual(["/etc/prometheus/rules/*.yml"]);
    expect(doc.alerting).toBeUndefined();
  });

  it("writes one job per catalogue job, sorted, with the catalogue's paths and the static labels", () => {
    expect(doc.scrape_configs.map((c) => c.job_name)).toEqual([
      "alloy",
      "cadvisor",
      "edge",
      "grafana",
      "loki",
      "node",
      "postgres",
      "prometheus",
      "rabbitmq",
      "redis",
    ]);
    const byJob = Object.fromEntries(doc.scrape_configs.map((c) => [c.job_name, c]));
    expect(byJob.rabbitmq!.metrics_path).toBe("/metrics/per-object");
    expect(byJob.postgres!.static_configs).toEqual([
      { targets: ["postgres-1-exporter:9187"], labels: { instance_role: "primary" } },
      { targets: ["postgres-2-exporter:9187"], labels: { instance_role: "replica" } },
    ]);
    expect(byJob.redis!.static_configs).toContainEqual({ targets: ["redis-cache-exporter:9121"], labels: { redis_role: "cache" } });
  });

  it("lowers the scrape timeout to a scrape interval shorter than 10s", () => {
    const short = parse(renderPrometheusConfig({ ...CONFIG, scrapeInterval: "5s" })) as { global: Record<string, string> };
    expect(short.global.scrape_timeout).toBe("5s");
  });
});

describe("prometheusArgs", () => {
  it("sets config, storage, retention and listen address, and never the lifecycle or admin APIs", () => {
    expect(prometheusArgs({ retentionDays: 15 })).toEqual([
      "--config.file=/etc/prometheus/prometheus.yml",
      "--storage.tsdb.path=/prometheus",
      "--storage.tsdb.retention.time=15d",
      "--web.listen-address=0.0.0.0:9090",
    ]);
    const args = prometheusArgs({ retentionDays: 30, configPath: "/etc/p/p.yml", storagePath: "/data", retentionSize: "10GB" });
    expect(args).toContain("--storage.tsdb.retention.size=10GB");
    expect(args.join(" ")).not.toMatch(/enable-lifecycle|enable-admin-api/);
  });

  it("rejects bad values, naming the key and the fix", () => {
    const message = errorOf(() => prometheusArgs({ retentionDays: 1.5, configPath: "prometheus.yml", retentionSize: "10 gigs" }));
    expect(message).toMatch(/retentionDays 1\.5 must be a whole number of days/);
    expect(message).toMatch(/configPath "prometheus\.yml" must be an absolute path/);
    expect(message).toMatch(/retentionSize "10 gigs" is not a Prometheus size: write e\.g\. "512MB"/);
  });
});

describe("alert catalogue", () => {
  it("has every required alert, unique names and uids", () => {
    const names = RULES.map((r) => r.name);
    for (const required of [
      "ScrapeTargetDown",
      "AppTargetDown",
      "ContainerMissing",
      "ContainerRestarting",
      "PostgresDown",
      "PostgresReplicationLag",
      "BackupFailed",
      "BackupTooOld",
      "BackupStatusMissing",
      "RedisMemoryNearLimit",
      "RedisEvictingKeys",
      "RabbitmqQueueBacklog",
      "RabbitmqQueueWithoutConsumers",
      "DiskSpaceLow",
      "EdgeHigh5xxRate",
      "LokiDiscardingSamples",
      "LogShipperDroppingEntries",
    ]) {
      expect(names).toContain(required);
    }
    expect(new Set(names).size).toBe(names.length);
    const uids = names.map(grafanaRuleUid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const uid of uids) expect(uid).toMatch(/^[a-z0-9-]{1,40}$/);
  });

  it("uses only metric names from the observability catalogue in every expression", () => {
    const known = knownMetricNames();
    for (const rule of RULES) {
      const names = metricNamesOf(rule.expr);
      expect(names.length, rule.name).toBeGreaterThan(0);
      expect(
        names.filter((n) => !known.has(n)),
        `${rule.name}: ${rule.expr}`,
      ).toEqual([]);
    }
  });

  it("extracts metric names conservatively (self-check of the extractor)", () => {
    expect(
      metricNamesOf(
        'sum by (job) (rate(foo_total{code=~"5..", x="a b"}[5m])) / on (instance) group_left bar > 0.5 and time() - baz_seconds offset 5m > 1e3',
      ),
    ).toEqual(["bar", "baz_seconds", "foo_total"]);
    expect(metricNamesOf('label_replace(absent(up{job="x"}), "service", "$1", "job", "(.+)")')).toEqual(["up"]);
  });

  it("gives every alert a service label (static, or derived in the expression) for grouping", () => {
    for (const rule of RULES) {
      const derived = /label_replace\(.*"service", "\$1"/.test(rule.expr);
      expect(rule.labels.service !== undefined || derived, rule.name).toBe(true);
      expect(rule.labels.service !== undefined && derived, `${rule.name} sets service twice`).toBe(false);
    }
  });

  it("puts the thresholds of the input into the expressions", () => {
    const custom = alertRules({
      redisMemoryRatio: 0.8,
      backupMaxAgeHours: 50,
      queueReadyThreshold: 250,
      replicaLagSeconds: 90,
      diskFreeRatio: 0.2,
      edge5xxRatio: 0.02,
    });
    const expr = (name: string) => custom.find((r) => r.name === name)!.expr;
    expect(expr("RedisMemoryNearLimit")).toMatch(/> 0\.8$/);
    expect(expr("BackupTooOld")).toMatch(/> 180000$/);
    expect(expr("RabbitmqQueueBacklog")).toMatch(/> 250 and/);
    expect(expr("PostgresReplicationLag")).toBe("pg_replication_lag_seconds > 90");
    expect(expr("DiskSpaceLow")).toMatch(/< 0\.2$/);
    expect(expr("EdgeHigh5xxRate")).toMatch(/> 0\.02\)/);
    expect(custom.map((r) => r.name)).not.toContain("ContainerMissing"); // no expected services: no rule
  });

  it("takes the expected services in any order, each once", () => {
    expect(alertRules({ ...RULE_OPTIONS, expectedServices: ["telegram-bot", "api", "api"] })).toEqual(RULES);
  });

  it("rejects bad thresholds, naming the key and the fix, all at once", () => {
    const message = errorOf(() =>
      alertRules({ redisMemoryRatio: 90, backupMaxAgeHours: 0, queueReadyThreshold: 1.5, expectedServices: ["API"], environment: "Prod" }),
    );
    expect(message).toMatch(/^alert rules input is invalid:\n(  - .*\n){4}  - .*$/);
    expect(message).toMatch(/redisMemoryRatio 90 must be a ratio strictly between 0 and 1, e\.g\. 0\.9/);
    expect(message).toMatch(/backupMaxAgeHours 0 must be a positive integer, e\.g\. 26/);
    expect(message).toMatch(/queueReadyThreshold 1\.5 must be a positive integer/);
    expect(message).toMatch(/expectedServices\[0\] "API"/);
    expect(message).toMatch(/environment "Prod"/);
  });

  it("rejects a catalogue entry whose templating Grafana would render differently", () => {
    const bad: AlertRule = { ...RULES[0]!, summary: "{{ $value }} down", labels: { service: "$SERVICE" } };
    const message = errorOf(() => renderPrometheusRules([bad]));
    expect(message).toMatch(/summary uses \{\{ \$value \}\}: only "\{\{ \$labels\.<name> \}\}"/);
    expect(message).toMatch(/labels\.service "\$SERVICE" must be a non-empty value without "\$"/);
  });
});

describe("Grafana alerting provisioning file: structure only", () => {
  // What cannot be proven here: Grafana is not installed (not packaged for Debian), so its acceptance
  // of this file is checked structurally, against the keys its file-provisioning docs and provisioning
  // code document, not by Grafana itself. Delivery to Telegram/Discord is not exercised either.
  const text = renderGrafanaAlerting({ rules: RULES, ...FILE_REFS });
  const doc = parse(text) as GrafanaDoc;
  const promRules = Object.fromEntries(
    (
      parse(renderPrometheusRules(RULES)) as {
        groups: {
          rules: { alert: string; expr: string; for: string; labels: Record<string, string>; annotations: Record<string, string> }[];
        }[];
      }
    ).groups
      .flatMap((g) => g.rules)
      .map((r) => [r.alert, r]),
  );
  const grafanaRules = doc.groups.flatMap((g) => g.rules.map((r) => ({ group: g, rule: r })));

  it("has the documented top-level shape (apiVersion 1, groups, contactPoints, policies)", () => {
    expect(doc.apiVersion).toBe(1);
    expect(Object.keys(doc).sort()).toEqual(["apiVersion", "contactPoints", "groups", "policies"]);
    for (const g of doc.groups) {
      expect(
        Object.keys(g).every((k) => ["orgId", "name", "folder", "interval", "rules"].includes(k)),
        g.name,
      ).toBe(true);
      expect(g.folder).toBe("UpdateIO");
      expect(durationSeconds(g.interval) % 10).toBe(0);
    }
  });

  it("provisions every catalogue alert once, with a valid unique uid", () => {
    expect(grafanaRules.map((r) => r.rule.title).sort()).toEqual(RULES.map((r) => r.name).sort());
    const uids = grafanaRules.map((r) => r.rule.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const uid of uids) expect(uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
  });

  it("queries the same PromQL as the Prometheus rule of the same name, on a known data source uid", () => {
    const uids = new Set<string>([...Object.values(DATASOURCE_UIDS), "__expr__"]);
    for (const { rule } of grafanaRules) {
      for (const d of rule.data) expect(uids.has(d.datasourceUid), `${rule.title}: ${d.datasourceUid}`).toBe(true);
      const queries = rule.data.filter((d) => d.datasourceUid !== "__expr__");
      expect(queries.map((q) => q.datasourceUid)).toEqual([DATASOURCE_UIDS.prometheus]);
      expect(queries[0]!.model.expr).toBe(promRules[rule.title]!.expr);
      expect(queries[0]!.model.instant).toBe(true);
    }
  });

  it("turns any returned series into an alert the way Grafana's Prometheus converter does (math, then threshold > 0)", () => {
    for (const { rule } of grafanaRules) {
      const refIds = rule.data.map((d) => d.refId);
      expect(refIds).toEqual(["query", "prometheus_math", "threshold"]);
      expect(rule.condition).toBe("threshold");
      const math = rule.data[1]!.model;
      expect(math).toMatchObject({ type: "math", expression: "is_number($query) || is_nan($query) || is_inf($query)" });
      expect(rule.data[2]!.model).toMatchObject({
        type: "threshold",
        expression: "prometheus_math",
        conditions: [{ evaluator: { type: "gt", params: [0] } }],
      });
      // No series = healthy (Prometheus semantics), so no data must not alert.
      expect(rule.noDataState).toBe("OK");
      expect(["Error", "Alerting", "OK"]).toContain(rule.execErrState);
      expect(rule.data[0]!.relativeTimeRange).toEqual({ from: 600, to: 0 });
    }
  });

  it("carries the Prometheus rule's for, labels and annotations, with no '$' where Grafana expands env vars", () => {
    for (const { group, rule } of grafanaRules) {
      const prom = promRules[rule.title]!;
      expect(rule.for).toBe(prom.for);
      expect(rule.labels).toEqual(prom.labels);
      expect(rule.annotations).toEqual(prom.annotations);
      expect(durationSeconds(rule.for) % durationSeconds(group.interval), `${rule.title}: for is a multiple of the interval`).toBe(0);
      expect(JSON.stringify(rule.labels)).not.toContain("$");
      expect(JSON.stringify(rule.annotations)).not.toContain("${");
      const documented = [
        "uid",
        "title",
        "condition",
        "data",
        "dashboardUid",
        "panelId",
        "noDataState",
        "execErrState",
        "for",
        "annotations",
        "labels",
        "isPaused",
      ];
      expect(
        Object.keys(rule).filter((k) => !documented.includes(k)),
        rule.title,
      ).toEqual([]);
    }
  });

  it("keeps secrets out of the file: contact point secrets are $__file{} references", () => {
    const receivers = doc.contactPoints!.flatMap((cp) => cp.receivers.map((r) => ({ cp, r })));
    expect(receivers.map(({ r }) => r.type).sort()).toEqual(["discord", "telegram"]);
    for (const { cp, r } of receivers) {
      expect(Object.keys(cp).sort()).toEqual(["name", "orgId", "receivers"]);
      expect(Object.keys(r).every((k) => ["uid", "type", "settings", "disableResolveMessage"].includes(k))).toBe(true);
      if (r.type === "telegram") {
        expect(Object.keys(r.settings).sort()).toEqual(["bottoken", "chatid"]);
        expect(isSecretReference(String(r.settings.bottoken))).toBe(true);
        expect(r.settings.chatid).toBe("-1001234567890"); // a string, as Grafana's telegram settings want (not a YAML int)
      } else {
        expect(Object.keys(r.settings)).toEqual(["url"]);
        expect(r.settings.url).toBe("$__file{/run/secrets/discord_webhook_url}");
      }
    }
    expect(text).not.toMatch(/discord(?:app)?\.com\/api\/webhooks|\d{6,}:[A-Za-z0-9_-]{30,}/);
  });

  it("accepts Terraform tokens in place of file references, and refuses literal secrets", () => {
    const token = "${TfToken[TOKEN.42]}";
    const withTokens = parse(
      renderGrafanaAlerting({ rules: RULES, telegram: { botToken: token, chatId: token }, discord: { webhookUrl: token } }),
    ) as GrafanaDoc;
    expect(withTokens.contactPoints!.flatMap((cp) => cp.receivers.map((r) => Object.values(r.settings)))).toEqual([
      [token, token],
      [token],
    ]);
    const message = errorOf(() =>
      renderGrafanaAlerting({
        rules: RULES,
        telegram: { botToken: "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", chatId: "my chat" },
        discord: { webhookUrl: "https://discord.com/api/webhooks/1/abc" },
      }),
    );
    expect(message).toMatch(/telegram\.botToken is not a reference: pass "\$__file\{\/run\/secrets\/telegram_bot_token\}"/);
    expect(message).toMatch(/telegram\.chatId "my chat" is not a chat id/);
    expect(message).toMatch(/discord\.webhookUrl is not a reference/);
    expect(message).not.toContain("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"); // the error does not echo the secret
    expect(errorOf(() => renderGrafanaAlerting({ rules: RULES, discord: FILE_REFS.discord, warningsTo: "telegram" }))).toMatch(
      /warningsTo is "telegram" but telegram is not configured: configure it, or point warningsTo at a configured channel/,
    );
    expect(errorOf(() => renderGrafanaAlerting({ rules: RULES, interval: "15s" }))).toMatch(
      /interval "15s" must be a duration that is a multiple of Grafana's 10s base interval/,
    );
  });

  it("routes critical to both channels and warnings to one, grouped by alertname and service", () => {
    const [root] = doc.policies;
    const names = new Set(doc.contactPoints!.map((cp) => cp.name));
    expect(root!.receiver).toBe(CONTACT_POINTS.telegram);
    expect(root!.group_by).toEqual(["alertname", "service"]);
    expect(root).toMatchObject({ group_wait: "30s", group_interval: "5m", repeat_interval: "4h" });
    const routes = root!.routes ?? [];
    expect(routes.map((r) => r.receiver)).toEqual([CONTACT_POINTS.telegram, CONTACT_POINTS.discord]);
    for (const r of routes) expect(r.object_matchers).toEqual([["severity", "=", "critical"]]);
    expect(routes[0]!.continue).toBe(true); // so the critical alert also reaches the next route
    for (const receiver of [root!.receiver, ...routes.map((r) => r.receiver)]) expect(names.has(receiver), receiver).toBe(true);
    const documented = [
      "orgId",
      "receiver",
      "group_by",
      "matchers",
      "object_matchers",
      "mute_time_intervals",
      "group_wait",
      "group_interval",
      "repeat_interval",
      "routes",
      "continue",
    ];
    for (const node of [root!, ...routes]) expect(Object.keys(node).filter((k) => !documented.includes(k))).toEqual([]);
    const discordWarnings = parse(renderGrafanaAlerting({ rules: RULES, ...FILE_REFS, warningsTo: "discord" })) as GrafanaDoc;
    expect(discordWarnings.policies[0]!.receiver).toBe(CONTACT_POINTS.discord);
  });

  it("with one channel, sends everything there", () => {
    const only = parse(renderGrafanaAlerting({ rules: RULES, discord: FILE_REFS.discord })) as GrafanaDoc;
    expect(only.contactPoints!.map((cp) => cp.name)).toEqual([CONTACT_POINTS.discord]);
    expect(only.policies[0]!.receiver).toBe(CONTACT_POINTS.discord);
    expect(only.policies[0]!.routes!.map((r) => r.receiver)).toEqual([CONTACT_POINTS.discord]);
    expect(only.policies[0]!.routes![0]!.continue).toBeUndefined();
  });

  it("with no channel, provisions no contact point and routes to Grafana's built-in default receiver", () => {
    const none = parse(renderGrafanaAlerting({ rules: RULES })) as GrafanaDoc;
    expect(none.contactPoints).toBeUndefined();
    expect(none.policies).toEqual([
      {
        orgId: 1,
        receiver: "grafana-default-email",
        group_by: ["alertname", "service"],
        group_wait: "30s",
        group_interval: "5m",
        repeat_interval: "4h",
      },
    ]);
  });
});

interface GrafanaDoc {
  apiVersion: number;
  groups: {
    orgId: number;
    name: string;
    folder: string;
    interval: string;
    rules: {
      uid: string;
      title: string;
      condition: string;
      data: {
        refId: string;
        datasourceUid: string;
        relativeTimeRange: { from: number; to: number };
        model: Record<string, unknown> & { expr?: string; instant?: boolean };
      }[];
      noDataState: string;
      execErrState: string;
      for: string;
      annotations: Record<string, string>;
      labels: Record<string, string>;
    }[];
  }[];
  contactPoints?: {
    orgId: number;
    name: string;
    receivers: { uid: string; type: string; settings: Record<string, unknown>; disableResolveMessage?: boolean }[];
  }[];
  policies: {
    orgId?: number;
    receiver: string;
    group_by?: string[];
    object_matchers?: string[][];
    continue?: boolean;
    routes?: { receiver: string; object_matchers?: string[][]; continue?: boolean }[];
  }[];
}

// ---------------------------------------------------------------------------------------------
// The rendered files on Debian's promtool (Prometheus 2.42).

describeIfBinary("promtool", "prometheus.yml and the alert rules on promtool", () => {
  // Created in beforeAll (not at collection), so a filtered run that skips the hooks leaves nothing behind.
  let dir = "";
  let rulesFile = "";
  let configFile = "";

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "updateio-promtool-"));
    rulesFile = join(dir, "rules", "updateio.yml");
    configFile = join(dir, "prometheus.yml");
    mkdirSync(join(dir, "rules"));
    writeFileSync(rulesFile, renderPrometheusRules(RULES));
    writeFileSync(configFile, renderPrometheusConfig({ ...CONFIG, ruleFiles: [join(dir, "rules", "*.yml")] }));
  });
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("promtool check config accepts prometheus.yml (and the rule files it names)", () => {
    const r = promtool(["check", "config", configFile]);
    expect(r.status, explain(r)).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${RULES.length} rules found`);
  });

  it("promtool check rules accepts the rule file", () => {
    const r = promtool(["check", "rules", rulesFile]);
    expect(r.status, explain(r)).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${RULES.length} rules found`);
  });

  it("the promtool test table covers every alert of the catalogue", () => {
    // A new alert without a firing and a healthy case fails here.
    expect(Object.keys(CASES).sort()).toEqual(RULES.map((r) => r.name).sort());
    for (const [name, c] of Object.entries(CASES)) {
      expect(c.alerts.length, name).toBeGreaterThan(0);
      const rule = RULES.find((r) => r.name === name)!;
      for (const labels of c.alerts) {
        const all = { ...labels, ...rule.labels, severity: rule.severity };
        expect(expand(rule.summary + rule.description, all), `${name}: every templated label exists on the alert`).not.toContain(
          "<no value>",
        );
      }
    }
  });

  it("promtool test rules: every alert fires on its failure series and stays quiet on healthy ones", () => {
    const testFile = join(dir, "rules.test.yml");
    writeFileSync(testFile, promtoolTests(rulesFile, RULES, CASES));
    const r = promtool(["test", "rules", testFile]);
    expect(r.status, explain(r)).toBe(0);
    expect(r.stdout).toContain("SUCCESS");
  });

  it('promtool test rules: ContainerMissing from node-exporter\'s list (expectedServicesFrom "metric") fires and stays quiet as absent() does', () => {
    const rules = alertRules({ ...RULE_OPTIONS, expectedServicesFrom: "metric" }).filter((r) => r.name === "ContainerMissing");
    expect(rules).toHaveLength(1);
    // The rule names no service: the list is the series node-exporter publishes from renderExpectedServices.
    expect(rules[0]!.expr).not.toMatch(/api|telegram-bot/);
    const listed = (service: string, env = "test") => s("updateio_expected_service", { ...node, [SVC]: service, [ENV]: env }, "1+0x40");
    const metricFile = join(dir, "rules", "metric.yml");
    writeFileSync(metricFile, renderPrometheusRules(rules));
    const cases: Record<string, AlertCase> = {
      ContainerMissing: {
        // The bot runs only in another environment on the same host: still missing for "test".
        firing: [
          listed("api"),
          listed("telegram-bot"),
          s("container_last_seen", apiContainer, "0+60x40"),
          s("container_last_seen", prodBotContainer, "0+60x40"),
        ],
        alerts: [{ ...node, [SVC]: "telegram-bot", [ENV]: "test", service: "telegram-bot" }],
        // Both run; and a service the list no longer names (removed from the stack) is not missing.
        healthy: [
          listed("api"),
          s("container_last_seen", apiContainer, "0+60x40"),
          listed("telegram-bot"),
          s("container_last_seen", botContainer, "0+60x40"),
        ],
      },
    };
    const testFile = join(dir, "metric.test.yml");
    writeFileSync(testFile, promtoolTests(metricFile, rules, cases));
    const r = promtool(["test", "rules", testFile]);
    expect(r.status, explain(r)).toBe(0);
    expect(r.stdout).toContain("SUCCESS");
    // Another environment's list on the same Prometheus does not count for this one.
    const other: Record<string, AlertCase> = {
      ContainerMissing: {
        ...cases.ContainerMissing!,
        healthy: [listed("worker", "prod"), s("container_last_seen", apiContainer, "0+60x40")],
      },
    };
    writeFileSync(testFile, promtoolTests(metricFile, rules, other));
    expect(promtool(["test", "rules", testFile]).status, "the other environment's list").toBe(0);
  });

  it('promtool test rules: ExpectedServicesMissing ("metric" only) fires when node-exporter publishes no list for this environment', () => {
    expect(RULES.map((r) => r.name)).not.toContain("ExpectedServicesMissing");
    const rules = alertRules({ ...RULE_OPTIONS, expectedServicesFrom: "metric" }).filter((r) => r.name === "ExpectedServicesMissing");
    expect(rules).toHaveLength(1);
    const listed = (service: string, env: string) => s("updateio_expected_service", { ...node, [SVC]: service, [ENV]: env }, "1+0x40");
    const file = join(dir, "rules", "expected-missing.yml");
    writeFileSync(file, renderPrometheusRules(rules));
    // absent() keeps the equality matcher's labels only: the environment.
    const cases: Record<string, AlertCase> = {
      ExpectedServicesMissing: {
        // Only another environment's list on this Prometheus: this one's is missing.
        firing: [listed("api", "prod")],
        alerts: [{ [ENV]: "test" }],
        healthy: [listed("api", "test")],
      },
    };
    const testFile = join(dir, "expected-missing.test.yml");
    writeFileSync(testFile, promtoolTests(file, rules, cases));
    const r = promtool(["test", "rules", testFile]);
    expect(r.status, explain(r)).toBe(0);
    expect(r.stdout).toContain("SUCCESS");
  });

  it("promtool test rules fails when an expectation is wrong (the harness can fail)", () => {
    const rule = RULES.find((x) => x.name === "PostgresDown")!;
    const wrong = { PostgresDown: { ...CASES.PostgresDown!, healthy: CASES.PostgresDown!.firing } };
    const testFile = join(dir, "wrong.test.yml");
    writeFileSync(testFile, promtoolTests(rulesFile, [rule], wrong));
    const r = promtool(["test", "rules", testFile]);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/PostgresDown/);
  });
});

// ---------------------------------------------------------------------------------------------
// Debian's prometheus 2.42 started with prometheusArgs and the rendered config, scraping Debian's
// node-exporter (1.5) whose textfile collector serves a backup status file: the flags are accepted,
// the lifecycle API is off, the rules load, the node/backup metric names of the catalogue exist on a
// real exporter, and BackupFailed really fires.

describeIfBinary(["prometheus", "prometheus-node-exporter"], "Prometheus server with prometheusArgs and the rendered config", () => {
  let dir = "";
  const processes: ChildProcess[] = [];
  let base = "";

  const query = (promql: string) => promQuery(base, promql);

  beforeAll(async () => {
    const [promPort, nodePort, closedPort] = [await freePort(), await freePort(), await freePort()];
    base = `http://127.0.0.1:${promPort}`;
    dir = mkdtempSync(join(tmpdir(), "updateio-prometheus-"));
    const textfiles = join(dir, "textfile");
    mkdirSync(textfiles);
    const now = Math.floor(Date.now() / 1000);
    writeFileSync(
      join(textfiles, "updateio_backup.prom"),
      [
        "# TYPE updateio_backup_last_run_success gauge",
        "updateio_backup_last_run_success 0",
        "# TYPE updateio_backup_last_run_timestamp_seconds gauge",
        `updateio_backup_last_run_timestamp_seconds ${now}`,
        "# TYPE updateio_backup_last_success_timestamp_seconds gauge",
        `updateio_backup_last_success_timestamp_seconds ${now - 3600}`,
        "# TYPE updateio_backup_offsite_success gauge",
        "updateio_backup_offsite_success 1",
        "",
      ].join("\n"),
    );
    const configPath = writeFastPrometheusConfig(dir, RULES, [
      { job: "prometheus", targets: [`127.0.0.1:${promPort}`] },
      { job: "node", targets: [`127.0.0.1:${nodePort}`] },
      { job: "redis", targets: [`127.0.0.1:${closedPort}`] }, // nothing listens: up == 0
    ]);
    processes.push(
      spawn("prometheus-node-exporter", [`--web.listen-address=127.0.0.1:${nodePort}`, `--collector.textfile.directory=${textfiles}`], {
        stdio: "ignore",
      }),
      await startPrometheus({ configPath, storagePath: join(dir, "data"), port: promPort, retentionDays: 2 }),
    );
  }, 60_000);

  afterAll(async () => {
    for (const p of processes) await stopProcess(p);
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("runs with the retention flag and without the lifecycle and admin APIs", async () => {
    const flags = ((await (await fetch(`${base}/api/v1/status/flags`)).json()) as { data: Record<string, string> }).data;
    expect(flags["storage.tsdb.retention.time"]).toBe("2d");
    expect(flags["web.enable-lifecycle"]).toBe("false");
    expect(flags["web.enable-admin-api"]).toBe("false");
    const reload = await fetch(`${base}/-/reload`, { method: "POST" });
    expect(reload.status).toBe(403);
  });

  it("loads every alert of the catalogue from the rule glob", async () => {
    const body = (await (await fetch(`${base}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; type: string }[] }[] };
    };
    const names = body.data.groups.flatMap((g) => g.rules.map((r) => r.name)).sort();
    expect(names).toEqual(RULES.map((r) => r.name).sort());
  });

  it("scrapes the node-exporter, whose metrics carry the catalogue's node and backup names", async () => {
    await pollUntil("up{job=node} == 1", async () => (await query('up{job="node"} == 1')).length === 1);
    for (const name of [...METRICS.node, ...METRICS.backup, ...METRICS.prometheus]) {
      await pollUntil(`series of ${name}`, async () => (await query(`count(${name})`)).length === 1, 15);
    }
  }, 60_000);

  it("fires BackupFailed and holds ScrapeTargetDown pending for an unreachable target", async () => {
    const alerts = () => promAlerts(base);
    await pollUntil("BackupFailed firing", async () =>
      (await alerts()).some((a) => a.labels.alertname === "BackupFailed" && a.state === "firing"),
    );
    await pollUntil("ScrapeTargetDown pending", async () =>
      (await alerts()).some((a) => a.labels.alertname === "ScrapeTargetDown" && a.labels.service === "redis" && a.state === "pending"),
    );
    const current = await alerts();
    expect(current.filter((a) => a.labels.alertname === "BackupTooOld")).toEqual([]); // the last success is 1 h old
    expect(current.filter((a) => a.labels.alertname === "PostgresDown")).toEqual([]); // no Postgres scraped: no series, no alert
  }, 60_000);
});
