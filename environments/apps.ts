import { appImage, MigrationJob, type ServiceUse, UpdateioService } from "../constructs/app";
import type { CaddyRoute } from "../constructs/edge";
import type { Construct } from "constructs";
import { DevPortForward, GeneratedSecret, ServiceImage, type PlatformNetwork, type ServiceRuntime, type Upstream } from "../constructs/kit";
import { resolve } from "node:path";
import { ValidationError } from "../constructs/contract";
import { DEFAULT_PRE_MIGRATION_KEEP, PreMigrationDump, releaseIdOf } from "../constructs/postgres";
import type { DataTier } from "./data-tier";
import type { BackingService, EnvironmentConfig } from "./schema";
import { secretId } from "./secret-ids";
import type { StackContext } from "./stack-context";

type AppConfig = EnvironmentConfig["services"][string];

/**
 * The app services, one per entry of `config.services`, and the migration job. Not a construct on
 * purpose: a construct level would put every app resource under a new path, so every logical ID
 * (and Terraform address) would change. It builds into the stack it is given.
 */
export class Apps {
  readonly services: Record<string, UpdateioService> = {};
  readonly migrations: MigrationJob;
  /** The dump taken right before the migrations (test and prod by default). */
  readonly preMigrationDump?: PreMigrationDump;
  /** The edge routes the services declared, in declaration order, with the network each needs. */
  readonly routes: { readonly route: CaddyRoute; readonly network: PlatformNetwork }[] = [];
  /** The networks the edge joins to reach the app services (edge.appNetwork "shared": `edge-apps` alone, routed services or not). */
  readonly edgeNetworks: readonly PlatformNetwork[];

