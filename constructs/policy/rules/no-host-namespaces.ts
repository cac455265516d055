import { shorten } from "../expressions";
import { blockKeyProblems, blocks, describe } from "../json";
import { plain } from "../normalize";
import type { PolicyRule } from "../types";
import { onWorkload, valueAt } from "./helpers";

const NAMESPACE_KEYS = ["network_mode", "pid_mode", "ipc_mode", "userns_mode", "cgroupns_mode", "uts_mode"];

/**
 * The docker_image build options our stacks use (constructs/kit/service-image.ts): where the source
 * is, which stage, which tags, which buildx builder. Provider 3.6.2 has many more, and several run
 * the build's RUN steps outside the usual isolation or touch the host: network_mode ("host"),
 * security_opt ("seccomp=unconfined"), cgroup_parent, extra_hosts, isolation, ulimit, shm_size,
 * secrets and ssh (host files such as ~/.ssh/id_rsa read into the build), build_log_file (a file the
 * provider writes on the machine that runs apply), auth_config (registry credentials in the JSON),
 * remote_context (a build from a URL) ... so the rule accepts only these.
 */
const BUILD_KEYS: readonly string[] = ["builder", "context", "dockerfile", "tag", "target"];

/**
 * The buildx builders a build may use: the engine's own. Any other name is a builder set up on the
 * machine that applies, outside the stack (a remote one, or one allowed network.host or
 * security.insecure entitlements), which runs the RUN steps where the policy cannot see.
 */
const BUILDERS: readonly string[] = ["default"];

function buildProblems(resource: Record<string, unknown>): string[] {
  const what = describe(resource, "docker_image");
  const problems = blockKeyProblems(resource.build, "build", BUILD_KEYS).map((p) =>
    p.key === undefined
      ? `${what} sets ${p.path} to ${shorten(JSON.stringify(p.element))}, which the policy cannot read`
      : `${what} sets ${p.path}.${p.key}, a build option the policy does not allow (only ${BUILD_KEYS.join(", ")})`,
  );
  blocks(resource.build).forEach((b, i) => {
    const builder = plain(b.builder);
    if (builder !== undefined && builder !== null && !(typeof builder === "string" && BUILDERS.includes(builder)))
      problems.push(
        `${what} builds with ${Array.isArray(resource.build) ? `build[${i}]` : "build"}.builder = ${shorten(JSON.stringify(b.builder))}, a builder outside the stack: set builder to ${BUILDERS.map((x) => `"${x}"`).join(" or ")} or leave it unset`,
      );
  });
  return problems;
}

const containerCheck = onWorkload((w, ctx) => {
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
});

export const noHostNamespaces: PolicyRule = {
  id: "no-host-namespaces",
  level: "error",
  title: "No host or shared network/pid/ipc/userns/cgroup namespaces (image builds included)",
  why: "sharing the host's namespaces removes the isolation the other rules rely on (host network also publishes every port), and joining another container's namespaces exposes its processes, memory and loopback services; a docker_image build runs its RUN steps on the same engine, so build options such as network_mode, security_opt, cgroup_parent, extra_hosts, secrets or build_log_file take that isolation away from the build or read and write host files",
  fix: `remove \`network_mode\`/\`pid_mode\`/\`ipc_mode\`/\`userns_mode\`/\`cgroupns_mode\` = "host" or "container:<name>"; attach to our docker networks instead. A docker_image build block may set only ${BUILD_KEYS.join(", ")} (what the ServiceImage construct writes), with builder ${BUILDERS.map((x) => `"${x}"`).join(" or ")}; drop any other build option.`,
  appliesTo: ["docker_container", "docker_image"],
  check(resource, ctx, type) {
    if (type === "docker_image") return buildProblems(resource);
    return containerCheck(resource, ctx, type);
  },
};
