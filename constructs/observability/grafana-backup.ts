import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { renderGrafanaBackupHooks, renderGrafanaRestoreScript } from "./renderers/grafana-backup";
import type { PlatformNetwork } from "../kit/platform-network";
import { ScheduledBackup, type BackupOffsiteProps } from "../kit/scheduled-backup";
import type { BackupSchedule } from "../kit/scheduled-backup-script";
import { ServiceImage } from "../kit/service-image";
import type { ServiceVolume } from "../kit/service-volume";
import { ValidationError } from "../contract/errors";

export interface GrafanaBackupProps {
  readonly environment: string;
  /** GrafanaServer.dataVolume (grafana.db lives at its root); mounted read-only. */
  readonly dataVolume: ServiceVolume;
  /**
   * An image with sqlite3 or python3 (stdlib sqlite3) and sh, gzip, find: the pinned Grafana image
   * has neither. The official python image (Alpine variant), pinned by digest.
   */
  readonly image: string;
  /** An internal network with nothing to reach (the job talks to no server); a dedicated one is best. */
  readonly network: PlatformNetwork;
  /** @default { everyMinutes: 1440, at: "01:30" } */
  readonly schedule?: BackupSchedule;
  /** @default 14 */
  readonly keep?: number;
  /** @default undefined (no off-host copy) */
  readonly offsite?: BackupOffsiteProps;
  /** @default false */
  readonly protectData?: boolean;
  /** @default 128 */
  readonly memoryMb?: number;
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

/** Grafana's data volume in the backup container (read-only). */
export const GRAFANA_BACKUP_SOURCE = "/grafana-data";
/**
 * The backups volume's mount: the image's /var/tmp (mode 1777). Docker gives a new volume the
 * mode of the directory it is first mounted over, so Grafana's uid 472 can write it without a
 * root chown step; only this job mounts it read-write (node-exporter reads it read-only).
 */
export const GRAFANA_BACKUP_ROOT = "/var/tmp";

/**
 * Daily online snapshots of Grafana's SQLite database (users, teams, annotations, UI-made
 * dashboards and alert state) into `<env>-grafana-backups`, gzipped and checked with
 * PRAGMA integrity_check. Runs as Grafana's uid (472:0), so it reads the database as its owner.
 */
export class GrafanaBackup extends Construct {
  readonly backup: ScheduledBackup;
  readonly hooks: string;
  readonly restoreScript: string;

  constructor(scope: Construct, id: string, props: GrafanaBackupProps) {
    super(scope, id);
    const problems: string[] = [];
    if (props.image.trim() === "") problems.push("image: is empty (fix: pass a pinned python:3-alpine image, PINNED_IMAGES.python)");
    if (problems.length > 0) throw new ValidationError(`GrafanaBackup ${this.node.path}`, problems);
    this.hooks = renderGrafanaBackupHooks(`${GRAFANA_BACKUP_SOURCE}/grafana.db`);
    this.restoreScript = renderGrafanaRestoreScript(GRAFANA_BACKUP_ROOT);
    this.backup = new ScheduledBackup(this, "backup", {
      environment: props.environment,
      store: "grafana",
      image: new ServiceImage(this, "image", { ref: props.image }),
      user: "472:0",
      hooks: this.hooks,
      extraFiles: [{ name: "restore.sh", content: this.restoreScript }],
      suffix: ".db.gz",
      backupsPath: GRAFANA_BACKUP_ROOT,
      schedule: props.schedule ?? { everyMinutes: 1440, at: "01:30" },
      keep: props.keep ?? 14,
      network: props.network,
      sourceVolumes: [{ volume: props.dataVolume, containerPath: GRAFANA_BACKUP_SOURCE }],
      offsite: props.offsite,
      offsiteUser: "472:0",
      protectData: props.protectData,
      memoryMb: props.memoryMb,
      dependsOn: props.dependsOn,
    });
  }
}