  /** `runtime`: where the app services run (@default plain containers). */
  constructor(ctx: StackContext, data: DataTier, runtime?: ServiceRuntime) {
    const { scope: stack, config, env } = ctx;
    const services = config.services;
    const names = Object.keys(services);
    // One network per routed service and the edge (`edge-api`), or one that they all share
    // (`edge-apps`, edge.appNetwork "shared"), which the edge joins before any service is routed.
    const sharedEdgeNet = () => ctx.network("edge-apps", true, 'edge.appNetwork "shared"');
    const routeNet = (svc: string) => (config.edge.appNetwork === "shared" ? sharedEdgeNet() : ctx.routeNetwork(svc));
    const egressFor = (svc: string) => ctx.egressNetwork(svc);
    // Dev: the internal network a service shares with its debug ports' forwarders only.
    const debugNet = (svc: string) => ctx.network(`${svc}-debug`);
    // One network per caller and callee pair (`api-discord-bot`), or one per callee that its
    // callers share (`api-callers`, inbound "shared"), which the callee joins before any caller.
    const shared = (callee: string) => services[callee]!.inbound === "shared";
    const callersNet = (callee: string) => ctx.network(`${callee}-callers`, true, `services.${callee} and its callers (inbound "shared")`);
    const callNet = (callee: string, caller: string) =>
      shared(callee) ? callersNet(callee) : ctx.network(`${callee}-${caller}`, true, `services.${caller} calling services.${callee}`);
    const callers = (callee: string) => names.filter((n) => services[n]!.calls.includes(callee));
    const inbound = (callee: string) =>
      shared(callee) ? [{ network: callersNet(callee) }] : callers(callee).map((caller) => ({ network: callNet(callee, caller) }));
    const targets: Record<Exclude<BackingService, "rabbitmq">, ServiceUse["target"]> = {
      postgres: data.postgres,
      redis: data.redis,
    };

    // Networks first, in the order today's resources were declared: callers, then routes.
    for (const callee of names) inbound(callee);
    for (const name of names) if (services[name]!.routes.length > 0) routeNet(name);
    const sharedEdgeNetwork = config.edge.appNetwork === "shared" ? sharedEdgeNet() : undefined;

    const migrationSvc = config.migrations.service;
    const migrationCfg = services[migrationSvc]!;
    const secretsOf = (name: string, cfg: AppConfig) =>
      cfg.secrets.map((s) => ({
        name: s.name,
        envVar: s.envVar,
        value:
          "generate" in s
            ? new GeneratedSecret(stack, secretId(name, s.name), { length: s.generate.length }).value
            : // Dev runs without real bots: the placeholder only keeps the upload non-empty.
              ctx.sensitiveVariable(
                s.variable.name,
                s.variable.description,
                env === "dev" ? "dev-placeholder-set-TF_VAR_to-connect" : undefined,
              ),
      }));
    const apiImage = appImage(stack, `${migrationSvc}-image`, env, migrationSvc, migrationCfg.image);
    const migrationImage = migrationCfg.image;
    const keepDumps = config.migrations.preMigrationDumps ?? (env === "dev" ? 0 : DEFAULT_PRE_MIGRATION_KEEP);
    if (keepDumps > 0) {
      const release = migrationImage.kind === "registry" ? releaseIdOf(migrationImage.ref) : undefined;
      if (!release)
        throw new ValidationError(`${env}: migrations.preMigrationDumps`, [
          `preMigrationDumps: ${keepDumps} needs the ${migrationSvc} image by digest (name:tag@sha256:<64 hex>): the dump is named after it (fix: pin the image, or set preMigrationDumps: 0)`,
        ]);
      this.preMigrationDump = new PreMigrationDump(stack, "pre-migration-dump", {
        environment: env,
        cluster: data.postgres,
        backup: data.backup,
        release,
        keep: keepDumps,
        budgetMb: config.budgets.postgresBackups,
      });
    }
    this.migrations = new MigrationJob(stack, "migrations", {
      environment: env,
      image: apiImage,
      apiConfig: migrationCfg,
      postgres: data.postgres,
      command: config.migrations.command,
      memoryMb: config.migrations.memoryMb,
      logLevel: config.logLevel,
      // Built from source (dev): the migrations' content re-runs the job, not only a rebuilt image.
      migrationPaths:
        migrationImage.kind === "build" ? config.migrations.paths.map((p) => resolve(PROJECT_ROOT, migrationImage.context, p)) : [],
      dependsOn: this.preMigrationDump?.containers ?? [],
      ...(migrationImage.kind === "build"
        ? { source: { context: migrationImage.context, mountPath: migrationImage.mountPath ?? "/app" } }
        : {}),
    });

    for (const name of names) {
      const cfg = services[name]!;
      const routed = cfg.routes.length > 0;
      const debug = cfg.debugPorts.length > 0;
      // Egress exactly as declared, in every environment: debug ports go out through a DevPortForward.
      const outside = cfg.egress ? [{ network: egressFor(name) }] : [];
      const networks = [
        ...(cfg.egress ? outside : []),
        ...(routed && !cfg.egress ? [{ network: routeNet(name) }] : []),
        ...inbound(name),
        ...cfg.calls.map((callee) => ({ network: callNet(callee, name) })),
        ...(routed && cfg.egress ? [{ network: routeNet(name) }] : []),
        ...(debug ? [{ network: debugNet(name) }] : []),
        // Prometheus alone scrapes the service's /metrics here (Observability joins it; profile full).
        ...(cfg.metrics && config.observability.profile === "full" ? [{ network: ctx.network(`${name}-metrics`) }] : []),
      ];
      const callEnv = Object.fromEntries(
        cfg.calls.map((callee) => [`${envPrefix(callee)}_INTERNAL_URL`, `http://${callee}:${services[callee]!.port}`]),
      );
      const secrets = secretsOf(name, cfg);
      // Its own Redis user (role = its name), added before the service asks for its connection.
      if (cfg.uses.includes("redis")) data.redis.addApp(name);
      const svc = new UpdateioService(stack, name, {
        environment: env,
        logLevel: config.logLevel,
        debug: config.debug,
        runtime,
        service: name,
        config: cfg,
        ...(name === migrationSvc ? { image: apiImage, dependsOn: this.migrations.containers } : {}),
        uses: cfg.uses.filter((u) => u !== "rabbitmq").map((u) => ({ target: targets[u], ...(u === "redis" ? { role: name } : {}) })),
        // Its own broker user, allowed only what its entry says it publishes and consumes.
        connections: cfg.uses.includes("rabbitmq") ? [data.rabbitmq.addApp({ name, ...cfg.messaging })] : [],
        networks,
        secrets,
        exclusive: cfg.exclusive,
        env: callEnv,
      });
      this.services[name] = svc;
      for (const port of cfg.debugPorts)
        new DevPortForward(stack, `${name}-debug-${port}-forward`, {
          environment: env,
          name: `${name}-debug-${port}`,
          image: forwardImage(stack, config),
          target: { host: name, port, network: debugNet(name) },
          hostPort: port,
        });
      for (const r of cfg.routes) {
        this.routes.push({
          network: routeNet(name),
          route: {
            host: r.host,
            ...(r.path ? { path: r.path } : {}),
            ...routeTarget(svc.upstream()),
            healthPath: "/health",
            ...(r.adminOnly ? { adminOnly: true } : {}),
            ...(r.frameAncestors ? { frameAncestors: r.frameAncestors } : {}),
          },
        });
      }
    }
    this.edgeNetworks = sharedEdgeNetwork ? [sharedEdgeNetwork] : [...new Set(this.routes.map((r) => r.network))];
  }
}

const FORWARD_IMAGES = new WeakMap<Construct, ServiceImage>();

/** The one image of every forwarder of dev's 127.0.0.1 ports (the schema requires it wherever a port is forwarded). */
export function forwardImage(scope: Construct, config: EnvironmentConfig): ServiceImage {
  if (config.portForwardImage === undefined)
    throw new Error(`${config.name}: portForwardImage is not set; set it to the pinned socat image`);
  const known = FORWARD_IMAGES.get(scope);
  if (known) return known;
  const image = new ServiceImage(scope, "port-forward-image", { ref: config.portForwardImage });
  FORWARD_IMAGES.set(scope, image);
  return image;
}

/** Build contexts are relative to the project root (this file's parent folder), whatever the cwd. */
const PROJECT_ROOT = resolve(__dirname, "..");

/** `discord-bot` → `DISCORD_BOT`. */
function envPrefix(service: string): string {
  return service.replace(/-/g, "_").toUpperCase();
}

/** An edge route's upstream fields for a service's upstream. */
export function routeTarget(u: Upstream): { upstreams: readonly string[] } | { dnsUpstream: { name: string; port: number } } {
  return u.kind === "static" ? { upstreams: u.addresses } : { dnsUpstream: { name: u.name, port: u.port } };
}
