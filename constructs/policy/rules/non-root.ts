import { isPrivilegedGroup, judgeUser } from "../normalize";
import type { PolicyRule } from "../types";
import { listItems, onWorkload, valueAt, WORKLOADS } from "./helpers";

export const nonRoot: PolicyRule = {
  id: "non-root",
  level: "error",
  title: "Containers and services run as a non-root user without privileged groups",
  why: "root in the container is root on the host's kernel: any escape or writable mount becomes host root; a name the policy does not know may be uid 0 in the image, and groups such as root, docker or disk open the same doors",
  fix: 'set `user` (task_spec.container_spec.user on services) to the image\'s unprivileged numeric uid:gid (e.g. "999:999", "1000:1000"), and add no privileged supplementary groups.',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    const problems: string[] = [];
    const v = valueAt(w.resourceType, w.user.path, w.user.value, ctx, w.name);
    if (v.kind === "problem") problems.push(v.problem);
    else if (v.kind === "value") {
      const verdict = judgeUser(v.value);
      if (verdict.kind === "root") problems.push(`${w.name} runs as root (${verdict.why})`);
      else if (verdict.kind === "unknown") problems.push(`${w.name} may run as root: ${verdict.why}`);
    }
    const groups = listItems(w.resourceType, w.groups.path, w.groups.value, ctx, w.name);
    problems.push(...groups.problems);
    const bad = groups.values.filter(isPrivilegedGroup);
    if (bad.length > 0)
      problems.push(`${w.name} joins privileged group(s) ${bad.map((g) => JSON.stringify(g)).join(", ")} (${w.groups.path})`);
    return problems;
  }),
};
