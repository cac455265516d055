/**
 * Pure renderers for PreMigrationDump: the one-shot dump script (../assets/pre-migration-dump.sh,
 * filled in here after validation) and the commands that check and restore its dump, which the
 * stack's `pre_migration_dump` output and docs/runbooks/postgres-restore.md give in the same form.
 */
import { join } from "node:path";
import { BACKUP_ROOT, backupConnectionPlaceholders, backupConnectionProblems, WHOLE_MATCH, type BackupConnection } from "./backup-scripts";
import { fillAsset, readAsset } from "../../kit/assets";
import { throwIfProblems, ValidationError } from "../../contract/errors";

const PRE_MIGRATION_DUMP_SH = readAsset(join(__dirname, "..", "assets"), "pre-migration-dump.sh");

/** Folder of the pre-migration dumps inside the backups volume (next to dumps/, base/, wal-archive/). */
export const PRE_MIGRATION_DIR = "pre-migration";
/** A release id: what names the dump file (`<id>.dump`). */
export const RELEASE_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** @default number of pre-migration dumps kept. */
export const DEFAULT_PRE_MIGRATION_KEEP = 3;

/** `role` is the backup role (reads all data; PostgresBackup's). */
export interface PreMigrationDumpScriptInput extends BackupConnection {
  /** Pre-migration dumps kept, newest first (1-50). */
  readonly keep: number;
  /** The backups volume's budget in MiB; 0 skips the check. */
  readonly budgetMb: number;
}

/** Every problem of the input, each naming its key (empty when fine). */
export function preMigrationDumpProblems(input: PreMigrationDumpScriptInput): string[] {
  const p = backupConnectionProblems(input);
  if (!Number.isInteger(input.keep) || input.keep < 1 || input.keep > 50)
    p.push(`keep ${input.keep} must be a whole number from 1 to 50 (each dump is about one scheduled dump's size)`);
  if (!Number.isInteger(input.budgetMb) || input.budgetMb < 0)
    p.push(`budgetMb ${input.budgetMb} must be a whole number of MiB (0: no check)`);
  return p;
}

/**
 * `pre-migration-dump.sh <release id>`: pg_dump -Fc as the backup role into
 * `<backups>/pre-migration/.tmp-<id>.dump`, checked with `pg_restore --list`, its sha256 written
 * to `<id>.dump.sha256`, then renamed to `<id>.dump`; keeps the newest `keep`. Exits non-zero
 * (with a message saying nothing was migrated) when the server is unreachable, the role cannot log
 * in or read, the dump is unreadable, or the volume would cross its budget; a failed run leaves no
 * file behind. An existing, intact `<id>.dump` is kept, not replaced: it is the state before the
 * release's first migration attempt.
 */
export function renderPreMigrationDumpScript(input: PreMigrationDumpScriptInput): string {
  const problems = preMigrationDumpProblems(input);
  throwIfProblems("renderPreMigrationDumpScript input", problems);
  return fillAsset(
    PRE_MIGRATION_DUMP_SH,
    {
      ...backupConnectionPlaceholders(input),
      KEEP: input.keep,
      BUDGET_MB: input.budgetMb,
      WHOLE_MATCH,
    },
    "renderPreMigrationDumpScript",
  );
}

/** `ghcr.io/updateio/api:1.4.0@sha256:<64 hex>` → its digest's first 12 hex; undefined without a digest. */
export function releaseIdOf(imageRef: string): string | undefined {
  return /@sha256:([0-9a-f]{12})[0-9a-f]{52}$/.exec(imageRef)?.[1];
}

/** Path of a release's dump inside containers that mount the backups volume at BACKUP_ROOT. */
export function preMigrationDumpPath(release: string): string {
  return `${BACKUP_ROOT}/${PRE_MIGRATION_DIR}/${release}.dump`;
}

/**
 * The commands that undo a migration with a release's dump, written with `$ENV` and `$RELEASE`:
 * `check` verifies the checksum, `restore` restores it over the live database as the superuser in
 * the postgres container, with the rendered restore-dump.sh of PostgresBackup (pg_restore --clean
 * --if-exists --single-transaction, objects owned by the owner role). The runbook shows them as
 * they are here; the stack's output fills in both names.
 */
export const PRE_MIGRATION_RESTORE_TEMPLATE = {
  check: `docker exec -w ${BACKUP_ROOT}/${PRE_MIGRATION_DIR} $ENV-postgres sha256sum -c $RELEASE.dump.sha256`,
  restore: `docker run --rm --network none -v $ENV-postgres-backup-config:/c:ro --entrypoint cat "$(docker inspect --format '{{.Image}}' $ENV-postgres)" /c/restore-dump.sh | docker exec -i $ENV-postgres sh -s -- ${BACKUP_ROOT}/${PRE_MIGRATION_DIR}/$RELEASE.dump`,
} as const;

/** PRE_MIGRATION_RESTORE_TEMPLATE for one environment and release. */
export function preMigrationRestoreCommands(environment: string, release: string): { check: string; restore: string } {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(environment))
    throw new ValidationError("preMigrationRestoreCommands input", [`environment "${environment}" is not a name`]);
  if (!RELEASE_ID.test(release))
    throw new ValidationError("preMigrationRestoreCommands input", [`release "${release}" must match ${RELEASE_ID}`]);
  const fill = (t: string) => t.replace(/\$ENV/g, environment).replace(/\$RELEASE/g, release);
  return { check: fill(PRE_MIGRATION_RESTORE_TEMPLATE.check), restore: fill(PRE_MIGRATION_RESTORE_TEMPLATE.restore) };
}
