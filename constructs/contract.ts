/**
 * Names every layer agrees on: the labels on every resource, the project name, what a workload is
 * for. The kit writes them, the policy pack and the review read them; this module imports nothing.
 */

/** Label keys set on every resource; policy rules and reviews rely on them. */
export const LABELS = {
  project: "io.updateio.project",
  environment: "io.updateio.environment",
  service: "io.updateio.service",
  component: "io.updateio.component",
  role: "io.updateio.role",
  healthcheck: "io.updateio.healthcheck-sha",
  ephemeral: "io.updateio.ephemeral",
} as const;

export const PROJECT = "updateio";

/** What a workload is for; drives policy (e.g. data only on internal networks). */
export const COMPONENTS = ["edge", "app", "data", "job", "seed", "proxy", "observability"] as const;
export type Component = (typeof COMPONENTS)[number];
