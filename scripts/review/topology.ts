/**
 * Who talks to whom, per stack, as a small graph, and its two renderings: Mermaid (inside the
 * Markdown report) and Graphviz DOT (rendered to SVG when `dot` is installed).
 *
 * "A talks to B" when they share a network (not egress) and one of:
 *   - a container of A depends_on a container of B (how the constructs wire clients to servers),
 *   - A's env, command or seed uploads name one of B's aliases as host:port (URLs, scrape targets),
 *   - A is the edge proxy and B is on the edge network (its routes).
 * Each edge is labelled with the one network the call takes: B's own network (postgres, redis ...)
 * when they share it, else the most specific shared one. Replicas collapse into one node
 * ("api ×3"), and so do numbered members of one cluster ("rabbitmq-1..3" → "rabbitmq ×3"); data
 * services are drawn per tier, and a client of several members of a tier gets one arrow to the tier.
 * Seeds are not drawn (they never run). A Swarm service (docker_service) is one node like a group of
 * replicas: its aliases, env, command and config files count the same way.
 */
import type { NetworkRef, ServiceInfo, StackInventory } from "./inventory";
import { dotHtmlText, dotText, mermaidText } from "./safe-text";
import {
  asArray,
  asString,
  blocks,
  containerSpecOf,
  isRecord,
  isSeed,
  label,
  LABELS,
  ofType,
  taskSpecOf,
  wholeReference,
  type Resource,
  type TerraformJson,
} from "./terraform-json";

export interface TopologyNode {
  readonly id: string;
  readonly label: string;
  /** Cluster: the service's component (app, data, edge ...) or "external". */
  readonly group: string;
  /** Data services sit in a sub-cluster per tier (postgres, redis, rabbitmq). */
  readonly subgroup?: string;
}

export type EdgeKind = "talks" | "publish" | "egress";

export interface TopologyEdge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
  readonly kind: EdgeKind;
  /** Network purpose the edge runs on (talks, egress). */
  readonly network?: string;
  /** `to` is a sub-cluster id: the client talks to several members of that tier. */
  readonly toGroup?: boolean;
}

export interface TopologyNetwork {
  readonly purpose: string;
  readonly name: string;
  readonly internal: boolean;
  readonly color: string;
}

export interface Topology {
  readonly stack: string;
  readonly nodes: readonly TopologyNode[];
  readonly edges: readonly TopologyEdge[];
  readonly networks: readonly TopologyNetwork[];
  readonly seeds: number;
}

export const INTERNET = "internet";
export const HOST = "host";

// Shared networks in order of preference for labelling a call (after the server's own network).
// A purpose may be one network ("edge") or a family of pair networks ("edge-api", "egress-edge").
const PREFERENCE = ["app", "docker-api", "monitoring"];
const LAST = ["edge", "egress"];

const inFamily = (purpose: string, family: string) => purpose === family || purpose.startsWith(`${family}-`);
/** The edge's network to a routed service: one shared "edge" network, or one "edge-<service>" per route. */
const isEdgeNetwork = (n: NetworkRef) => inFamily(n.purpose, "edge");
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
// Cluster order: left to right in the pictures.
export const GROUP_ORDER = ["external", "edge", "app", "job", "data", "proxy", "observability"];

