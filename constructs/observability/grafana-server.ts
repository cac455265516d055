import { Token } from "cdktf";
import { Construct } from "constructs";
import { GeneratedSecret } from "../kit/generated-secret";
import { HardenedService } from "../kit/hardened-service";
import type { PlatformNetwork } from "../kit/platform-network";
import { SECURE_DEFAULTS } from "../kit/secure-defaults";
import { ServiceImage } from "../kit/service-image";
import type { NetworkAttachment, PublishedPort, SecretFile } from "../kit/service-spec";
import { ServiceVolume } from "../kit/service-volume";
import type { ConstructLocation, PostgresCluster, PostgresRole } from "../postgres/postgres-cluster";
import { renderGrafanaRoleSql } from "../postgres/renderers/postgres-grafana";
import { collect } from "./prometheus-server";
import { renderGrafanaAlerting, type AlertRule } from "./renderers/alert-rules";
import type { CaddyRoute } from "../edge/renderers/caddyfile";
import {
  GRAFANA_ENV_DEFAULTS,
  GRAFANA_PATHS,
  grafanaEnv,
  renderDashboardProvider,
  renderDashboards,
  renderDatasources,
} from "./renderers/grafana";
import { SCRAPE_JOBS } from "./renderers/observability-catalogue";
import type { ScrapeTarget } from "./renderers/prometheus";
import { problemsOf, ValidationError } from "../contract/errors";
import { isSecretEnvName } from "../contract/index";

/** How browsers reach Grafana. */
export type GrafanaExposure =
  /** Behind the edge proxy (TLS, admin allow-list): nothing is published; the edge dials upstreams(). */
  | { readonly mode: "edge"; readonly edgeNetwork: PlatformNetwork }
  /** Published on the host's 127.0.0.1:<port> only (dev, test; never prod: the policy forbids it). */
  | { readonly mode: "localhost"; readonly port: number };

export interface GrafanaPostgresProps {
  /**
   * The cluster the PostgreSQL data source reads. Grafana adds its own role there (cluster.addRole
   * with renderGrafanaRoleSql): a database of its own holding one session-state function, no app
   * data (Grafana runs whatever SQL a dashboard editor types), served by the read-only endpoint.
   */
  readonly cluster: PostgresCluster;
  /**
   * A network shared with the cluster's read-only endpoint (one of the cluster's
   * readOnlyClientNetworks), so Grafana shares nothing with the app services; Grafana joins it.
   */
  readonly network: PlatformNetwork;
  /**
   * Grafana's role, which is also the name of its database (a lowercase SQL identifier).
   * @default "<cluster.database>_grafana"
   */
  readonly role?: string;
  /**
   * Where the role's password is created; see PostgresRoleOptions.passwordAt.
   * @default inside the cluster
   */
  readonly passwordAt?: ConstructLocation;
}

export interface GrafanaAlertingProps {
  /** Telegram bot: the token is a Terraform token (a sensitive variable), the chat id a plain string. */
  readonly telegram?: { readonly botToken: string; readonly chatId: string };
  /** Discord webhook URL (a Terraform token: the URL embeds the webhook's secret). */
  readonly discord?: { readonly webhookUrl: string };
}

