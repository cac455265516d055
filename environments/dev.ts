import { OBSERVABILITY_PROFILES, type EnvironmentConfigInput } from "./schema";
import { PINNED_IMAGES, tagOnly } from "./images";
import type { Variables } from "./variables";
import { DEFAULT_DOCKER_HOST, observabilityConfig, publicUrlFor, storeBackupsConfig, vpnConfig } from "./prod";
import { updateioServices } from "./services";
import { REFERENCE_SERVICE } from "./build-sources";
import { DEV_STAGE } from "../constructs/app";

/**
 * Size budgets of a small single host's stateful volumes, MiB: dev's laptop (Loki's keeps 3 days at
 * about 63 KB/s of logs) and, with more room for Loki, test's shared host.
 */
export const SMALL_HOST_BUDGETS = {
  postgresData: 2048,
  postgresBackups: 8192,
  redisData: 256,
  rabbitmqData: 1024,
  lokiData: 2048,
  shipperData: 64,
  prometheusData: 2048,
  grafanaData: 256,
  edgeData: 64,
  vpnKeys: 16,
  redisBackups: 1024,
  rabbitmqBackups: 64,
  grafanaBackups: 256,
  edgeBackups: 64,
} as const;

/**
 * A laptop: every service built from local source (UPDATEIO_DEV_SOURCE_ROOT, or the reference
 * service when unset) with hot reload, debug on, one replica each. Reads UPDATEIO_DEV_* only.
 */
export function devConfig(vars: Variables): EnvironmentConfigInput {
  // Absolute, or relative to this project (resolved by Terraform's abspath at plan time). Unset: no
  // checkout needed, every service is the reference service (a refused value is reported, not used).
  const source = vars.path("SOURCE_ROOT", "") || undefined;
  // Five tags from one context rather than one shared image: the same resources and addresses as
  // with a source root, each container named after its role, and BuildKit runs each step once (its
  // solver merges steps with the same cache key, concurrent builds too), so the layers are shared.
  const build = (folder: string) => ({
    kind: "build" as const,
    context: source === undefined ? REFERENCE_SERVICE : `${source}/${folder}`,
    devCommand: ["npm", "run", "dev"],
    mountPath: "/app",
    dockerfile: "Dockerfile",
    target: DEV_STAGE,
  });
  // The migration runs in the API's image: the reference service's own migration, or Prisma's for the real API.
  const migrations =
    source === undefined
      ? { command: ["npm", "run", "dev:migrate"], paths: ["src/migrate.ts", "src/postgres.ts"] }
      : { command: ["npx", "prisma", "migrate", "deploy"] };
  const httpsPort = vars.port("EDGE_HTTPS_PORT", 443);
  const hosts = {
    api: "api.updateio.localhost",
    admin: "admin.updateio.localhost",
    miniApp: "app.updateio.localhost",
    grafana: "grafana.updateio.localhost",
  };
  return {
    name: "dev",
    dockerHost: vars.dockerHost("DOCKER_HOST", DEFAULT_DOCKER_HOST),
    state: { backend: "local", path: "state/dev.tfstate" },
    // Plain containers: bind-mounted source, hot reload and debug ports on 127.0.0.1.
    // Pinned subnets outside Docker's default pools (172.17-31/16, 192.168/16): dev's 16-31 networks would nearly fill them.
    runtime: { kind: "containers", networkPool: devNetworkPool(vars) },
    requireDigests: false,
    protectData: false,
    debug: true,
    portForwardImage: tagOnly(PINNED_IMAGES.socat),
    logLevel: "debug",
    hosts,
    edge: {
      image: tagOnly(PINNED_IMAGES.caddy),
      memoryMb: 128,
      cpuShares: 256,
      bindAddress: "127.0.0.1",
      httpPort: vars.port("EDGE_HTTP_PORT", 80),
      httpsPort,
      tls: { mode: "internal" },
      adminAllowList: vars.cidrList("ADMIN_ALLOW", ["127.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "10.0.0.0/8"]),
    },
    postgres: {
      image: tagOnly(PINNED_IMAGES.postgres),
      memoryMb: 512,
      cpuShares: 512,
      database: "updateio",
      // prisma migrate dev / studio from the host: the primary on 127.0.0.1, and a shadow database it may create.
      hostPort: vars.port("POSTGRES_PORT", 55432),
      ownerCreatedb: true,
    },
    redis: { image: tagOnly(PINNED_IMAGES.redis), memoryMb: 128, cpuShares: 256 },
    rabbitmq: { image: tagOnly(PINNED_IMAGES.rabbitmq), memoryMb: 512, cpuShares: 256, vhost: "updateio-dev" },
    observability: {
      ...observabilityConfig(vars, {
        lokiDays: 3,
        prometheusDays: 7,
        scale: 0.5,
        pin: tagOnly,
        grafanaExpose: vars.choice("GRAFANA_EXPOSE", ["edge", "localhost"] as const, "edge"),
      }),
      // A laptop's default: logs only (no Prometheus, exporters or alerting); UPDATEIO_DEV_OBSERVABILITY=full is test's set.
      profile: vars.choice("OBSERVABILITY", OBSERVABILITY_PROFILES, "logs"),
    },
    budgets: SMALL_HOST_BUDGETS,
    backups: storeBackupsConfig(false, tagOnly),
    vpn: { ...vpnConfig(vars), image: tagOnly(PINNED_IMAGES.wireguard) },
    migrations: { ...migrations, memoryMb: 512 },
    // Every service built from its folder under the source root (api/, discord-bot/, ...), or from the reference service.
    services: updateioServices({
      image: build,
      size: (service) => ({ replicas: 1, memoryMb: service === "api" ? 768 : 512, cpuShares: 512 }),
      hosts,
      domain: "updateio.localhost",
      publicUrl: publicUrlFor(httpsPort),
      env: { NODE_ENV: "development" },
      telegramMode: "polling",
      debug: true,
    }),
  };
}

/** UPDATEIO_DEV_NETWORK_POOL: a range to pin subnets in, or "docker" for Docker's own pools. */
function devNetworkPool(vars: Variables): string | undefined {
  const pool = vars.raw("NETWORK_POOL") ?? DEV_NETWORK_POOL;
  // The schema checks the range (private IPv4, /8 to /23) and names this variable when it refuses it.
  return pool.toLowerCase() === "docker" ? undefined : pool;
}

/** Next to Docker's default pools, not in them: 172.16.0.0/16 is the one /16 of 172.16.0.0/12 they leave out. */
export const DEV_NETWORK_POOL = "172.16.0.0/16";
