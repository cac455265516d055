/**
 * Pure renderers for ScheduledBackup: the generic scheduler (`assets/scheduled-backup.sh`: schedule,
 * retention by count, status file, healthcheck, textfile metrics) with a store's hooks inlined,
 * and the off-host copy (`assets/offsite-copy.sh`, rclone; PostgresBackup's too, with its own copy
 * step), the textfile metrics function both schedulers write, and the argument handling the stores'
 * restore scripts share (`assets/restore-args.sh`). Every value is checked against an
 * allow-list before it is filled in: the scripts end up in Terraform strings and in shell, so no
 * value may hold a quote, a space, `$`, `${` or `%{`.
 */
import { join } from "node:path";
import { fillAsset, readAsset, type AssetValues } from "./assets";
import { throwIfProblems, ValidationError } from "../contract/errors";

const ASSETS = join(__dirname, "assets");
const SCHEDULER_SH = readAsset(ASSETS, "scheduled-backup.sh");
const OFFSITE_SH = readAsset(ASSETS, "offsite-copy.sh");
const OFFSITE_SNAPSHOTS_SH = readAsset(ASSETS, "offsite-copy-snapshots.sh");
const SCHEDULER_RUN_SH = readAsset(ASSETS, "scheduler-run.sh");
const SCHEDULER_LOOP_SH = readAsset(ASSETS, "scheduler-loop.sh");
const RESTORE_ARGS_SH = readAsset(ASSETS, "restore-args.sh");
const LATEST_SNAPSHOT_SH = readAsset(ASSETS, "latest-snapshot.sh");
const SNAPSHOT_MAC_SH = readAsset(ASSETS, "snapshot-mac.sh");

/** The secret file a store's snapshots are signed with (ScheduledBackup's GeneratedSecret), under the kit's secrets directory. */
export const BACKUP_SIGNING_KEY_SECRET = "backup_signing_key";
/** Where the backup job and a restore read it; BACKUP_SIGNING_KEY_FILE overrides it. */
export const BACKUP_SIGNING_KEY_FILE = `/run/secrets/${BACKUP_SIGNING_KEY_SECRET}`;

/** The signing functions (`assets/snapshot-mac.sh`: hmac_sha256, signing_key_ok, snapshot_mac, snapshot_signed). */
export function snapshotMacFunctions(): string {
  return fillFragment(SNAPSHOT_MAC_SH, {}, "snapshotMacFunctions");
}

/**
 * A fragment asset (a part of a script, inlined at synth) filled in: its leading comment lines (the
 * shellcheck directive, what it expects of the script around it) are for its readers and are dropped,
 * and so is its last newline (the placeholder has a line of its own).
 */
