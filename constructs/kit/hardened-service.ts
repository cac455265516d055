import type { Container } from "@cdktf/provider-docker/lib/container";
import type { Service } from "@cdktf/provider-docker/lib/service";
import type { ITerraformDependable } from "cdktf";
import { Construct, type IConstruct } from "constructs";
import { hasUrlCredentials, isSecretEnvName, PolicySuppressions } from "../contract/index";
import { canonicalDuration } from "./durations";
import type { PlatformNetwork } from "./platform-network";
import { ContainerRuntime } from "./container-runtime";
import { COMPONENTS, RESOURCE_LIMITS, ROOT_USER, SECURE_DEFAULTS, type Component } from "./secure-defaults";
import type { ServiceImage } from "./service-image";
import {
  type BindMount,
  type ConfigDirectory,
  type HealthcheckProps,
  type NetworkAttachment,
  type PublishedPort,
  type SecretFile,
  type ServiceRuntime,
  type ServiceIdentity,
  type ServiceSpec,
  type Upstream,
  type VolumeMount,
} from "./service-spec";
import { problemsOf, ValidationError } from "../contract/errors";
import { LOOPBACK_ADDRESSES } from "../contract/environments";

const DEFAULT_RUNTIME: ServiceRuntime = new ContainerRuntime();

/** Bounds of one workload's process budget: a shell and its child at least; the ulimits-bounded rule caps a uid's sum at 65536. */
const MIN_PROCESSES = 8;
const MAX_PROCESSES = 8192;

export type ResourceLimits = Readonly<Partial<Record<Component, { readonly cpus?: number; readonly processes?: number }>>>;

const LIMITS = new WeakMap<IConstruct, ResourceLimits>();

/**
 * An environment's CPU caps and process budgets per component, for every HardenedService under
 * `scope` that does not set its own (RESOURCE_LIMITS holds the rest).
 */
export function setResourceLimits(scope: IConstruct, limits: ResourceLimits): void {
  const problems: string[] = [];
  for (const [component, l] of Object.entries(limits)) {
    if (!(COMPONENTS as readonly string[]).includes(component))
      problems.push(`${component}: is not a component (${COMPONENTS.join(", ")})`);
    if (l?.cpus !== undefined && !(typeof l.cpus === "number" && l.cpus >= 0.01 && l.cpus <= 64))
      problems.push(`${component}.cpus: ${l.cpus} must be a number of CPUs from 0.01 to 64`);
    if (l?.processes !== undefined && !(Number.isInteger(l.processes) && l.processes >= MIN_PROCESSES && l.processes <= MAX_PROCESSES))
      problems.push(`${component}.processes: ${l.processes} must be a whole number from ${MIN_PROCESSES} to ${MAX_PROCESSES}`);
  }
  if (problems.length > 0) throw new ValidationError(`setResourceLimits ${scope.node.path}`, problems);
  LIMITS.set(scope, limits);
}

function resourceLimitsFor(scope: IConstruct | undefined, component: Component): { cpus: number; processes: number } {
  const base = RESOURCE_LIMITS[component] ?? RESOURCE_LIMITS.job;
  for (const c of scope ? scope.node.scopes.slice().reverse() : []) {
    const l = LIMITS.get(c)?.[component];
    if (l) return { cpus: l.cpus ?? base.cpus, processes: l.processes ?? base.processes };
  }
  return base;
}

/** Secure defaults that a service may weaken, each only with a written reason (its policy rule id). */
export type Relaxation = "read-only-rootfs" | "non-root" | "healthcheck" | "restart-policy";

