import { Network } from "@cdktf/provider-docker/lib/network";
import { Construct, type IConstruct } from "constructs";
import { LABELS, PROJECT } from "./secure-defaults";

/** How a stack's networks are made: bridges on one host, or Swarm overlays that span nodes. */
export interface NetworkDefaults {
  readonly driver: "bridge" | "overlay";
  /**
   * Overlay only: IPsec-encrypt traffic between nodes on every internal network (all that carry
   * data or credentials; an egress network only carries traffic bound for the internet).
   * @default false
   */
  readonly encryptInternal?: boolean;
}

const DEFAULTS = new WeakMap<IConstruct, NetworkDefaults>();

/** Sets the network driver for every PlatformNetwork created below `scope` (the environment stack). */
export function setNetworkDefaults(scope: IConstruct, defaults: NetworkDefaults): void {
  if (defaults.driver === "bridge" && defaults.encryptInternal) {
    throw new Error(`setNetworkDefaults ${scope.node.path}: encryptInternal needs the overlay driver (bridges never leave the host)`);
  }
  DEFAULTS.set(scope, defaults);
}

function defaultsFor(scope: IConstruct): NetworkDefaults {
  for (const c of scope.node.scopes.slice().reverse()) {
    const d = DEFAULTS.get(c);
    if (d) return d;
  }
  return { driver: "bridge" };
}

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

/**
 * A user-defined network: Docker DNS gives every attached container or Swarm task its aliases. A
 * bridge (one host) unless the stack set overlay defaults: then an attachable overlay, so the plain
 * containers on the manager (data tier, edge, jobs) and the Swarm services share it.
 */
export class PlatformNetwork extends Construct {
  /** Docker network name; referencing it orders containers after the network. */
  readonly name: string;
  /** The engine's network ID: what a docker_service must reference (a name never settles). */
  readonly id: string;
  readonly internal: boolean;
  readonly purpose: string;
  readonly driver: "bridge" | "overlay";
  readonly encrypted: boolean;
  readonly resource: Network;

  constructor(scope: Construct, id: string, props: PlatformNetworkProps) {
    super(scope, id);
    if (!/^[a-z][a-z0-9-]*$/.test(props.purpose)) {
      throw new Error(`PlatformNetwork ${this.node.path}: purpose "${props.purpose}" must be lowercase letters, digits and dashes`);
    }
    const defaults = defaultsFor(this);
    this.internal = props.internal ?? true;
    this.purpose = props.purpose;
    this.driver = defaults.driver;
    this.encrypted = this.driver === "overlay" && (defaults.encryptInternal ?? false) && this.internal;
    const overlay = this.driver === "overlay";
    this.resource = new Network(this, "network", {
      name: `${props.environment}-${props.purpose}`,
      driver: this.driver,
      internal: this.internal,
      // Plain containers (data tier, edge, one-shot jobs) join the overlays the services use.
      attachable: overlay ? true : undefined,
      options: this.encrypted ? { encrypted: "" } : undefined,
      labels: [
        { label: LABELS.project, value: PROJECT },
        { label: LABELS.environment, value: props.environment },
        { label: LABELS.role, value: props.purpose },
      ],
      // The engine reads overlay options back with its own vxlanid_list added, which would
      // replace the network on every apply. Encryption is fixed at creation anyway.
      lifecycle: this.encrypted ? { ignoreChanges: ["options"] } : undefined,
    });
    this.name = this.resource.name;
    this.id = this.resource.id;
  }
}
