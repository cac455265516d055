import type { Construct } from "constructs";
import type { ServiceConnection } from "../kit/connection";
import { ServiceImage } from "../kit/service-image";

/** An app image pulled from a registry by reference (pinned by digest outside dev). */
export interface AppRegistryImage {
  readonly kind: "registry";
  readonly ref: string;
}

/** An app image built from local source (dev), run with hot reload. */
export interface AppBuildImage {
  readonly kind: "build";
  /** Source directory, relative to the project root (resolved with Terraform's abspath). */
  readonly context: string;
  /** @default "Dockerfile" */
  readonly dockerfile?: string;
  /** Command that runs the service with hot reload, e.g. ["npm", "run", "dev"]. */
  readonly devCommand: readonly string[];
  /** Path of the source inside the container, where the context is bind-mounted. @default "/app" */
  readonly mountPath?: string;
  /** The Dockerfile stage to build (service contract: every app's Dockerfile has a `dev` stage). @default "dev" */
  readonly target?: string;
}

/** The Dockerfile stage dev builds (service contract): every dependency installed, `npm run dev`. The runtime stage is the last one. */
export const DEV_STAGE = "dev";

/** How an app service's image is obtained: pulled by reference, or built from local source in dev. */
export type AppImageSource = AppRegistryImage | AppBuildImage;

/**
 * An UpdateIO app service's own settings. The environment layer's validated config maps onto this
 * (its service entries carry these fields); the constructs never import that layer.
 */
export interface AppServiceSettings {
  readonly image: AppImageSource;
  /** @default 1 */
  readonly replicas?: number;
  /** Memory limit in MiB. */
  readonly memoryMb: number;
  /** @default 512 (the kit's default) */
  readonly cpuShares?: number;
  /** Port the service listens on inside the container (HTTP and GET /health). */
  readonly port: number;
  /** Settings, merged over the backing services' (AMQP_*, DATABASE_*) and under the service's own. @default {} */
  readonly env?: Readonly<Record<string, string>>;
  /** Feature flags by camelCase name; each becomes FEATURE_<UPPER_SNAKE>=true|false. @default {} */
  readonly features?: Readonly<Record<string, boolean>>;
  /** Ports published on 127.0.0.1 for debugging (dev only), e.g. the Node inspector's 9229. @default [] */
  readonly debugPorts?: readonly number[];
}

/** The image of an app service: pulled by reference, or built from local source in dev. */
export function appImage(
  scope: Construct,
  id: string,
  environment: string,
  service: string,
  source: AppImageSource,
  pull = true,
): ServiceImage {
  return new ServiceImage(
    scope,
    id,
    source.kind === "registry"
      ? { ref: source.ref, pull }
      : {
          build: {
            context: source.context,
            dockerfile: source.dockerfile ?? "Dockerfile",
            tag: `updateio-${environment}/${service}:dev`,
            target: source.target ?? DEV_STAGE,
          },
        },
  );
}

/** Checks every app setting; each problem names its key and the fix ([] when valid). */
export function appSettingsProblems(settings: AppServiceSettings, key = "config"): string[] {
  const problems: string[] = [];
  const port = (k: string, p: number) => {
    if (!Number.isInteger(p) || p < 1 || p > 65535) problems.push(`${k}: ${p} must be a port number from 1 to 65535`);
  };
  port(`${key}.port`, settings.port);
  for (const [i, p] of (settings.debugPorts ?? []).entries()) port(`${key}.debugPorts.${i}`, p);
  if (settings.replicas !== undefined && (!Number.isInteger(settings.replicas) || settings.replicas < 1))
    problems.push(`${key}.replicas: ${settings.replicas} must be a whole number ≥ 1 (remove the service instead of 0)`);
  for (const flag of Object.keys(settings.features ?? {}))
    if (!/^[a-z][a-zA-Z0-9]*$/.test(flag)) problems.push(`${key}.features.${flag}: must be camelCase, e.g. newOnboarding`);
  const image = settings.image;
  if (image.kind === "registry" && image.ref.trim() === "") problems.push(`${key}.image.ref: is empty; pass a pinned image reference`);
  if (image.kind === "build" && image.devCommand.length === 0)
    problems.push(`${key}.image.devCommand: is empty; pass the hot-reload command, e.g. ["npm", "run", "dev"]`);
  return problems;
}

/** The environment every app container gets: identity, port, logging, feature flags, then the connections' and the given settings. */
export function appEnvironment(input: {
  readonly service: string;
  readonly environment: string;
  readonly port: number;
  readonly logLevel: string;
  readonly features?: Readonly<Record<string, boolean>>;
  readonly connections: readonly ServiceConnection[];
  readonly env: readonly (Readonly<Record<string, string>> | undefined)[];
}): Record<string, string> {
  return {
    SERVICE_NAME: input.service,
    DEPLOY_ENVIRONMENT: input.environment,
    PORT: String(input.port),
    LOG_LEVEL: input.logLevel,
    LOG_FORMAT: "json",
    ...Object.fromEntries(
      Object.entries(input.features ?? {}).map(([flag, on]) => [`FEATURE_${flag.replace(/([A-Z])/g, "_$1").toUpperCase()}`, String(on)]),
    ),
    ...Object.assign({}, ...input.connections.map((c) => c.env)),
    ...Object.assign({}, ...input.env),
  };
}

/** The uid:gid of the UpdateIO Node images (the official node images' "node" user). */
export const APP_USER = "1000:1000";
/** npm and tooling write caches under HOME; keep them off the read-only rootfs. */
export const APP_TMPFS = { "/home/node": 64 } as const;
