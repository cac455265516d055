import { type EnvironmentConfigInput, IMAGE_REF } from "./schema";
import { PINNED_IMAGES } from "./images";
import releases from "./releases.json";
import { OFFSITE_PATTERNS } from "../constructs/postgres";
import type { VariableKey, Variables } from "./variables";

type AppKey = keyof typeof releases.images;

const IMAGE_VARIABLES: Record<AppKey, VariableKey> = {
  api: "API_IMAGE",
  discordBot: "DISCORD_BOT_IMAGE",
  telegramBot: "TELEGRAM_BOT_IMAGE",
  adminPanel: "ADMIN_PANEL_IMAGE",
  miniApp: "MINI_APP_IMAGE",
};

/** The released image of an app service: releases.json, or its UPDATEIO_<ENV>_<SERVICE>_IMAGE override. */
export function releasedImage(vars: Variables, key: AppKey) {
  const ref = vars.pattern(
    IMAGE_VARIABLES[key],
    IMAGE_REF,
    "write an image reference such as ghcr.io/updateio/api:1.2.3@sha256:<64 hex>",
    releases.images[key],
  );
  return { kind: "registry" as const, ref };
}

/** Off-host backup copy, when both the endpoint and the bucket are set; a part set alone is refused, not ignored. */
export function offsiteConfig(vars: Variables) {
  const endpoint = vars.endpointUrl("BACKUP_OFFSITE_ENDPOINT");
  const bucket = vars.pattern(
    "BACKUP_OFFSITE_BUCKET",
    OFFSITE_PATTERNS.bucket,
    "write an existing S3 bucket name: 3-63 lowercase letters, digits, dots and dashes",
  );
  const region = vars.pattern("BACKUP_OFFSITE_REGION", OFFSITE_PATTERNS.region, "write a region name such as eu-central-1");
  const provider = vars.pattern(
    "BACKUP_OFFSITE_PROVIDER",
    OFFSITE_PATTERNS.provider,
    "write an rclone s3 provider name such as AWS, Minio, Cloudflare or Other",
  );
  const [e, b] = [vars.name("BACKUP_OFFSITE_ENDPOINT"), vars.name("BACKUP_OFFSITE_BUCKET")];
  if (vars.isSet("BACKUP_OFFSITE_ENDPOINT") !== vars.isSet("BACKUP_OFFSITE_BUCKET")) {
    const [set, missing] = vars.isSet("BACKUP_OFFSITE_ENDPOINT") ? [e, b] : [b, e];
    vars.report(set, `has no effect without ${missing}: set both for an off-host copy, or unset ${set}`);
  }
  if (!vars.isSet("BACKUP_OFFSITE_ENDPOINT") || !vars.isSet("BACKUP_OFFSITE_BUCKET")) {
    for (const key of ["BACKUP_OFFSITE_REGION", "BACKUP_OFFSITE_PROVIDER"] as const) {
      if (vars.isSet(key)) vars.report(vars.name(key), `has no effect without ${e} and ${b}: set both, or unset ${vars.name(key)}`);
    }
    return undefined;
  }
  if (endpoint === undefined || bucket === undefined) return undefined; // refused above
  return { endpoint, bucket, image: PINNED_IMAGES.rclone, ...(region ? { region } : {}), ...(provider ? { provider } : {}) };
}

/** The operator VPN, off unless UPDATEIO_<ENV>_VPN is on; its other settings need it on. */
export function vpnConfig(vars: Variables) {
  const enabled = vars.bool("VPN", false);
  const endpoint = vars.hostname("VPN_ENDPOINT");
  const keyMode = vars.choice("VPN_KEY", ["generated", "supplied"] as const, "generated");
  const peers = vars
    .records("VPN_PEERS", 3, "alice-laptop:<44-character wg pubkey>:10.13.13.2/32")
    .map(([name = "", publicKey = "", allowedIps = ""]) => ({ name, publicKey, allowedIps }));
  if (!enabled) {
    for (const key of ["VPN_ENDPOINT", "VPN_PEERS", "VPN_KEY"] as const) {
      if (vars.isSet(key))
        vars.report(
          vars.name(key),
          `has no effect while ${vars.name("VPN")} is off; set ${vars.name("VPN")}=on, or unset ${vars.name(key)}`,
        );
    }
    return { enabled, image: PINNED_IMAGES.wireguard, keyMode: "generated" as const, peers: [] };
  }
  return { enabled, image: PINNED_IMAGES.wireguard, keyMode, ...(endpoint ? { endpoint } : {}), peers };
}

