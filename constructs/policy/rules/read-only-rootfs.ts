import { boolOf } from "../normalize";
import type { PolicyRule } from "../types";
import { onWorkload, valueAt, WORKLOADS } from "./helpers";

export const readOnlyRootfs: PolicyRule = {
  id: "read-only-rootfs",
  level: "error",
  title: "Running containers and services have a read-only root filesystem",
  why: "a writable rootfs lets an attacker persist tools and modify binaries, and hides state that is lost on replacement",
  fix: "set `read_only` = true (task_spec.container_spec.read_only on services) and give the service tmpfs/named volumes for the paths it writes; seed containers (start = false) are exempt.",
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    // Seed containers take uploads, which Docker refuses on a read-only rootfs; they never run.
    if (w.seed) return [];
    const v = valueAt(w.resourceType, w.readOnly.path, w.readOnly.value, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted") return [];
    return boolOf(v.value) === true ? [] : [`${w.name} has a writable root filesystem (read_only not true)`];
  }),
};
