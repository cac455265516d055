/**
 * Pure renderer for the off-host copy of the Postgres backups volume: a POSIX sh loop around
 * rclone (the official rclone/rclone image), copying dumps, base backups and the WAL archive to an
 * S3-compatible bucket. The postgres image has no S3 client, so this runs beside the scheduler.
 *
 * Copy, never sync: a wiped or encrypted host must not delete the off-host copy. `--immutable`
 * makes a changed remote file an error instead of an overwrite (every file we copy is written
 * once under a unique name). Remote retention is the bucket's lifecycle rule (docs/runbooks).
 */
import { BACKUP_ROOT } from "./backup-scripts";
import { renderTextfileMetricsFunction } from "../../observability/renderers/textfile-metrics";

export interface OffsiteScriptInput {
  /** S3-compatible endpoint URL, e.g. "https://s3.eu-central-1.amazonaws.com". */
  readonly endpoint: string;
  readonly bucket: string;
  /** Key prefix, path segments without leading or trailing slash, e.g. "prod/postgres". */
  readonly prefix: string;
  /** @default "us-east-1" */
  readonly region?: string;
  /** rclone's s3 provider name ("AWS", "Minio", "Cloudflare", "Other", ...). @default "Other" */
  readonly provider?: string;
  /** Secret files holding the access key id and the secret key. */
  readonly accessKeyIdFile: string;
  readonly secretAccessKeyFile: string;
  /**
   * Seconds between copies. Bounds what a lost host loses beyond archive_timeout (WAL segments
   * archived but not yet copied). @default 900
   */
  readonly intervalSeconds?: number;
  /** Writable directory for the status file (a tmpfs). @default "/tmp" */
  readonly stateDir?: string;
}

const OFFSITE_METRICS = renderTextfileMetricsFunction("postgres_offsite.prom", [
  { name: "updateio_backup_offsite_success", help: "1 when the last off-host copy succeeded.", value: "$1" },
  {
    name: "updateio_backup_offsite_last_success_timestamp_seconds",
    help: "Unix time of the last successful off-host copy.",
    value: "${2:-0}",
  },
]);

/** The directories of the backups volume that are copied (see renderers/backup-scripts.ts). */
export const OFFSITE_DIRS = ["dumps", "base", "wal-archive"] as const;
/** Node-exporter textfile collector directory inside the backups volume. */
export const BACKUP_METRICS_DIR = `${BACKUP_ROOT}/metrics`;

const ABS_PATH = /^\/[A-Za-z0-9_./-]+$/;

/** What each setting must look like; the environment schema checks its config with the same patterns. */
export const OFFSITE_PATTERNS = {
  endpoint: /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]+)?\/?$/,
  bucket: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
  prefix: /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/,
  region: /^[a-z0-9-]+$/,
  provider: /^[A-Za-z0-9]+$/,
} as const;

/** Validates and returns the problems (empty when fine), each naming the key and the fix. */
export function offsiteScriptProblems(input: OffsiteScriptInput): string[] {
  const p: string[] = [];
  if (!OFFSITE_PATTERNS.endpoint.test(input.endpoint))
    p.push(`offsite.endpoint "${input.endpoint}" must be an http(s) URL with no path, e.g. https://s3.example.com`);
  if (!OFFSITE_PATTERNS.bucket.test(input.bucket))
    p.push(`offsite.bucket "${input.bucket}" must be an S3 bucket name (lowercase letters, digits, dots, dashes; 3-63)`);
  if (!OFFSITE_PATTERNS.prefix.test(input.prefix))
    p.push(`offsite.prefix "${input.prefix}" must be path segments without leading or trailing slash, e.g. prod/postgres`);
  if (input.region !== undefined && !OFFSITE_PATTERNS.region.test(input.region))
    p.push(`offsite.region "${input.region}" must be lowercase letters, digits and dashes, e.g. eu-central-1`);
  if (input.provider !== undefined && !OFFSITE_PATTERNS.provider.test(input.provider))
    p.push(`offsite.provider "${input.provider}" must be an rclone s3 provider name such as AWS, Minio or Other`);
  for (const key of ["accessKeyIdFile", "secretAccessKeyFile"] as const) {
    if (!ABS_PATH.test(input[key])) p.push(`offsite.${key} "${input[key]}" must be an absolute path (a secret file under /run/secrets)`);
  }
  const interval = input.intervalSeconds ?? 900;
  if (!Number.isInteger(interval) || interval < 60 || interval > 86400)
    p.push(`offsite.intervalSeconds ${interval} must be a whole number from 60 to 86400`);
  if (input.stateDir !== undefined && !ABS_PATH.test(input.stateDir))
    p.push(`offsite.stateDir "${input.stateDir}" must be an absolute path`);
  return p;
}

