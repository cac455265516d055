import { block, blocks } from "../json";
import type { PolicyRule } from "../types";
import { onWorkload, WORKLOADS } from "./helpers";

export const noExtraHosts: PolicyRule = {
  id: "no-extra-hosts",
  level: "error",
  title: "No /etc/hosts or DNS server overrides",
  why: "an extra hosts entry or another DNS server silently redirects a name (the registry, a webhook, another service) to any address, and host-gateway opens the way to every service listening on the host",
  fix: "remove `host` and `dns` (task_spec.container_spec.hosts and dns_config on services); name services through our docker networks' DNS.",
  appliesTo: WORKLOADS,
  check: onWorkload((w) => {
    const entries = w.kind === "container" ? blocks(w.resource.host) : blocks(w.spec.hosts);
    const problems = entries.map(
      (h) =>
        `${w.name} maps ${JSON.stringify(h.host)} to ${JSON.stringify(h.ip)} in /etc/hosts${String(h.ip).trim() === "host-gateway" ? " (the host itself)" : ""}`,
    );
    const dns = w.kind === "container" ? w.resource.dns : block(w.spec.dns_config).nameservers;
    if (Array.isArray(dns) ? dns.length > 0 : dns !== undefined) problems.push(`${w.name} sets its own DNS servers ${JSON.stringify(dns)}`);
    return problems;
  }),
};
