import { join } from "node:path";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { PostgresBackup } from "./postgres-backup";
import type { ConstructLocation, PostgresCluster, PostgresRole } from "./postgres-cluster";
import { BACKUP_ROOT, DEFAULT_PGDATA, WHOLE_MATCH } from "./renderers/backup-scripts";
import { renderRestoreDrillRoleSql } from "./renderers/restore-drill-role";
import { restoreDrillAlerts } from "../observability/alerts/restore-drill";
import { ValidationError } from "../contract/errors";
import { PolicySuppressions } from "../contract/suppressions";
import { fillAsset, readAsset } from "../kit/assets";
import { HardenedService } from "../kit/hardened-service";
import { SECURE_DEFAULTS } from "../kit/secure-defaults";
import { ServiceVolume } from "../kit/service-volume";
import type { AlertRule } from "../observability/alerts/types";

export interface PostgresRestoreDrillProps {
  readonly environment: string;
  /**
   * The cluster whose dumps are drilled. The drill runs the cluster's image (pg_restore and a
   * throwaway server of the same major version), joins the cluster's internal network only, and adds
   * its read-only role to the cluster (cluster.addRole with renderRestoreDrillRoleSql).
   */
  readonly cluster: PostgresCluster;
  /**
   * The backups whose newest dump is restored: its volume is mounted at BACKUP_ROOT (dumps read;
   * the drill writes only its status file and its metrics file under `metrics/` there).
   */
  readonly backup: PostgresBackup;
  /**
   * The drill role's name in the live cluster (a lowercase SQL identifier of at most 41 characters).
   * @default "<cluster.database>_restore_drill"
   */
  readonly role?: string;
  /**
   * Where the drill role's password is created; see PostgresRoleOptions.passwordAt.
   * @default inside the cluster, id "role-<role>-password"
   */
  readonly passwordAt?: ConstructLocation;
  /**
   * When drills run: at `at` (UTC, "HH:MM"), then every `everyHours` hours. `everyHours` is 6, 8,
   * 12 or a whole number of days (24, 48, ... 168). Leave time after the backup (`PostgresBackup`
   * schedule, 02:00 by default) for the dump to be written.
   * @default { at: "04:30", everyHours: 24 }
   */
  readonly schedule?: { readonly at?: string; readonly everyHours?: number };
  /**
   * How far a restored table's row count may be from the live one (the dump is older than the
   * database): within `percent` % of the live count or within `rows` rows, whichever allows more.
   * @default { percent: 5, rows: 10 }
   */
  readonly tolerance?: { readonly percent?: number; readonly rows?: number };
  /** The drill fails when the newest dump is older than this (backups have stopped). @default 48 */
  readonly maxDumpAgeHours?: number;
  /**
   * Tables left out of the comparison, as "schema.table" (lowercase identifiers), e.g. a queue
   * table whose size swings by more than the tolerance within a day. They are still restored.
   * @default []
   */
  readonly ignoreTables?: readonly string[];
  /** Which server the live counts are read from (see PostgresRoleOptions.endpoint). @default "primary" */
  readonly liveEndpoint?: "primary" | "read-only";
  /** Memory limit of the drill container; the throwaway server gets an eighth as shared_buffers. @default 512 */
  readonly memoryMb?: number;
  /** Below the database's: a drill must never compete with production. @default 256 */
  readonly cpuShares?: number;
  /** Created after these. @default the backup scheduler's container */
  readonly dependsOn?: readonly ITerraformDependable[];
}

export const RESTORE_DRILL_SERVICE = "postgres-restore-drill";
export const RESTORE_DRILL_SCRIPTS_DIR = "/etc/postgres-restore-drill";
export const RESTORE_DRILL_DEFAULTS = {
  at: "04:30",
  everyHours: 24,
  tolerancePercent: 5,
  toleranceRows: 10,
  maxDumpAgeHours: 48,
  memoryMb: 512,
  cpuShares: 256,
} as const;
/** The drill script, read at synth (shellcheck runs on the file itself); its settings are environment variables. */
export const RESTORE_DRILL_SCRIPT = fillAsset(
  readAsset(join(__dirname, "assets"), "restore-drill.sh"),
  { WHOLE_MATCH },
  "RESTORE_DRILL_SCRIPT",
);
/** Where the throwaway server's data directory lives: a subdirectory of the scratch volume. */
const SCRATCH_DIR = `${DEFAULT_PGDATA}/restore-drill`;
const PASSWORD_SECRET = "postgres_restore_drill_password";
const IDENT = /^[a-z_][a-z0-9_]*$/;
const TABLE = /^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$/;
const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

