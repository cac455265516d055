import type { Component } from "../contract/index";

/** A user that is root: the name, or uid 0 (written with any number of zeros) with or without a group. */
export const ROOT_USER = /^(root|0+)(:|$)/;

/**
 * The secure defaults every container gets, in one place. Constructs never repeat these; they
 * state only what differs, and a weaker setting needs a written reason (see HardenedService).
 */
export const SECURE_DEFAULTS = {
  /** Root filesystem read-only; writable paths are tmpfs or volumes. */
  readOnlyRootfs: true,
  /** Linux capabilities: drop everything, add back only named ones with a reason. */
  capabilityDrop: ["ALL"] as readonly string[],
  securityOpts: ["no-new-privileges:true"] as readonly string[],
  /** Fallback user when an image has no named unprivileged user (nobody:nogroup). */
  user: "65534:65534",
  restart: "unless-stopped",
  /** CPU weight: 1024 is one CPU's fair share under contention. */
  cpuShares: 512,
  /** CFS period of a container's CPU cap (cpu_period), in microseconds: Docker's own for --cpus. */
  cpuPeriodUs: 100000,
  /** Swap equal to memory = no swap on top of the limit. */
  swapEqualsMemory: true,
  /** Every container writes json-file logs rotated at 10 MiB x 3 files (30 MiB per container at most). */
  logDriver: "json-file",
  logMaxSizeMb: 10,
  logMaxFiles: 3,
  /** Writable scratch space on tmpfs, mode 1777 like a normal /tmp. */
  tmpfs: { "/tmp": 64 } as Readonly<Record<string, number>>,
  /** Healthcheck timing, written in Go's canonical duration form (docs/architecture.md: "30s", "1m0s"). */
  healthcheck: { interval: "30s", timeout: "5s", retries: 3, startPeriod: "20s" },
  /** apply waits this long for a container to turn healthy. */
  waitTimeoutSeconds: 180,
  /** Where secret files appear in every container. */
  secretsDir: "/run/secrets",
  /** Seconds Docker waits after SIGTERM before SIGKILL. */
  stopTimeoutSeconds: 30,
} as const;

/**
 * A seed container: never started, it exists only so Docker can copy the provider's uploads into
 * its volumes. No network, the unprivileged user, 16 MiB; swap pinned to memory because the engine
 * otherwise reads back 2x memory as swap and every plan shows a diff. Its rootfs stays writable:
 * Docker accepts uploads only into such a container.
 */
export const SEED_CONTAINER_SETTINGS = {
  start: false,
  mustRun: false,
  networkMode: "none",
  user: SECURE_DEFAULTS.user,
  readOnly: false,
  memory: 16,
  memorySwap: 16,
  capabilities: { drop: [...SECURE_DEFAULTS.capabilityDrop] },
  securityOpts: [...SECURE_DEFAULTS.securityOpts],
  logDriver: SECURE_DEFAULTS.logDriver,
  logOpts: { "max-size": "1m", "max-file": "1" },
};

/**
 * Hard CPU cap (CPUs: cpu_quota / cpu_period on containers, nano_cpus on Swarm services) and process
 * budget (RLIMIT_NPROC, in tasks: threads count) of each kind of workload, unless its construct or
 * its environment (setResourceLimits) says otherwise. The budgets are generous on purpose: Go and
 * Erlang servers start a thread per core, and RLIMIT_NPROC is per uid, not per container, so the
 * kit gives each container the sum of the budgets of every container of the stack that runs as
 * the same user (see ContainerRuntime). Seeds never start.
 */
export const RESOURCE_LIMITS: Readonly<Record<Component, { readonly cpus: number; readonly processes: number }>> = {
  edge: { cpus: 1, processes: 256 },
  app: { cpus: 1, processes: 512 },
  data: { cpus: 1, processes: 512 },
  job: { cpus: 0.5, processes: 128 },
  seed: { cpus: 0.1, processes: 16 },
  proxy: { cpus: 0.5, processes: 128 },
  observability: { cpus: 1, processes: 512 },
};

// The shared names live in the contract module; re-exported for the kit's constructs.
export { COMPONENTS, LABELS, PROJECT, type Component } from "../contract/index";
