import { block, blocks } from "../json";
import type { PolicyRule } from "../types";
import { onWorkload, WORKLOADS } from "./helpers";

/** True when a DNS setting is written at all (a non-empty list, or any other value). */
const isSet = (v: unknown) => (Array.isArray(v) ? v.length > 0 : v !== undefined && v !== null);

export const noExtraHosts: PolicyRule = {
  id: "no-extra-hosts",
  level: "error",
  title: "No /etc/hosts or DNS overrides",
  why: "an extra hosts entry or another DNS server silently redirects a name (the registry, a webhook, another service) to any address, and host-gateway opens the way to every service listening on the host; a search domain (with ndots raised by a resolver option) sends a short name such as `db` to `db.<that domain>` first, a server of the attacker's choosing",
  fix: "remove `host`, `dns`, `dns_search` and `dns_opts` (task_spec.container_spec.hosts and dns_config with its nameservers, search and options on services); name services through our docker networks' DNS.",
  appliesTo: WORKLOADS,
  check: onWorkload((w) => {
    const entries = w.kind === "container" ? blocks(w.resource.host) : blocks(w.spec.hosts);
    const problems = entries.map(
      (h) =>
        `${w.name} maps ${JSON.stringify(h.host)} to ${JSON.stringify(h.ip)} in /etc/hosts${String(h.ip).trim() === "host-gateway" ? " (the host itself)" : ""}`,
    );
    const dnsConfig = block(w.spec.dns_config);
    // Every resolver setting, not only the servers: search domains and options redirect names too.
    const settings: [string, unknown, string][] =
      w.kind === "container"
        ? [
            ["dns", w.resource.dns, "its own DNS servers"],
            ["dns_search", w.resource.dns_search, "DNS search domains"],
            ["dns_opts", w.resource.dns_opts, "resolver options"],
          ]
        : [
            [`${w.specPath}dns_config.nameservers`, dnsConfig.nameservers, "its own DNS servers"],
            [`${w.specPath}dns_config.search`, dnsConfig.search, "DNS search domains"],
            [`${w.specPath}dns_config.options`, dnsConfig.options, "resolver options"],
          ];
    for (const [path, value, what] of settings)
      if (isSet(value)) problems.push(`${w.name} sets ${what} ${JSON.stringify(value)} (${path}): remove ${path}`);
    return problems;
  }),
};
