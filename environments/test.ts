import type { EnvironmentConfigInput } from "./schema";
import { SMALL_HOST_BUDGETS } from "./dev";
import { cloudState, observabilityConfig, releasedConfig, type ServiceSize } from "./prod";
import type { Variables } from "./variables";

/** Two API replicas so load balancing is exercised; one of everything else. */
const TEST_SIZES: Readonly<Record<string, ServiceSize>> = {
  api: { replicas: 2, memoryMb: 512 },
  "discord-bot": { replicas: 1, memoryMb: 256 },
  "telegram-bot": { replicas: 1, memoryMb: 256 },
  "admin-panel": { replicas: 1, memoryMb: 256 },
  "mini-app": { replicas: 1, memoryMb: 128 },
};

/**
 * Prod's topology at its smallest: same images, digests, webhook mode and replica fan-out (2 for
 * the API so load balancing is exercised), but a local backend, the internal CA and 127.0.0.1
 * ports that do not clash with dev on the same host. Reads UPDATEIO_TEST_* only.
 */
export function testConfig(vars: Variables): EnvironmentConfigInput {
  const domain = vars.domain("DOMAIN", "updateio.test");
  const base = releasedConfig(vars, domain, { httpsPort: 8444, sizes: TEST_SIZES });
  return {
    ...base,
    name: "test",
    // Local unless a TFC_* variable names a Terraform Cloud workspace: then the state lives off this machine, as prod's does.
    state: (["TFC_HOSTNAME", "TFC_ORGANIZATION", "TFC_WORKSPACE"] as const).some((key) => vars.isSet(key))
      ? cloudState(vars, "updateio-test")
      : { backend: "local", path: "state/test.tfstate" },
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
      httpsPort: base.edge.httpsPort,
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
    // Small data on a shared test host; Loki's keeps 7 days at about 54 KB/s of logs.
    budgets: { ...SMALL_HOST_BUDGETS, lokiData: 4096 },
  };
}
