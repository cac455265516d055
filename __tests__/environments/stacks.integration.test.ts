/**
 * The three environment stacks, synthesized in-process once each (Testing.synth: aspects run, validations
 * do not unless asked, annotations are not enforced), plus main.ts run twice for determinism.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { Testing } from "cdktf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { durationSeconds } from "../../constructs/kit/durations";
import { EnvironmentStack } from "../../environments/environment-stack";
import { ENVIRONMENTS, loadEnvironmentConfig, type EnvironmentName } from "../../environments/load";
import { itIfBinary } from "../support/binaries";
import { synthEnvironment, type SynthesizedEnvironment } from "../support/stacks";

const ROOT = resolve(__dirname, "../..");
const OUT = mkdtempSync(join(tmpdir(), "stacks-test-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

type Json = Record<string, any>;
/** Prometheus' network to each app service's /metrics (the catalogue's five declare it). */
const APP_METRICS_NETWORKS = ["api", "discord-bot", "telegram-bot", "admin-panel", "mini-app"].map((s) => `${s}-metrics`);
/** The API's link to each of its callers: one internal network per caller. */
const API_CALLER_NETWORKS = ["api-discord-bot", "api-telegram-bot", "api-admin-panel", "api-mini-app"];
const DATA_NETWORKS = ["postgres", "redis", "rabbitmq"];
const S = {} as Record<EnvironmentName, SynthesizedEnvironment>;
beforeAll(() => {
  // Dev with every observability part, like test and prod (its default profile, logs: observability-profile.test.ts).
  for (const env of ENVIRONMENTS) S[env] = synthEnvironment(env, env === "dev" ? { UPDATEIO_DEV_OBSERVABILITY: "full" } : {}, OUT);
});

// ---------------------------------------------------------------------------------------------
// Helpers over the synthesized JSON
// ---------------------------------------------------------------------------------------------

const allContainers = (json: Json): [string, Json][] => Object.entries(json.resource.docker_container ?? {}) as [string, Json][];
const isSecretsOwner = (c: Json) => (c.labels as Json[]).some((l) => l.label === "io.updateio.role" && l.value === "secrets-owner");
const running = (json: Json): Json[] =>
  allContainers(json)
    .map(([, c]) => c)
    .filter((c) => c.start !== false && !isSecretsOwner(c));
const secretsOwners = (json: Json): Json[] =>
  allContainers(json)
    .map(([, c]) => c)
    .filter(isSecretsOwner);
const seeds = (json: Json): Json[] =>
  allContainers(json)
    .map(([, c]) => c)
    .filter((c) => c.start === false);
function container(json: Json, name: string): Json {
  const c = allContainers(json).find(([, v]) => v.name === name);
  if (!c)
    throw new Error(
      `no container ${name}; have ${allContainers(json)
        .map(([, v]) => v.name)
        .join(", ")}`,
    );
  return c[1];
}
const containerKey = (json: Json, name: string): string => allContainers(json).find(([, v]) => v.name === name)![0];
/** "${docker_network.<id>.name}" (containers) or "${docker_network.<id>.id}" (services) → Docker network name. */
function networkNames(json: Json): Map<string, string> {
  return new Map(
    Object.entries(json.resource.docker_network as Json).flatMap(([id, n]) => [
      [`\${docker_network.${id}.name}`, (n as Json).name as string],
      [`\${docker_network.${id}.id}`, (n as Json).name as string],
    ]),
  );
}
function networksOf(json: Json, name: string): string[] {
  const names = networkNames(json);
  const attachments: Json[] = swarmService(json, name)?.task_spec.networks_advanced ?? container(json, name).networks_advanced;
  return attachments.map((n: Json) => names.get(n.name) ?? `?${n.name}`).sort();
}
const allServices = (json: Json): [string, Json][] => Object.entries(json.resource.docker_service ?? {}) as [string, Json][];
const swarmService = (json: Json, name: string): Json | undefined => allServices(json).find(([, v]) => v.name === name)?.[1];
/** Environment of a container ("K=V" list) or a Swarm service (map), as "K=V" strings. */
function envOf(json: Json, name: string): string[] {
  const svc = swarmService(json, name);
  return svc
    ? Object.entries(svc.task_spec.container_spec.env as Record<string, string>).map(([k, v]) => `${k}=${v}`)
    : container(json, name).env;
}
function dependsOn(json: Json, name: string): string[] {
  return (swarmService(json, name) ?? container(json, name)).depends_on ?? [];
}
/** Container names of one service ("<env>-<svc>" or "<env>-<svc>-<i>"), or the name of its one Swarm service. */
const replicasOf = (json: Json, env: string, svc: string): string[] =>
  swarmService(json, `${env}-${svc}`)
    ? [`${env}-${svc}`]
    : running(json)
        .map((c) => c.name as string)
        .filter((n) => n === `${env}-${svc}` || new RegExp(`^${env}-${svc}-\\d+$`).test(n))
        .sort();
/** The edge's upstream for a service: every replica by name (containers), or tasks.<svc> by DNS (Swarm). */
function upstreamOf(json: Json, env: string, svc: string, port: number): string {
  if (swarmService(json, `${env}-${svc}`)) return `reverse_proxy {\n\t\t\tdynamic a tasks.${svc} ${port} {\n\t\t\t\trefresh 1s\n\t\t\t}`;
  return `reverse_proxy ${replicasOf(json, env, svc)
    .map((n) => `${n.slice(env.length + 1)}:${port}`)
    .join(" ")} {`;
}
function caddyfile(json: Json, env: string): string {
  const upload = container(json, `${env}-edge-caddyfile-seed`).upload.find((u: Json) => u.file === "/etc/caddy/Caddyfile");
  if (!upload) throw new Error("no Caddyfile upload on the edge's caddyfile seed");
  return upload.content;
}
/** The lines of the site block that starts with "<host> {". */
function siteBlock(text: string, host: string): string {
  const start = text.indexOf(`\n${host} {\n`);
  if (start < 0) throw new Error(`no site block for ${host}`);
  const end = text.indexOf("\n}\n", start + 1);
  return text.slice(start + 1, end + 2);
}

