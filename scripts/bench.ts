/**
 * `npm run bench`: synth speed figures. A benchmark, not a test: it prints numbers and verdicts
 * against the targets as information, and exits 0 unless an app run itself fails.
 *
 *   npm run bench                      5 interleaved runs of each app, 1 CLI run each, 3 scaling rounds,
 *                                      5 rounds of Swarm vs containers
 *   npm run bench -- --runs 9          more runs of section 1/2
 *   npm run bench -- --quick           smoke check: 1 run of everything
 *   options: --runs N  --cli-runs N (0 skips the CLI)  --scale-runs N  --profile-runs N
 *            --no-profile (skip section 4)  --runtime-runs N
 *
 * Sections
 *   1/2  Our app (main.ts) and a minimal one-container cdktf app, each run with the `app` command of
 *        cdktf.json exactly as `cdktf synth` runs it (a shell, the environment cdktf-cli 0.21 builds
 *        in @cdktf/cli-core SynthStack.synth: CDKTF_OUTDIR, CDKTF_CONTEXT_JSON, ...), interleaved so
 *        machine noise hits both alike; then the full CLI (`npx cdktf synth`) for both.
 *   3    The real app with 1x, 10x and 50x the app services (scripts/bench/scaled-app.ts).
 *   4    Where the time goes (scripts/bench/probe.ts): phases of our app and the minimal one.
 *   5    The Swarm stacks vs the container stacks, same run: the test environment synthesized on its
 *        Swarm runtime and with the runtime switched to containers (scripts/bench/runtime-app.ts),
 *        interleaved; resource counts per stack (dev, test, prod, test on containers).
 *   6    Summary.
 *
 * Every app run writes to a fresh temporary directory (never the project's cdktf.out); the minimal
 * app lives in scripts/bench/.tmp-<pid>/ so that it resolves this project's node_modules, and every
 * temporary directory is removed at the end (also on Ctrl-C).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { resourceCounts, type ResourceCounts } from "./bench/runtime";

const ROOT = path.resolve(__dirname, "..");
const TARGET_RATIO = 1.5;
const TARGET_SCALE_50 = 3;
/**
 * Growth counts as linear (or better) when the cost per added app service from 10x to 50x is at most
 * this multiple of the cost from 1x to 10x; above it, each service costs more the more there are.
 */
const LINEAR_LIMIT = 1.25;
const MULTIPLIERS = [1, 10, 50] as const;

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

