import { TerraformVariable } from "cdktf";
import type { Construct } from "constructs";
import { PlatformNetwork } from "../constructs/kit";
import { publicUrlFor } from "./prod";
import type { EnvironmentConfig } from "./schema";

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
  private readonly variables = new Map<string, string>();

  constructor(
    readonly scope: Construct,
    readonly config: EnvironmentConfig,
  ) {}

  get env(): EnvironmentConfig["name"] {
    return this.config.name;
  }

  /** The network for a purpose (`edge-api`, `egress-grafana`, ...), created on first use. */
  network(purpose: string, internal = true): PlatformNetwork {
    const known = this.networks.get(purpose);
    if (known) return known;
    const created = new PlatformNetwork(this.scope, `${purpose}-network`, { environment: this.env, purpose, internal });
    this.networks.set(purpose, created);
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

  /** Public URL of a host on the edge: the HTTPS port appears when it is not 443. */
  publicUrl(host: string): string {
    return publicUrlFor(this.config.edge.httpsPort)(host);
  }
}
