/** Rendering DOT with Graphviz's `dot`, when it is installed (Debian: graphviz). */
import { spawnSync } from "node:child_process";

export type RenderResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

let cached: RenderResult | undefined;

/** Whether `dot` runs at all (checked once). */
export function dotAvailable(): RenderResult {
  if (cached) return cached;
  const probe = spawnSync("dot", ["-V"], { encoding: "utf8" });
  cached = probe.error
    ? { ok: false, reason: "Graphviz `dot` is not installed (apt-get install graphviz)" }
    : probe.status === 0
      ? { ok: true }
      : { ok: false, reason: `\`dot -V\` exited with ${probe.status}` };
  return cached;
}

/** Renders `source` to `file` in `format` (svg, png). */
export function renderDotFile(source: string, format: "svg" | "png", file: string): RenderResult {
  const available = dotAvailable();
  if (!available.ok) return available;
  const result = spawnSync("dot", [`-T${format}`, "-o", file], { input: source, encoding: "utf8" });
  if (result.error) return { ok: false, reason: `dot failed: ${result.error.message}` };
  if (result.status !== 0) return { ok: false, reason: `dot failed (exit ${result.status}): ${result.stderr.trim()}` };
  return { ok: true };
}
