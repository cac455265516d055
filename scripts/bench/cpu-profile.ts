/**
 * Summary of a V8 CPU profile (`node --cpu-prof`): self time by function and by file/package, and
 * the inclusive time of the functions named on the command line. Used by `npm run bench -- --cpu-prof`
 * (scripts/bench.ts) and by hand:
 *
 *   npx tsx scripts/bench/cpu-profile.ts <file.cpuprofile> [--top N] [--total name ...]
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Self time per function ("name file:line"), largest first. */
  readonly functions: readonly [string, number][];
  /** Self time per file group (a package, a project folder, node internals, GC, ...), largest first. */
  readonly groups: readonly [string, number][];
  /** Inclusive time of the requested function names (time with that function anywhere on the stack). */
  readonly totals: Readonly<Record<string, number>>;
}

/** Where a script URL belongs: its npm package, the project folder, or a node/V8 bucket. */
export function fileGroup(url: string, root: string): string {
  if (url === "") return "(native / V8)";
  if (url.startsWith("node:")) return "node internals";
  const file = url.startsWith("file://") ? decodeURIComponent(url.slice("file://".length)) : url;
  const nm = file.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const parts = file.slice(nm + "/node_modules/".length).split("/");
    return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (file.startsWith(`${root}/`)) {
    const rel = path.relative(root, file).split("/");
    return rel.length > 2 ? `${rel[0]}/${rel[1]}/` : rel.join("/");
  }
  return file;
}

export function summarizeProfile(profile: CpuProfile, root: string, totalsOf: readonly string[] = []): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; attribute it to the sample (as Chrome DevTools does).
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const functions = new Map<string, number>();
  const groups = new Map<string, number>();
  const totals: Record<string, number> = Object.fromEntries(totalsOf.map((t) => [t, 0]));
  for (const [id, ms] of self) {
    const f = byId.get(id)!.callFrame;
    const file = f.url === "" ? "" : ` ${path.relative(root, f.url.replace(/^file:\/\//, ""))}:${f.lineNumber + 1}`;
    const key = `${f.functionName || "(anonymous)"}${file}`;
    functions.set(key, (functions.get(key) ?? 0) + ms);
    const g = f.functionName === "(garbage collector)" ? "(garbage collector)" : fileGroup(f.url, root);
    groups.set(g, (groups.get(g) ?? 0) + ms);
    if (totalsOf.length > 0) {
      // Inclusive: count each requested name once per sample, whatever the recursion depth.
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const name = byId.get(at)!.callFrame.functionName;
        if (Object.hasOwn(totals, name) && !seen.has(name)) {
          seen.add(name);
          totals[name]! += ms;
        }
      }
    }
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { totalMs: (profile.endTime - profile.startTime) / 1000, functions: sorted(functions), groups: sorted(groups), totals };
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
}

/** Text lines: top self-time groups and functions, and the requested inclusive totals. */
export function formatSummary(s: ProfileSummary, top: number, indent = "  "): string[] {
  const row = (name: string, ms: number) =>
    `${indent}  ${ms.toFixed(0).padStart(6)} ms  ${((100 * ms) / s.totalMs).toFixed(1).padStart(5)}%  ${name}`;
  return [
    `${indent}profiled ${s.totalMs.toFixed(0)} ms; self time by package / folder:`,
    ...s.groups.slice(0, top).map(([n, ms]) => row(n, ms)),
    `${indent}top functions by self time:`,
    ...s.functions.slice(0, top).map(([n, ms]) => row(n, ms)),
    ...(Object.keys(s.totals).length > 0 ? [`${indent}inclusive time (function anywhere on the stack):`] : []),
    ...Object.entries(s.totals).map(([n, ms]) => row(n, ms)),
  ];
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith("--") && !/^\d+$/.test(a));
  if (!file) throw new Error("usage: cpu-profile.ts <file.cpuprofile> [--top N] [--total name ...]");
  const topAt = args.indexOf("--top");
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
  const totals = args.flatMap((a, i) => (args[i - 1] === "--total" ? [a] : []));
  const root = path.resolve(__dirname, "..", "..");
  process.stdout.write(`${formatSummary(summarizeProfile(readProfile(file), root, totals), top).join("\n")}\n`);
}