export function fillFragment(asset: string, values: AssetValues, what: string): string {
  return fillAsset(asset.replace(/^(#[^\n]*\n)+/, "").replace(/\n$/, ""), values, what);
}

/**
 * The run_once, health and loop functions of a backup scheduler (`assets/scheduler-run.sh`,
 * `assets/scheduler-loop.sh`), shared by ScheduledBackup's and PostgresBackup's: values for their
 * scripts' @@RUN_ONCE_AND_HEALTH@@ and @@LOOP@@. The script defines what they call (see the files);
 * `started` ends the loop's first log line (shell text of the renderer, never user input).
 */
export function schedulerSteps(started: string): { readonly RUN_ONCE_AND_HEALTH: string; readonly LOOP: string } {
  return {
    RUN_ONCE_AND_HEALTH: fillFragment(SCHEDULER_RUN_SH, {}, "schedulerSteps"),
    LOOP: fillFragment(SCHEDULER_LOOP_SH, { STARTED: started }, "schedulerSteps"),
  };
}

/** What each user-settable value must look like (the environment schema can reuse them). */
export const BACKUP_PATTERNS = {
  /** Store label and name part: "redis", "rabbitmq", "grafana", "edge". */
  store: /^[a-z][a-z0-9-]{0,30}$/,
  /** File suffix of a snapshot, e.g. ".rdb", ".json", ".db.gz", ".tar.gz". */
  suffix: /^(\.[a-z0-9]{1,8}){1,3}$/,
  /** Absolute paths of letters, digits, `_ . / -` only. */
  absPath: /^\/[A-Za-z0-9_./-]+$/,
  /** "HH:MM", 24 h, UTC. */
  at: /^([01][0-9]|2[0-3]):[0-5][0-9]$/,
  /** Same as PostgresBackup's off-host settings. */
  offsiteEndpoint: /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]+)?\/?$/,
  /**
   * S3's bucket naming rules: 3-63 characters, dot-separated labels of lowercase letters, digits
   * and dashes that start and end with a letter or digit (so no "..", ".-" or "-."), not shaped
   * like an IP address, none of the reserved prefixes and suffixes. A name S3 refuses only fails
   * at the first off-host copy, days after the apply.
   */
  offsiteBucket:
    /^(?=.{3,63}$)(?!xn--|sthree-|amzn-s3-demo-)(?!\d{1,3}(?:\.\d{1,3}){3}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$(?<!-s3alias|--ol-s3|\.mrap|--x-s3)/,
  /** No "." or ".." segment: rclone's S3 client cleans the path, so test/../prod/postgres writes into prod/postgres. */
  offsitePrefix: /^(?!\.\.?(?:\/|$))(?!.*\/\.\.?(?:\/|$))[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/,
  offsiteRegion: /^[a-z0-9-]+$/,
  offsiteProvider: /^[A-Za-z0-9]+$/,
} as const;

/**
 * The argument handling of a store's restore.sh (`assets/restore-args.sh`): the value of its
 * @@RESTORE_ARGS@@, for snapshots named `*<suffix>` (the store's ScheduledBackup suffix).
 */
export function restoreArgs(suffix: string): string {
  if (!BACKUP_PATTERNS.suffix.test(suffix))
    throw new ValidationError("restoreArgs input", [`suffix "${suffix}" must be like ".rdb" or ".tar.gz"`]);
  return fillFragment(RESTORE_ARGS_SH, { SUFFIX: suffix, LATEST: latestSnapshot(suffix) }, "restoreArgs");
}

/**
 * How a restore script settles its `src` (`assets/latest-snapshot.sh`): "latest" becomes the
 * newest snapshot named `<store>-<UTC stamp><suffix>` whose signature verifies, and src must be a
 * regular file, not a link, signed with the store's key (or RESTORE_UNSIGNED=yes for a named one).
 * `store`: the one store name accepted; unset, any store name (the script does not know it).
 */
export function latestSnapshot(suffix: string, store?: string): string {
  if (!BACKUP_PATTERNS.suffix.test(suffix))
    throw new ValidationError("latestSnapshot input", [`suffix "${suffix}" must be like ".rdb" or ".tar.gz"`]);
  if (store !== undefined && !BACKUP_PATTERNS.store.test(store))
    throw new ValidationError("latestSnapshot input", [`store "${store}" must be a store name like "redis"`]);
  return fillFragment(
    LATEST_SNAPSHOT_SH,
    { SUFFIX: suffix, STORE: store ?? "[a-z]*", KEY_FILE: BACKUP_SIGNING_KEY_FILE, SNAPSHOT_MAC: snapshotMacFunctions() },
    "latestSnapshot",
  );
}

/** When backups run: every `everyMinutes`, on UTC midnight + `at` + k × everyMinutes. */
export interface BackupSchedule {
  /**
   * Minutes between runs, from 15 to 10080 (a week); 1440 or less must divide a day (15, 30, 60,
   * 120, 360, 720, 1440 ...) so the runs fall on the same clock times every day.
   * @default 1440 (daily)
   */
  readonly everyMinutes?: number;
  /** Offset of the runs from UTC midnight, "HH:MM", shorter than everyMinutes. @default "00:00" */
  readonly at?: string;
}

export interface ScheduledBackupScriptInput {
  /** Label value and name part, e.g. "redis". */
  readonly store: string;
  /** Snapshot file suffix, e.g. ".rdb". */
  readonly suffix: string;
  /** Where the backups volume is mounted in the scheduler. */
  readonly backupRoot: string;
  /** The store's hooks (snapshot_take, snapshot_verify, snapshot_items, snapshot_describe), inlined into the script. */
  readonly hooks: string;
  readonly schedule: Required<BackupSchedule>;
  /** Snapshots kept (the newest ones). */
  readonly keep: number;
  /** Delay before retrying after a failed run. @default min(3600, interval) */
  readonly retrySeconds?: number;
}

/** Every problem, each as "<prop>: <what> (fix: <how>)". */
export function scheduledBackupProblems(input: ScheduledBackupScriptInput): string[] {
  const p: string[] = [];
  if (!BACKUP_PATTERNS.store.test(input.store))
    p.push(`store: "${input.store}" must be lowercase letters, digits and dashes, starting with a letter (fix: e.g. "redis")`);
  if (!BACKUP_PATTERNS.suffix.test(input.suffix))
    p.push(`suffix: "${input.suffix}" must be one to three ".ext" parts of lowercase letters and digits (fix: e.g. ".rdb" or ".tar.gz")`);
  if (!BACKUP_PATTERNS.absPath.test(input.backupRoot))
    p.push(`backupsPath: "${input.backupRoot}" must be an absolute path of letters, digits and _ . / - (fix: e.g. "/backups")`);
  for (const fn of ["snapshot_take", "snapshot_verify", "snapshot_items", "snapshot_describe"]) {
    if (!new RegExp(`^${fn}\\(\\)`, "m").test(input.hooks)) p.push(`hooks: defines no ${fn}() (fix: see ScheduledBackupScriptInput.hooks)`);
  }
  const every = input.schedule.everyMinutes;
  if (!Number.isInteger(every) || every < 15 || every > 10080) {
    p.push(`schedule.everyMinutes: ${every} must be a whole number of minutes from 15 to 10080 (fix: e.g. 60 for hourly, 1440 for daily)`);
  } else if (every <= 1440 && 1440 % every !== 0) {
    p.push(
      `schedule.everyMinutes: ${every} does not divide a day, so run times would drift (fix: use 15, 30, 60, 120, 180, 240, 360, 720 or 1440)`,
    );
  }
  if (!BACKUP_PATTERNS.at.test(input.schedule.at)) {
    p.push(`schedule.at: "${input.schedule.at}" must be "HH:MM" (24 h, UTC) (fix: e.g. "03:15")`);
  } else if (Number.isInteger(every) && offsetMinutes(input.schedule.at) >= every) {
    p.push(
      `schedule.at: "${input.schedule.at}" is not shorter than everyMinutes (${every}) (fix: use an offset below the interval, e.g. "00:15" for hourly)`,
    );
  }
  if (!Number.isInteger(input.keep) || input.keep < 1 || input.keep > 1000)
    p.push(`keep: ${input.keep} must be a whole number of snapshots from 1 to 1000 (fix: e.g. 14)`);
  const retry = input.retrySeconds;
  if (retry !== undefined && (!Number.isInteger(retry) || retry < 60 || retry > 86400))
    p.push(`retrySeconds: ${retry} must be a whole number from 60 to 86400`);
  return p;
}

function offsetMinutes(at: string): number {
  const [h, m] = at.split(":").map(Number);
  return h! * 60 + m!;
}

export interface TextfileGauge {
  /** Metric name, e.g. "updateio_backup_last_run_success". */
  readonly name: string;
  readonly help: string;
  /** Shell expression for the value (the function's arguments), e.g. "$1" or "${3:-0}". */
  readonly value: string;
}

/**
 * A `write_metrics` shell function writing gauges for node-exporter's textfile collector; `$METRICS_DIR`
 * must be set by the script, and a failed write only loses the metrics. The ScheduledBackup stores label
 * theirs `store="<store>"`: same metric names as PostgresBackup's (updateio_backup_*), whose series
 * have no label. Atomic (tmp + mv) and world-readable (node-exporter runs as nobody).
 */
export function renderTextfileMetricsFunction(file: string, gauges: readonly TextfileGauge[], store?: string): string {
  if (store !== undefined && !BACKUP_PATTERNS.store.test(store))
    throw new ValidationError("renderTextfileMetricsFunction input", [`store "${store}" must match ${BACKUP_PATTERNS.store}`]);
  if (!/^[a-z_]+\.prom$/.test(file))
    throw new ValidationError("renderTextfileMetricsFunction input", [`file "${file}" must be a name like redis_backup.prom`]);
  const label = store === undefined ? "" : `{store=\\"${store}\\"}`;
  const lines = gauges.flatMap((g) => [
    `    echo "# HELP ${g.name} ${g.help}"`,
    `    echo "# TYPE ${g.name} gauge"`,
    `    echo "${g.name}${label} ${g.value}"`,
  ]);
  const tmp = `"$METRICS_DIR/.${file}.tmp"`;
  return `# Prometheus text format for node-exporter's textfile collector (atomic: tmp + mv); readable by
# node-exporter (nobody) while the snapshots themselves stay 0600/0700 (umask 077).
write_metrics() {
  mkdir -p "$METRICS_DIR" 2>/dev/null && chmod 755 "$METRICS_DIR" 2>/dev/null || return 0
  {
${lines.join("\n")}
  } > ${tmp} 2>/dev/null && chmod 644 ${tmp} && mv ${tmp} "$METRICS_DIR/${file}" 2>/dev/null
  return 0
}`;
}

/** The textfile a store's scheduler writes, e.g. "redis_backup.prom". */
export function backupMetricsFile(store: string): string {
  return `${store.replace(/-/g, "_")}_backup.prom`;
}

/**
 * `backup.sh [loop|once|prune|health|status|list|latest]`:
 * - loop (the container's command): runs once at start unless a recent success is recorded, then
 *   at every scheduled time; after a failure it retries sooner.
 * - once: snapshot (hooks: take, verify), then keeps the newest `keep`; writes the status file and
 *   the metrics file (`<backupRoot>/metrics/<store>_backup.prom`).
 * - health: exit 0 only when the last run succeeded at most 1.5 × the interval ago.
 * - latest: the path of the newest snapshot (for the restore steps).
 * Settings are rendered as defaults the environment may override (`: "${X:=default}"`), which is
 * how the tests point the script at temp dirs.
 */
export function renderScheduledBackupScript(input: ScheduledBackupScriptInput): string {
  const problems = scheduledBackupProblems(input);
  throwIfProblems("renderScheduledBackupScript input", problems);
  const every = input.schedule.everyMinutes * 60;
  return fillAsset(
    SCHEDULER_SH,
    {
      BACKUP_ROOT: input.backupRoot,
      // Hooks are rendered by their module (values allow-listed there); a trailing newline is dropped.
      HOOKS: input.hooks.replace(/\n$/, ""),
      EVERY_SECONDS: every,
      OFFSET_SECONDS: offsetMinutes(input.schedule.at) * 60,
      RETRY_SECONDS: input.retrySeconds ?? Math.min(3600, every),
      KEEP: input.keep,
      KEY_FILE: BACKUP_SIGNING_KEY_FILE,
      SNAPSHOT_MAC: snapshotMacFunctions(),
      STORE: input.store,
      SUFFIX: input.suffix,
      ...schedulerSteps(
        "every ${BACKUP_EVERY_SECONDS}s (offset ${BACKUP_OFFSET_SECONDS}s from UTC midnight), keeping $BACKUP_KEEP, source $(snapshot_describe)",
      ),
      WRITE_METRICS: renderTextfileMetricsFunction(
        backupMetricsFile(input.store),
        [
          { name: "updateio_backup_last_run_success", help: "1 when the last scheduled backup run succeeded.", value: "$1" },
          { name: "updateio_backup_last_run_timestamp_seconds", help: "Unix time of the last backup run.", value: "$2" },
          { name: "updateio_backup_last_success_timestamp_seconds", help: "Unix time of the last successful backup run.", value: "$3" },
          { name: "updateio_backup_last_size_bytes", help: "Size of the newest verified snapshot in bytes.", value: "$4" },
          { name: "updateio_backup_snapshots", help: "Snapshots kept in the backups volume.", value: "$5" },
        ],
        input.store,
      ),
    },
    "renderScheduledBackupScript",
  );
}

/**
 * What the off-host copy copies, run inside its `copy_all` once the rclone remote is set: a filled
 * asset whose every failure prints "error: ..." and returns 1. The default is the scheduler's
 * `<backupRoot>/snapshots`; PostgresBackup copies its dumps, base backups and WAL archive.
 */
export interface OffsiteCopyStep {
  /** The shell lines (indented for the function body; fillFragment drops the last newline). */
  readonly shell: string;
  /** What the start-up log line says it copies, e.g. "$BACKUP_ROOT/snapshots". */
  readonly source: string;
}

/** Seconds between off-host copies when the props do not say. */
export const OFFSITE_INTERVAL_SECONDS = 900;

export interface OffsiteCopyScriptInput {
  /** Label value of the metrics and name part of the log lines and the metrics file, e.g. "redis". */
  readonly store: string;
  readonly backupRoot: string;
  /** S3-compatible endpoint URL, e.g. "https://s3.eu-central-1.amazonaws.com". */
  readonly endpoint: string;
  readonly bucket: string;
  /** Key prefix, path segments without leading or trailing slash, e.g. "prod/redis". */
  readonly prefix: string;
  /** @default "us-east-1" */
  readonly region?: string;
  /** rclone's s3 provider name ("AWS", "Minio", "Cloudflare", "Other", ...). @default "Other" */
  readonly provider?: string;
  /** Secret files holding the access key id and the secret key. */
  readonly accessKeyIdFile: string;
  readonly secretAccessKeyFile: string;
  /** Seconds between copies. @default OFFSITE_INTERVAL_SECONDS (900) */
  readonly intervalSeconds?: number;
  /** Writable directory for the status file (a tmpfs). @default "/tmp" */
  readonly stateDir?: string;
  /** @default `<backupRoot>/snapshots` to the prefix's root (offsite-copy-snapshots.sh) */
  readonly copy?: OffsiteCopyStep;
  /** Label the metrics store="<store>"; PostgresBackup's series have no label. @default true */
  readonly storeLabel?: boolean;
  /** The construct named in the script's first line. @default "ScheduledBackup" */
  readonly generator?: string;
}

/** Every problem, each naming the offsite key and the fix (`configPath`: where the environment sets it). */
export function offsiteCopyProblems(input: OffsiteCopyScriptInput, configPath = "backups.offsite"): string[] {
  const p: string[] = [];
  const fix = `(fix: set it in the environment's ${configPath})`;
  if (!BACKUP_PATTERNS.offsiteEndpoint.test(input.endpoint))
    p.push(`offsite.endpoint: "${input.endpoint}" must be an http(s) URL with no path, e.g. https://s3.example.com ${fix}`);
  if (!BACKUP_PATTERNS.offsiteBucket.test(input.bucket))
    p.push(
      `offsite.bucket: "${input.bucket}" must be an S3 bucket name (3-63 lowercase letters, digits and dashes in dot-separated labels that start and end with a letter or digit; not an IP address, no xn-- prefix) ${fix}`,
    );
  if (!BACKUP_PATTERNS.offsitePrefix.test(input.prefix))
    p.push(
      `offsite.prefix: "${input.prefix}" must be path segments without leading or trailing slash and without "." or ".." segments (the S3 client resolves them: test/../prod/postgres writes into prod/postgres), e.g. prod/${input.store} ${fix}`,
    );
  if (input.region !== undefined && !BACKUP_PATTERNS.offsiteRegion.test(input.region))
    p.push(`offsite.region: "${input.region}" must be lowercase letters, digits and dashes, e.g. eu-central-1 ${fix}`);
  if (input.provider !== undefined && !BACKUP_PATTERNS.offsiteProvider.test(input.provider))
    p.push(`offsite.provider: "${input.provider}" must be an rclone s3 provider name such as AWS, Minio or Other ${fix}`);
  for (const key of ["backupRoot", "accessKeyIdFile", "secretAccessKeyFile"] as const) {
    if (!BACKUP_PATTERNS.absPath.test(input[key])) p.push(`offsite.${key}: "${input[key]}" must be an absolute path`);
  }
  if (input.stateDir !== undefined && !BACKUP_PATTERNS.absPath.test(input.stateDir))
    p.push(`offsite.stateDir: "${input.stateDir}" must be an absolute path`);
  const interval = input.intervalSeconds ?? OFFSITE_INTERVAL_SECONDS;
  if (!Number.isInteger(interval) || interval < 60 || interval > 86400)
    p.push(`offsite.intervalSeconds: ${interval} must be a whole number from 60 to 86400 ${fix}`);
  if (!BACKUP_PATTERNS.store.test(input.store)) p.push(`store: "${input.store}" must match ${BACKUP_PATTERNS.store}`);
  if (input.generator !== undefined && !/^[A-Za-z]+$/.test(input.generator))
    p.push(`generator: "${input.generator}" must be a construct name of letters only`);
  return p;
}

/**
 * `offsite.sh [loop|once|health|status]`: rclone copy (never sync) every interval, of the snapshots
 * or of what `copy` names.
 * - loop (the container's command): copy now, then every interval; a failure is retried next round.
 * - once: one copy; records the status file and the metrics file (`<store>_offsite.prom`).
 * - health: exit 0 only when the last run succeeded and the last success is at most 3 intervals old.
 * Settings are rendered as defaults the environment may override (`: "${X:=default}"`), which is
 * how tests point the script at a temp dir and a local S3 server.
 */
export function renderOffsiteCopyScript(input: OffsiteCopyScriptInput): string {
  const problems = offsiteCopyProblems(input);
  throwIfProblems("renderOffsiteCopyScript input", problems);
  const copy = input.copy ?? { shell: fillFragment(OFFSITE_SNAPSHOTS_SH, {}, "renderOffsiteCopyScript"), source: "$BACKUP_ROOT/snapshots" };
  return fillAsset(
    OFFSITE_SH,
    {
      GENERATOR: input.generator ?? "ScheduledBackup",
      BACKUP_ROOT: input.backupRoot,
      STATE_DIR: input.stateDir ?? "/tmp",
      ENDPOINT: input.endpoint.replace(/\/$/, ""),
      BUCKET: input.bucket,
      PREFIX: input.prefix,
      REGION: input.region ?? "us-east-1",
      PROVIDER: input.provider ?? "Other",
      ACCESS_KEY_ID_FILE: input.accessKeyIdFile,
      SECRET_ACCESS_KEY_FILE: input.secretAccessKeyFile,
      INTERVAL_SECONDS: input.intervalSeconds ?? OFFSITE_INTERVAL_SECONDS,
      STORE: input.store,
      COPY: copy.shell,
      SOURCE: copy.source,
      WRITE_METRICS: renderTextfileMetricsFunction(
        `${input.store.replace(/-/g, "_")}_offsite.prom`,
        [
          { name: "updateio_backup_offsite_success", help: "1 when the last off-host copy succeeded.", value: "$1" },
          {
            name: "updateio_backup_offsite_last_success_timestamp_seconds",
            help: "Unix time of the last successful off-host copy.",
            value: "$2",
          },
        ],
        input.storeLabel === false ? undefined : input.store,
      ),
    },
    "renderOffsiteCopyScript",
  );
}

/** Single-quotes a value for sh (for values that are not allow-listed, e.g. free text in a log line). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
