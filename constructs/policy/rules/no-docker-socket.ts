import { DOCKER_SOCKET_PROXY_ROLE, LABELS } from "../../contract/index";
import { relativeHostPath, shorten } from "../expressions";
import { blocks, isExpression } from "../json";
import { exposesDockerSocket, isSocketPath, normalizeHostPath } from "../normalize";
import type { PolicyRule, Problem } from "../types";
import type { Workload } from "../workload";
import { bindsOf, envEntries, isLocalProbe, isSocketProxy, MOUNTING } from "./helpers";

/**
 * What the proxy's environment may turn on (any value but "0" turns a variable on: the image tests
 * each with HAProxy's `env(X) -m bool`). Only sections that are read-only while POST (and DELETE,
 * PUT, PATCH) stay off: what our proxy opens (CONTAINERS, NETWORKS, PING, ALLOW_LOGS; INFO and
 * VERSION for cAdvisor, constructs/observability/renderers/docker-socket-proxy.ts) and what the
 * image grants by default (EVENTS, PING, VERSION: "mostly harmless", its README says).
 */
const SOCKET_PROXY_READ_ONLY_SECTIONS: readonly string[] = ["CONTAINERS", "NETWORKS", "PING", "ALLOW_LOGS", "EVENTS", "VERSION", "INFO"];

/**
 * Every variable tecnativa/docker-socket-proxy reads as an API switch (its Dockerfile and
 * haproxy.cfg template): URL sections, the write methods and the per-endpoint ALLOW_* flags.
 * Any of them, and any other ALLOW_* name, must be "0" or unset unless in the read-only list.
 */
const SOCKET_PROXY_SWITCHES: readonly string[] = [
  "AUTH",
  "BUILD",
  "COMMIT",
  "CONFIGS",
  "CONTAINERS",
  "DISTRIBUTION",
  "EVENTS",
  "EXEC",
  "GRPC",
  "IMAGES",
  "INFO",
  "NETWORKS",
  "NODES",
  "PING",
  "PLUGINS",
  "SECRETS",
  "SERVICES",
  "SESSION",
  "SWARM",
  "SYSTEM",
  "TASKS",
  "VERSION",
  "VOLUMES",
  "POST",
  "DELETE",
  "PUT",
  "PATCH",
];

const LOG_LEVELS = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

/** The proxy's own settings (not switches): which values each may take. */
const SOCKET_PROXY_SETTINGS: Readonly<Record<string, (value: string) => boolean>> = {
  LOG_LEVEL: (v) => LOG_LEVELS.includes(v),
  DISABLE_IPV6: () => true, // only chooses the listening address family
  SOCKET_PATH: (v) => v === "/var/run/docker.sock", // anything else proxies another engine
  BIND_CONFIG: () => false, // replaces the listening address: never needed
};

