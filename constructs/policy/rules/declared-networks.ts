import { declaredNames, isExpression, parseRef, resourcesOf } from "../json";
import type { PolicyRule } from "../types";
import { attachments, onWorkload, WORKLOADS } from "./helpers";

const BUILTIN_NETWORK_MODES = ["none", "bridge", "default"];

export const declaredNetworks: PolicyRule = {
  id: "declared-networks",
  level: "error",
  title: "Containers and services join only networks declared in this stack",
  why: "a network created outside Terraform (a macvlan on the host's LAN, another project's network) is checked by no rule of this policy, and joining it bypasses the internal networks the design relies on",
  fix: 'attach to docker_network resources of this stack by reference (`${docker_network.<x>.name}` for containers, `.id` for services); leave network_mode unset (or "none").',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    const problems: string[] = [];
    const networks = resourcesOf(ctx.stackJson, "docker_network");
    const names = declaredNames(ctx.stackJson, "docker_network");
    for (const n of attachments(w)) {
      const ref = parseRef(n.name);
      if (ref) {
        if (ref.type !== "docker_network" || !networks[ref.name])
          problems.push(`${w.name} attaches to ${String(n.name)}, which is not a docker_network of this stack (${n.path})`);
      } else if (typeof n.name === "string" && !isExpression(n.name) && !names.has(n.name)) {
        problems.push(`${w.name} attaches to network ${JSON.stringify(n.name)}, which this stack does not declare (${n.path})`);
      }
    }
    if (w.kind === "container" && typeof w.resource.network_mode === "string" && !isExpression(w.resource.network_mode)) {
      const mode = w.resource.network_mode.trim();
      const m = mode.toLowerCase();
      if (!BUILTIN_NETWORK_MODES.includes(m) && m !== "host" && !m.startsWith("container:") && !names.has(mode)) {
        problems.push(`${w.name} sets network_mode ${JSON.stringify(mode)}, a network this stack does not declare`);
      }
    }
    return problems;
  }),
};
