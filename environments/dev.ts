import type { EnvironmentConfigInput } from "./schema";
import { PINNED_IMAGES, tagOnly } from "./images";
import type { Variables } from "./variables";
import { DEFAULT_DOCKER_HOST, observabilityConfig, publicUrlFor, storeBackupsConfig, vpnConfig } from "./prod";
import { updateioServices } from "./services";

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

/** A laptop: every service built from local source with hot reload, debug on, one replica each. Reads UPDATEIO_DEV_* only. */
export function devConfig(vars: Variables): EnvironmentConfigInput {
  // Absolute, or relative to this project (resolved by Terraform's abspath at plan time).
  const source = vars.path("SOURCE_ROOT", "../updateio");
  const build = (folder: string) => ({
    kind: "build" as const,
    context: `${source}/${folder}`,
    devCommand: ["npm", "run", "dev"],
    mountPath: "/app",
    dockerfile: "Dockerfile",
  });
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
    runtime: { kind: "containers" },
    requireDigests: false,
    protectData: false,
    debug: true,
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
    postgres: { image: tagOnly(PINNED_IMAGES.postgres), memoryMb: 512, cpuShares: 512, database: "updateio" },
    redis: { image: tagOnly(PINNED_IMAGES.redis), memoryMb: 128, cpuShares: 256 },
    rabbitmq: { image: tagOnly(PINNED_IMAGES.rabbitmq), memoryMb: 512, cpuShares: 256, vhost: "updateio-dev" },
    observability: observabilityConfig(vars, {
      lokiDays: 3,
      prometheusDays: 7,
      scale: 0.5,
      pin: tagOnly,
      grafanaExpose: vars.choice("GRAFANA_EXPOSE", ["edge", "localhost"] as const, "edge"),
    }),
    budgets: SMALL_HOST_BUDGETS,
    backups: storeBackupsConfig(false, tagOnly),
    vpn: { ...vpnConfig(vars), image: tagOnly(PINNED_IMAGES.wireguard) },
    migrations: { command: ["npx", "prisma", "migrate", "deploy"], memoryMb: 512 },
    // Every service built from its folder under the source root (api/, discord-bot/, ...).
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
