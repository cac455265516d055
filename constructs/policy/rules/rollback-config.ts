import type { PolicyRule } from "../types";
import { onWorkload, rolloutProblems } from "./helpers";

export const rollbackConfig: PolicyRule = {
  id: "rollback-config",
  level: "error",
  title: "Swarm services say how to roll back",
  why: "without rollback_config a rollback replaces every task at once with the engine's defaults, which is an outage of its own",
  fix: 'set rollback_config { parallelism = 1, monitor = "<same as update_config>", order = "start-first" }.',
  appliesTo: "docker_service",
  check: onWorkload((w, ctx) => rolloutProblems(w, ctx, "rollback_config")),
};
