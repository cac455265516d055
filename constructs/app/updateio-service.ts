import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { AppServiceConfig, ImageSource } from "../../environments/schema";
import type { Connectable } from "../kit/connection";
import { HardenedService } from "../kit/hardened-service";
import { projectPath, ServiceImage } from "../kit/service-image";
import type { NetworkAttachment, PublishedPort, SecretFile, ServiceRuntime, Upstream } from "../kit/service-spec";
import { ServiceVolume } from "../kit/service-volume";

export interface ServiceUse {
  readonly target: Connectable;
  /** Which credentials to receive, e.g. "migrations". @default the target's default role */
  readonly role?: string;
}

export interface UpdateioServiceProps {
  readonly environment: string;
  /** DNS name and container name suffix, e.g. "api" or "discord-bot". */
  readonly service: string;
  readonly config: AppServiceConfig;
  /** Backing services; the service joins their networks and receives their settings. @default [] */
  readonly uses?: readonly ServiceUse[];
  /** Further networks (edge for routed services, egress for services that call the internet). @default [] */
  readonly networks?: readonly NetworkAttachment[];
  /** Service-specific secrets (tokens, keys). @default [] */
  readonly secrets?: readonly SecretFile[];
  /** Service-specific settings, merged over the config's env. @default {} */
  readonly env?: Readonly<Record<string, string>>;
  readonly logLevel: string;
  /** Dev debugging: inspector on, verbose errors. @default false */
  readonly debug?: boolean;
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
  /** Override the command (the migration job runs the API image with its migrate command). */
  readonly command?: readonly string[];
  /** Run once to completion instead of serving (the migration job). @default false */
  readonly oneShot?: boolean;
  /** Reuse an image built or pulled by another service (the migration job reuses the API's). */
  readonly image?: ServiceImage;
  /**
   * Where the service runs. One-shot jobs always run as a plain container.
   * @default ContainerRuntime
   */
  readonly runtime?: ServiceRuntime;
  /**
   * Never run two replicas at once, even during an update (a bot that holds a single gateway or
   * polling session): Swarm updates stop the old task first.
   * @default false
   */
  readonly exclusive?: boolean;
}

/** The image of an app service: pulled by reference, or built from local source in dev. */
export function appImage(
  scope: Construct,
  id: string,
  environment: string,
  service: string,
  source: ImageSource,
  pull = true,
): ServiceImage {
  return new ServiceImage(
    scope,
    id,
    source.kind === "registry"
      ? { ref: source.ref, pull }
      : { build: { context: source.context, dockerfile: source.dockerfile, tag: `updateio-${environment}/${service}:dev` } },
  );
}

/** The unprivileged uid:gid of the UpdateIO Node images (the official node images' "node" user). */
const APP_USER = "1000:1000";
const INSPECTOR_PORT = 9229;

/**
 * One UpdateIO application service (API, bots, admin panel, mini app). Service contract, in the
 * README: listens on PORT, answers GET /health with 2xx, reads every *_FILE variable as the file
 * holding that setting, logs JSON to stdout.
 */
export class UpdateioService extends Construct {
  readonly service: HardenedService;
  readonly image: ServiceImage;
  readonly port: number;

  constructor(scope: Construct, id: string, props: UpdateioServiceProps) {
    super(scope, id);
    const cfg = props.config;
    this.port = cfg.port;
    const source = cfg.image;
    const swarm = props.runtime?.kind === "swarm" && !props.oneShot;
    this.image = props.image ?? appImage(this, "image", props.environment, props.service, source, !swarm);

    const connections = (props.uses ?? []).map((u) => u.target.connectionFor(u.role));
    const env: Record<string, string> = {
      SERVICE_NAME: props.service,
      DEPLOY_ENVIRONMENT: props.environment,
      PORT: String(cfg.port),
      LOG_LEVEL: props.logLevel,
      LOG_FORMAT: "json",
      ...Object.fromEntries(
        Object.entries(cfg.features).map(([flag, on]) => [`FEATURE_${flag.replace(/([A-Z])/g, "_$1").toUpperCase()}`, String(on)]),
      ),
      ...Object.assign({}, ...connections.map((c) => c.env)),
      ...cfg.env,
      ...props.env,
    };
    const ports: PublishedPort[] = [];
    const binds = [];
    const volumes = [];
    let command = props.command;
    const dev = source.kind === "build" && !props.oneShot;
    if (dev) {
      // Hot reload: the source folder replaces the image's copy; node_modules stays the image's (a named volume is filled from the image on first use).
      binds.push({ hostPath: projectPath(source.context), containerPath: source.mountPath, readOnly: false });
      const modules = new ServiceVolume(this, "node-modules", {
        environment: props.environment,
        service: props.service,
        purpose: "node-modules",
        ephemeral: true,
      });
      volumes.push({ volume: modules, containerPath: `${source.mountPath}/node_modules` });
      command = command ?? source.devCommand;
    }
    if (props.debug && !props.oneShot) {
      env.DEBUG = "updateio:*";
      if (cfg.debugPorts.includes(INSPECTOR_PORT)) env.NODE_OPTIONS = `--inspect=0.0.0.0:${INSPECTOR_PORT}`;
    }
    if (!props.oneShot) {
      for (const p of cfg.debugPorts) ports.push({ internal: p, external: p, ip: "127.0.0.1" });
    }

    const networks = [...(props.networks ?? [])];
    for (const c of connections) if (!networks.some((n) => n.network === c.network)) networks.push({ network: c.network });
    const secrets = [...connections.flatMap((c) => c.secrets), ...(props.secrets ?? [])];

    this.service = new HardenedService(this, "service", {
      environment: props.environment,
      service: props.service,
      component: props.oneShot ? "job" : "app",
      image: this.image,
      replicas: props.oneShot ? 1 : cfg.replicas,
      user: APP_USER,
      memoryMb: cfg.memoryMb,
      cpuShares: cfg.cpuShares,
      command,
      env,
      secrets,
      // npm and tooling write caches under HOME; keep them off the read-only rootfs.
      tmpfs: { "/home/node": 64 },
      volumes,
      binds,
      ports,
      networks,
      oneShot: props.oneShot,
      healthcheck: props.oneShot
        ? undefined
        : {
            test: [
              "CMD",
              "node",
              "-e",
              `fetch('http://127.0.0.1:${cfg.port}/health').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))`,
            ],
            interval: "15s",
            timeout: "5s",
            retries: 3,
            startPeriod: dev ? "2m0s" : "30s",
          },
      relax: props.oneShot
        ? {
            healthcheck: "one-shot job: success is its exit code, which a Terraform postcondition checks",
            "restart-policy": "one-shot job: a failed migration must stop the apply, not loop",
          }
        : undefined,
      dependsOn: [...connections.flatMap((c) => c.ready), ...(props.dependsOn ?? [])],
      waitTimeoutSeconds: dev ? 300 : 180,
      runtime: props.oneShot ? undefined : props.runtime,
      updateOrder: props.exclusive ? "stop-first" : "start-first",
    });
  }

  /** How the edge reaches this service's replicas. */
  upstream(): Upstream {
    return this.service.upstream(this.port);
  }
}
