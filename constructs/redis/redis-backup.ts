import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { RedisCache } from "./redis-cache";
import { REDIS_BACKUP_USER, redisBackupHooksProblems, renderRedisBackupHooks, renderRedisRestoreScript } from "./renderers/redis-backup";
import { ScheduledBackup, type BackupOffsiteProps } from "../kit/scheduled-backup";
import type { BackupSchedule } from "../kit/scheduled-backup-script";
import { SECURE_DEFAULTS } from "../kit/secure-defaults";
import { ValidationError } from "../contract/errors";

export interface RedisBackupProps {
  readonly environment: string;
  /** The "state" instance to back up (a "cache" instance holds nothing worth restoring). */
  readonly redis: RedisCache;
  /** The backup ACL user's password (a Terraform token), see REDIS_BACKUP_ACL. */
  readonly password: string;
  /** @default "backup" (REDIS_BACKUP_USER) */
  readonly user?: string;
  /** Sessions and rate limits: hourly. @default { everyMinutes: 60, at: "00:05" } */
  readonly schedule?: BackupSchedule;
  /** @default 48 (two days of hourly snapshots) */
  readonly keep?: number;
  /** @default undefined (no off-host copy) */
  readonly offsite?: BackupOffsiteProps;
  /** @default false */
  readonly protectData?: boolean;
  /** @default 128 */
  readonly memoryMb?: number;
  /** @default the Redis nodes' containers */
  readonly dependsOn?: readonly ITerraformDependable[];
}

/** Where the backups volume is mounted: the redis image's /data, owned by redis (copied to the new volume). */
export const REDIS_BACKUP_ROOT = "/data";

/**
 * Scheduled RDB snapshots of a RedisCache (`redis-cli --rdb` as a dedicated ACL user) into
 * `<env>-redis-backups`, verified with redis-check-rdb, the newest `keep` kept. Runs the cluster's
 * own image as its `redis` user on the Redis network only. restore.sh (next to backup.sh) installs
 * a snapshot into a stopped node's data directory.
 */
export class RedisBackup extends Construct {
  readonly backup: ScheduledBackup;
  readonly restoreScript: string;
  readonly hooks: string;

  constructor(scope: Construct, id: string, props: RedisBackupProps) {
    super(scope, id);
    const redis = props.redis;
    const user = props.user ?? REDIS_BACKUP_USER;
    const passwordFile = `${SECURE_DEFAULTS.secretsDir}/redis_backup_password`;
    // Replicas first: their fork serves the backup, the master keeps serving writes undisturbed.
    const hosts = [...redis.nodeHosts.slice(1), redis.nodeHosts[0]!];
    const input = { hosts, port: redis.port, user, passwordFile };
    const problems = redisBackupHooksProblems(input);
    if (redis.role !== "state")
      problems.push(`redis: "${redis.host}" has role "${redis.role}", which persists nothing (fix: back up the "state" instance only)`);
    if (props.password === "") problems.push("password: is empty (fix: pass the backup user's generated password)");
    if (problems.length > 0) throw new ValidationError(`RedisBackup ${this.node.path}`, problems);
    this.hooks = renderRedisBackupHooks(input);
    this.restoreScript = renderRedisRestoreScript(REDIS_BACKUP_ROOT);
    this.backup = new ScheduledBackup(this, "backup", {
      environment: props.environment,
      store: redis.host,
      image: redis.service.spec.image,
      user: "redis",
      hooks: this.hooks,
      extraFiles: [{ name: "restore.sh", content: this.restoreScript }],
      suffix: ".rdb",
      backupsPath: REDIS_BACKUP_ROOT,
      schedule: props.schedule ?? { everyMinutes: 60, at: "00:05" },
      keep: props.keep ?? 48,
      network: redis.network,
      secrets: [{ name: "redis_backup_password", value: props.password }],
      offsite: props.offsite,
      // The redis image's uid/gid (Alpine: 999:1000), which owns the snapshots.
      offsiteUser: "999:1000",
      protectData: props.protectData,
      memoryMb: props.memoryMb,
      dependsOn: props.dependsOn ?? [...redis.service.containers, ...redis.replicaServices.flatMap((r) => r.containers)],
    });
  }
}
