/**
 * A hand-made data tier in the shape the constructs synthesize (checked against
 * `npx tsx main.ts prod`): every node is its own service with a seed (component "seed") that takes
 * its uploads, a secrets-owner one-shot job, and its own volumes; the container depends on both and
 * is replaced with its seed (replace_triggered_by).
 *
 * - Postgres: `postgres` and `postgres-replica-1` (depends_on the primary, as the cluster does);
 * - Redis: `redis`, `redis-replica-1` (depends_on the master), `redis-sentinel-1..3` (depends_on both);
 * - RabbitMQ: `rabbitmq-1..3`, no dependencies between nodes;
 * - an `api` app container that uses Postgres, and a Postgres exporter (component observability).
 */
import { LABELS, type Body } from "../../scripts/review/terraform-json";
import type { Stack } from "./fixtures";

const labels = (service: string, component: string, extra: Record<string, string> = {}) =>
  Object.entries({
    [LABELS.project]: "updateio",
    [LABELS.environment]: "t",
    [LABELS.service]: service,
    [LABELS.component]: component,
    ...extra,
  }).map(([label, value]) => ({ label, value }));

export interface StoreOptions {
  /** Replicas depend on their primary (the constructs do today). @default true */
  readonly replicaDependsOnPrimary?: boolean;
  /** Seeds as the kit may make them: started once as a one-shot (no start = false), known by their label only. @default false */
  readonly startedSeeds?: boolean;
}

/** Terraform names like cdktf's: "<construct>_<id>_<kind>_<hash>"-ish, with dashes, as in the real stacks. */
const id = (node: string, kind: string) => `${node.replace(/[^A-Za-z0-9-]/g, "_")}_${kind}_0A1B2C3D`;

function node(
  s: Stack,
  opts: Required<StoreOptions>,
  n: {
    key: string;
    service: string;
    image: string;
    network: string;
    data?: boolean;
    config: string;
    dependsOn?: string[];
    extraLabels?: Record<string, string>;
  },
): void {
  const c = s.resource.docker_container!;
  const v = s.resource.docker_volume!;
  const seed = id(n.key, "seed");
  const owner = id(n.key, "secrets-owner");
  const container = id(n.key, "container");
  const secrets = id(n.key, "secrets-volume");
  const config = id(n.key, "config-volume");
  const data = id(n.key, "data-volume");
  v[secrets] = { name: `t-${n.service}-secrets`, labels: labels(n.service, "data", { [LABELS.ephemeral]: "true" }) };
  v[config] = { name: `t-${n.service}-config`, labels: labels(n.service, "data", { [LABELS.ephemeral]: "true" }) };
  if (n.data) v[data] = { name: `t-${n.service}-data`, labels: labels(n.service, "data"), lifecycle: { prevent_destroy: true } };
  c[seed] = {
    name: `t-${n.service}-seed`,
    image: `\${docker_image.${n.image}.image_id}`,
    labels: labels(n.service, "seed", n.extraLabels),
    ...(opts.startedSeeds ? { restart: "no", must_run: false, attach: true } : { start: false, must_run: false }),
    memory: 16,
    network_mode: "none",
    upload: [
      { file: "/run/secrets/password", content: "${random_password.pw.result}", executable: false },
      { file: "/etc/server/server.conf", content: n.config, executable: false },
    ],
    volumes: [
      { container_path: "/run/secrets", read_only: false, volume_name: `\${docker_volume.${secrets}.name}` },
      { container_path: "/etc/server", read_only: false, volume_name: `\${docker_volume.${config}.name}` },
    ],
  };
  c[owner] = {
    name: `t-${n.service}-secrets-owner`,
    image: `\${docker_image.${n.image}.image_id}`,
    labels: labels(n.service, "job", { [LABELS.role]: "secrets-owner" }),
    restart: "no",
    must_run: false,
    entrypoint: ["chown", "-R", "999:999", "/run/secrets"],
    volumes: [{ container_path: "/run/secrets", read_only: false, volume_name: `\${docker_volume.${secrets}.name}` }],
    depends_on: [`docker_container.${seed}`],
    lifecycle: { replace_triggered_by: [`docker_container.${seed}`] },
  };
  c[container] = {
    name: `t-${n.service}`,
    image: `\${docker_image.${n.image}.image_id}`,
    hostname: n.service,
    labels: labels(n.service, "data", { [LABELS.healthcheck]: "abc", ...n.extraLabels }),
    memory: 256,
    memory_swap: 256,
    restart: "unless-stopped",
    must_run: true,
    wait: true,
    healthcheck: { test: ["CMD", "true"], interval: "10s", timeout: "5s", retries: 3, start_period: "30s" },
    networks_advanced: [{ name: `\${docker_network.${n.network}.name}`, aliases: [n.service] }],
    volumes: [
      { container_path: "/run/secrets", read_only: true, volume_name: `\${docker_volume.${secrets}.name}` },
      { container_path: "/etc/server", read_only: true, volume_name: `\${docker_volume.${config}.name}` },
      ...(n.data ? [{ container_path: "/data", read_only: false, volume_name: `\${docker_volume.${data}.name}` }] : []),
    ],
    depends_on: [`docker_container.${seed}`, `docker_container.${owner}`, ...(n.dependsOn ?? [])],
    lifecycle: { replace_triggered_by: [`docker_container.${seed}`] },
  };
}

