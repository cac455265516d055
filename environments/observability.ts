import { Annotations } from "cdktf";
import { GrafanaBackup, GrafanaServer, LokiStack, MetricsExporters, PrometheusServer } from "../constructs/observability";
import type { ScheduledBackup } from "../constructs/kit/scheduled-backup";
import { EDGE_BACKUP_DEFAULTS } from "../constructs/edge";
import { GRAFANA_BACKUP_DEFAULTS } from "../constructs/observability";
import type { BackupStoreAlert } from "../constructs/observability/alerts/types";
import { RABBIT_BACKUP_DEFAULTS } from "../constructs/rabbitmq";
import { REDIS_BACKUP_DEFAULTS } from "../constructs/redis";
import { PlatformNetwork, ServiceVolume } from "../constructs/kit";
import { ValidationError } from "../constructs/contract/errors";
import { VolumeUsage, type WatchedVolume } from "../constructs/observability/volume-usage";
import type { Edge } from "./edge";
import type { DataTier } from "./data-tier";
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
 * Grafana, on one internal monitoring network. Not a construct, for the same reason as DataTier.
 */
export class Observability {
  readonly logs: LokiStack;
  readonly exporters: MetricsExporters;
  readonly prometheus: PrometheusServer;
  readonly grafana: GrafanaServer;
  /** Prometheus scrapes the internet-facing edge here, so the edge never joins the monitoring network. */
  readonly edgeMetricsNetwork: PlatformNetwork;
  /** Grafana's network to the edge, when it is served there. */
  readonly grafanaRoute: PlatformNetwork | undefined;
  /**
   * The backups volumes of the stores whose job comes after node-exporter (Grafana's, the edge's),
   * made here so node-exporter can mount them; present when the store's backup is on.
   */
  readonly backupVolumes: { readonly grafana?: ServiceVolume; readonly edge?: ServiceVolume };
  /** Grafana's database snapshots, when backups.grafana is on. */
  readonly grafanaBackup?: GrafanaBackup;

  /** `appServices`: the app services ContainerMissing watches, beside the data tier's. */
  constructor(ctx: StackContext, data: DataTier, appServices: readonly string[]) {
    const { scope, config, env } = ctx;
    const o11y = config.observability;
    const monitoringNet = new PlatformNetwork(scope, "monitoring-network", { environment: env, purpose: "monitoring" });
    this.edgeMetricsNetwork = ctx.network("edge-metrics");
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
      protectData: config.protectData,
      // cAdvisor reads the engine's info and version through the same proxy.
      allowEngineInfo: true,
    });
    const { redis, rabbitmq } = data;
    const backupsVolume = (store: "grafana" | "edge") =>
      config.backups[store].enabled
        ? new ServiceVolume(scope, `${store}-backups`, {
            environment: env,
            service: store,
            purpose: "backups",
            protect: config.protectData,
          })
        : undefined;
    this.backupVolumes = { grafana: backupsVolume("grafana"), edge: backupsVolume("edge") };
    const storeBackupVolumes = [
      ...(data.redisBackup ? [{ store: redis.host, volume: data.redisBackup.backup.volume }] : []),
      ...(data.rabbitmqBackup ? [{ store: "rabbitmq", volume: data.rabbitmqBackup.backup.volume }] : []),
      ...Object.entries(this.backupVolumes).flatMap(([store, volume]) => (volume ? [{ store, volume }] : [])),
    ];
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
      node: { image: o11y.exporters.nodeImage, backupsVolume: data.backupsVolume, extraBackupVolumes: storeBackupVolumes },
    });
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
      ],
      // ContainerMissing watches the io.updateio.service label of every long-running service.
      alerts: {
        expectedServices: [...appServices, ...data.serviceNames, "edge", "loki"],
        restoreDrillIntervalSeconds: data.restoreDrill.intervalSeconds,
        backupStores: storeBackupAlerts(config),
      },
      // RabbitMQ's built-in plugin is scraped on its own network; everything else comes to monitoring.
      networks: [
        { network: monitoringNet },
        { network: rabbitmq.metricsNetwork! },
        { network: this.edgeMetricsNetwork },
        { network: this.logs.metricsNetwork },
      ],
      protectData: config.protectData,
    });
    this.grafanaRoute = o11y.grafana.expose === "edge" ? ctx.routeNetwork("grafana") : undefined;
    this.grafana = this.buildGrafana(ctx, data, monitoringNet);
    const grafanaBackup = config.backups.grafana;
    if (this.backupVolumes.grafana)
      this.grafanaBackup = new GrafanaBackup(scope, "grafana-backup", {
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
  watchVolumes(ctx: StackContext, data: DataTier, edge: Edge): VolumeUsage {
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
      { volume: this.logs.volumes.lokiData, service: this.logs.lokiHost, budgetMb: b.lokiData },
      { volume: this.logs.volumes.shipperData, service: this.logs.shipperHost, budgetMb: b.shipperData },
      { volume: this.prometheus.dataVolume, service: this.prometheus.host, budgetMb: b.prometheusData },
      { volume: this.grafana.dataVolume, service: "grafana", budgetMb: b.grafanaData },
      ...stateful(edge.proxy.service.spec.volumes).map((volume) => ({ volume, service: "edge", budgetMb: b.edgeData })),
      ...(edge.vpn?.keyVolume ? [{ volume: edge.vpn.keyVolume, service: "vpn", budgetMb: b.vpnKeys }] : []),
    ];
    const known = new Set(watched.map((w) => w.volume));
    const unbudgeted = scope.node.findAll().filter((c): c is ServiceVolume => c instanceof ServiceVolume && !c.ephemeral && !known.has(c));
    if (unbudgeted.length > 0)
      throw new ValidationError(
        "Observability.watchVolumes",
        unbudgeted.map(
          (v) =>
            `${v.name} (${v.node.path}) has no size budget (fix: map it to a budgets key in environments/observability.ts watchVolumes, adding the key to constructs/observability/volume-budgets.ts if it is a new kind of store)`,
        ),
      );
    return new VolumeUsage(scope, "volume-usage", {
      environment: env,
      image: postgres.service.spec.image,
      metricsVolume: data.backupsVolume,
      volumes: watched,
    });
  }

  private buildGrafana(ctx: StackContext, data: DataTier, monitoringNet: PlatformNetwork): GrafanaServer {
    const { scope, config, env } = ctx;
    const o11y = config.observability;
    const channels = o11y.alerting;
    const onEdge = this.grafanaRoute !== undefined;
    const alerts = Boolean(channels.telegramChatId || channels.discord);
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
      lokiNetwork: this.logs.queryNetwork,
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
      rules: this.prometheus.rules,
      prometheusUrl: this.prometheus.url,
      lokiUrl: this.logs.lokiUrl,
      protectData: config.protectData,
    });
  }
}