export interface HardenedServiceProps extends ServiceIdentity {
  /**
   * Containers behind the service's alias; each also answers to <service>-<n>.
   * @default 1
   */
  readonly replicas?: number;
  readonly command?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly workingDir?: string;
  /** Non-secret environment. Names that look secret are rejected: use secrets. @default {} */
  readonly env?: Readonly<Record<string, string>>;
  /** Secret files under /run/secrets. @default [] */
  readonly secrets?: readonly SecretFile[];
  /** Rendered config files, mounted read-only. @default [] */
  readonly configDirs?: readonly ConfigDirectory[];
  /**
   * User (name or uid:gid) the process runs as. Root needs relax["non-root"].
   * @default "65534:65534" (nobody)
   */
  readonly user?: string;
  /**
   * Read-only root filesystem; false needs relax["read-only-rootfs"].
   * @default true
   */
  readonly readOnlyRootfs?: boolean;
  /** Extra tmpfs mounts (path → MiB), merged over the default /tmp. @default {} */
  readonly tmpfs?: Readonly<Record<string, number>>;
  /** Capabilities added back after dropping ALL, each with its reason. @default {} */
  readonly capabilities?: Readonly<Record<string, string>>;
  /** Hard memory limit in MiB (required: no unlimited containers). */
  readonly memoryMb: number;
  /** @default 512 */
  readonly cpuShares?: number;
  /**
   * Hard CPU cap in CPUs: cpu_quota / cpu_period on containers, nano_cpus on Swarm services.
   * @default RESOURCE_LIMITS[component].cpus, or the environment's setResourceLimits
   */
  readonly cpus?: number;
  /**
   * Process budget (threads count) for RLIMIT_NPROC: the container's `ulimit nproc` is the sum of
   * the budgets of the stack's containers running as the same user (a uid's limit is host-wide).
   * @default RESOURCE_LIMITS[component].processes, or the environment's setResourceLimits
   */
  readonly processes?: number;
  /**
   * Swarm rolling updates: "start-first" keeps every replica serving while the new task starts;
   * "stop-first" for a service that must never run twice at once (a bot holding one gateway session).
   * @default "start-first"
   */
  readonly updateOrder?: "start-first" | "stop-first";
  /** /dev/shm size in MiB. @default Docker's 64 */
  readonly shmSizeMb?: number;
  /** Required unless relax.healthcheck says why not (one-shot jobs). */
  readonly healthcheck?: HealthcheckProps;
  /** @default "unless-stopped" ("no" for one-shot jobs, which needs relax["restart-policy"]) */
  readonly restart?: ServiceSpec["restart"];
  /** @default 10 MiB x 3 files */
  readonly log?: { readonly maxSizeMb?: number; readonly maxFiles?: number };
  /**
   * Empty only for a one-shot job that talks through a mounted socket: the container runtime then
   * gives it network_mode "none" (without it, Docker would put it on the default bridge).
   */
  readonly networks: readonly NetworkAttachment[];
  /** @default [] */
  readonly volumes?: readonly VolumeMount[];
  /** Host bind mounts (dev source for hot reload). @default [] */
  readonly binds?: readonly BindMount[];
  /** @default [] */
  readonly ports?: readonly PublishedPort[];
  /** @default {} */
  readonly sysctls?: Readonly<Record<string, string>>;
  /**
   * Run once to completion (migrations): apply waits for it and fails unless it exits 0.
   * @default false
   */
  readonly oneShot?: boolean;
  /** Weakened defaults with the reason for each. @default {} */
  readonly relax?: Readonly<Partial<Record<Relaxation, string>>>;
  /** Resources that must exist first (e.g. a migration job). @default [] */
  readonly dependsOn?: readonly ITerraformDependable[];
  /**
   * apply waits until each container is healthy (needs a healthcheck).
   * @default true when a healthcheck is set
   */
  readonly waitHealthy?: boolean;
  /** @default 180 */
  readonly waitTimeoutSeconds?: number;
  /**
   * Turns the spec into resources.
   * @default ContainerRuntime (docker_container on one host)
   */
  readonly runtime?: ServiceRuntime;
}

const SERVICE_NAME = /^[a-z][a-z0-9-]{0,40}$/;
const SECRET_FILE = /^[a-z][a-z0-9_]{0,62}$/;
/** Environment variable names: UPPER_SNAKE_CASE (the config schema uses the same rule). */
export const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;
const CAPABILITY = /^[A-Z][A-Z_]+$/;
const USER = /^(?:[a-z_][a-z0-9_-]{0,31}|\d{1,10})(?::(?:[a-z_][a-z0-9_-]{0,31}|\d{1,10}))?$/;
const LOOPBACK: ReadonlySet<string> = new Set(LOOPBACK_ADDRESSES);

/**
 * Every container of the platform goes through here: image by ID, secure defaults, limits,
 * healthcheck, log rotation, labels, networks with aliases, volumes, and secrets and config files
 * delivered as files (see ContainerRuntime for the seed volumes). It validates its props, says how
 * to fix them, and hands the resolved spec to a runtime.
 */
