/**
 * Rules about reachability: published ports, networks of data stores, how services name their
 * networks, and the networks themselves.
 */
import { block, blocks, describe, isExpression, labelsOf, parseRef, resourcesOf } from "../json";
import { boolOf, numberOf, plain } from "../normalize";
import { everywhere, type PolicyRule, type RuleContext } from "../types";
import { workloadOf, type Workload } from "../workload";
import { componentOf, dynamicBlocks, isData, isEdge, valueAt } from "./common";
import { onWorkload, WORKLOADS } from "./runtime";

const LOOPBACK = ["127.0.0.1", "::1"];
const EDGE_PORTS = [80, 443];

function containerPorts(w: Workload, ctx: RuleContext): string[] {
  const problems: string[] = dynamicBlocks(w.resource, w.name).filter((p) => p.includes(" ports "));
  const edge = isEdge(w, ctx.stackJson);
  const label = componentOf(w);
  const publishAll = valueAt(w.resourceType, "publish_all_ports", w.resource.publish_all_ports, ctx, w.name);
  if (publishAll.kind === "problem") problems.push(publishAll.problem);
  else if (publishAll.kind === "value" && boolOf(publishAll.value) !== undefined && boolOf(publishAll.value) !== false)
    problems.push(`${w.name} sets publish_all_ports`);
  const ports = blocks(w.resource.ports);
  const fields = ports.map((p, i) => {
    const get = (k: string) => {
      const v = valueAt(w.resourceType, `ports[${i}].${k}`, p[k], ctx, w.name);
      if (v.kind === "problem") problems.push(v.problem);
      return v.kind === "value" ? v.value : undefined;
    };
    return { internal: numberOf(get("internal")), external: numberOf(get("external")), ip: get("ip") };
  });
  const notEdge = `is not the edge (component "${label ?? "unlabelled"}"${label === "edge" ? ", but its image is not an edge image" : ""})`;
  if (ctx.environment === "prod") {
    if (!edge && ports.length > 0) problems.push(`${w.name} publishes ports ${fields.map((p) => p.internal).join(", ")} but ${notEdge}`);
    if (edge) {
      for (const p of fields) {
        if (!EDGE_PORTS.includes(p.internal ?? -1) || (p.external !== undefined && !EDGE_PORTS.includes(p.external))) {
          problems.push(
            `edge ${w.name} publishes port ${p.internal}${p.external !== undefined ? ` as ${p.external}` : ""} (only 80 and 443 may be published in prod)`,
          );
        }
      }
    }
    return problems;
  }
  if (!edge) {
    for (const p of fields) {
      const ip = typeof p.ip === "string" ? p.ip.trim() : undefined;
      if (!ip || !LOOPBACK.includes(ip)) {
        const why = label === "edge" ? ` and ${notEdge}` : "";
        problems.push(
          `${w.name} publishes port ${p.internal}${p.external !== undefined ? ` as ${p.external}` : ""} on ${ip ?? "all interfaces (ip unset = 0.0.0.0)"}${why}`,
        );
      }
    }
  }
  return problems;
}

function servicePorts(w: Workload, ctx: RuleContext): string[] {
  const problems: string[] = [];
  const ports = blocks(block(w.resource.endpoint_spec).ports);
  const edge = isEdge(w, ctx.stackJson);
  ports.forEach((p, i) => {
    const get = (k: string) => {
      const v = valueAt(w.resourceType, `endpoint_spec.ports[${i}].${k}`, p[k], ctx, w.name);
      if (v.kind === "problem") problems.push(v.problem);
      return v.kind === "value" ? v.value : undefined;
    };
    const target = numberOf(get("target_port"));
    const published = numberOf(get("published_port"));
    const mode = String(get("publish_mode") ?? "ingress")
      .trim()
      .toLowerCase();
    const desc = `port ${target}${published !== undefined ? ` as ${published}` : ""}`;
    if (!edge) {
      problems.push(`${w.name} publishes ${desc} (${mode} mode, on every node's interfaces) but is not the edge`);
      return;
    }
    if (mode !== "host")
      problems.push(`edge ${w.name} publishes ${desc} in ${mode} mode (the routing mesh hides client IPs from the allow-lists)`);
    if (
      ctx.environment === "prod" &&
      (!EDGE_PORTS.includes(target ?? -1) || (published !== undefined && !EDGE_PORTS.includes(published)))
    ) {
      problems.push(`edge ${w.name} publishes ${desc} (only 80 and 443 may be published in prod)`);
    }
  });
  return problems;
}

