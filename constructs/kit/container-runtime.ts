import { createHash } from "node:crypto";
import { Container, type ContainerConfig } from "@cdktf/provider-docker/lib/container";
import { Lazy, TerraformStack } from "cdktf";
import type { Construct, IConstruct } from "constructs";
import { PolicySuppressions, SECRETS_OWNER_ROLE } from "../contract/index";
import { LABELS, PROJECT, ROOT_USER, SECURE_DEFAULTS, SEED_CONTAINER_SETTINGS, type Component } from "./secure-defaults";
import { ULIMIT_BOUNDS } from "../contract";
import {
  replicaHost,
  upstreamAddresses,
  type DeployedService,
  type ServiceRuntime,
  type ServiceSpec,
  type Upstream,
  type VolumeMount,
} from "./service-spec";
import { ServiceVolume } from "./service-volume";
import { ValidationError } from "../contract/errors";

/**
 * Runs a ServiceSpec as plain docker_container resources on one Docker host: one container per
 * replica, plus a seed container for secret and config files. SwarmRuntime implements the same
 * interface with docker_service.
 */
export class ContainerRuntime implements ServiceRuntime {
  readonly kind = "containers";

  deploy(scope: Construct, spec: ServiceSpec): DeployedService {
    if (!spec.image.resource)
      throw new ValidationError(`ContainerRuntime ${scope.node.path}`, [
        `image "${spec.image.ref}" was declared with pull: false; a container needs the image pulled onto its host`,
      ]);
    const seedMounts = this.seedVolumes(scope, spec);
    const seed = seedMounts.length > 0 ? this.createSeed(scope, spec, seedMounts) : undefined;
    const secretsMount = spec.secrets.length > 0 ? seedMounts[0] : undefined;
    const secretsOwner = seed && secretsMount ? this.createSecretsOwner(scope, spec, seed, secretsMount) : undefined;
    const containers: Container[] = [];
    for (let i = 1; i <= spec.replicas; i++) containers.push(this.createReplica(scope, spec, i, seedMounts, seed, secretsOwner));
    return { containers, seed, secretsOwner, ready: containers };
  }

  /** Each replica has its own alias, known at synth time, so the edge can health-check each one. */
  upstream(spec: ServiceSpec, port: number): Upstream {
    return { kind: "static", addresses: upstreamAddresses(spec.service, spec.replicas, port) };
  }

  /**
   * Docker refuses uploads into a read-only container, even onto a volume (docs/architecture.md), so a
   * never-started seed container mounts the secret and config volumes and takes the uploads;
   * the hardened containers mount the same volumes read-only.
   */
  private seedVolumes(scope: Construct, spec: ServiceSpec): VolumeMount[] {
    const mounts: VolumeMount[] = [];
    if (spec.secrets.length > 0) {
      const volume = new ServiceVolume(scope, "secrets-volume", {
        environment: spec.environment,
        service: spec.service,
        purpose: "secrets",
        ephemeral: true,
      });
      mounts.push({ volume, containerPath: SECURE_DEFAULTS.secretsDir, readOnly: true });
    }
    spec.configDirs.forEach((dir, i) => {
      const volume = new ServiceVolume(scope, `config-volume-${i}`, {
        environment: spec.environment,
        service: spec.service,
        purpose: `config${i === 0 ? "" : i}`,
        ephemeral: true,
      });
      mounts.push({ volume, containerPath: dir.path, readOnly: true });
    });
    return mounts;
  }

  private createSeed(scope: Construct, spec: ServiceSpec, mounts: VolumeMount[]): Container {
    const uploads = [
      // 0400 root until the secrets owner hands them to the service's user.
      ...spec.secrets.map((s) => ({
        file: `${SECURE_DEFAULTS.secretsDir}/${s.name}`,
        content: escapeTemplateText(s.value),
        executable: false,
        permissions: SECRET_FILE_PERMISSIONS,
      })),
      ...spec.configDirs.flatMap((dir) =>
        dir.files.map((f) => ({
          file: `${dir.path}/${f.name}`,
          content: escapeTemplateText(f.content),
          executable: f.executable ?? false,
        })),
      ),
    ];
    // Its rootfs stays writable (Docker accepts uploads only then): read-only-rootfs exempts a
    // never-started seed by itself, so no suppression, which would also cover it once started.
    return new Container(scope, "seed", {
      name: `${spec.environment}-${spec.service}-seed`,
      image: spec.image.imageId,
      ...SEED_CONTAINER_SETTINGS,
      labels: labelList(spec, "seed"),
      volumes: mounts.map((m) => ({ volumeName: m.volume.name, containerPath: m.containerPath, readOnly: false })),
      upload: uploads,
    });
  }

