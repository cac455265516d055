import type { PolicyRule } from "../types";
import { onWorkload, rolloutProblems } from "./helpers";

export const updateConfig: PolicyRule = {
  id: "update-config",
  level: "error",
  title: "Swarm services roll out one task at a time and roll back on failure",
  why: "without it Swarm replaces every task at once (parallelism 0), watches nothing (monitor 0) and pauses half-updated on failure, so a bad release takes the service down",
  fix: 'set update_config { parallelism = 1, failure_action = "rollback", monitor = "<longer than the healthcheck needs to fail>", order = "start-first" }.',
  appliesTo: "docker_service",
  check: onWorkload((w, ctx) => rolloutProblems(w, ctx, "update_config")),
};
