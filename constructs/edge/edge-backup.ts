import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { renderEdgeBackupHooks, renderEdgeRestoreScript } from "./renderers/edge-backup";
import type { PlatformNetwork } from "../kit/platform-network";
import { ScheduledBackup, type BackupOffsiteProps } from "../kit/scheduled-backup";
import type { BackupSchedule } from "../kit/scheduled-backup-script";
import { ServiceImage } from "../kit/service-image";
import type { ServiceVolume } from "../kit/service-volume";
import { ValidationError } from "../contract/errors";

export interface EdgeBackupProps {
  readonly environment: string;
  /** The edge's data volume (EdgeProxy.dataVolume: Caddy's /data); mounted read-only. */
  readonly dataVolume: ServiceVolume;
  /** The edge's own image (caddy, pinned): sh, tar and gzip from busybox, no second image to pull. */
  readonly image: string;
  /** An internal network with nothing to reach (the job talks to no server); a dedicated one is best. */
  readonly network: PlatformNetwork;
  /** @default { everyMinutes: 1440, at: "03:40" } */
  readonly schedule?: BackupSchedule;
  /** @default 14 */
  readonly keep?: number;
  /** Strongly advised in prod: a lost host loses its volumes, and the point is a rebuilt host. @default undefined */
  readonly offsite?: BackupOffsiteProps;
  /** @default false */
  readonly protectData?: boolean;
  /** @default 64 */
  readonly memoryMb?: number;
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
}

export const EDGE_BACKUP_SOURCE = "/caddy-data";
export const EDGE_BACKUP_ROOT = "/backups";

/**
 * Daily tar of Caddy's data directory (ACME account, certificates and keys, internal CA) into
 * `<env>-edge-backups`, so a rebuilt host serves its certificates at once instead of re-issuing
 * them all in a burst against Let's Encrypt's rate limits.
 */
export class EdgeBackup extends Construct {
  readonly backup: ScheduledBackup;
  readonly hooks: string;
  readonly restoreScript: string;

  constructor(scope: Construct, id: string, props: EdgeBackupProps) {
    super(scope, id);
    if (props.image.trim() === "")
      throw new ValidationError(`EdgeBackup ${this.node.path}`, ["image: is empty (fix: pass the edge's image, PINNED_IMAGES.caddy)"]);
    this.hooks = renderEdgeBackupHooks(EDGE_BACKUP_SOURCE);
    this.restoreScript = renderEdgeRestoreScript(EDGE_BACKUP_ROOT);
    this.backup = new ScheduledBackup(this, "backup", {
      environment: props.environment,
      store: "edge",
      image: new ServiceImage(this, "image", { ref: props.image }),
      // Caddy's data is root-owned 0600 (the edge runs as root: the image has no other user).
      user: "0:0",
      relax: {
        "non-root":
          "Caddy's data (ACME keys, certificates) is root-owned 0600 because the caddy image has no unprivileged user; the backup reads it read-only as its owner with every capability dropped, read-only rootfs, no-new-privileges and no route out",
      },
      hooks: this.hooks,
      extraFiles: [{ name: "restore.sh", content: this.restoreScript }],
      suffix: ".tar.gz",
      backupsPath: EDGE_BACKUP_ROOT,
      schedule: props.schedule ?? { everyMinutes: 1440, at: "03:40" },
      keep: props.keep ?? 14,
      network: props.network,
      sourceVolumes: [{ volume: props.dataVolume, containerPath: EDGE_BACKUP_SOURCE }],
      offsite: props.offsite,
      offsiteUser: "0:0",
      protectData: props.protectData,
      memoryMb: props.memoryMb ?? 64,
      dependsOn: props.dependsOn,
    });
  }
}
