/**
 * Names every layer agrees on: the labels on every resource, the project name, what a workload is
 * for, the policy rule ids a construct may suppress, the tests both sides apply to env names and
 * image references, and the shape of the synthesized JSON. The kit writes them, the policy pack and
 * the review read them; this module imports no other layer of the project.
 */

/** Label keys set on every resource; policy rules and reviews rely on them. */
export const LABELS = {
  project: "io.updateio.project",
  environment: "io.updateio.environment",
  service: "io.updateio.service",
  component: "io.updateio.component",
  role: "io.updateio.role",
  healthcheck: "io.updateio.healthcheck-sha",
  /** A container's CPU cap as "<cpu_quota>/<cpu_period>": the provider ignores edits of those two, a label change replaces it. */
  cpuQuota: "io.updateio.cpu-quota",
  ephemeral: "io.updateio.ephemeral",
  /** The migration job's migrations content hash: an edited migration replaces (re-runs) the job. */
  migrationsHash: "io.updateio.migrations-sha",
} as const;

export const PROJECT = "updateio";

/**
 * The highest ulimits a container may set (the policy's ulimits-bounded); the kit caps the nproc
 * it computes at this value too.
 */
export const ULIMIT_BOUNDS: Readonly<Record<string, number>> & { readonly nofile: number; readonly nproc: number } = {
  nofile: 1048576,
  nproc: 65536,
};

/**
 * The role label of a one-shot job that applies a changed file to running servers (PostgreSQL's
 * reload, Redis' ACL LOAD, RabbitMQ's users import): the review reports its re-run as a change in
 * place (no restart), not as a replacement.
 */
export const CONFIG_RELOAD_ROLE = "config-reload";

/**
 * The role label of the one-shot job that gives a service's secret files to its user (container
 * runtime): part of the service's plumbing, like its seed, not a replica or a service of its own.
 */
export const SECRETS_OWNER_ROLE = "secrets-owner";

/**
 * The role label of the read-only Docker socket proxy: with its image, the only workload the
 * policy lets mount the Docker socket.
 */
export const DOCKER_SOCKET_PROXY_ROLE = "docker-socket-proxy";

/** What a workload is for; drives policy (e.g. data only on internal networks). */
export const COMPONENTS = ["edge", "app", "data", "job", "seed", "proxy", "observability"] as const;
export type Component = (typeof COMPONENTS)[number];

export { consoleLines, consoleText } from "./console-text";
export { problemsOf, throwIfProblems, ValidationError } from "./errors";
export { hasUrlCredentials, imageRepository, isPinnedByDigest, isSecretEnvName } from "./patterns";
export {
  MIN_REASON_LENGTH,
  POLICY_RULE_IDS,
  PolicySuppressions,
  SUBJECT_RULES,
  SUPPRESSION_METADATA_TYPE,
  VOLUME_ACCESS,
  type PolicyRuleId,
  type PolicySuppression,
  type RecordedSuppression,
} from "./suppressions";
export type { TerraformBlock, TerraformJson } from "./terraform-json";
