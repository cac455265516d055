import { block } from "../json";
import { numberOf } from "../normalize";
import type { PolicyRule } from "../types";
import { onWorkload, positive, valueAt, WORKLOADS } from "./helpers";

const MIB = 1024 * 1024;

/** Above this a "limit" limits nothing on our hosts. */
const MAX_MEMORY_MB = 64 * 1024;

export const memoryLimit: PolicyRule = {
  id: "memory-limit",
  level: "error",
  title: "Every container and service has a memory limit (and no unlimited swap)",
  why: "without a limit one container can exhaust the host's memory and the kernel OOM killer then picks its victims, possibly the database",
  fix: "set `memory` (MB) on containers, or task_spec.resources.limits.memory_bytes on services, to a value sized for the service; leave memory_swap equal to memory.",
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    if (w.kind === "container") {
      const problems = positive(w, ctx, "memory", w.resource.memory, "memory limit", MAX_MEMORY_MB, " MB");
      if (w.resource.memory_swap !== undefined) {
        const swap = valueAt(w.resourceType, "memory_swap", w.resource.memory_swap, ctx, w.name);
        if (swap.kind === "problem") problems.push(swap.problem);
        else if (swap.kind === "value" && (numberOf(swap.value) ?? 0) < 0)
          problems.push(`${w.name} has memory_swap = ${JSON.stringify(swap.value)} (unlimited swap)`);
      }
      return problems;
    }
    const limits = block(block(block(w.resource.task_spec).resources).limits);
    return positive(w, ctx, "task_spec.resources.limits.memory_bytes", limits.memory_bytes, "memory limit", MAX_MEMORY_MB * MIB, " bytes");
  }),
};
