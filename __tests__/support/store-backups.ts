/** Builds a stack with the four store backups (RedisBackup, RabbitBackup, GrafanaBackup, EdgeBackup) for tests. */
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TerraformStack, Testing } from "cdktf";
import { EdgeBackup, type EdgeBackupProps } from "../../constructs/edge/edge-backup";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import type { BackupOffsiteProps } from "../../constructs/kit/scheduled-backup";
import { ServiceVolume } from "../../constructs/kit/service-volume";
import { GrafanaBackup, type GrafanaBackupProps } from "../../constructs/observability/grafana-backup";
import { RabbitBackup, type RabbitBackupProps } from "../../constructs/rabbitmq/rabbit-backup";
import { RabbitBroker } from "../../constructs/rabbitmq/rabbit-broker";
import { RedisBackup, type RedisBackupProps } from "../../constructs/redis/redis-backup";
import { RedisCache } from "../../constructs/redis/redis-cache";
import { synthText } from "./synth-text";
import { scratchDir } from "./temp-dirs";

export const TEST_IMAGES = {
  redis: `redis:7.4.6-alpine@sha256:${"3b".repeat(32)}`,
  rabbitmq: `rabbitmq:4.1.4-management-alpine@sha256:${"5c".repeat(32)}`,
  caddy: `caddy:2.10.2-alpine@sha256:${"4c".repeat(32)}`,
  python: `python:3.13-alpine@sha256:${"aa".repeat(32)}`,
  rclone: `rclone/rclone:1.75.1@sha256:${"45".repeat(32)}`,
};

export interface StoreBackupOverrides {
  readonly redis?: Partial<RedisBackupProps>;
  readonly rabbit?: Partial<RabbitBackupProps>;
  readonly grafana?: Partial<GrafanaBackupProps>;
  readonly edge?: Partial<EdgeBackupProps>;
  /** Adds an off-host copy to every backup. */
  readonly offsite?: Omit<BackupOffsiteProps, "network" | "image" | "accessKeyId" | "secretAccessKey">;
  readonly replicas?: number;
  readonly clusterSize?: number;
}

type Json = Record<string, any>;

export function buildStoreBackups(env: "dev" | "prod" = "prod", o: StoreBackupOverrides = {}) {
  const stack = new TerraformStack(Testing.app({ outdir: scratchDir("store-backups-") }), env);
  new DockerProvider(stack, "docker", { host: "unix:///var/run/docker.sock" });
  new RandomProvider(stack, "random");
  const egress = new PlatformNetwork(stack, "egress", { environment: env, purpose: "egress", internal: false });
  const backups = new PlatformNetwork(stack, "backups-net", { environment: env, purpose: "backups" });
  const offsite: BackupOffsiteProps | undefined = o.offsite && {
    ...o.offsite,
    accessKeyId: "AKIDEXAMPLE",
    secretAccessKey: "secret",
    image: TEST_IMAGES.rclone,
    network: egress,
  };
  const redis = new RedisCache(stack, "redis", {
    environment: env,
    image: TEST_IMAGES.redis,
    memoryMb: 128,
    replicas: o.replicas ?? 0,
    sentinels: (o.replicas ?? 0) > 0 ? 3 : 0,
  });
  const broker = new RabbitBroker(stack, "rabbitmq", {
    environment: env,
    image: TEST_IMAGES.rabbitmq,
    memoryMb: 512,
    vhost: "updateio",
    clusterSize: o.clusterSize,
  });
  const grafanaData = new ServiceVolume(stack, "grafana-data", { environment: env, service: "grafana", purpose: "data" });
  const edgeData = new ServiceVolume(stack, "edge-data", { environment: env, service: "edge", purpose: "data" });
  const redisBackup = new RedisBackup(stack, "redis-backup", {
    environment: env,
    redis,
    password: "RedisBackupPw0123456789",
    offsite,
    ...o.redis,
  });
  const rabbitBackup = new RabbitBackup(stack, "rabbitmq-backup", { environment: env, broker, offsite, ...o.rabbit });
  const grafanaBackup = new GrafanaBackup(stack, "grafana-backup", {
    environment: env,
    dataVolume: grafanaData,
    image: TEST_IMAGES.python,
    network: backups,
    offsite,
    ...o.grafana,
  });
  const edgeBackup = new EdgeBackup(stack, "edge-backup", {
    environment: env,
    dataVolume: edgeData,
    image: TEST_IMAGES.caddy,
    network: backups,
    offsite,
    ...o.edge,
  });
  const json: Json = JSON.parse(synthText(stack));
  const containers = Object.values(json.resource.docker_container) as Json[];
  const container = (name: string) => containers.find((c) => c.name === `${env}-${name}`);
  return { stack, json, containers, container, redis, broker, redisBackup, rabbitBackup, grafanaBackup, edgeBackup, egress, backups };
}