export class HardenedService extends Construct {
  readonly spec: ServiceSpec;
  /** The running containers, one per replica. */
  readonly containers: readonly Container[];
  /** The never-started container that takes the uploads, when there are secrets or files. */
  readonly seed?: Container;
  /** The one-shot job that gives the secret files to the service's user (container runtime). */
  readonly secretsOwner?: Container;
  /** The Swarm service, on the Swarm runtime. */
  readonly swarmService?: Service;
  /** What dependants wait for (the containers, or the Swarm service). */
  readonly ready: readonly ITerraformDependable[];
  readonly runtime: ServiceRuntime;

  constructor(scope: Construct, id: string, props: HardenedServiceProps) {
    super(scope, id);
    this.spec = resolveSpec(this.node.path, props, this);
    this.applyRelaxations(props);
    this.runtime = props.runtime ?? DEFAULT_RUNTIME;
    const deployed = this.runtime.deploy(this, this.spec);
    this.containers = deployed.containers;
    this.seed = deployed.seed;
    this.secretsOwner = deployed.secretsOwner;
    this.swarmService = deployed.service;
    this.ready = deployed.ready;
  }

  /** How a load balancer reaches the replicas on the given port (for the edge proxy). */
  upstream(port: number): Upstream {
    return this.runtime.upstream(this.spec, port);
  }

  private applyRelaxations(props: HardenedServiceProps): void {
    for (const [rule, reason] of Object.entries(props.relax ?? {})) {
      // Limited to the image the reason was written for: a construct changed to run another image loses it.
      if (reason !== undefined) PolicySuppressions.addResourceSuppressions(this, [{ id: rule, reason, image: this.spec.image.ref }]);
    }
  }
}

