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
  fix: 'set `memory` (MB) on containers, or task_spec.resources.limits.memory_bytes on services, to a value sized for the service; leave memory_swap equal to memory (never negative: -1, "-1e0" or "-0.5e1" all mean unlimited swap), as a plain number.',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    if (w.kind === "container") {
      const problems = positive(w, ctx, "memory", w.resource.memory, "memory limit", MAX_MEMORY_MB, " MB");
      if (w.resource.memory_swap !== undefined) {
        const swap = valueAt(w.resourceType, "memory_swap", w.resource.memory_swap, ctx, w.name);
        if (swap.kind === "problem") problems.push(swap.problem);
        else if (swap.kind === "value" && swap.value !== null) {
          const n = numberOf(swap.value);
          if (n === undefined)
            problems.push(
              `${w.name} has memory_swap = ${JSON.stringify(swap.value)}, which is no number the policy can read (it might be -1: unlimited swap)`,
            );
          else if (n < 0) problems.push(`${w.name} has memory_swap = ${JSON.stringify(swap.value)} (${n}: unlimited swap)`);
        }
      }
      return problems;
    }
    const limits = block(block(block(w.resource.task_spec).resources).limits);
    return positive(w, ctx, "task_spec.resources.limits.memory_bytes", limits.memory_bytes, "memory limit", MAX_MEMORY_MB * MIB, " bytes");
  }),
};
