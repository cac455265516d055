import type { Container } from "@cdktf/provider-docker/lib/container";
import type { Service } from "@cdktf/provider-docker/lib/service";
import type { ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import type { PlatformNetwork } from "./platform-network";
import type { ServiceImage } from "./service-image";
import type { ServiceVolume } from "./service-volume";
import type { Component } from "./secure-defaults";

/** Who a service is and what it runs: the part of HardenedServiceProps that passes into the spec as given. */
export interface ServiceIdentity {
  readonly environment: string;
  /** Logical service name: DNS alias and name suffix, lowercase with dashes (e.g. "discord-bot"). */
  readonly service: string;
  readonly component: Component;
  /** Optional finer role label, e.g. "docker-socket-proxy". */
  readonly role?: string;
  readonly image: ServiceImage;
  /**
   * On the container runtime a one-shot job runs this image's `chown` to give the secret files to
   * `user`. An image without chown (scratch, distroless) must name one that has it, pulled on the
   * same host; `user` must then be numeric, since names resolve in the service's own image only.
   * @default the service's own image
   */
  readonly secretsOwnerImage?: ServiceImage;
}

/**
 * The runtime-neutral description of a service: what runs, with which limits, secrets, files,
 * networks and volumes. The container runtime turns it into docker_container resources today;
 * a Swarm runtime can turn the same spec into a docker_service later without touching the
 * constructs that build it.
 */
export interface ServiceSpec extends ServiceIdentity {
  readonly replicas: number;
  readonly command?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly workingDir?: string;
  /** Non-secret environment, sorted by name. */
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: readonly SecretFile[];
  readonly configDirs: readonly ConfigDirectory[];
  readonly user: string;
  readonly readOnlyRootfs: boolean;
  /** tmpfs mounts: container path → size in MiB. */
  readonly tmpfs: Readonly<Record<string, number>>;
  readonly capAdd: readonly string[];
  readonly memoryMb: number;
  readonly cpuShares: number;
  /** Hard CPU cap in CPUs (containers: cpu_quota / cpu_period; Swarm: resources.limits.nano_cpus). */
  readonly cpus: number;
  /**
   * This workload's share of its user's process budget (RLIMIT_NPROC counts every task of a uid on
   * the host): containers get `ulimit nproc` = the sum over the stack's containers with the same
   * user. Swarm services cannot carry ulimits in provider 3.6.2 (the daemon's default-ulimits do).
   */
  readonly processes: number;
  readonly shmSizeMb?: number;
  readonly restart: "unless-stopped" | "always" | "on-failure" | "no";
  readonly healthcheck?: ResolvedHealthcheck;
  readonly log: { readonly maxSizeMb: number; readonly maxFiles: number };
  readonly networks: readonly NetworkAttachment[];
  readonly volumes: readonly VolumeMount[];
  readonly binds: readonly BindMount[];
  readonly ports: readonly PublishedPort[];
  readonly sysctls: Readonly<Record<string, string>>;
  /** Runs to completion once per apply that replaces it (migrations), instead of running forever. */
  readonly oneShot: boolean;
  readonly stopTimeoutSeconds: number;
  /** Created only after these exist (and, when they wait, are healthy). */
  readonly dependsOn: readonly ITerraformDependable[];
  /** Swarm rolling updates: start the new task before stopping the old one, or the reverse. */
  readonly updateOrder: "start-first" | "stop-first";
  /** apply waits until each replica reports healthy. */
  readonly waitHealthy: boolean;
  readonly waitTimeoutSeconds: number;
}

/** Turns a spec into resources: plain containers (ContainerRuntime) or Swarm services (SwarmRuntime). */
export interface ServiceRuntime {
  readonly kind: "containers" | "swarm";
  deploy(scope: Construct, spec: ServiceSpec): DeployedService;
  /** How the edge reaches the replicas of a deployed service. */
  upstream(spec: ServiceSpec, port: number): Upstream;
}

export interface DeployedService {
  /** One per replica (container runtime); empty for a Swarm service. */
  readonly containers: readonly Container[];
  /** Takes the secret and config uploads, when there are any (container runtime only). */
  readonly seed?: Container;
  /** The one-shot job that gives the secret files to the service's user (container runtime only). */
  readonly secretsOwner?: Container;
  /** The Swarm service (Swarm runtime only). */
  readonly service?: Service;
  /** What a dependant must wait for: the containers, or the service. */
  readonly ready: readonly ITerraformDependable[];
}

/**
 * Where a load balancer finds a service's replicas: fixed names known at synth time (containers,
 * each with its own DNS alias), or a DNS name that lists the healthy tasks (Swarm's tasks.<alias>).
 */
export type Upstream =
  | { readonly kind: "static"; readonly addresses: readonly string[] }
  | { readonly kind: "dns"; readonly name: string; readonly port: number };

/** A secret delivered as the file /run/secrets/<name>; envVar (if any) gets that path. */
export interface SecretFile {
  /** File name: lowercase letters, digits and underscores. */
  readonly name: string;
  /** The secret value (a Terraform token, never a literal). */
  readonly value: string;
  /** e.g. "POSTGRES_PASSWORD_FILE". */
  readonly envVar?: string;
}

/** Files rendered at synth time and mounted read-only at one directory of the container. */
export interface ConfigDirectory {
  /** Absolute directory in the container, e.g. "/etc/caddy". */
  readonly path: string;
  readonly files: readonly ConfigFile[];
}

export interface ConfigFile {
  readonly name: string;
  readonly content: string;
  /** @default false */
  readonly executable?: boolean;
}

export interface HealthcheckProps {
  /** Docker healthcheck test, e.g. ["CMD", "pg_isready", ...] or ["CMD-SHELL", "..."]. */
  readonly test: readonly string[];
  /** @default "30s" */
  readonly interval?: string;
  /** @default "5s" */
  readonly timeout?: string;
  /** @default 3 */
  readonly retries?: number;
  /** @default "20s" */
  readonly startPeriod?: string;
}

export interface ResolvedHealthcheck {
  readonly test: readonly string[];
  readonly interval: string;
  readonly timeout: string;
  readonly retries: number;
  readonly startPeriod: string;
}

export interface NetworkAttachment {
  readonly network: PlatformNetwork;
  /** Extra DNS aliases on this network (the service name and per-replica names are always added). */
  readonly aliases?: readonly string[];
}

export interface VolumeMount {
  readonly volume: ServiceVolume;
  readonly containerPath: string;
  /** @default false */
  readonly readOnly?: boolean;
}

export interface BindMount {
  /** Host path (use projectPath() for paths inside the project, dev only). */
  readonly hostPath: string;
  readonly containerPath: string;
  /** @default true */
  readonly readOnly?: boolean;
}

export interface PublishedPort {
  readonly internal: number;
  readonly external: number;
  /** Host address to bind; 127.0.0.1 unless the port is public. */
  readonly ip: string;
  /** @default "tcp" */
  readonly protocol?: "tcp" | "udp";
}

/** DNS name of replica i (1-based) of a service; a single replica answers to the service name. */
export function replicaHost(service: string, replicas: number, index: number): string {
  return replicas === 1 ? service : `${service}-${index}`;
}

/** Dial addresses of every replica of a service, for load balancers. */
export function upstreamAddresses(service: string, replicas: number, port: number): string[] {
  return Array.from({ length: replicas }, (_, i) => `${replicaHost(service, replicas, i + 1)}:${port}`);
}
