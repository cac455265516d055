import type { EnvironmentConfigInput } from "./schema";
import { observabilityConfig, releasedConfig } from "./prod";
import type { Variables } from "./variables";

/**
 * Prod's topology at its smallest: same images, digests, webhook mode and replica fan-out (2 for
 * the API so load balancing is exercised), but a local backend, the internal CA and 127.0.0.1
 * ports that do not clash with dev on the same host. Reads UPDATEIO_TEST_* only.
 */
export function testConfig(vars: Variables): EnvironmentConfigInput {
  const domain = vars.domain("DOMAIN", "updateio.test");
  const base = releasedConfig(vars, domain);
  const small = <T extends { memoryMb: number; replicas: number }>(svc: T, replicas: number, memoryMb: number): T => ({
    ...svc,
    replicas,
    memoryMb,
  });
  const services = base.services;
  return {
    ...base,
    name: "test",
    state: { backend: "local", path: "state/test.tfstate" },
    // Prod's runtime on a one-node Swarm; nothing crosses a physical network, so nothing to encrypt.
    runtime: { kind: "swarm", encryptNetworks: false },
    protectData: false,
    logLevel: "debug",
    edge: {
      ...base.edge,
      memoryMb: 128,
      cpuShares: 256,
      bindAddress: "127.0.0.1",
      httpPort: vars.port("EDGE_HTTP_PORT", 8081),
      httpsPort: vars.port("EDGE_HTTPS_PORT", 8444),
      tls: { mode: "internal" },
      adminAllowList: vars.cidrList("ADMIN_ALLOW", ["127.0.0.0/8", "172.16.0.0/12"]),
    },
    postgres: { ...base.postgres, memoryMb: 512, cpuShares: 512 },
    redis: { ...base.redis, memoryMb: 128, cpuShares: 256 },
    rabbitmq: { ...base.rabbitmq, memoryMb: 512, cpuShares: 256, vhost: "updateio-test" },
    observability: observabilityConfig(vars, {
      lokiDays: 7,
      prometheusDays: 7,
      scale: 0.5,
      grafanaExpose: vars.choice("GRAFANA_EXPOSE", ["edge", "localhost"] as const, "edge"),
    }),
    services: {
      api: small(services.api, 2, 512),
      discordBot: small(services.discordBot, 1, 256),
      telegramBot: small(services.telegramBot, 1, 256),
      adminPanel: small(services.adminPanel, 1, 256),
      miniApp: small(services.miniApp, 1, 128),
    },
  };
}