export const publishedPorts: PolicyRule = {
  id: "published-ports",
  severity: everywhere("error"),
  title: "Only the edge publishes ports (80/443 in prod, host mode on Swarm); elsewhere only on loopback, never from a Swarm app service",
  why: "every published port is reachable from the network (Docker bypasses the host firewall, and Swarm's routing mesh publishes on every node and hides client IPs), so databases and admin UIs would be exposed directly",
  fix: 'route traffic through the edge proxy (a Caddy image labelled edge); in dev/test bind extra container ports with `ip` = "127.0.0.1"; in prod publish only 80/443 on the edge; Swarm app services publish nothing.',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => (w.kind === "container" ? containerPorts(w, ctx) : servicePorts(w, ctx))),
};

/** Network attachments of a workload: the path and the written name. */
function attachments(w: Workload): { path: string; name: unknown }[] {
  const list = w.kind === "container" ? blocks(w.resource.networks_advanced) : blocks(block(w.resource.task_spec).networks_advanced);
  const prefix = w.kind === "container" ? "networks_advanced" : "task_spec.networks_advanced";
  return list.map((n, i) => ({ path: `${prefix}[${i}].name`, name: n.name }));
}

export const dataInternalNetworks: PolicyRule = {
  id: "data-internal-networks",
  severity: everywhere("error"),
  title: "Data stores attach only to internal networks",
  why: "a data store on a non-internal network can reach (and be reached from) outside, e.g. to exfiltrate data; what counts as a data store is its image (postgres, redis, rabbitmq ...) or its data label",
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

export const networkById: PolicyRule = {
  id: "network-by-id",
  severity: everywhere("warning"),
  title: "Swarm services attach to networks by docker_network id",
  why: "the engine stores a service's networks by ID, so a name (literal or `.name`) shows a change in every plan, and networks_advanced forces a replacement of the service in provider 3.6.2",
  fix: "set task_spec.networks_advanced.name to `${docker_network.<x>.id}` (PlatformNetwork.id).",
  appliesTo: "docker_service",
  check(resource) {
    const w = workloadOf(resource, "docker_service")!;
    return attachments(w)
      .filter((n) => {
        const ref = parseRef(n.name);
        return !(ref && ref.type === "docker_network" && ref.attribute === "id");
      })
      .map((n) => `${w.name} attaches to network ${JSON.stringify(n.name)} by name (${n.path})`);
  },
};

const NETWORK_DRIVERS = ["bridge", "overlay"];
export const networkDriver: PolicyRule = {
  id: "network-driver",
  severity: everywhere("error"),
  title: "Networks are bridge or overlay, never the Swarm ingress; prod internal overlays are encrypted",
  why: "macvlan/ipvlan/host networks put containers on the host's LAN past the firewall, an ingress network publishes through the routing mesh, and an unencrypted overlay carries database and credential traffic in clear text between nodes",
  fix: 'use driver "bridge" (containers on one host) or "overlay" (Swarm); never set `ingress`; in prod give internal overlay networks options { encrypted = "" }.',
  appliesTo: "docker_network",
  check(net, ctx) {
    const what = describe(net, "docker_network");
    const problems: string[] = [];
    const driver = plain(net.driver);
    const d = driver === undefined ? "bridge" : String(driver).trim().toLowerCase();
    if (isExpression(driver)) problems.push(`${what} has driver ${driver}, which the policy cannot judge`);
    else if (!NETWORK_DRIVERS.includes(d)) problems.push(`${what} uses driver ${JSON.stringify(driver)}`);
    if (boolOf(net.ingress) !== undefined && boolOf(net.ingress) !== false) problems.push(`${what} is a Swarm ingress network`);
    const options = net.options && typeof net.options === "object" ? (net.options as Record<string, unknown>) : {};
    if (ctx.environment === "prod" && d === "overlay" && boolOf(net.internal) === true && !("encrypted" in options)) {
      problems.push(
        `${what} is an internal overlay network in prod without options.encrypted (role ${labelsOf(net).get("io.updateio.role") ?? "unlabelled"})`,
      );
    }
    return problems;
  },
};

const BUILTIN_NETWORK_MODES = ["none", "bridge", "default"];
export const declaredNetworks: PolicyRule = {
  id: "declared-networks",
  severity: everywhere("error"),
  title: "Containers and services join only networks declared in this stack",
  why: "a network created outside Terraform (a macvlan on the host's LAN, another project's network) is checked by no rule of this policy, and joining it bypasses the internal networks the design relies on",
  fix: 'attach to docker_network resources of this stack by reference (`${docker_network.<x>.name}` for containers, `.id` for services); leave network_mode unset (or "none").',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    const problems: string[] = [];
    const networks = resourcesOf(ctx.stackJson, "docker_network");
    const names = new Set(
      Object.values(networks)
        .map((n) => n.name)
        .filter((n): n is string => typeof n === "string"),
    );
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

export const NETWORK_RULES: readonly PolicyRule[] = [publishedPorts, dataInternalNetworks, declaredNetworks, networkById, networkDriver];
