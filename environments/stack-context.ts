import { TerraformVariable } from "cdktf";
import type { Construct } from "constructs";
import { ValidationError } from "../constructs/contract";
import { PlatformNetwork } from "../constructs/kit";
import type { BackupOffsiteProps } from "../constructs/kit/scheduled-backup";
import type { StoreBackupProps } from "../constructs/kit/store-backup";
import { publicUrlFor } from "./prod";
import type { EnvironmentConfig } from "./schema";

type StoreBackupConfig = EnvironmentConfig["backups"]["redis"];

/** A store backup's shared props from its config section: schedule, retention, the off-host copy and protection. */
export function storeBackupSettings(ctx: StackContext, store: string, cfg: StoreBackupConfig): StoreBackupProps {
  return {
    environment: ctx.env,
    ...(cfg.everyMinutes !== undefined && cfg.at !== undefined ? { schedule: { everyMinutes: cfg.everyMinutes, at: cfg.at } } : {}),
    ...(cfg.keep !== undefined ? { keep: cfg.keep } : {}),
    offsite: ctx.backupOffsite(store),
    protectData: ctx.config.protectData,
  };
}

/**
 * What the parts of one environment's stack share: the scope they build into, the config, the
 * networks by purpose and the sensitive Terraform variables, each created once.
 *
 * Networks are pairs wherever a pair is what talks: Docker networks cannot say who may call whom,
 * only who shares one. The edge gets one internal network per routed service; a called service one
 * per caller; each service that needs the internet its own egress network. So no service reaches a
 * neighbour it does not use, and nothing reaches an admin surface except through the edge.
 */
export class StackContext {
  private readonly networks = new Map<string, PlatformNetwork>();
  private readonly networkOwners = new Map<string, string>();
  private readonly variables = new Map<string, string>();

  constructor(
    readonly scope: Construct,
    readonly config: EnvironmentConfig,
  ) {}

  get env(): EnvironmentConfig["name"] {
    return this.config.name;
  }

  /**
   * The network for a purpose (`edge-api`, `egress-grafana`, ...), created on first use. `owner`
   * says what it is for: a second request for the same purpose with another owner is refused, since
   * names joined with "-" can meet (`a` called by `b-c` and `a-b` called by `c` both give `a-b-c`)
   * and sharing the network would let services reach each other that never declared it.
   */
  network(purpose: string, internal = true, owner = purpose): PlatformNetwork {
    const known = this.networks.get(purpose);
    if (known) {
      const knownOwner = this.networkOwners.get(purpose)!;
      if (knownOwner !== owner)
        throw new ValidationError(`EnvironmentStack ${this.env}`, [
          `network "${purpose}" would serve both ${knownOwner} and ${owner} (their names joined with "-" meet); rename one of the services`,
        ]);
      return known;
    }
    const created = new PlatformNetwork(this.scope, `${purpose}-network`, { environment: this.env, purpose, internal });
    this.networks.set(purpose, created);
    this.networkOwners.set(purpose, owner);
    return created;
  }

  /** The internal network a routed service shares with the edge only. */
  routeNetwork(service: string): PlatformNetwork {
    return this.network(`edge-${service}`);
  }

  /** A service's own network to the internet. */
  egressNetwork(service: string): PlatformNetwork {
    return this.network(`egress-${service}`, false);
  }

  /** A sensitive string variable (a workspace variable in Terraform Cloud, TF_VAR_<name> locally), declared once. */
  sensitiveVariable(name: string, description: string, fallback?: string): string {
    const known = this.variables.get(name);
    if (known !== undefined) return known;
    const value = new TerraformVariable(this.scope, name, {
      type: "string",
      sensitive: true,
      nullable: false,
      description,
      default: fallback,
    }).stringValue;
    this.variables.set(name, value);
    return value;
  }

  /**
   * The off-host copy of one store's backups, when postgres.offsite is set: the same bucket,
   * endpoint and keys (one pair of sensitive variables), its own egress network. Postgres keeps its
   * configured prefix; every other store copies under the default <env>/<store>.
   */
  backupOffsite(store: string): BackupOffsiteProps | undefined {
    const cfg = this.config.postgres.offsite;
    if (!cfg) return undefined;
    const { prefix, ...shared } = cfg;
    return {
      ...shared,
      ...(store === "postgres" && prefix !== undefined ? { prefix } : {}),
      network: this.egressNetwork(`${store}-offsite`),
      accessKeyId: this.sensitiveVariable(
        "offsite_access_key_id",
        "Access key id for the off-host backup bucket. Set TF_VAR_offsite_access_key_id or the workspace variable.",
      ),
      secretAccessKey: this.sensitiveVariable(
        "offsite_secret_access_key",
        "Secret key for the off-host backup bucket. Set TF_VAR_offsite_secret_access_key or the workspace variable.",
      ),
    };
  }

  /** Public URL of a host on the edge: the HTTPS port appears when it is not 443. */
  publicUrl(host: string): string {
    return publicUrlFor(this.config.edge.httpsPort)(host);
  }
}

/**
 * Refuses two networks with one Docker name (containers join networks by name, so one of them would
 * get the other's members): a service name can meet a platform network's (`volume` called by
 * `usage` gives `volume-usage`, the volume-usage job's network).
 */
export function assertDistinctNetworkNames(scope: Construct, env: string): void {
  const byName = new Map<string, string[]>();
  for (const c of scope.node.findAll()) {
    if (!(c instanceof PlatformNetwork)) continue;
    // PlatformNetwork names its Docker network <environment>-<purpose> (`name` is the resource's reference).
    const name = `${env}-${c.purpose}`;
    byName.set(name, [...(byName.get(name) ?? []), c.node.path]);
  }
  const problems = [...byName]
    .filter(([, paths]) => paths.length > 1)
    .map(
      ([name, paths]) => `network "${name}" is made ${paths.length} times (${paths.join(", ")}); rename the service whose name makes it`,
    );
  if (problems.length > 0) throw new ValidationError(`EnvironmentStack ${env}`, problems);
}