  /**
   * The provider uploads every file as root (its tar headers carry no owner), so a secret at 0400
   * would be unreadable by the service and at 0644 readable by every uid in the container. This
   * one-shot job gives the secrets volume to the service's user, as Swarm does for its secrets:
   * root with CHOWN only, read-only rootfs, no network, the secrets volume its only mount. It runs
   * again whenever the seed is replaced (the new uploads are root-owned again).
   */
  private createSecretsOwner(scope: Construct, spec: ServiceSpec, seed: Container, secrets: VolumeMount): Container {
    const name = `${spec.environment}-${spec.service}-secrets-owner`;
    const image = spec.secretsOwnerImage ?? spec.image;
    if (!image.resource)
      throw new ValidationError(`ContainerRuntime ${scope.node.path}`, [
        `secretsOwnerImage "${image.ref}" was declared with pull: false; the secrets owner runs on this host and needs it pulled`,
      ]);
    const job = new Container(scope, "secrets-owner", {
      name,
      image: image.imageId,
      entrypoint: ["chown", "-R", spec.user, secrets.containerPath],
      user: "0:0",
      readOnly: true,
      networkMode: "none",
      memory: 16,
      memorySwap: 16,
      capabilities: { drop: [...SECURE_DEFAULTS.capabilityDrop], add: ["CHOWN"] },
      securityOpts: [...SECURE_DEFAULTS.securityOpts],
      ...cpuCap(SECRETS_OWNER_CPUS),
      // Root is exempt from RLIMIT_NPROC: this bounds nothing today, but keeps every started container alike.
      ulimit: [processLimit(scope, "0:0", SECRETS_OWNER_PROCESSES)],
      restart: "no",
      mustRun: false,
      attach: true,
      logs: true,
      logDriver: SECURE_DEFAULTS.logDriver,
      logOpts: { "max-size": "1m", "max-file": "1" },
      labels: labelList({ ...spec, role: SECRETS_OWNER_ROLE }, "job"),
      volumes: [{ volumeName: secrets.volume.name, containerPath: secrets.containerPath, readOnly: false }],
      dependsOn: [seed],
      lifecycle: {
        replaceTriggeredBy: [`${seed.terraformResourceType}.${seed.friendlyUniqueId}`],
        postcondition: [
          {
            condition: "${self.exit_code == 0}",
            errorMessage: `${name} could not give the secret files to ${spec.user}; read its logs with: docker logs ${name}`,
          },
        ],
      },
    });
    PolicySuppressions.addResourceSuppressions(job, [
      {
        id: "non-root",
        reason: "chown needs root with CAP_CHOWN (its only capability); the job has no network and a read-only rootfs and exits at once",
        image: image.ref,
      },
      { id: "restart-policy", reason: "a one-shot job: it runs chown once per upload and must not restart", image: image.ref },
      {
        id: "healthcheck",
        reason: "a one-shot job that exits at once: apply waits for its exit code (a postcondition) instead of a health status",
        image: image.ref,
      },
    ]);
    return job;
  }

