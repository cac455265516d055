/**
 * Pure renderers for RabbitBackup: the scheduler's hooks (assets/definitions-backup-hooks.sh) and
 * the restore script (assets/restore-definitions.sh). Node names and paths are allow-listed first.
 */
import { join } from "node:path";
import { fillAsset, readAsset } from "../../kit/assets";
import { latestSnapshot } from "../../kit/scheduled-backup-script";
import { installCookieFunction } from "./rabbitmq-users";
import { throwIfProblems } from "../../contract/errors";

const ASSETS = join(__dirname, "..", "assets");
const HOOKS_SH = readAsset(ASSETS, "definitions-backup-hooks.sh");
const RESTORE_SH = readAsset(ASSETS, "restore-definitions.sh");

/** The scheduler's store name and snapshot suffix: rabbitmq-<UTC stamp>.json, what restore.sh looks for. */
export const RABBIT_BACKUP_STORE = "rabbitmq";
export const RABBIT_SNAPSHOT_SUFFIX = ".json";

const NODE = /^rabbit@[a-z][a-z0-9-]{0,62}$/;
const ABS_PATH = /^\/[A-Za-z0-9_./-]+$/;

export interface RabbitBackupScriptInput {
  /** Erlang node names, e.g. ["rabbit@rabbitmq"] or ["rabbit@rabbitmq-1", ...]. */
  readonly nodes: readonly string[];
  /** The Erlang cookie secret file. */
  readonly cookieFile: string;
  /** The backups volume's mount (restore.sh looks for "latest" there). */
  readonly backupRoot: string;
}

export function rabbitBackupProblems(input: RabbitBackupScriptInput): string[] {
  const p: string[] = [];
  if (input.nodes.length === 0) p.push("nodes: is empty (fix: pass the broker's nodeHosts as rabbit@<host>)");
  for (const n of input.nodes) if (!NODE.test(n)) p.push(`nodes: "${n}" must look like rabbit@<host> (lowercase host name)`);
  if (!ABS_PATH.test(input.cookieFile)) p.push(`cookieFile: "${input.cookieFile}" must be an absolute path under /run/secrets`);
  if (!ABS_PATH.test(input.backupRoot)) p.push(`backupRoot: "${input.backupRoot}" must be an absolute path`);
  return p;
}

function check(what: string, input: RabbitBackupScriptInput): void {
  const problems = rabbitBackupProblems(input);
  throwIfProblems(`${what} input`, problems);
}

export function renderRabbitBackupHooks(input: RabbitBackupScriptInput): string {
  check("renderRabbitBackupHooks", input);
  return fillAsset(
    HOOKS_SH,
    { NODES: input.nodes.join(" "), COOKIE_FILE: input.cookieFile, INSTALL_COOKIE: installCookieFunction() },
    "renderRabbitBackupHooks",
  );
}

/** `restore.sh <snapshot.json|latest> [node]`: rabbitmqctl import_definitions (merges; deletes nothing). */
export function renderRabbitRestoreScript(input: RabbitBackupScriptInput): string {
  check("renderRabbitRestoreScript", input);
  return fillAsset(
    RESTORE_SH,
    {
      BACKUP_ROOT: input.backupRoot,
      NODES: input.nodes.join(" "),
      COOKIE_FILE: input.cookieFile,
      INSTALL_COOKIE: installCookieFunction(),
      LATEST: latestSnapshot(RABBIT_SNAPSHOT_SUFFIX, RABBIT_BACKUP_STORE),
    },
    "renderRabbitRestoreScript",
  );
}
