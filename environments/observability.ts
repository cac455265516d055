import { Annotations } from "cdktf";
import { GrafanaBackup, GrafanaServer, LokiStack, MetricsExporters, PrometheusServer } from "../constructs/observability";
import type { ScheduledBackup } from "../constructs/kit/scheduled-backup";
import { EDGE_BACKUP_DEFAULTS } from "../constructs/edge";
import { GRAFANA_BACKUP_DEFAULTS } from "../constructs/observability";
import type { BackupStoreAlert } from "../constructs/observability/alerts/types";
import { RABBIT_BACKUP_DEFAULTS } from "../constructs/rabbitmq";
import { REDIS_BACKUP_DEFAULTS } from "../constructs/redis";
import { PlatformNetwork, ServiceVolume, type Upstream } from "../constructs/kit";
import type { ScrapeTarget } from "../constructs/observability/renderers/prometheus";
import { ValidationError } from "../constructs/contract/errors";
import { VolumeUsage, volumeUsageMetricsVolume, type WatchedVolume } from "../constructs/observability/volume-usage";
import type { Apps } from "./apps";
import type { Edge } from "./edge";
import type { DataTier } from "./data-tier";
import type { ObservabilityProfile } from "./schema";
import { storeBackupSettings, type StackContext } from "./stack-context";

/**
 * Each enabled store backup with the age at which BackupTooOld fires for it: its interval plus two
 * hours (a daily backup alerts at 26 h, like Postgres'; an hourly one at 3 h).
 */
function storeBackupAlerts(config: StackContext["config"]): BackupStoreAlert[] {
  const defaults = {
    redis: REDIS_BACKUP_DEFAULTS,
    rabbitmq: RABBIT_BACKUP_DEFAULTS,
    grafana: GRAFANA_BACKUP_DEFAULTS,
    edge: EDGE_BACKUP_DEFAULTS,
  };
  return (Object.keys(defaults) as (keyof typeof defaults)[])
    .filter((store) => config.backups[store].enabled)
    .map((store) => {
      const minutes = config.backups[store].everyMinutes ?? defaults[store].schedule.everyMinutes;
      return { store, maxAgeHours: Math.ceil(minutes / 60) + 2 };
    });
}

/** A store's backups volume under its budget, measured as the backup job's. */
function storeBackupWatch(backup: ScheduledBackup, budgetMb: number): WatchedVolume {
  return { volume: backup.volume, service: backup.service.spec.service, budgetMb };
}

/**
 * Logs (Loki + shipper via the read-only socket proxy), metrics (exporters + Prometheus) and
 * Grafana, on one internal monitoring network, as far as `observability.profile` asks: "full" all
 * of it, "logs" Loki, the shipper, its proxy and a logs-only Grafana, "off" nothing (containers
 * still rotate their json-file logs). Not a construct, for the same reason as DataTier.
 */
export class Observability {
  readonly profile: ObservabilityProfile;
  /** Loki, the shipper and the socket proxy (profiles logs and full). */
  readonly logs?: LokiStack;
  /** The exporters, cAdvisor and node-exporter (profile full). */
  readonly exporters?: MetricsExporters;
  /** Prometheus and the alert rules (profile full). */
  readonly prometheus?: PrometheusServer;
  /** Grafana (profiles logs, logs-only there, and full). */
  readonly grafana?: GrafanaServer;
  /** Prometheus scrapes the internet-facing edge here, so the edge never joins the monitoring network (profile full). */
  readonly edgeMetricsNetwork?: PlatformNetwork;
  /** Grafana's network to the edge, when it is served there. */
  readonly grafanaRoute: PlatformNetwork | undefined;
  /**
   * The backups volumes of the stores whose job comes after node-exporter (Grafana's, the edge's),
   * made here so node-exporter (profile full) can mount them; present when the store's backup is on,
   * the edge's in every profile.
   */
  readonly backupVolumes: { readonly grafana?: ServiceVolume; readonly edge?: ServiceVolume };
  /** Grafana's database snapshots, when backups.grafana is on. */
  readonly grafanaBackup?: GrafanaBackup;
  /** The volume-usage job's metrics volume, node-exporter's to read (profile full). */
  private readonly volumeUsageMetrics?: ServiceVolume;

