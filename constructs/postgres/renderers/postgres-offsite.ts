/**
 * Pure renderer for the off-host copy of the Postgres backups volume: a POSIX sh loop around
 * rclone (the official rclone/rclone image), copying dumps, base backups and the WAL archive to an
 * S3-compatible bucket. The postgres image has no S3 client, so this runs beside the scheduler.
 *
 * Copy, never sync: a wiped or encrypted host must not delete the off-host copy. `--immutable`
 * makes a changed remote file an error instead of an overwrite (every file we copy is written
 * once under a unique name). Remote retention is the bucket's lifecycle rule (docs/runbooks).
 */
import { join } from "node:path";
import { BACKUP_ROOT } from "./backup-scripts";
import { fillAsset, readAsset } from "../../kit/assets";
import { renderTextfileMetricsFunction } from "../../observability/renderers/textfile-metrics";

/** The script itself (a file, so shellcheck runs on it); renderOffsiteScript validates every value it fills in. */
const OFFSITE_SH = readAsset(join(__dirname, "..", "assets"), "offsite.sh");

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
  return fillAsset(
    OFFSITE_SH,
    {
      BACKUP_ROOT,
      STATE_DIR: input.stateDir ?? "/tmp",
      ENDPOINT: endpoint,
      BUCKET: input.bucket,
      PREFIX: input.prefix,
      REGION: input.region ?? "us-east-1",
      PROVIDER: input.provider ?? "Other",
      ACCESS_KEY_ID_FILE: input.accessKeyIdFile,
      SECRET_ACCESS_KEY_FILE: input.secretAccessKeyFile,
      INTERVAL_SECONDS: input.intervalSeconds ?? 900,
      DIRS: OFFSITE_DIRS.join(" "),
      DIRS_COMMA: OFFSITE_DIRS.join(", "),
      WRITE_METRICS: OFFSITE_METRICS,
    },
    "renderOffsiteScript",
  );
}