  private createReplica(
    scope: Construct,
    spec: ServiceSpec,
    index: number,
    seedMounts: VolumeMount[],
    seed: Container | undefined,
    secretsOwner: Container | undefined,
  ): Container {
    const host = replicaHost(spec.service, spec.replicas, index);
    const hc = spec.healthcheck;
    const wait = spec.waitHealthy;
    const dependencies = [...(seed ? [seed] : []), ...(secretsOwner ? [secretsOwner] : []), ...spec.dependsOn];
    const config: ContainerConfig = {
      name: `${spec.environment}-${host}`,
      image: spec.image.imageId,
      hostname: host,
      command: spec.command ? [...spec.command] : undefined,
      entrypoint: spec.entrypoint ? [...spec.entrypoint] : undefined,
      workingDir: spec.workingDir,
      env: envList(spec),
      user: spec.user,
      readOnly: spec.readOnlyRootfs,
      tmpfs: Object.fromEntries(Object.entries(spec.tmpfs).map(([path, mb]) => [path, `rw,noexec,nosuid,size=${mb}m`])),
      capabilities: { drop: [...SECURE_DEFAULTS.capabilityDrop], add: spec.capAdd.length > 0 ? [...spec.capAdd] : undefined },
      securityOpts: [...SECURE_DEFAULTS.securityOpts],
      privileged: false,
      memory: spec.memoryMb,
      memorySwap: spec.memoryMb,
      // cpu_shares weighs the CPU under contention; the quota caps it even on an idle host.
      cpuShares: spec.cpuShares,
      ...cpuCap(spec.cpus),
      ulimit: [processLimit(scope, spec.user, spec.processes)],
      shmSize: spec.shmSizeMb,
      restart: spec.restart,
      stopTimeout: spec.stopTimeoutSeconds,
      healthcheck: hc
        ? { test: [...hc.test], interval: hc.interval, timeout: hc.timeout, retries: hc.retries, startPeriod: hc.startPeriod }
        : undefined,
      logDriver: SECURE_DEFAULTS.logDriver,
      logOpts: { "max-size": `${spec.log.maxSizeMb}m`, "max-file": String(spec.log.maxFiles) },
      labels: withCpuLabel(labelList(spec, spec.component, hc), spec.cpus),
      // A job with no network (it talks through a mounted socket) must not land on the default bridge.
      networkMode: spec.networks.length === 0 ? "none" : undefined,
      networksAdvanced:
        spec.networks.length === 0
          ? undefined
          : spec.networks.map((n) => ({
              name: n.network.name,
              aliases: uniqueSorted([spec.service, host, ...(n.aliases ?? [])]),
            })),
      volumes: [
        ...seedMounts.map((m) => ({ volumeName: m.volume.name, containerPath: m.containerPath, readOnly: true })),
        ...spec.volumes.map((m) => ({ volumeName: m.volume.name, containerPath: m.containerPath, readOnly: m.readOnly ?? false })),
        ...spec.binds.map((b) => ({ hostPath: b.hostPath, containerPath: b.containerPath, readOnly: b.readOnly ?? true })),
      ],
      // The provider reads ports back sorted: declare them sorted or plans never settle.
      ports: [...spec.ports]
        .sort((a, b) => a.internal - b.internal || (a.protocol ?? "tcp").localeCompare(b.protocol ?? "tcp"))
        .map((p) => ({ internal: p.internal, external: p.external, ip: p.ip, protocol: p.protocol ?? "tcp" })),
      sysctls: Object.keys(spec.sysctls).length > 0 ? { ...spec.sysctls } : undefined,
      mustRun: !spec.oneShot,
      attach: spec.oneShot ? true : undefined,
      logs: spec.oneShot ? true : undefined,
      wait: wait ? true : undefined,
      waitTimeout: wait ? spec.waitTimeoutSeconds : undefined,
      dependsOn: dependencies.length > 0 ? dependencies : undefined,
      lifecycle: {
        // New secrets or config files re-create the seed; the service must restart to read them.
        // A bare address: cdktf 0.21 renders a resource here as "${docker_container.x}", which
        // Terraform refuses in lifecycle blocks (hashicorp/terraform-cdk#3196).
        replaceTriggeredBy: seed ? [`${seed.terraformResourceType}.${seed.friendlyUniqueId}`] : undefined,
        postcondition: spec.oneShot
          ? [
              {
                condition: "${self.exit_code == 0}",
                errorMessage: `${spec.environment}-${host} did not exit 0; read its logs with: docker logs ${spec.environment}-${host}`,
              },
            ]
          : undefined,
      },
    };
    return new Container(scope, spec.replicas === 1 ? "container" : `replica-${index}`, config);
  }
}

