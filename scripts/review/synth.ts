/**
 * Getting synth output to review: the current tree in-process (main.ts itself, so the review sees
 * exactly what `cdktf synth` writes), an earlier commit in a temporary git worktree, or a folder.
 * Temporary folders and worktrees are removed at exit, also on Ctrl-C or a failed synth.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";
import type { IConstruct } from "constructs";
import type { Annotation } from "./inventory";
import { STACK_NAME } from "./stages-file";
import type { TerraformJson } from "./terraform-json";

export interface SynthStack {
  readonly name: string;
  readonly json: TerraformJson;
  readonly annotations: readonly Annotation[];
}

export class ReviewError extends Error {}

// ---------------------------------------------------------------------------------------------
// Cleanup that also runs when the process is interrupted
// ---------------------------------------------------------------------------------------------

const cleanups: (() => void)[] = [];
let hooked = false;

function runCleanups(): void {
  while (cleanups.length > 0) {
    try {
      cleanups.pop()!();
    } catch {
      // best effort: one failed cleanup must not keep the others from running
    }
  }
}

/** Registers `fn` to run at exit (normal, error, Ctrl-C); returns a function that runs it now. */
export function onExit(fn: () => void): () => void {
  if (!hooked) {
    hooked = true;
    process.on("exit", runCleanups);
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(signal === "SIGINT" ? 130 : 143));
  }
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    const i = cleanups.indexOf(once);
    if (i >= 0) cleanups.splice(i, 1);
    fn();
  };
  cleanups.push(once);
  return once;
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: onExit(() => rmSync(path, { recursive: true, force: true })) };
}

// ---------------------------------------------------------------------------------------------
// Reading a cdktf.out folder
// ---------------------------------------------------------------------------------------------

interface ManifestStack {
  readonly synthesizedStackPath?: string;
  readonly annotations?: Annotation[];
}

/** Every stack of a cdktf.out folder (manifest.json + stacks/<name>/cdk.tf.json), checked by checkSynthStack. */
export function readSynthOutput(dir: string): SynthStack[] {
  const root = resolve(dir);
  const manifestPath = join(root, "manifest.json");
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { stacks?: Record<string, ManifestStack> };
    return Object.entries(manifest.stacks ?? {}).map(([name, s]) => {
      const file = resolve(root, s.synthesizedStackPath ?? join("stacks", name, "cdk.tf.json"));
      // The manifest is synth output too: it must not point the review at a file outside the folder.
      if (relative(root, file).startsWith("..") || isAbsolute(relative(root, file)))
        throw new ReviewError(
          `${manifestPath}: stack ${JSON.stringify(name)} has synthesizedStackPath ${JSON.stringify(s.synthesizedStackPath)} outside ${root}; refusing to read it: synthesize again`,
        );
      return checkSynthStack({ name, json: readJson(file), annotations: s.annotations ?? [] });
    });
  }
  const stacksDir = join(root, "stacks");
  if (!existsSync(stacksDir)) throw new ReviewError(`${dir} is not a cdktf.out folder: it has neither manifest.json nor stacks/`);
  return readdirSync(stacksDir)
    .filter((name) => existsSync(join(stacksDir, name, "cdk.tf.json")))
    .sort()
    .map((name) => checkSynthStack({ name, json: readJson(join(stacksDir, name, "cdk.tf.json")), annotations: [] }));
}

/** Terraform's identifier rules, ASCII only (what cdktf writes): Terraform refuses other names anyway. */
const RESOURCE_TYPE = /^[a-z][a-z0-9_]{0,100}$/;
const RESOURCE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,250}$/;

/**
 * Refuses a stack whose name or resource addresses are not plain identifiers. Stack names become
 * file names (<out>/<stack>.md, .svg) and addresses reach `-target=` and `-replace=` lines the
 * reviewer may copy into a shell, so neither may carry a path, a quote, a backtick or a control character.
 */
