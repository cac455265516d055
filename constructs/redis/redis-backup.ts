import { Construct } from "constructs";
import type { RedisCache } from "./redis-cache";
import { REDIS_BACKUP_USER, redisBackupHooksProblems, renderRedisBackupHooks, renderRedisRestoreScript } from "./renderers/redis-backup";
import { ScheduledBackup } from "../kit/scheduled-backup";
import { SECURE_DEFAULTS } from "../kit/secure-defaults";
import { storeBackupProps, type StoreBackupDefaults, type StoreBackupProps } from "../kit/store-backup";
import { ValidationError } from "../contract/errors";

/** Sessions and rate limits: hourly, two days of snapshots kept. */
export const REDIS_BACKUP_DEFAULTS: StoreBackupDefaults = { schedule: { everyMinutes: 60, at: "00:05" }, keep: 48, memoryMb: 128 };

export interface RedisBackupProps extends StoreBackupProps {
  /** The "state" instance to back up (a "cache" instance holds nothing worth restoring). */
  readonly redis: RedisCache;
  /** The backup ACL user's password (a Terraform token), see REDIS_BACKUP_ACL. @default redis.backupPassword (RedisCache with `backup: true`) */
  readonly password?: string;
  /** @default redis.backupUser, else "backup" (REDIS_BACKUP_USER) */
  readonly user?: string;
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
    const user = props.user ?? redis.backupUser ?? REDIS_BACKUP_USER;
    const password = props.password ?? redis.backupPassword;
    const passwordFile = `${SECURE_DEFAULTS.secretsDir}/redis_backup_password`;
    // Replicas first: their fork serves the backup, the master keeps serving writes undisturbed.
    const hosts = [...redis.nodeHosts.slice(1), redis.nodeHosts[0]!];
    const input = { hosts, port: redis.port, user, passwordFile };
    const problems = redisBackupHooksProblems(input);
    if (redis.role !== "state")
      problems.push(`redis: "${redis.host}" has role "${redis.role}", which persists nothing (fix: back up the "state" instance only)`);
    if (password === undefined || password === "")
      problems.push("password: is not set (fix: create the RedisCache with backup: true, or pass the backup user's generated password)");
    if (problems.length > 0) throw new ValidationError(`RedisBackup ${this.node.path}`, problems);
    this.hooks = renderRedisBackupHooks(input);
    this.restoreScript = renderRedisRestoreScript(REDIS_BACKUP_ROOT);
    this.backup = new ScheduledBackup(this, "backup", {
      ...storeBackupProps(props, REDIS_BACKUP_DEFAULTS, [
        ...redis.service.containers,
        ...redis.replicaServices.flatMap((r) => r.containers),
      ]),
      store: redis.host,
      image: redis.service.spec.image,
      user: "redis",
      hooks: this.hooks,
      restoreScript: this.restoreScript,
      suffix: ".rdb",
      backupsPath: REDIS_BACKUP_ROOT,
      network: redis.network,
      secrets: [{ name: "redis_backup_password", value: password! }],
      // The redis image's uid/gid (Alpine: 999:1000), which owns the snapshots.
      offsiteUser: "999:1000",
    });
  }
}