export interface GrafanaServerProps {
  readonly environment: string;
  /**
   * The official Grafana image, pinned (PINNED_IMAGES.grafana, grafana/grafana:12.1.1). What this
   * construct relies on in it: ENTRYPOINT /run.sh (turns GF_*__FILE into settings, passes its
   * arguments to `grafana server`), uid 472 / gid 0 owning /var/lib/grafana, Alpine's wget.
   */
  readonly image: string;
  /**
   * The URL browsers use: "https://grafana.updateio.app" behind the edge, "http://127.0.0.1:3000"
   * when published on localhost (its port must then be exposure.port).
   */
  readonly rootUrl: string;
  readonly exposure: GrafanaExposure;
  /**
   * A non-internal network, required with exposure "localhost": Docker publishes no port of a
   * container that is only on internal networks (docs/architecture.md), and the monitoring, postgres and edge
   * networks are internal. Only the 127.0.0.1 binding is published; nothing else listens.
   * @default undefined (required in localhost mode, refused in edge mode)
   */
  readonly publishNetwork?: PlatformNetwork;
  /**
   * Reaches Prometheus and Loki (and lets Prometheus scrape Grafana's /metrics). Required unless
   * `metrics` is false, refused then.
   */
  readonly monitoringNetwork?: PlatformNetwork;
  /**
   * Whether a Prometheus is there. false (observability profile "logs"): a logs-only Grafana, with
   * the Loki and PostgreSQL data sources and nothing else: no Prometheus data source, no dashboards
   * (they chart Prometheus), no alert rules or contact points (`rules` must be empty, `alerting` unset).
   * @default true
   */
  readonly metrics?: boolean;
  /**
   * The network Loki answers queries on (LokiStack.queryNetwork), when Loki is not on the
   * monitoring network.
   * @default undefined (Loki is reached on the monitoring network)
   */
  readonly lokiNetwork?: PlatformNetwork;
  /**
   * The PostgreSQL data source (Grafana's own role). Required: renderDatasources always provisions
   * it and the Postgres dashboard queries it.
   */
  readonly postgres: GrafanaPostgresProps;
  /**
   * Where alerts go. Secrets are delivered as files and referenced in the provisioning as
   * `$__file{/run/secrets/<name>}`. With no channel, alerts are evaluated and listed in Grafana only.
   * @default {}
   */
  readonly alerting?: GrafanaAlertingProps;
  /**
   * A network with a route out, joined only when an alerting channel is configured (Grafana posts
   * to api.telegram.org / discord.com). Required then; unused otherwise.
   * @default undefined
   */
  readonly egressNetwork?: PlatformNetwork;
  /** The alert catalogue: pass `prometheus.rules` so Prometheus and Grafana evaluate the same list. */
  readonly rules: readonly AlertRule[];
  /** @default "http://prometheus:9090" */
  readonly prometheusUrl?: string;
  /** @default "http://loki:3100" */
  readonly lokiUrl?: string;
  /** @default 512 */
  readonly memoryMb?: number;
  /** @default 512 */
  readonly cpuShares?: number;
  /** Protect the data volume (users, sessions, alert state) from destroy (prod). @default false */
  readonly protectData?: boolean;
}

const HOST = "grafana";
const PORT = GRAFANA_ENV_DEFAULTS.httpPort;
/** The image's user: uid 472, gid 0 (the image makes its directories group-0 writable). */
const GRAFANA_USER = "472:0";

/** Mount points; provisioning subdirectories are mounted one by one (see GrafanaServer). */
export const GRAFANA_MOUNTS = {
  datasources: `${GRAFANA_PATHS.provisioning}/datasources`,
  dashboardProviders: `${GRAFANA_PATHS.provisioning}/dashboards`,
  alerting: `${GRAFANA_PATHS.provisioning}/alerting`,
  dashboards: GRAFANA_PATHS.dashboards,
  data: GRAFANA_PATHS.data,
} as const;

/** Secret file names under /run/secrets. */
export const GRAFANA_SECRETS = {
  adminPassword: "grafana_admin_password",
  secretKey: "grafana_secret_key",
  postgresPassword: "grafana_postgres_password",
  telegramBotToken: "telegram_bot_token",
  discordWebhookUrl: "discord_webhook_url",
} as const;

/**
 * Settings that grafanaEnv returns but the kit (and the policy) refuse as environment names,
 * because the name looks secret (COOKIE). They are not secrets; they go on the command line as
 * `cfg:<section>.<key>=<value>`, which /run.sh passes to `grafana server` and which Grafana
 * applies after the environment overrides (pkg/setting: applyCommandLineProperties).
 */
const COMMAND_LINE_SETTINGS: Readonly<Record<string, string>> = {
  GF_SECURITY_COOKIE_SECURE: "security.cookie_secure",
};

const LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"];
const secretPath = (name: string) => `${SECURE_DEFAULTS.secretsDir}/${name}`;
const fileRef = (name: string) => `$__file{${secretPath(name)}}`;

