// The commands and paths our documentation tells people to use must exist: every `npm run <x>` names
// a package.json script, every `npx cdktf <cmd>` is a command the installed cdktf CLI lists, every
// `terraform <cmd>` in a code span is one the installed Terraform lists, every project path and
// relative link points at a file, and `help` lists every script.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { itIfBinary } from "../support/binaries";

const ROOT = path.resolve(__dirname, "..", "..");
const read = (rel: string) => readFileSync(path.join(ROOT, rel), "utf8");
const scripts = Object.keys((JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts);

/**
 * `npm run <x>` that the docs name as the UpdateIO *services'* command (dev runs each service with
 * its devCommand, e.g. the README's "the dev command (`npm run dev`)"), read from environments/dev.ts
 * so this exception cannot outlive the code it describes.
 */
const SERVICE_SCRIPTS = [...read("environments/dev.ts").matchAll(/devCommand:\s*\["npm",\s*"run",\s*"([^"]+)"\]/g)].map((m) => m[1]!);

function filesUnder(dir: string, ext: string): string[] {
  const abs = path.join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(ext) && statSync(path.join(abs, f)).isFile())
    .map((f) => path.posix.join(dir, f.split(path.sep).join("/")))
    .sort();
}

/** Every document that tells people what to run. */
const DOCS = ["README.md", "help", ...filesUnder("docs", ".md"), ...filesUnder(".github/workflows", ".yml")];

interface Mention {
  readonly doc: string;
  readonly line: number;
  readonly text: string;
}

/** Every match of `pattern` (global, group 1 = the name) in every doc, with where it is. */
function mentions(pattern: RegExp, pick: (doc: string, text: string) => string = (_d, t) => t): Mention[] {
  const found: Mention[] = [];
  for (const doc of DOCS) {
    const text = pick(doc, read(doc));
    for (const m of text.matchAll(pattern)) {
      found.push({ doc, line: text.slice(0, m.index).split("\n").length, text: m[1]! });
    }
  }
  return found;
}

/**
 * The parts of a document that are commands: fenced blocks and inline code in Markdown, the whole
 * of `help` and of workflow files. Prose is blanked out (line breaks kept, so line numbers hold).
 */
function codeOnly(doc: string, text: string): string {
  if (!doc.endsWith(".md")) return text;
  const keep = /```[\s\S]*?```|`[^`\n]+`/g;
  let out = "";
  let last = 0;
  for (const m of text.matchAll(keep)) {
    out += text.slice(last, m.index).replace(/[^\n]/g, " ") + m[0];
    last = m.index + m[0].length;
  }
  return out + text.slice(last).replace(/[^\n]/g, " ");
}

const where = (m: Mention) => `${m.doc}:${m.line}: ${m.text}`;

/** Commands and aliases of a CLI's --help: lines like "  cdktf deploy [stacks...]  ...  [aliases: apply]". */
function cdktfCommands(): Set<string> {
  const bin = path.join(ROOT, "node_modules", ".bin", "cdktf");
  const r = spawnSync(bin, ["--help"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, CHECKPOINT_DISABLE: "1" }, timeout: 60_000 });
  const commands = new Set<string>();
  for (const line of `${r.stdout}`.split("\n")) {
    const m = /^\s+cdktf ([a-z][a-z-]*)/.exec(line);
    if (!m) continue;
    commands.add(m[1]!);
    for (const alias of /\[aliases: ([^\]]+)\]/.exec(line)?.[1]?.split(/,\s*/) ?? []) commands.add(alias.trim());
  }
  return commands;
}

describe("documented commands", () => {
  it("finds the documents", () => {
    expect(DOCS).toContain("README.md");
    expect(DOCS).toContain("help");
    expect(DOCS.some((d) => d.startsWith("docs/runbooks/"))).toBe(true);
  });

  it("every `npm run <script>` (and npm test/start) names a script in package.json", () => {
    const runs = mentions(/\bnpm run(?:-script)?\s+([A-Za-z0-9:_.-]+)/g);
    const shorthands = mentions(/\bnpm (test|start|stop|restart)\b/g);
    expect(runs.length).toBeGreaterThan(0);
    const unknown = [...runs, ...shorthands].filter((m) => !scripts.includes(m.text) && !SERVICE_SCRIPTS.includes(m.text));
    expect(unknown.map(where), `package.json scripts are: ${scripts.join(", ")} (services' own: ${SERVICE_SCRIPTS.join(", ")})`).toEqual(
      [],
    );
  });

  it("every `npx cdktf <command>` is a command of the installed cdktf CLI", () => {
    const commands = cdktfCommands();
    expect([...commands]).toEqual(expect.arrayContaining(["deploy", "destroy", "diff", "synth", "list", "output", "get"]));
    const used = [...mentions(/\bnpx cdktf\s+([a-z][a-z-]*)/g), ...mentions(/(?:^|`)\s*cdktf\s+([a-z][a-z-]*)/gm, codeOnly)];
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((m) => !commands.has(m.text)).map(where), `cdktf commands: ${[...commands].sort().join(", ")}`).toEqual([]);
  }, 60_000);

  itIfBinary("terraform", "every `terraform <command>` in code is a command of the installed Terraform", () => {
    const r = spawnSync("terraform", ["-help"], {
      encoding: "utf8",
      env: { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null", CHECKPOINT_DISABLE: "1" },
    });
    const commands = new Set([...`${r.stdout}`.matchAll(/^ {2}([a-z][a-z-]*)\s{2,}/gm)].map((m) => m[1]!));
    expect([...commands]).toEqual(
      expect.arrayContaining(["init", "validate", "plan", "apply", "destroy", "output", "state", "login", "providers"]),
    );
    // At a command position: line start, after a backtick, a pipe, ;, && or $( (not "use terraform directly" in a comment).
    const used = mentions(/(?:^[ \t]*|`[ \t]*|[|;&(][ \t]*)terraform(?:[ \t]+-chdir=\S+)?[ \t]+([a-z][a-z-]*)\b/gm, codeOnly);
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((m) => !commands.has(m.text)).map(where)).toEqual([]);
  });

  it("every project path mentioned (docs/, scripts/, constructs/, environments/, __tests__/, .github/, .ci/) exists", () => {
    const refs = mentions(/(?<![\w/.-])((?:docs|scripts|constructs|environments|__tests__|\.github|\.ci)\/[\w./-]*[\w-])/g);
    expect(refs.length).toBeGreaterThan(0);
    const missing = refs.filter((m) => !existsSync(path.join(ROOT, m.text)));
    expect(missing.map(where)).toEqual([]);
  });

  it("every relative Markdown link points at a file", () => {
    const broken: string[] = [];
    for (const doc of DOCS.filter((d) => d.endsWith(".md"))) {
      const text = read(doc);
      for (const m of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/i.test(target)) continue;
        if (!existsSync(path.resolve(path.dirname(path.join(ROOT, doc)), target))) broken.push(`${doc}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("help lists every package.json script", () => {
    const help = read("help");
    const listed = (s: string) =>
      new RegExp(s === "test" ? "\\bnpm test\\b" : `\\bnpm run ${s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?=\\s|$)`).test(help);
    expect(scripts.filter((s) => !listed(s))).toEqual([]);
  });
});
