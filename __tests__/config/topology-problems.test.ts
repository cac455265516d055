/**
 * A service must not take what the platform gives something else: a name or network alias of the
 * data tier, a derived name, a public path on an admin-only host, a variable the platform sets, a
 * secret's variable twice, a host port already published.
 */
import { describe, expect, it } from "vitest";
import { loadEnvironmentConfig, type EnvironmentName } from "../../environments/load";
import { RESERVED_SERVICE_ROOTS } from "../../environments/topology-problems";
import { mutatedProblems } from "../support/config-problems";

const VALID = {
  dev: loadEnvironmentConfig("dev", {}),
  prod: loadEnvironmentConfig("prod", {}),
} as const;

/** A copy of the mini app's entry (routed, no data stores) under another name, with `change` applied. */
function withService(env: "dev" | "prod", name: string, change: (svc: any, cfg: any) => void = () => {}) {
  return mutatedProblems(env as EnvironmentName, VALID[env], (c) => {
    const svc = structuredClone(c.services["mini-app"]);
    svc.routes = [];
    svc.uses = ["postgres"];
    c.services[name] = svc;
    change(svc, c);
  });
}

describe("service names the platform uses", () => {
  // Each of these is a container, an alias on a data network, or a construct id of the platform.
  it.each([
    "postgres-pooler",
    "postgres-ro",
    "postgres-exporter",
    "redis-sentinel-1",
    "redis-replica-1",
    "rabbitmq-1",
    "loki",
    "alloy",
    "edge",
    "grafana",
    "docker",
    "logs",
    "random",
    "backend",
    "urls",
    "egress",
    "debug-9229",
    "volume-usage",
    "postgres-backup",
    "pre-migration-dump",
    "exporters",
    "port-forward-image",
  ])("refuses %s, naming the key", (name) => {
    const problems = withService("prod", name);
    expect(problems).toContainEqual(expect.stringMatching(new RegExp(`^services\\.${name.replace(/-/g, "\\-")}: is a reserved name`)));
  });

  it.each([
    "api-migrate",
    "billing-seed",
    "billing-secrets-owner",
    "billing-debug-9230",
    "billing-metrics",
    "billing-replica-2",
    "cache-pooler",
    "api-image",
    "billing-network",
    "billing-session-secret",
  ])("refuses %s, a name the platform derives from another service's", (name) => {
    expect(withService("dev", name)).toContainEqual(
      expect.stringContaining(`services.${name}: is a reserved name: the platform derives names ending in`),
    );
  });

  it("lists every root it reserves, and accepts names that only contain one", () => {
    expect(RESERVED_SERVICE_ROOTS).toEqual(
      expect.arrayContaining(["postgres", "redis", "rabbitmq", "edge", "loki", "alloy", "egress", "debug"]),
    );
    for (const name of ["status-page", "billing", "my-postgres-ui", "redisplay", "api-x2", "edgecase"])
      expect(withService("prod", name)).toEqual([]);
  });
});

describe("routes on an admin-only host", () => {
  it("refuses a public path on the admin host, and on any host another route makes admin-only", () => {
    const onAdmin = withService("prod", "billing", (svc, c) => (svc.routes = [{ host: c.hosts.admin, path: "/login" }]));
    expect(onAdmin).toContainEqual(
      expect.stringContaining('services.billing.routes.0: "admin.updateio.app" is an admin-only host (hosts.admin)'),
    );
    const onOther = withService(
      "prod",
      "billing",
      (svc) =>
        (svc.routes = [
          { host: "ops.updateio.app", adminOnly: true },
          { host: "ops.updateio.app", path: "/public" },
        ]),
    );
    expect(onOther).toContainEqual(
      expect.stringContaining('services.billing.routes.1: "ops.updateio.app" is an admin-only host (services.billing)'),
    );
  });

  it("accepts an admin-only path there", () => {
    expect(withService("prod", "billing", (svc, c) => (svc.routes = [{ host: c.hosts.admin, path: "/billing", adminOnly: true }]))).toEqual(
      [],
    );
  });
});

