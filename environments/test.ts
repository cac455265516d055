import type { EnvironmentConfigInput } from "./schema";
import { observabilityConfig, prodConfig } from "./prod";
import type { Variables } from "./variables";

/**
 * Prod's topology at its smallest: same images, digests, webhook mode and replica fan-out (2 for
 * the API so load balancing is exercised), but a local backend, the internal CA and 127.0.0.1
 * ports that do not clash with dev on the same host.
 */
export function testConfig(vars: Variables): EnvironmentConfigInput {
  const prod = prodConfig(vars);
  const domain = vars.string("UPDATEIO_DOMAIN", "updateio.test");
  const small = <T extends { memoryMb: number; replicas: number }>(svc: T, replicas: number, memoryMb: number): T => ({ ...svc, replicas, memoryMb });
  return {
    ...prod,
    name: "test",
    state: { backend: "local", path: "state/test.tfstate" },
    // Prod's runtime on a one-node Swarm; nothing crosses a physical network, so nothing to encrypt.
    runtime: { kind: "swarm", encryptNetworks: false },
    protectData: false,
    logLevel: "debug",
    hosts: { api: `api.${domain}`, admin: `admin.${domain}`, miniApp: `app.${domain}`, grafana: `grafana.${domain}` },
    edge: {
      ...prod.edge,
      memoryMb: 128,
      cpuShares: 256,
      bindAddress: "127.0.0.1",
      httpPort: vars.port("UPDATEIO_EDGE_HTTP_PORT", 8081),
      httpsPort: vars.port("UPDATEIO_EDGE_HTTPS_PORT", 8444),
      tls: { mode: "internal" },
      adminAllowList: vars.list("UPDATEIO_ADMIN_ALLOW", ["127.0.0.0/8", "172.16.0.0/12"]),
    },
    postgres: { ...prod.postgres, memoryMb: 512, cpuShares: 512 },
    redis: { ...prod.redis, memoryMb: 128, cpuShares: 256 },
    rabbitmq: { ...prod.rabbitmq, memoryMb: 512, cpuShares: 256, vhost: "updateio-test" },
    observability: observabilityConfig(vars, { lokiDays: 7, prometheusDays: 7, scale: 0.5 }),
    services: {
      api: small(prod.services.api, 2, 512),
      discordBot: small(prod.services.discordBot, 1, 256),
      telegramBot: small(prod.services.telegramBot, 1, 256),
      adminPanel: small(prod.services.adminPanel, 1, 256),
      miniApp: small(prod.services.miniApp, 1, 128),
    },
  };
}
