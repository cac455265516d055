/**
 * Helpers for `npm run bench`'s runtime section (scripts/bench.ts, section 5): resource counts of a
 * synthesized stack, and an environment's config with its app services switched to plain containers.
 */
import { validateEnvironmentConfig } from "../../environments/load";
import type { EnvironmentConfig } from "../../environments/schema";

export interface ResourceCounts {
  readonly containers: number;
  readonly services: number;
  readonly secrets: number;
  readonly configs: number;
  readonly networks: number;
  readonly images: number;
  readonly volumes: number;
  /** Every resource of every type (random_password, ... included). */
  readonly total: number;
}

/** Counts per resource type of a stack's cdk.tf.json. */
export function resourceCounts(json: { resource?: Record<string, Record<string, unknown>> }): ResourceCounts {
  const r = json.resource ?? {};
  const n = (type: string) => Object.keys(r[type] ?? {}).length;
  return {
    containers: n("docker_container"),
    services: n("docker_service"),
    secrets: n("docker_secret"),
    configs: n("docker_config"),
    networks: n("docker_network"),
    images: n("docker_image"),
    volumes: n("docker_volume"),
    total: Object.values(r).reduce((sum, byName) => sum + Object.keys(byName).length, 0),
  };
}

/**
 * The same environment on the container runtime: everything else as configured. Validated again,
 * so a setting the container runtime refuses (a Swarm-only key, more than its replica limit) is
 * reported by the schema rather than synthesized.
 */
export function onContainers(config: EnvironmentConfig): EnvironmentConfig {
  return validateEnvironmentConfig({ ...config, runtime: { kind: "containers" } }, `${config.name} (runtime switched to containers)`);
}