/** The address of a node's resource: kind "container", "seed", "secrets-owner", "secrets-volume", "config-volume", "data-volume". */
export function addr(key: string, kind: string): string {
  return `${kind.endsWith("volume") ? "docker_volume" : "docker_container"}.${id(key, kind)}`;
}

/** Every resource of one node (what a stage targets for it), sorted. */
export function sideOf(key: string, data = true): string[] {
  return ["container", "seed", "secrets-owner", "secrets-volume", "config-volume", ...(data ? ["data-volume"] : [])]
    .map((k) => addr(key, k))
    .sort();
}

/** A fresh copy each call: tests mutate it. */
export function storeStack(options: StoreOptions = {}): Stack {
  const opts: Required<StoreOptions> = { replicaDependsOnPrimary: true, startedSeeds: false, ...options };
  const s: Stack = {
    locals: { api_db_url: "postgresql://app:${random_password.pw.result}@postgres:5432/app" },
    resource: {
      docker_network: {
        postgres: { name: "t-postgres", driver: "bridge", internal: true },
        redis: { name: "t-redis", driver: "bridge", internal: true },
        rabbitmq: { name: "t-rabbitmq", driver: "bridge", internal: true },
      },
      docker_image: {
        pg: { name: "postgres:17.6@sha256:" + "1".repeat(64), keep_locally: true },
        redis: { name: "redis:7.4.6@sha256:" + "2".repeat(64), keep_locally: true },
        rabbit: { name: "rabbitmq:4.1.4@sha256:" + "3".repeat(64), keep_locally: true },
      },
      random_password: { pw: { length: 32, special: false } },
      docker_volume: {},
      docker_container: {},
    },
  };
  const primary = addr("postgres_server", "container");
  node(s, opts, {
    key: "postgres_server",
    service: "postgres",
    image: "pg",
    network: "postgres",
    data: true,
    config: "max_connections = 100",
  });
  node(s, opts, {
    key: "postgres_replica-1",
    service: "postgres-replica-1",
    image: "pg",
    network: "postgres",
    data: true,
    config: "max_connections = 100",
    dependsOn: opts.replicaDependsOnPrimary ? [primary] : [],
    extraLabels: { [LABELS.role]: "replica" },
  });
  const master = addr("redis_server", "container");
  const replica = addr("redis_replica-1", "container");
  node(s, opts, { key: "redis_server", service: "redis", image: "redis", network: "redis", data: true, config: "maxmemory 100mb" });
  node(s, opts, {
    key: "redis_replica-1",
    service: "redis-replica-1",
    image: "redis",
    network: "redis",
    data: true,
    config: "maxmemory 100mb\nreplicaof redis 6379",
    dependsOn: opts.replicaDependsOnPrimary ? [master] : [],
  });
  for (const i of [1, 2, 3]) {
    node(s, opts, {
      key: `redis_sentinel-${i}`,
      service: `redis-sentinel-${i}`,
      image: "redis",
      network: "redis",
      config: "sentinel monitor updateio redis 6379 2",
      dependsOn: [master, replica],
      extraLabels: { [LABELS.role]: "sentinel" },
    });
  }
  for (const i of [1, 2, 3])
    node(s, opts, {
      key: `rabbitmq_server-${i}`,
      service: `rabbitmq-${i}`,
      image: "rabbit",
      network: "rabbitmq",
      data: true,
      config: `cluster_formation.classic_config.nodes.${i} = rabbit@rabbitmq-${i}`,
    });
  // Clients: not store members, whatever their names.
  s.resource.docker_container!.api = {
    name: "t-api",
    image: "${docker_image.pg.image_id}",
    labels: labels("api", "app"),
    restart: "unless-stopped",
    env: ["DATABASE_URL=${local.api_db_url}"],
    networks_advanced: [{ name: "${docker_network.postgres.name}", aliases: ["api"] }],
    depends_on: [primary],
  };
  s.resource.docker_container!.exporter = {
    name: "t-postgres-exporter-replica-1",
    image: "${docker_image.pg.image_id}",
    labels: labels("postgres-exporter-replica-1", "observability"),
    restart: "unless-stopped",
    networks_advanced: [{ name: "${docker_network.postgres.name}", aliases: ["postgres-exporter-replica-1"] }],
  };
  return s;
}

/** Appends a line to the server.conf a node's seed uploads: the seed and, through it, the node are replaced. */
export function editConfig(s: Stack, key: string, line = "# changed"): void {
  const seed = s.resource.docker_container![addr(key, "seed").split(".")[1]!] as Body;
  const uploads = seed.upload as { file: string; content: string }[];
  uploads[1]!.content += `\n${line}`;
}

/** `before` unchanged, `after` with `edit` applied. */
export function storePair(edit: (after: Stack) => void, options: StoreOptions = {}): { before: Stack; after: Stack } {
  const before = storeStack(options);
  const after = storeStack(options);
  edit(after);
  return { before, after };
}
