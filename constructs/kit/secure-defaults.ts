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
  /** Hard CPU cap per task on Swarm, in CPUs. */
  cpus: 1,
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

// The shared names live in the contract module; re-exported for the kit's constructs.
export { COMPONENTS, LABELS, PROJECT, type Component } from "../contract/index";
