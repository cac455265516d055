import type { Construct } from "constructs";
import { renderGrafanaBackupHooks, renderGrafanaRestoreScript } from "./renderers/grafana-backup";
import type { StoreBackupDefaults } from "../kit/store-backup";
import { VolumeSnapshotBackup, type VolumeSnapshotProps } from "../kit/volume-snapshot-backup";

/** Daily, two weeks kept. */
export const GRAFANA_BACKUP_DEFAULTS: StoreBackupDefaults = { schedule: { everyMinutes: 1440, at: "01:30" }, keep: 14, memoryMb: 128 };

/**
 * `dataVolume`: GrafanaServer.dataVolume (grafana.db lives at its root). `image`: one with sqlite3 or
 * python3 (stdlib sqlite3) and sh, gzip, find, which the pinned Grafana image lacks: the official
 * python image (Alpine variant), pinned by digest (PINNED_IMAGES.python).
 */
export type GrafanaBackupProps = VolumeSnapshotProps;

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
export class GrafanaBackup extends VolumeSnapshotBackup {
  constructor(scope: Construct, id: string, props: GrafanaBackupProps) {
    super(scope, id, props, {
      construct: "GrafanaBackup",
      defaults: GRAFANA_BACKUP_DEFAULTS,
      sourcePath: GRAFANA_BACKUP_SOURCE,
      imageFix: "pass a pinned python:3-alpine image, PINNED_IMAGES.python",
      store: "grafana",
      user: "472:0",
      hooks: renderGrafanaBackupHooks(`${GRAFANA_BACKUP_SOURCE}/grafana.db`),
      restoreScript: renderGrafanaRestoreScript(GRAFANA_BACKUP_ROOT),
      suffix: ".db.gz",
      backupsPath: GRAFANA_BACKUP_ROOT,
      offsiteUser: "472:0",
    });
  }
}
