/**
 * The topology picture: who talks to whom on synthesized dev and prod stacks, and the Mermaid text
 * checked for structure (no Mermaid parser is installed: declared ids, balanced subgraphs, edge syntax).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { buildInventory, type StackInventory } from "../../scripts/review/inventory";
import { buildTopology, nodeId, renderMermaid, type Topology } from "../../scripts/review/topology";
import { sharedEnvironment } from "../support/stacks";
import { baseStack } from "./fixtures";

const topologies = {} as Record<"dev" | "prod", Topology>;
const inventories = {} as Record<"dev" | "prod", StackInventory>;
beforeAll(() => {
  for (const name of ["dev", "prod"] as const) {
    const env = sharedEnvironment(name);
    inventories[name] = buildInventory(name, env.json);
    topologies[name] = buildTopology(inventories[name], env.json);
  }
});

const RESERVED = new Set(["end", "subgraph", "graph", "flowchart", "style", "class", "classDef", "click", "linkStyle", "direction"]);
const ID = "[A-Za-z_][A-Za-z0-9_]*";

/** Problems in a Mermaid flowchart, checked line by line; empty when well-formed. */
function mermaidProblems(text: string): string[] {
  const problems: string[] = [];
  const lines = text.split("\n");
  if (lines[0] !== "flowchart LR") problems.push(`first line is "${lines[0]}", not "flowchart LR"`);
  const declared = new Set<string>();
  const edges: [string, string][] = [];
  let depth = 0;
  let links = 0;
  const styled: number[] = [];
  for (const raw of lines.slice(1)) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if (line === "" || line.startsWith("%%")) continue;
    if ((m = new RegExp(`^subgraph (${ID})\\["[^"]*"\\]$`).exec(line))) {
      depth++;
      declared.add(m[1]!);
    } else if (line === "end") {
      depth--;
      if (depth < 0) problems.push("`end` without a subgraph");
    } else if ((m = new RegExp(`^(${ID})(\\["[^"]*"\\]|\\(\\("[^"]*"\\)\\))$`).exec(line))) {
      if (declared.has(m[1]!)) problems.push(`${m[1]} declared twice`);
      declared.add(m[1]!);
    } else if ((m = new RegExp(`^(${ID}) (-->|-\\.->|==>)\\|"[^"]*"\\| (${ID})$`).exec(line))) {
      edges.push([m[1]!, m[3]!]);
      links++;
    } else if ((m = /^linkStyle (\d+) stroke:#[0-9a-f]{6}$/.exec(line))) {
      styled.push(Number(m[1]));
    } else problems.push(`unparsed line: ${line}`);
  }
  if (depth !== 0) problems.push(`${depth} subgraph(s) not closed`);
  for (const id of declared) if (RESERVED.has(id)) problems.push(`reserved word used as id: ${id}`);
  for (const [a, b] of edges) for (const id of [a, b]) if (!declared.has(id)) problems.push(`edge uses undeclared ${id}`);
  for (const i of styled) if (i >= links) problems.push(`linkStyle ${i} but only ${links} links`);
  return problems;
}

const edge = (t: Topology, from: string, to: string) => t.edges.find((e) => e.from === from && e.to === to);

describe("Mermaid well-formedness", () => {
  it.each(["dev", "prod"] as const)("%s: declared ids, balanced subgraphs, valid edges and link styles", (name) => {
    const text = renderMermaid(topologies[name]);
    expect(mermaidProblems(text)).toEqual([]);
    expect(text.split("\n").filter((l) => l.includes("-->") || l.includes("-.->") || l.includes("==>")).length).toBe(
      topologies[name].edges.length,
    );
  });

  it("the checker catches what it should", () => {
    expect(mermaidProblems('flowchart LR\n  subgraph g["x"]\n  a["a"]')).toContain("1 subgraph(s) not closed");
    expect(mermaidProblems('flowchart LR\n  a["a"]\n  a -->|"x"| b')).toContain("edge uses undeclared b");
    expect(mermaidProblems('flowchart LR\n  end["a"]')).toContain("reserved word used as id: end");
  });

  it("quotes in service names are escaped (a raw one would leave the node line unparsed)", () => {
    const s = baseStack();
    const inventory = buildInventory("t", s);
    const odd = { ...inventory, services: inventory.services.map((x) => (x.name === "db" ? { ...x, name: 'd"b' } : x)) };
    expect(mermaidProblems(renderMermaid(buildTopology(odd, s)))).toEqual([]);
  });
});

describe("who talks to whom", () => {
  it("collapses replicas into one node (prod api ×3) and numbered cluster members (rabbitmq ×3)", () => {
    const labels = topologies.prod.nodes.map((n) => n.label);
    expect(labels).toContain("api ×3");
    expect(labels).toContain("rabbitmq ×3");
    expect(labels.filter((l) => l.startsWith("api ")).length).toBe(1);
  });

  it("does not draw seeds", () => {
    expect(topologies.prod.nodes.some((n) => n.label.endsWith("-seed"))).toBe(false);
    expect(topologies.prod.seeds).toBeGreaterThan(10);
  });

  // Network purposes: one shared "edge" network, or one "edge-<service>" per route; likewise for
  // the networks the bots call the API on.
  it("the edge proxy reaches the app services over an edge network", () => {
    for (const to of ["s_api", "s_admin_panel", "s_mini_app"]) expect(edge(topologies.prod, "s_edge", to)?.label).toMatch(/^edge(-|$)/);
  });

  it("the bots call the API over a network both are on, and reach the internet over an egress network", () => {
    for (const bot of ["discord-bot", "telegram-bot"]) {
      const call = edge(topologies.dev, nodeId(bot), "s_api");
      const shared = inventories.dev.networks.filter((n) => n.services.includes(bot) && n.services.includes("api")).map((n) => n.purpose);
      expect(shared).toContain(call?.label);
    }
    expect(edge(topologies.dev, "s_discord_bot", "internet")?.kind).toBe("egress");
  });

  it("a service using postgres talks to it on the postgres network (a tier when it uses several nodes)", () => {
    expect(edge(topologies.dev, "s_api", "s_postgres")?.label).toBe("postgres");
    expect(edge(topologies.prod, "s_api", "g_data_postgres")).toMatchObject({ label: "postgres", toGroup: true });
    expect(edge(topologies.prod, "s_api_migrate", "s_postgres")?.label).toBe("postgres");
  });

  it("shows what is published, with the bind address", () => {
    expect(edge(topologies.prod, "internet", "s_edge")).toMatchObject({ kind: "publish", label: "0.0.0.0:80,443" });
    expect(edge(topologies.dev, "host", "s_edge")).toMatchObject({ kind: "publish", label: "127.0.0.1:80,443" });
    expect(topologies.prod.edges.filter((e) => e.kind === "publish").length).toBe(1);
  });

  it("nobody talks to a one-shot job", () => {
    expect(topologies.prod.edges.some((e) => e.to === "s_api_migrate")).toBe(false);
  });
});
