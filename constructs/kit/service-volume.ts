import { Volume } from "@cdktf/provider-docker/lib/volume";
import { Construct } from "constructs";
import { LABELS, PROJECT } from "./secure-defaults";
import { ValidationError } from "../contract/errors";

export interface ServiceVolumeProps {
  readonly environment: string;
  /** Owning service, e.g. "postgres". */
  readonly service: string;
  /** What it holds, e.g. "data". The Docker volume is named <environment>-<service>-<purpose>. */
  readonly purpose: string;
  /**
   * lifecycle.prevent_destroy: every docker_volume attribute forces replacement and delete
   * removes the data (docs/architecture.md), so volumes that hold data are protected in prod.
   * @default false
   */
  readonly protect?: boolean;
  /**
   * Rebuilt from config on every apply (secret and config files): never protected, and labelled
   * so the policy knows losing it loses nothing.
   * @default false
   */
  readonly ephemeral?: boolean;
}

/** A named Docker volume; survives container replacement. */
export class ServiceVolume extends Construct {
  readonly name: string;
  readonly protected: boolean;
  readonly ephemeral: boolean;
  readonly resource: Volume;

  constructor(scope: Construct, id: string, props: ServiceVolumeProps) {
    super(scope, id);
    if (props.protect && props.ephemeral) {
      throw new ValidationError(`ServiceVolume ${this.node.path}`, [
        `a volume is either protected (holds data) or ephemeral (rebuilt from config), not both`,
      ]);
    }
    this.protected = props.protect ?? false;
    this.ephemeral = props.ephemeral ?? false;
    this.resource = new Volume(this, "volume", {
      name: `${props.environment}-${props.service}-${props.purpose}`,
      labels: [
        { label: LABELS.project, value: PROJECT },
        { label: LABELS.environment, value: props.environment },
        { label: LABELS.service, value: props.service },
        ...(this.ephemeral ? [{ label: LABELS.ephemeral, value: "true" }] : []),
      ],
      lifecycle: this.protected ? { preventDestroy: true } : undefined,
    });
    this.name = this.resource.name;
  }
}
