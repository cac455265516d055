import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { Annotations, CloudBackend, LocalBackend, NamedCloudWorkspace, TerraformOutput, TerraformStack } from "cdktf";
import type { Construct } from "constructs";
import { setNetworkDefaults, setResourceLimits, SwarmRuntime } from "../constructs/kit";
import { applyPolicy, takePolicyRendering } from "../constructs/policy";
import { Apps } from "./apps";
import { DataTier } from "./data-tier";
import { Edge } from "./edge";
import { Observability } from "./observability";
import { RESOURCE_LIMITS_BY_ENVIRONMENT } from "./resource-limits";
import { configWarnings, type EnvironmentConfig } from "./schema";
import { StackContext } from "./stack-context";
import { variableForPath, variableName } from "./variables";

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
    const env = config.name;
    // Values prod refuses (plain-TCP Docker host, an allow-list for everyone, ...) are warnings here.
    for (const [path, message] of configWarnings(config)) {
      const key = variableForPath(env, path);
      Annotations.of(this).addWarning(
        `${path.join(".")}${key ? ` (${variableName(env, key)} or environments/${env}.ts)` : ""}: ${message}`,
      );
    }
    const ctx = new StackContext(this, config);
    // Swarm services get no `auth` block (a change to it replaces the service): provider 3.6.2 passes
    // these credentials with each create and update of a service whose image is on this host.
    const registry = config.registry;
    new DockerProvider(this, "docker", {
      host: config.dockerHost,
      ...(registry
        ? {
            registryAuth: [
              {
                address: registry.host,
                username: ctx.sensitiveVariable(
                  "registry_username",
                  `User that pulls the app images from ${registry.host}. Set TF_VAR_registry_username or the workspace variable.`,
                ),
                password: ctx.sensitiveVariable(
                  "registry_password",
                  `Read-only token (ghcr.io: a PAT with read:packages) for ${registry.host}. Set TF_VAR_registry_password or the workspace variable.`,
                ),
              },
            ],
          }
        : {}),
    });
    new RandomProvider(this, "random");
    const state = config.state;
    // A local state path is relative to cdktf.out/stacks/<stack>/: it lands in <project>/state/, the same on every machine.
    if (state.backend === "local") new LocalBackend(this, { path: `../../../${state.path}` });
    else
      new CloudBackend(this, {
        hostname: state.hostname,
        organization: state.organization,
        workspaces: new NamedCloudWorkspace(state.workspace),
      });
    // On Swarm every network is an attachable overlay shared by app tasks on any node and the plain containers on the manager.
    const rt = config.runtime;
    setNetworkDefaults(
      this,
      rt.kind === "swarm" ? { driver: "overlay", encryptInternal: rt.encryptNetworks } : { driver: "bridge", pool: rt.networkPool },
    );
    setResourceLimits(this, RESOURCE_LIMITS_BY_ENVIRONMENT[env]);
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
    this.outputs(ctx);
    if (Object.values(config.services).some((svc) => svc.image.kind === "registry" && /@sha256:0{64}$/.test(svc.image.ref))) {
      Annotations.of(this).addWarning(
        `environments/releases.json still holds placeholder digests (sha256:000...): deploys will fail to pull until the release pipeline writes real ones or UPDATEIO_${env.toUpperCase()}_<SERVICE>_IMAGE is set.`,
      );
    }
    applyPolicy(this, { environment: env });
  }

  private outputs(ctx: StackContext): void {
    const { postgres, redis, rabbitmq } = this.data;
    const { grafana } = this.observability;
    const hosts = this.config.hosts;
    new TerraformOutput(this, "urls", {
      description: "Public URLs served by the edge proxy.",
      value: {
        api: ctx.publicUrl(hosts.api),
        admin: ctx.publicUrl(hosts.admin),
        mini_app: ctx.publicUrl(hosts.miniApp),
        ...(grafana ? { grafana: grafana.rootUrl } : {}),
      },
    });
    // No Grafana (observability.profile "off"): no URL and no password to read.
    if (grafana)
      new TerraformOutput(this, "grafana_admin_password", {
        description: "Grafana's admin password (user admin; read with `terraform output -raw grafana_admin_password`).",
        sensitive: true,
        value: grafana.adminPasswordSecret.value,
      });
    new TerraformOutput(this, "internal_endpoints", {
      description: "Service discovery names on the internal networks (host:port).",
      value: {
        postgres: `${postgres.host}:${postgres.port}`,
        redis: `${redis.host}:${redis.port}`,
        rabbitmq: `${rabbitmq.host}:${rabbitmq.port}`,
        ...Object.fromEntries(Object.entries(this.config.services).map(([name, svc]) => [name, `${name}:${svc.port}`])),
      },
    });
    new TerraformOutput(this, "database_app_url", {
      description: "Connection URL of the app role (for operators; read with `terraform output -raw`).",
      sensitive: true,
      value: postgres.databaseUrl("app"),
    });
    const dump = this.apps.preMigrationDump;
    if (dump)
      new TerraformOutput(this, "pre_migration_dump", {
        description:
          'The dump taken right before this release\'s migrations, and how to undo them with it (docs/runbooks/postgres-restore.md, "Undo a migration with the pre-migration dump").',
        value: { file: dump.file, keep: dump.keep, check: dump.commands.check, restore: dump.commands.restore },
      });
    if (this.data.devDatabaseUrl !== undefined)
      new TerraformOutput(this, "dev_database_url", {
        description:
          "Dev only: the schema owner's URL on 127.0.0.1 (postgres.hostPort) for `prisma migrate dev` / `prisma studio` (`DATABASE_URL=$(terraform output -raw dev_database_url)`).",
        sensitive: true,
        value: this.data.devDatabaseUrl,
      });
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