/** Problems with the environment, command and uploads of a container accepted as the socket proxy. */
function proxyConfigProblems(w: Workload): string[] {
  const problems: string[] = [];
  const who = `docker socket proxy ${w.name}`;
  const entries = envEntries(w.resource.env);
  if (entries === undefined) problems.push(`${who} sets env to ${shorten(JSON.stringify(w.resource.env))}, which the policy cannot read`);
  for (const { path, text } of entries ?? []) {
    if (typeof text !== "string" || isExpression(text)) {
      problems.push(
        `${who} sets ${path} to ${shorten(JSON.stringify(text))}, which the policy cannot read (the proxy's API filter must be literal)`,
      );
      continue;
    }
    // Split as the engine does (a map entry reaches it as "key=value" too).
    const eq = text.indexOf("=");
    const name = (eq === -1 ? text : text.slice(0, eq)).trim().toUpperCase();
    const value = eq === -1 ? undefined : text.slice(eq + 1);
    const switchLike = SOCKET_PROXY_SWITCHES.includes(name) || name.startsWith("ALLOW_");
    const setting = SOCKET_PROXY_SETTINGS[name];
    if (!switchLike && !setting) continue; // the image does not read it
    if (value === undefined) {
      problems.push(`${who} has ${path} = ${JSON.stringify(text)} without a value, which the policy cannot read`);
      continue;
    }
    if (setting) {
      if (!setting(value)) problems.push(`${who} sets ${path} = ${JSON.stringify(text)}, which the policy does not allow for the proxy`);
      continue;
    }
    if (value === "0" || SOCKET_PROXY_READ_ONLY_SECTIONS.includes(name)) continue;
    problems.push(
      `${who} turns on ${name} (${path} = ${JSON.stringify(text)}), which is not a read-only API section (only ${SOCKET_PROXY_READ_ONLY_SECTIONS.join(", ")} may be on; anything but "0" turns a section on)`,
    );
  }
  for (const key of ["command", "entrypoint"]) {
    if (w.resource[key] !== undefined && w.resource[key] !== null)
      problems.push(`${who} sets ${key}, which replaces the image's filtering HAProxy configuration`);
  }
  if (blocks(w.resource.upload).length > 0) problems.push(`${who} takes upload(s), which can replace its filtering configuration`);
  // Its one mount is the socket: a volume or mount over the image's configuration replaces the filter.
  blocks(w.resource.volumes).forEach((v, i) => {
    if (!(typeof v.host_path === "string" && isSocketPath(v.host_path) && (v.volume_name === undefined || v.volume_name === "")))
      problems.push(
        `${who} mounts volumes[${i}] (${shorten(JSON.stringify(v.volume_name ?? v.host_path ?? v.from_container))} at ${JSON.stringify(v.container_path)}), which can replace its filtering configuration: mount only the socket`,
      );
  });
  blocks(w.resource.mounts).forEach((m, i) =>
    problems.push(
      `${who} sets mounts[${i}] (target ${JSON.stringify(m.target)}), which can replace its filtering configuration: mount only the socket, in volumes`,
    ),
  );
  // A healthcheck runs in the proxy, next to the unfiltered socket: only the probe of its own API.
  const test = blocks(w.resource.healthcheck)[0]?.test;
  if (test !== undefined && !isLocalProbe(test))
    problems.push(
      `${who} has healthcheck.test ${shorten(JSON.stringify(test))}, a command run next to the unfiltered socket: use ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:<port>/_ping"]`,
    );
  return problems;
}

export const noDockerSocket: PolicyRule = {
  id: "no-docker-socket",
  level: "error",
  title: "Nobody mounts the Docker socket except the read-only socket proxy",
  why: "access to the Docker socket is root on the host (start a privileged container, mount /), and so is a socket proxy that lets POST, EXEC or any other write section through, runs a healthcheck command of our choosing next to the socket (a read-only bind still lets a process connect to it), or mounts a volume over its filtering configuration",
  fix: `read Docker metadata through the socket proxy (image tecnativa/docker-socket-proxy, label ${LABELS.role} = "${DOCKER_SOCKET_PROXY_ROLE}", socket mounted read-only and no other volume or mount, a healthcheck that only probes its own API with wget, API filtered: its env may turn on only the read-only sections ${SOCKET_PROXY_READ_ONLY_SECTIONS.join(", ")}, every other switch such as POST, EXEC, BUILD, AUTH, SECRETS or ALLOW_START stays unset or "0", all as literal values, and no command, entrypoint or upload replaces its configuration); never mount the socket or a directory holding it elsewhere, not even through a volume's driver options.`,
  appliesTo: MOUNTING,
  check(resource, ctx, type) {
    const { what, w, binds } = bindsOf(resource, type, ctx);
    const problems: Problem[] = [];
    const proxy = w !== undefined && w.kind === "container" && isSocketProxy(w, ctx.stackJson);
    for (const b of binds) {
      if (relativeHostPath(b.hostPath)) continue; // judged by no-host-paths
      if (!exposesDockerSocket(b.hostPath)) continue;
      const itself = isSocketPath(b.hostPath);
      if (proxy && b.readOnly && itself && b.via === "bind") continue;
      const how = b.via === "bind" ? "mounts" : "binds through volume driver options";
      if (proxy) {
        problems.push(
          `docker socket proxy ${what} ${how} "${b.hostPath}"${b.readOnly ? "" : " read-write"}${itself ? "" : " (a whole directory that contains the socket)"}`,
        );
        continue;
      }
      const message = `${what} ${how} "${b.hostPath}" (${normalizeHostPath(b.hostPath)}), which exposes the Docker socket`;
      // A plain bind names its host path, which a suppression may be limited to; driver options never do.
      problems.push(b.via === "bind" ? { message, subject: normalizeHostPath(b.hostPath) } : message);
    }
    if (proxy) problems.push(...proxyConfigProblems(w));
    return problems;
  },
};