interface Options {
  runs: number;
  cliRuns: number;
  scaleRuns: number;
  profileRuns: number;
  profile: boolean;
  runtimeRuns: number;
  quick: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes("--quick");
  const opts: Options = {
    runs: quick ? 1 : 5,
    cliRuns: 1,
    scaleRuns: quick ? 1 : 3,
    profileRuns: quick ? 1 : 3,
    profile: true,
    runtimeRuns: quick ? 1 : 5,
    quick,
  };
  const count = (flag: string, value: string | undefined, min: number): number => {
    const n = Number(value);
    if (value === undefined || !Number.isInteger(n) || n < min) usage(`${flag} needs a whole number ≥ ${min}, got ${value ?? "nothing"}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case "--quick":
        break;
      case "--runs":
        opts.runs = count(flag, value(), 1);
        break;
      case "--cli-runs":
        opts.cliRuns = count(flag, value(), 0);
        break;
      case "--scale-runs":
        opts.scaleRuns = count(flag, value(), 1);
        break;
      case "--profile-runs":
        opts.profileRuns = count(flag, value(), 1);
        break;
      case "--profile":
        opts.profile = true;
        break;
      case "--no-profile":
        opts.profile = false;
        break;
      case "--runtime-runs":
        opts.runtimeRuns = count(flag, value(), 1);
        break;
      case "--help":
      case "-h":
        usage();
        break;
      default:
        usage(`unknown option ${arg}`);
    }
  }
  return opts;
}

function usage(problem?: string): never {
  const text = [
    "usage: npm run bench -- [--runs N] [--quick] [--cli-runs N] [--scale-runs N] [--profile-runs N] [--profile | --no-profile] [--runtime-runs N]",
    "  --runs N          timed runs of each app in sections 1/2 (default 5; --quick: 1)",
    "  --cli-runs N      full `npx cdktf synth` runs of each app (default 1; 0 skips)",
    "  --scale-runs N    rounds of the 1x/10x/50x workload (default 3; --quick: 1)",
    "  --profile-runs N  rounds of the phase probe (default 3; --quick: 1)",
    "  --no-profile      skip section 4 (where the time goes); --profile is the default",
    "  --runtime-runs N  rounds of test on Swarm vs test on containers, section 5 (default 5; --quick: 1)",
  ].join("\n");
  if (problem) {
    process.stderr.write(`bench: ${problem}\n${text}\n`);
    process.exit(2);
  }
  process.stdout.write(`${text}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Temporary directories (removed at exit, also on Ctrl-C)
// ---------------------------------------------------------------------------------------------

const temporaries = new Set<string>();
/** Process groups of the runs in flight (each run gets its own group, so it can be stopped whole). */
const running = new Set<number>();
function cleanup(): void {
  for (const dir of temporaries) rmSync(dir, { recursive: true, force: true });
  temporaries.clear();
}
process.on("exit", cleanup);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    for (const pgid of running) {
      try {
        process.kill(-pgid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    cleanup();
    process.exit(signal === "SIGINT" ? 130 : 143);
  });
}

/** Scratch space outside the project: app outputs and reports. */
const SCRATCH = mkdtempSync(path.join(os.tmpdir(), "updateio-bench-"));
temporaries.add(SCRATCH);
let scratchCount = 0;
function freshDir(label: string): string {
  const dir = path.join(SCRATCH, `${label}-${++scratchCount}`);
  mkdirSync(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------------------------

interface RunResult {
  readonly ms: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

class RunFailure extends Error {
  constructor(
    readonly what: string,
    readonly command: string,
    readonly cwd: string,
    readonly result: RunResult,
  ) {
    super(`${what} failed (${result.signal ? `signal ${result.signal}` : `exit code ${result.code}`}): ${command}`);
  }
}

/** Runs `command` through a shell, as cdktf-cli's shell() does, and returns its wall time in ms. */
function run(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const start = process.hrtime.bigint();
    // detached: its own process group (the shell, npx, tsx and node), which a Ctrl-C here stops whole.
    const child = spawn(command, [], { shell: true, cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    if (child.pid !== undefined) running.add(child.pid);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (child.pid !== undefined) running.delete(child.pid);
      resolve({ ms, code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

async function runOk(what: string, command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<RunResult> {
  const result = await run(command, cwd, env);
  if (result.code !== 0) throw new RunFailure(what, command, cwd, result);
  return result;
}

interface CdktfJson {
  app: string;
  context?: Record<string, unknown>;
  terraformModules?: (string | { source: string })[];
}

function readCdktfJson(dir: string): CdktfJson {
  return JSON.parse(readFileSync(path.join(dir, "cdktf.json"), "utf8")) as CdktfJson;
}

/**
 * The environment cdktf-cli 0.21 gives the app command (@cdktf/cli-core SynthStack.synth): the
 * caller's environment minus TF_VAR_*, NODE_OPTIONS=--max-old-space-size=4096 when NODE_OPTIONS is
 * unset, CDKTF_OUTDIR, CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS, CDKTF_CONTEXT_JSON (cdktf.json's
 * context, which the CLI puts in the environment first, plus the relative Terraform modules) and
 * SYNTH_HCL_OUTPUT. The app runs through a shell in the project folder.
 */
function cdktfAppEnv(config: CdktfJson, outdir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
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

/** Stack names from the manifest an app run wrote (and proof that it wrote one). */
function synthesizedStacks(outdir: string, what: string): string[] {
  const manifest = path.join(outdir, "manifest.json");
  if (!existsSync(manifest)) throw new Error(`${what}: exited 0 but wrote no ${manifest}; did the app call app.synth()?`);
  return Object.keys((JSON.parse(readFileSync(manifest, "utf8")) as { stacks: Record<string, unknown> }).stacks).sort();
}

/** Resource counts of every stack an app run wrote, by stack name. */
function stackCounts(outdir: string): Map<string, ResourceCounts> {
  const manifest = JSON.parse(readFileSync(path.join(outdir, "manifest.json"), "utf8")) as {
    stacks: Record<string, { synthesizedStackPath?: string }>;
  };
  return new Map(
    Object.entries(manifest.stacks).map(([name, s]) => [
      name,
      resourceCounts(
        JSON.parse(readFileSync(path.join(outdir, s.synthesizedStackPath ?? path.join("stacks", name, "cdk.tf.json")), "utf8")),
      ),
    ]),
  );
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting
// ---------------------------------------------------------------------------------------------

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const min = (xs: readonly number[]) => Math.min(...xs);
const max = (xs: readonly number[]) => Math.max(...xs);
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const msf = (ms: number) => `${Math.round(ms)} ms`;
const times = (x: number) => `${x.toFixed(2)}×`;
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");
function spread(xs: readonly number[], fmt: (ms: number) => string = sec): string {
  return xs.length === 1
    ? `${fmt(xs[0]!)} (1 run)`
    : `median ${fmt(median(xs))}  (min ${fmt(min(xs))}, max ${fmt(max(xs))}, ${xs.length} runs)`;
}
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
function heading(text: string): void {
  process.stdout.write(`\n== ${text} ==\n`);
}
function line(text = ""): void {
  process.stdout.write(`${text}\n`);
}
function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

// ---------------------------------------------------------------------------------------------
// The minimal app
// ---------------------------------------------------------------------------------------------

const MINIMAL_APP = `// Written by scripts/bench.ts (deleted when the bench ends): the smallest useful cdktf app.
import { Container } from "@cdktf/provider-docker/lib/container";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { App, TerraformStack } from "cdktf";
import type { Construct } from "constructs";

class MinimalStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new DockerProvider(this, "docker", {});
    new Container(this, "hello", { name: "hello", image: "nginx:1.27" });
  }
}

const app = new App();
new MinimalStack(app, "minimal");
app.synth();
`;

/** Creates the minimal app inside the project (so it resolves node_modules and npx finds tsx). */
function createMinimalApp(appCommand: string): string {
  const dir = path.join(ROOT, "scripts", "bench", `.tmp-${process.pid}`);
  temporaries.add(dir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "main.ts"), MINIMAL_APP);
  writeFileSync(
    path.join(dir, "cdktf.json"),
    `${JSON.stringify({ language: "typescript", app: appCommand, sendCrashReports: "false", terraformProviders: [], terraformModules: [], context: {} }, null, 2)}\n`,
  );
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------

interface AppUnderTest {
  readonly label: string;
  readonly dir: string;
  readonly config: CdktfJson;
}

async function synthOnce(app: AppUnderTest): Promise<{ ms: number; stacks: string[] }> {
  const outdir = freshDir("out");
  try {
    const result = await runOk(`${app.label}: app command`, app.config.app, app.dir, cdktfAppEnv(app.config, outdir));
    return { ms: result.ms, stacks: synthesizedStacks(outdir, app.label) };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

async function cliSynthOnce(app: AppUnderTest): Promise<number> {
  const outdir = freshDir("cli");
  const command = `npx cdktf synth --output ${JSON.stringify(outdir)}`;
  try {
    const env = { ...process.env, CHECKPOINT_DISABLE: "1" };
    const result = await runOk(`${app.label}: cdktf CLI`, command, app.dir, env);
    synthesizedStacks(outdir, `${app.label} (CLI)`);
    return result.ms;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

interface SynthFigures {
  ours: number[];
  minimal: number[];
  oursCli: number[];
  minimalCli: number[];
}

async function appVersusMinimal(opts: Options, ours: AppUnderTest, minimal: AppUnderTest): Promise<SynthFigures> {
  heading(`1/2. Synth time: our app vs a minimal one-container app (app command as \`cdktf synth\` runs it)`);
  line(`app command (cdktf.json): ${ours.config.app}   run through a shell in the app's folder, with the cdktf-cli environment`);
  line(`(CDKTF_OUTDIR=<fresh temp dir>, CDKTF_CONTEXT_JSON, CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS=true, SYNTH_HCL_OUTPUT=false,`);
  line(` NODE_OPTIONS=${cdktfAppEnv(ours.config, "x").NODE_OPTIONS}, TF_VAR_* removed). Wall time = spawn to exit of that shell.`);
  line(
    `minimal app: one TerraformStack, DockerProvider, one docker_container (${path.relative(ROOT, minimal.dir)}/main.ts, same command).`,
  );
  line(`Warm-up: each app runs once untimed first (fills tsx's transform cache and the file cache).`);
  const warmOurs = await synthOnce(ours);
  const warmMinimal = await synthOnce(minimal);
  line(`stacks synthesized: ours = ${warmOurs.stacks.join(", ")}; minimal = ${warmMinimal.stacks.join(", ")}`);

  const figures: SynthFigures = { ours: [], minimal: [], oursCli: [], minimalCli: [] };
  for (let i = 0; i < opts.runs; i++) {
    const order = i % 2 === 0 ? [ours, minimal] : [minimal, ours];
    for (const app of order) (app === ours ? figures.ours : figures.minimal).push((await synthOnce(app)).ms);
  }
  line();
  line(`  ours    (main.ts, ${warmOurs.stacks.length} stacks)   ${spread(figures.ours)}`);
  line(`  minimal (1 container)         ${spread(figures.minimal)}`);
  line(`  runs, ours:    ${figures.ours.map(sec).join("  ")}`);
  line(`  runs, minimal: ${figures.minimal.map(sec).join("  ")}`);
  const ratio = median(figures.ours) / median(figures.minimal);
  line(`  ratio ours / minimal (medians): ${times(ratio)}   target ≤ ${times(TARGET_RATIO)}  → ${verdict(ratio <= TARGET_RATIO)}`);
  line(`  difference (medians): ${msf(median(figures.ours) - median(figures.minimal))}`);

  if (opts.cliRuns > 0) {
    line();
    line(`Full CLI: \`npx cdktf synth --output <temp dir>\` with CHECKPOINT_DISABLE=1 (the CLI adds its own start-up,`);
    line(`its \`terraform\` probes and reading back the output on top of the app command). ${opts.cliRuns} run(s) each, interleaved.`);
    for (let i = 0; i < opts.cliRuns; i++) {
      const order = i % 2 === 0 ? [ours, minimal] : [minimal, ours];
      for (const app of order) (app === ours ? figures.oursCli : figures.minimalCli).push(await cliSynthOnce(app));
    }
    line(
      `  CLI, ours      ${spread(figures.oursCli)}   (CLI overhead over the app command: ${msf(median(figures.oursCli) - median(figures.ours))})`,
    );
    line(
      `  CLI, minimal   ${spread(figures.minimalCli)}   (CLI overhead over the app command: ${msf(median(figures.minimalCli) - median(figures.minimal))})`,
    );
    line(
      `  CLI ratio ours / minimal: ${times(median(figures.oursCli) / median(figures.minimalCli))} (information; the target applies to the app command)`,
    );
  }
  return figures;
}

interface ScaleReport {
  multiplier: number;
  stacks: number;
  appServicesPerStack: number;
  resources: number;
  containers: number;
  loadMs: number;
  configMs: number;
  constructMs: number;
  synthMs: number;
  maxRssMb: number;
}

interface ScaleFigures {
  wall: Map<number, number[]>;
  reports: Map<number, ScaleReport[]>;
  linearRatio: number;
  ratio50: number;
}

async function scaling(opts: Options, ours: AppUnderTest): Promise<ScaleFigures> {
  heading("3. Growth with the number of app services");
  const command = "npx tsx scripts/bench/scaled-app.ts";
  line(`workload: scripts/bench/scaled-app.ts = main.ts's three EnvironmentStacks (dev, test, prod) with every stack's five app`);
  line(`services multiplied (1×: the real app; 10×: 50 per stack; 50×: 250 per stack). Each copy is wired like its original, on`);
  line(`the stack's runtime (dev containers, test/prod Swarm): own image, own secrets (a seed container on containers, docker_secrets`);
  line(`on Swarm), the data tier's connections (networks, settings, credentials, depends_on), own route/egress/caller networks.`);
  line(`Copies get no debug ports and no Caddy route.`);
  line(`run as: ${command} (same launcher and cdktf environment as section 1), ${opts.scaleRuns} round(s), order rotated each round.`);
  line(`wall = whole process (npx + tsx + node start + module loading + synth); in-process = construct + app.synth() only.`);
  const wall = new Map<number, number[]>(MULTIPLIERS.map((m) => [m, []]));
  const reports = new Map<number, ScaleReport[]>(MULTIPLIERS.map((m) => [m, []]));
  for (let round = 0; round < opts.scaleRuns; round++) {
    const order = MULTIPLIERS.map((_, i) => MULTIPLIERS[(i + round) % MULTIPLIERS.length]!);
    for (const multiplier of order) {
      const outdir = freshDir("scale");
      const report = path.join(SCRATCH, `scale-${multiplier}-${round}.json`);
      try {
        const env = cdktfAppEnv(ours.config, outdir, { BENCH_SCALE: String(multiplier), BENCH_REPORT: report });
        const result = await runOk(`scaled app ${multiplier}×`, command, ROOT, env);
        synthesizedStacks(outdir, `scaled app ${multiplier}×`);
        wall.get(multiplier)!.push(result.ms);
        reports.get(multiplier)!.push(JSON.parse(readFileSync(report, "utf8")) as ScaleReport);
      } finally {
        rmSync(outdir, { recursive: true, force: true });
        rmSync(report, { force: true });
      }
    }
  }

  const inProcess = (m: number) => reports.get(m)!.map((r) => r.constructMs + r.synthMs);
  const first = (m: number) => reports.get(m)![0]!;
  line();
  line(
    `  ${pad("mult.", 6)}${lpad("app svcs", 9)}${lpad("containers", 11)}${lpad("resources", 10)}  ${pad("wall (median, min–max)", 30)}${pad("in-process (median, min–max)", 32)}${lpad("construct", 10)}${lpad("synth", 8)}${lpad("peak RSS", 10)}`,
  );
  for (const m of MULTIPLIERS) {
    const r = first(m);
    const w = wall.get(m)!;
    const ip = inProcess(m);
    line(
      `  ${pad(`${m}×`, 6)}${lpad(String(r.appServicesPerStack * r.stacks), 9)}${lpad(String(r.containers), 11)}${lpad(String(r.resources), 10)}  ` +
        `${pad(`${sec(median(w))} (${sec(min(w))}–${sec(max(w))})`, 30)}${pad(`${msf(median(ip))} (${msf(min(ip))}–${msf(max(ip))})`, 32)}` +
        `${lpad(msf(median(reports.get(m)!.map((x) => x.constructMs))), 10)}${lpad(msf(median(reports.get(m)!.map((x) => x.synthMs))), 8)}` +
        `${lpad(`${Math.round(max(reports.get(m)!.map((x) => x.maxRssMb)))} MB`, 10)}`,
    );
  }
  line(
    `  (app svcs and containers are totals over the ${first(1).stacks} stacks; peak RSS = the app process's maxRSS, largest over the runs)`,
  );
  const w = (m: number) => median(wall.get(m)!);
  const ip = (m: number) => median(inProcess(m));
  const ratio50 = w(50) / w(1);
  line();
  line(
    `  ratios, wall:       10×/1× = ${times(w(10) / w(1))}   50×/1× = ${times(ratio50)}   target 50×/1× ≤ ${TARGET_SCALE_50}×  → ${verdict(ratio50 <= TARGET_SCALE_50)}`,
  );
  line(`  ratios, in-process: 10×/1× = ${times(ip(10) / ip(1))}   50×/1× = ${times(ip(50) / ip(1))}`);
  const services = (m: number) => first(m).appServicesPerStack * first(m).stacks;
  const perService1 = (ip(10) - ip(1)) / (services(10) - services(1));
  const perService2 = (ip(50) - ip(10)) / (services(50) - services(10));
  const perServiceWall1 = (w(10) - w(1)) / (services(10) - services(1));
  const perServiceWall2 = (w(50) - w(10)) / (services(50) - services(10));
  const linearRatio = perService2 / perService1;
  line(
    `  cost per added app service (in-process): 1×→10× ${perService1.toFixed(1)} ms, 10×→50× ${perService2.toFixed(1)} ms  ` +
      `(wall: ${perServiceWall1.toFixed(1)} ms, ${perServiceWall2.toFixed(1)} ms)`,
  );
  line(`  linear? judged on the in-process cost per added service (fixed costs cancel out in these differences): growth is linear`);
  line(
    `  (or better) when the 10×→50× cost is at most ${LINEAR_LIMIT}× the 1×→10× cost, i.e. a service does not get dearer as the stack grows.`,
  );
  line(
    `  10×→50× / 1×→10× = ${linearRatio.toFixed(2)}  → ${linearRatio > LINEAR_LIMIT ? "superlinear (MISS)" : linearRatio < 1 / LINEAR_LIMIT ? "sublinear: later services are cheaper (PASS)" : "linear within noise (PASS)"}`,
  );
  const fixed = ip(1) - perService1 * services(1);
  const fixedWall = w(1) - perServiceWall1 * services(1);
  line(
    `  model: wall ≈ ${sec(fixedWall)} fixed + ${perServiceWall1.toFixed(1)} ms × app services; the 50×/1× ≤ ${TARGET_SCALE_50}× target would need ≤ ` +
      `${(((TARGET_SCALE_50 - 1) * w(1)) / (services(50) - services(1))).toFixed(1)} ms per added service (in-process fixed part ≈ ${msf(fixed)}).`,
  );
  return { wall, reports, linearRatio, ratio50 };
}

interface ProbeReport {
  mode: string;
  phases: Record<string, number>;
  extra: Record<string, number>;
  totalMs: number;
  maxRssMb: number;
}

interface ProbeRun {
  wallMs: number;
  report: ProbeReport;
}

async function probe(launcher: string, mode: string, config: CdktfJson, env: Record<string, string> = {}): Promise<ProbeRun> {
  const outdir = freshDir("probe");
  const report = path.join(SCRATCH, `probe-${scratchCount}.json`);
  try {
    const command = `${launcher} scripts/bench/probe.ts ${mode}`;
    const result = await runOk(`probe ${mode}`, command, ROOT, cdktfAppEnv(config, outdir, { ...env, BENCH_REPORT: report }));
    return { wallMs: result.ms, report: JSON.parse(readFileSync(report, "utf8")) as ProbeReport };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
    rmSync(report, { force: true });
  }
}

async function profile(opts: Options, ours: AppUnderTest, figures: SynthFigures): Promise<void> {
  heading("4. Where the time goes (scripts/bench/probe.ts)");
  line(`The probe does main.ts's steps (or the minimal app's) with module groups loaded one at a time, timing each phase in-process;`);
  line(`launcher = wall time − the app process's own lifetime (npx + the tsx CLI process that starts the app's node).`);
  line(`${opts.profileRuns} round(s), interleaved; medians. Figures are ms.`);
  const launcher = ours.config.app.replace(/\s+main\.ts\s*$/, "");
  const cases: { key: string; launcher: string; mode: string; env?: Record<string, string> }[] = [
    { key: "ours", launcher, mode: "ours" },
    { key: "ours-sm", launcher, mode: "ours", env: { BENCH_SOURCEMAPS: "1" } },
    { key: "minimal", launcher, mode: "minimal" },
    { key: "import-deep", launcher, mode: "import-deep" },
    { key: "import-root", launcher, mode: "import-root" },
    { key: "noop", launcher, mode: "noop" },
    { key: "noop-bin", launcher: "./node_modules/.bin/tsx", mode: "noop" },
    { key: "noop-import", launcher: "node --import tsx", mode: "noop" },
  ];
  const runs = new Map<string, ProbeRun[]>(cases.map((c) => [c.key, []]));
  for (let round = 0; round < opts.profileRuns; round++) {
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const c of order) runs.get(c.key)!.push(await probe(c.launcher, c.mode, ours.config, c.env));
  }
  const phase = (key: string, name: string) => median(runs.get(key)!.map((r) => r.report.phases[name] ?? 0));
  const extra = (key: string, name: string) => median(runs.get(key)!.map((r) => r.report.extra[name] ?? 0));
  const wallOf = (key: string) => median(runs.get(key)!.map((r) => r.wallMs));
  const launcherOf = (key: string) => median(runs.get(key)!.map((r) => r.wallMs - r.report.totalMs));

  const rows: [string, number, number][] = [
    [`launcher (${launcher})`, launcherOf("ours"), launcherOf("minimal")],
    ["node + tsx start-up (to first line)", phase("ours", "boot"), phase("minimal", "boot")],
    [
      "load cdktf (+ constructs)",
      phase("ours", "cdktf") + phase("ours", "constructs"),
      phase("minimal", "cdktf") + phase("minimal", "constructs"),
    ],
    ["load provider bindings (deep imports)", phase("ours", "provider bindings"), phase("minimal", "provider bindings")],
    ["load zod", phase("ours", "zod"), 0],
    ["load project modules (tsx-compiled TS)", phase("ours", "project modules"), 0],
    ["config validation (zod, 3 environments)", phase("ours", "config validation"), 0],
    ["construct tree", phase("ours", "construct"), phase("minimal", "construct")],
    ["app.synth()", phase("ours", "synth"), phase("minimal", "synth")],
  ];
  const col = 44;
  line();
  line(`  ${pad("phase", col)}${lpad("ours", 8)}${lpad("minimal", 9)}${lpad("ours−min", 10)}`);
  for (const [name, a, b] of rows)
    line(`  ${pad(name, col)}${lpad(String(Math.round(a)), 8)}${lpad(String(Math.round(b)), 9)}${lpad(String(Math.round(a - b)), 10)}`);
  const sumOurs = rows.reduce((s, r) => s + r[1], 0);
  const sumMinimal = rows.reduce((s, r) => s + r[2], 0);
  line(
    `  ${pad("sum = probe wall time", col)}${lpad(String(Math.round(sumOurs)), 8)}${lpad(String(Math.round(sumMinimal)), 9)}${lpad(String(Math.round(sumOurs - sumMinimal)), 10)}`,
  );
  line(`  (section 1 medians for comparison: ours ${msf(median(figures.ours))}, minimal ${msf(median(figures.minimal))})`);

  const synth = phase("ours", "synth");
  const prepareMs = extra("ours", "prepareMs");
  const policyMs = extra("ours", "policyMs");
  const renderMs = extra("ours", "toTerraformMs");
  const childMs = extra("ours", "childProcessMs");
  const writeMs = extra("ours", "writeMs");
  const restMs = synth - prepareMs - policyMs - renderMs - childMs - writeMs;
  const parts: [string, number][] = [
    ["cdktf prepareStack (a preparing resolve of every element; cdktf does this for any app)", prepareMs],
    [`policy aspect (runs every rule; renders each stack's JSON itself: ${msf(extra("ours", "toTerraformInPolicyMs"))})`, policyMs],
    ["final rendering of each stack (TerraformStack.toTerraform)", renderMs],
    ["child processes: CloudBackend's validation runs `terraform version` (prod)", childMs],
    ["writing files", writeMs],
    ["rest (aspect traversal, construct validations, manifest)", restMs],
  ];
  line();
  line(`  app.synth() of ours (${msf(synth)}), broken down:`);
  for (const [name, ms] of parts) line(`    ${pad(name, 96)}${lpad(msf(ms), 8)}`);

  // main.ts turns source maps off; the "ours-sm" variant turns them back on to show what that saves.
  const constructOn = phase("ours-sm", "construct");
  const synthOn = phase("ours-sm", "synth");
  const constructOff = phase("ours", "construct");
  const synthOff = phase("ours", "synth");
  line();
  line(`  stack traces: cdktf captures a full, unlimited-depth stack trace for every token it creates; tsx turns source maps on,`);
  line(
    `  so every captured frame is mapped back to TypeScript. Captures while constructing: ours ${Math.round(extra("ours", "stackCapturesConstruct"))},` +
      ` minimal ${Math.round(extra("minimal", "stackCapturesConstruct"))}.`,
  );
  line(
    `    main.ts turns source maps off (process.setSourceMapsEnabled(false)): construct ${msf(constructOn)} → ${msf(constructOff)},` +
      ` synth ${msf(synthOn)} → ${msf(synthOff)}  (saves ≈ ${msf(constructOn + synthOn - constructOff - synthOff)})`,
  );
  line(
    `  provider-docker module loading after cdktf: 5 deep imports ${msf(phase("import-deep", "provider-docker 5 deep imports"))},` +
      ` root index ${msf(phase("import-root", "provider-docker root index"))} (we use deep imports everywhere)`,
  );
  line(
    `  launcher alone (empty .ts file, wall): \`${launcher}\` ${msf(wallOf("noop"))}, \`./node_modules/.bin/tsx\` ${msf(wallOf("noop-bin"))},` +
      ` \`node --import tsx\` ${msf(wallOf("noop-import"))}`,
  );
  line(
    `  peak RSS: ours ${Math.round(median(runs.get("ours")!.map((r) => r.report.maxRssMb)))} MB, minimal ${Math.round(median(runs.get("minimal")!.map((r) => r.report.maxRssMb)))} MB`,
  );

  const contributors: [string, number][] = [
    ["construct tree", phase("ours", "construct") - phase("minimal", "construct")],
    ["policy aspect", policyMs],
    ["cdktf prepare + final rendering + rest of synth (beyond minimal's synth)", synth - policyMs - childMs - phase("minimal", "synth")],
    ["`terraform version` (CloudBackend validation)", childMs],
    ["zod load + config validation", phase("ours", "zod") + phase("ours", "config validation")],
    ["project modules (tsx)", phase("ours", "project modules")],
    ["extra provider bindings", phase("ours", "provider bindings") - phase("minimal", "provider bindings")],
  ];
  contributors.sort((a, b) => b[1] - a[1]);
  line();
  line(`  what makes ours slower than minimal (largest first): ${contributors.map(([n, v]) => `${n} ${msf(v)}`).join("; ")}`);
  line(`  of the construct tree, ≈ ${msf(constructOn - constructOff)} is source-mapping the captured stack traces.`);
  line(
    `  common to both apps: the launcher \`${launcher}\` costs ≈ ${msf(wallOf("noop") - wallOf("noop-import"))} more than \`node --import tsx\` on every synth.`,
  );
}

interface RuntimeReport {
  runtime: "swarm" | "containers";
  environment: string;
  loadMs: number;
  configMs: number;
  constructMs: number;
  synthMs: number;
  maxRssMb: number;
}

interface RuntimeFigures {
  wall: Record<RuntimeReport["runtime"], number[]>;
  inProcess: Record<RuntimeReport["runtime"], number[]>;
}

const RUNTIME_ENV = "test";
const ON_CONTAINERS = `${RUNTIME_ENV} on containers`;

async function runtimes(opts: Options, ours: AppUnderTest): Promise<RuntimeFigures> {
  heading("5. The Swarm stacks vs the container stacks (same run)");
  const command = "npx tsx scripts/bench/runtime-app.ts";
  line(`workload: scripts/bench/runtime-app.ts = the ${RUNTIME_ENV} environment alone, one EnvironmentStack built as main.ts builds it,`);
  line(`once on its own runtime (BENCH_RUNTIME=swarm: the five app services as docker_service + docker_secret) and once with`);
  line(`runtime switched to { kind: "containers" } (BENCH_RUNTIME=containers; the config is validated again by the schema), the`);
  line(`rest of the config unchanged. Run as: ${command} (launcher and cdktf environment as section 1), one warm-up each,`);
  line(`then ${opts.runtimeRuns} round(s), order alternated each round. in-process = construct + app.synth() (config loading excluded).`);
  const kinds = ["swarm", "containers"] as const;
  const wall: RuntimeFigures["wall"] = { swarm: [], containers: [] };
  const reports: Record<RuntimeReport["runtime"], RuntimeReport[]> = { swarm: [], containers: [] };
  const counts = new Map<string, ResourceCounts>();
  const once = async (runtime: RuntimeReport["runtime"], keep: boolean) => {
    const outdir = freshDir("runtime");
    const report = path.join(SCRATCH, `runtime-${runtime}-${scratchCount}.json`);
    try {
      const env = cdktfAppEnv(ours.config, outdir, { BENCH_RUNTIME: runtime, BENCH_ENV: RUNTIME_ENV, BENCH_REPORT: report });
      const result = await runOk(`${RUNTIME_ENV} on ${runtime}`, command, ROOT, env);
      synthesizedStacks(outdir, `${RUNTIME_ENV} on ${runtime}`);
      if (!keep) return;
      if (runtime === "containers" && !counts.has(ON_CONTAINERS)) counts.set(ON_CONTAINERS, stackCounts(outdir).get(RUNTIME_ENV)!);
      wall[runtime].push(result.ms);
      reports[runtime].push(JSON.parse(readFileSync(report, "utf8")) as RuntimeReport);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
      rmSync(report, { force: true });
    }
  };
  for (const k of kinds) await once(k, false);
  for (let round = 0; round < opts.runtimeRuns; round++) {
    for (const k of round % 2 === 0 ? kinds : [...kinds].reverse()) await once(k, true);
  }
  // The real app once more, for the counts of every stack as main.ts writes them.
  const outdir = freshDir("counts");
  try {
    await runOk("our app: app command", ours.config.app, ours.dir, cdktfAppEnv(ours.config, outdir));
    for (const [name, c] of stackCounts(outdir)) counts.set(name, c);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }

  const inProcess: RuntimeFigures["inProcess"] = {
    swarm: reports.swarm.map((r) => r.constructMs + r.synthMs),
    containers: reports.containers.map((r) => r.constructMs + r.synthMs),
  };
  line();
  line(
    `  ${pad("runtime", 12)}${pad("wall (median, min–max)", 30)}${pad("in-process (median, min–max)", 32)}${lpad("construct", 10)}${lpad("synth", 10)}${lpad("peak RSS", 10)}`,
  );
  for (const k of kinds) {
    const w = wall[k];
    const ip = inProcess[k];
    line(
      `  ${pad(k, 12)}${pad(`${sec(median(w))} (${sec(min(w))}–${sec(max(w))})`, 30)}${pad(`${msf(median(ip))} (${msf(min(ip))}–${msf(max(ip))})`, 32)}` +
        `${lpad(msf(median(reports[k].map((r) => r.constructMs))), 10)}${lpad(msf(median(reports[k].map((r) => r.synthMs))), 10)}${lpad(`${Math.round(max(reports[k].map((r) => r.maxRssMb)))} MB`, 10)}`,
    );
  }
  line(
    `  swarm / containers (medians): wall ${times(median(wall.swarm) / median(wall.containers))}, in-process ${times(median(inProcess.swarm) / median(inProcess.containers))}` +
      ` (difference ${msf(median(inProcess.swarm) - median(inProcess.containers))} in-process, ${msf(median(wall.swarm) - median(wall.containers))} wall)`,
  );

  const columns: [string, keyof ResourceCounts][] = [
    ["containers", "containers"],
    ["services", "services"],
    ["secrets", "secrets"],
    ["configs", "configs"],
    ["networks", "networks"],
    ["images", "images"],
    ["volumes", "volumes"],
    ["total", "total"],
  ];
  line();
  line(
    `  resources per stack, from cdk.tf.json (dev, test, prod: main.ts as configured; total = every resource, random_password included):`,
  );
  line(`  ${pad("stack", 20)}${columns.map(([h]) => lpad(h, 11)).join("")}`);
  for (const name of ["dev", "test", "prod", ON_CONTAINERS]) {
    const c = counts.get(name);
    if (c) line(`  ${pad(name, 20)}${columns.map(([, key]) => lpad(String(c[key]), 11)).join("")}`);
  }
  return { wall, inProcess };
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const cpus = os.cpus();
  heading("UpdateIO synth benchmark (information only: numbers and target verdicts, no assertions)");
  line(
    `node ${process.version} on ${os.platform()}/${os.arch()}, ${typeof os.availableParallelism === "function" ? os.availableParallelism() : cpus.length} cores` +
      ` (${cpus[0]?.model.trim() ?? "unknown CPU"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
  );
  line(
    `cdktf ${packageVersion("cdktf")}, cdktf-cli ${packageVersion("cdktf-cli")}, @cdktf/provider-docker ${packageVersion("@cdktf/provider-docker")}, tsx ${packageVersion("tsx")}, zod ${packageVersion("zod")}`,
  );
  line(
    `load average at start: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}   options: runs ${opts.runs}, cli-runs ${opts.cliRuns}, scale-runs ${opts.scaleRuns}${opts.quick ? " (--quick)" : ""}`,
  );

  const oursConfig = readCdktfJson(ROOT);
  const ours: AppUnderTest = { label: "our app", dir: ROOT, config: oursConfig };
  const minimalDir = createMinimalApp(oursConfig.app);
  const minimal: AppUnderTest = { label: "minimal app", dir: minimalDir, config: readCdktfJson(minimalDir) };

  const figures = await appVersusMinimal(opts, ours, minimal);
  const ratio = median(figures.ours) / median(figures.minimal);
  const scale = await scaling(opts, ours);
  if (opts.profile) await profile(opts, ours, figures);
  const runtime = await runtimes(opts, ours);

  heading("6. Summary (information only; nothing here fails the run)");
  line(
    `node ${process.version}, ${typeof os.availableParallelism === "function" ? os.availableParallelism() : cpus.length} cores; load average now ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  line(
    `  synth, app command: ours ${sec(median(figures.ours))} (${sec(min(figures.ours))}–${sec(max(figures.ours))}), minimal ${sec(median(figures.minimal))} (${sec(min(figures.minimal))}–${sec(max(figures.minimal))})`,
  );
  if (figures.oursCli.length > 0)
    line(`  synth, full CLI:    ours ${sec(median(figures.oursCli))}, minimal ${sec(median(figures.minimalCli))}`);
  const linear = scale.linearRatio <= LINEAR_LIMIT;
  const w = (m: number) => median(scale.wall.get(m)!);
  line(
    `  ${pad("ours / minimal (app command, medians)", 46)}${lpad(times(ratio), 8)}   target ≤ ${times(TARGET_RATIO)}   ${verdict(ratio <= TARGET_RATIO)}`,
  );
  line(
    `  ${pad("50× / 1× app services (wall, medians)", 46)}${lpad(times(scale.ratio50), 8)}   target ≤ ${TARGET_SCALE_50}×      ${verdict(scale.ratio50 <= TARGET_SCALE_50)}`,
  );
  line(
    `  ${pad("growth: cost/service 10→50× ÷ 1→10×", 46)}${lpad(scale.linearRatio.toFixed(2), 8)}   target ≤ ${LINEAR_LIMIT} (linear)  ${verdict(linear)}`,
  );
  line(`  wall per multiplier: ${MULTIPLIERS.map((m) => `${m}× ${sec(w(m))}`).join(", ")}`);
  line(
    `  ${RUNTIME_ENV} on Swarm vs on containers (in-process medians): ${msf(median(runtime.inProcess.swarm))} vs ${msf(median(runtime.inProcess.containers))}` +
      ` (${times(median(runtime.inProcess.swarm) / median(runtime.inProcess.containers))}); wall ${sec(median(runtime.wall.swarm))} vs ${sec(median(runtime.wall.containers))}`,
  );
}

main().then(
  () => {
    cleanup();
    process.exit(0);
  },
  (e: unknown) => {
    if (e instanceof RunFailure) {
      process.stderr.write(`\nbench: ${e.message}\n  (in ${e.cwd})\n`);
      if (e.result.stderr.trim()) process.stderr.write(`--- stderr ---\n${e.result.stderr}\n`);
      if (e.result.stdout.trim()) process.stderr.write(`--- stdout ---\n${e.result.stdout}\n`);
    } else {
      process.stderr.write(`\nbench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    }
    cleanup();
    process.exit(1);
  },
);
