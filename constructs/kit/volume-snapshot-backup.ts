import { Construct } from "constructs";
import type { PlatformNetwork } from "./platform-network";
import { ScheduledBackup, type ScheduledBackupProps } from "./scheduled-backup";
import { ServiceImage } from "./service-image";
import type { ServiceVolume } from "./service-volume";
import { storeBackupProps, type StoreBackupDefaults, type StoreBackupProps } from "./store-backup";
import { ValidationError } from "../contract/errors";

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

/** What sets one VolumeSnapshotBackup apart: its store, its scripts and who runs them. */
export interface VolumeSnapshot extends Pick<
  ScheduledBackupProps,
  "store" | "user" | "relax" | "hooks" | "restoreScript" | "suffix" | "backupsPath" | "offsiteUser"
> {
  /** The construct named in its errors, e.g. "EdgeBackup". */
  readonly construct: string;
  readonly defaults: StoreBackupDefaults;
  /** Where the data volume is mounted (read-only) in the job. */
  readonly sourcePath: string;
  /** What to pass instead of an empty image reference. */
  readonly imageFix: string;
}

/**
 * The ScheduledBackup of a VolumeSnapshotProps backup: the shared props, its image (pulled as
 * `<id>/image` when given by reference), its network and the data volume. An empty image
 * reference is refused.
 */
export class VolumeSnapshotBackup extends Construct {
  readonly backup: ScheduledBackup;
  /** The store's hooks, inlined into backup.sh. */
  readonly hooks: string;
  readonly restoreScript: string;

  constructor(scope: Construct, id: string, props: VolumeSnapshotProps, snapshot: VolumeSnapshot) {
    super(scope, id);
    const { construct, defaults, sourcePath, imageFix, ...job } = snapshot;
    if (typeof props.image === "string" && props.image.trim() === "")
      throw new ValidationError(`${construct} ${this.node.path}`, [`image: is empty (fix: ${imageFix})`]);
    this.hooks = job.hooks;
    this.restoreScript = job.restoreScript;
    this.backup = new ScheduledBackup(this, "backup", {
      ...storeBackupProps(props, defaults),
      ...job,
      image: typeof props.image === "string" ? new ServiceImage(this, "image", { ref: props.image }) : props.image,
      network: props.network,
      sourceVolumes: [{ volume: props.dataVolume, containerPath: sourcePath }],
    });
  }
}
