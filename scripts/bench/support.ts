/**
 * Plumbing of `npm run bench` (scripts/bench.ts): scratch directories, running an app command the
 * way cdktf-cli does (through scripts/lib/process.ts), reading what it wrote, statistics and output.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run, stopProcessGroups, type RunResult } from "../lib/process";
import { resourceCounts, type ResourceCounts } from "./runtime";

export const ROOT = path.resolve(__dirname, "..", "..");

// ---------------------------------------------------------------------------------------------
// Scratch space (outside the project; removed at exit, also on Ctrl-C)
// ---------------------------------------------------------------------------------------------

const SCRATCH = mkdtempSync(path.join(os.tmpdir(), "updateio-bench-"));
let scratchCount = 0;

function cleanup(): void {
  rmSync(SCRATCH, { recursive: true, force: true });
}
process.on("exit", cleanup);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    stopProcessGroups();
    cleanup();
    process.exit(signal === "SIGINT" ? 130 : 143);
  });
}

/** A fresh directory (or, with `file`, a fresh file name) in the scratch space. */
export function scratch(label: string, file = false): string {
  const p = path.join(SCRATCH, `${label}-${++scratchCount}${file ? ".json" : ""}`);
  if (!file) mkdirSync(p);
  return p;
}

/** Runs `body` with a fresh output directory and a report file name, and removes both afterwards. */
export async function withScratch<T>(label: string, body: (outdir: string, report: string) => Promise<T>): Promise<T> {
  const outdir = scratch(label);
  const report = scratch(`${label}-report`, true);
  try {
    return await body(outdir, report);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
    rmSync(report, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Running apps
// ---------------------------------------------------------------------------------------------

export class RunFailure extends Error {
  constructor(
    readonly what: string,
    readonly command: string,
    readonly cwd: string,
    readonly result: RunResult,
  ) {
    super(`${what} failed (${result.spawnError ?? `exit code ${result.code}`}): ${command}`);
  }
}

/** Runs `command` through a shell in its own process group (as cdktf-cli's shell() does); throws unless it exits 0. */
export async function runOk(what: string, command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  const result = await run(command, [], { cwd, env, shell: true, processGroup: true });
  if (result.code !== 0) throw new RunFailure(what, command, cwd, result);
  return result;
}

export interface CdktfJson {
  app: string;
  context?: Record<string, unknown>;
  terraformModules?: (string | { source: string })[];
}

export function readCdktfJson(dir: string): CdktfJson {
  return JSON.parse(readFileSync(path.join(dir, "cdktf.json"), "utf8")) as CdktfJson;
}

/**
 * The environment cdktf-cli 0.21 gives the app command (@cdktf/cli-core SynthStack.synth): the
 * caller's environment minus TF_VAR_*, NODE_OPTIONS=--max-old-space-size=4096 when NODE_OPTIONS is
 * unset, CDKTF_OUTDIR, CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS, CDKTF_CONTEXT_JSON (cdktf.json's
 * context, which the CLI puts in the environment first, plus the relative Terraform modules) and
 * SYNTH_HCL_OUTPUT. The app runs through a shell in the project folder.
 */
export function cdktfAppEnv(config: CdktfJson, outdir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("TF_VAR_")));
  if (!env.NODE_OPTIONS) env.NODE_OPTIONS = "--max-old-space-size=4096";
  const context =
    config.context ?? (process.env.CDKTF_CONTEXT_JSON ? (JSON.parse(process.env.CDKTF_CONTEXT_JSON) as Record<string, unknown>) : {});
  const relativeModules = (config.terraformModules ?? []).filter((m) => {
    const source = typeof m === "string" ? m : m.source;
    return source.startsWith("./") || source.startsWith("../");
  });
  return {
    ...env,
    CDKTF_OUTDIR: outdir,
    CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS: "true",
    CDKTF_CONTEXT_JSON: JSON.stringify({ ...context, cdktfRelativeModules: relativeModules }),
    SYNTH_HCL_OUTPUT: "false",
    ...extra,
  };
}

interface Manifest {
  stacks: Record<string, { synthesizedStackPath?: string }>;
}

function readManifest(outdir: string, what: string): Manifest {
  const file = path.join(outdir, "manifest.json");
  if (!existsSync(file)) throw new Error(`${what}: exited 0 but wrote no ${file}; did the app call app.synth()?`);
  return JSON.parse(readFileSync(file, "utf8")) as Manifest;
}

/** Stack names from the manifest an app run wrote (and proof that it wrote one). */
export function synthesizedStacks(outdir: string, what: string): string[] {
  return Object.keys(readManifest(outdir, what).stacks).sort();
}

/** Resource counts of every stack an app run wrote, by stack name. */
export function stackCounts(outdir: string): Map<string, ResourceCounts> {
  const manifest = readManifest(outdir, "app");
  return new Map(
    Object.entries(manifest.stacks).map(([name, s]) => {
      const file = path.join(outdir, s.synthesizedStackPath ?? path.join("stacks", name, "cdk.tf.json"));
      return [name, resourceCounts(JSON.parse(readFileSync(file, "utf8")))];
    }),
  );
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

export function packageVersion(name: string): string {
  try {
    return readJson<{ version: string }>(path.join(ROOT, "node_modules", name, "package.json")).version;
  } catch {
    return "not installed";
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting
// ---------------------------------------------------------------------------------------------

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
export const min = (xs: readonly number[]) => Math.min(...xs);
export const max = (xs: readonly number[]) => Math.max(...xs);
/** Least-squares slope of y over x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}
export const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
export const msf = (ms: number) => `${Math.round(ms)} ms`;
export const times = (x: number) => `${x.toFixed(2)}×`;
export const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");
export function spread(xs: readonly number[], fmt: (ms: number) => string = sec): string {
  return xs.length === 1
    ? `${fmt(xs[0]!)} (1 run)`
    : `median ${fmt(median(xs))}  (min ${fmt(min(xs))}, max ${fmt(max(xs))}, ${xs.length} runs)`;
}
/** "median (min–max)", or the one figure. */
export const range = (xs: readonly number[], fmt: (ms: number) => string) =>
  xs.length === 1 ? fmt(xs[0]!) : `${fmt(median(xs))} (${fmt(min(xs))}–${fmt(max(xs))})`;
export const pad = (s: string, n: number) => s.padEnd(n);
export const lpad = (s: string, n: number) => s.padStart(n);
export function heading(text: string): void {
  process.stdout.write(`\n== ${text} ==\n`);
}
export function line(text = ""): void {
  process.stdout.write(`${text}\n`);
}
/** A target line of the summary: name, figure, target, PASS/MISS. */
export function targetLine(name: string, figure: string, target: string, ok: boolean): void {
  line(`  ${pad(name, 50)}${lpad(figure, 9)}   target ${pad(target, 10)} ${verdict(ok)}`);
}
/** A summary line without a target, in the target lines' columns. */
export function infoLine(name: string, figure: string, note: string): void {
  line(`  ${pad(name, 50)}${lpad(figure, 9)}   ${note}`);
}