/**
 * Grafana (official image) with its data sources (Prometheus, Loki, PostgreSQL as its own role),
 * dashboards and alerting provisioned from the renderers, read-only: the files are the truth.
 *
 * Mounts: each provisioning subdirectory the renderers fill (datasources, dashboards, alerting) is
 * a config dir of its own, mounted over the image's empty directory of that name, so the rest of
 * /etc/grafana/provisioning (plugins, access-control ...) and /etc/grafana/grafana.ini stay the
 * image's. Dashboard JSON goes to /etc/grafana/dashboards, where renderDashboardProvider points.
 *
 * Secrets: the admin password and secret_key are generated and read through GF_*__FILE (the
 * image's /run.sh); the Postgres password and the alerting tokens are files that the provisioning
 * references as `$__file{...}`. No secret is in the environment or in a rendered file.
 */
export class GrafanaServer extends Construct {
  readonly host = HOST;
  readonly port = PORT;
  /** The URL browsers use (GF_SERVER_ROOT_URL). */
  readonly rootUrl: string;
  readonly exposure: GrafanaExposure["mode"];
  /** The generated initial admin password (for a sensitive output). Rotating it changes nothing once the database exists: see grafanaEnv. */
  readonly adminPasswordSecret: GeneratedSecret;
  /** The generated secret_key (encrypts stored secrets): keep it stable. */
  readonly secretKeySecret: GeneratedSecret;
  /** Environment of the container (no secrets: only *__FILE paths). */
  readonly env: Readonly<Record<string, string>>;
  /** The container command: `cfg:` settings for /run.sh (see COMMAND_LINE_SETTINGS). */
  readonly command: readonly string[];
  /** The rendered files, exactly as uploaded (all but datasources empty when `metrics` is false: not uploaded). */
  readonly files: {
    readonly datasources: string;
    readonly dashboardProvider: string;
    readonly alerting: string;
    /** File name → dashboard JSON. */
    readonly dashboards: Readonly<Record<string, string>>;
  };
  /** Prometheus target for Grafana's own /metrics (on the monitoring network). */
  readonly scrapeTarget: ScrapeTarget = { job: "grafana", targets: [`${HOST}:${SCRAPE_JOBS.grafana.port}`] };
  readonly dataVolume: ServiceVolume;
  readonly service: HardenedService;
  /** Grafana's role in the cluster (cluster.addRole): its password secret and login. */
  readonly postgresRole: PostgresRole;

