import { Network } from "@cdktf/provider-docker/lib/network";
import { Lazy } from "cdktf";
import { Construct, type IConstruct } from "constructs";
import { ValidationError } from "../contract/errors";
import { allocateSubnets, networkPoolProblem, poolCapacity, type PinnedSubnet } from "./network-pool";
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
  /**
   * Bridge only: a private IPv4 range (e.g. "172.16.0.0/16") from which each network gets a /24 of
   * its own, instead of one from Docker's default address pools (31 networks for the whole machine).
   * @default undefined (Docker picks each subnet)
   */
  readonly pool?: string;
}

const DEFAULTS = new WeakMap<IConstruct, NetworkDefaults>();

/** The networks pinned in one pool, and their subnets once synthesis asks for the first one. */
interface PoolState {
  readonly names: string[];
  plan?: Map<string, PinnedSubnet>;
}
const POOLS = new WeakMap<NetworkDefaults, PoolState>();

/** Sets the network driver for every PlatformNetwork created below `scope` (the environment stack). */
export function setNetworkDefaults(scope: IConstruct, defaults: NetworkDefaults): void {
  if (defaults.driver === "bridge" && defaults.encryptInternal) {
    throw new ValidationError(`setNetworkDefaults ${scope.node.path}`, [
      "encryptInternal needs the overlay driver (bridges never leave the host)",
    ]);
  }
  if (defaults.pool !== undefined) {
    // Overlays take their subnets from the swarm's own pool (docker swarm init --default-addr-pool).
    if (defaults.driver !== "bridge")
      throw new ValidationError(`setNetworkDefaults ${scope.node.path}`, ["pool: applies to bridge networks only; remove it"]);
    const problem = networkPoolProblem(defaults.pool);
    if (problem) throw new ValidationError(`setNetworkDefaults ${scope.node.path}`, [`pool: ${problem}`]);
    POOLS.set(defaults, { names: [] });
  }
  DEFAULTS.set(scope, defaults);
}

/** The pinned subnet of network `name`, once every network of the pool is known (at synthesis). */
function pinnedSubnet(defaults: NetworkDefaults, name: string): PinnedSubnet {
  const state = POOLS.get(defaults)!;
  state.plan ??= allocateSubnets(defaults.pool!, state.names);
  const pinned = state.plan.get(name);
  if (!pinned) throw new Error(`network ${name} was added after its pool's subnets were allocated`);
  return pinned;
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
      throw new ValidationError(`PlatformNetwork ${this.node.path}`, [
        `purpose "${props.purpose}" must be lowercase letters, digits and dashes`,
      ]);
    }
    const defaults = defaultsFor(this);
    this.internal = props.internal ?? true;
    this.purpose = props.purpose;
    this.driver = defaults.driver;
    this.encrypted = this.driver === "overlay" && (defaults.encryptInternal ?? false) && this.internal;
    const overlay = this.driver === "overlay";
    const name = `${props.environment}-${props.purpose}`;
    const pool = POOLS.get(defaults);
    if (pool) {
      pool.names.push(name);
      const capacity = poolCapacity(defaults.pool!);
      if (new Set(pool.names).size > capacity)
        throw new ValidationError(`PlatformNetwork ${this.node.path}`, [
          `runtime.networkPool: "${defaults.pool}" holds ${capacity} /24 networks and this stack needs more; use a larger range (a /16 holds 256)`,
        ]);
    }
    this.resource = new Network(this, "network", {
      name,
      driver: this.driver,
      internal: this.internal,
      // Plain containers (data tier, edge, one-shot jobs) join the overlays the services use.
      attachable: overlay ? true : undefined,
      options: this.encrypted ? { encrypted: "" } : undefined,
      // Lazy: a network's slot depends on every network's name, known only once the stack is built.
      ipamConfig: pool
        ? [
            {
              subnet: Lazy.stringValue({ produce: () => pinnedSubnet(defaults, name).subnet }),
              gateway: Lazy.stringValue({ produce: () => pinnedSubnet(defaults, name).gateway }),
            },
          ]
        : undefined,
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
