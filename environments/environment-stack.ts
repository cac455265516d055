import { TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { setNetworkDefaults, setResourceLimits, SwarmRuntime } from "../constructs/kit";
import { applyPolicy, takePolicyRendering } from "../constructs/policy";
import { Apps } from "./apps";
import { DataTier } from "./data-tier";
import { Edge } from "./edge";
import { Observability } from "./observability";
import { addStackOutputs } from "./outputs";
import { RESOURCE_LIMITS_BY_ENVIRONMENT } from "./resource-limits";
import type { EnvironmentConfig } from "./schema";
import { addConfigWarnings, addProvidersAndState, addReleaseWarnings } from "./stack-setup";
import { assertDistinctNetworkNames, StackContext } from "./stack-context";

/**
 * One environment, wired from its validated config: providers and state, then the data tier, the
 * app services, observability and the edge, then the policy pack over all of it.
 */
export class EnvironmentStack extends TerraformStack {
  readonly config: EnvironmentConfig;
  readonly data: DataTier;
  readonly apps: Apps;
  readonly observability: Observability;
  readonly edge: Edge;

  constructor(scope: Construct, id: string, config: EnvironmentConfig) {
    super(scope, id);
    this.config = config;
    const ctx = new StackContext(this, config);
    addConfigWarnings(this, ctx);
    addProvidersAndState(this, ctx);
    // On Swarm every network is an attachable overlay shared by app tasks on any node and the plain containers on the manager.
    const rt = config.runtime;
    setNetworkDefaults(
      this,
      rt.kind === "swarm" ? { driver: "overlay", encryptInternal: rt.encryptNetworks } : { driver: "bridge", pool: rt.networkPool },
    );
    setResourceLimits(this, RESOURCE_LIMITS_BY_ENVIRONMENT[config.name]);
    const runtime =
      rt.kind === "swarm"
        ? new SwarmRuntime({ placementConstraints: rt.placementConstraints, updateDelaySeconds: rt.updateDelaySeconds })
        : undefined;

    this.data = new DataTier(ctx);
    this.apps = new Apps(ctx, this.data, runtime);
    this.observability = new Observability(ctx, this.data, this.apps);
    this.edge = new Edge(ctx, this.data, this.apps, this.observability);
    // Last: it measures every stateful volume, the edge's included.
    this.observability.watchVolumes(ctx, this.data, this.edge);
    // prometheus.yml lists jobs in the order they were registered: the edge, then Grafana (profile full only).
    const { prometheus, grafana } = this.observability;
    if (prometheus && grafana) {
      prometheus.addScrapeTarget(this.edge.proxy);
      prometheus.addScrapeTarget(grafana.scrapeTarget);
    }
    assertDistinctNetworkNames(this, config.name);
    addStackOutputs(this, ctx, this);
    addReleaseWarnings(this, ctx);
    applyPolicy(this, { environment: config.name });
  }

  /**
   * cdktf's prepareStack resolves every element once in "preparing" mode only to find references to
   * other stacks and add outputs and remote state for them. Environments never reference each other
   * (each deploys alone; the policy refuses a reference to a resource this stack does not declare),
   * so that pass renders everything a third time for nothing: about 190 ms of each synth and 2 ms per
   * app service (npm run bench). The backend check stays. __tests__/environments/prepare-stack.integration.test.ts
   * synthesizes with cdktf's own prepareStack too and requires the same output.
   */
  override prepareStack(): void {
    (this as unknown as { ensureBackendExists(): void }).ensureBackendExists();
  }

  /** The policy aspect rendered this stack moments ago in the same synth: reuse it (one render, not two). */
  override toTerraform(): any {
    return takePolicyRendering(this) ?? super.toTerraform();
  }
}
