/**
 * Config rules about how the app services fit among the platform's own names, hosts, variables and
 * ports: a service must not take a name, a network alias, a host or an environment variable that
 * the platform gives something else. Run with the schema's other cross-field rules; like them they
 * read partial or mistyped input defensively.
 */

import { DEFAULT_TOPOLOGY, RABBIT_LEGACY_USER } from "../constructs/rabbitmq";
import { RESERVED_REDIS_USERS } from "../constructs/redis";
import { list, obj } from "./loose-input";
import { secretId } from "./secret-ids";

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

/**
 * The secret files each backing service's connection gives an app (PostgresCluster, RedisCache and
 * RabbitBroker connectionFor/addApp): a service's own secret of the same name would be a second file
 * at that path.
 */
export const CONNECTION_SECRETS = {
  postgres: ["database_password", "database_url", "database_direct_url"],
  redis: ["redis_password", "redis_url", "redis_sentinel_password"],
  rabbitmq: ["amqp_password", "amqp_url"],
} as const;

/**
 * The platform's own Terraform variables (environments/stack-setup.ts, stack-context.ts, edge.ts,
 * observability.ts): a service secret declaring one would receive that credential (the registry
 * token, the backup bucket's key, the VPN's private key, ...).
 */
export const PLATFORM_VARIABLES = [
  "registry_username",
  "registry_password",
  "offsite_access_key_id",
  "offsite_secret_access_key",
  "vpn_private_key",
  "alert_telegram_bot_token",
  "alert_discord_webhook_url",
] as const;
/** The stack's outputs (environments/outputs.ts, edge.ts): construct ids in the namespace the variables share. */
export const PLATFORM_OUTPUTS = [
  "urls",
  "grafana_admin_password",
  "internal_endpoints",
  "database_app_url",
  "pre_migration_dump",
  "dev_database_url",
  "vpn_access",
] as const;
/** Names Terraform refuses for a variable (they are meta-arguments of a module block). */
const TERRAFORM_RESERVED_VARIABLES = ["source", "version", "providers", "count", "for_each", "lifecycle", "depends_on", "locals"];
/** Endings of the construct ids the platform derives from a service's name (`api-image`, `edge-api-network`, `api-debug-9229-forward`). */
const DERIVED_ID_SUFFIX = /-(image|network|forward)$/;

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
    // UpdateioService sets DEBUG=updateio:* over the service's own env while debug is on.
    if (cfg.debug === true && Object.hasOwn(env, "DEBUG"))
      issue(
        ["services", svcName, "env", "DEBUG"],
        "is set by the platform (DEBUG=updateio:*) while debug is on, which would silently replace this value; remove it from env, or set debug to false",
      );
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
  problems.push(...backingServiceProblems(services), ...secretNameProblems(services));
  return problems;
}

/**
 * What a service asks of the data tier: each backing service once, each call once, broker names the
 * broker declares, a name no built-in user of the stores it uses has.
 */
function backingServiceProblems(services: Record<string, any>): Problem[] {
  const problems: Problem[] = [];
  const issue = (path: (string | number)[], message: string) => problems.push([path, message]);
  // RabbitBroker's topology: environments/data-tier.ts passes none, so the broker declares DEFAULT_TOPOLOGY.
  const exchanges = DEFAULT_TOPOLOGY.exchanges.map((e) => e.name);
  const queues = DEFAULT_TOPOLOGY.queues.map((q) => q.name);
  const where = "DEFAULT_TOPOLOGY in constructs/rabbitmq/renderers/rabbitmq-definitions.ts";
  for (const [svcName, raw] of Object.entries(services)) {
    const svc = obj(raw);
    const uses = list(svc.uses);
    for (const key of ["uses", "calls"] as const)
      list(svc[key]).forEach((v, i, all) => {
        if (typeof v === "string" && all.indexOf(v) !== i)
          issue(
            ["services", svcName, key, i],
            `"${v}" is listed twice (also ${key}[${all.indexOf(v)}]); list it once: a second entry would attach the same ${key === "uses" ? "connection and its secret files" : "network"} twice`,
          );
      });
    if (uses.includes("redis") && RESERVED_REDIS_USERS.includes(svcName))
      issue(
        ["services", svcName],
        `is a reserved name while it uses redis: an app's Redis user is its service's name, and "${svcName}" is a built-in Redis user (${RESERVED_REDIS_USERS.join(", ")}); rename the service`,
      );
    if (uses.includes("rabbitmq")) {
      if (svcName === RABBIT_LEGACY_USER)
        issue(
          ["services", svcName],
          `is a reserved name while it uses rabbitmq: an app's broker user is its service's name, and "${svcName}" is the broker's legacy all-access user; rename the service`,
        );
      const messaging = obj(svc.messaging);
      for (const [key, known, what, verb] of [
        ["publishes", exchanges, "an exchange", "publish to"],
        ["consumes", queues, "a work queue", "consume"],
      ] as const)
        list(messaging[key]).forEach((name, i) => {
          if (typeof name === "string" && !(known as readonly string[]).includes(name))
            issue(
              ["services", svcName, "messaging", key, i],
              `"${name}" is not ${what} the broker declares; ${verb} one of ${known.join(", ")}, or add it to the broker's topology (${where})`,
            );
        });
    }
  }
  return problems;
}