/** A Mermaid/DOT-safe identifier (never a keyword such as `end`). */
export function nodeId(service: string): string {
  return `s_${service.replace(/[^A-Za-z0-9]/g, "_")}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Host names a service answers to: aliases on its networks, hostnames, container names. */
function aliasesOf(containers: readonly Resource[]): Set<string> {
  const out = new Set<string>();
  for (const c of containers) {
    if (c.type === "docker_service") {
      // Swarm DNS answers to the aliases and to the service name itself.
      for (const n of blocks(taskSpecOf(c.body).networks_advanced))
        for (const a of asArray(n.aliases)) if (typeof a === "string") out.add(a);
      const name = asString(c.body.name);
      if (name) out.add(name);
      continue;
    }
    for (const n of asArray(c.body.networks_advanced))
      if (isRecord(n)) for (const a of asArray(n.aliases)) if (typeof a === "string") out.add(a);
    const hostname = asString(c.body.hostname);
    if (hostname) out.add(hostname);
  }
  return out;
}

/** Text a service's containers are configured with: env, command, and their seeds' uploads (read, never printed). */
function configTextOf(containers: readonly Resource[], all: ReadonlyMap<string, Resource>): string {
  const parts: string[] = [];
  for (const c of containers) {
    if (c.type === "docker_service") {
      const spec = containerSpecOf(c.body);
      parts.push(
        ...Object.values(isRecord(spec.env) ? spec.env : {}).map(String),
        ...asArray(spec.command).map(String),
        ...asArray(spec.args).map(String),
      );
      // Config files (docker_config data: the rendered content inside base64encode(...)).
      for (const cfg of blocks(spec.configs)) {
        const address = wholeReference(cfg.config_id, "docker_config");
        const config = address ? all.get(address) : undefined;
        if (config) parts.push(String(config.body.data ?? ""));
      }
      continue;
    }
    parts.push(...asArray(c.body.env).map(String), ...asArray(c.body.command).map(String), ...asArray(c.body.entrypoint).map(String));
    const deps = asArray(c.body.depends_on).filter((d): d is string => typeof d === "string");
    for (const d of deps) {
      const seed = all.get(d);
      if (seed && isSeed(seed)) for (const u of asArray(seed.body.upload)) if (isRecord(u)) parts.push(String(u.content ?? ""));
    }
  }
  return parts.join("\n");
}

function mentions(text: string, aliases: ReadonlySet<string>): boolean {
  for (const alias of aliases) if (new RegExp(`(?<![\\w.-])${escapeRegExp(alias)}:\\d`).test(text)) return true;
  return false;
}

/** The network a call from a client to `server` takes, among the shared ones. */
export function callNetwork(server: ServiceInfo, shared: readonly NetworkRef[]): NetworkRef | undefined {
  const home = shared.find((n) => server.name === n.purpose || server.name.startsWith(`${n.purpose}-`));
  if (home) return home;
  const rank = (n: NetworkRef) => {
    const p = PREFERENCE.indexOf(n.purpose);
    if (p >= 0) return p;
    const l = LAST.findIndex((family) => inFamily(n.purpose, family));
    return l >= 0 ? 100 + l : 50;
  };
  return [...shared].sort((a, b) => rank(a) - rank(b) || a.purpose.localeCompare(b.purpose))[0];
}

function sharedNetworks(a: ServiceInfo, b: ServiceInfo): NetworkRef[] {
  const mine = new Set(a.networks.map((n) => n.address || n.name));
  return b.networks.filter((n) => mine.has(n.address || n.name) && n.internal);
}

function talksTo(
  client: ServiceInfo,
  server: ServiceInfo,
  ctx: { dependsOn: Set<string>; text: string; aliases: Set<string>; edgeMember: boolean },
): boolean {
  if (client.name === server.name || server.oneShot) return false;
  if (ctx.edgeMember && client.component === "edge") return true;
  return ctx.dependsOn.has(server.name) || mentions(ctx.text, ctx.aliases);
}

function publishEdges(service: ServiceInfo): TopologyEdge[] {
  const byIp = new Map<string, number[]>();
  for (const p of service.ports) byIp.set(p.ip, [...(byIp.get(p.ip) ?? []), p.external]);
  return [...byIp.entries()].map(([ip, ports]) => ({
    from: ip === "127.0.0.1" || ip === "::1" ? HOST : INTERNET,
    to: nodeId(service.name),
    label: `${ip}:${[...new Set(ports)].sort((a, b) => a - b).join(",")}`,
    kind: "publish" as const,
  }));
}

/** Numbered members of one cluster ("rabbitmq-1", "rabbitmq-2") share a node: name → family. */
export function families(services: readonly ServiceInfo[]): Map<string, string> {
  const base = (s: ServiceInfo) => s.name.replace(/-\d+$/, "");
  const counts = new Map<string, number>();
  for (const s of services) counts.set(`${s.component}:${base(s)}`, (counts.get(`${s.component}:${base(s)}`) ?? 0) + 1);
  return new Map(services.map((s) => [s.name, (counts.get(`${s.component}:${base(s)}`) ?? 0) > 1 ? base(s) : s.name]));
}

/** The tier (network purpose) a data service belongs to: postgres-pooler → postgres. */
function tierOf(service: ServiceInfo): string | undefined {
  if (service.component !== "data") return undefined;
  return service.networks.find((n) => service.name === n.purpose || service.name.startsWith(`${n.purpose}-`))?.purpose;
}

export function groupId(group: string, subgroup?: string): string {
  return `g_${[group, subgroup]
    .filter(Boolean)
    .join("_")
    .replace(/[^A-Za-z0-9]/g, "_")}`;
}

function serviceEdges(inventory: StackInventory, json: TerraformJson, nodeOf: (service: string) => string): TopologyEdge[] {
  // Swarm services and their configs sit next to the containers: one lookup for all of them.
  const containers = [...ofType(json, "docker_container"), ...ofType(json, "docker_service")];
  const all = new Map([...containers, ...ofType(json, "docker_config")].map((c) => [c.address, c]));
  const serviceOfAddress = new Map(containers.map((c) => [c.address, label(c.body, LABELS.service) ?? c.name]));
  const running = (s: ServiceInfo) => s.addresses.map((a) => all.get(a)!).filter(Boolean);
  const out: TopologyEdge[] = [];
  for (const client of inventory.services) {
    const mine = running(client);
    const dependsOn = new Set(mine.flatMap((c) => asArray(c.body.depends_on)).map((d) => serviceOfAddress.get(String(d)) ?? ""));
    const text = configTextOf(mine, all);
    for (const server of inventory.services) {
      const shared = sharedNetworks(client, server);
      if (shared.length === 0) continue;
      const ctx = { dependsOn, text, aliases: aliasesOf(running(server)), edgeMember: shared.some(isEdgeNetwork) };
      if (!talksTo(client, server, ctx)) continue;
      const via = client.component === "edge" && ctx.edgeMember ? shared.find(isEdgeNetwork)! : callNetwork(server, shared)!;
      out.push({ from: nodeOf(client.name), to: nodeOf(server.name), label: via.purpose, kind: "talks", network: via.purpose });
    }
    out.push(...publishEdges(client).map((e) => ({ ...e, to: nodeOf(client.name) })));
    const egress = client.networks.find((n) => !n.internal);
    // A container on a routed network can open connections to the internet.
    if (egress) out.push({ from: nodeOf(client.name), to: INTERNET, label: egress.purpose, kind: "egress", network: egress.purpose });
  }
  return out;
}

/** One arrow per client and network to a tier when it talks to several of the tier's nodes. */
function collapseToTiers(edges: readonly TopologyEdge[], nodes: readonly TopologyNode[]): TopologyEdge[] {
  const tier = new Map(nodes.filter((n) => n.subgroup).map((n) => [n.id, groupId(n.group, n.subgroup)]));
  const targets = new Map<string, Set<string>>();
  for (const e of edges) {
    const t = tier.get(e.to);
    if (e.kind !== "talks" || !t || tier.get(e.from) === t) continue;
    const key = `${e.from}|${e.label}|${t}`;
    targets.set(key, (targets.get(key) ?? new Set()).add(e.to));
  }
  const out: TopologyEdge[] = [];
  for (const e of edges) {
    const t = tier.get(e.to);
    const key = `${e.from}|${e.label}|${t}`;
    if (e.kind === "talks" && t && (targets.get(key)?.size ?? 0) > 1) out.push({ ...e, to: t, toGroup: true });
    else out.push(e);
  }
  return out;
}

function dedupe(edges: readonly TopologyEdge[]): TopologyEdge[] {
  const seen = new Map<string, TopologyEdge>();
  for (const e of edges) if (e.from !== e.to && !seen.has(`${e.from}>${e.to}>${e.kind}`)) seen.set(`${e.from}>${e.to}>${e.kind}`, e);
  return [...seen.values()].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to));
}

export function buildTopology(inventory: StackInventory, json: TerraformJson): Topology {
  const family = families(inventory.services);
  const nodeOf = (service: string) => nodeId(family.get(service) ?? service);
  const nodes = new Map<string, TopologyNode & { replicas: number; name: string }>();
  for (const s of inventory.services) {
    const id = nodeOf(s.name);
    const existing = nodes.get(id);
    const tier = tierOf(s);
    const name = family.get(s.name) ?? s.name;
    const replicas = (existing?.replicas ?? 0) + s.replicas;
    nodes.set(id, {
      id,
      name,
      replicas,
      label: replicas > 1 ? `${name} ×${replicas}` : name,
      group: s.component,
      ...(tier ? { subgroup: tier } : {}),
    });
  }
  // A tier of one node needs no box of its own.
  const tierSize = new Map<string, number>();
  for (const n of nodes.values()) if (n.subgroup) tierSize.set(n.subgroup, (tierSize.get(n.subgroup) ?? 0) + 1);
  const serviceNodes = [...nodes.values()].map(({ id, label, group, subgroup }) => ({
    id,
    label,
    group,
    ...(subgroup && tierSize.get(subgroup)! > 1 ? { subgroup } : {}),
  }));
  const edges = dedupe(collapseToTiers(dedupe(serviceEdges(inventory, json, nodeOf)), serviceNodes));
  const externals: TopologyNode[] = [];
  if (edges.some((e) => e.from === INTERNET || e.to === INTERNET)) externals.push({ id: INTERNET, label: "internet", group: "external" });
  if (edges.some((e) => e.from === HOST)) externals.push({ id: HOST, label: "host (127.0.0.1)", group: "external" });
  const purposes = [...new Set(inventory.networks.map((n) => n.purpose))].sort();
  return {
    stack: inventory.stack,
    nodes: [...externals, ...serviceNodes],
    edges,
    networks: inventory.networks.map((n) => ({
      purpose: n.purpose,
      name: n.name,
      internal: n.internal,
      color: PALETTE[purposes.indexOf(n.purpose) % PALETTE.length]!,
    })),
    seeds: inventory.seeds.length,
  };
}

interface Cluster {
  readonly group: string;
  readonly nodes: readonly TopologyNode[];
  readonly tiers: readonly { readonly tier: string; readonly nodes: readonly TopologyNode[] }[];
}

function clustersOf(topology: Topology): Cluster[] {
  const groups = new Map<string, TopologyNode[]>();
  for (const n of topology.nodes) groups.set(n.group, [...(groups.get(n.group) ?? []), n]);
  const order = (g: string) => (GROUP_ORDER.indexOf(g) >= 0 ? GROUP_ORDER.indexOf(g) : GROUP_ORDER.length);
  return [...groups.entries()]
    .sort(([a], [b]) => order(a) - order(b) || a.localeCompare(b))
    .map(([group, nodes]) => {
      const tiers = new Map<string, TopologyNode[]>();
      for (const n of nodes) if (n.subgroup) tiers.set(n.subgroup, [...(tiers.get(n.subgroup) ?? []), n]);
      return {
        group,
        nodes: nodes.filter((n) => !n.subgroup),
        tiers: [...tiers.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([tier, list]) => ({ tier, nodes: list })),
      };
    });
}

function groupOf(topology: Topology, id: string): string | undefined {
  return topology.nodes.find((n) => n.id === id)?.group;
}

function colorOf(topology: Topology, network: string | undefined): string {
  return topology.networks.find((n) => n.purpose === network)?.color ?? "#555555";
}

// ---------------------------------------------------------------------------------------------
// Mermaid
// ---------------------------------------------------------------------------------------------

function mermaidNode(n: TopologyNode, indent: string): string {
  return n.group === "external" ? `${indent}${n.id}((${mermaidText(n.label)}))` : `${indent}${n.id}[${mermaidText(n.label)}]`;
}

export function renderMermaid(topology: Topology): string {
  const lines = ["flowchart LR"];
  lines.push(`  %% ${topology.stack}: replicas collapsed; ${topology.seeds} seeds (config/secret carriers) not drawn`);
  for (const c of clustersOf(topology)) {
    if (c.group === "external") {
      lines.push(...c.nodes.map((n) => mermaidNode(n, "  ")));
      continue;
    }
    lines.push(`  subgraph ${groupId(c.group)}[${mermaidText(c.group)}]`);
    lines.push(...c.nodes.map((n) => mermaidNode(n, "    ")));
    for (const t of c.tiers)
      lines.push(
        `    subgraph ${groupId(c.group, t.tier)}[${mermaidText(t.tier)}]`,
        ...t.nodes.map((n) => mermaidNode(n, "      ")),
        "    end",
      );
    lines.push("  end");
  }
  const styles: string[] = [];
  topology.edges.forEach((e, i) => {
    const arrow = e.kind === "egress" ? "-.->" : e.kind === "publish" ? "==>" : "-->";
    lines.push(`  ${e.from} ${arrow}|${mermaidText(e.label)}| ${e.to}`);
    if (e.kind !== "publish") styles.push(`  linkStyle ${i} stroke:${colorOf(topology, e.network)}`);
  });
  return [...lines, ...styles].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Graphviz DOT
// ---------------------------------------------------------------------------------------------

const GROUP_FILL: Record<string, string> = {
  edge: "#fff4e0",
  app: "#e8f1fb",
  job: "#f3f3f3",
  data: "#eaf7ea",
  proxy: "#fbeaea",
  observability: "#f4ecfb",
};

function dotCluster(id: string, label: string, fill: string, border: string, body: readonly string[], indent: string): string[] {
  return [
    `${indent}subgraph cluster_${id} {`,
    `${indent}  label=${dotText(label)}; style="rounded,filled"; color=${dotText(border)}; fillcolor=${dotText(fill)};`,
    ...body,
    `${indent}}`,
  ];
}

export function renderDot(topology: Topology): string {
  const title = `${topology.stack}: who talks to whom (arrow colour = network, see legend; replicas collapsed; ${topology.seeds} seeds not drawn)`;
  const lines = [
    `digraph ${dotText(topology.stack)} {`,
    `  graph [rankdir=LR, compound=true, fontname="Helvetica", fontsize=14, labelloc=t, label=${dotText(title)}, nodesep=0.25, ranksep=1.1, newrank=true];`,
    `  node [shape=box, style="rounded,filled", fillcolor="white", fontname="Helvetica", fontsize=11];`,
    `  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];`,
  ];
  const tierAnchor = new Map<string, string>();
  for (const c of clustersOf(topology)) {
    if (c.group === "external") {
      for (const n of c.nodes)
        lines.push(`  ${n.id} [label=${dotText(n.label)}, shape=ellipse, style="filled,bold", fillcolor="#ffffff"];`);
      continue;
    }
    const body = c.nodes.map((n) => `    ${n.id} [label=${dotText(n.label)}];`);
    for (const t of c.tiers) {
      // Arrows to a tier end on its border: an invisible anchor inside takes their heads.
      const anchor = `${groupId(c.group, t.tier)}_anchor`;
      tierAnchor.set(groupId(c.group, t.tier), anchor);
      // The tier's border takes its network's colour, so arrows into the tier read as "this network".
      body.push(
        ...dotCluster(
          groupId(c.group, t.tier),
          t.tier,
          "#ffffff",
          colorOf(topology, t.tier),
          [
            `      ${anchor} [shape=point, width=0.01, style=invis, label=""];`,
            ...t.nodes.map((n) => `      ${n.id} [label=${dotText(n.label)}];`),
          ],
          "    ",
        ),
      );
    }
    lines.push(...dotCluster(groupId(c.group), c.group, GROUP_FILL[c.group] ?? "#f7f7f7", "#bbbbbb", body, "  "));
  }
  for (const e of topology.edges) {
    const color = e.kind === "publish" ? "#000000" : colorOf(topology, e.network);
    const style = e.kind === "egress" ? "dashed" : e.kind === "publish" ? "bold" : "solid";
    const attrs = [`color=${dotText(color)}`, `style=${style}`];
    if (e.kind !== "talks") attrs.push(`label=${dotText(e.label)}`);
    // Arrows back to the front (egress to the internet, scrapes of the edge proxy) must not pull the layout.
    if (e.kind === "egress" || (e.kind === "talks" && groupOf(topology, e.to) === "edge")) attrs.push("constraint=false");
    const head = e.toGroup ? tierAnchor.get(e.to) : e.to;
    if (e.toGroup) attrs.push(`lhead=cluster_${e.to}`);
    if (head) lines.push(`  ${e.from} -> ${head} [${attrs.join(", ")}];`);
  }
  // Legend: one row per network, in its arrow colour.
  const rows = topology.networks
    .map(
      (n) =>
        `<tr><td><font color="${n.color}">&#9472;&#9472;&#9472;</font></td><td align="left">${dotHtmlText(n.name)}${n.internal ? " (internal)" : " (routed out)"}</td></tr>`,
    )
    .join("");
  lines.push(
    `  legend [shape=plaintext, style="", label=<<table border="0" cellborder="0" cellspacing="2"><tr><td colspan="2"><b>networks</b></td></tr>${rows}</table>>];`,
  );
  lines.push("}");
  return lines.join("\n");
}