/** Logs, metrics, dashboards and alerting; `scale` shrinks memory for dev and test. */
export function observabilityConfig(
  vars: Variables,
  o: { lokiDays: number; prometheusDays: number; scale: number; pin?: (ref: string) => string; grafanaExpose: "edge" | "localhost" },
) {
  const pin = o.pin ?? ((ref: string) => ref);
  const mb = (n: number) => Math.max(64, Math.round(n * o.scale));
  const chatId = vars.pattern(
    "ALERT_TELEGRAM_CHAT_ID",
    /^-?[0-9]{1,20}$|^@[A-Za-z0-9_]{5,32}$/,
    "write a Telegram chat id such as -1001234567890 or @channelname",
  );
  return {
    loki: { image: pin(PINNED_IMAGES.loki), memoryMb: mb(1024), retentionDays: o.lokiDays },
    shipper: { kind: "alloy" as const, image: pin(PINNED_IMAGES.alloy), memoryMb: mb(256) },
    socketProxyImage: pin(PINNED_IMAGES.dockerSocketProxy),
    prometheus: { image: pin(PINNED_IMAGES.prometheus), memoryMb: mb(1024), retentionDays: o.prometheusDays },
    grafana: { image: pin(PINNED_IMAGES.grafana), memoryMb: mb(512), expose: o.grafanaExpose },
    exporters: {
      postgresImage: pin(PINNED_IMAGES.postgresExporter),
      redisImage: pin(PINNED_IMAGES.redisExporter),
      cadvisorImage: pin(PINNED_IMAGES.cadvisor),
      nodeImage: pin(PINNED_IMAGES.nodeExporter),
    },
    alerting: { ...(chatId ? { telegramChatId: chatId } : {}), discord: vars.bool("ALERT_DISCORD", false) },
  };
}

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/**
 * What test and prod share: released images by digest, the replicated data tier, webhook mode.
 * Reads only variables both environments have; prodConfig adds the prod-only ones (state, ACME).
 */
export function releasedConfig(vars: Variables, domain: string): EnvironmentConfigInput {
  const app = (key: AppKey, port: number, replicas: number, memoryMb: number) => ({
    image: releasedImage(vars, key),
    replicas,
    memoryMb,
    cpuShares: 1024,
    port,
    env: { NODE_ENV: "production" },
  });
  return {
    name: "prod",
    dockerHost: vars.dockerHost("DOCKER_HOST", DEFAULT_DOCKER_HOST),
    state: { backend: "local", path: `state/${vars.env}.tfstate` },
    // App services as Swarm services (rolling, health-gated, rolled back on failure); overlay
    // traffic between nodes crosses the hosts' network, so networks carrying data are encrypted.
    runtime: { kind: "swarm", encryptNetworks: true },
    requireDigests: true,
    protectData: true,
    debug: false,
    logLevel: "info",
    hosts: { api: `api.${domain}`, admin: `admin.${domain}`, miniApp: `app.${domain}`, grafana: `grafana.${domain}` },
    edge: {
      image: PINNED_IMAGES.caddy,
      memoryMb: 256,
      cpuShares: 1024,
      bindAddress: "0.0.0.0",
      httpPort: vars.port("EDGE_HTTP_PORT", 80),
      httpsPort: vars.port("EDGE_HTTPS_PORT", 443),
      tls: { mode: "internal" },
      // Nobody until the operators list their networks (or use the VPN).
      adminAllowList: vars.cidrList("ADMIN_ALLOW", []),
    },
    // One streaming replica (read-only alias postgres-ro) and PgBouncer in front of the primary.
    postgres: {
      image: PINNED_IMAGES.postgres,
      memoryMb: 2048,
      cpuShares: 2048,
      database: "updateio",
      replicas: 1,
      pooler: true,
      poolerImage: PINNED_IMAGES.pgbouncer,
      offsite: offsiteConfig(vars),
    },
    // A replica and three Sentinels: the master can fail over without losing sessions.
    redis: { image: PINNED_IMAGES.redis, memoryMb: 512, cpuShares: 1024, replicas: 1, sentinels: 3 },
    rabbitmq: { image: PINNED_IMAGES.rabbitmq, memoryMb: 1024, cpuShares: 1024, vhost: "updateio-prod", clusterSize: 3 },
    observability: observabilityConfig(vars, { lokiDays: 30, prometheusDays: 30, scale: 1, grafanaExpose: "edge" }),
    vpn: vpnConfig(vars),
    migrations: { command: ["npx", "prisma", "migrate", "deploy"], memoryMb: 512 },
    services: {
      api: app("api", 3000, 3, 768),
      discordBot: app("discordBot", 3001, 1, 512),
      telegramBot: { ...app("telegramBot", 3002, 2, 512), mode: "webhook" },
      adminPanel: app("adminPanel", 3003, 2, 384),
      miniApp: app("miniApp", 3004, 2, 256),
    },
  };
}

/** The real thing: Terraform Cloud state, ACME certificates, digests everywhere, protected data. */
export function prodConfig(vars: Variables): EnvironmentConfigInput {
  const domain = vars.domain("DOMAIN", "updateio.app");
  const base = releasedConfig(vars, domain);
  const caUrl = vars.httpsUrl("ACME_CA");
  return {
    ...base,
    name: "prod",
    state: {
      backend: "cloud",
      hostname: vars.hostname("TFC_HOSTNAME", "app.terraform.io")!,
      organization: vars.pattern(
        "TFC_ORGANIZATION",
        /^[A-Za-z0-9_-]{1,90}$/,
        "write a Terraform Cloud organization name (letters, digits, - and _)",
        "updateio",
      ),
      workspace: vars.pattern(
        "TFC_WORKSPACE",
        /^[A-Za-z0-9_-]{1,90}$/,
        "write a Terraform Cloud workspace name (letters, digits, - and _)",
        "updateio-prod",
      ),
    },
    edge: { ...base.edge, tls: { mode: "acme", email: vars.email("ACME_EMAIL", `ops@${domain}`), ...(caUrl ? { caUrl } : {}) } },
  };
}
