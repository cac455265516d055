/**
 * The runtime kit and every construct module depend on the contract, never on the policy pack:
 * only environments/ applies the policy. Read from the import statements of the source files.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..", "..");
const CONSTRUCTS = join(ROOT, "constructs");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" ? [] : sourceFiles(p);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

/** Module specifiers of every import/export-from, require() and import() in a file. */
function specifiers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gms)) out.push(m[1]!);
  for (const m of text.matchAll(/^\s*import\s*["']([^"']+)["']/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/\b(?:require|import)\s*\(\s*["']([^"']+)["']\s*\)/g)) out.push(m[1]!);
  return out;
}

const outsidePolicy = sourceFiles(CONSTRUCTS).filter((f) => !relative(CONSTRUCTS, f).startsWith(`policy/`));

describe("layering", () => {
  it("reads the construct modules (kit, contract and the service modules)", () => {
    const dirs = new Set(outsidePolicy.map((f) => relative(CONSTRUCTS, f).split("/")[0]));
    expect([...dirs]).toEqual(expect.arrayContaining(["kit", "contract", "edge", "observability", "postgres", "vpn"]));
  });

  it("no file under constructs/ except constructs/policy imports the policy pack", () => {
    const offending = outsidePolicy.flatMap((f) =>
      specifiers(readFileSync(f, "utf8"))
        .filter((s) => /(^|\/)policy(\/|$)/.test(s))
        .map((s) => `${relative(ROOT, f)}: ${s}`),
    );
    expect(offending).toEqual([]);
  });

  it("the parser sees the forms an import of the policy can take", () => {
    const found = specifiers(
      [
        'import { suppressPolicy } from "../policy/policy-aspect";',
        "import {\n  a,\n  b,\n} from '../policy';",
        'export { x } from "../../policy/rules";',
        'import "../policy/index";',
        'const p = require("../policy/rules");',
        'const q = await import("../policy");',
      ].join("\n"),
    );
    expect(found).toEqual([
      "../policy/policy-aspect",
      "../policy",
      "../../policy/rules",
      "../policy/index",
      "../policy/rules",
      "../policy",
    ]);
  });
});
