import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { ConstructLocation, PostgresCluster, PostgresRole } from "./postgres-cluster";
import {
  BACKUP_INTERVAL_SECONDS,
  BACKUP_ROOT,
  BACKUP_SCRIPTS_DIR,
  backupScriptProblems,
  renderBackupRoleSql,
  renderBackupScript,
  renderRestoreDumpScript,
  renderRestorePitrScript,
  WAL_ARCHIVE_DIR,
  walArchiveSettings,
  type BackupScriptInput,
  type RetentionPolicy,
} from "./renderers/backup-scripts";
import { offsiteScriptProblems, renderOffsiteScript, type OffsiteScriptInput } from "./renderers/postgres-offsite";
import { GeneratedSecret } from "../kit/generated-secret";
import { HardenedService } from "../kit/hardened-service";
import { offsiteCopyService, offsiteCopySettings, offsitePropsProblems, offsiteServiceName } from "../kit/offsite-copy";
import type { BackupOffsiteProps } from "../kit/scheduled-backup";
import { BACKUP_SIGNING_KEY_SECRET } from "../kit/scheduled-backup-script";
import { SECURE_DEFAULTS } from "../kit/secure-defaults";
import type { VolumeMount } from "../kit/service-spec";
import { ServiceVolume } from "../kit/service-volume";
import { ValidationError } from "../contract/errors";

/** Off-host copy settings: the kit's, so one config shape serves every store; the prefix defaults to "<environment>/postgres". */
export type PostgresBackupOffsiteProps = BackupOffsiteProps;

export interface PostgresBackupProps {
  readonly environment: string;
  /**
   * The cluster to back up. The scheduler runs the cluster's image (client tools of the server's
   * major version) on the cluster's network only, and adds its backup role to the cluster
   * (cluster.addRole with renderBackupRoleSql: reads all data, REPLICATION for base backups).
   */
  readonly cluster: PostgresCluster;
  /**
   * The backup role's name (a lowercase SQL identifier).
   * @default "<cluster.database>_backup"
   */
  readonly role?: string;
  /**
   * Where the backup role's password is created; see PostgresRoleOptions.passwordAt.
   * @default inside the cluster
   */
  readonly passwordAt?: ConstructLocation;
  /** Daily run time. @default { at: "02:00" } (UTC) */
  readonly schedule?: { readonly at?: string };
  /** @default { daily: 7, weekly: 4, monthly: 6 } */
  readonly retention?: RetentionPolicy;
  /** A base backup (for point-in-time recovery) is taken when the newest is this old. @default 7 */
  readonly baseBackupEveryDays?: number;
  /** Base backups kept; the PITR window reaches back to the oldest. @default 2 */
  readonly keepBaseBackups?: number;
  /**
   * Off-host copy to S3-compatible storage: a `postgres-offsite` container (rclone) copies dumps,
   * base backups and the WAL archive every interval, never deleting remotely.
   * @default undefined (no off-host copy)
   */
  readonly offsite?: PostgresBackupOffsiteProps;
  /** Protect the backups volume from destroy (prod); ignored when `volume` is given. @default false */
  readonly protectData?: boolean;
  /**
   * The backups volume, when it must exist before the cluster (which mounts it for its WAL
   * archive at BACKUP_ROOT, see primaryMount) and so is created by the caller.
   * @default a new ServiceVolume "<environment>-postgres-backups"
   */
  readonly volume?: ServiceVolume;
  /** @default 256 */
  readonly memoryMb?: number;
  /** @default 256 */
  readonly cpuShares?: number;
  /** Created after these. @default the cluster's primary containers */
  readonly dependsOn?: readonly ITerraformDependable[];
}

export const BACKUP_SERVICE = "postgres-backup";
/** The off-host copy's service (offsiteCopyService with store "postgres"). */
export const OFFSITE_SERVICE = offsiteServiceName("postgres");