  /** `apps`: the app services ContainerMissing watches, beside the data tier's; those with `metrics` are scraped. */
  constructor(ctx: StackContext, data: DataTier, apps: Apps) {
    const { scope, config, env } = ctx;
    const o11y = config.observability;
    this.profile = o11y.profile;
    const full = this.profile === "full";
    const backupsVolume = (store: "grafana" | "edge") =>
      config.backups[store].enabled
        ? new ServiceVolume(scope, `${store}-backups`, {
            environment: env,
            service: store,
            purpose: "backups",
            protect: config.protectData,
          })
        : undefined;
    if (this.profile === "off") {
      // The schema refuses backups.grafana without Grafana; the edge's backups volume stays the edge's.
      this.backupVolumes = { edge: backupsVolume("edge") };
      this.grafanaRoute = undefined;
      return;
    }
    const monitoringNet = full ? new PlatformNetwork(scope, "monitoring-network", { environment: env, purpose: "monitoring" }) : undefined;
    if (full) this.edgeMetricsNetwork = ctx.network("edge-metrics");
    this.logs = new LokiStack(scope, "logs", {
      environment: env,
      lokiImage: o11y.loki.image,
      lokiMemoryMb: o11y.loki.memoryMb,
      retentionDays: o11y.loki.retentionDays,
      lokiBudgetMb: config.budgets.lokiData,
      shipper: o11y.shipper.kind,
      shipperImage: o11y.shipper.image,
      shipperMemoryMb: o11y.shipper.memoryMb,
      socketProxyImage: o11y.socketProxyImage,
      network: monitoringNet,
      metrics: full,
      protectData: config.protectData,
      // cAdvisor reads the engine's info and version through the same proxy; without it, the shipper needs neither.
      allowEngineInfo: full,
    });
    const { redis, rabbitmq } = data;
    this.backupVolumes = { grafana: backupsVolume("grafana"), edge: backupsVolume("edge") };
    this.grafanaRoute = o11y.grafana.expose === "edge" ? ctx.routeNetwork("grafana") : undefined;
    if (!monitoringNet) {
      this.grafana = this.buildGrafana(ctx, data, undefined);
      this.grafanaBackup = this.buildGrafanaBackup(ctx);
      return;
    }
    const storeBackupVolumes = [
      ...(data.redisBackup ? [{ store: redis.host, volume: data.redisBackup.backup.volume }] : []),
      ...(data.rabbitmqBackup ? [{ store: "rabbitmq", volume: data.rabbitmqBackup.backup.volume }] : []),
      ...Object.entries(this.backupVolumes).flatMap(([store, volume]) => (volume ? [{ store, volume }] : [])),
    ];
    const expectedServices = [...Object.keys(apps.services), ...data.serviceNames, "edge", "loki"];
    this.volumeUsageMetrics = volumeUsageMetricsVolume(scope, env, config.protectData);
    this.exporters = new MetricsExporters(scope, "exporters", {
      environment: env,
      monitoringNetwork: monitoringNet,
      // The monitor role's password keeps the id it had when the stack made it.
      postgres: { image: o11y.exporters.postgresImage, cluster: data.postgres, passwordAt: { scope, id: "postgres-monitor-password" } },
      redis: {
        image: o11y.exporters.redisImage,
        secretsOwnerImage: redis.service.spec.image,
        network: redis.network,
        hosts: redis.nodeHosts.map((host, i) => ({ host, instanceRole: i === 0 ? ("primary" as const) : ("replica" as const) })),
        port: redis.port,
        user: redis.monitorUser!,
        password: redis.monitorPassword!,
      },
      cadvisor: { image: o11y.exporters.cadvisorImage, dockerHost: this.logs.dockerHost, dockerApiNetwork: this.logs.dockerApiNetwork },
      node: {
        image: o11y.exporters.nodeImage,
        backupsVolume: data.backupsVolume,
        extraBackupVolumes: storeBackupVolumes,
        volumeUsageVolume: this.volumeUsageMetrics,
        expectedServices,
      },
    });
    // Each app that serves /metrics shares a network with Prometheus alone (`<svc>-metrics`, joined in Apps).
    const scraped = Object.entries(apps.services).filter(([name]) => config.services[name]?.metrics !== undefined);
    this.prometheus = new PrometheusServer(scope, "prometheus", {
      environment: env,
      image: o11y.prometheus.image,
      memoryMb: o11y.prometheus.memoryMb,
      retentionDays: o11y.prometheus.retentionDays,
      budgetMb: config.budgets.prometheusData,
      // The edge and Grafana register themselves later: prometheus.yml is rendered at synth.
      scrapeTargets: [
        this.logs,
        this.exporters,
        { job: "rabbitmq", targets: rabbitmq.nodeHosts.map((h) => `${h}:${rabbitmq.metricsPort}`) },
        ...scraped.map(([name, svc]) => appScrapeTarget(name, svc.upstream(), config.services[name]!.metrics!.path)),
      ],
      // ContainerMissing watches the io.updateio.service label of every long-running service, whose
      // list node-exporter publishes: a new service changes that file, not the rules.
      alerts: {
        expectedServices,
        expectedServicesFrom: "metric",
        restoreDrillIntervalSeconds: data.restoreDrill.intervalSeconds,
        backupStores: storeBackupAlerts(config),
      },
      // RabbitMQ's built-in plugin is scraped on its own network; everything else comes to monitoring.
      networks: [
        { network: monitoringNet },
        { network: rabbitmq.metricsNetwork! },
        { network: this.edgeMetricsNetwork! },
        { network: this.logs.metricsNetwork! },
        ...scraped.map(([name]) => ({ network: ctx.network(`${name}-metrics`) })),
      ],
      protectData: config.protectData,
    });
    this.grafana = this.buildGrafana(ctx, data, monitoringNet);
    this.grafanaBackup = this.buildGrafanaBackup(ctx);
  }

