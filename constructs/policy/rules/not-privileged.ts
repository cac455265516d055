import { block } from "../json";
import { boolOf } from "../normalize";
import type { PolicyRule } from "../types";
import { onWorkload, valueAt, WORKLOADS } from "./helpers";

export const notPrivileged: PolicyRule = {
  id: "not-privileged",
  level: "error",
  title: "No privileged containers, no service privileges",
  why: "a privileged container has every capability and every host device: escaping it is trivial and it owns the host; a service's credential_spec/se_linux_context changes who the task is to the host",
  fix: "remove `privileged` (containers) and task_spec.container_spec.privileges (services); add back only the single capability the service needs.",
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    if (w.kind === "service") {
      const priv = w.spec.privileges;
      return priv === undefined || (Array.isArray(priv) && priv.length === 0)
        ? []
        : [`${w.name} sets ${w.specPath}privileges (${Object.keys(block(priv)).join(", ") || "empty"})`];
    }
    const v = valueAt(w.resourceType, "privileged", w.resource.privileged, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted") return [];
    const b = boolOf(v.value);
    if (b === true) return [`${w.name} runs privileged (privileged = ${JSON.stringify(w.resource.privileged)})`];
    if (b === "unknown")
      return [`${w.name} has privileged = ${JSON.stringify(w.resource.privileged)}, which is not a boolean the policy can judge`];
    return [];
  }),
};
