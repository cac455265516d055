import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { Annotations, CloudBackend, LocalBackend, NamedCloudWorkspace, TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";
import type { Construct } from "constructs";
import { type CaddyRoute, EdgeProxy } from "../constructs/edge";
import { GrafanaServer, LokiStack, MetricsExporters, PrometheusServer, SCRAPE_JOBS } from "../constructs/observability";
import { VPN_ROUTE_PORTS, VpnGateway } from "../constructs/vpn";
import {
  BACKUP_ROOT,
  PostgresBackup,
  PostgresCluster,
  renderBackupRoleSql,
  renderGrafanaRoleSql,
  renderMonitorRoleSql,
  walArchiveSettings,
} from "../constructs/postgres";
import { GeneratedSecret, PlatformNetwork, ServiceVolume, setNetworkDefaults, SwarmRuntime, type Upstream } from "../constructs/kit";
import { appImage, MigrationJob, UpdateioService } from "../constructs/app";
import { applyPolicy, takePolicyRendering } from "../constructs/policy";
import { RabbitBroker } from "../constructs/rabbitmq";
import { RedisCache } from "../constructs/redis";
import { configWarnings, type EnvironmentConfig } from "./schema";
import { variableForPath, variableName } from "./variables";

/** A sensitive string Terraform variable (a workspace variable in Terraform Cloud, TF_VAR_<name> locally). */
function sensitiveVariable(scope: Construct, name: string, description: string, fallback?: string): string {
  return new TerraformVariable(scope, name, { type: "string", sensitive: true, nullable: false, description, default: fallback })
    .stringValue;
}

/** An edge route's upstream fields for a service's upstream. */
function routeTarget(u: Upstream): { upstreams: readonly string[] } | { dnsUpstream: { name: string; port: number } } {
  return u.kind === "static" ? { upstreams: u.addresses } : { dnsUpstream: { name: u.name, port: u.port } };
}

/** Telegram's allowed frame ancestors for mini apps (web and desktop clients). */
const TELEGRAM_FRAME_ANCESTORS = ["https://web.telegram.org", "https://*.telegram.org"];

/**
 * One environment, wired from its validated config: providers and state, the shared networks, the
 * data tier, the UpdateIO services and the edge proxy, then the policy pack over all of it.
 */
export class EnvironmentStack extends TerraformStack {
  readonly config: EnvironmentConfig;
  readonly postgres: PostgresCluster;
  readonly backup: PostgresBackup;
  readonly redis: RedisCache;
  readonly rabbitmq: RabbitBroker;
  readonly edge: EdgeProxy;
  readonly services: Record<keyof EnvironmentConfig["services"], UpdateioService>;
  readonly migrations: MigrationJob;
  readonly logs: LokiStack;
  readonly exporters: MetricsExporters;
  readonly prometheus: PrometheusServer;
  readonly grafana: GrafanaServer;
  readonly vpn?: VpnGateway;

  constructor(scope: Construct, id: string, config: EnvironmentConfig) {
    super(scope, id);
    this.config = config;
    const env = config.name;
    // Values prod refuses (plain-TCP Docker host, an allow-list for everyone, ...) are warnings here.
    for (const [path, message] of configWarnings(config)) {
      const key = variableForPath(env, path);
      Annotations.of(this).addWarning(
        `${path.join(".")}${key ? ` (${variableName(env, key)} or environments/${env}.ts)` : ""}: ${message}`,
      );
    }
    new DockerProvider(this, "docker", { host: config.dockerHost });
    new RandomProvider(this, "random");
    if (config.state.backend === "local") {
      // Relative to cdktf.out/stacks/<stack>/, so it lands in <project>/state/ and synth output is machine-independent.
      new LocalBackend(this, { path: `../../../${config.state.path}` });
    } else {
      new CloudBackend(this, {
        hostname: config.state.hostname,
        organization: config.state.organization,
        workspaces: new NamedCloudWorkspace(config.state.workspace),
      });
    }

    // On Swarm every network is an attachable overlay: app tasks on any node and the plain
    // containers on the manager (data tier, edge, jobs) share them.
    const swarm = config.runtime.kind === "swarm";
    setNetworkDefaults(this, swarm ? { driver: "overlay", encryptInternal: config.runtime.encryptNetworks } : { driver: "bridge" });
    const appRuntime =
      config.runtime.kind === "swarm"
        ? new SwarmRuntime({
            placementConstraints: config.runtime.placementConstraints,
            updateDelaySeconds: config.runtime.updateDelaySeconds,
          })
        : undefined;

    // Networks are pairs wherever a pair is what talks: Docker networks cannot say who may call whom,
    // only who shares one. The edge gets one internal network per routed service; the API one per
    // caller; each service that needs the internet its own egress network. So no service reaches a
    // neighbour it does not use, and nothing reaches an admin surface except through the edge.
    const pairNet = (purpose: string, internal = true) =>
      new PlatformNetwork(this, `${purpose}-network`, { environment: env, purpose, internal });
    const routeNet = (svc: string) => pairNet(`edge-${svc}`);
    const egressFor = (svc: string) => pairNet(`egress-${svc}`, false);
    const apiFor = (caller: string) => pairNet(`api-${caller}`);

    // Backups: a dedicated role (read all data + replication for base backups), one volume for
    // dumps, base backups and the WAL archive, mounted into the primary (archive_command) and the
    // backup scheduler.
    const database = config.postgres.database;
    const backupRole = `${database}_backup`;
    const backupPassword = new GeneratedSecret(this, "postgres-backup-password");
    // The metrics exporter's role: pg_monitor only (statistics, settings), no table data.
    const monitorRole = `${database}_monitor`;
    const monitorPassword = new GeneratedSecret(this, "postgres-monitor-password");
    // Grafana's role: a database of its own with one session-state function, no app data, served
    // by the read-only endpoint (see renderGrafanaRoleSql).
    const grafanaRole = `${database}_grafana`;
    const grafanaPassword = new GeneratedSecret(this, "postgres-grafana-password");
    const backupsVolume = new ServiceVolume(this, "postgres-backups", {
      environment: env,
      service: "postgres",
      purpose: "backups",
      protect: config.protectData,
    });

    // Grafana reads Postgres on a network of its own, so it shares nothing with the app services.
    const grafanaDbNet = pairNet("postgres-grafana");
    this.postgres = new PostgresCluster(this, "postgres", {
      environment: env,
      image: config.postgres.image,
      memoryMb: config.postgres.memoryMb,
      cpuShares: config.postgres.cpuShares,
      database,
      settings: { ...walArchiveSettings(), ...config.postgres.settings },
      extraRoles: [
        {
          role: backupRole,
          password: backupPassword.value,
          replication: true,
          initSql: (passwordFile) => renderBackupRoleSql({ role: backupRole, database, passwordFile }),
        },
        {
          role: monitorRole,
          password: monitorPassword.value,
          initSql: (passwordFile) => renderMonitorRoleSql({ role: monitorRole, database, passwordFile }),
        },
        {
          role: grafanaRole,
          password: grafanaPassword.value,
          database: grafanaRole,
          endpoint: "read-only",
          initSql: (passwordFile) => renderGrafanaRoleSql({ role: grafanaRole, database: grafanaRole, passwordFile }),
        },
      ],
      extraVolumes: [{ volume: backupsVolume, containerPath: BACKUP_ROOT }],
      protectData: config.protectData,
      replicas: config.postgres.replicas,
      pooler: config.postgres.pooler,
      poolerImage: config.postgres.poolerImage,
      poolSize: config.postgres.poolSize,
      readOnlyClientNetworks: [grafanaDbNet],
    });
    const offsiteCfg = config.postgres.offsite;
    const offsite = offsiteCfg && {
      ...offsiteCfg,
      network: egressFor("postgres-offsite"),
      accessKeyId: sensitiveVariable(
        this,
        "offsite_access_key_id",
        "Access key id for the off-host backup bucket. Set TF_VAR_offsite_access_key_id or the workspace variable.",
      ),
      secretAccessKey: sensitiveVariable(
        this,
        "offsite_secret_access_key",
        "Secret key for the off-host backup bucket. Set TF_VAR_offsite_secret_access_key or the workspace variable.",
      ),
    };
    if (!offsite && env === "prod") {
      Annotations.of(this).addWarning(
        "prod backups stay on this host: set UPDATEIO_PROD_BACKUP_OFFSITE_ENDPOINT and UPDATEIO_PROD_BACKUP_OFFSITE_BUCKET (and the Terraform variables offsite_access_key_id/offsite_secret_access_key) for an off-host copy.",
      );
    }
    this.backup = new PostgresBackup(this, "postgres-backup", {
      environment: env,
      image: this.postgres.service.spec.image,
      network: this.postgres.network,
      host: this.postgres.host,
      port: this.postgres.port,
      database: this.postgres.database,
      ownerRole: this.postgres.ownerRole,
      appRole: this.postgres.appRole,
      role: backupRole,
      password: backupPassword.value,
      volume: backupsVolume,
      protectData: config.protectData,
      dependsOn: this.postgres.service.containers,
      offsite,
    });
    this.redis = new RedisCache(this, "redis", {
      environment: env,
      image: config.redis.image,
      memoryMb: config.redis.memoryMb,
      cpuShares: config.redis.cpuShares,
      protectData: config.protectData,
      replicas: config.redis.replicas,
      sentinels: config.redis.sentinels,
      monitoring: true,
    });
    this.rabbitmq = new RabbitBroker(this, "rabbitmq", {
      environment: env,
      image: config.rabbitmq.image,
      memoryMb: config.rabbitmq.memoryMb,
      cpuShares: config.rabbitmq.cpuShares,
      vhost: config.rabbitmq.vhost,
      clusterSize: config.rabbitmq.clusterSize,
      protectData: config.protectData,
      logLevel: config.logLevel === "trace" ? "debug" : config.logLevel === "warn" ? "warning" : config.logLevel,
      // Prometheus scrapes the nodes here rather than joining the network the apps use.
      metricsNetwork: pairNet("rabbitmq-metrics"),
    });

    // Tokens issued by Discord and Telegram: Terraform variables (workspace variables in Terraform Cloud).
    // Dev runs without real bots; the placeholder only keeps the upload non-empty.
    const token = (name: string, description: string) =>
      sensitiveVariable(this, name, description, env === "dev" ? "dev-placeholder-set-TF_VAR_to-connect" : undefined);
    const discordToken = token(
      "discord_bot_token",
      "Discord bot token (Discord developer portal). Set TF_VAR_discord_bot_token or the workspace variable.",
    );
    const telegramToken = token(
      "telegram_bot_token",
      "Telegram bot token from @BotFather. Set TF_VAR_telegram_bot_token or the workspace variable.",
    );

    const s = config.services;
    const common = { environment: env, logLevel: config.logLevel, debug: config.debug, runtime: appRuntime };
    const publicUrl = (host: string) => (config.edge.httpsPort === 443 ? `https://${host}` : `https://${host}:${config.edge.httpsPort}`);
    // Services with debug ports need a non-internal network to publish them (dev only).
    const debugNet = (svc: string, cfg: { debugPorts: number[] }) => (cfg.debugPorts.length > 0 ? [{ network: egressFor(svc) }] : []);
    const callers = {
      discordBot: apiFor("discord-bot"),
      telegramBot: apiFor("telegram-bot"),
      adminPanel: apiFor("admin-panel"),
      miniApp: apiFor("mini-app"),
    };
    const routes = { api: routeNet("api"), adminPanel: routeNet("admin-panel"), miniApp: routeNet("mini-app") };

    const apiSecrets = [
      {
        name: "session_secret",
        value: new GeneratedSecret(this, "api-session-secret", { length: 64 }).value,
        envVar: "SESSION_SECRET_FILE",
      },
      {
        name: "encryption_key",
        value: new GeneratedSecret(this, "api-encryption-key", { length: 64 }).value,
        envVar: "ENCRYPTION_KEY_FILE",
      },
    ];
    const apiUrlEnv = { API_INTERNAL_URL: `http://api:${s.api.port}`, API_PUBLIC_URL: publicUrl(config.hosts.api) };

    // The migration job runs the API's image and must finish before the API starts.
    const apiImage = appImage(this, "api-image", env, "api", s.api.image);
    this.migrations = new MigrationJob(this, "migrations", {
      environment: env,
      image: apiImage,
      apiConfig: s.api,
      postgres: this.postgres,
      command: config.migrations.command,
      memoryMb: config.migrations.memoryMb,
      logLevel: config.logLevel,
    });
    const api = new UpdateioService(this, "api", {
      ...common,
      service: "api",
      config: s.api,
      image: apiImage,
      uses: [{ target: this.postgres }, { target: this.redis }, { target: this.rabbitmq, role: "api" }],
      networks: [{ network: routes.api }, ...Object.values(callers).map((network) => ({ network })), ...debugNet("api", s.api)],
      secrets: apiSecrets,
      env: { MINI_APP_URL: publicUrl(config.hosts.miniApp), ADMIN_URL: publicUrl(config.hosts.admin) },
      dependsOn: this.migrations.containers,
    });

    const discordBot = new UpdateioService(this, "discord-bot", {
      ...common,
      service: "discord-bot",
      config: s.discordBot,
      uses: [{ target: this.redis }, { target: this.rabbitmq, role: "discord-bot" }],
      // The Discord gateway is on the internet; the API on the app network.
      networks: [{ network: egressFor("discord-bot") }, { network: callers.discordBot }],
      secrets: [{ name: "discord_bot_token", value: discordToken, envVar: "DISCORD_BOT_TOKEN_FILE" }],
      // One gateway session per token: an update must not run the old and new bot side by side.
      exclusive: true,
      env: apiUrlEnv,
    });

    const webhook = s.telegramBot.mode === "webhook";
    const telegramRoute = webhook ? routeNet("telegram-bot") : undefined;
    const telegramSecrets = [{ name: "telegram_bot_token", value: telegramToken, envVar: "TELEGRAM_BOT_TOKEN_FILE" }];
    if (webhook) {
      // Telegram echoes this in X-Telegram-Bot-Api-Secret-Token; letters and digits are within its allowed set.
      telegramSecrets.push({
        name: "telegram_webhook_secret",
        value: new GeneratedSecret(this, "telegram-webhook-secret", { length: 48 }).value,
        envVar: "TELEGRAM_WEBHOOK_SECRET_FILE",
      });
    }
    const telegramBot = new UpdateioService(this, "telegram-bot", {
      ...common,
      service: "telegram-bot",
      config: s.telegramBot,
      uses: [{ target: this.redis }, { target: this.rabbitmq, role: "telegram-bot" }],
      networks: [
        { network: egressFor("telegram-bot") },
        { network: callers.telegramBot },
        ...(telegramRoute ? [{ network: telegramRoute }] : []),
      ],
      secrets: telegramSecrets,
      // Telegram allows one getUpdates consumer; webhooks are plain HTTP and can overlap.
      exclusive: !webhook,
      env: {
        ...apiUrlEnv,
        TELEGRAM_MODE: s.telegramBot.mode,
        MINI_APP_URL: publicUrl(config.hosts.miniApp),
        ...(webhook ? { TELEGRAM_WEBHOOK_URL: `${publicUrl(config.hosts.api)}${s.telegramBot.webhookPath}` } : {}),
      },
    });

    const adminPanel = new UpdateioService(this, "admin-panel", {
      ...common,
      service: "admin-panel",
      config: s.adminPanel,
      networks: [{ network: routes.adminPanel }, { network: callers.adminPanel }, ...debugNet("admin-panel", s.adminPanel)],
      secrets: [
        {
          name: "session_secret",
          value: new GeneratedSecret(this, "admin-session-secret", { length: 64 }).value,
          envVar: "SESSION_SECRET_FILE",
        },
      ],
      env: apiUrlEnv,
    });
    const miniApp = new UpdateioService(this, "mini-app", {
      ...common,
      service: "mini-app",
      config: s.miniApp,
      networks: [{ network: routes.miniApp }, { network: callers.miniApp }, ...debugNet("mini-app", s.miniApp)],
      env: apiUrlEnv,
    });
    this.services = { api, discordBot, telegramBot, adminPanel, miniApp };

    // Observability: logs (Loki + shipper via the read-only socket proxy), metrics (exporters +
    // Prometheus) and Grafana, on one internal monitoring network.
    const o11y = config.observability;
    const monitoringNet = new PlatformNetwork(this, "monitoring-network", { environment: env, purpose: "monitoring" });
    // Prometheus scrapes the internet-facing edge here, so the edge never joins the monitoring network.
    const edgeMetricsNet = pairNet("edge-metrics");
    this.logs = new LokiStack(this, "logs", {
      environment: env,
      lokiImage: o11y.loki.image,
      lokiMemoryMb: o11y.loki.memoryMb,
      retentionDays: o11y.loki.retentionDays,
      shipper: o11y.shipper.kind,
      shipperImage: o11y.shipper.image,
      shipperMemoryMb: o11y.shipper.memoryMb,
      socketProxyImage: o11y.socketProxyImage,
      network: monitoringNet,
      protectData: config.protectData,
      // cAdvisor reads the engine's info and version through the same proxy.
      allowEngineInfo: true,
    });
    this.exporters = new MetricsExporters(this, "exporters", {
      environment: env,
      monitoringNetwork: monitoringNet,
      postgres: {
        image: o11y.exporters.postgresImage,
        network: this.postgres.network,
        hosts: [
          { host: this.postgres.host, instanceRole: "primary" as const },
          ...this.postgres.replicaServices.map((r) => ({ host: r.spec.service, instanceRole: "replica" as const })),
        ],
        port: this.postgres.port,
        database,
        role: monitorRole,
        password: monitorPassword.value,
      },
      redis: {
        image: o11y.exporters.redisImage,
        secretsOwnerImage: this.redis.service.spec.image,
        network: this.redis.network,
        hosts: this.redis.nodeHosts.map((host, i) => ({ host, instanceRole: i === 0 ? ("primary" as const) : ("replica" as const) })),
        port: this.redis.port,
        user: this.redis.monitorUser!,
        password: this.redis.monitorPassword!,
      },
      cadvisor: { image: o11y.exporters.cadvisorImage, dockerHost: this.logs.dockerHost, dockerApiNetwork: this.logs.dockerApiNetwork },
      node: { image: o11y.exporters.nodeImage, backupsVolume },
    });
    this.prometheus = new PrometheusServer(this, "prometheus", {
      environment: env,
      image: o11y.prometheus.image,
      memoryMb: o11y.prometheus.memoryMb,
      retentionDays: o11y.prometheus.retentionDays,
      scrapeTargets: [
        ...this.logs.scrapeTargets(),
        ...this.exporters.scrapeTargets(),
        { job: "rabbitmq", targets: this.rabbitmq.nodeHosts.map((h) => `${h}:${this.rabbitmq.metricsPort}`) },
        { job: "edge", targets: [`edge:${SCRAPE_JOBS.edge.port}`] },
        { job: "grafana", targets: [`grafana:${SCRAPE_JOBS.grafana.port}`] },
      ],
      // ContainerMissing watches the io.updateio.service label of every long-running service.
      alerts: {
        expectedServices: [
          ...Object.values(this.services).map((svc) => svc.service.spec.service),
          this.postgres.host,
          ...this.postgres.replicaServices.map((r) => r.spec.service),
          ...this.redis.nodeHosts,
          ...this.redis.sentinelServices.map((r) => r.spec.service),
          ...this.rabbitmq.nodeHosts,
          "edge",
          "loki",
        ],
      },
      // RabbitMQ's built-in plugin is scraped on its own network; everything else comes to monitoring.
      networks: [
        { network: monitoringNet },
        { network: this.rabbitmq.metricsNetwork! },
        { network: edgeMetricsNet },
        { network: this.logs.metricsNetwork },
      ],
      protectData: config.protectData,
    });
    const alertChannels = o11y.alerting;
    const grafanaOnEdge = o11y.grafana.expose === "edge";
    const grafanaRoute = grafanaOnEdge ? routeNet("grafana") : undefined;
    const grafanaEgress = !grafanaOnEdge || alertChannels.telegramChatId || alertChannels.discord ? egressFor("grafana") : undefined;
    this.grafana = new GrafanaServer(this, "grafana", {
      environment: env,
      image: o11y.grafana.image,
      memoryMb: o11y.grafana.memoryMb,
      rootUrl: grafanaOnEdge ? publicUrl(config.hosts.grafana) : `http://127.0.0.1:${o11y.grafana.localPort}`,
      exposure: grafanaRoute ? { mode: "edge", edgeNetwork: grafanaRoute } : { mode: "localhost", port: o11y.grafana.localPort },
      publishNetwork: grafanaOnEdge ? undefined : grafanaEgress,
      monitoringNetwork: monitoringNet,
      lokiNetwork: this.logs.queryNetwork,
      postgres: { network: grafanaDbNet, login: this.postgres.loginFor(grafanaRole) },
      alerting: {
        ...(alertChannels.telegramChatId
          ? {
              telegram: {
                chatId: alertChannels.telegramChatId,
                botToken: sensitiveVariable(
                  this,
                  "alert_telegram_bot_token",
                  "Telegram bot token Grafana sends alerts with. Set TF_VAR_alert_telegram_bot_token or the workspace variable.",
                ),
              },
            }
          : {}),
        ...(alertChannels.discord
          ? {
              discord: {
                webhookUrl: sensitiveVariable(
                  this,
                  "alert_discord_webhook_url",
                  "Discord webhook URL for alerts. Set TF_VAR_alert_discord_webhook_url or the workspace variable.",
                ),
              },
            }
          : {}),
      },
      egressNetwork: alertChannels.telegramChatId || alertChannels.discord ? grafanaEgress : undefined,
      rules: this.prometheus.rules,
      prometheusUrl: this.prometheus.url,
      lokiUrl: this.logs.lokiUrl,
      protectData: config.protectData,
    });
    if (!alertChannels.telegramChatId && !alertChannels.discord && env === "prod") {
      Annotations.of(this).addWarning(
        "prod alerts have nowhere to go: set UPDATEIO_PROD_ALERT_TELEGRAM_CHAT_ID (+ TF_VAR_alert_telegram_bot_token) or UPDATEIO_PROD_ALERT_DISCORD=on (+ TF_VAR_alert_discord_webhook_url).",
      );
    }

    const caddyRoutes: CaddyRoute[] = [
      { host: config.hosts.api, ...routeTarget(api.upstream()), healthPath: "/health" },
      { host: config.hosts.admin, ...routeTarget(adminPanel.upstream()), healthPath: "/health", adminOnly: true },
      { host: config.hosts.miniApp, ...routeTarget(miniApp.upstream()), healthPath: "/health", frameAncestors: TELEGRAM_FRAME_ANCESTORS },
    ];
    if (webhook)
      caddyRoutes.push({
        host: config.hosts.api,
        path: s.telegramBot.webhookPath,
        ...routeTarget(telegramBot.upstream()),
        healthPath: "/health",
      });
    if (grafanaOnEdge) caddyRoutes.push(this.grafana.edgeRoute());

    // Optional operator VPN: a private route to the admin surfaces (through the edge's allow-list)
    // and RabbitMQ's management UI, instead of opening them to the internet.
    const vpnCfg = config.vpn;
    const vpnRoute = vpnCfg.enabled ? routeNet("vpn") : undefined;
    if (vpnCfg.enabled) {
      this.vpn = new VpnGateway(this, "vpn", {
        environment: env,
        image: vpnCfg.image,
        peers: vpnCfg.peers,
        privateKey:
          vpnCfg.keyMode === "supplied"
            ? sensitiveVariable(
                this,
                "vpn_private_key",
                "The VPN gateway's WireGuard private key (wg genkey). Set TF_VAR_vpn_private_key or the workspace variable.",
              )
            : undefined,
        subnet: vpnCfg.subnet,
        listenPort: vpnCfg.listenPort,
        bindAddress: config.edge.bindAddress,
        endpoint: vpnCfg.endpoint,
        routes: [
          { network: vpnRoute!, tcpPorts: VPN_ROUTE_PORTS.edge, description: "admin panel and Grafana, through the edge" },
          { network: this.rabbitmq.network, tcpPorts: VPN_ROUTE_PORTS.rabbitmqManagement, description: "RabbitMQ management UI" },
        ],
        publishNetwork: egressFor("vpn"),
        protectData: config.protectData,
      });
      new TerraformOutput(this, "vpn_access", {
        description: "VPN gateway: how to read its public key, and a client template per peer (fill in the device's private key).",
        value: { public_key_command: this.vpn.publicKeyCommand, listen_port: this.vpn.listenPort, peers: this.vpn.peerConfigs },
      });
    }

    this.edge = new EdgeProxy(this, "edge", {
      environment: env,
      image: config.edge.image,
      memoryMb: config.edge.memoryMb,
      cpuShares: config.edge.cpuShares,
      bindAddress: config.edge.bindAddress,
      httpPort: config.edge.httpPort,
      httpsPort: config.edge.httpsPort,
      tls: config.edge.tls,
      // The VPN masquerades: the edge sees the gateway's Docker address (see VpnGateway.allowListCidrs).
      adminAllowList: [...config.edge.adminAllowList, ...(this.vpn?.allowListCidrs ?? [])],
      hsts: env === "prod",
      routes: caddyRoutes,
      routeNetworks: [
        ...Object.values(routes),
        ...(telegramRoute ? [telegramRoute] : []),
        ...(grafanaRoute ? [grafanaRoute] : []),
        ...(vpnRoute ? [vpnRoute] : []),
      ],
      egressNetwork: egressFor("edge"),
      metricsNetwork: edgeMetricsNet,
      protectData: config.protectData,
    });

    new TerraformOutput(this, "urls", {
      description: "Public URLs served by the edge proxy.",
      value: {
        api: publicUrl(config.hosts.api),
        admin: publicUrl(config.hosts.admin),
        mini_app: publicUrl(config.hosts.miniApp),
        grafana: this.grafana.rootUrl,
      },
    });
    new TerraformOutput(this, "grafana_admin_password", {
      description: "Grafana's admin password (user admin; read with `terraform output -raw grafana_admin_password`).",
      sensitive: true,
      value: this.grafana.adminPasswordSecret.value,
    });
    new TerraformOutput(this, "internal_endpoints", {
      description: "Service discovery names on the internal networks (host:port).",
      value: {
        postgres: `${this.postgres.host}:${this.postgres.port}`,
        redis: `${this.redis.host}:${this.redis.port}`,
        rabbitmq: `${this.rabbitmq.host}:${this.rabbitmq.port}`,
        api: `api:${s.api.port}`,
      },
    });
    new TerraformOutput(this, "database_app_url", {
      description: "Connection URL of the app role (for operators; read with `terraform output -raw`).",
      sensitive: true,
      value: this.postgres.connectionFor("app").secrets.find((x) => x.name === "database_url")!.value,
    });

    if (Object.values(s).some((svc) => svc.image.kind === "registry" && /@sha256:0{64}$/.test(svc.image.ref))) {
      Annotations.of(this).addWarning(
        `environments/releases.json still holds placeholder digests (sha256:000...): deploys will fail to pull until the release pipeline writes real ones or UPDATEIO_${env.toUpperCase()}_<SERVICE>_IMAGE is set.`,
      );
    }
    applyPolicy(this, { environment: env });
  }

  /** The policy aspect rendered this stack moments ago in the same synth: reuse it (one render, not two). */
  override toTerraform(): any {
    return takePolicyRendering(this) ?? super.toTerraform();
  }
}