  /** Grafana's database snapshots, when backups.grafana is on. */
  private buildGrafanaBackup(ctx: StackContext): GrafanaBackup | undefined {
    const { scope, config } = ctx;
    const grafanaBackup = config.backups.grafana;
    if (!this.backupVolumes.grafana || !this.grafana) return undefined;
    return new GrafanaBackup(scope, "grafana-backup", {
      ...storeBackupSettings(ctx, "grafana", grafanaBackup),
      volume: this.backupVolumes.grafana,
      dataVolume: this.grafana.dataVolume,
      image: grafanaBackup.image,
      // Grafana's and the edge's jobs read a volume and talk to nobody: one internal network for both.
      network: ctx.network("backups"),
      // Its first run reads grafana.db, which Grafana creates on its first start.
      dependsOn: this.grafana.service.containers,
    });
  }

  /**
   * The volume-usage job over every stateful volume of the stack, each with its budget; called once
   * the edge exists (its Caddy data and the VPN keys are volumes too). A stateful volume that is
   * not mapped to a budget here stops synth, so a new store cannot go unwatched.
   */
  watchVolumes(ctx: StackContext, data: DataTier, edge: Edge): VolumeUsage | undefined {
    const { scope, config, env } = ctx;
    const b = config.budgets;
    const stateful = (mounts: readonly { volume: ServiceVolume }[]) => mounts.map((m) => m.volume).filter((v) => !v.ephemeral);
    const { postgres, redis, rabbitmq } = data;
    const watched: WatchedVolume[] = [
      { volume: postgres.dataVolume, service: postgres.host, budgetMb: b.postgresData },
      ...postgres.replicaVolumes.map((volume, i) => ({
        volume,
        service: postgres.replicaServices[i]!.spec.service,
        budgetMb: b.postgresData,
      })),
      { volume: data.backupsVolume, service: data.backup.service.spec.service, budgetMb: b.postgresBackups },
      ...(data.redisBackup ? [storeBackupWatch(data.redisBackup.backup, b.redisBackups)] : []),
      ...(data.rabbitmqBackup ? [storeBackupWatch(data.rabbitmqBackup.backup, b.rabbitmqBackups)] : []),
      ...(this.grafanaBackup ? [storeBackupWatch(this.grafanaBackup.backup, b.grafanaBackups)] : []),
      ...(edge.backup ? [storeBackupWatch(edge.backup.backup, b.edgeBackups)] : []),
      ...[redis.service, ...redis.replicaServices].flatMap((svc) =>
        stateful(svc.spec.volumes).map((volume) => ({ volume, service: svc.spec.service, budgetMb: b.redisData })),
      ),
      ...rabbitmq.dataVolumes.map((volume, i) => ({ volume, service: rabbitmq.nodeHosts[i]!, budgetMb: b.rabbitmqData })),
      // Budgets of volumes the profile does not create (Loki's, Prometheus', ...) are simply not used.
      ...(this.logs
        ? [
            { volume: this.logs.volumes.lokiData, service: this.logs.lokiHost, budgetMb: b.lokiData },
            { volume: this.logs.volumes.shipperData, service: this.logs.shipperHost, budgetMb: b.shipperData },
          ]
        : []),
      ...(this.prometheus ? [{ volume: this.prometheus.dataVolume, service: this.prometheus.host, budgetMb: b.prometheusData }] : []),
      ...(this.grafana ? [{ volume: this.grafana.dataVolume, service: "grafana", budgetMb: b.grafanaData }] : []),
      ...stateful(edge.proxy.service.spec.volumes).map((volume) => ({ volume, service: "edge", budgetMb: b.edgeData })),
      ...(edge.vpn?.keyVolume ? [{ volume: edge.vpn.keyVolume, service: "vpn", budgetMb: b.vpnKeys }] : []),
    ];
    // The job's own metrics file is not a store.
    const known = new Set([...watched.map((w) => w.volume), ...(this.volumeUsageMetrics ? [this.volumeUsageMetrics] : [])]);
    const unbudgeted = scope.node.findAll().filter((c): c is ServiceVolume => c instanceof ServiceVolume && !c.ephemeral && !known.has(c));
    if (unbudgeted.length > 0)
      throw new ValidationError(
        "Observability.watchVolumes",
        unbudgeted.map(
          (v) =>
            `${v.name} (${v.node.path}) has no size budget (fix: map it to a budgets key in environments/observability.ts watchVolumes, adding the key to constructs/observability/volume-budgets.ts if it is a new kind of store)`,
        ),
      );
    // The job's only reader is node-exporter's textfile collector: without Prometheus, the check above is what remains.
    if (!this.prometheus || !this.volumeUsageMetrics) return undefined;
    return new VolumeUsage(scope, "volume-usage", {
      environment: env,
      image: postgres.service.spec.image,
      metricsVolume: this.volumeUsageMetrics,
      volumes: watched,
    });
  }

