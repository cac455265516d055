/**
 * Pure renderers for RedisBackup: the backup ACL user, the scheduler's hooks (assets/backup-hooks.sh)
 * and the restore script (assets/restore.sh). Hosts, port, user and paths are allow-listed before
 * they are filled in (they land in shell and in Terraform strings).
 */
import { join } from "node:path";
import { ABS_PATH, redisNodesProblems } from "./node-input";
import { fillAsset, readAsset } from "../../kit/assets";
import { restoreArgs } from "../../kit/scheduled-backup-script";
import { throwIfProblems, ValidationError } from "../../contract/errors";

const ASSETS = join(__dirname, "..", "assets");
const HOOKS_SH = readAsset(ASSETS, "backup-hooks.sh");
const RESTORE_SH = readAsset(ASSETS, "restore.sh");

export const REDIS_BACKUP_USER = "backup";

/**
 * What the backup user may run: exactly what `redis-cli --rdb` sends (REPLCONF, then SYNC; PSYNC
 * for clients that try it first), INFO to skip a replica whose master link is down, PING. No key
 * patterns, no channels: it cannot GET, SET, FLUSH or reconfigure anything, but a full sync hands
 * it the whole dataset, so its password is as sensitive as the data (checked on redis-server 7.0:
 * --rdb works with exactly this line, GET is refused).
 */
export const REDIS_BACKUP_ACL = "resetkeys resetchannels -@all +sync +psync +replconf +ping +info";

/** The ACL file line for RedisCache (to append in renderRedisAcl when backups are on); hashed: `password` is its SHA-256. */
export function renderRedisBackupAclLine(password: string, user: string = REDIS_BACKUP_USER, hashed = false): string {
  if (!USER.test(user))
    throw new ValidationError("renderRedisBackupAclLine input", [`user "${user}" must be lowercase letters, digits and dashes`]);
  return `user ${user} on ${hashed ? "#" : ">"}${password} ${REDIS_BACKUP_ACL}`;
}

const USER = /^[a-z][a-z0-9-]{0,30}$/;

export interface RedisBackupHooksInput {
  /** Nodes tried in order (replicas first, so the master does not fork for backups). */
  readonly hosts: readonly string[];
  readonly port: number;
  readonly user: string;
  readonly passwordFile: string;
}

export function redisBackupHooksProblems(input: RedisBackupHooksInput): string[] {
  const p = redisNodesProblems(input.hosts, input.port);
  if (!USER.test(input.user)) p.push(`user: "${input.user}" must be lowercase letters, digits and dashes (fix: e.g. "backup")`);
  if (!ABS_PATH.test(input.passwordFile)) p.push(`passwordFile: "${input.passwordFile}" must be an absolute path under /run/secrets`);
  return p;
}

export function renderRedisBackupHooks(input: RedisBackupHooksInput): string {
  const problems = redisBackupHooksProblems(input);
  throwIfProblems("renderRedisBackupHooks input", problems);
  return fillAsset(
    HOOKS_SH,
    { HOSTS: input.hosts.join(" "), PORT: input.port, USER: input.user, PASSWORD_FILE: input.passwordFile },
    "renderRedisBackupHooks",
  );
}

/** `restore.sh <snapshot.rdb|latest> <data dir>`: see assets/restore.sh. */
export function renderRedisRestoreScript(backupRoot: string): string {
  if (!ABS_PATH.test(backupRoot))
    throw new ValidationError("renderRedisRestoreScript input", [`backupRoot "${backupRoot}" must be an absolute path`]);
  return fillAsset(RESTORE_SH, { BACKUP_ROOT: backupRoot, RESTORE_ARGS: restoreArgs(".rdb") }, "renderRedisRestoreScript");
}
