import type { EnvironmentConfigInput } from "./schema";
import { PINNED_IMAGES } from "./images";
import releases from "./releases.json";
import type { Variables } from "./variables";

type AppKey = keyof typeof releases.images;

const IMAGE_VARIABLES = {
  api: "UPDATEIO_API_IMAGE",
  discordBot: "UPDATEIO_DISCORD_BOT_IMAGE",
  telegramBot: "UPDATEIO_TELEGRAM_BOT_IMAGE",
  adminPanel: "UPDATEIO_ADMIN_PANEL_IMAGE",
  miniApp: "UPDATEIO_MINI_APP_IMAGE",
} as const;

/** The released image of an app service: releases.json, or its UPDATEIO_*_IMAGE override. */
export function releasedImage(vars: Variables, key: AppKey) {
  return { kind: "registry" as const, ref: vars.string(IMAGE_VARIABLES[key], releases.images[key]) };
}

/** Off-host backup copy, when both the endpoint and the bucket are set. */
export function offsiteConfig(vars: Variables) {
  const endpoint = vars.string("UPDATEIO_BACKUP_OFFSITE_ENDPOINT", "");
  const bucket = vars.string("UPDATEIO_BACKUP_OFFSITE_BUCKET", "");
  if (endpoint === "" && bucket === "") return undefined;
  const region = vars.string("UPDATEIO_BACKUP_OFFSITE_REGION", "");
  const provider = vars.string("UPDATEIO_BACKUP_OFFSITE_PROVIDER", "");
  return { endpoint, bucket, image: PINNED_IMAGES.rclone, ...(region ? { region } : {}), ...(provider ? { provider } : {}) };
}

/** The operator VPN, off unless UPDATEIO_VPN=1; peers as name:publicKey:address. */
export function vpnConfig(vars: Variables) {
  const endpoint = vars.string("UPDATEIO_VPN_ENDPOINT", "");
  const peers = vars.list("UPDATEIO_VPN_PEERS", []).map((entry) => {
    const [name = "", publicKey = "", allowedIps = ""] = entry.split(":");
    return { name, publicKey, allowedIps };
  });
  return {
    enabled: vars.string("UPDATEIO_VPN", "") === "1",
    image: PINNED_IMAGES.wireguard,
    keyMode: vars.string("UPDATEIO_VPN_KEY", "generated") as "generated" | "supplied",
    ...(endpoint ? { endpoint } : {}),
    peers,
  };
}

/** Logs, metrics, dashboards and alerting; `scale` shrinks memory for dev and test. */
export function observabilityConfig(vars: Variables, o: { lokiDays: number; prometheusDays: number; scale: number; pin?: (ref: string) => string }) {
  const pin = o.pin ?? ((ref: string) => ref);
  const mb = (n: number) => Math.max(64, Math.round(n * o.scale));
  const chatId = vars.string("UPDATEIO_ALERT_TELEGRAM_CHAT_ID", "");
  const expose = vars.string("UPDATEIO_GRAFANA_EXPOSE", "edge");
  return {
    loki: { image: pin(PINNED_IMAGES.loki), memoryMb: mb(1024), retentionDays: o.lokiDays },
    shipper: { kind: "alloy" as const, image: pin(PINNED_IMAGES.alloy), memoryMb: mb(256) },
    socketProxyImage: pin(PINNED_IMAGES.dockerSocketProxy),
    prometheus: { image: pin(PINNED_IMAGES.prometheus), memoryMb: mb(1024), retentionDays: o.prometheusDays },
    grafana: { image: pin(PINNED_IMAGES.grafana), memoryMb: mb(512), expose: expose as "edge" | "localhost" },
    exporters: {
      postgresImage: pin(PINNED_IMAGES.postgresExporter),
      redisImage: pin(PINNED_IMAGES.redisExporter),
      cadvisorImage: pin(PINNED_IMAGES.cadvisor),
      nodeImage: pin(PINNED_IMAGES.nodeExporter),
    },
    alerting: { ...(chatId ? { telegramChatId: chatId } : {}), discord: vars.string("UPDATEIO_ALERT_DISCORD", "") === "1" },
  };
}

/** The real thing: Terraform Cloud state, ACME certificates, digests everywhere, protected data. */
export function prodConfig(vars: Variables): EnvironmentConfigInput {
  const domain = vars.string("UPDATEIO_DOMAIN", "updateio.app");
  const caUrl = vars.string("UPDATEIO_ACME_CA", "");
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
    dockerHost: vars.string("UPDATEIO_DOCKER_HOST", "unix:///var/run/docker.sock"),
    state: {
      backend: "cloud",
      hostname: vars.string("UPDATEIO_TFC_HOSTNAME", "app.terraform.io"),
      organization: vars.string("UPDATEIO_TFC_ORGANIZATION", "updateio"),
      workspace: vars.string("UPDATEIO_TFC_WORKSPACE", "updateio-prod"),
    },
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
      httpPort: vars.port("UPDATEIO_EDGE_HTTP_PORT", 80),
      httpsPort: vars.port("UPDATEIO_EDGE_HTTPS_PORT", 443),
      tls: { mode: "acme", email: vars.string("UPDATEIO_ACME_EMAIL", `ops@${domain}`), ...(caUrl ? { caUrl } : {}) },
      // Nobody until the operators list their networks (or use the VPN).
      adminAllowList: vars.list("UPDATEIO_ADMIN_ALLOW", []),
    },
    // One streaming replica (read-only alias postgres-ro) and PgBouncer in front of the primary.
    postgres: { image: PINNED_IMAGES.postgres, memoryMb: 2048, cpuShares: 2048, database: "updateio", replicas: 1, pooler: true, poolerImage: PINNED_IMAGES.pgbouncer, offsite: offsiteConfig(vars) },
    // A replica and three Sentinels: the master can fail over without losing sessions.
    redis: { image: PINNED_IMAGES.redis, memoryMb: 512, cpuShares: 1024, replicas: 1, sentinels: 3 },
    rabbitmq: { image: PINNED_IMAGES.rabbitmq, memoryMb: 1024, cpuShares: 1024, vhost: "updateio-prod", clusterSize: 3 },
    observability: observabilityConfig(vars, { lokiDays: 30, prometheusDays: 30, scale: 1 }),
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