/** Applies the defaults and validates; every problem names the prop and the fix. */
export function resolveSpec(path: string, props: HardenedServiceProps, scope?: IConstruct): ServiceSpec {
  const problems: string[] = [];
  const fail = (key: string, message: string) => problems.push(`${key}: ${message}`);
  const relax = props.relax ?? {};

  if (!SERVICE_NAME.test(props.service))
    fail("service", `"${props.service}" must be lowercase letters, digits and dashes, starting with a letter`);
  if (!/^[a-z][a-z0-9]*$/.test(props.environment)) fail("environment", `"${props.environment}" must be lowercase letters and digits`);
  const replicas = props.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1) fail("replicas", `${replicas} must be a whole number ≥ 1`);
  if (props.oneShot && replicas !== 1) fail("replicas", "a one-shot job runs exactly once; set replicas to 1");
  if (!Number.isInteger(props.memoryMb) || props.memoryMb < 16) fail("memoryMb", `${props.memoryMb} must be a whole number of MiB ≥ 16`);
  const cpuShares = props.cpuShares ?? SECURE_DEFAULTS.cpuShares;
  if (!Number.isInteger(cpuShares) || cpuShares < 2) fail("cpuShares", `${cpuShares} must be a whole number ≥ 2`);
  const limits = resourceLimitsFor(scope, props.component);
  const cpus = props.cpus ?? limits.cpus;
  if (!(typeof cpus === "number" && cpus >= 0.01 && cpus <= 64)) fail("cpus", `${cpus} must be a number of CPUs from 0.01 to 64`);
  const processes = props.processes ?? limits.processes;
  if (!(Number.isInteger(processes) && processes >= MIN_PROCESSES && processes <= MAX_PROCESSES))
    fail("processes", `${processes} must be a whole number of processes from ${MIN_PROCESSES} to ${MAX_PROCESSES}`);
  const updateOrder = props.updateOrder ?? "start-first";
  if (updateOrder !== "start-first" && updateOrder !== "stop-first")
    fail("updateOrder", `"${String(updateOrder)}" must be "start-first" or "stop-first"`);

  for (const [key, reason] of Object.entries(relax)) {
    if (!["read-only-rootfs", "non-root", "healthcheck", "restart-policy"].includes(key))
      fail(`relax.${key}`, "is not a relaxable default (read-only-rootfs, non-root, healthcheck, restart-policy)");
    if (typeof reason !== "string" || reason.trim().length < 10) fail(`relax.${key}`, "needs a written reason of at least 10 characters");
  }

  const user = props.user ?? SECURE_DEFAULTS.user;
  // It becomes an argument of chown and of the engine's user field: a name or a numeric id, never an option.
  if (!USER.test(user))
    fail("user", `${JSON.stringify(user)} must be a user name or uid, optionally with ":group" or ":gid" (e.g. "postgres", "1000:1000")`);
  if (props.secretsOwnerImage && !/^\d+(:\d+)?$/.test(user))
    fail(
      "secretsOwnerImage",
      `needs a numeric user (uid[:gid]); ${JSON.stringify(user)} is a name that only the service's own image resolves`,
    );
  if (ROOT_USER.test(user) && !relax["non-root"])
    fail("user", `"${user}" is root; run as the image's unprivileged user, or state why in relax["non-root"]`);
  const readOnlyRootfs = props.readOnlyRootfs ?? SECURE_DEFAULTS.readOnlyRootfs;
  if (!readOnlyRootfs && !relax["read-only-rootfs"])
    fail("readOnlyRootfs", 'false weakens isolation; mount tmpfs/volumes for writable paths, or state why in relax["read-only-rootfs"]');

  const env = props.env ?? {};
  for (const [name, value] of Object.entries(env)) {
    if (!ENV_NAME.test(name)) fail(`env.${name}`, "must be UPPER_SNAKE_CASE");
    if (isSecretEnvName(name)) fail(`env.${name}`, "looks like a secret; pass it in secrets (delivered as a file) instead");
    if (hasUrlCredentials(value)) fail(`env.${name}`, "contains credentials in a URL; pass the URL in secrets instead");
  }

  const secrets = props.secrets ?? [];
  const secretNames = new Set<string>();
  for (const s of secrets) {
    if (!SECRET_FILE.test(s.name)) fail(`secrets.${s.name}`, "file name must be lowercase letters, digits and underscores");
    if (secretNames.has(s.name)) fail(`secrets.${s.name}`, "is declared twice");
    secretNames.add(s.name);
    if (s.envVar !== undefined && (!ENV_NAME.test(s.envVar) || !s.envVar.endsWith("_FILE")))
      fail(`secrets.${s.name}.envVar`, `"${s.envVar}" must be UPPER_SNAKE_CASE ending in _FILE (it carries a path, not the secret)`);
    if (s.envVar !== undefined && s.envVar in env) fail(`secrets.${s.name}.envVar`, `${s.envVar} is also set in env; keep one`);
  }

  const mountPaths = new Set<string>(secrets.length > 0 ? [SECURE_DEFAULTS.secretsDir] : []);
  const claim = (key: string, p: string) => {
    if (!p.startsWith("/")) fail(key, `"${p}" must be an absolute container path`);
    if (mountPaths.has(p)) fail(key, `"${p}" is mounted twice`);
    mountPaths.add(p);
  };
  (props.configDirs ?? []).forEach((dir, i) => {
    claim(`configDirs.${i}.path`, dir.path);
    if (dir.files.length === 0) fail(`configDirs.${i}.files`, "is empty; drop the directory");
    const names = new Set<string>();
    for (const f of dir.files) {
      if (!/^[A-Za-z0-9._-]+$/.test(f.name)) fail(`configDirs.${i}.files.${f.name}`, "must be a plain file name");
      if (names.has(f.name)) fail(`configDirs.${i}.files.${f.name}`, "is declared twice");
      names.add(f.name);
    }
  });
  (props.volumes ?? []).forEach((v, i) => claim(`volumes.${i}.containerPath`, v.containerPath));
  (props.binds ?? []).forEach((b, i) => claim(`binds.${i}.containerPath`, b.containerPath));
  const tmpfs = { ...SECURE_DEFAULTS.tmpfs, ...(props.tmpfs ?? {}) };
  for (const [p, mb] of Object.entries(tmpfs)) {
    claim(`tmpfs.${p}`, p);
    if (!Number.isInteger(mb) || mb < 1) fail(`tmpfs.${p}`, `${mb} must be a whole number of MiB ≥ 1`);
  }

  const capAdd: string[] = [];
  for (const [cap, reason] of Object.entries(props.capabilities ?? {})) {
    if (!CAPABILITY.test(cap) || cap.startsWith("CAP_"))
      fail(`capabilities.${cap}`, "write the capability without CAP_, e.g. NET_BIND_SERVICE");
    if (cap === "ALL" || cap === "SYS_ADMIN") fail(`capabilities.${cap}`, "is never granted; find a narrower capability");
    if (!reason || reason.trim().length < 10) fail(`capabilities.${cap}`, "needs a written reason of at least 10 characters");
    capAdd.push(cap);
  }

  let healthcheck: ServiceSpec["healthcheck"];
  if (props.healthcheck) {
    const hc = props.healthcheck;
    if (hc.test.length === 0 || !["CMD", "CMD-SHELL"].includes(hc.test[0]!))
      fail("healthcheck.test", 'must start with "CMD" or "CMD-SHELL"');
    const duration = (key: string, value: string | undefined, fallback: string) => {
      try {
        return canonicalDuration(value ?? fallback);
      } catch (e) {
        for (const problem of problemsOf(e)) fail(`healthcheck.${key}`, problem);
        return fallback;
      }
    };
    healthcheck = {
      test: [...hc.test],
      interval: duration("interval", hc.interval, SECURE_DEFAULTS.healthcheck.interval),
      timeout: duration("timeout", hc.timeout, SECURE_DEFAULTS.healthcheck.timeout),
      retries: hc.retries ?? SECURE_DEFAULTS.healthcheck.retries,
      startPeriod: duration("startPeriod", hc.startPeriod, SECURE_DEFAULTS.healthcheck.startPeriod),
    };
  } else if (!relax.healthcheck) {
    fail("healthcheck", "is required so Docker and apply know the service works; or state why not in relax.healthcheck");
  }
  const restart = props.restart ?? (props.oneShot ? "no" : SECURE_DEFAULTS.restart);
  if (restart === "no" && !relax["restart-policy"])
    fail("restart", '"no" leaves a crashed service down; use unless-stopped, or state why in relax["restart-policy"]');

  const networks = props.networks;
  if (networks.length === 0 && !props.oneShot)
    fail("networks", "attach at least one network (the service is unreachable otherwise); only a one-shot job may have none");
  const seenNetworks = new Set<PlatformNetwork>();
  for (const n of networks) {
    if (seenNetworks.has(n.network)) fail("networks", `network "${n.network.purpose}" is attached twice`);
    seenNetworks.add(n.network);
  }
  const ports = props.ports ?? [];
  for (const p of ports) {
    if (!LOOPBACK.has(p.ip) && p.ip !== "0.0.0.0")
      fail(`ports.${p.internal}.ip`, `"${p.ip}" must be 127.0.0.1 (private) or 0.0.0.0 (public edge)`);
  }
  if (ports.length > 0 && networks.every((n) => n.network.internal)) {
    fail(
      "ports",
      "Docker publishes no ports for a container that is only on internal networks; attach a non-internal network (e.g. egress) or drop the ports",
    );
  }

  const log = {
    maxSizeMb: props.log?.maxSizeMb ?? SECURE_DEFAULTS.logMaxSizeMb,
    maxFiles: props.log?.maxFiles ?? SECURE_DEFAULTS.logMaxFiles,
  };
  if (!Number.isInteger(log.maxSizeMb) || log.maxSizeMb < 1) fail("log.maxSizeMb", "must be a whole number ≥ 1");
  if (!Number.isInteger(log.maxFiles) || log.maxFiles < 1) fail("log.maxFiles", "must be a whole number ≥ 1");

  if (props.waitHealthy && !healthcheck)
    fail("waitHealthy", "needs a healthcheck: apply can only wait for a container that reports health");

  if (problems.length > 0) {
    throw new ValidationError(`HardenedService ${path}`, problems);
  }
  return {
    environment: props.environment,
    service: props.service,
    component: props.component,
    role: props.role,
    image: props.image as ServiceImage,
    secretsOwnerImage: props.secretsOwnerImage,
    replicas,
    command: props.command,
    entrypoint: props.entrypoint,
    workingDir: props.workingDir,
    env: Object.fromEntries(Object.entries(env).sort(([a], [b]) => a.localeCompare(b))),
    secrets,
    configDirs: props.configDirs ?? [],
    user,
    readOnlyRootfs,
    tmpfs,
    capAdd: capAdd.sort(),
    memoryMb: props.memoryMb,
    cpuShares,
    cpus,
    processes,
    shmSizeMb: props.shmSizeMb,
    restart,
    healthcheck,
    log,
    networks,
    volumes: props.volumes ?? [],
    binds: props.binds ?? [],
    ports,
    sysctls: props.sysctls ?? {},
    oneShot: props.oneShot ?? false,
    stopTimeoutSeconds: SECURE_DEFAULTS.stopTimeoutSeconds,
    dependsOn: props.dependsOn ?? [],
    updateOrder,
    waitHealthy: (props.waitHealthy ?? healthcheck !== undefined) && !(props.oneShot ?? false),
    waitTimeoutSeconds: props.waitTimeoutSeconds ?? SECURE_DEFAULTS.waitTimeoutSeconds,
  };
}