export function checkSynthStack(stack: SynthStack): SynthStack {
  if (!STACK_NAME.test(stack.name))
    throw new ReviewError(
      `stack name ${JSON.stringify(stack.name)} does not match ${STACK_NAME}: refusing to review it (it names the report files); name the stack like dev, test, prod`,
    );
  for (const [type, byName] of Object.entries(stack.json.resource ?? {})) {
    for (const name of Object.keys(typeof byName === "object" && byName !== null ? byName : {})) {
      if (!RESOURCE_TYPE.test(type) || !RESOURCE_NAME.test(name))
        throw new ReviewError(
          `stack ${stack.name}: resource address ${JSON.stringify(`${type}.${name}`)} is not a Terraform identifier (letters, digits, _ and -, starting with a letter or _); refusing to review it: fix the construct id or the overrideLogicalId`,
        );
    }
  }
  return stack;
}

function readJson(path: string): TerraformJson {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as TerraformJson;
  } catch (e) {
    throw new ReviewError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

const ANNOTATION_LEVELS = new Set(["@cdktf/info", "@cdktf/warn", "@cdktf/error"]);

/** The annotations a synth would write to manifest.json, read from the construct tree (after Testing.synth). */
export function annotationsOfConstructs(root: IConstruct): Annotation[] {
  return root.node
    .findAll()
    .flatMap((c) =>
      c.node.metadata
        .filter((m) => ANNOTATION_LEVELS.has(m.type))
        .map((m) => ({ constructPath: c.node.path, level: m.type, message: String(m.data) })),
    );
}

// ---------------------------------------------------------------------------------------------
// Synthesizing
// ---------------------------------------------------------------------------------------------

/**
 * Runs the project's app (environments/synth-app.ts, what main.ts runs) in this process with
 * CDKTF_OUTDIR pointing at `outdir`: one synth, no second Node start. It prints its own messages
 * on invalid config; the review then stops with its exit code.
 */
export async function synthInProcess(root: string, outdir: string): Promise<SynthStack[]> {
  // The app itself, not main.ts: main.ts would read the review's own flags as stack names, and
  // its synth is asynchronous, so importing it returns before anything is written.
  const { synthApp } = (await import(join(root, "environments", "synth-app.ts"))) as typeof import("../../environments/synth-app");
  let code: number;
  try {
    code = await synthApp([], { ...process.env, CDKTF_OUTDIR: outdir });
  } catch (e) {
    throw new ReviewError(`synth failed: ${(e as Error).message}`);
  }
  if (code !== 0) throw new ReviewError(`synth failed (exit ${code}): see its messages above`);
  return readSynthOutput(outdir);
}

function git(root: string, args: readonly string[]): string {
  const result = spawnSync("git", ["-C", root, ...args], { encoding: "utf8" });
  if (result.error) throw new ReviewError(`git ${args.join(" ")}: ${result.error.message}`);
  if (result.status !== 0) throw new ReviewError(`git ${args.join(" ")} failed: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", fail);
    child.on("close", (code) => done({ code: code ?? 1, stderr }));
  });
}

/**
 * Synthesizes commit `ref`: a detached worktree in a temp dir sharing this project's node_modules,
 * main.ts run there with tsx (as cdktf.json's app does), the worktree removed afterwards.
 */
export async function synthGitRef(root: string, ref: string, outdir: string): Promise<{ stacks: SynthStack[]; commit: string }> {
  const commit = git(root, ["rev-parse", "--verify", `${ref}^{commit}`]);
  const tmp = tempDir("review-git-");
  const tree = join(tmp.path, "tree");
  git(root, ["worktree", "add", "--detach", "--quiet", tree, commit]);
  const removeTree = onExit(() => {
    spawnSync("git", ["-C", root, "worktree", "remove", "--force", tree], { stdio: "ignore" });
    spawnSync("git", ["-C", root, "worktree", "prune"], { stdio: "ignore" });
  });
  try {
    symlinkSync(join(root, "node_modules"), join(tree, "node_modules"), "dir");
    const tsx = join(root, "node_modules", ".bin", "tsx");
    const { code, stderr } = await run(tsx, ["main.ts"], { cwd: tree, env: { ...process.env, CDKTF_OUTDIR: outdir } });
    if (code !== 0) throw new ReviewError(`synth of ${ref} (${commit.slice(0, 12)}) failed with exit code ${code}:\n${stderr.trim()}`);
    return { stacks: readSynthOutput(outdir), commit };
  } finally {
    removeTree();
    tmp.remove();
  }
}
