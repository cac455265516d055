import { block } from "../json";
import type { PolicyRule } from "../types";
import { onWorkload, valueAt, WORKLOADS } from "./helpers";

export const defaultRuntime: PolicyRule = {
  id: "default-runtime",
  level: "error",
  title: "The engine's default runtime only",
  why: "another OCI runtime (or a Swarm plugin task) is a different program running the container as root on the host, outside what the other rules check",
  fix: 'remove `runtime` (or set "runc"); on services leave task_spec.runtime unset or "container".',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    const path = w.kind === "container" ? "runtime" : "task_spec.runtime";
    const raw = w.kind === "container" ? w.resource.runtime : block(w.resource.task_spec).runtime;
    const v = valueAt(w.resourceType, path, raw, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted" || v.value === undefined) return [];
    const ok = w.kind === "container" ? ["runc"] : ["container"];
    return ok.includes(String(v.value)) ? [] : [`${w.name} sets ${path} = ${JSON.stringify(v.value)}`];
  }),
};