/**
 * A scheduled restore drill for the PostgresBackup dumps. Each drill takes the newest dump in the
 * backups volume, restores it into a scratch database on a throwaway PostgreSQL server inside its
 * own container (initdb on a scratch volume, Unix socket only, deleted afterwards), and checks it
 * against the live database: the same tables, each row count within the tolerance. Results go to a
 * status file, a healthcheck, and metrics for node-exporter's textfile collector
 * (`updateio_restore_drill_*`), which the alerts in `alerts` watch.
 *
 * Why a throwaway server rather than a scratch database in the cluster: a restore's disk, WAL and
 * I/O stay off the production server, a drill can never drop a live database, and the live cluster
 * needs no CREATEDB role (pg_hba admits an added role into one database only). The live side is
 * read by a role that can only read (renderRestoreDrillRoleSql).
 *
 * Run by hand: `docker exec <env>-postgres-restore-drill sh /etc/postgres-restore-drill/restore-drill.sh --now`
 * (`manualCommand`); exit 0 = passed. See docs/runbooks/postgres-restore-drill.md.
 *
 * Hardening: the cluster's image as its postgres user, read-only rootfs, every capability dropped,
 * a memory limit, the cluster's internal network only, no published port.
 */
export class PostgresRestoreDrill extends Construct {
  readonly service: HardenedService;
  /** The drill role in the cluster (cluster.addRole). */
  readonly clusterRole: PostgresRole;
  readonly role: string;
  /** Ephemeral volume holding the throwaway server's data directory during a drill. */
  readonly scratchVolume: ServiceVolume;
  readonly script = RESTORE_DRILL_SCRIPT;
  /** Seconds between scheduled drills. */
  readonly intervalSeconds: number;
  /** The container's environment (every value allow-listed here). */
  readonly settings: Readonly<Record<string, string>>;
  readonly containerName: string;
  /** The command an operator runs for a drill now. */
  readonly manualCommand: string;
  /** RestoreDrillFailed and RestoreDrillNotRun for this drill's interval, for the Prometheus rule catalogue. */
  readonly alerts: AlertRule[];

