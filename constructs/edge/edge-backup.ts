import type { Construct } from "constructs";
import { renderEdgeBackupHooks, renderEdgeRestoreScript } from "./renderers/edge-backup";
import type { StoreBackupDefaults } from "../kit/store-backup";
import { VolumeSnapshotBackup, type VolumeSnapshotProps } from "../kit/volume-snapshot-backup";

/** Daily, two weeks kept; tar and gzip need little memory. */
export const EDGE_BACKUP_DEFAULTS: StoreBackupDefaults = { schedule: { everyMinutes: 1440, at: "03:40" }, keep: 14, memoryMb: 64 };

/**
 * `dataVolume`: EdgeProxy.dataVolume (Caddy's /data). `image`: the edge's own (caddy, pinned): sh,
 * tar and gzip from busybox, no second image to pull. An off-host copy is strongly advised in
 * prod: a lost host loses its volumes, and the point is a rebuilt host.
 */
export type EdgeBackupProps = VolumeSnapshotProps;

export const EDGE_BACKUP_SOURCE = "/caddy-data";
export const EDGE_BACKUP_ROOT = "/backups";

/**
 * Daily tar of Caddy's data directory (ACME account, certificates and keys, internal CA) into
 * `<env>-edge-backups`, so a rebuilt host serves its certificates at once instead of re-issuing
 * them all in a burst against Let's Encrypt's rate limits.
 */
export class EdgeBackup extends VolumeSnapshotBackup {
  constructor(scope: Construct, id: string, props: EdgeBackupProps) {
    super(scope, id, props, {
      construct: "EdgeBackup",
      defaults: EDGE_BACKUP_DEFAULTS,
      sourcePath: EDGE_BACKUP_SOURCE,
      imageFix: "pass the edge's image, PINNED_IMAGES.caddy",
      store: "edge",
      // Caddy's data is root-owned 0600 (the edge runs as root: the image has no other user).
      user: "0:0",
      relax: {
        "non-root":
          "Caddy's data (ACME keys, certificates) is root-owned 0600 because the caddy image has no unprivileged user; the backup reads it read-only as its owner with every capability dropped, read-only rootfs, no-new-privileges and no route out",
      },
      hooks: renderEdgeBackupHooks(EDGE_BACKUP_SOURCE),
      restoreScript: renderEdgeRestoreScript(EDGE_BACKUP_ROOT),
      suffix: ".tar.gz",
      backupsPath: EDGE_BACKUP_ROOT,
      offsiteUser: "0:0",
    });
  }
}
