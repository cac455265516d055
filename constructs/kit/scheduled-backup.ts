import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { GeneratedSecret } from "./generated-secret";
import { HardenedService, type Relaxation } from "./hardened-service";
import { offsiteCopyService, offsiteCopySettings, offsitePropsProblems } from "./offsite-copy";
import type { PlatformNetwork } from "./platform-network";
import {
  offsiteCopyProblems,
  renderOffsiteCopyScript,
  renderScheduledBackupScript,
  scheduledBackupProblems,
  BACKUP_SIGNING_KEY_SECRET,
  type BackupSchedule,
  type OffsiteCopyScriptInput,
  type ScheduledBackupScriptInput,
} from "./scheduled-backup-script";
import { SECURE_DEFAULTS } from "./secure-defaults";
import type { ServiceImage } from "./service-image";
import type { SecretFile, VolumeMount } from "./service-spec";
import { ServiceVolume } from "./service-volume";
import { ValidationError } from "../contract/errors";

/** Off-host copy settings: the same shape as PostgresBackupOffsiteProps, so one config object serves both. */
export interface BackupOffsiteProps {
  /** S3-compatible endpoint, e.g. "https://s3.eu-central-1.amazonaws.com". */
  readonly endpoint: string;
  /** The bucket must exist (the copy never creates it); its lifecycle rule sets remote retention. */
  readonly bucket: string;
  /** @default "<environment>/<store>" */
  readonly prefix?: string;
  /** @default "us-east-1" */
  readonly region?: string;
  /** rclone's s3 provider ("AWS", "Minio", "Cloudflare", "Other"). @default "Other" */
  readonly provider?: string;
  /** Access key id (a Terraform token; delivered as a secret file). */
  readonly accessKeyId: string;
  /** Secret access key (a Terraform token; delivered as a secret file). */
  readonly secretAccessKey: string;
  /** The rclone image (official rclone/rclone, pinned). */
  readonly image: string;
  /** A non-internal network: the copy leaves the host. */
  readonly network: PlatformNetwork;
  /** Seconds between copies. @default 900 */
  readonly intervalSeconds?: number;
  /** @default 128 */
  readonly memoryMb?: number;
}

export interface ScheduledBackupProps {
  readonly environment: string;
  /** What is backed up: the `store` label of the metrics and the name part ("redis" → "<env>-redis-backup"). */
  readonly store: string;
  /** Image with the store's client tools (usually the store's own image). */
  readonly image: ServiceImage;
  /** The image's unprivileged user that owns `backupsPath` in the image (Docker copies that ownership to a new volume). */
  readonly user: string;
  /** Weakened defaults with the reason for each (e.g. non-root for Caddy's root-owned data). @default {} */
  readonly relax?: Readonly<Partial<Record<Relaxation, string>>>;
  /** The store's hooks file (snapshot_take, snapshot_verify, snapshot_items, snapshot_describe), rendered. */
  readonly hooks: string;
  /** The store's restore.sh, mounted next to backup.sh (where its runbook runs it). */
  readonly restoreScript: string;
  /** Snapshot file suffix, e.g. ".rdb". */
  readonly suffix: string;
  /** Where the backups volume is mounted; pick a directory the image gives to `user`. */
  readonly backupsPath: string;
  /** @default { everyMinutes: 1440, at: "00:00" } */
  readonly schedule?: BackupSchedule;
  /** Snapshots kept (the newest). @default 14 */
  readonly keep?: number;
  /** An internal network: the store's own (to reach the server) or a dedicated one. Never an egress network. */
  readonly network: PlatformNetwork;
  /** Volumes read by the snapshot (e.g. Caddy's data), mounted read-only. @default [] */
  readonly sourceVolumes?: readonly VolumeMount[];
  /** Secret files (e.g. the backup user's password). @default [] */
  readonly secrets?: readonly SecretFile[];
  /** Non-secret environment. @default {} */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra tmpfs mounts (path → MiB). @default {} */
  readonly tmpfs?: Readonly<Record<string, number>>;
  /** Off-host copy of the snapshots (rclone copy, never deletes remotely). @default undefined (none) */
  readonly offsite?: BackupOffsiteProps;
  /** uid:gid the off-host copy runs as: the owner of the snapshots. @default "65534:65534" */
  readonly offsiteUser?: string;
  /** Protect the backups volume from destroy (prod); ignored when `volume` is given. @default false */
  readonly protectData?: boolean;
  /** The backups volume, made by the caller (e.g. so node-exporter can mount it first). @default a new `<env>-<store>-backups` */
  readonly volume?: ServiceVolume;
  /** @default 128 */
  readonly memoryMb?: number;
  /** @default 256 */
  readonly cpuShares?: number;
  /** Created after these. @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

/**
 * A scheduled snapshot of one store into its own `<env>-<store>-backups` volume: the generic
 * scheduler (schedule, retention by count, status file, healthcheck, metrics labelled
 * store="<store>") plus the store's hooks, in a hardened container on an internal network, and
 * optionally an rclone container copying the snapshots off the host.
 */
export class ScheduledBackup extends Construct {
  readonly volume: ServiceVolume;
  readonly service: HardenedService;
  readonly offsite?: HardenedService;
  /** Where the scripts are mounted: backup.sh (the scheduler with the store's hooks inlined) and restore.sh. */
  readonly scriptsDir: string;
  /** The rendered scheduler. */
  readonly script: string;
  readonly offsiteScript?: string;
  /** Docker name of the scheduler container (for the runbook's `docker exec`). */
  readonly containerName: string;
  /** The textfile node-exporter reads, relative to the backups volume. */
  readonly metricsFile: string;
  readonly intervalSeconds: number;
  readonly keep: number;
  /** The key every snapshot is signed with (`<snapshot>.hmac`), delivered as BACKUP_SIGNING_KEY_FILE. */
  readonly signingKey: GeneratedSecret;