// ---------------------------------------------------------------------------------------------
// Expectations per environment
// ---------------------------------------------------------------------------------------------

// test and prod share prod's data-tier topology: a Postgres replica and PgBouncer, Redis master + replica +
// 3 Sentinels, a 3-node RabbitMQ cluster.
const HA_DATA = [
  "postgres-replica-1",
  "postgres-pooler",
  "redis",
  "redis-replica-1",
  "redis-sentinel-1",
  "redis-sentinel-2",
  "redis-sentinel-3",
  "rabbitmq-1",
  "rabbitmq-2",
  "rabbitmq-3",
];
// Observability: Loki + Alloy + the socket proxy, Prometheus + exporters (one per Postgres and Redis
// node), Grafana, the volume-usage job. Exporters of replicas exist where the data tier has replicas.
const O11Y = [
  "alloy",
  "cadvisor",
  "docker-socket-proxy",
  "grafana",
  "loki",
  "node-exporter",
  "postgres-exporter",
  "prometheus",
  "redis-exporter",
  "volume-usage",
];
const HA_EXPORTERS = ["postgres-exporter-replica-1", "redis-exporter-replica-1"];
// Test and prod back up Redis, RabbitMQ, Grafana and the edge (dev leaves them off: environments/prod.ts storeBackupsConfig).
const STORE_BACKUPS = ["redis-backup", "rabbitmq-backup", "grafana-backup", "edge-backup"];
const APPS = ["admin-panel", "api", "discord-bot", "mini-app", "telegram-bot"];
// dev runs the apps as containers; test and prod run them as Swarm services (everything else stays a
// container on the manager).
/** Every environment's containers that both run and carry a seed. */
const CORE = [
  "api-migrate",
  // Loads a changed Caddyfile into the running edge (the edge itself has no seed: its Caddyfile is a live config).
  "edge-reload",
  "postgres",
  "postgres-backup",
  "postgres-reload",
  "postgres-restore-drill",
  // Applies the RabbitMQ app users to the running nodes (a one-shot job with its own seed).
  "rabbitmq-users",
  "redis-acl-reload",
];
// Test and prod run the same set (the Swarm environments).
const HA_RUNNING = [...CORE, "edge", ...HA_DATA, ...O11Y, ...HA_EXPORTERS, ...STORE_BACKUPS, "postgres-pre-migration-dump"];
const EXPECTED_RUNNING: Record<EnvironmentName, string[]> = {
  dev: [
    "admin-panel",
    "api",
    // The forwarder that publishes the API's inspector on 127.0.0.1 (the API itself stays internal).
    "api-debug-9229",
    "api-migrate",
    "discord-bot",
    "edge",
    "edge-reload",
    "mini-app",
    "postgres",
    // The forwarder of postgres.hostPort (prisma migrate dev / studio from the host).
    "postgres-host",
    "postgres-backup",
    "postgres-reload",
    "postgres-restore-drill",
    "rabbitmq",
    "rabbitmq-users",
    "redis",
    "redis-acl-reload",
    "telegram-bot",
    ...O11Y,
  ].map((s) => `dev-${s}`),
  test: HA_RUNNING.map((s) => `test-${s}`),
  prod: HA_RUNNING.map((s) => `prod-${s}`),
};
const EXPECTED_SERVICES: Record<EnvironmentName, string[]> = {
  dev: [],
  test: APPS.map((s) => `test-${s}`),
  prod: APPS.map((s) => `prod-${s}`),
};
// The mini app has no secret and no file, so no seed; every data node has its own. The socket proxy,
// cAdvisor and node-exporter take neither secrets nor files. Swarm services take docker_secrets instead.
const APP_SEEDS = ["admin-panel", "api", "discord-bot", "telegram-bot"];
// postgres-settings, redis-acl, edge-caddyfile and node-exporter-expected-services: files that
// change under running servers (no container is replaced with them); postgres-reload,
// redis-acl-reload, rabbitmq-users and edge-reload: their jobs' files.
const CORE_SEEDS = [...CORE, "postgres-settings", "redis-acl", "edge-caddyfile"];
const O11Y_SEEDS = [
  "alloy",
  "grafana",
  "loki",
  "node-exporter-expected-services",
  "postgres-exporter",
  "prometheus",
  "redis-exporter",
  "volume-usage",
];
const HA_SEEDS = [...CORE_SEEDS, ...HA_DATA, ...O11Y_SEEDS, ...HA_EXPORTERS, ...STORE_BACKUPS, "postgres-pre-migration-dump"];
const EXPECTED_SEEDS: Record<EnvironmentName, string[]> = {
  dev: [...APP_SEEDS, ...CORE_SEEDS, "rabbitmq", "redis", ...O11Y_SEEDS],
  test: HA_SEEDS,
  prod: HA_SEEDS,
};
const REPLICAS: Record<EnvironmentName, Record<string, number>> = {
  dev: { api: 1, "discord-bot": 1, "telegram-bot": 1, "admin-panel": 1, "mini-app": 1 },
  test: { api: 2, "discord-bot": 1, "telegram-bot": 1, "admin-panel": 1, "mini-app": 1 },
  prod: { api: 3, "discord-bot": 1, "telegram-bot": 2, "admin-panel": 2, "mini-app": 2 },
};

