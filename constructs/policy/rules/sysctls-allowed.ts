import { isRecord } from "../json";
import type { PolicyRule } from "../types";
import { onWorkload, valueAt, WORKLOADS } from "./helpers";

/** Namespaced sysctls that change only the container's own network stack, harmlessly. */
export const ALLOWED_SYSCTLS = [
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.ping_group_range",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
  "net.ipv4.tcp_syncookies",
  "net.core.somaxconn",
  // The VPN gateway routes between its own interfaces (its network namespace only).
  "net.ipv4.ip_forward",
  "net.ipv4.conf.all.src_valid_mark",
];

export const sysctlsAllowed: PolicyRule = {
  id: "sysctls-allowed",
  level: "error",
  title: "Only allow-listed sysctls",
  why: "kernel parameters set for a container reach beyond it (kernel.*, some net.* affect the host or neighbours, e.g. route_localnet exposes loopback services)",
  fix: `set only ${ALLOWED_SYSCTLS.join(", ")}; anything else needs a suppression with its reason.`,
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    const path = w.kind === "container" ? "sysctls" : `${w.specPath}sysctl`;
    const raw = w.kind === "container" ? w.resource.sysctls : w.spec.sysctl;
    const v = valueAt(w.resourceType, path, raw, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted" || !isRecord(v.value)) return [];
    const problems: string[] = [];
    for (const [key, value] of Object.entries(v.value)) {
      const name = key.trim().toLowerCase().replace(/\//g, ".");
      if (!ALLOWED_SYSCTLS.includes(name)) problems.push(`${w.name} sets sysctl ${JSON.stringify(key)} = ${JSON.stringify(value)}`);
      else {
        const vv = valueAt(w.resourceType, `${path}.${key}`, value, ctx, w.name);
        if (vv.kind === "problem") problems.push(vv.problem);
      }
    }
    return problems;
  }),
};