  /** `monitoringNet` undefined: a logs-only Grafana (no Prometheus, dashboards or alerting). */
  private buildGrafana(ctx: StackContext, data: DataTier, monitoringNet: PlatformNetwork | undefined): GrafanaServer {
    const { scope, config, env } = ctx;
    const o11y = config.observability;
    const channels = o11y.alerting;
    const onEdge = this.grafanaRoute !== undefined;
    // The schema refuses alerting channels without Prometheus.
    const alerts = monitoringNet !== undefined && Boolean(channels.telegramChatId || channels.discord);
    const egress = !onEdge || alerts ? ctx.egressNetwork("grafana") : undefined;
    if (!alerts && env === "prod") {
      Annotations.of(scope).addWarning(
        "prod alerts have nowhere to go: set UPDATEIO_PROD_ALERT_TELEGRAM_CHAT_ID (+ TF_VAR_alert_telegram_bot_token) or UPDATEIO_PROD_ALERT_DISCORD=on (+ TF_VAR_alert_discord_webhook_url).",
      );
    }
    return new GrafanaServer(scope, "grafana", {
      environment: env,
      image: o11y.grafana.image,
      memoryMb: o11y.grafana.memoryMb,
      rootUrl: onEdge ? ctx.publicUrl(config.hosts.grafana) : `http://127.0.0.1:${o11y.grafana.localPort}`,
      exposure: this.grafanaRoute ? { mode: "edge", edgeNetwork: this.grafanaRoute } : { mode: "localhost", port: o11y.grafana.localPort },
      publishNetwork: onEdge ? undefined : egress,
      monitoringNetwork: monitoringNet,
      metrics: monitoringNet !== undefined,
      lokiNetwork: this.logs!.queryNetwork,
      // Its own role on the read-only endpoint; the password keeps the id it had when the stack made it.
      postgres: {
        cluster: data.postgres,
        network: ctx.network("postgres-grafana"),
        passwordAt: { scope, id: "postgres-grafana-password" },
      },
      alerting: {
        ...(channels.telegramChatId
          ? {
              telegram: {
                chatId: channels.telegramChatId,
                botToken: ctx.sensitiveVariable(
                  "alert_telegram_bot_token",
                  "Telegram bot token Grafana sends alerts with. Set TF_VAR_alert_telegram_bot_token or the workspace variable.",
                ),
              },
            }
          : {}),
        ...(channels.discord
          ? {
              discord: {
                webhookUrl: ctx.sensitiveVariable(
                  "alert_discord_webhook_url",
                  "Discord webhook URL for alerts. Set TF_VAR_alert_discord_webhook_url or the workspace variable.",
                ),
              },
            }
          : {}),
      },
      egressNetwork: alerts ? egress : undefined,
      rules: this.prometheus?.rules ?? [],
      prometheusUrl: this.prometheus?.url,
      lokiUrl: this.logs!.lokiUrl,
      protectData: config.protectData,
    });
  }
}

/**
 * An app service's scrape entry, job "app" with a scrape config of its own (its path): every
 * replica by name on containers, every task through `tasks.<svc>` DNS on Swarm (the service name
 * alone is one virtual IP, so it would scrape a random task each time).
 */
export function appScrapeTarget(service: string, upstream: Upstream, path: string): ScrapeTarget {
  const common = { job: "app" as const, name: service, metricsPath: path, labels: { service } };
  return upstream.kind === "static"
    ? { ...common, targets: upstream.addresses }
    : { ...common, targets: [], dns: { names: [upstream.name], port: upstream.port } };
}
