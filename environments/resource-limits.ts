import type { ResourceLimits } from "../constructs/kit";
import type { EnvironmentName } from "../constructs/contract/environments";

/**
 * CPU caps (CPUs) and process budgets per component and environment, over the kit's RESOURCE_LIMITS
 * (constructs/kit/secure-defaults.ts). A process budget is a share of its user's RLIMIT_NPROC: the
 * kit sums the budgets of the containers that run as the same user. Swarm services take the CPU cap
 * (nano_cpus) only; their processes are bounded by the node's daemon.json (docs/runbooks/swarm.md).
 */
export const RESOURCE_LIMITS_BY_ENVIRONMENT: Readonly<Record<EnvironmentName, ResourceLimits>> = {
  // A laptop: the login user is usually uid 1000, the apps' uid, and its browser's threads count
  // against the same RLIMIT_NPROC; the monitoring stack gets half a CPU each.
  dev: { app: { processes: 1024 }, observability: { cpus: 0.5 } },
  // Prod's topology on one machine shared with dev: the defaults.
  test: {},
  // The database, its replica and PgBouncer, and the edge, carry the load: two CPUs each.
  prod: { data: { cpus: 2 }, edge: { cpus: 2 } },
};
