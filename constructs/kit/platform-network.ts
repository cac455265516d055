import { Network } from "@cdktf/provider-docker/lib/network";
import { Construct } from "constructs";
import { LABELS, PROJECT } from "./secure-defaults";

export interface PlatformNetworkProps {
  /** Environment name; prefixes the Docker network name so dev and test can share a host. */
  readonly environment: string;
  /** What the network carries, e.g. "edge", "egress", "postgres". */
  readonly purpose: string;
  /**
   * No route out of the host: containers on it reach only each other.
   * @default true
   */
  readonly internal?: boolean;
}

/** A user-defined bridge network: Docker DNS gives every attached container its aliases. */
export class PlatformNetwork extends Construct {
  /** Docker network name; referencing it orders containers after the network. */
  readonly name: string;
  readonly internal: boolean;
  readonly purpose: string;
  readonly resource: Network;

  constructor(scope: Construct, id: string, props: PlatformNetworkProps) {
    super(scope, id);
    if (!/^[a-z][a-z0-9-]*$/.test(props.purpose)) {
      throw new Error(`PlatformNetwork ${this.node.path}: purpose "${props.purpose}" must be lowercase letters, digits and dashes`);
    }
    this.internal = props.internal ?? true;
    this.purpose = props.purpose;
    this.resource = new Network(this, "network", {
      name: `${props.environment}-${props.purpose}`,
      driver: "bridge",
      internal: this.internal,
      labels: [
        { label: LABELS.project, value: PROJECT },
        { label: LABELS.environment, value: props.environment },
        { label: LABELS.role, value: props.purpose },
      ],
    });
    this.name = this.resource.name;
  }
}
