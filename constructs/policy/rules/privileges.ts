/**
 * Rules about what a workload may do to its host: privileges, capabilities, users, namespaces,
 * security profiles, devices and kernel settings.
 */
import { block, blocks, isRecord } from "../json";
import {
  ALLOWED_CAPABILITIES,
  boolOf,
  dropsAll,
  effectiveNoNewPrivileges,
  isPrivilegedGroup,
  judgeUser,
  normalizeCapability,
  numberOf,
  parseSecurityOpt,
  plain,
} from "../normalize";
import { everywhere, type PolicyRule } from "../types";
import { listItems, valueAt } from "./common";
import { onWorkload, WORKLOADS } from "./runtime";

export const notPrivileged: PolicyRule = {
  id: "not-privileged",
  severity: everywhere("error"),
  title: "No privileged containers, no service privileges",
  why: "a privileged container has every capability and every host device: escaping it is trivial and it owns the host; a service's credential_spec/se_linux_context changes who the task is to the host",
  fix: "remove `privileged` (containers) and task_spec.container_spec.privileges (services); add back only the single capability the service needs.",
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    if (w.kind === "service") {
      const priv = w.spec.privileges;
      return priv === undefined || (Array.isArray(priv) && priv.length === 0)
        ? []
        : [`${w.name} sets ${w.specPath}privileges (${Object.keys(block(priv)).join(", ") || "empty"})`];
    }
    const v = valueAt(w.resourceType, "privileged", w.resource.privileged, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted") return [];
    const b = boolOf(v.value);
    if (b === true) return [`${w.name} runs privileged (privileged = ${JSON.stringify(w.resource.privileged)})`];
    if (b === "unknown")
      return [`${w.name} has privileged = ${JSON.stringify(w.resource.privileged)}, which is not a boolean the policy can judge`];
    return [];
  }),
};

export const capabilitiesDropped: PolicyRule = {
  id: "capabilities-dropped",
  severity: everywhere("error"),
  title: "Containers and services drop ALL capabilities and add back only allow-listed ones",
  why: "Docker's default capability set (and DAC_OVERRIDE, MKNOD, SETFCAP, SYS_ADMIN, NET_ADMIN ...) lets a compromised process read any file, create devices or attack the host and its neighbours",
  fix: `drop ["ALL"] (capabilities.drop, or cap_drop on services) and add back only ${ALLOWED_CAPABILITIES.join(", ")}; anything else needs a suppression with its reason.`,
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    const drop = listItems(w.resourceType, w.capDrop.path, w.capDrop.value, ctx, w.name);
    const add = listItems(w.resourceType, w.capAdd.path, w.capAdd.value, ctx, w.name);
    const problems = [...drop.problems, ...add.problems];
    if (drop.problems.length === 0 && !dropsAll(drop.values))
      problems.push(`${w.name} does not drop ALL capabilities (${w.capDrop.path} = ${JSON.stringify(drop.values)})`);
    const extra = add.values.filter((c) => !ALLOWED_CAPABILITIES.includes(normalizeCapability(c)));
    if (extra.length > 0)
      problems.push(`${w.name} adds back ${extra.map((c) => JSON.stringify(c)).join(", ")} (allowed: ${ALLOWED_CAPABILITIES.join(", ")})`);
    return problems;
  }),
};

export const noNewPrivileges: PolicyRule = {
  id: "no-new-privileges",
  severity: everywhere("error"),
  title: "Containers end up with no-new-privileges set",
  why: 'without it setuid binaries in the image can regain privileges the container dropped; the engine applies the LAST no-new-privileges entry, so a later ":false" undoes an earlier ":true"',
  fix: 'put exactly one "no-new-privileges:true" in `security_opts` (Swarm services cannot express it in provider 3.6.2; they rely on cap_drop ALL and a non-root user).',
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    const opts = listItems(w.resourceType, "security_opts", w.resource.security_opts, ctx, w.name);
    if (opts.problems.length > 0) return opts.problems;
    const { value, entries } = effectiveNoNewPrivileges(opts.values);
    if (value === true) return [];
    if (entries.length === 0) return [`${w.name} does not set security_opts "no-new-privileges:true"`];
    return [`${w.name} ends up with no-new-privileges off (security_opts ${JSON.stringify(entries)}: the last entry wins)`];
  }),
};

