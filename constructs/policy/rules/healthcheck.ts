import { blocks } from "../json";
import type { PolicyRule } from "../types";
import { listItems, onWorkload, WORKLOADS } from "./helpers";

export const healthcheck: PolicyRule = {
  id: "healthcheck",
  level: "error",
  title: "Running containers and services have a healthcheck",
  why: "without one Docker reports a hung service as running, `wait = true` cannot work, dependants start against a dead upstream and a Swarm update cannot tell a bad release from a good one",
  fix: 'add `healthcheck.test` (["CMD", ...] or ["CMD-SHELL", ...]) with Go-form durations such as "30s" (task_spec.container_spec.healthcheck on services).',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    if (w.seed) return [];
    const hc = blocks(w.healthcheck.value)[0];
    if (!hc) return [`${w.name} has no healthcheck`];
    const { values, problems } = listItems(w.resourceType, `${w.healthcheck.path}.test`, hc.test, ctx, w.name);
    if (problems.length > 0) return problems;
    if (values.length === 0) return [`${w.name} has a healthcheck with an empty test`];
    const kind = values[0]!.trim().toUpperCase();
    if (kind === "NONE") return [`${w.name} disables the image's healthcheck (test = ["NONE"])`];
    if (values[0] !== "CMD" && values[0] !== "CMD-SHELL")
      return [`${w.name} has a healthcheck test starting with ${JSON.stringify(values[0])} (expected "CMD" or "CMD-SHELL")`];
    if (values.length < 2) return [`${w.name} has a healthcheck ${JSON.stringify(values[0])} without a command`];
    return [];
  }),
};
