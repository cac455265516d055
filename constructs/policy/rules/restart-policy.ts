import { block, blocks } from "../json";
import type { PolicyRule } from "../types";
import { onWorkload, unreadableNumber, valueAt, WORKLOADS } from "./helpers";

const RESTART_POLICIES = ["unless-stopped", "always", "on-failure"];

const SERVICE_RESTART_CONDITIONS = ["any", "on-failure"];

export const restartPolicy: PolicyRule = {
  id: "restart-policy",
  level: "error",
  title: "Running containers and services restart on failure",
  why: "with Docker's default (no) a crashed service or a host reboot leaves the service down until someone notices, and a service restart policy with fields left out is sent as zeros",
  fix: 'set `restart` to "unless-stopped" (or "always"/"on-failure") on containers, and task_spec.restart_policy with condition ("any"/"on-failure"), delay, max_attempts and window on services; seed containers (start = false) are exempt.',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    if (w.kind === "container") {
      if (w.seed) return [];
      const v = valueAt(w.resourceType, "restart", w.resource.restart, ctx, w.name);
      if (v.kind === "problem") return [v.problem];
      if (v.kind === "trusted") return [];
      if (typeof v.value === "string" && RESTART_POLICIES.includes(v.value)) return [];
      return [`${w.name} has restart = ${v.value === undefined ? "unset (Docker default: no)" : JSON.stringify(v.value)}`];
    }
    const rp = blocks(block(w.resource.task_spec).restart_policy)[0];
    if (!rp) return [`${w.name} has no task_spec.restart_policy`];
    const problems: string[] = [];
    const condition = valueAt(w.resourceType, "task_spec.restart_policy.condition", rp.condition, ctx, w.name);
    if (condition.kind === "problem") problems.push(condition.problem);
    else if (condition.kind === "value" && !SERVICE_RESTART_CONDITIONS.includes(String(condition.value))) {
      problems.push(`${w.name} has restart_policy.condition = ${JSON.stringify(condition.value)} (expected "any" or "on-failure")`);
    }
    for (const key of ["delay", "max_attempts", "window"]) {
      const v = valueAt(w.resourceType, `task_spec.restart_policy.${key}`, rp[key], ctx, w.name);
      if (v.kind === "problem") problems.push(v.problem);
      else if (v.kind === "value" && (v.value === undefined || v.value === ""))
        problems.push(`${w.name} leaves restart_policy.${key} unset (the provider sends it as 0)`);
      else if (v.kind === "value" && key === "max_attempts") {
        const unreadable = unreadableNumber(w.name, "task_spec.restart_policy.max_attempts", v.value);
        if (unreadable) problems.push(unreadable);
      }
    }
    return problems;
  }),
};