/**
 * `offsite.sh [loop|once|health|status]`:
 * - loop (the container's command): copy now, then every interval; a failure is retried next round.
 * - once: one copy of every directory; records the status file and the metrics file.
 * - health: exit 0 only when the last run succeeded and the last success is at most 3 intervals old.
 * Settings are rendered as defaults the environment may override (`: "${X:=default}"`), which is
 * how tests point the script at a temp dir and a local S3 server.
 */
export function renderOffsiteScript(input: OffsiteScriptInput): string {
  const problems = offsiteScriptProblems(input);
  if (problems.length > 0) throw new Error(`renderOffsiteScript: ${problems.join("; ")}`);
  const endpoint = input.endpoint.replace(/\/$/, "");
  return `#!/bin/sh
# Generated by the UpdateIO infrastructure (PostgresBackup off-host copy). POSIX sh + rclone.
# usage: sh offsite.sh [loop|once|health|status]
set -u
umask 077
: "\${BACKUP_ROOT:=${BACKUP_ROOT}}"
: "\${METRICS_DIR:=\$BACKUP_ROOT/metrics}"
: "\${OFFSITE_STATE_DIR:=${input.stateDir ?? "/tmp"}}"
: "\${OFFSITE_ENDPOINT:=${endpoint}}"
: "\${OFFSITE_BUCKET:=${input.bucket}}"
: "\${OFFSITE_PREFIX:=${input.prefix}}"
: "\${OFFSITE_REGION:=${input.region ?? "us-east-1"}}"
: "\${OFFSITE_PROVIDER:=${input.provider ?? "Other"}}"
: "\${OFFSITE_ACCESS_KEY_ID_FILE:=${input.accessKeyIdFile}}"
: "\${OFFSITE_SECRET_ACCESS_KEY_FILE:=${input.secretAccessKeyFile}}"
: "\${OFFSITE_INTERVAL_SECONDS:=${input.intervalSeconds ?? 900}}"
STATUS="\$OFFSITE_STATE_DIR/offsite-status"
# rclone keeps nothing on disk: the remote is defined by environment variables, its cache in tmp.
export HOME="\$OFFSITE_STATE_DIR" RCLONE_CONFIG=/dev/null RCLONE_CACHE_DIR="\$OFFSITE_STATE_DIR/rclone-cache"

log() { printf '%s offsite: %s\\n' "\$(date -u +%Y-%m-%dT%H:%M:%SZ)" "\$*" >&2; }
now() { date -u +%s; }
status_value() { [ -f "\$STATUS" ] && sed -n "s/^\$1=//p" "\$STATUS" | head -n 1; }

copy_all() {
  RCLONE_S3_PROVIDER=\$OFFSITE_PROVIDER RCLONE_S3_ENDPOINT=\$OFFSITE_ENDPOINT RCLONE_S3_REGION=\$OFFSITE_REGION
  RCLONE_S3_ACCESS_KEY_ID=\$(cat "\$OFFSITE_ACCESS_KEY_ID_FILE") || { echo "error: cannot read \$OFFSITE_ACCESS_KEY_ID_FILE" >&2; return 1; }
  RCLONE_S3_SECRET_ACCESS_KEY=\$(cat "\$OFFSITE_SECRET_ACCESS_KEY_FILE") || { echo "error: cannot read \$OFFSITE_SECRET_ACCESS_KEY_FILE" >&2; return 1; }
  export RCLONE_S3_PROVIDER RCLONE_S3_ENDPOINT RCLONE_S3_REGION RCLONE_S3_ACCESS_KEY_ID RCLONE_S3_SECRET_ACCESS_KEY
  for _d in ${OFFSITE_DIRS.join(" ")}; do
    [ -d "\$BACKUP_ROOT/\$_d" ] || continue
    # Temp names of the scheduler (.tmp-*) and of archive_command (*.tmp) are never copied.
    rclone copy --immutable --s3-no-check-bucket --exclude '.tmp-*/**' --exclude '.tmp-*' --exclude '*.tmp' \\
      --retries 3 --low-level-retries 5 --stats 0 \\
      "\$BACKUP_ROOT/\$_d" ":s3:\$OFFSITE_BUCKET/\$OFFSITE_PREFIX/\$_d" || { echo "error: off-host copy of \$_d to \$OFFSITE_ENDPOINT/\$OFFSITE_BUCKET/\$OFFSITE_PREFIX failed" >&2; return 1; }
  done
}

${OFFSITE_METRICS}

run_once() {
  mkdir -p "\$OFFSITE_STATE_DIR"
  _err="\$OFFSITE_STATE_DIR/offsite-run.\$\$.err"
  copy_all 2>"\$_err"; _rc=\$?
  cat "\$_err" >&2
  _t=\$(now); _success=\$(status_value last_success)
  if [ "\$_rc" -eq 0 ]; then _result=ok; _success=\$_t; _msg=""; log "copy succeeded"
  else _result=error; _msg=\$(grep -v '^\$' "\$_err" | tail -n 2 | tr '\\n\\r' '  ' | cut -c1-500); log "copy FAILED: \$_msg"; fi
  rm -f "\$_err"
  {
    echo "last_run=\$_t"
    echo "last_result=\$_result"
    echo "last_success=\$_success"
    echo "last_error=\$_msg"
    echo "destination=\$OFFSITE_ENDPOINT/\$OFFSITE_BUCKET/\$OFFSITE_PREFIX"
  } > "\$STATUS.tmp" && mv "\$STATUS.tmp" "\$STATUS"
  if [ "\$_rc" -eq 0 ]; then write_metrics 1 "\$_success"; else write_metrics 0 "\$_success"; fi
  return "\$_rc"
}

health() {
  [ -f "\$STATUS" ] || { echo "unhealthy: no off-host copy has run yet"; return 1; }
  if [ "\$(status_value last_result)" != ok ]; then echo "unhealthy: last copy failed: \$(status_value last_error)"; return 1; fi
  _age=\$(( \$(now) - \$(status_value last_success) )); _max=\$(( OFFSITE_INTERVAL_SECONDS * 3 ))
  if [ "\$_age" -gt "\$_max" ]; then echo "unhealthy: last success \${_age}s ago, more than \${_max}s (3 x interval)"; return 1; fi
  echo "healthy: last success \${_age}s ago"
}

loop() {
  _sleeper=""
  trap 'log "stopping"; [ -z "\$_sleeper" ] || kill "\$_sleeper" 2>/dev/null; exit 0' TERM INT
  log "copying \$BACKUP_ROOT (${OFFSITE_DIRS.join(", ")}) to \$OFFSITE_ENDPOINT/\$OFFSITE_BUCKET/\$OFFSITE_PREFIX every \${OFFSITE_INTERVAL_SECONDS}s"
  while :; do
    run_once || :
    sleep "\$OFFSITE_INTERVAL_SECONDS" &
    _sleeper=\$!
    wait "\$_sleeper"
    _sleeper=""
  done
}

case "\${1:-loop}" in
  loop) loop ;;
  once) run_once ;;
  health) health ;;
  status) cat "\$STATUS" ;;
  *) echo "usage: sh offsite.sh [loop|once|health|status]" >&2; exit 2 ;;
esac
`;
}
