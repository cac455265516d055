/** Pure renderers for EdgeBackup: the scheduler's hooks and the restore script (assets/caddy-*.sh). */
import { join } from "node:path";
import { fillAsset, readAsset } from "../../kit/assets";
import { restoreArgs } from "../../kit/scheduled-backup-script";
import { ValidationError } from "../../contract/errors";

const ASSETS = join(__dirname, "..", "assets");
const HOOKS_SH = readAsset(ASSETS, "caddy-backup-hooks.sh");
const RESTORE_SH = readAsset(ASSETS, "caddy-restore.sh");
const ABS_PATH = /^\/[A-Za-z0-9_./-]+$/;

export function renderEdgeBackupHooks(dataDir: string): string {
  if (!ABS_PATH.test(dataDir)) throw new ValidationError("renderEdgeBackupHooks input", [`dataDir "${dataDir}" must be an absolute path`]);
  return fillAsset(HOOKS_SH, { DATA_DIR: dataDir }, "renderEdgeBackupHooks");
}

/** `restore.sh <snapshot.tar.gz|latest> <data dir>` (edge stopped). */
export function renderEdgeRestoreScript(backupRoot: string): string {
  if (!ABS_PATH.test(backupRoot))
    throw new ValidationError("renderEdgeRestoreScript input", [`backupRoot "${backupRoot}" must be an absolute path`]);
  return fillAsset(RESTORE_SH, { BACKUP_ROOT: backupRoot, RESTORE_ARGS: restoreArgs(".tar.gz") }, "renderEdgeRestoreScript");
}
