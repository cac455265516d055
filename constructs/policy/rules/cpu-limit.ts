import { block } from "../json";
import type { PolicyRule } from "../types";
import { onWorkload, positive } from "./helpers";

const MAX_NANO_CPUS = 64e9;

export const cpuLimit: PolicyRule = {
  id: "cpu-limit",
  level: "error",
  title: "Every Swarm service has a CPU limit",
  why: "a task without a CPU cap can starve every other task on its node, including the edge and the databases on the manager",
  fix: "set task_spec.resources.limits.nano_cpus (1e9 = one CPU) sized for the service.",
  appliesTo: "docker_service",
  check: onWorkload((w, ctx) => {
    const limits = block(block(block(w.resource.task_spec).resources).limits);
    return positive(w, ctx, "task_spec.resources.limits.nano_cpus", limits.nano_cpus, "CPU limit", MAX_NANO_CPUS, " nano CPUs");
  }),
};
