/**
 * Pure renderer for the off-host copy of the Postgres backups volume: the kit's off-host copy
 * (`kit/assets/offsite-copy.sh`, a POSIX sh loop around rclone in the official rclone/rclone image)
 * with Postgres's own copy step (`assets/offsite-dirs.sh`), copying dumps, base backups and the WAL
 * archive to an S3-compatible bucket. The postgres image has no S3 client, so this runs beside the
 * scheduler.
 *
 * Copy, never sync: a wiped or encrypted host must not delete the off-host copy. `--immutable`
 * makes a changed remote file an error instead of an overwrite (every file we copy is written
 * once under a unique name). Remote retention is the bucket's lifecycle rule (docs/runbooks).
 */
import { join } from "node:path";
import { BACKUP_ROOT, SIGN_EVERY_SECONDS } from "./backup-scripts";
import { readAsset } from "../../kit/assets";
import {
  BACKUP_PATTERNS,
  fillFragment,
  offsiteCopyProblems,
  renderOffsiteCopyScript,
  type OffsiteCopyScriptInput,
} from "../../kit/scheduled-backup-script";
import { throwIfProblems } from "../../contract/errors";

/** The copy step (a file, so shellcheck runs on it); its only value is OFFSITE_DIRS. */
const OFFSITE_DIRS_SH = readAsset(join(__dirname, "..", "assets"), "offsite-dirs.sh");

/** The kit's input without what PostgresBackup fixes: the store, the backups root and the copy step. */
export type OffsiteScriptInput = Omit<OffsiteCopyScriptInput, "store" | "backupRoot" | "copy" | "storeLabel" | "generator">;

/** The directories of the backups volume that are copied (see renderers/backup-scripts.ts). */
export const OFFSITE_DIRS = ["dumps", "base", "wal-archive"] as const;
/**
 * A file unsigned for longer fails the copy round (BackupOffsiteFailed): the scheduler signs every
 * SIGN_EVERY_SECONDS, so only a stopped or failing scheduler leaves one that long.
 */
export const UNSIGNED_MINUTES = 15;
/** Node-exporter textfile collector directory inside the backups volume. */
export const BACKUP_METRICS_DIR = `${BACKUP_ROOT}/metrics`;

/** What each setting must look like; the environment schema checks its config with the same (the kit's) patterns. */
export const OFFSITE_PATTERNS = {
  endpoint: BACKUP_PATTERNS.offsiteEndpoint,
  bucket: BACKUP_PATTERNS.offsiteBucket,
  prefix: BACKUP_PATTERNS.offsitePrefix,
  region: BACKUP_PATTERNS.offsiteRegion,
  provider: BACKUP_PATTERNS.offsiteProvider,
} as const;

function kitInput(input: OffsiteScriptInput): OffsiteCopyScriptInput {
  return {
    ...input,
    store: "postgres",
    backupRoot: BACKUP_ROOT,
    copy: {
      shell: fillFragment(OFFSITE_DIRS_SH, { DIRS: OFFSITE_DIRS.join(" "), UNSIGNED_MINUTES, SIGN_EVERY_SECONDS }, "renderOffsiteScript"),
      source: `$BACKUP_ROOT (${OFFSITE_DIRS.join(", ")})`,
    },
    // The Postgres series predate the store label; alerts and dashboards read them unlabelled.
    storeLabel: false,
    generator: "PostgresBackup",
  };
}

/** Validates and returns the problems (empty when fine), each naming the key and the fix. */
export function offsiteScriptProblems(input: OffsiteScriptInput): string[] {
  return offsiteCopyProblems(kitInput(input), "postgres.offsite");
}

/**
 * `offsite.sh [loop|once|health|status]` (see renderOffsiteCopyScript): each round copies the
 * signed files of every directory of OFFSITE_DIRS, each with its `.hmac`, to `<prefix>/<dir>`, and
 * fails when a file stayed unsigned longer than UNSIGNED_MINUTES; metrics go to `postgres_offsite.prom`.
 */
export function renderOffsiteScript(input: OffsiteScriptInput): string {
  const problems = offsiteScriptProblems(input);
  throwIfProblems("renderOffsiteScript input", problems);
  return renderOffsiteCopyScript(kitInput(input));
}