/**
 * Scheduled logical dumps (pg_dump -Fc, daily) and base backups (weekly) of a PostgresCluster into
 * the `<env>-postgres-backups` volume, with retention, a status file and a healthcheck that fails
 * when the last run failed or the last success is older than 1.5 x the interval. The same volume
 * holds the primary's WAL archive: mount `primaryMount` into the cluster's server and merge
 * `walArchiveSettings` into its settings for point-in-time recovery.
 */
export class PostgresBackup extends Construct {
  readonly volume: ServiceVolume;
  readonly service: HardenedService;
  readonly role: string;
  /** The backup role in the cluster (cluster.addRole): its password secret and login. */
  readonly clusterRole: PostgresRole;
  /** Mount for the cluster's server container (the WAL archive lives in this volume). */
  readonly primaryMount: VolumeMount;
  /** Settings for the cluster's `settings` prop (archive_mode, archive_command, ...). */
  readonly walArchiveSettings: Record<string, string>;
  readonly archiveDir = WAL_ARCHIVE_DIR;
  readonly scriptsDir = BACKUP_SCRIPTS_DIR;
  /** The rendered scripts, as mounted under scriptsDir. */
  readonly scripts: { readonly backup: string; readonly restoreDump: string; readonly restorePitr: string };
  /** Docker names, for runbooks. */
  readonly containerName: string;
  readonly configVolumeName: string;
  /** The off-host copy (rclone), when `offsite` is set. */
  readonly offsite?: HardenedService;
  readonly offsiteScript?: string;
  /**
   * The key the scheduler signs every dump, base backup and archived WAL file with (only it holds
   * the key; the off-host copy uploads signed files only, and `backup.sh admit` lets fetched files
   * back in only when they verify).
   */
  readonly signingKey: GeneratedSecret;
  /** Seconds between scheduled runs; the healthcheck fails after 1.5 x this without a success. */
  readonly intervalSeconds = BACKUP_INTERVAL_SECONDS;

