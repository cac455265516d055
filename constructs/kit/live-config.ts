import { Container } from "@cdktf/provider-docker/lib/container";
import { Construct } from "constructs";
import { escapeTemplateText } from "./container-runtime";
import { LABELS, PROJECT, SEED_CONTAINER_SETTINGS } from "./secure-defaults";
import type { ConfigFile, VolumeMount } from "./service-spec";
import type { ServiceImage } from "./service-image";
import { ServiceVolume } from "./service-volume";
import { ValidationError } from "../contract/errors";

export interface LiveConfigProps {
  readonly environment: string;
  /** The service whose containers read the files, e.g. "postgres". */
  readonly service: string;
  /** Names the volume <environment>-<service>-<purpose> and the seed <...>-seed, e.g. "settings". */
  readonly purpose: string;
  /** Runs the never-started seed; use the image the readers already pull. */
  readonly image: ServiceImage;
  /** Absolute directory the readers mount the files at (read-only). */
  readonly path: string;
  readonly files: readonly ConfigFile[];
}

/**
 * Config files that reach running containers without restarting them. Like the kit's own seed
 * (ContainerRuntime), a never-started container takes the uploads into a volume, because Docker
 * refuses uploads into a read-only container; unlike it, nothing is replace_triggered_by this seed,
 * so a changed file replaces the seed alone and the new content appears in the mounted volume.
 * Whoever mounts it must make the process re-read the files (PostgresCluster: a reload job that
 * depends on `seed`). Container runtime only: a Swarm config is immutable and rolls its tasks.
 */
export class LiveConfig extends Construct {
  readonly volume: ServiceVolume;
  readonly seed: Container;
  /** Mount for the readers: read-only at `path`. */
  readonly mount: VolumeMount;

  constructor(scope: Construct, id: string, props: LiveConfigProps) {
    super(scope, id);
    const problems: string[] = [];
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(props.purpose))
      problems.push(`purpose "${props.purpose}" must be lowercase letters, digits and dashes`);
    if (!/^\/[A-Za-z0-9_./-]+$/.test(props.path) || props.path.includes(".."))
      problems.push(`path "${props.path}" must be an absolute container path of letters, digits, _ . / -`);
    if (props.files.length === 0) problems.push("files is empty: there is nothing to deliver");
    const names = new Set<string>();
    for (const f of props.files) {
      if (!/^[A-Za-z0-9._-]+$/.test(f.name)) problems.push(`files.${f.name} must be a plain file name`);
      if (names.has(f.name)) problems.push(`files.${f.name} is declared twice`);
      names.add(f.name);
    }
    if (!props.image.resource)
      problems.push(`image "${props.image.ref}" was declared with pull: false; the seed runs on this host and needs it pulled`);
    if (problems.length > 0) throw new ValidationError(`LiveConfig ${this.node.path}`, problems);

    this.volume = new ServiceVolume(this, "volume", {
      environment: props.environment,
      service: props.service,
      purpose: props.purpose,
      ephemeral: true,
    });
    this.seed = new Container(this, "seed", {
      name: `${props.environment}-${props.service}-${props.purpose}-seed`,
      image: props.image.imageId,
      ...SEED_CONTAINER_SETTINGS,
      labels: [
        { label: LABELS.component, value: "seed" },
        { label: LABELS.environment, value: props.environment },
        { label: LABELS.project, value: PROJECT },
        { label: LABELS.role, value: `live-config-${props.purpose}` },
        { label: LABELS.service, value: props.service },
      ],
      volumes: [{ volumeName: this.volume.name, containerPath: props.path, readOnly: false }],
      upload: props.files.map((f) => ({
        file: `${props.path}/${f.name}`,
        content: escapeTemplateText(f.content),
        executable: f.executable ?? false,
      })),
    });
    this.mount = { volume: this.volume, containerPath: props.path, readOnly: true };
  }
}
