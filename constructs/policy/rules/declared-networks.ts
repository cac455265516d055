import { declaredNames, isExpression, parseRef, resourcesOf } from "../json";
import type { PolicyRule, TerraformJson } from "../types";
import { repositoryOf, type Workload, workloadOf } from "../workload";
import { attachments, onWorkload, WORKLOADS } from "./helpers";

/** The network an attachment names: the docker_network's key for a reference, the name otherwise. */
function networkKey(name: unknown): string {
  const ref = parseRef(name);
  return ref && ref.type === "docker_network" ? `ref:${ref.name}` : `name:${String(name)}`;
}

/** The names a workload answers to on one attachment: its network aliases and its own name. */
function dnsNames(w: Workload, attachment: Record<string, unknown>): string[] {
  const aliases = Array.isArray(attachment.aliases) ? attachment.aliases.filter((a): a is string => typeof a === "string") : [];
  const own = typeof w.resource.name === "string" ? [w.resource.name] : [];
  return [...new Set([...aliases, ...own].map((n) => n.trim().toLowerCase()))];
}

const answering = new WeakMap<TerraformJson, Map<string, Map<Record<string, unknown>, string>>>();

/**
 * Per network and DNS name, the workloads that answer to it and the image repository each runs
 * ("?" when unknown), computed once per stack rendering (rules ask for every workload).
 */
function answeringWorkloads(json: TerraformJson): Map<string, Map<Record<string, unknown>, string>> {
  let index = answering.get(json);
  if (index) return index;
  index = new Map();
  for (const type of WORKLOADS) {
    for (const resource of Object.values(resourcesOf(json, type))) {
      const w = workloadOf(resource, type);
      if (!w) continue;
      const repo = repositoryOf(w, json) ?? "?";
      for (const a of attachments(w)) {
        for (const n of dnsNames(w, a.block)) {
          const key = `${networkKey(a.name)}\0${n}`;
          if (!index.has(key)) index.set(key, new Map());
          index.get(key)!.set(resource, repo);
        }
      }
    }
  }
  answering.set(json, index);
  return index;
}

/** "bridge" and "default" are Docker's default bridge: shared by every container on the host that joins no network of its own. */
const DEFAULT_BRIDGE_MODES = ["bridge", "default"];

export const declaredNetworks: PolicyRule = {
  id: "declared-networks",
  level: "error",
  title: "Containers and services join only networks declared in this stack, and answer only to their own names there",
  why: "a network created outside Terraform (a macvlan on the host's LAN, another project's network) is checked by no rule of this policy, and so is Docker's default bridge (every container on the host that joins no network of its own), and joining one bypasses the internal networks the design relies on; a workload that takes another one's alias (or name) on a network gets a share of its connections (Docker's DNS answers with both), e.g. the database's clients and the passwords they send",
  fix: 'attach to docker_network resources of this stack by reference (`${docker_network.<x>.name}` for containers, `.id` for services); leave network_mode unset (or "none"), and give a container that needs no network network_mode "none" (with neither, it lands on the default bridge of the engine); share a network alias only between replicas of one image.',
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
    // An alias shared on one network by workloads of different images: one impersonates the other.
    const index = answeringWorkloads(ctx.stackJson);
    for (const a of attachments(w)) {
      for (const n of dnsNames(w, a.block)) {
        const others = index.get(`${networkKey(a.name)}\0${n}`);
        if (!others || others.size < 2) continue;
        const repos = new Set(others.values());
        if (repos.size > 1 || repos.has("?"))
          problems.push(
            `${w.name} answers to ${JSON.stringify(n)} on ${String(a.name)} (${a.path}), as do workloads of another image (${[...repos].join(", ")}): give it an alias of its own`,
          );
      }
    }
    if (w.kind === "container") {
      const raw = w.resource.network_mode;
      const mode = typeof raw === "string" && !isExpression(raw) ? raw.trim() : undefined;
      const m = mode?.toLowerCase();
      // The provider leaves the default bridge only to join networks_advanced; without them it stays.
      if (attachments(w).length === 0 && (raw === undefined || raw === null || m === "" || DEFAULT_BRIDGE_MODES.includes(m ?? "")))
        problems.push(
          `${w.name} joins no network of this stack (network_mode = ${raw === undefined ? "unset" : JSON.stringify(raw)}), so it lands on Docker's default bridge with every other such container on the host`,
        );
      else if (
        mode !== undefined &&
        m !== undefined &&
        m !== "none" &&
        !DEFAULT_BRIDGE_MODES.includes(m) &&
        m !== "host" &&
        !m.startsWith("container:") &&
        !names.has(mode)
      )
        problems.push(`${w.name} sets network_mode ${JSON.stringify(mode)}, a network this stack does not declare`);
    }
    return problems;
  }),
};
