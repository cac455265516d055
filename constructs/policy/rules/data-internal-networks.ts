import { isExpression, parseRef, resourcesOf } from "../json";
import { boolOf } from "../normalize";
import type { PolicyRule } from "../types";
import { attachments, dynamicBlocks, isData, onWorkload, WORKLOADS } from "./helpers";

export const dataInternalNetworks: PolicyRule = {
  id: "data-internal-networks",
  level: "error",
  title: "Data stores attach only to internal networks",
  why: "a data store on a non-internal network can reach (and be reached from) outside, e.g. to exfiltrate data; what counts as a data store is its image (postgres, redis, rabbitmq ..., from any registry, namespace or mirror: judged by the repository's last path segment) or its data label",
  fix: "attach data containers only to docker_network resources with `internal` = true, never to host/bridge networking.",
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    if (!isData(w, ctx.stackJson)) return [];
    const what = `data ${w.name}`;
    const problems: string[] = dynamicBlocks(w.resource, w.name).filter((p) => p.includes("networks_advanced"));
    const mode = typeof w.resource.network_mode === "string" ? w.resource.network_mode.trim().toLowerCase() : undefined;
    if (mode && ["host", "bridge", "default"].includes(mode)) problems.push(`${what} uses network_mode "${mode}"`);
    else if (mode?.startsWith("container:")) problems.push(`${what} shares the network of ${mode}, which the policy cannot check`);
    const networks = resourcesOf(ctx.stackJson, "docker_network");
    const attached = attachments(w);
    if (attached.length === 0 && mode !== "none" && problems.length === 0) {
      problems.push(`${what} attaches to no declared network (it lands on Docker's default bridge or ingress)`);
    }
    for (const n of attached) {
      const ref = parseRef(n.name);
      let key: string | undefined;
      if (ref && ref.type === "docker_network") key = ref.name;
      else if (typeof n.name === "string" && !isExpression(n.name)) {
        const literal = n.name;
        key = Object.keys(networks).find((k) => networks[k]!.name === literal);
        if (!key) {
          problems.push(`${what} attaches to network "${literal}", which is not declared in this stack`);
          continue;
        }
      } else {
        problems.push(`${what} attaches to network ${String(n.name)}, which cannot be resolved to a docker_network of this stack`);
        continue;
      }
      const net = networks[key];
      if (!net) problems.push(`${what} attaches to docker_network.${key}, which is not in this stack`);
      else if (boolOf(net.internal) !== true)
        problems.push(`${what} attaches to network ${typeof net.name === "string" ? `"${net.name}"` : key}, which is not internal`);
    }
    return problems;
  }),
};
