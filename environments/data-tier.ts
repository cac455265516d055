import { Annotations } from "cdktf";
import { BACKUP_ROOT, PostgresBackup, PostgresCluster, PostgresRestoreDrill, walArchiveSettings } from "../constructs/postgres";
import { DevPortForward, ServiceVolume } from "../constructs/kit";
import { RabbitBackup, RabbitBroker } from "../constructs/rabbitmq";
import { RedisBackup, RedisCache } from "../constructs/redis";
import { forwardImage } from "./apps";
import { storeBackupSettings, type StackContext } from "./stack-context";

/**
 * Postgres (with its backups), Redis and RabbitMQ. Not a construct on purpose: a construct level
 * would put every resource under a new path, so every Terraform address would change.
 */
export class DataTier {
  readonly postgres: PostgresCluster;
  readonly backup: PostgresBackup;
  /** Restores the newest dump into a throwaway server on a schedule and compares it with the live database. */
  readonly restoreDrill: PostgresRestoreDrill;
  /** Dumps, base backups and the WAL archive: mounted into the primary (archive_command) and the backup scheduler. */
  readonly backupsVolume: ServiceVolume;
  readonly redis: RedisCache;
  readonly rabbitmq: RabbitBroker;
  /** RDB snapshots of Redis, when backups.redis is on. */
  readonly redisBackup?: RedisBackup;
  /** Definitions exports of RabbitMQ, when backups.rabbitmq is on. */
  readonly rabbitmqBackup?: RabbitBackup;
  /** Dev: the schema owner's URL through postgres.hostPort on 127.0.0.1 (prisma migrate dev / studio). */
  readonly devDatabaseUrl?: string;

  constructor(ctx: StackContext) {
    const { scope, config, env } = ctx;
    this.backupsVolume = new ServiceVolume(scope, "postgres-backups", {
      environment: env,
      service: "postgres",
      purpose: "backups",
      protect: config.protectData,
    });
    // Grafana reads Postgres on a network of its own, so it shares nothing with the app services.
    // Only the parts observability.profile runs: no Grafana with "off", no Prometheus below "full".
    const profile = config.observability.profile;
    const grafanaDbNet = profile === "off" ? undefined : ctx.network("postgres-grafana");
    this.postgres = new PostgresCluster(scope, "postgres", {
      environment: env,
      image: config.postgres.image,
      memoryMb: config.postgres.memoryMb,
      cpuShares: config.postgres.cpuShares,
      database: config.postgres.database,
      settings: { ...walArchiveSettings(), ...config.postgres.settings },
      extraVolumes: [{ volume: this.backupsVolume, containerPath: BACKUP_ROOT }],
      protectData: config.protectData,
      replicas: config.postgres.replicas,
      pooler: config.postgres.pooler,
      poolerImage: config.postgres.poolerImage,
      poolSize: config.postgres.poolSize,
      readOnlyClientNetworks: grafanaDbNet ? [grafanaDbNet] : [],
      ...(config.postgres.ownerCreatedb ? { ownerCreatedb: true } : {}),
    });
    const offsite = ctx.backupOffsite("postgres");
    if (!offsite && env === "prod") {
      Annotations.of(scope).addWarning(
        "prod backups stay on this host: set UPDATEIO_PROD_BACKUP_OFFSITE_ENDPOINT and UPDATEIO_PROD_BACKUP_OFFSITE_BUCKET (and the Terraform variables offsite_access_key_id/offsite_secret_access_key) for an off-host copy.",
      );
    }
    // The backup role is added to the cluster by PostgresBackup; its password keeps the id it had
    // when the stack made it (postgres-backup-password), so the value survives.
    this.backup = new PostgresBackup(scope, "postgres-backup", {
      environment: env,
      cluster: this.postgres,
      passwordAt: { scope, id: "postgres-backup-password" },
      volume: this.backupsVolume,
      protectData: config.protectData,
      offsite,
    });
    const hostPort = config.postgres.hostPort;
    if (hostPort !== undefined) {
      // The primary itself, not PgBouncer: prisma migrate needs session features (advisory locks).
      new DevPortForward(scope, "postgres-host-forward", {
        environment: env,
        name: "postgres-host",
        image: forwardImage(scope, config),
        target: { host: this.postgres.host, port: this.postgres.port, network: this.postgres.network },
        hostPort,
      });
      this.devDatabaseUrl = this.postgres.ownerUrlAt("127.0.0.1", hostPort);
    }
    this.restoreDrill = new PostgresRestoreDrill(scope, "postgres-restore-drill", {
      environment: env,
      cluster: this.postgres,
      backup: this.backup,
      passwordAt: { scope, id: "postgres-restore-drill-password" },
    });
    this.redis = new RedisCache(scope, "redis", {
      environment: env,
      image: config.redis.image,
      memoryMb: config.redis.memoryMb,
      cpuShares: config.redis.cpuShares,
      protectData: config.protectData,
      replicas: config.redis.replicas,
      sentinels: config.redis.sentinels,
      monitoring: profile === "full",
      backup: config.backups.redis.enabled,
    });
    this.rabbitmq = new RabbitBroker(scope, "rabbitmq", {
      environment: env,
      image: config.rabbitmq.image,
      memoryMb: config.rabbitmq.memoryMb,
      cpuShares: config.rabbitmq.cpuShares,
      vhost: config.rabbitmq.vhost,
      clusterSize: config.rabbitmq.clusterSize,
      protectData: config.protectData,
      logLevel: config.logLevel === "trace" ? "debug" : config.logLevel === "warn" ? "warning" : config.logLevel,
      // Prometheus scrapes the nodes here rather than joining the network the apps use.
      metricsNetwork: profile === "full" ? ctx.network("rabbitmq-metrics") : undefined,
    });
    const b = config.backups;
    if (b.redis.enabled)
      this.redisBackup = new RedisBackup(scope, "redis-backup", { ...storeBackupSettings(ctx, "redis", b.redis), redis: this.redis });
    if (b.rabbitmq.enabled)
      this.rabbitmqBackup = new RabbitBackup(scope, "rabbitmq-backup", {
        ...storeBackupSettings(ctx, "rabbitmq", b.rabbitmq),
        broker: this.rabbitmq,
      });
  }

  /** The long-running data services ContainerMissing watches. */
  get serviceNames(): string[] {
    return [
      this.postgres.host,
      ...this.postgres.replicaServices.map((r) => r.spec.service),
      this.restoreDrill.service.spec.service,
      ...this.redis.nodeHosts,
      ...this.redis.sentinelServices.map((r) => r.spec.service),
      ...this.rabbitmq.nodeHosts,
    ];
  }
}
