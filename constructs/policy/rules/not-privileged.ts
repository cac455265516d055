import { block } from "../json";
import { boolOf, normalizeCapability } from "../normalize";
import type { PolicyRule } from "../types";
import { listItems, onWorkload, valueAt, WORKLOADS } from "./helpers";

/**
 * Capabilities that reach past the container's own namespaces to the host (load a kernel module,
 * mount, read any file by handle, trace or signal across, change the clock, the audit log or the
 * LSMs): a container with one of them is as good as privileged. capabilities-dropped keeps its
 * allow-list and takes a suppression for one capability a workload needs (the VPN's NET_ADMIN);
 * that suppression covers the whole rule, so these are refused here, where it does not reach.
 */
export const HOST_CAPABILITIES = [
  "ALL",
  "SYS_ADMIN",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_PTRACE",
  "SYS_BOOT",
  "SYS_TIME",
  "SYS_RESOURCE",
  "SYS_PACCT",
  "SYS_TTY_CONFIG",
  "DAC_READ_SEARCH",
  "MAC_ADMIN",
  "MAC_OVERRIDE",
  "SYSLOG",
  "BPF",
  "PERFMON",
  "LINUX_IMMUTABLE",
  "AUDIT_CONTROL",
  "AUDIT_READ",
  "WAKE_ALARM",
  "BLOCK_SUSPEND",
  "CHECKPOINT_RESTORE",
];

export const notPrivileged: PolicyRule = {
  id: "not-privileged",
  level: "error",
  title: "No privileged containers, no service privileges, no capabilities that reach the host",
  why: "a privileged container has every capability and every host device: escaping it is trivial and it owns the host; so does one that adds SYS_ADMIN, SYS_MODULE, DAC_READ_SEARCH, SYS_PTRACE or another capability that acts beyond its own namespaces; a service's credential_spec/se_linux_context changes who the task is to the host",
  fix: `remove \`privileged\` (containers) and task_spec.container_spec.privileges (services); never add ${HOST_CAPABILITIES.join(", ")} (capabilities.add, cap_add on services); add back only the single capability the service needs.`,
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    const add = listItems(w.resourceType, w.capAdd.path, w.capAdd.value, ctx, w.name);
    const host = add.values.filter((c) => HOST_CAPABILITIES.includes(normalizeCapability(c)));
    const caps =
      host.length > 0
        ? [
            `${w.name} adds ${host.map((c) => JSON.stringify(c)).join(", ")} (${w.capAdd.path}), which act(s) on the host beyond its namespaces`,
          ]
        : [];
    if (w.kind === "service") {
      const priv = w.spec.privileges;
      return priv === undefined || (Array.isArray(priv) && priv.length === 0)
        ? caps
        : [`${w.name} sets ${w.specPath}privileges (${Object.keys(block(priv)).join(", ") || "empty"})`, ...caps];
    }
    const v = valueAt(w.resourceType, "privileged", w.resource.privileged, ctx, w.name);
    if (v.kind === "problem") return [v.problem, ...caps];
    if (v.kind === "trusted") return caps;
    const b = boolOf(v.value);
    if (b === true) return [`${w.name} runs privileged (privileged = ${JSON.stringify(w.resource.privileged)})`, ...caps];
    if (b === "unknown")
      return [`${w.name} has privileged = ${JSON.stringify(w.resource.privileged)}, which is not a boolean the policy can judge`, ...caps];
    return caps;
  }),
};