  constructor(scope: Construct, id: string, props: PostgresRestoreDrillProps) {
    super(scope, id);
    const cluster = props.cluster;
    const role = props.role ?? `${cluster.database}_restore_drill`;
    const at = props.schedule?.at ?? RESTORE_DRILL_DEFAULTS.at;
    const everyHours = props.schedule?.everyHours ?? RESTORE_DRILL_DEFAULTS.everyHours;
    const percent = props.tolerance?.percent ?? RESTORE_DRILL_DEFAULTS.tolerancePercent;
    const rows = props.tolerance?.rows ?? RESTORE_DRILL_DEFAULTS.toleranceRows;
    const maxDumpAgeHours = props.maxDumpAgeHours ?? RESTORE_DRILL_DEFAULTS.maxDumpAgeHours;
    const memoryMb = props.memoryMb ?? RESTORE_DRILL_DEFAULTS.memoryMb;
    const cpuShares = props.cpuShares ?? RESTORE_DRILL_DEFAULTS.cpuShares;
    const ignoreTables = props.ignoreTables ?? [];

    // Every problem at once, each naming its prop and the fix. Everything here ends up in the
    // container's environment, the script's SQL or arithmetic: allow-lists, never deny-lists.
    const problems: string[] = [];
    if (typeof role !== "string" || !IDENT.test(role) || role.length > 41)
      problems.push(
        `role: "${String(role)}" must be a lowercase SQL identifier of at most 41 characters (fix: e.g. "updateio_restore_drill")`,
      );
    if (typeof at !== "string" || !HHMM.test(at))
      problems.push(`schedule.at: "${String(at)}" must be HH:MM (24h, UTC) (fix: e.g. "04:30")`);
    const divides = [6, 8, 12].includes(everyHours) || (Number.isInteger(everyHours) && everyHours % 24 === 0 && everyHours <= 168);
    if (!divides)
      problems.push(
        `schedule.everyHours: ${String(everyHours)} must be 6, 8, 12 or a whole number of days in hours up to 168 (fix: e.g. 24)`,
      );
    if (!Number.isInteger(percent) || percent < 0 || percent > 100)
      problems.push(`tolerance.percent: ${String(percent)} must be a whole number from 0 to 100 (fix: e.g. 5)`);
    if (!Number.isInteger(rows) || rows < 0 || rows > 1_000_000_000)
      problems.push(`tolerance.rows: ${String(rows)} must be a whole number from 0 to 1000000000 (fix: e.g. 10)`);
    if (!Number.isInteger(maxDumpAgeHours) || maxDumpAgeHours < 1 || maxDumpAgeHours > 24 * 31)
      problems.push(
        `maxDumpAgeHours: ${String(maxDumpAgeHours)} must be a whole number of hours from 1 to 744 (fix: e.g. 48, two daily backups)`,
      );
    ignoreTables.forEach((t, i) => {
      if (typeof t !== "string" || !TABLE.test(t))
        problems.push(
          `ignoreTables.${i}: "${String(t)}" must be "schema.table" in lowercase SQL identifiers (fix: e.g. "public.job_queue")`,
        );
    });
    if (new Set(ignoreTables).size !== ignoreTables.length) problems.push("ignoreTables: lists a table twice (fix: list each table once)");
    if (props.liveEndpoint !== undefined && props.liveEndpoint !== "primary" && props.liveEndpoint !== "read-only")
      problems.push(`liveEndpoint: "${String(props.liveEndpoint)}" must be "primary" or "read-only" (fix: leave it out for the primary)`);
    if (!Number.isInteger(memoryMb) || memoryMb < 256)
      problems.push(
        `memoryMb: ${String(memoryMb)} must be a whole number of MiB ≥ 256 (fix: the throwaway server and pg_restore need room; 512 is the default)`,
      );
    if (!Number.isInteger(cpuShares) || cpuShares < 2 || cpuShares > 1024)
      problems.push(`cpuShares: ${String(cpuShares)} must be a whole number from 2 to 1024 (fix: keep it below the database's, e.g. 256)`);
    if (props.backup.volume.ephemeral)
      problems.push("backup: its volume is ephemeral (fix: pass the PostgresBackup that writes the dumps)");
    if (!cluster.network.internal)
      problems.push(
        `cluster: its "${cluster.network.purpose}" network is not internal (fix: the drill must join an internal network only)`,
      );
    if (problems.length > 0) throw new ValidationError(`PostgresRestoreDrill ${this.node.path}`, problems);

    this.role = role;
    this.intervalSeconds = everyHours * 3600;
    this.clusterRole = cluster.addRole({
      name: role,
      endpoint: props.liveEndpoint ?? "primary",
      initSql: ({ database, passwordFile }) => renderRestoreDrillRoleSql({ role, database, passwordFile }),
      passwordAt: props.passwordAt,
    });
    const login = this.clusterRole.login;
    this.settings = {
      DRILL_DATABASE: cluster.database,
      DRILL_AT: at,
      DRILL_INTERVAL_SECONDS: String(this.intervalSeconds),
      DRILL_TOLERANCE_PERCENT: String(percent),
      DRILL_TOLERANCE_ROWS: String(rows),
      DRILL_MAX_DUMP_AGE_SECONDS: String(maxDumpAgeHours * 3600),
      DRILL_SCRATCH_DIR: SCRATCH_DIR,
      // An eighth of the limit: the rest is for pg_restore, index builds (maintenance_work_mem) and the page cache.
      DRILL_SCRATCH_SHARED_BUFFERS_MB: String(Math.floor(memoryMb / 8)),
      LIVE_HOST: login.host,
      LIVE_PORT: String(login.port),
      LIVE_USER: role,
      LIVE_PASSWORD_FILE: `${SECURE_DEFAULTS.secretsDir}/${PASSWORD_SECRET}`,
      ...(ignoreTables.length > 0 ? { DRILL_IGNORE_TABLES: ignoreTables.join(" ") } : {}),
    };

    this.scratchVolume = new ServiceVolume(this, "scratch", {
      environment: props.environment,
      service: RESTORE_DRILL_SERVICE,
      purpose: "scratch",
      // Emptied at the start and end of every drill: losing it loses nothing.
      ephemeral: true,
    });
    // The drill runs on between drills (it is not a one-shot job), so the policy counts it as a
    // server writing this volume: the exception is stated here, for this volume alone.
    PolicySuppressions.addResourceSuppressions(this.scratchVolume.resource, [
      {
        id: "prod-volume-protected",
        reason: "the restore drill's scratch: a throwaway server's data directory, emptied at the start and end of every drill",
      },
    ]);
    const script = `${RESTORE_DRILL_SCRIPTS_DIR}/restore-drill.sh`;
    this.service = new HardenedService(this, "drill", {
      environment: props.environment,
      service: RESTORE_DRILL_SERVICE,
      component: "job",
      role: "restore-drill",
      // The cluster's own image: no second docker_image, and the same major version as the dumps' server.
      image: cluster.service.spec.image,
      // The official image's unprivileged user: owns the backups volume's files and may run initdb.
      user: "postgres",
      memoryMb,
      cpuShares,
      // Uploaded root-owned 0644: always run through sh.
      entrypoint: ["sh", script],
      command: ["loop"],
      env: this.settings,
      secrets: [{ name: PASSWORD_SECRET, value: this.clusterRole.passwordSecret.value }],
      configDirs: [{ path: RESTORE_DRILL_SCRIPTS_DIR, files: [{ name: "restore-drill.sh", content: this.script }] }],
      volumes: [
        { volume: props.backup.volume, containerPath: BACKUP_ROOT },
        // Below the backups mount, as in the cluster's server: the image's VOLUME path, owned by postgres.
        { volume: this.scratchVolume, containerPath: DEFAULT_PGDATA },
      ],
      networks: [{ network: cluster.network }],
      healthcheck: {
        test: ["CMD", "sh", script, "health"],
        interval: "300s",
        timeout: "10s",
        retries: 1,
        // The first drill waits up to an hour for the first dump, then restores it.
        startPeriod: "2h",
      },
      // The alerts watch it; a failing drill must not block deploys of everything else.
      waitHealthy: false,
      dependsOn: props.dependsOn ?? props.backup.service.containers,
    });
    this.containerName = `${props.environment}-${RESTORE_DRILL_SERVICE}`;
    this.manualCommand = `docker exec ${this.containerName} sh ${script} --now`;
    this.alerts = restoreDrillAlerts({ intervalSeconds: this.intervalSeconds, containerName: this.containerName });
  }
}
