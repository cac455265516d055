/**
 * The Graphviz rendering of the topology (needs `dot`; skipped locally with the reason when it is
 * missing, a failure under CI=true).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { renderDotFile } from "../../scripts/review/graphviz";
import { buildInventory } from "../../scripts/review/inventory";
import { buildTopology, renderDot } from "../../scripts/review/topology";
import { describeIfBinary } from "../support/binaries";
import { synthEnvironment } from "../support/stacks";

/** SVG text with the entities Graphviz writes for non-ASCII decoded. */
function text(svg: string): string {
  return svg.replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n))).replace(/&amp;/g, "&");
}

describeIfBinary("dot", "topology rendered with Graphviz", () => {
  // Made here, not at module level: the factory only runs when `dot` is there, so a skip leaves nothing behind.
  const OUT = mkdtempSync(join(tmpdir(), "review-dot-test-"));
  afterAll(() => rmSync(OUT, { recursive: true, force: true }));

  it.each(["dev", "prod"] as const)("%s: dot accepts the DOT and the SVG shows every node and network", (name) => {
    const env = synthEnvironment(name, {}, join(OUT, `synth-${name}`));
    const inventory = buildInventory(name, env.json);
    const topology = buildTopology(inventory, env.json);
    const file = join(OUT, `${name}.svg`);
    expect(renderDotFile(renderDot(topology), "svg", file)).toEqual({ ok: true });
    const svg = text(readFileSync(file, "utf8"));
    expect(svg).toMatch(/<svg[\s\S]*<\/svg>\s*$/);
    for (const node of topology.nodes) expect(svg).toContain(`>${node.label}</text>`);
    for (const network of inventory.networks) expect(svg).toContain(network.name);
  });

  it("a DOT syntax error is reported, not thrown", () => {
    const result = renderDotFile("digraph {", "svg", join(OUT, "broken.svg"));
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.reason).toMatch(/dot failed/);
  });
});