/** The secrets owner runs one chown: a small slice of a CPU and a handful of processes are plenty. */
const SECRETS_OWNER_CPUS = 0.25;
const SECRETS_OWNER_PROCESSES = 16;

/**
 * The CPU cap as a CFS quota per period (what `docker run --cpus` sets). Never the provider's `cpus`
 * attribute: it panics provider 3.6.2.
 */
export function cpuCap(cpus: number): { cpuPeriod: number; cpuQuota: number } {
  return { cpuPeriod: SECURE_DEFAULTS.cpuPeriodUs, cpuQuota: Math.round(cpus * SECURE_DEFAULTS.cpuPeriodUs) };
}

/**
 * Provider 3.6.2 neither reads cpu_period/cpu_quota back nor updates them (they are not in its
 * update list and not ForceNew): an edit would be planned as an in-place update that changes
 * nothing on the engine. The label (labels force replacement) makes a new cap replace the container.
 */
function withCpuLabel(labels: { label: string; value: string }[], cpus: number): { label: string; value: string }[] {
  const { cpuPeriod, cpuQuota } = cpuCap(cpus);
  return [...labels, { label: LABELS.cpuQuota, value: `${cpuQuota}/${cpuPeriod}` }].sort((a, b) => a.label.localeCompare(b.label));
}

/** Per stack: the process budgets registered under each pool (processPool). */
const PROCESS_POOLS = new WeakMap<IConstruct, Map<string, number>>();

/** uid 0's pool: every root container gets ROOT_NPROC, whatever it sums to. */
const ROOT_POOL = "uid 0";

/**
 * RLIMIT_NPROC is checked at fork against every task (threads included) of the caller's real uid on
 * the whole host: there are no user namespaces, and uid 0 is exempt. So a per-container value is a
 * per-uid budget shared with every other container (and host process) of that uid. A numeric user
 * is its own pool; a named user ("postgres", "redis", "rabbitmq") resolves inside its image to a uid
 * we cannot see at synth: 999 in the official postgres and redis images. So every named user joins
 * uid 999's pool, with the jobs that run as 999 by number (the off-host backup copies): in a pool of
 * their own they would be refused a fork as soon as the databases ran more processes than the
 * copies' budget. A named user of another uid only gets a larger limit than it needs, and its
 * budget raises 999's: the rabbitmq Alpine image's user is uid 100 (docker-library/rabbitmq,
 * 4.1/alpine/Dockerfile). Splitting it out would change the RabbitMQ nodes' ulimit, which replaces
 * every node in one apply, for a tighter limit only.
 */
export function processPool(user: string): string {
  // Root by name is uid 0 in every image: its pool, not the named users'.
  if (ROOT_USER.test(user)) return ROOT_POOL;
  const uid = user.split(":")[0]!;
  return `uid ${/^\d+$/.test(uid) ? Number(uid) : NAMED_USER_UID}`;
}

/** The uid of the named users of the official postgres and redis images. */
const NAMED_USER_UID = 999;

/**
 * `ulimit nproc` for a container of `user` adding `budget` to its pool: the pool's sum over the
 * stack, resolved at synth when every container has registered, so no container of a uid is
 * refused a fork because another one of the same uid is busy. Rounded up to a power of two: the
 * provider replaces a container whose ulimit changes, so without it one new job of a uid would
 * replace every container of that uid (the Postgres primary among them) on the next apply.
 */
export function processLimit(scope: Construct, user: string, budget: number): { name: string; soft: number; hard: number } {
  const pools = registerProcesses(scope, user, budget);
  const pool = processPool(user);
  if (pool === ROOT_POOL) return { name: "nproc", soft: ROOT_NPROC, hard: ROOT_NPROC };
  const limit = Lazy.numberValue({ produce: () => poolLimit(pools.get(pool)!) });
  return { name: "nproc", soft: limit, hard: limit };
}

