import { block, blocks } from "../json";
import { boolOf, numberOf } from "../normalize";
import type { PolicyRule, RuleContext } from "../types";
import type { Workload } from "../workload";
import { componentOf, dynamicBlocks, isEdge, onWorkload, unreadableNumber, valueAt, WORKLOADS } from "./helpers";
import { LOOPBACK_ADDRESSES } from "../../contract/environments";

const LOOPBACK: readonly string[] = LOOPBACK_ADDRESSES;

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
    const port = (k: string) => {
      const raw = get(k);
      const unreadable = unreadableNumber(w.name, `ports[${i}].${k}`, raw, "port number");
      if (unreadable) problems.push(unreadable);
      return numberOf(raw);
    };
    return { internal: port("internal"), external: port("external"), ip: get("ip") };
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
      // Exactly as written: the engine reads the address with net.ParseIP, which gives nothing for
      // " 127.0.0.1", and a binding without an address is published on 0.0.0.0.
      const ip = typeof p.ip === "string" ? p.ip : undefined;
      if (!ip || !LOOPBACK.includes(ip)) {
        const why = label === "edge" ? ` and ${notEdge}` : "";
        problems.push(
          `${w.name} publishes port ${p.internal}${p.external !== undefined ? ` as ${p.external}` : ""} on ${ip === undefined ? "all interfaces (ip unset = 0.0.0.0)" : JSON.stringify(ip)}${why}`,
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
    const port = (k: string) => {
      const raw = get(k);
      const unreadable = unreadableNumber(w.name, `endpoint_spec.ports[${i}].${k}`, raw, "port number");
      if (unreadable) problems.push(unreadable);
      return numberOf(raw);
    };
    const target = port("target_port");
    const published = port("published_port");
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
  level: "error",
  title: "Only the edge publishes ports (80/443 in prod, host mode on Swarm); elsewhere only on loopback, never from a Swarm app service",
  why: "every published port is reachable from the network (Docker bypasses the host firewall, and Swarm's routing mesh publishes on every node and hides client IPs), so databases and admin UIs would be exposed directly",
  fix: 'route traffic through the edge proxy (a pulled Caddy image labelled edge; an image the stack builds is never the edge, whatever its name); in dev/test bind extra container ports with `ip` = "127.0.0.1"; in prod publish only 80/443 on the edge; Swarm app services publish nothing. Write ports as plain numbers: Terraform reads "5432e0" as 5432, and a value the policy cannot read is a finding.',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => (w.kind === "container" ? containerPorts(w, ctx) : servicePorts(w, ctx))),
};