export const nonRoot: PolicyRule = {
  id: "non-root",
  severity: everywhere("error"),
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

export const readOnlyRootfs: PolicyRule = {
  id: "read-only-rootfs",
  severity: everywhere("error"),
  title: "Running containers and services have a read-only root filesystem",
  why: "a writable rootfs lets an attacker persist tools and modify binaries, and hides state that is lost on replacement",
  fix: "set `read_only` = true (task_spec.container_spec.read_only on services) and give the service tmpfs/named volumes for the paths it writes; seed containers (start = false) are exempt.",
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    // Seed containers take uploads, which Docker refuses on a read-only rootfs; they never run.
    if (w.seed) return [];
    const v = valueAt(w.resourceType, w.readOnly.path, w.readOnly.value, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted") return [];
    return boolOf(v.value) === true ? [] : [`${w.name} has a writable root filesystem (read_only not true)`];
  }),
};

const NAMESPACE_KEYS = ["network_mode", "pid_mode", "ipc_mode", "userns_mode", "cgroupns_mode", "uts_mode"];
export const noHostNamespaces: PolicyRule = {
  id: "no-host-namespaces",
  severity: everywhere("error"),
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

export const noUnconfinedProfiles: PolicyRule = {
  id: "no-unconfined-profiles",
  severity: everywhere("error"),
  title: "Default seccomp/AppArmor/SELinux profiles: no opt-outs, no custom profiles",
  why: "the default seccomp and AppArmor profiles block the syscalls most container escapes use; a custom profile (seccomp=<file>, apparmor=<name>, label=...) or systempaths/writable-cgroups can switch that off without saying so",
  fix: 'keep only "no-new-privileges:true" in `security_opts`; remove seccomp=, apparmor=, label=, systempaths= and writable-cgroups= options.',
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    const opts = listItems(w.resourceType, "security_opts", w.resource.security_opts, ctx, w.name);
    return [
      ...opts.problems,
      ...opts.values
        .filter((o) => parseSecurityOpt(o).key !== "no-new-privileges")
        .map((o) => `${w.name} sets security_opts ${JSON.stringify(o)}`),
    ];
  }),
};

export const noDevices: PolicyRule = {
  id: "no-devices",
  severity: everywhere("error"),
  title: "No host devices or GPUs",
  why: "a host device node (a disk, /dev/mem, /dev/kmsg, a GPU) in a container gives direct access to host hardware and memory, outside every namespace",
  fix: "remove `devices` and `gpus` (and generic_resources reservations on services); no service of the platform needs host hardware.",
  appliesTo: WORKLOADS,
  check: onWorkload((w) => {
    const problems: string[] = [];
    if (w.kind === "container") {
      for (const d of blocks(w.resource.devices))
        problems.push(
          `${w.name} maps host device ${JSON.stringify(d.host_path)}${d.container_path ? ` to ${JSON.stringify(d.container_path)}` : ""}`,
        );
      if (w.resource.gpus !== undefined && w.resource.gpus !== null && w.resource.gpus !== "")
        problems.push(`${w.name} requests gpus = ${JSON.stringify(w.resource.gpus)}`);
    } else {
      const generic = block(block(block(w.resource.task_spec).resources).reservation).generic_resources;
      if (blocks(generic).length > 0)
        problems.push(`${w.name} reserves generic resources (devices such as GPUs): ${JSON.stringify(generic)}`);
    }
    return problems;
  }),
};

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
  severity: everywhere("error"),
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

const ULIMIT_BOUNDS: Readonly<Record<string, number>> = { nofile: 1048576, nproc: 65536 };
export const ulimitsBounded: PolicyRule = {
  id: "ulimits-bounded",
  severity: everywhere("error"),
  title: "Only nofile/nproc ulimits, with finite values",
  why: "ulimits are set by the engine as root, so a container can lift memlock, rtprio or stack limits (or make any unlimited) that the kernel would otherwise enforce on it",
  fix: `set only ${Object.entries(ULIMIT_BOUNDS)
    .map(([k, v]) => `${k} (≤ ${v})`)
    .join(", ")} in \`ulimit\`, soft ≤ hard.`,
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    const problems: string[] = [];
    blocks(w.resource.ulimit).forEach((u, i) => {
      const name = String(plain(u.name) ?? "")
        .trim()
        .toLowerCase();
      const max = ULIMIT_BOUNDS[name];
      if (max === undefined) {
        problems.push(`${w.name} sets ulimit ${JSON.stringify(u.name)}`);
        return;
      }
      for (const key of ["soft", "hard"]) {
        const v = valueAt(w.resourceType, `ulimit[${i}].${key}`, u[key], ctx, w.name);
        if (v.kind === "problem") problems.push(v.problem);
        if (v.kind !== "value") continue;
        const n = numberOf(v.value);
        if (n === undefined || n < 1 || n > max)
          problems.push(`${w.name} sets ulimit ${name} ${key} = ${JSON.stringify(v.value)} (expected 1 to ${max})`);
      }
      const soft = numberOf(u.soft);
      const hard = numberOf(u.hard);
      if (soft !== undefined && hard !== undefined && soft > hard)
        problems.push(`${w.name} sets ulimit ${name} soft ${soft} above hard ${hard}`);
    });
    return problems;
  }),
};

