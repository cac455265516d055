import { goDurationSeconds } from "../normalize";
import type { PolicyRule } from "../types";
import { onWorkload, valueAt } from "./helpers";

export const stopGracePeriod: PolicyRule = {
  id: "stop-grace-period",
  level: "error",
  title: "Swarm services give their tasks a graceful stop",
  why: "an unset stop_grace_period is sent as 0, so every update or rollback kills tasks at once, mid-request",
  fix: 'set task_spec.container_spec.stop_grace_period (e.g. "30s") long enough to drain requests.',
  appliesTo: "docker_service",
  check: onWorkload((w, ctx) => {
    const path = `${w.specPath}stop_grace_period`;
    const v = valueAt(w.resourceType, path, w.spec.stop_grace_period, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted") return [];
    const s = goDurationSeconds(v.value);
    return s !== undefined && s > 0
      ? []
      : [`${w.name} has ${path} = ${v.value === undefined ? "unset (tasks are killed at once)" : JSON.stringify(v.value)}`];
  }),
};