describe("variables the platform sets", () => {
  it.each([
    "PORT",
    "SERVICE_NAME",
    "DEPLOY_ENVIRONMENT",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "INSPECT_ADDRESS",
    "DATABASE_HOST",
    "REDIS_HOST",
    "AMQP_URL_FILE",
    "FEATURE_BETA",
    "API_INTERNAL_URL",
  ])("refuses %s in a service's env", (key) => {
    expect(withService("prod", "billing", (svc) => (svc.env = { ...svc.env, [key]: "x" }))).toContainEqual(
      expect.stringContaining(`services.billing.env.${key}: is set by`),
    );
  });

  it("refuses a secret whose variable the platform sets, that env also sets, or that another secret uses", () => {
    const secret = (name: string, envVar: string) => ({ name, envVar, generate: { length: 32 } });
    expect(withService("prod", "billing", (svc) => (svc.secrets = [secret("db", "DATABASE_URL_FILE")]))).toContainEqual(
      expect.stringContaining("services.billing.secrets.0.envVar: DATABASE_URL_FILE is set by `uses`"),
    );
    expect(withService("prod", "billing", (svc) => (svc.secrets = [secret("a", "KEY_FILE"), secret("b", "KEY_FILE")]))).toContainEqual(
      expect.stringContaining("services.billing.secrets.1.envVar: KEY_FILE is already the variable of secrets[0]"),
    );
    expect(
      withService("prod", "billing", (svc) => {
        svc.secrets = [secret("a", "KEY_FILE")];
        svc.env = { ...svc.env, KEY_FILE: "/tmp/k" };
      }),
    ).toContainEqual(expect.stringContaining("services.billing.secrets.0.envVar: KEY_FILE is also set in env"));
  });

  it("accepts the settings the catalogue gives (NODE_ENV, the public URLs) and a secret of its own", () => {
    expect(
      withService("prod", "billing", (svc) => {
        svc.env = { ...svc.env, NODE_ENV: "production", API_PUBLIC_URL: "https://api.updateio.app" };
        svc.secrets = [{ name: "stripe_key", envVar: "STRIPE_KEY_FILE", generate: { length: 32 } }];
      }),
    ).toEqual([]);
  });
});

describe("host ports in dev", () => {
  it("refuses Grafana's local port when Postgres' host port or a debug port already has it", () => {
    const base = (c: any) => {
      c.observability.grafana.expose = "localhost";
      c.observability.grafana.localPort = 3999;
    };
    expect(mutatedProblems("dev", VALID.dev, (c) => (base(c), (c.postgres.hostPort = 3999)))).toContainEqual(
      expect.stringContaining("observability.grafana.localPort: port 3999 is already published by postgres.hostPort"),
    );
    expect(mutatedProblems("dev", VALID.dev, (c) => (base(c), (c.services["mini-app"].debugPorts = [3999])))).toContainEqual(
      expect.stringContaining("observability.grafana.localPort: port 3999 is already published by services.mini-app.debugPorts"),
    );
    expect(mutatedProblems("dev", VALID.dev, base)).toEqual([]);
  });
});

describe("broker names a service uses", () => {
  // RabbitBroker refused these at synth, naming its construct (addApp("api")), not the config key.
  it.each([
    [
      "publishes",
      "updateio.audit",
      /"updateio\.audit" is not an exchange the broker declares; publish to one of updateio\.events, updateio\.commands, or add it to the broker's topology \(DEFAULT_TOPOLOGY in constructs\/rabbitmq\/renderers\/rabbitmq-definitions\.ts\)/,
    ],
    ["publishes", "updateio.dlx", /"updateio\.dlx" is not an exchange the broker declares/],
    ["publishes", "amq.topic", /"amq\.topic" is not an exchange the broker declares/],
    [
      "consumes",
      "notifications.email",
      /"notifications\.email" is not a work queue the broker declares; consume one of notifications\.telegram, notifications\.discord, updates\.fetch, or add it/,
    ],
    ["consumes", "updates.fetch.dlq", /"updates\.fetch\.dlq" is not a work queue the broker declares/],
    ["consumes", "updateio.events", /"updateio\.events" is not a work queue the broker declares/],
  ] as const)("refuses %s %s, naming the key and the fix", (key, name, says) => {
    const problems = mutatedProblems("prod", VALID.prod, (c) => c.services.api.messaging[key].push(name));
    const line = problems.find((p) => p.startsWith(`services.api.messaging.${key}.`));
    expect(line, problems.join("\n")).toBeDefined();
    expect(line).toMatch(new RegExp(`^services\\.api\\.messaging\\.${key}\\.\\d+: `));
    expect(line).toMatch(says);
  });

  it("accepts every exchange and work queue of the topology", () => {
    expect(
      withService("prod", "billing", (svc) => {
        svc.uses = ["rabbitmq"];
        svc.messaging = { publishes: ["updateio.events", "updateio.commands"], consumes: ["notifications.telegram", "updates.fetch"] };
      }),
    ).toEqual([]);
  });
});
