import type { PolicyRule } from "../types";
import { onWorkload } from "./helpers";

export const noCgroupParent: PolicyRule = {
  id: "no-cgroup-parent",
  level: "error",
  title: "Containers stay in the engine's cgroup",
  why: "a cgroup_parent moves the container into another cgroup (another container's, or the root), escaping its own limits and accounting",
  fix: "remove `cgroup_parent`.",
  appliesTo: "docker_container",
  check: onWorkload((w) => {
    const v = w.resource.cgroup_parent;
    return v === undefined || v === "" ? [] : [`${w.name} sets cgroup_parent = ${JSON.stringify(v)}`];
  }),
};