/**
 * Service secret names and their Terraform variables, against what else the stack names the same
 * way: the connection's secret files, the construct ids of other generated secrets, services and
 * networks, and the platform's own variables and outputs.
 */
function secretNameProblems(services: Record<string, any>): Problem[] {
  const problems: Problem[] = [];
  const issue = (path: (string | number)[], message: string) => problems.push([path, message]);
  const names = Object.keys(services);
  const generatedIds = new Map<string, string>();
  for (const [svcName, raw] of Object.entries(services)) {
    const svc = obj(raw);
    const uses = list(svc.uses);
    const fileNames = new Map<string, number>();
    list(svc.secrets).forEach((s, i) => {
      const secret = obj(s);
      const at = ["services", svcName, "secrets", i];
      if (typeof secret.name !== "string") return;
      const name = secret.name;
      const other = fileNames.get(name);
      if (other !== undefined)
        issue(
          [...at, "name"],
          `"${name}" is already the name of secrets[${other}] (both would be /run/secrets/${name}); give each secret its own name`,
        );
      fileNames.set(name, i);
      const store = (Object.keys(CONNECTION_SECRETS) as (keyof typeof CONNECTION_SECRETS)[]).find(
        (b) => uses.includes(b) && (CONNECTION_SECRETS[b] as readonly string[]).includes(name),
      );
      if (store !== undefined)
        issue(
          [...at, "name"],
          `"${name}" is the secret file the ${store} connection gives this service (uses includes "${store}"); give the secret another name`,
        );
      if (secret.generate !== undefined) {
        const id = secretId(svcName, name);
        const owner = generatedIds.get(id);
        if (owner !== undefined)
          issue([...at, "name"], `its construct id "${id}" (<service>-<name>) is also ${owner}'s; rename one of the secrets`);
        else if (names.includes(id))
          issue([...at, "name"], `its construct id "${id}" (<service>-<name>) is services.${id}'s; rename the secret`);
        else if (DERIVED_ID_SUFFIX.test(id))
          issue(
            [...at, "name"],
            `its construct id "${id}" ends in "${DERIVED_ID_SUFFIX.exec(id)![0]}", which the platform's images, networks and port forwarders use; rename the secret`,
          );
        generatedIds.set(id, `services.${svcName}.secrets.${i}`);
      }
      const variable = obj(secret.variable).name;
      if (typeof variable !== "string") return;
      if ((PLATFORM_VARIABLES as readonly string[]).includes(variable))
        issue(
          [...at, "variable", "name"],
          `"${variable}" is the platform's own Terraform variable: the service would receive that credential; give the secret a variable of its own, e.g. ${svcName.replace(/-/g, "_")}_${name}`,
        );
      else if (TERRAFORM_RESERVED_VARIABLES.includes(variable))
        issue(
          [...at, "variable", "name"],
          `"${variable}" is a name Terraform reserves (${TERRAFORM_RESERVED_VARIABLES.join(", ")}); pick another`,
        );
      else if (
        (PLATFORM_OUTPUTS as readonly string[]).includes(variable) ||
        (RESERVED_SERVICE_ROOTS as readonly string[]).includes(variable) ||
        names.includes(variable)
      )
        issue(
          [...at, "variable", "name"],
          `"${variable}" is already the name of a service, an output or a platform part of the stack (Terraform variables share their names); pick another, e.g. ${svcName.replace(/-/g, "_")}_${name}`,
        );
    });
  }
  return problems;
}
