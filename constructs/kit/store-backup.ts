import type { ITerraformDependable } from "cdktf";
import type { BackupOffsiteProps, ScheduledBackupProps } from "./scheduled-backup";
import type { BackupSchedule } from "./scheduled-backup-script";
import type { ServiceVolume } from "./service-volume";

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