  constructor(scope: Construct, id: string, props: GrafanaServerProps) {
    super(scope, id);
    const memoryMb = props.memoryMb ?? 512;
    const alerting = props.alerting ?? {};
    const channels = alerting.telegram !== undefined || alerting.discord !== undefined;
    const metrics = props.metrics ?? true;
    const problems: string[] = [];
    if (!metrics) {
      if (props.rules.length > 0)
        problems.push("rules: alert rules need Prometheus, and metrics is false (fix: pass [], or set metrics to true)");
      if (channels)
        problems.push(
          "alerting: contact points have no alerts to send while metrics is false (fix: drop alerting, or set metrics to true)",
        );
      if (props.monitoringNetwork)
        problems.push("monitoringNetwork: there is no Prometheus to reach while metrics is false (fix: drop it, or set metrics to true)");
    } else if (!props.monitoringNetwork)
      problems.push("monitoringNetwork: is missing (fix: pass the internal monitoring network, where Prometheus is)");

    // Secrets must be Terraform tokens: a literal would be written into the synthesized JSON.
    const token = (key: string, value: string, fix: string) => {
      if (typeof value !== "string" || value === "") problems.push(`${key}: is empty (fix: ${fix})`);
      else if (!Token.isUnresolved(value))
        problems.push(`${key}: is a literal; it would be written into the synthesized JSON (fix: ${fix})`);
    };
    const pg = props.postgres;
    if (!pg.cluster.readOnlyClientNetworks.includes(pg.network))
      problems.push(
        `postgres.network: the "${pg.network.purpose}" network is not one of the cluster's readOnlyClientNetworks, so Grafana could not reach the read-only endpoint (fix: pass it in the cluster's readOnlyClientNetworks too)`,
      );
    if (alerting.telegram)
      token(
        "alerting.telegram.botToken",
        alerting.telegram.botToken,
        "pass a sensitive Terraform variable's value (TerraformVariable.stringValue)",
      );
    if (alerting.discord)
      token(
        "alerting.discord.webhookUrl",
        alerting.discord.webhookUrl,
        "pass a sensitive Terraform variable's value (TerraformVariable.stringValue)",
      );

    if (props.image.trim() === "") problems.push("image: is empty (fix: pass the pinned Grafana image, PINNED_IMAGES.grafana)");
    if (!Number.isInteger(memoryMb) || memoryMb < 256)
      problems.push(`memoryMb: ${memoryMb} must be a whole number of MiB ≥ 256 (fix: 512 is a good start)`);
    if (props.monitoringNetwork?.internal === false) {
      problems.push(
        `monitoringNetwork: the "${props.monitoringNetwork.purpose}" network is not internal (fix: pass the internal monitoring network; routes out go through egressNetwork)`,
      );
    }

    const url = parseUrl(props.rootUrl);
    const exposure = props.exposure;
    if (exposure.mode === "edge") {
      // http on a non-loopback host is grafanaEnv's to report; http on loopback is valid for it, not behind the edge.
      if (url && url.protocol === "http:" && LOOPBACK_HOSTS.includes(url.hostname))
        problems.push(
          `rootUrl: "${props.rootUrl}" must be https behind the edge, which terminates TLS (fix: e.g. "https://grafana.updateio.app")`,
        );
      if (props.publishNetwork)
        problems.push('publishNetwork: is only used with exposure.mode "localhost"; behind the edge nothing is published (fix: drop it)');
    } else if (exposure.mode === "localhost") {
      if (!Number.isInteger(exposure.port) || exposure.port < 1 || exposure.port > 65535)
        problems.push(`exposure.port: ${exposure.port} is not a port (fix: a free host port such as 3000)`);
      if (url) {
        const urlPort = url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
        if (!LOOPBACK_HOSTS.includes(url.hostname))
          problems.push(
            `rootUrl: "${props.rootUrl}" must name the loopback host that exposure "localhost" publishes on (fix: "http://127.0.0.1:${exposure.port}")`,
          );
        else if (urlPort !== exposure.port)
          problems.push(
            `rootUrl: port ${urlPort} differs from exposure.port ${exposure.port}, so redirects would go elsewhere (fix: "http://127.0.0.1:${exposure.port}")`,
          );
      }
      if (!props.publishNetwork)
        problems.push(
          'publishNetwork: is required with exposure "localhost": Docker publishes no port of a container on internal networks only (fix: pass the egress network)',
        );
      else if (props.publishNetwork.internal)
        problems.push(
          `publishNetwork: the "${props.publishNetwork.purpose}" network is internal, so Docker would publish nothing (fix: pass the egress network)`,
        );
    } else {
      problems.push(`exposure.mode: ${JSON.stringify((exposure as { mode: unknown }).mode)} must be "edge" or "localhost"`);
    }
    if (channels && !props.egressNetwork)
      problems.push(
        "egressNetwork: is required when an alerting channel is configured: Grafana posts to api.telegram.org / discord.com (fix: pass the egress network)",
      );
    if (channels && props.egressNetwork?.internal)
      problems.push(
        `egressNetwork: the "${props.egressNetwork.purpose}" network is internal, so notifications could never leave the host (fix: pass the egress network)`,
      );

    // Its own database, named after the role: pg_hba lets the role into that one only.
    const role = pg.role ?? `${pg.cluster.database}_grafana`;
    let pgRole: PostgresRole | undefined;
    try {
      pgRole = pg.cluster.addRole({
        name: role,
        database: role,
        endpoint: "read-only",
        initSql: ({ passwordFile }) => renderGrafanaRoleSql({ role, database: role, passwordFile }),
        passwordAt: pg.passwordAt,
      });
    } catch (e) {
      // addRole names its own subject (the cluster and the call): keep it, the fix is on the cluster's side.
      const subject = e instanceof ValidationError ? `${e.subject}: ` : "";
      problems.push(...problemsOf(e).map((p) => `postgres.role: ${subject}${p}`));
    }

    // The renderers' own checks, re-keyed to this construct's props.
    const env = collect(problems, {}, () => grafanaEnv({ rootUrl: props.rootUrl }));
    const datasources = collect(
      problems,
      {
        "postgres.user": "postgres.role",
        "postgres.address": "postgres.cluster",
        "postgres.database": "postgres.role",
      },
      () =>
        pgRole &&
        renderDatasources({
          prometheus: metrics,
          prometheusUrl: props.prometheusUrl,
          lokiUrl: props.lokiUrl,
          postgres: {
            address: `${pgRole.login.host}:${pgRole.login.port}`,
            database: pgRole.login.database,
            user: pgRole.login.role,
            passwordFile: secretPath(GRAFANA_SECRETS.postgresPassword),
          },
        }),
    );
    // A logs-only Grafana renders no alerting, dashboards or provider: they would chart or evaluate Prometheus.
    const alertingText = !metrics
      ? ""
      : collect(
          problems,
          {
            "telegram.chatId": "alerting.telegram.chatId",
            "telegram.botToken": "alerting.telegram.botToken",
            "discord.webhookUrl": "alerting.discord.webhookUrl",
          },
          () =>
            renderGrafanaAlerting({
              rules: props.rules,
              telegram: alerting.telegram
                ? { botToken: fileRef(GRAFANA_SECRETS.telegramBotToken), chatId: alerting.telegram.chatId }
                : undefined,
              discord: alerting.discord ? { webhookUrl: fileRef(GRAFANA_SECRETS.discordWebhookUrl) } : undefined,
            }),
        );
    const dashboardProvider = !metrics ? "" : collect(problems, {}, () => renderDashboardProvider({ path: GRAFANA_MOUNTS.dashboards }));
    const dashboards = !metrics ? {} : collect(problems, {}, () => renderDashboards({ environment: props.environment }));
    if (
      problems.length > 0 ||
      !pgRole ||
      !env ||
      !datasources ||
      alertingText === undefined ||
      dashboardProvider === undefined ||
      !dashboards
    ) {
      throw new ValidationError(`GrafanaServer ${this.node.path}`, problems);
    }

    const containerEnv: Record<string, string> = {};
    const command: string[] = [];
    for (const [name, value] of Object.entries(env)) {
      const setting = COMMAND_LINE_SETTINGS[name];
      if (setting !== undefined) command.push(`cfg:${setting}=${value}`);
      else if (isSecretEnvName(name))
        throw new ValidationError(`GrafanaServer ${this.node.path}`, [
          `grafanaEnv returned ${name}, whose name looks secret to the policy; add it to COMMAND_LINE_SETTINGS`,
        ]);
      else containerEnv[name] = value;
    }
    this.postgresRole = pgRole;
    this.env = containerEnv;
    this.command = command;
    this.rootUrl = env.GF_SERVER_ROOT_URL!;
    this.exposure = exposure.mode;
    this.files = { datasources, dashboardProvider, alerting: alertingText, dashboards };

    this.adminPasswordSecret = new GeneratedSecret(this, "admin-password");
    // secret_key encrypts the data keys of stored secrets: no keepers, so it never changes by accident.
    this.secretKeySecret = new GeneratedSecret(this, "secret-key", { length: 48 });
    const secrets: SecretFile[] = [
      // Read through GF_SECURITY_*__FILE, which grafanaEnv sets (so no envVar here: it would be set twice).
      { name: GRAFANA_SECRETS.adminPassword, value: this.adminPasswordSecret.value },
      { name: GRAFANA_SECRETS.secretKey, value: this.secretKeySecret.value },
      { name: GRAFANA_SECRETS.postgresPassword, value: pgRole.login.password },
      ...(alerting.telegram ? [{ name: GRAFANA_SECRETS.telegramBotToken, value: alerting.telegram.botToken }] : []),
      ...(alerting.discord ? [{ name: GRAFANA_SECRETS.discordWebhookUrl, value: alerting.discord.webhookUrl }] : []),
    ];
    const envFiles = [env.GF_SECURITY_ADMIN_PASSWORD__FILE, env.GF_SECURITY_SECRET_KEY__FILE];
    if (envFiles[0] !== secretPath(GRAFANA_SECRETS.adminPassword) || envFiles[1] !== secretPath(GRAFANA_SECRETS.secretKey)) {
      throw new ValidationError(`GrafanaServer ${this.node.path}`, [
        `grafanaEnv points at ${envFiles.join(", ")}, not at the delivered secret files`,
      ]);
    }

    const networks: NetworkAttachment[] = [];
    const join = (network: PlatformNetwork | undefined) => {
      if (network && !networks.some((n) => n.network === network)) networks.push({ network });
    };
    join(props.monitoringNetwork);
    join(props.lokiNetwork);
    join(props.postgres.network);
    if (exposure.mode === "edge") join(exposure.edgeNetwork);
    else join(props.publishNetwork);
    if (channels) join(props.egressNetwork);
    const ports: PublishedPort[] = exposure.mode === "localhost" ? [{ internal: PORT, external: exposure.port, ip: "127.0.0.1" }] : [];

    // The image's /var/lib/grafana is owned by 472: an empty named volume mounted there is filled
    // from the image on first use, ownership included (copy-up), so uid 472 can write it.
    this.dataVolume = new ServiceVolume(this, "data", {
      environment: props.environment,
      service: HOST,
      purpose: "data",
      protect: props.protectData ?? false,
    });
    this.service = new HardenedService(this, "server", {
      environment: props.environment,
      service: HOST,
      component: "observability",
      role: "dashboards",
      image: new ServiceImage(this, "image", { ref: props.image }),
      user: GRAFANA_USER,
      memoryMb,
      cpuShares: props.cpuShares,
      // The image's ENTRYPOINT /run.sh passes these to `grafana server`.
      command,
      env: containerEnv,
      secrets,
      configDirs: [
        { path: GRAFANA_MOUNTS.datasources, files: [{ name: "datasources.yaml", content: datasources }] },
        ...(metrics
          ? [
              { path: GRAFANA_MOUNTS.dashboardProviders, files: [{ name: "dashboards.yaml", content: dashboardProvider }] },
              { path: GRAFANA_MOUNTS.alerting, files: [{ name: "alerting.yaml", content: alertingText }] },
              { path: GRAFANA_MOUNTS.dashboards, files: Object.entries(dashboards).map(([name, content]) => ({ name, content })) },
            ]
          : []),
      ],
      volumes: [{ volume: this.dataVolume, containerPath: GRAFANA_MOUNTS.data }],
      networks,
      ports,
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${PORT}/api/health`],
        interval: "30s",
        timeout: "5s",
        retries: 3,
        // The first start runs Grafana's database migrations.
        startPeriod: "2m0s",
      },
    });
  }

  /** Dial addresses for the edge proxy (one replica). */
  upstreams(): string[] {
    const target = this.service.upstream(PORT);
    if (target.kind !== "static") throw new Error("GrafanaServer runs as a container; its upstream is static");
    return [...target.addresses];
  }

  /**
   * The edge route for Grafana (exposure "edge" only): the rootUrl's host (and sub-path, which
   * Grafana serves itself), admin allow-list, active health checks on /api/health.
   */
  edgeRoute(): CaddyRoute {
    if (this.exposure !== "edge")
      throw new ValidationError(`GrafanaServer ${this.node.path}`, [`edgeRoute() needs exposure "edge"; it is published on localhost`]);
    const url = new URL(this.rootUrl);
    const subPath = url.pathname === "/" ? undefined : url.pathname;
    return {
      host: url.hostname,
      ...(subPath ? { path: `${subPath}*` } : {}),
      upstreams: this.upstreams(),
      healthPath: `${subPath ?? "/"}api/health`,
      adminOnly: true,
    };
  }
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined; // grafanaEnv reports it, with the fix
  }
}
