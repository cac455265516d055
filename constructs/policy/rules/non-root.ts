import { exposesDockerSocket, judgeUser } from "../normalize";
import type { PolicyRule } from "../types";
import { hostBinds } from "../workload";
import { listItems, onWorkload, valueAt, WORKLOADS } from "./helpers";

/**
 * The one group a workload that reaches the Docker socket (root:docker 0660) may run with: nogroup.
 * The docker group's gid differs per host, so any other gid may be it.
 */
const SOCKET_SAFE_GID = "65534";

export const nonRoot: PolicyRule = {
  id: "non-root",
  level: "error",
  title: "Containers and services run as a non-root user without supplementary groups",
  why: "root in the container is root on the host's kernel: any escape or writable mount becomes host root; a name the policy does not know may be uid 0 in the image; and a group opens the host files of that gid to the container, which the policy cannot judge: the docker group's gid (the socket is root:docker 0660) differs per host, so a numeric group such as 113 may be it, and a group name resolves to whatever gid the image's /etc/group gives it",
  fix: `set \`user\` (task_spec.container_spec.user on services) to the image's unprivileged numeric uid:gid (e.g. "999:999", "1000:1000"), and add no supplementary groups (group_add, groups on services); a workload whose binds reach the Docker socket's directory runs with gid ${SOCKET_SAFE_GID} ("65534:65534").`,
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    const problems: string[] = [];
    const v = valueAt(w.resourceType, w.user.path, w.user.value, ctx, w.name);
    if (v.kind === "problem") problems.push(v.problem);
    else if (v.kind === "value") {
      const verdict = judgeUser(v.value);
      if (verdict.kind === "root") problems.push(`${w.name} runs as root (${verdict.why})`);
      else if (verdict.kind === "unknown") problems.push(`${w.name} may run as root: ${verdict.why}`);
      else {
        // A bind of the socket's directory (node-exporter's /) is suppressed on the premise that
        // the container cannot connect(): only nogroup keeps it so on every host.
        const gid = String(v.value).split(":")[1];
        if (gid !== SOCKET_SAFE_GID && hostBinds(w).some((b) => typeof b.hostPath === "string" && exposesDockerSocket(b.hostPath)))
          problems.push(
            `${w.name} binds a directory holding the Docker socket and runs with ${gid === undefined ? "the image's primary group" : `gid ${gid}`} (${w.user.path} = ${JSON.stringify(v.value)}), which may be the docker group on its host: use gid ${SOCKET_SAFE_GID}`,
          );
      }
    }
    const groups = listItems(w.resourceType, w.groups.path, w.groups.value, ctx, w.name);
    problems.push(...groups.problems);
    if (groups.values.length > 0)
      problems.push(
        `${w.name} joins supplementary group(s) ${groups.values.map((g) => JSON.stringify(g)).join(", ")} (${w.groups.path}), any of which may be the docker group or another privileged one on its host`,
      );
    return problems;
  }),
};
