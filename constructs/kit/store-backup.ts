import type { ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import type { BackupOffsiteProps, ScheduledBackupProps } from "./scheduled-backup";
import type { BackupSchedule } from "./scheduled-backup-script";
import type { PlatformNetwork } from "./platform-network";
import { ServiceImage } from "./service-image";
import type { ServiceVolume } from "./service-volume";
import { ValidationError } from "../contract/errors";

/**
 * What every store's backup construct (RedisBackup, RabbitBackup, GrafanaBackup, EdgeBackup) takes
 * the same way; each adds only what is its own (the store to read, its image or network). The
 * defaults of schedule, keep and memoryMb are the store's: see its `<STORE>_BACKUP_DEFAULTS`.
 */
export interface StoreBackupProps {
  readonly environment: string;
  /** @default the store's `<STORE>_BACKUP_DEFAULTS.schedule` */
  readonly schedule?: BackupSchedule;
  /** Snapshots kept (the newest). @default the store's `<STORE>_BACKUP_DEFAULTS.keep` */
  readonly keep?: number;
  /** Off-host copy (rclone copy, never deletes remotely). @default undefined (none: the snapshots stay on this host) */
  readonly offsite?: BackupOffsiteProps;
  /** Protect the backups volume from destroy (prod). @default false */
  readonly protectData?: boolean;
  /** @default the store's `<STORE>_BACKUP_DEFAULTS.memoryMb` */
  readonly memoryMb?: number;
  /** Created after these. @default the store's own containers, where the construct knows them; else [] */
  readonly dependsOn?: readonly ITerraformDependable[];
  /**
   * The backups volume, when the stack makes it before the job (node-exporter mounts it for the
   * metrics before Grafana or the edge exist). @default a new `<env>-<store>-backups` volume
   */
  readonly volume?: ServiceVolume;
}

/** A store's defaults for the shared props. */
export interface StoreBackupDefaults {
  readonly schedule: Required<BackupSchedule>;
  readonly keep: number;
  readonly memoryMb: number;
}

/** The shared props mapped onto ScheduledBackupProps, the store's defaults filled in. */
export function storeBackupProps(
  props: StoreBackupProps,
  defaults: StoreBackupDefaults,
  dependsOn: readonly ITerraformDependable[] = [],
): Pick<ScheduledBackupProps, "environment" | "schedule" | "keep" | "offsite" | "protectData" | "memoryMb" | "dependsOn" | "volume"> {
  return {
    environment: props.environment,
    // A partial schedule keeps the store's other half (e.g. only everyMinutes changed).
    schedule: { ...defaults.schedule, ...props.schedule },
    keep: props.keep ?? defaults.keep,
    offsite: props.offsite,
    protectData: props.protectData,
    memoryMb: props.memoryMb ?? defaults.memoryMb,
    dependsOn: props.dependsOn ?? dependsOn,
    volume: props.volume,
  };
}

/**
 * A backup that reads another service's volume (mounted read-only) and talks to no server:
 * GrafanaBackup (its SQLite file) and EdgeBackup (Caddy's data).
 */
export interface VolumeSnapshotProps extends StoreBackupProps {
  /** The volume read, mounted read-only. */
  readonly dataVolume: ServiceVolume;
  /** The image the job runs: a reference (pinned by digest where the environment requires it), or one the stack already pulls. */
  readonly image: string | ServiceImage;
  /** An internal network with nothing to reach (the job talks to no server); a dedicated one is best. */
  readonly network: PlatformNetwork;
}

/** What sets a VolumeSnapshotProps backup apart in volumeSnapshotBackupProps. */
export interface VolumeSnapshot {
  /** The construct named in its errors, e.g. "EdgeBackup". */
  readonly construct: string;
  readonly defaults: StoreBackupDefaults;
  /** Where the data volume is mounted (read-only) in the job. */
  readonly sourcePath: string;
  /** What to pass instead of an empty image reference. */
  readonly imageFix: string;
}

/**
 * The shared props plus what every VolumeSnapshotProps backup passes the same way: its image
 * (pulled as `<scope>/image` when given by reference), its network and the data volume. An empty
 * image reference is refused.
 */
export function volumeSnapshotBackupProps(
  scope: Construct,
  props: VolumeSnapshotProps,
  snapshot: VolumeSnapshot,
): ReturnType<typeof storeBackupProps> & Pick<ScheduledBackupProps, "image" | "network" | "sourceVolumes"> {
  if (typeof props.image === "string" && props.image.trim() === "")
    throw new ValidationError(`${snapshot.construct} ${scope.node.path}`, [`image: is empty (fix: ${snapshot.imageFix})`]);
  return {
    ...storeBackupProps(props, snapshot.defaults),
    image: typeof props.image === "string" ? new ServiceImage(scope, "image", { ref: props.image }) : props.image,
    network: props.network,
    sourceVolumes: [{ volume: props.dataVolume, containerPath: snapshot.sourcePath }],
  };
}