describe.each(ENVIRONMENTS)("%s stack", (env) => {
  const json = () => S[env].json;
  const text = () => S[env].text;
  const webhook = env !== "dev";
  /** The edge's network to each routed service, and the one it shares with Prometheus. */
  const edgeNetworks = [
    "edge-api",
    "edge-admin-panel",
    "edge-mini-app",
    "edge-grafana",
    ...(webhook ? ["edge-telegram-bot"] : []),
    "edge-metrics",
  ];

  describe("inventory", () => {
    it("has exactly the expected containers", () => {
      expect(
        running(json())
          .map((c) => c.name)
          .sort(),
      ).toEqual([...EXPECTED_RUNNING[env]].sort());
      expect(
        seeds(json())
          .map((c) => c.name)
          .sort(),
      ).toEqual(EXPECTED_SEEDS[env].map((s) => `${env}-${s}-seed`).sort());
      // Every seed that carries secrets has the job that hands them to its service's user, and no other seed has one.
      const withSecrets = seeds(json()).filter((c) => ((c.upload ?? []) as Json[]).some((u) => String(u.file).startsWith("/run/secrets/")));
      expect(
        secretsOwners(json())
          .map((c) => c.name)
          .sort(),
      ).toEqual(withSecrets.map((c) => String(c.name).replace(/-seed$/, "-secrets-owner")).sort());
      expect(
        allServices(json())
          .map(([, v]) => v.name)
          .sort(),
      ).toEqual(EXPECTED_SERVICES[env]);
    });

    it("runs each app service with its configured replica count, named and aliased per replica", () => {
      for (const [svc, n] of Object.entries(REPLICAS[env])) {
        const service = swarmService(json(), `${env}-${svc}`);
        if (service) {
          // One Swarm service; its tasks answer to the service alias (tasks.<svc> lists them).
          expect(service.mode, svc).toEqual({ replicated: { replicas: n } });
          for (const net of service.task_spec.networks_advanced) expect(net.aliases, svc).toEqual([svc]);
          continue;
        }
        const names = replicasOf(json(), env, svc);
        expect(names, svc).toEqual(n === 1 ? [`${env}-${svc}`] : Array.from({ length: n }, (_, i) => `${env}-${svc}-${i + 1}`));
        names.forEach((name, i) => {
          const expected = n === 1 ? [svc] : [svc, `${svc}-${i + 1}`];
          for (const net of container(json(), name).networks_advanced) expect(net.aliases, name).toEqual(expected);
        });
      }
    });

    it("has one internal network per edge route and per API caller, the data and monitoring networks, and an egress network per service that goes out", () => {
      const nets = Object.fromEntries(Object.values(json().resource.docker_network as Json).map((n: Json) => [n.name, n.internal]));
      const internal = [
        ...edgeNetworks,
        ...API_CALLER_NETWORKS,
        ...DATA_NETWORKS,
        "monitoring",
        "docker-api",
        "postgres-grafana",
        "rabbitmq-metrics",
        "logs-push",
        "logs-query",
        "logs-metrics",
        // The volume-usage job's own network: nothing else joins it.
        "volume-usage",
        // Each app service and Prometheus, which scrapes its /metrics there.
        ...APP_METRICS_NETWORKS,
        // Grafana's and the edge's backup jobs: they read a volume and talk to nobody.
        ...(webhook ? ["backups"] : []),
      ];
      // Dev: the API shares api-debug with its inspector's forwarder only; each forwarder has its own non-internal network.
      const devInternal = env === "dev" ? ["api-debug"] : [];
      const egress = [
        "egress-edge",
        "egress-discord-bot",
        "egress-telegram-bot",
        ...(env === "dev" ? ["api-debug-9229", "postgres-host"] : []),
      ];
      expect(nets).toEqual(
        Object.fromEntries([
          ...[...internal, ...devInternal].map((n) => [`${env}-${n}`, true]),
          ...egress.map((n) => [`${env}-${n}`, false]),
        ]),
      );
    });

    it("has the providers, one image per distinct image and the random passwords", () => {
      expect(Object.keys(json().provider).sort()).toEqual(["docker", "random"]);
      // Test and prod pull the app images from the private registry with the two sensitive variables (docs/runbooks/release.md).
      const registryAuth = [{ address: "ghcr.io", username: "${var.registry_username}", password: "${var.registry_password}" }];
      expect(json().provider.docker).toEqual([
        { host: "unix:///var/run/docker.sock", ...(webhook ? { registry_auth: registryAuth } : {}) },
      ]);
      // edge, postgres, redis, rabbitmq, five apps (+ PgBouncer where the pooler is on), and nine for
      // observability (loki, alloy, socket proxy, prometheus, grafana, four exporters).
      // On Swarm the nodes pull the four other app images themselves; the API's is still pulled for the migration job.
      // Test and prod add the Grafana backup's python image (the other backup jobs run their store's image);
      // dev adds the socat image of its port forwarders.
      expect(Object.keys(json().resource.docker_image)).toHaveLength(webhook ? 16 : 19);
      const passwords = Object.keys(json().resource.random_password)
        .map((k) => k.replace(/_[0-9A-F]{8}$/, ""))
        .sort();
      expect(passwords).toEqual(
        [
          "admin-session-secret_password",
          "api-encryption-key_password",
          "api-session-secret_password",
          "grafana_admin-password",
          "grafana_secret-key_password",
          "postgres-backup-password",
          // The Postgres backup job's signing key (every environment runs it).
          "postgres-backup_signing-key_password",
          "postgres-grafana-password",
          "postgres-monitor-password",
          "postgres-restore-drill-password",
          "postgres_app-password",
          "postgres_owner-password",
          "postgres_readonly-password",
          "postgres_reload-password",
          "postgres_replication-password",
          "postgres_superuser-password",
          "rabbitmq_api-password",
          "rabbitmq_discord-bot-password",
          "rabbitmq_erlang-cookie_password",
          "rabbitmq_password",
          "rabbitmq_telegram-bot-password",
          "redis_acl-reload-password",
          "redis_api-password",
          "redis_discord-bot-password",
          "redis_healthcheck-password",
          "redis_monitor-password",
          "redis_telegram-bot-password",
          ...(webhook ? ["redis_backup-password"] : []),
          // Each store backup's snapshot signing key (test and prod, where the store backups run).
          ...(webhook
            ? [
                "edge-backup_signing-key_password",
                "grafana-backup_signing-key_password",
                "rabbitmq-backup_signing-key_password",
                "redis-backup_signing-key_password",
              ]
            : []),
          ...(webhook
            ? ["redis_replication-password", "redis_sentinel-client-password", "redis_sentinel-password", "redis_sentinel-peer-password"]
            : []),
          ...(webhook ? ["telegram-webhook-secret_password"] : []),
        ].sort(),
      );
    });

    it("passes the policy pack with no error annotation", () => {
      const errors = S[env].stack.node
        .findAll()
        .flatMap((c) => c.node.metadata.filter((m) => m.type === "@cdktf/error").map((m) => `${c.node.path}: ${m.data}`));
      expect(errors).toEqual([]);
    });
  });

  describe("network attachments", () => {
    const each = (svc: string, expected: string[]) => {
      const names = replicasOf(json(), env, svc);
      expect(names.length, svc).toBeGreaterThan(0);
      for (const name of names) expect(networksOf(json(), name), name).toEqual(expected.map((n) => `${env}-${n}`).sort());
    };

    it("api: its edge route, one network per caller, postgres, redis, rabbitmq (+ in dev the one it shares with its debug port's forwarder)", () => {
      each("api", ["edge-api", ...API_CALLER_NETWORKS, ...DATA_NETWORKS, ...(env === "dev" ? ["api-debug"] : []), "api-metrics"]);
    });

    it("discord bot: its own egress, its link to the API, redis, rabbitmq", () => {
      each("discord-bot", ["egress-discord-bot", "api-discord-bot", "redis", "rabbitmq", "discord-bot-metrics"]);
    });

    it(`telegram bot: its own egress, its link to the API, redis, rabbitmq${webhook ? " and its edge route (webhook)" : ""}`, () => {
      each("telegram-bot", [
        "egress-telegram-bot",
        "api-telegram-bot",
        "redis",
        "rabbitmq",
        ...(webhook ? ["edge-telegram-bot"] : []),
        "telegram-bot-metrics",
      ]);
    });

    it("admin panel and mini app: their edge route and their link to the API, nothing shared with a neighbour", () => {
      each("admin-panel", ["edge-admin-panel", "api-admin-panel", "admin-panel-metrics"]);
      each("mini-app", ["edge-mini-app", "api-mini-app", "mini-app-metrics"]);
    });

    it("no two app services share a network except the API with each of its callers", () => {
      const apps = ["api", "discord-bot", "telegram-bot", "admin-panel", "mini-app"];
      const netsOf = Object.fromEntries(apps.map((a) => [a, new Set(networksOf(json(), replicasOf(json(), env, a)[0]!))]));
      const dataNets = new Set(DATA_NETWORKS.map((n) => `${env}-${n}`));
      for (const a of apps) {
        for (const b of apps) {
          if (a >= b) continue;
          const shared = [...netsOf[a]!].filter((n) => netsOf[b]!.has(n) && !dataNets.has(n));
          expect(shared, `${a} / ${b}`).toEqual(a === "api" || b === "api" ? [`${env}-api-${a === "api" ? b : a}`] : []);
        }
      }
    });

    it("data services: their own internal network, plus a network per read-only or scraping client", () => {
      // Without replicas the primary serves Grafana's reads; with them, the replicas do.
      each("postgres", ["postgres", ...(env === "dev" ? ["postgres-grafana"] : [])]);
      if (env !== "dev") each("postgres-replica-1", ["postgres", "postgres-grafana"]);
      each("redis", ["redis"]);
      for (const node of env === "dev" ? ["rabbitmq"] : ["rabbitmq-1", "rabbitmq-2", "rabbitmq-3"])
        each(node, ["rabbitmq", "rabbitmq-metrics"]);
    });

    it("edge: one network per route, its own egress and the metrics network it shares with Prometheus only; migration job: postgres only", () => {
      each("edge", ["egress-edge", ...edgeNetworks]);
      expect(networksOf(json(), `${env}-api-migrate`)).toEqual([`${env}-postgres`]);
    });

    it("observability: each part joins only what it talks to", () => {
      each("loki", ["logs-push", "logs-query", "logs-metrics"]);
      each("alloy", ["monitoring", "logs-push", "docker-api"]);
      each("docker-socket-proxy", ["docker-api"]);
      each("cadvisor", ["monitoring", "docker-api"]);
      each("node-exporter", ["monitoring"]);
      each("prometheus", ["monitoring", "rabbitmq-metrics", "edge-metrics", "logs-metrics", ...APP_METRICS_NETWORKS]);
      each("grafana", ["monitoring", "logs-query", "postgres-grafana", "edge-grafana"]);
      each("postgres-exporter", ["monitoring", "postgres"]);
      each("redis-exporter", ["monitoring", "redis"]);
    });

    it("every Prometheus scrape target resolves to a container that shares a network with Prometheus", () => {
      const promYaml = container(json(), `${env}-prometheus-seed`).upload.find((u: Json) => u.file.endsWith("/prometheus.yml"))
        .content as string;
      const targets = [...promYaml.matchAll(/^\s+- ([a-z0-9-]+):(\d+)$/gm)].map((m) => m[1]!);
      expect(targets.length).toBeGreaterThan(8);
      const netsOf = (c: Json) => new Set((c.networks_advanced ?? []).map((n: Json) => n.name));
      const prometheus = container(json(), `${env}-prometheus`);
      for (const host of new Set(targets)) {
        const owners = running(json()).filter((c) =>
          (c.networks_advanced ?? []).some((n: Json) => (n.aliases ?? []).includes(host) && netsOf(prometheus).has(n.name)),
        );
        expect(
          owners.map((c) => c.name),
          `scrape target ${host}`,
        ).toHaveLength(1);
      }
    });

    it("seeds have no network at all", () => {
      for (const seed of seeds(json())) {
        expect(seed.network_mode).toBe("none");
        expect(seed.networks_advanced).toBeUndefined();
      }
    });
  });

  describe("published ports", () => {
    const EXPECTED: Record<EnvironmentName, string[]> = {
      dev: [
        "dev-api-debug-9229 127.0.0.1:9229->9229/tcp",
        "dev-postgres-host 127.0.0.1:55432->5432/tcp",
        "dev-edge 127.0.0.1:80->80/tcp",
        "dev-edge 127.0.0.1:443->443/tcp",
      ],
      test: ["test-edge 127.0.0.1:8081->80/tcp", "test-edge 127.0.0.1:8444->443/tcp"],
      prod: ["prod-edge 0.0.0.0:80->80/tcp", "prod-edge 0.0.0.0:443->443/tcp"],
    };
    it(`are exactly: ${EXPECTED[env].join(", ")}`, () => {
      const published = allContainers(json()).flatMap(([, c]) =>
        (c.ports ?? []).map((p: Json) => `${c.name} ${p.ip}:${p.external}->${p.internal}/${p.protocol}`),
      );
      expect(published.sort()).toEqual([...EXPECTED[env]].sort());
    });
  });

  describe("secrets by reference only", () => {
    it("no environment variable carries a secret value or reference", () => {
      for (const c of running(json())) {
        for (const entry of c.env ?? []) {
          expect(entry, c.name).not.toMatch(/random_password|\$\{var\.|\$\{/);
          const name = entry.slice(0, entry.indexOf("="));
          if (/(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIAL|COOKIE)/i.test(name) || name.endsWith("_URL_FILE")) {
            expect(name, c.name).toMatch(/_FILE$/);
            expect(entry.slice(name.length + 1), c.name).toMatch(/^\/run\/secrets\/[a-z0-9_]+$/);
          }
        }
      }
    });

    it("every *_FILE variable points at a file the service's seed uploads", () => {
      for (const c of running(json())) {
        const files = (c.env ?? []).filter((e: string) => e.split("=")[0]!.endsWith("_FILE")).map((e: string) => e.split("=")[1]);
        if (files.length === 0) continue;
        // Replicas of one service share its seed; data nodes (rabbitmq-1, redis-sentinel-2, ...) have their own.
        const own = `${c.name}-seed`;
        const seedName = seeds(json()).some((x) => x.name === own) ? own : c.name.replace(/-\d+$/, "") + "-seed";
        const uploaded = container(json(), seedName).upload.map((u: Json) => u.file);
        for (const f of files) expect(uploaded, `${c.name} ${f}`).toContain(f);
      }
    });

    it("every secret upload is a random_password (or sensitive variable) reference, or a template containing one", () => {
      const sensitiveVars = Object.entries(json().variable as Json)
        .filter(([, v]) => v.sensitive === true)
        .map(([k]) => k);
      // Test and prod add the registry credentials (the provider's registry_auth, not an upload).
      const registry = webhook ? ["registry_password", "registry_username"] : [];
      expect(sensitiveVars.sort()).toEqual(["discord_bot_token", ...registry, "telegram_bot_token"]);
      let count = 0;
      for (const seed of seeds(json())) {
        for (const u of seed.upload.filter((x: Json) => x.file.startsWith("/run/secrets/"))) {
          count++;
          const refs = [
            ...(u.content as string).matchAll(/\$\{(?:urlencode\()?(random_password\.[A-Za-z0-9_-]+\.result|var\.[a-z_]+)\)?\}/g),
          ].map((m) => m[1]!);
          expect(refs.length, `${seed.name} ${u.file}`).toBeGreaterThan(0);
          for (const r of refs.filter((x) => x.startsWith("var."))) expect(sensitiveVars).toContain(r.slice(4));
        }
      }
      expect(count).toBeGreaterThan(20);
    });

    it("secret references appear only in files under /run/secrets (elsewhere only their SHA-256: the Redis ACL file)", () => {
      const HASHED = /\$\{sha256\(random_password\.[A-Za-z0-9_-]+\.result\)\}/g;
      const carriers = seeds(json()).flatMap((s) =>
        s.upload
          .filter((u: Json) => !u.file.startsWith("/run/secrets/") && /random_password|\$\{var\./.test(u.content.replace(HASHED, "")))
          .map((u: Json) => u.file),
      );
      expect(carriers).toEqual([]);
      const hashed = seeds(json()).flatMap((s) =>
        s.upload.filter((u: Json) => u.content.search(HASHED) >= 0).map((u: Json) => `${s.name}:${u.file}`),
      );
      expect(hashed.sort()).toEqual([
        `${env}-redis-acl-reload-seed:/etc/redis-acl-reload/expected.acl`,
        `${env}-redis-acl-seed:/usr/local/etc/redis-acl/users.acl`,
      ]);
    });

    it("contains no literal that looks like a generated password anywhere in the JSON", () => {
      const candidates = text().match(/[A-Za-z0-9]{24,}/g) ?? [];
      const passwordLike = candidates.filter((s) => /[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s));
      expect(passwordLike).toEqual([]);
    });

    it("bot tokens are sensitive variables with no default outside dev", () => {
      for (const v of ["discord_bot_token", "telegram_bot_token"]) {
        expect(json().variable[v]).toMatchObject({ type: "string", sensitive: true, nullable: false });
        if (env === "dev") expect(json().variable[v].default).toMatch(/placeholder/);
        else expect(json().variable[v].default).toBeUndefined();
      }
    });
  });

  describe("state backend", () => {
    it(env === "prod" ? "is Terraform Cloud" : `is local at ../../../state/${env}.tfstate`, () => {
      if (env === "prod") {
        expect(json().terraform.backend).toBeUndefined();
        expect(json().terraform.cloud).toEqual({
          hostname: "app.terraform.io",
          organization: "updateio",
          workspaces: { name: "updateio-prod" },
        });
      } else {
        expect(json().terraform.cloud).toBeUndefined();
        expect(json().terraform.backend).toEqual({ local: { path: `../../../state/${env}.tfstate` } });
      }
    });

    it("pins the provider versions", () => {
      expect(json().terraform.required_providers).toEqual({
        docker: { source: "kreuzwerker/docker", version: "3.6.2" },
        random: { source: "hashicorp/random", version: "3.7.2" },
      });
    });
  });

  describe("outputs", () => {
    it("has urls, internal_endpoints and the sensitive database_app_url and grafana_admin_password", () => {
      // Test and prod also name the dump taken right before the migrations (not sensitive: a path and commands).
      const dump = env === "dev" ? [] : ["pre_migration_dump"];
      expect(Object.keys(json().output).sort()).toEqual([
        "database_app_url",
        // Dev only: the owner's URL on 127.0.0.1 for prisma migrate dev / studio.
        ...(env === "dev" ? ["dev_database_url"] : []),
        "grafana_admin_password",
        "internal_endpoints",
        ...dump,
        "urls",
      ]);
      expect(json().output.grafana_admin_password.sensitive).toBe(true);
      expect(json().output.database_app_url.sensitive).toBe(true);
      // Through PgBouncer (transaction pooling, Prisma's pgbouncer flag) where the pooler is on (test, prod).
      const target = webhook
        ? "postgres-pooler:6432\\/updateio\\?schema=public&pgbouncer=true&connection_limit=20"
        : "postgres:5432\\/updateio\\?schema=public";
      expect(json().output.database_app_url.value).toMatch(
        new RegExp(
          `^postgresql:\\/\\/updateio_app:\\$\\{urlencode\\(random_password\\.postgres_app-password_[0-9A-F]+\\.result\\)\\}@${target}$`,
        ),
      );
      expect(json().output.urls.sensitive).toBeUndefined();
      // Every app service by its DNS name, beside the data tier.
      expect(json().output.internal_endpoints.value).toEqual({
        api: "api:3000",
        "discord-bot": "discord-bot:3001",
        "telegram-bot": "telegram-bot:3002",
        "admin-panel": "admin-panel:3003",
        "mini-app": "mini-app:3004",
        postgres: "postgres:5432",
        redis: "redis:6379",
        rabbitmq: "rabbitmq:5672",
      });
    });

    it("publishes the public URLs with the https port when it is not 443", () => {
      const expected = {
        dev: {
          api: "https://api.updateio.localhost",
          admin: "https://admin.updateio.localhost",
          mini_app: "https://app.updateio.localhost",
          grafana: "https://grafana.updateio.localhost/",
        },
        test: {
          api: "https://api.updateio.test:8444",
          admin: "https://admin.updateio.test:8444",
          mini_app: "https://app.updateio.test:8444",
          grafana: "https://grafana.updateio.test:8444/",
        },
        prod: {
          api: "https://api.updateio.app",
          admin: "https://admin.updateio.app",
          mini_app: "https://app.updateio.app",
          grafana: "https://grafana.updateio.app/",
        },
      }[env];
      expect(json().output.urls.value).toEqual(expected);
    });
  });

  describe("volumes", () => {
    it(`data volumes are prevent_destroy ${env === "prod" ? "(prod)" : "nowhere (not prod)"}, ephemeral volumes never`, () => {
      const volumes = Object.values(json().resource.docker_volume as Json) as Json[];
      const protectedNames = volumes
        .filter((v) => v.lifecycle?.prevent_destroy === true)
        .map((v) => v.name)
        .sort();
      expect(protectedNames).toEqual(
        env === "prod"
          ? [
              "prod-alloy-data",
              "prod-edge-admin",
              "prod-edge-backups",
              "prod-edge-data",
              "prod-grafana-backups",
              "prod-grafana-data",
              "prod-loki-data",
              "prod-postgres-backups",
              "prod-postgres-data",
              "prod-postgres-replica-1-data",
              "prod-prometheus-data",
              "prod-rabbitmq-1-data",
              "prod-rabbitmq-2-data",
              "prod-rabbitmq-3-data",
              "prod-rabbitmq-backups",
              "prod-redis-backups",
              "prod-redis-data",
              "prod-redis-replica-1-data",
              // Written by the running volume-usage job, so not ephemeral (prod-volume-protected).
              "prod-volume-usage-metrics",
            ]
          : [],
      );
      for (const v of volumes.filter((x) => x.labels.some((l: Json) => l.label === "io.updateio.ephemeral")))
        expect(v.lifecycle, v.name).toBeUndefined();
    });
  });

  describe("ordering", () => {
    it("every API container (or the API service) depends on the migration job", () => {
      const job = `docker_container.${containerKey(json(), `${env}-api-migrate`)}`;
      const apis = replicasOf(json(), env, "api");
      expect(apis).toHaveLength(swarmService(json(), `${env}-api`) ? 1 : REPLICAS[env].api!);
      for (const api of apis) expect(dependsOn(json(), api), api).toContain(job);
    });

    it("the migration job waits for postgres and checks its exit code", () => {
      const job = container(json(), `${env}-api-migrate`);
      expect(job.depends_on).toContain(`docker_container.${containerKey(json(), `${env}-postgres`)}`);
      expect(container(json(), `${env}-postgres`).wait).toBe(true);
      expect(job).toMatchObject({ attach: true, must_run: false, restart: "no" });
      expect(job.lifecycle.postcondition[0].condition).toBe("${self.exit_code == 0}");
    });

    it("apps that use a backing service depend on its container", () => {
      const redis = `docker_container.${containerKey(json(), `${env}-redis`)}`;
      for (const svc of ["api", "discord-bot", "telegram-bot"])
        for (const name of replicasOf(json(), env, svc)) expect(dependsOn(json(), name), name).toContain(redis);
    });
  });

  describe("telegram webhook", () => {
    it(webhook ? "has its secret, route and settings (webhook mode)" : "has no secret, route or webhook settings (polling mode)", () => {
      const botName = replicasOf(json(), env, "telegram-bot")[0]!;
      const bot = { env: envOf(json(), botName) };
      const botService = swarmService(json(), botName);
      const seedFiles: string[] = botService
        ? botService.task_spec.container_spec.secrets.map((x: Json) => x.file_name)
        : container(json(), `${env}-telegram-bot-seed`).upload.map((u: Json) => u.file);
      const cf = caddyfile(json(), env);
      const hasSecret = Object.keys(json().resource.random_password).some((k) => k.startsWith("telegram-webhook-secret"));
      expect(hasSecret).toBe(webhook);
      expect(seedFiles.includes("/run/secrets/telegram_webhook_secret")).toBe(webhook);
      expect(bot.env.includes("TELEGRAM_WEBHOOK_SECRET_FILE=/run/secrets/telegram_webhook_secret")).toBe(webhook);
      expect(bot.env).toContain(`TELEGRAM_MODE=${webhook ? "webhook" : "polling"}`);
      expect(bot.env.some((e: string) => e.startsWith("TELEGRAM_WEBHOOK_URL="))).toBe(webhook);
      expect(cf.includes("handle /telegram/webhook {")).toBe(webhook);
      if (webhook) {
        const port = env === "test" ? ":8444" : "";
        expect(bot.env).toContain(`TELEGRAM_WEBHOOK_URL=https://api.updateio.${env === "test" ? "test" : "app"}${port}/telegram/webhook`);
        expect(siteBlock(cf, env === "test" ? "api.updateio.test" : "api.updateio.app")).toContain(`\thandle /telegram/webhook {`);
        expect(cf).toContain(upstreamOf(json(), env, "telegram-bot", 3002));
      }
    });
  });

  describe("Caddyfile", () => {
    const hosts = () => S[env].stack.config.hosts;

    it("has one site block per host, each routing to every replica of its service", () => {
      const cf = caddyfile(json(), env);
      const siteLines = cf.split("\n").filter((l) => /^[a-z0-9.-]+ \{$/.test(l));
      expect(siteLines.sort()).toEqual([hosts().admin, hosts().api, hosts().miniApp, hosts().grafana].map((h) => `${h} {`).sort());
      expect(siteBlock(cf, hosts().api)).toContain(`\t\t${upstreamOf(json(), env, "api", 3000)}`);
      // prod's admin allow-list is empty (nobody until operators list their networks): the route answers 403 only
      if (env === "prod") expect(siteBlock(cf, hosts().admin)).not.toContain("reverse_proxy");
      else expect(siteBlock(cf, hosts().admin)).toContain(`\t\t${upstreamOf(json(), env, "admin-panel", 3003)}`);
      expect(siteBlock(cf, hosts().miniApp)).toContain(`\t\t${upstreamOf(json(), env, "mini-app", 3004)}`);
    });

    it("fences the admin host with the allow-list and lets Telegram frame the mini app", () => {
      const cf = caddyfile(json(), env);
      const admin = siteBlock(cf, hosts().admin);
      if (env === "prod")
        expect(admin).toContain("respond 403"); // empty allow-list: nobody
      else expect(admin).toContain(`not remote_ip ${S[env].stack.config.edge.adminAllowList.join(" ")}`);
      expect(siteBlock(cf, hosts().miniApp)).toContain("frame-ancestors https://web.telegram.org https://*.telegram.org");
    });

    it(env === "prod" ? "uses ACME with HSTS" : "uses the internal CA without HSTS", () => {
      const cf = caddyfile(json(), env);
      if (env === "prod") {
        expect(cf).toContain("\temail ops@updateio.app\n");
        expect(cf).not.toContain("local_certs");
        expect(cf).toContain("Strict-Transport-Security");
      } else {
        expect(cf).toContain("\tlocal_certs\n");
        expect(cf).not.toContain("Strict-Transport-Security");
      }
    });
  });

  it("synthesizes byte-identical JSON in a fresh app", () => {
    expect(synthEnvironment(env, env === "dev" ? { UPDATEIO_DEV_OBSERVABILITY: "full" } : {}, OUT).text).toBe(text());
  });
});

describe.each(["test", "prod"] as const)("%s: Swarm services", (env) => {
  const json = () => S[env].json;
  const services = () => allServices(json()).map(([, v]) => v);

  it("every *_FILE variable points at a secret mounted 0400 for the service's own uid:gid", () => {
    for (const svc of services()) {
      const c = svc.task_spec.container_spec;
      const [uid, gid] = (c.user as string).split(":");
      const mounted = new Map<string, Json>((c.secrets ?? []).map((m: Json) => [m.file_name, m]));
      const files = Object.entries(c.env as Record<string, string>).filter(([k]) => k.endsWith("_FILE"));
      // The mini app has no secret at all; every other app has some.
      expect(files.length > 0, svc.name).toBe(svc.name !== `${env}-mini-app`);
      expect(mounted.size, svc.name).toBe(files.length);
      for (const [name, file] of files) {
        expect(mounted.get(file), `${svc.name} ${name}`).toMatchObject({ file_uid: uid, file_gid: gid, file_mode: 0o400 });
      }
    }
  });

  it("every docker_secret holds a generated value or a sensitive variable (directly or through a local), named after its content", () => {
    const locals = (json().locals ?? {}) as Record<string, string>;
    for (const [key, secret] of Object.entries(json().resource.docker_secret as Json) as [string, Json][]) {
      const m = /^\$\{base64encode\((.+)\)\}$/.exec(secret.data);
      expect(m, key).not.toBeNull();
      const inner = m![1]!.startsWith("local.") ? locals[m![1]!.slice(6)]! : `\${${m![1]}}`;
      expect(inner, key).toMatch(/\$\{(urlencode\()?(random_password\.[A-Za-z0-9_-]+\.result|var\.[a-z_]+)\)?\}/);
      expect(secret.name, key).toMatch(/^\$\{join\("", \["[a-z0-9-]+-[a-z0-9_]+-", substr\(sha256\(.+\), 0, 12\)\]\)\}$/);
      expect(secret.lifecycle, key).toEqual({ create_before_destroy: true });
    }
  });

  it("images are pinned by digest and no app image other than the API's (used by the migration job) is pulled onto the manager", () => {
    for (const svc of services()) expect(svc.task_spec.container_spec.image, svc.name).toMatch(/@sha256:[0-9a-f]{64}$/);
    const pulled = Object.values(json().resource.docker_image as Json).map((i: Json) => i.name as string);
    for (const svc of services().filter((x) => x.name !== `${env}-api`))
      expect(pulled, svc.name).not.toContain(svc.task_spec.container_spec.image);
    expect(pulled).toContain(swarmService(json(), `${env}-api`)!.task_spec.container_spec.image);
  });

  it("updates roll one task at a time with automatic rollback, watching longer than a failing healthcheck needs", () => {
    for (const svc of services()) {
      const hc = svc.task_spec.container_spec.healthcheck;
      const failsAfter = durationSeconds(hc.start_period) + hc.retries * (durationSeconds(hc.interval) + durationSeconds(hc.timeout));
      expect(svc.update_config, svc.name).toMatchObject({ parallelism: 1, failure_action: "rollback", max_failure_ratio: "0.0" });
      expect(durationSeconds(svc.update_config.monitor), svc.name).toBeGreaterThan(failsAfter);
      expect(svc.rollback_config, svc.name).toMatchObject({ parallelism: 1, failure_action: "pause" });
      expect(svc.task_spec.restart_policy, svc.name).toEqual({ condition: "any", delay: "5s", max_attempts: 0, window: "2m" });
      expect(svc.task_spec.container_spec.stop_grace_period, svc.name).toBe("30s");
    }
  });

  it("bots that hold one session update stop-first; everything else start-first", () => {
    const order = Object.fromEntries(services().map((x) => [x.name.slice(env.length + 1), x.update_config.order]));
    expect(order).toEqual({
      "admin-panel": "start-first",
      api: "start-first",
      "discord-bot": "stop-first",
      "mini-app": "start-first",
      "telegram-bot": "start-first",
    });
  });

  it(
    env === "prod"
      ? "networks are attachable overlays, every internal one encrypted"
      : "networks are attachable overlays (one node: nothing to encrypt)",
    () => {
      for (const n of Object.values(json().resource.docker_network as Json) as Json[]) {
        expect(n, n.name).toMatchObject({ driver: "overlay", attachable: true });
        const encrypted = env === "prod" && n.internal === true;
        expect(n.options, n.name).toEqual(encrypted ? { encrypted: "" } : undefined);
        expect(n.lifecycle, n.name).toEqual(encrypted ? { ignore_changes: ["options"] } : undefined);
      }
    },
  );
});

describe("dev specifics", () => {
  it("builds every app from local source with hot reload, and debugs the API", () => {
    const { json } = S.dev;
    for (const svc of ["api", "discord-bot", "telegram-bot", "admin-panel", "mini-app"]) {
      const c = container(json, `dev-${svc}`);
      expect(c.command, svc).toEqual(["npm", "run", "dev"]);
      expect(c.volumes, svc).toContainEqual({
        // No UPDATEIO_DEV_SOURCE_ROOT: every service is the reference service.
        host_path: '${abspath(join("/", [path.root, "../../..", "examples/reference-service"]))}',
        container_path: "/app",
        read_only: false,
      });
    }
    // For the dev script's `--inspect=$INSPECT_ADDRESS` (NODE_OPTIONS would reach npm and tsx's watcher first).
    expect(container(json, "dev-api").env).toContain("INSPECT_ADDRESS=0.0.0.0:9229");
  });
});

describe("prod validations (Testing.synth skips them unless asked)", () => {
  itIfBinary("terraform", "pass with runValidations (the CloudBackend runs `terraform version`)", () => {
    const stack = new EnvironmentStack(Testing.app({ outdir: OUT }), "prod", loadEnvironmentConfig("prod", {}));
    expect(() => Testing.synth(stack, true)).not.toThrow();
  });

  it("warns that releases.json still holds placeholder digests", () => {
    const warnings = S.prod.stack.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
    expect(warnings.some((w) => w.includes("placeholder digests"))).toBe(true);
  });
});

describe("main.ts determinism", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  function runMain(): Promise<{ code: number | null; stderr: string; outdir: string }> {
    const outdir = mkdtempSync(join(tmpdir(), "main-synth-"));
    dirs.push(outdir);
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("UPDATEIO_") && !k.startsWith("CDKTF_")) env[k] = v;
    Object.assign(env, { CDKTF_OUTDIR: outdir, CHECKPOINT_DISABLE: "1" });
    return new Promise((done, fail) => {
      const child = spawn("npx", ["tsx", "main.ts"], { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.on("error", fail);
      child.on("close", (code) => done({ code, stderr, outdir }));
    });
  }
  const files = (dir: string): string[] =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => !e.isDirectory())
      .map((e) => relative(dir, join(e.parentPath, e.name)))
      .sort();

  it("writes byte-identical files on two runs into two outdirs", async () => {
    const [a, b] = await Promise.all([runMain(), runMain()]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(files(a.outdir)).toEqual(["manifest.json", "stacks/dev/cdk.tf.json", "stacks/prod/cdk.tf.json", "stacks/test/cdk.tf.json"]);
    expect(files(b.outdir)).toEqual(files(a.outdir));
    for (const f of files(a.outdir)) {
      expect(readFileSync(join(b.outdir, f)).equals(readFileSync(join(a.outdir, f))), f).toBe(true);
    }
    // nothing machine-specific leaks into the output
    for (const f of files(a.outdir)) expect(readFileSync(join(a.outdir, f), "utf8"), f).not.toContain(a.outdir);
  });
});

describe("the operator VPN (UPDATEIO_PROD_VPN=1)", () => {
  const peerKey = `${"A".repeat(43)}=`;
  const vpnOut = mkdtempSync(join(tmpdir(), "stacks-vpn-"));
  afterAll(() => rmSync(vpnOut, { recursive: true, force: true }));
  let withVpn: SynthesizedEnvironment;
  beforeAll(() => {
    withVpn = synthEnvironment(
      "prod",
      {
        UPDATEIO_PROD_VPN: "1",
        UPDATEIO_PROD_VPN_ENDPOINT: "vpn.updateio.app",
        UPDATEIO_PROD_VPN_PEERS: `alice-laptop:${peerKey}:10.13.13.2/32`,
      },
      vpnOut,
    );
  });

  it("is off by default", () => {
    for (const env of ENVIRONMENTS)
      expect(
        running(S[env].json).some((c) => c.name === `${env}-vpn`),
        env,
      ).toBe(false);
  });

  it("adds the gateway: UDP 51820 published, NET_ADMIN only, on its own egress (to publish), its own edge route and rabbitmq (its routes)", () => {
    const vpn = container(withVpn.json, "prod-vpn");
    expect(vpn.ports).toEqual([{ external: 51820, internal: 51820, ip: "0.0.0.0", protocol: "udp" }]);
    expect(vpn.capabilities).toEqual({ add: ["NET_ADMIN"], drop: ["ALL"] });
    expect(networksOf(withVpn.json, "prod-vpn")).toEqual(["prod-edge-vpn", "prod-egress-vpn", "prod-rabbitmq"]);
  });

  it("lets the gateway's addresses through the edge's admin allow-list and outputs the client templates", () => {
    const cf = caddyfile(withVpn.json, "prod");
    expect(siteBlock(cf, "admin.updateio.app")).toContain("172.16.0.0/12");
    expect(Object.keys(withVpn.json.output.vpn_access.value.peers)).toEqual(["alice-laptop"]);
  });

  it("still passes the policy pack (the published UDP port and NET_ADMIN are suppressed with reasons)", () => {
    const errors = withVpn.stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === "@cdktf/error").map((m) => `${c.node.path}: ${m.data}`));
    expect(errors).toEqual([]);
  });
});