  constructor(scope: Construct, id: string, props: PostgresBackupProps) {
    super(scope, id);
    const cluster = props.cluster;
    const role = props.role ?? `${cluster.database}_backup`;
    this.role = role;
    const memoryMb = props.memoryMb ?? 256;
    const retention = { daily: props.retention?.daily ?? 7, weekly: props.retention?.weekly ?? 4, monthly: props.retention?.monthly ?? 6 };
    const secretPath = (name: string) => `${SECURE_DEFAULTS.secretsDir}/${name}`;
    const offsite = props.offsite;
    const input: BackupScriptInput = {
      host: cluster.host,
      port: cluster.port,
      database: cluster.database,
      role,
      passwordFile: secretPath("postgres_backup_password"),
      at: props.schedule?.at ?? "02:00",
      retention,
      baseBackupEveryDays: props.baseBackupEveryDays ?? 7,
      keepBaseBackups: props.keepBaseBackups ?? 2,
    };

    // Every problem at once, each naming its prop and the fix.
    const problems = backupScriptProblems(input).map((p) => {
      const fix: Record<string, string> = {
        role: 'use a lowercase SQL identifier, e.g. "updateio_backup"',
        "schedule.at": 'write it as "HH:MM" in UTC',
      };
      const key = p.split(" ")[0]!;
      return `${key}: ${p.slice(key.length + 1)}${fix[key] ? ` (fix: ${fix[key]})` : ""}`;
    });
    if (!Number.isInteger(memoryMb) || memoryMb < 64)
      problems.push(`memoryMb: ${memoryMb} must be a whole number ≥ 64 (pg_dump and gzip need room)`);
    let offsiteInput: OffsiteScriptInput | undefined;
    if (offsite) {
      problems.push(...offsitePropsProblems(offsite));
      offsiteInput = offsiteCopySettings(offsite, `${props.environment}/postgres`);
      problems.push(...offsiteScriptProblems(offsiteInput));
    }
    if (problems.length > 0) {
      throw new ValidationError(`PostgresBackup ${this.node.path}`, problems);
    }
    this.clusterRole = cluster.addRole({
      name: role,
      replication: true,
      initSql: ({ database, passwordFile }) => renderBackupRoleSql({ role, database, passwordFile }),
      passwordAt: props.passwordAt,
    });

    this.scripts = {
      backup: renderBackupScript(input),
      restoreDump: renderRestoreDumpScript({
        database: cluster.database,
        ownerRole: cluster.ownerRole,
        appRole: cluster.appRole,
        backupRole: role,
      }),
      restorePitr: renderRestorePitrScript(),
    };
    this.walArchiveSettings = walArchiveSettings(WAL_ARCHIVE_DIR);

    this.volume =
      props.volume ??
      new ServiceVolume(this, "backups", {
        environment: props.environment,
        service: "postgres",
        purpose: "backups",
        protect: props.protectData ?? false,
      });
    this.primaryMount = { volume: this.volume, containerPath: BACKUP_ROOT };
    // The cluster's own image: no second docker_image, and pg_dump matches the server's major version.
    const image = cluster.service.spec.image;

    this.signingKey = new GeneratedSecret(this, "signing-key", { length: 64 });
    const secrets = [
      { name: "postgres_backup_password", value: this.clusterRole.passwordSecret.value },
      { name: BACKUP_SIGNING_KEY_SECRET, value: this.signingKey.value },
    ];
    const healthInterval = 300;
    this.service = new HardenedService(this, "scheduler", {
      environment: props.environment,
      service: BACKUP_SERVICE,
      component: "job",
      role: "backup-scheduler",
      image,
      // The official image's unprivileged user; it owns /var/lib/postgresql, where the volume mounts.
      user: "postgres",
      memoryMb,
      cpuShares: props.cpuShares ?? 256,
      // Scripts are uploaded root-owned (0644/0744), so they are always run through sh.
      entrypoint: ["sh", `${BACKUP_SCRIPTS_DIR}/backup.sh`],
      command: ["loop"],
      secrets,
      configDirs: [
        {
          path: BACKUP_SCRIPTS_DIR,
          files: [
            { name: "backup.sh", content: this.scripts.backup },
            { name: "restore-dump.sh", content: this.scripts.restoreDump },
            { name: "restore-pitr.sh", content: this.scripts.restorePitr },
          ],
        },
      ],
      // The image declares VOLUME /var/lib/postgresql/data; a tiny tmpfs there stops Docker from
      // creating an anonymous volume for it on every replacement.
      tmpfs: { "/var/lib/postgresql/data": 1 },
      volumes: [{ volume: this.volume, containerPath: BACKUP_ROOT }],
      networks: [{ network: cluster.network }],
      healthcheck: {
        test: ["CMD", "sh", `${BACKUP_SCRIPTS_DIR}/backup.sh`, "health"],
        interval: `${healthInterval}s`,
        timeout: "10s",
        retries: 1,
        // The first run starts at once; a large dump plus a base backup may take a while.
        startPeriod: "1h",
      },
      // Monitoring alerts on the health; a failing backup must not block deploys of everything else.
      waitHealthy: false,
      dependsOn: props.dependsOn ?? cluster.service.containers,
    });
    this.containerName = `${props.environment}-${BACKUP_SERVICE}`;
    this.configVolumeName = `${props.environment}-${BACKUP_SERVICE}-config`;

    if (offsite && offsiteInput) {
      this.offsiteScript = renderOffsiteScript(offsiteInput);
      this.offsite = offsiteCopyService(this, {
        environment: props.environment,
        store: "postgres",
        offsite,
        script: this.offsiteScript,
        // The postgres image's uid/gid (Debian: 999), which owns the backups volume; the copy
        // writes only its metrics file there.
        user: "999:999",
        cpuShares: props.cpuShares,
        backupsMount: { volume: this.volume, containerPath: BACKUP_ROOT },
        scheduler: this.service.containers[0]!,
      });
    }
  }
}
