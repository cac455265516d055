import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { Connectable, ServiceConnection } from "../kit/connection";
import { HardenedService } from "../kit/hardened-service";
import { projectPath, type ServiceImage } from "../kit/service-image";
import type { BindMount, NetworkAttachment, SecretFile, ServiceRuntime, Upstream, VolumeMount } from "../kit/service-spec";
import { ServiceVolume } from "../kit/service-volume";
import { APP_TMPFS, APP_USER, appEnvironment, appImage, appSettingsProblems, type AppServiceSettings } from "./app-settings";
import { ValidationError } from "../contract/errors";

/** A backing service to use, by the credentials to receive (its connectionFor(role)). */
export interface ServiceUse {
  readonly target: Connectable;
  /** Which credentials to receive, e.g. "migrations". @default the target's default role */
  readonly role?: string;
}

export interface UpdateioServiceProps {
  readonly environment: string;
  /** DNS name and container name suffix, e.g. "api" or "discord-bot". */
  readonly service: string;
  /** Image, size, port, settings and feature flags of the service. */
  readonly config: AppServiceSettings;
  /** Backing services to ask for a connection (target.connectionFor(role)). @default [] */
  readonly uses?: readonly ServiceUse[];
  /**
   * Connections other constructs returned (e.g. `broker.addApp(...)`), used after `uses`. For
   * every backing service, in order: the service joins its network, receives its settings and
   * secrets, and starts after it is ready.
   * @default []
   */
  readonly connections?: readonly ServiceConnection[];
  /** Further networks (edge for routed services, egress for services that call the internet). @default [] */
  readonly networks?: readonly NetworkAttachment[];
  /** Service-specific secrets (tokens, keys). @default [] */
  readonly secrets?: readonly SecretFile[];
  /** Service-specific settings, merged over the config's env. @default {} */
  readonly env?: Readonly<Record<string, string>>;
  /** LOG_LEVEL of the service. */
  readonly logLevel: string;
  /**
   * Dev debugging: DEBUG=updateio:* and, with 9229 among the debug ports, INSPECT_ADDRESS=0.0.0.0:9229
   * for the dev script to hand to the app process (`tsx watch ${INSPECT_ADDRESS:+--inspect=$INSPECT_ADDRESS} ...`).
   * Debug ports are not published here: a DevPortForward publishes each on 127.0.0.1, so the
   * service keeps its internal networks.
   * @default false
   */
  readonly debug?: boolean;
  /** @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
  /** Override the image's command. @default the image's (in dev: the build's devCommand) */
  readonly command?: readonly string[];
  /** Reuse an image declared elsewhere (the API's, which its MigrationJob runs too). @default appImage(config.image) */
  readonly image?: ServiceImage;
  /** Where the service runs. @default ContainerRuntime */
  readonly runtime?: ServiceRuntime;
  /**
   * Never run two replicas at once, even during an update (a bot that holds a single gateway or
   * polling session): Swarm updates stop the old task first.
   * @default false
   */
  readonly exclusive?: boolean;
}

const INSPECTOR_PORT = 9229;
/** Contract: the dev script passes `--inspect=$INSPECT_ADDRESS` to the app process only (README, "The service contract"). */
export const INSPECT_ADDRESS_ENV = "INSPECT_ADDRESS";

/**
 * One UpdateIO application service (API, bots, admin panel, mini app). Service contract, in the
 * README: listens on PORT, answers GET /health with 2xx, reads every *_FILE variable as the file
 * holding that setting, logs JSON to stdout. One-shot jobs are MigrationJob's.
 */
export class UpdateioService extends Construct {
  readonly service: HardenedService;
  readonly image: ServiceImage;
  readonly port: number;

  constructor(scope: Construct, id: string, props: UpdateioServiceProps) {
    super(scope, id);
    const cfg = props.config;
    const problems = appSettingsProblems(cfg);
    if (!/^[a-z][a-z0-9-]{0,40}$/.test(props.service))
      problems.push(
        `service: "${props.service}" must be lowercase letters, digits and dashes, starting with a letter (e.g. "discord-bot")`,
      );
    if (props.logLevel.trim() === "") problems.push('logLevel: is empty; pass the environment\'s log level, e.g. "info"');
    if (problems.length > 0) throw new ValidationError(`UpdateioService ${this.node.path}`, problems);
    this.port = cfg.port;
    const source = cfg.image;
    const debugPorts = cfg.debugPorts ?? [];
    const swarm = props.runtime?.kind === "swarm";
    this.image = props.image ?? appImage(this, "image", props.environment, props.service, source, !swarm);

    const connections = [...(props.uses ?? []).map((u) => u.target.connectionFor(u.role)), ...(props.connections ?? [])];
    const env = appEnvironment({
      service: props.service,
      environment: props.environment,
      port: cfg.port,
      logLevel: props.logLevel,
      features: cfg.features,
      connections,
      env: [cfg.env, props.env],
    });
    const binds: BindMount[] = [];
    const volumes: VolumeMount[] = [];
    let command = props.command;
    const dev = source.kind === "build";
    if (dev) {
      // Hot reload: the source folder replaces the image's copy; node_modules stays the image's (a named volume is filled from the image on first use).
      const mountPath = source.mountPath ?? "/app";
      binds.push({ hostPath: projectPath(source.context), containerPath: mountPath, readOnly: false });
      const modules = new ServiceVolume(this, "node-modules", {
        environment: props.environment,
        service: props.service,
        purpose: "node-modules",
        ephemeral: true,
      });
      volumes.push({ volume: modules, containerPath: `${mountPath}/node_modules` });
      command = command ?? source.devCommand;
    }
    if (props.debug) {
      env.DEBUG = "updateio:*";
      // Not NODE_OPTIONS: npm and tsx's watcher inherit it and take the port before the app does.
      if (debugPorts.includes(INSPECTOR_PORT)) env[INSPECT_ADDRESS_ENV] = `0.0.0.0:${INSPECTOR_PORT}`;
    }

    const networks = [...(props.networks ?? [])];
    for (const c of connections) if (!networks.some((n) => n.network === c.network)) networks.push({ network: c.network });
    const secrets = [...connections.flatMap((c) => c.secrets), ...(props.secrets ?? [])];

    this.service = new HardenedService(this, "service", {
      environment: props.environment,
      service: props.service,
      component: "app",
      image: this.image,
      replicas: cfg.replicas,
      user: APP_USER,
      memoryMb: cfg.memoryMb,
      cpuShares: cfg.cpuShares,
      command,
      env,
      secrets,
      tmpfs: { ...APP_TMPFS },
      volumes,
      binds,
      networks,
      healthcheck: {
        test: ["CMD", "node", "-e", `fetch('http://127.0.0.1:${cfg.port}/health').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))`],
        interval: "15s",
        timeout: "5s",
        retries: 3,
        startPeriod: dev ? "2m0s" : "30s",
      },
      dependsOn: [...connections.flatMap((c) => c.ready), ...(props.dependsOn ?? [])],
      waitTimeoutSeconds: dev ? 300 : 180,
      runtime: props.runtime,
      updateOrder: props.exclusive ? "stop-first" : "start-first",
    });
  }

  /** How the edge reaches this service's replicas. */
  upstream(): Upstream {
    return this.service.upstream(this.port);
  }
}
