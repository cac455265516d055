import type { PolicyRule } from "../types";
import { onWorkload, valueAt } from "./helpers";

const NAMESPACE_KEYS = ["network_mode", "pid_mode", "ipc_mode", "userns_mode", "cgroupns_mode", "uts_mode"];

export const noHostNamespaces: PolicyRule = {
  id: "no-host-namespaces",
  level: "error",
  title: "No host or shared network/pid/ipc/userns/cgroup namespaces",
  why: "sharing the host's namespaces removes the isolation the other rules rely on (host network also publishes every port), and joining another container's namespaces exposes its processes, memory and loopback services",
  fix: 'remove `network_mode`/`pid_mode`/`ipc_mode`/`userns_mode`/`cgroupns_mode` = "host" or "container:<name>"; attach to our docker networks instead.',
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    const problems: string[] = [];
    for (const key of NAMESPACE_KEYS) {
      const v = valueAt(w.resourceType, key, w.resource[key], ctx, w.name);
      if (v.kind === "problem") problems.push(v.problem);
      if (v.kind !== "value" || v.value === undefined) continue;
      const mode = String(v.value).trim().toLowerCase();
      if (mode === "host") problems.push(`${w.name} sets ${key} = ${JSON.stringify(v.value)}`);
      else if (mode.startsWith("container:") || mode.startsWith("service:"))
        problems.push(`${w.name} shares the namespace of another container (${key} = ${JSON.stringify(v.value)})`);
    }
    return problems;
  }),
};
