/**
 * Config rules about how the app services fit among the platform's own names, hosts, variables and
 * ports: a service must not take a name, a network alias, a host or an environment variable that
 * the platform gives something else. Run with the schema's other cross-field rules; like them they
 * read partial or mistyped input defensively.
 */

import { list, obj } from "./loose-input";

type Problem = [(string | number)[], string];

/**
 * The platform's own containers, network aliases, networks and construct ids start with these:
 * `postgres-pooler`, `postgres-ro`, `redis-sentinel-1`, `rabbitmq-2`, `edge-api`, `egress-<svc>`,
 * `logs-push`, ... A service named like one would share its DNS name on the data networks (and take
 * the apps' database connections) or collide with its resources.
 */
export const RESERVED_SERVICE_ROOTS = [
  "postgres",
  "redis",
  "rabbitmq",
  "edge",
  "grafana",
  "prometheus",
  "loki",
  "alloy",
  "promtail",
  "cadvisor",
  "node-exporter",
  "docker",
  "docker-socket-proxy",
  "volume-usage",
  "vpn",
  "wireguard",
  "monitoring",
  "backups",
  "logs",
  "egress",
  "debug",
  "migrations",
  "random",
  "backend",
  "urls",
  "exporters",
  "pre-migration-dump",
  "port-forward",
] as const;

/** Endings of the names the platform derives from a service's name (`api-migrate`, `api-seed`, `api-debug-9229`, `api-image`, ...). */
const DERIVED_SUFFIX =
  /-(migrate|seed|secrets-owner|metrics|debug|debug-\d+|forward|host|backup|backups|replica-\d+|exporter|pooler|ro|offsite|image|network|secret)$/;

/** Variables the platform sets from other settings; a service's `env` overriding one would silently undo them. */
const PLATFORM_ENV = new Set(["SERVICE_NAME", "DEPLOY_ENVIRONMENT", "PORT", "LOG_LEVEL", "LOG_FORMAT", "INSPECT_ADDRESS"]);
/** Prefixes of the variables `uses` and `features` set (connections and feature flags). */
const PLATFORM_ENV_PREFIXES = ["DATABASE_", "REDIS_", "AMQP_", "FEATURE_"];

function platformEnvOwner(name: string): string | undefined {
  if (PLATFORM_ENV.has(name)) return "the platform (from the service's name, environment, port and logLevel)";
  const prefix = PLATFORM_ENV_PREFIXES.find((p) => name.startsWith(p));
  if (prefix === "FEATURE_") return "`features` (FEATURE_<FLAG>)";
  if (prefix !== undefined) return "`uses` (the connection's settings)";
  if (name.endsWith("_INTERNAL_URL")) return "`calls` (<SERVICE>_INTERNAL_URL)";
  return undefined;
}

export function topologyProblems(input: unknown): Problem[] {
  const problems: Problem[] = [];
  const issue = (path: (string | number)[], message: string) => problems.push([path, message]);
  const cfg = obj(input);
  const services = obj(cfg.services);

  for (const svcName of Object.keys(services)) {
    const root = RESERVED_SERVICE_ROOTS.find((r) => svcName === r || svcName.startsWith(`${r}-`));
    if (root !== undefined)
      issue(
        ["services", svcName],
        `is a reserved name: names ${svcName === root ? `"${root}"` : `starting with "${root}-"`} belong to the platform's own containers, network aliases and networks; rename the service`,
      );
    else if (DERIVED_SUFFIX.test(svcName))
      issue(
        ["services", svcName],
        `is a reserved name: the platform derives names ending in "${DERIVED_SUFFIX.exec(svcName)![0]}" from a service's name (its migration job, seed, debug forwarder, metrics network, ...); rename the service`,
      );
  }

  // A host is admin-only or public, never both: a public path on an admin host skips the allow-list and shares the admin origin (its cookies).
  const adminHosts = new Map<string, string>();
  const adminHost = obj(cfg.hosts).admin;
  if (typeof adminHost === "string") adminHosts.set(adminHost, "hosts.admin");
  for (const [svcName, raw] of Object.entries(services))
    for (const r of list(obj(raw).routes)) {
      const route = obj(r);
      if (route.adminOnly === true && typeof route.host === "string" && !adminHosts.has(route.host))
        adminHosts.set(route.host, `services.${svcName}`);
    }
  for (const [svcName, raw] of Object.entries(services))
    list(obj(raw).routes).forEach((r, i) => {
      const route = obj(r);
      if (typeof route.host !== "string" || route.adminOnly === true) return;
      const owner = adminHosts.get(route.host);
      if (owner !== undefined)
        issue(
          ["services", svcName, "routes", i],
          `"${route.host}" is an admin-only host (${owner}): a public route there would skip the admin allow-list and share the admin origin; set adminOnly: true, or route it on another host`,
        );
    });

  for (const [svcName, raw] of Object.entries(services)) {
    const svc = obj(raw);
    const env = obj(svc.env);
    for (const key of Object.keys(env)) {
      const owner = platformEnvOwner(key);
      if (owner !== undefined)
        issue(["services", svcName, "env", key], `is set by ${owner}; remove it from env (change the setting it comes from instead)`);
    }
    const fileVars = new Map<string, number>();
    list(svc.secrets).forEach((s, i) => {
      const envVar = obj(s).envVar;
      if (typeof envVar !== "string") return;
      const owner = platformEnvOwner(envVar);
      if (owner !== undefined)
        issue(["services", svcName, "secrets", i, "envVar"], `${envVar} is set by ${owner}; give the secret its own variable`);
      else if (Object.hasOwn(env, envVar))
        issue(["services", svcName, "secrets", i, "envVar"], `${envVar} is also set in env; one of them would silently win: keep one`);
      const other = fileVars.get(envVar);
      if (other !== undefined)
        issue(
          ["services", svcName, "secrets", i, "envVar"],
          `${envVar} is already the variable of secrets[${other}]; one would silently replace the other: give each secret its own variable`,
        );
      fileVars.set(envVar, i);
    });
  }

  // Host ports published on 127.0.0.1 in dev: Grafana's local port against the debug forwarders and Postgres' host port.
  const grafana = obj(obj(cfg.observability).grafana);
  if (grafana.expose === "localhost" && typeof grafana.localPort === "number") {
    const p = grafana.localPort;
    if (obj(cfg.postgres).hostPort === p)
      issue(["observability", "grafana", "localPort"], `port ${p} is already published by postgres.hostPort; pick another host port`);
    for (const [svcName, raw] of Object.entries(services))
      if (list(obj(raw).debugPorts).includes(p))
        issue(["observability", "grafana", "localPort"], `port ${p} is already published by services.${svcName}.debugPorts; pick another`);
  }
  return problems;
}