/**
 * The `ulimit nproc` of every uid-0 container, whatever root's budgets add up to. The kernel does not
 * apply RLIMIT_NPROC to uid 0 (a root fork loop under nproc 40 runs on: the engine's
 * resource-limits test), so root's value bounds nothing and is written only because process-limit
 * asks every container for one. Held constant, so that a new root job no longer replaces every
 * root container (the edge, cAdvisor, the socket proxy, every secrets owner) when root's sum
 * crosses a power of two. What holds root's processes is a pids cgroup (docs/runbooks/swarm.md).
 * 2048 is what test and prod already had.
 */
export const ROOT_NPROC = 2048;

/**
 * The nproc a pool of `sum` budgeted processes gets: the next power of two (at most twice the sum),
 * and no more than ULIMIT_BOUNDS.nproc (about 128 app containers of one uid reach it; one host
 * runs out of memory long before it runs that many processes).
 */
export function poolLimit(sum: number): number {
  return Math.min(2 ** Math.ceil(Math.log2(Math.max(1, sum))), ULIMIT_BOUNDS.nproc);
}

/**
 * Adds `budget` to the pool of `user` in the scope's stack without a ulimit of its own: Swarm tasks
 * (no ulimits in provider 3.6.2) share the uid's kernel counter with the containers on their node.
 */
export function registerProcesses(scope: Construct, user: string, budget: number): Map<string, number> {
  const stack = stackOf(scope);
  let pools = PROCESS_POOLS.get(stack);
  if (!pools) PROCESS_POOLS.set(stack, (pools = new Map()));
  const pool = processPool(user);
  pools.set(pool, (pools.get(pool) ?? 0) + budget);
  return pools;
}

function stackOf(scope: Construct): IConstruct {
  try {
    return TerraformStack.of(scope);
  } catch {
    return scope.node.root;
  }
}

/** Owner read-only: the secrets owner then gives the files to the service's user. */
export const SECRET_FILE_PERMISSIONS = "0400";

export function labelList(spec: ServiceSpec, component: Component, hc?: ServiceSpec["healthcheck"]): { label: string; value: string }[] {
  const labels: { label: string; value: string }[] = [
    { label: LABELS.project, value: PROJECT },
    { label: LABELS.environment, value: spec.environment },
    { label: LABELS.service, value: spec.service },
    { label: LABELS.component, value: component },
  ];
  if (spec.role) labels.push({ label: LABELS.role, value: spec.role });
  // The provider ignores healthcheck edits (docs/architecture.md); a label change forces the replacement that applies them.
  if (hc) labels.push({ label: LABELS.healthcheck, value: createHash("sha256").update(JSON.stringify(hc)).digest("hex").slice(0, 16) });
  return labels.sort((a, b) => a.label.localeCompare(b.label));
}

/** The spec's environment plus each secret's *_FILE variable, sorted by name. */
export function envMap(spec: ServiceSpec): Record<string, string> {
  const env: Record<string, string> = { ...spec.env };
  for (const secret of spec.secrets) {
    if (secret.envVar) env[secret.envVar] = `${SECURE_DEFAULTS.secretsDir}/${secret.name}`;
  }
  return Object.fromEntries(
    Object.keys(env)
      .sort()
      .map((name) => [name, env[name]!]),
  );
}

function envList(spec: ServiceSpec): string[] {
  return Object.entries(envMap(spec)).map(([name, value]) => `${name}=${value}`);
}

function uniqueSorted(values: string[]): string[] {
  return [...new Set(values)].sort();
}

/**
 * File contents are Terraform template strings: a literal `${` or `%{` (shell parameter expansion
 * in a script, say) would be read as an interpolation or directive, which Terraform rejects at
 * validate. Escape them as `$${` / `%%{`, leaving cdktf's own token markers (`${TfToken[...]}`),
 * which resolve to real references, untouched.
 */
export function escapeTemplateText(text: string): string {
  // Most files hold neither sequence: skip the two regex passes over them (bench: ~0.2 ms per seeded service).
  if (!text.includes("${") && !text.includes("%{")) return text;
  return text.replace(/\$\{(?!TfToken\[)/g, () => "$${").replace(/%\{/g, () => "%%{");
}
