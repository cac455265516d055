/** Pure renderers for GrafanaBackup: the scheduler's hooks and the restore script (assets/grafana-*.sh). */
import { join } from "node:path";
import { fillAsset, readAsset } from "../../kit/assets";
import { restoreArgs } from "../../kit/scheduled-backup-script";
import { ValidationError } from "../../contract/errors";

const ASSETS = join(__dirname, "..", "assets");
const HOOKS_SH = readAsset(ASSETS, "grafana-backup-hooks.sh");
const RESTORE_SH = readAsset(ASSETS, "grafana-restore.sh");
const ABS_PATH = /^\/[A-Za-z0-9_./-]+$/;
const FILE = /^[A-Za-z0-9_.-]+\.db$/;

export function renderGrafanaBackupHooks(dbFile: string): string {
  if (!ABS_PATH.test(dbFile)) throw new ValidationError("renderGrafanaBackupHooks input", [`dbFile "${dbFile}" must be an absolute path`]);
  return fillAsset(HOOKS_SH, { DB_FILE: dbFile }, "renderGrafanaBackupHooks");
}

/** `restore.sh <snapshot.db.gz|latest> <data dir>` (Grafana stopped). */
export function renderGrafanaRestoreScript(backupRoot: string, dbName: string = "grafana.db"): string {
  if (!ABS_PATH.test(backupRoot))
    throw new ValidationError("renderGrafanaRestoreScript input", [`backupRoot "${backupRoot}" must be an absolute path`]);
  if (!FILE.test(dbName))
    throw new ValidationError("renderGrafanaRestoreScript input", [`dbName "${dbName}" must be a file name ending in .db`]);
  return fillAsset(
    RESTORE_SH,
    { BACKUP_ROOT: backupRoot, RESTORE_ARGS: restoreArgs(".db.gz"), DB_NAME: dbName },
    "renderGrafanaRestoreScript",
  );
}