  constructor(scope: Construct, id: string, props: ScheduledBackupProps) {
    super(scope, id);
    const service = `${props.store}-backup`;
    this.scriptsDir = `/etc/${service}`;
    const schedule = { everyMinutes: props.schedule?.everyMinutes ?? 1440, at: props.schedule?.at ?? "00:00" };
    this.keep = props.keep ?? 14;
    const input: ScheduledBackupScriptInput = {
      store: props.store,
      suffix: props.suffix,
      backupRoot: props.backupsPath,
      hooks: props.hooks,
      schedule,
      keep: this.keep,
    };
    const problems = scheduledBackupProblems(input);
    if (!props.network.internal)
      problems.push(
        `network: "${props.network.purpose}" is not internal; a backup job reaches its store only (fix: pass the store's own network, or a dedicated internal one)`,
      );
    const memoryMb = props.memoryMb ?? 128;
    if (!Number.isInteger(memoryMb) || memoryMb < 32) problems.push(`memoryMb: ${memoryMb} must be a whole number ≥ 32 (fix: e.g. 128)`);
    let offsiteInput: OffsiteCopyScriptInput | undefined;
    const offsite = props.offsite;
    if (offsite) {
      problems.push(...offsitePropsProblems(offsite));
      offsiteInput = {
        store: props.store,
        backupRoot: props.backupsPath,
        ...offsiteCopySettings(offsite, `${props.environment}/${props.store}`),
      };
      problems.push(...offsiteCopyProblems(offsiteInput));
    }
    if (problems.length > 0) throw new ValidationError(`ScheduledBackup ${this.node.path}`, problems);

    this.script = renderScheduledBackupScript(input);
    this.intervalSeconds = schedule.everyMinutes * 60;
    this.metricsFile = `metrics/${props.store.replace(/-/g, "_")}_backup.prom`;
    this.volume =
      props.volume ??
      new ServiceVolume(this, "backups", {
        environment: props.environment,
        service: props.store,
        purpose: "backups",
        protect: props.protectData ?? false,
      });
    const backupsMount: VolumeMount = { volume: this.volume, containerPath: props.backupsPath };
    // The store's own key: a forged or planted snapshot, in the volume or in the bucket, does not
    // verify, and another store's job cannot sign for this one. In the state, so a rebuilt host has it.
    this.signingKey = new GeneratedSecret(this, "signing-key", { length: 64 });
    this.service = new HardenedService(this, "scheduler", {
      environment: props.environment,
      service,
      component: "job",
      role: "backup-scheduler",
      image: props.image,
      user: props.user,
      relax: props.relax,
      memoryMb,
      cpuShares: props.cpuShares ?? 256,
      // Scripts are uploaded root-owned (0644), so they are always run through sh.
      entrypoint: ["sh", `${this.scriptsDir}/backup.sh`],
      command: ["loop"],
      env: props.env,
      secrets: [...(props.secrets ?? []), { name: BACKUP_SIGNING_KEY_SECRET, value: this.signingKey.value }],
      configDirs: [
        {
          path: this.scriptsDir,
          files: [
            { name: "backup.sh", content: this.script },
            { name: "restore.sh", content: props.restoreScript },
          ],
        },
      ],
      tmpfs: props.tmpfs,
      volumes: [backupsMount, ...(props.sourceVolumes ?? []).map((v) => ({ ...v, readOnly: true }))],
      networks: [{ network: props.network }],
      healthcheck: {
        test: ["CMD", "sh", `${this.scriptsDir}/backup.sh`, "health"],
        interval: "300s",
        timeout: "10s",
        retries: 1,
        // The first run starts at once; allow it time before a failing health counts.
        startPeriod: "15m",
      },
      // Monitoring alerts on the health and the metrics; a failing backup must not block deploys.
      waitHealthy: false,
      dependsOn: props.dependsOn,
    });
    this.containerName = `${props.environment}-${service}`;

    if (offsite && offsiteInput) {
      this.offsiteScript = renderOffsiteCopyScript(offsiteInput);
      const offsiteUser = props.offsiteUser ?? SECURE_DEFAULTS.user;
      this.offsite = offsiteCopyService(this, {
        environment: props.environment,
        store: props.store,
        offsite,
        script: this.offsiteScript,
        user: offsiteUser,
        // Root only where the snapshots are root-owned (the edge's): the scheduler's reason applies.
        relax: /^(0|root)(:|$)/.test(offsiteUser) ? props.relax : undefined,
        cpuShares: props.cpuShares,
        backupsMount,
        scheduler: this.service.containers[0]!,
      });
    }
  }
}