export const defaultRuntime: PolicyRule = {
  id: "default-runtime",
  severity: everywhere("error"),
  title: "The engine's default runtime only",
  why: "another OCI runtime (or a Swarm plugin task) is a different program running the container as root on the host, outside what the other rules check",
  fix: 'remove `runtime` (or set "runc"); on services leave task_spec.runtime unset or "container".',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    const path = w.kind === "container" ? "runtime" : "task_spec.runtime";
    const raw = w.kind === "container" ? w.resource.runtime : block(w.resource.task_spec).runtime;
    const v = valueAt(w.resourceType, path, raw, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted" || v.value === undefined) return [];
    const ok = w.kind === "container" ? ["runc"] : ["container"];
    return ok.includes(String(v.value)) ? [] : [`${w.name} sets ${path} = ${JSON.stringify(v.value)}`];
  }),
};

/** Sizes the engine accepts for storage_opts size, e.g. "10G". */
const STORAGE_SIZE = /^\d+(\.\d+)?\s*[kmgt]?i?b?$/i;
export const noStorageOpts: PolicyRule = {
  id: "no-storage-opts",
  severity: everywhere("error"),
  title: "No storage driver options beyond a size",
  why: "storage_opts are handed to the storage driver as root on the host; only a size quota is understood here, anything else is untested host-level behaviour",
  fix: 'remove `storage_opts`, or set only { size = "<n>G" }.',
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    const v = valueAt(w.resourceType, "storage_opts", w.resource.storage_opts, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted" || !isRecord(v.value)) return [];
    return Object.entries(v.value)
      .filter(
        ([k, val]) => k.trim().toLowerCase() !== "size" || typeof plain(val) !== "string" || !STORAGE_SIZE.test(String(plain(val)).trim()),
      )
      .map(([k, val]) => `${w.name} sets storage_opts ${JSON.stringify(k)} = ${JSON.stringify(val)}`);
  }),
};

const MAX_SHM_MB = 2048;
export const shmSizeBounded: PolicyRule = {
  id: "shm-size-bounded",
  severity: everywhere("error"),
  title: "/dev/shm is smaller than the memory limit",
  why: "shared memory is RAM: an /dev/shm as large as (or larger than) the memory limit lets one process fill the container's memory, and absurd sizes hide a missing limit",
  fix: `set \`shm_size\` (MB) to what the service needs (postgres: a quarter of its memory), below \`memory\` and at most ${MAX_SHM_MB}.`,
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    if (w.resource.shm_size === undefined) return [];
    const v = valueAt(w.resourceType, "shm_size", w.resource.shm_size, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted") return [];
    const shm = numberOf(v.value);
    const memory = numberOf(w.resource.memory);
    if (shm === undefined || shm < 1) return [`${w.name} has shm_size = ${JSON.stringify(v.value)}`];
    if (shm > MAX_SHM_MB) return [`${w.name} has shm_size = ${shm} MB (more than ${MAX_SHM_MB})`];
    if (memory !== undefined && shm >= memory) return [`${w.name} has shm_size = ${shm} MB, not below its memory limit of ${memory} MB`];
    return [];
  }),
};

export const noCgroupParent: PolicyRule = {
  id: "no-cgroup-parent",
  severity: everywhere("error"),
  title: "Containers stay in the engine's cgroup",
  why: "a cgroup_parent moves the container into another cgroup (another container's, or the root), escaping its own limits and accounting",
  fix: "remove `cgroup_parent`.",
  appliesTo: "docker_container",
  check: onWorkload((w) => {
    const v = w.resource.cgroup_parent;
    return v === undefined || v === "" ? [] : [`${w.name} sets cgroup_parent = ${JSON.stringify(v)}`];
  }),
};

export const noExtraHosts: PolicyRule = {
  id: "no-extra-hosts",
  severity: everywhere("error"),
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

export const PRIVILEGE_RULES: readonly PolicyRule[] = [
  notPrivileged,
  capabilitiesDropped,
  noNewPrivileges,
  readOnlyRootfs,
  nonRoot,
  noHostNamespaces,
  noUnconfinedProfiles,
  noDevices,
  sysctlsAllowed,
  ulimitsBounded,
  defaultRuntime,
  noStorageOpts,
  shmSizeBounded,
  noCgroupParent,
  noExtraHosts,
];
