/**
 * `npm run bench`: synth speed figures. A benchmark, not a test: it prints numbers and verdicts
 * against the targets as information, and exits 0 unless an app run itself fails.
 *
 *   npm run bench                      5 interleaved runs of each app, 1 CLI run each, 3 scaling rounds,
 *                                      3 probe rounds, 5 rounds of Swarm vs containers
 *   npm run bench -- --quick           smoke check: 1 run of everything
 *   options: --runs N  --cli-runs N (0 skips the CLI)  --scale-runs N  --profile-runs N
 *            --no-profile (skip section 4)  --runtime-runs N  --cpu-prof (add section 4b)
 *
 * Sections
 *   1/2  Our app (main.ts) and the minimal one-container app (scripts/bench/minimal/), each run with
 *        the `app` command of cdktf.json exactly as `cdktf synth` runs it (a shell, the environment
 *        cdktf-cli 0.21 builds in @cdktf/cli-core SynthStack.synth), interleaved so machine noise hits
 *        both alike; then the full CLI (`npx cdktf synth`) for both.
 *   3    The real app with 1x, 10x and 50x the app services (scripts/bench/scaled-app.ts): cost per
 *        added service, split into construct, cdktf's prepare, the policy aspect and the rest of synth.
 *   4    Where the time goes (scripts/bench/probe.ts): phases of our app and the minimal one.
 *   4b   With --cpu-prof: V8 CPU profiles of main.ts and of the 10x app, summarized by package/folder
 *        and function (scripts/bench/cpu-profile.ts).
 *   5    The Swarm stacks vs the container stacks (scripts/bench/runtime-app.ts), and resource counts.
 *   6    Summary and targets.
 *
 * Every app run writes to a fresh temporary directory (never the project's cdktf.out), removed at the
 * end (also on Ctrl-C, which stops the runs in flight: each runs in its own process group).
 */
import { readdirSync, statSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { forEachFlag } from "./lib/argv";
import { formatSummary, readProfile, summarizeProfile } from "./bench/cpu-profile";
import type { ResourceCounts } from "./bench/runtime";
import type { SynthTimes } from "./bench/synth-timing";
import {
  cdktfAppEnv,
  heading,
  infoLine,
  line,
  lpad,
  max,
  median,
  msf,
  packageVersion,
  pad,
  range,
  readCdktfJson,
  readJson,
  ROOT,
  RunFailure,
  runOk,
  scratch,
  sec,
  slope,
  spread,
  stackCounts,
  synthesizedStacks,
  targetLine,
  times,
  verdict,
  withScratch,
  type CdktfJson,
} from "./bench/support";

const TARGET_RATIO = 1.5;
/** In-process ms per added app service (least-squares slope over the multipliers). */
const TARGET_MS_PER_SERVICE = 3;
/**
 * Growth counts as linear (or better) when the cost per added app service from 10x to 50x is at most
 * this multiple of the cost from 1x to 10x; above it, each service costs more the more there are.
 */
const LINEAR_LIMIT = 1.25;
const MULTIPLIERS = [1, 10, 50] as const;
const MINIMAL_DIR = path.join(ROOT, "scripts", "bench", "minimal");

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
  cpuProf: boolean;
  quick: boolean;
}

/** The flags that take a count: the option each sets and the least count it takes. */
const COUNT_FLAGS = {
  "--runs": ["runs", 1],
  "--cli-runs": ["cliRuns", 0],
  "--scale-runs": ["scaleRuns", 1],
  "--profile-runs": ["profileRuns", 1],
  "--runtime-runs": ["runtimeRuns", 1],
} as const;

function parseOptions(argv: readonly string[]): Options {
  const quick = argv.includes("--quick");
  const opts: Options = {
    runs: quick ? 1 : 5,
    cliRuns: 1,
    scaleRuns: quick ? 1 : 3,
    profileRuns: quick ? 1 : 3,
    profile: true,
    runtimeRuns: quick ? 1 : 5,
    cpuProf: false,
    quick,
  };
  const count = (flag: string, value: string, least: number): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < least) usage(`${flag} needs a whole number ≥ ${least}, got ${value}`);
    return n;
  };
  forEachFlag(
    argv,
    (flag, value, arg) => {
      if (Object.hasOwn(COUNT_FLAGS, flag)) {
        const [key, least] = COUNT_FLAGS[flag as keyof typeof COUNT_FLAGS];
        opts[key] = count(flag, value(), least);
        return;
      }
      switch (flag) {
        case "--quick":
          break;
        case "--profile":
          opts.profile = true;
          break;
        case "--no-profile":
          opts.profile = false;
          break;
        case "--cpu-prof":
          opts.cpuProf = true;
          break;
        case "--help":
        case "-h":
          usage();
          break;
        default:
          usage(`unknown option ${arg}`);
      }
    },
    (message) => usage(message),
  );
  return opts;
}

function usage(problem?: string): never {
  const text = [
    "usage: npm run bench -- [--runs N] [--quick] [--cli-runs N] [--scale-runs N] [--profile-runs N] [--profile | --no-profile] [--runtime-runs N] [--cpu-prof]",
    "  --runs N          timed runs of each app in sections 1/2 (default 5; --quick: 1)",
    "  --cli-runs N      full `npx cdktf synth` runs of each app (default 1; 0 skips)",
    "  --scale-runs N    rounds of the 1x/10x/50x workload (default 3; --quick: 1)",
    "  --profile-runs N  rounds of the phase probe (default 3; --quick: 1)",
    "  --no-profile      skip section 4 (where the time goes); --profile is the default",
    "  --runtime-runs N  rounds of test on Swarm vs test on containers, section 5 (default 5; --quick: 1)",
    "  --cpu-prof        section 4b: V8 CPU profiles of main.ts and the 10x app, top items by package and function",
  ].join("\n");
  if (problem) {
    process.stderr.write(`bench: ${problem}\n${text}\n`);
    process.exit(2);
  }
  process.stdout.write(`${text}\n`);
  process.exit(0);
}

/**
 * The bench workloads (scripts/bench/*.ts) are TypeScript run from source, as `npx tsx main.ts`
 * runs the app; their in-process figures do not depend on the launcher.
 */
const WORKLOAD_LAUNCHER = "node --import tsx";

/** The minimal app run with our app command (its runner from this checkout), for a like-for-like ratio. */
function onOurLauncher(minimal: AppUnderTest, ours: AppUnderTest): AppUnderTest | undefined {
  const m = /^node scripts\/(\S+\.cjs)$/.exec(ours.config.app.trim());
  if (!m) return undefined;
  return {
    label: "minimal app on our launcher",
    dir: minimal.dir,
    config: { ...minimal.config, app: `node ${JSON.stringify(path.join(ROOT, "scripts", m[1]!))}` },
  };
}

// ---------------------------------------------------------------------------------------------
// Sections 1/2: our app vs the minimal app
// ---------------------------------------------------------------------------------------------

interface AppUnderTest {
  readonly label: string;
  readonly dir: string;
  readonly config: CdktfJson;
}

function synthOnce(app: AppUnderTest): Promise<{ ms: number; stacks: string[] }> {
  return withScratch("out", async (outdir) => {
    const result = await runOk(`${app.label}: app command`, app.config.app, app.dir, cdktfAppEnv(app.config, outdir));
    return { ms: result.ms, stacks: synthesizedStacks(outdir, app.label) };
  });
}

function cliSynthOnce(app: AppUnderTest): Promise<number> {
  return withScratch("cli", async (outdir) => {
    const command = `npx cdktf synth --output ${JSON.stringify(outdir)}`;
    const result = await runOk(`${app.label}: cdktf CLI`, command, app.dir, { ...process.env, CHECKPOINT_DISABLE: "1" });
    synthesizedStacks(outdir, `${app.label} (CLI)`);
    return result.ms;
  });
}

interface SynthFigures {
  ours: number[];
  minimal: number[];
  /** The minimal app on our app command's launcher (empty when ours is not a runner script). */
  minimalOurLauncher: number[];
  oursCli: number[];
  minimalCli: number[];
}

/** Runs each app once per round, the order alternating, and collects what `measure` returns. */
async function interleaved(rounds: number, apps: readonly AppUnderTest[], measure: (app: AppUnderTest) => Promise<number>) {
  const out = new Map<AppUnderTest, number[]>(apps.map((a) => [a, []]));
  for (let i = 0; i < rounds; i++) for (const app of i % 2 === 0 ? apps : [...apps].reverse()) out.get(app)!.push(await measure(app));
  return apps.map((a) => out.get(a)!);
}

async function appVersusMinimal(opts: Options, ours: AppUnderTest, minimal: AppUnderTest): Promise<SynthFigures> {
  heading(`1/2. Synth time: our app vs a minimal one-container app (app command as \`cdktf synth\` runs it)`);
  line(`app command (cdktf.json): ${ours.config.app}   run through a shell in the app's folder, with the cdktf-cli environment`);
  line(`(CDKTF_OUTDIR=<fresh temp dir>, CDKTF_CONTEXT_JSON, CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS=true, SYNTH_HCL_OUTPUT=false,`);
  line(` NODE_OPTIONS=${cdktfAppEnv(ours.config, "x").NODE_OPTIONS}, TF_VAR_* removed). Wall time = spawn to exit of that shell.`);
  line(`minimal app: one TerraformStack, DockerProvider, one docker_container (${path.relative(ROOT, minimal.dir)}/main.ts).`);
  if (minimal.config.app !== ours.config.app)
    line(`  NOTE: the minimal app's command (${minimal.config.app}) differs from ours: the ratio compares different launchers.`);
  const alike = onOurLauncher(minimal, ours);
  if (alike) line(`Like for like: the minimal app also runs on our app command (${alike.config.app}).`);
  line(`Warm-up: each app runs once untimed first (fills tsx's transform cache, the bundle cache and the file cache).`);
  const warmOurs = await synthOnce(ours);
  const warmMinimal = await synthOnce(minimal);
  if (alike) await synthOnce(alike);
  line(`stacks synthesized: ours = ${warmOurs.stacks.join(", ")}; minimal = ${warmMinimal.stacks.join(", ")}`);

  const apps = alike ? [ours, minimal, alike] : [ours, minimal];
  const [o, m, a] = await interleaved(opts.runs, apps, async (app) => (await synthOnce(app)).ms);
  const figures: SynthFigures = { ours: o!, minimal: m!, minimalOurLauncher: a ?? [], oursCli: [], minimalCli: [] };
  line();
  line(`  ours    (main.ts, ${warmOurs.stacks.length} stacks)   ${spread(figures.ours)}`);
  line(`  minimal (1 container)         ${spread(figures.minimal)}`);
  if (alike) line(`  minimal on our launcher       ${spread(figures.minimalOurLauncher)}`);
  line(`  runs, ours:    ${figures.ours.map(sec).join("  ")}`);
  line(`  runs, minimal: ${figures.minimal.map(sec).join("  ")}`);
  const ratio = median(figures.ours) / median(figures.minimal);
  line(`  ratio ours / minimal (medians): ${times(ratio)}   target ≤ ${times(TARGET_RATIO)}  → ${verdict(ratio <= TARGET_RATIO)}`);
  line(`  difference (medians): ${msf(median(figures.ours) - median(figures.minimal))}`);
  if (alike) {
    const same = median(figures.ours) / median(figures.minimalOurLauncher);
    line(
      `  ratio ours / minimal on the same launcher: ${times(same)} (difference ${msf(median(figures.ours) - median(figures.minimalOurLauncher))}): what our code costs over cdktf's`,
    );
  }

  if (opts.cliRuns > 0) {
    line();
    line(`Full CLI: \`npx cdktf synth --output <temp dir>\` with CHECKPOINT_DISABLE=1 (the CLI adds its own start-up,`);
    line(`its \`terraform\` probes and reading back the output on top of the app command). ${opts.cliRuns} run(s) each, interleaved.`);
    const [oc, mc] = await interleaved(opts.cliRuns, [ours, minimal], cliSynthOnce);
    figures.oursCli = oc!;
    figures.minimalCli = mc!;
    const overhead = (cli: number[], app: number[]) => msf(median(cli) - median(app));
    line(`  CLI, ours      ${spread(figures.oursCli)}   (CLI overhead over the app command: ${overhead(figures.oursCli, figures.ours)})`);
    line(
      `  CLI, minimal   ${spread(figures.minimalCli)}   (CLI overhead over the app command: ${overhead(figures.minimalCli, figures.minimal)})`,
    );
    line(
      `  CLI ratio ours / minimal: ${times(median(figures.oursCli) / median(figures.minimalCli))} (information; the target applies to the app command)`,
    );
  }
  return figures;
}

// ---------------------------------------------------------------------------------------------
// Section 3: growth with the number of app services
// ---------------------------------------------------------------------------------------------

/** What scripts/bench/scaled-app.ts reports (synth parts from scripts/bench/synth-timing.ts). */
interface ScaleReport extends SynthTimes {
  multiplier: number;
  stacks: number;
  appServicesPerStack: number;
  resources: number;
  containers: number;
  loadMs: number;
  configMs: number;
  constructMs: number;
  /** Waiting, after construction, for the `terraform version` started beside it (as main.ts does). */
  versionWaitMs: number;
  synthMs: number;
  cpuMs: number;
  maxRssMb: number;
}

interface ScaleFigures {
  perService: number;
  perServiceCpu: number;
  linearRatio: number;
  /** cdktf + bindings alone, per typical docker_container (scripts/bench/floor-app.ts). */
  perContainer: number;
  resourcesPerService: number;
}

/** Sizes of the floor workload (containers in one stack). */
const FLOOR_SIZES = [50, 500] as const;

/** The in-process parts of one scaled run (column name, description, value); they add up to construct + synth. */
const SCALE_PARTS: [string, string, (r: ScaleReport) => number][] = [
  ["construct", "construct", (r) => r.constructMs],
  ["prepare", "cdktf prepare", (r) => r.prepareMs],
  ["policy", "policy aspect (rendering incl.)", (r) => r.policyMs],
  ["tf-vers.", "`terraform version` (the wait after construction + runs at synth)", (r) => r.versionWaitMs + r.childProcessMs],
  ["write+rest", "JSON to disk + rest of synth", (r) => r.synthMs - r.prepareMs - r.policyMs - r.childProcessMs],
];

async function scaling(opts: Options, ours: AppUnderTest): Promise<ScaleFigures> {
  heading("3. Growth with the number of app services");
  const command = `${WORKLOAD_LAUNCHER} scripts/bench/scaled-app.ts`;
  line(`workload: scripts/bench/scaled-app.ts = main.ts's three EnvironmentStacks (dev, test, prod) with every stack's five app`);
  line(`services multiplied (1×: the real app; 10×: 50 per stack; 50×: 250 per stack). Each copy is wired like its original, on`);
  line(`the stack's runtime (dev containers, test/prod Swarm): own image, own secrets, the data tier's connections, own networks.`);
  line(`run as: ${command} (launcher and cdktf environment as section 1), ${opts.scaleRuns} round(s), order rotated each round.`);
  line(
    `wall = whole process; in-process = construct + the wait for terraform version + app.synth(); cpu = CPU time of the same (steadier on a busy machine).`,
  );
  const reports = new Map<number, ScaleReport[]>(MULTIPLIERS.map((m) => [m, []]));
  const wall = new Map<number, number[]>(MULTIPLIERS.map((m) => [m, []]));
  for (let round = 0; round < opts.scaleRuns; round++) {
    for (let i = 0; i < MULTIPLIERS.length; i++) {
      const multiplier = MULTIPLIERS[(i + round) % MULTIPLIERS.length]!;
      await withScratch("scale", async (outdir, report) => {
        const env = cdktfAppEnv(ours.config, outdir, { BENCH_SCALE: String(multiplier), BENCH_REPORT: report });
        const result = await runOk(`scaled app ${multiplier}×`, command, ROOT, env);
        synthesizedStacks(outdir, `scaled app ${multiplier}×`);
        wall.get(multiplier)!.push(result.ms);
        reports.get(multiplier)!.push(readJson<ScaleReport>(report));
      });
    }
  }

  const of = (m: number) => reports.get(m)!;
  const inProcess = (r: ScaleReport) => r.constructMs + r.versionWaitMs + r.synthMs;
  const med = (m: number, f: (r: ScaleReport) => number) => median(of(m).map(f));
  const services = (m: number) => of(m)[0]!.appServicesPerStack * of(m)[0]!.stacks;
  line();
  line(
    `  ${pad("mult.", 6)}${lpad("app svcs", 9)}${lpad("resources", 10)}  ${pad("wall", 28)}${pad("in-process", 30)}${lpad("cpu", 8)}` +
      SCALE_PARTS.map(([col]) => lpad(col, 11)).join("") +
      lpad("peak RSS", 10),
  );
  for (const m of MULTIPLIERS) {
    line(
      `  ${pad(`${m}×`, 6)}${lpad(String(services(m)), 9)}${lpad(String(of(m)[0]!.resources), 10)}  ${pad(range(wall.get(m)!, sec), 28)}` +
        `${pad(range(of(m).map(inProcess), msf), 30)}${lpad(msf(med(m, (r) => r.cpuMs)), 8)}` +
        SCALE_PARTS.map(([, , f]) => lpad(msf(med(m, f)), 11)).join("") +
        lpad(`${Math.round(max(of(m).map((r) => r.maxRssMb)))} MB`, 10),
    );
  }
  line(
    `  (app svcs are totals over the ${of(1)[0]!.stacks} stacks; parts are medians: construct, cdktf prepare, policy aspect, terraform version, JSON to disk + rest)`,
  );

  // Least squares over every run: fixed costs drop out, noise in one run weighs less than in a two-point difference.
  const all = MULTIPLIERS.flatMap((m) => of(m).map((r) => [services(m), r] as const));
  const perServiceOf = (f: (r: ScaleReport) => number) => slope(all.map(([x, r]) => [x, f(r)] as const));
  const perService = perServiceOf(inProcess);
  const perServiceCpu = perServiceOf((r) => r.cpuMs);
  const perService1 = (med(10, inProcess) - med(1, inProcess)) / (services(10) - services(1));
  const perService2 = (med(50, inProcess) - med(10, inProcess)) / (services(50) - services(10));
  const linearRatio = perService2 / perService1;
  line();
  line(
    `  cost per added app service (in-process, least squares over all runs): ${perService.toFixed(1)} ms` +
      `   target ≤ ${TARGET_MS_PER_SERVICE} ms  → ${verdict(perService <= TARGET_MS_PER_SERVICE)}   (cpu ${perServiceCpu.toFixed(1)} ms)`,
  );
  line(`    where it goes: ${SCALE_PARTS.map(([, n, f]) => `${n} ${perServiceOf(f).toFixed(2)}`).join(", ")} (ms per service)`);
  line(
    `    of the policy aspect, rendering the stack JSON ${perServiceOf((r) => r.policyRenderMs).toFixed(2)} ms (cdktf would render it anyway: its final` +
      ` rendering reuses it), the rules ${perServiceOf((r) => r.policyMs - r.policyRenderMs).toFixed(2)} ms`,
  );
  line(
    `  linear? 1×→10× ${perService1.toFixed(1)} ms, 10×→50× ${perService2.toFixed(1)} ms per added service: ratio ${linearRatio.toFixed(2)}` +
      ` (≤ ${LINEAR_LIMIT}: ${linearRatio > LINEAR_LIMIT ? "superlinear, MISS" : "linear or better, PASS"})`,
  );
  line(
    `  wall model: ≈ ${sec(median(wall.get(1)!) - slope(MULTIPLIERS.flatMap((m) => wall.get(m)!.map((w) => [services(m), w] as const))) * services(1))}` +
      ` fixed + ${slope(MULTIPLIERS.flatMap((m) => wall.get(m)!.map((w) => [services(m), w] as const))).toFixed(1)} ms × app services`,
  );

  // The floor: what cdktf and the bindings alone charge per resource, with none of our code.
  const floor: { containers: number; inProcessMs: number; cpuMs: number }[] = [];
  for (let round = 0; round < opts.scaleRuns; round++) {
    for (const n of FLOOR_SIZES) {
      await withScratch("floor", async (outdir, report) => {
        const env = cdktfAppEnv(ours.config, outdir, { BENCH_FLOOR_N: String(n), BENCH_REPORT: report });
        await runOk(`floor app ${n}`, `${WORKLOAD_LAUNCHER} scripts/bench/floor-app.ts`, ROOT, env);
        floor.push(readJson(report));
      });
    }
  }
  const perContainer = slope(floor.map((r) => [r.containers, r.inProcessMs] as const));
  const perContainerCpu = slope(floor.map((r) => [r.containers, r.cpuMs] as const));
  const resourcesPerService = (of(50)[0]!.resources - of(1)[0]!.resources) / (services(50) - services(1));
  line(
    `  floor (scripts/bench/floor-app.ts: cdktf + bindings alone, ${FLOOR_SIZES.join(" and ")} typical containers, ${opts.scaleRuns} round(s)):` +
      ` ${perContainer.toFixed(2)} ms per docker_container (cpu ${perContainerCpu.toFixed(2)} ms).`,
  );
  line(
    `    an added app service adds ${resourcesPerService.toFixed(1)} resources: at a container's price that is ≈ ${(perContainer * resourcesPerService).toFixed(1)} ms` +
      ` before any code of ours (secrets and networks cost less, a docker_service more).`,
  );
  return { perService, perServiceCpu, linearRatio, perContainer, resourcesPerService };
}

// ---------------------------------------------------------------------------------------------
// Section 4: where the time goes
// ---------------------------------------------------------------------------------------------

interface ProbeReport {
  phases: Record<string, number>;
  extra: Record<string, number>;
  totalMs: number;
  maxRssMb: number;
}

interface ProbeRun {
  wallMs: number;
  report: ProbeReport;
}

function probe(launcher: string, mode: string, config: CdktfJson, env: Record<string, string> = {}): Promise<ProbeRun> {
  return withScratch("probe", async (outdir, report) => {
    const command = `${launcher} scripts/bench/probe.ts ${mode}`;
    const result = await runOk(`probe ${mode}`, command, ROOT, cdktfAppEnv(config, outdir, { ...env, BENCH_REPORT: report }));
    return { wallMs: result.ms, report: readJson<ProbeReport>(report) };
  });
}

async function whereTheTimeGoes(opts: Options, ours: AppUnderTest, figures: SynthFigures): Promise<void> {
  heading("4. Where the time goes (scripts/bench/probe.ts)");
  line(`The probe does main.ts's steps (or the minimal app's) with module groups loaded one at a time, timing each phase in-process`);
  line(
    `(synth parts: scripts/bench/synth-timing.ts). launcher = wall − the app process's lifetime (the shell, and npx + the tsx CLI process when used).`,
  );
  line(`${opts.profileRuns} round(s), interleaved; medians; ms.`);
  line(
    `The probe loads our modules through tsx, as \`npx tsx main.ts\` does; the app command (${ours.config.app}) runs them as one cached bundle on plain node instead (scripts/run-app.cjs).`,
  );
  const launcher = WORKLOAD_LAUNCHER;
  // The launcher alone, against npx tsx (which spawns npm, then the tsx CLI, then node).
  const otherLauncher = "npx tsx";
  const cases: { key: string; launcher: string; mode: string; env?: Record<string, string> }[] = [
    { key: "ours", launcher, mode: "ours" },
    { key: "minimal", launcher, mode: "minimal" },
    { key: "ours-traces", launcher, mode: "ours", env: { BENCH_PROCESS: "no-sourcemaps" } },
    { key: "ours-plain", launcher, mode: "ours", env: { BENCH_PROCESS: "plain" } },
    { key: "noop", launcher, mode: "noop" },
    { key: "noop-other", launcher: otherLauncher, mode: "noop" },
  ];
  const runs = new Map<string, ProbeRun[]>(cases.map((c) => [c.key, []]));
  for (let round = 0; round < opts.profileRuns; round++) {
    for (const c of round % 2 === 0 ? cases : [...cases].reverse())
      runs.get(c.key)!.push(await probe(c.launcher, c.mode, ours.config, c.env));
  }
  const phase = (key: string, ...names: string[]) =>
    median(runs.get(key)!.map((r) => names.reduce((s, n) => s + (r.report.phases[n] ?? 0), 0)));
  const extra = (key: string, name: string) => median(runs.get(key)!.map((r) => r.report.extra[name] ?? 0));
  const wallOf = (key: string) => median(runs.get(key)!.map((r) => r.wallMs));
  const launcherOf = (key: string) => median(runs.get(key)!.map((r) => r.wallMs - r.report.totalMs));
  const synthRest = (key: string) =>
    phase(key, "synth") - extra(key, "prepareMs") - extra(key, "policyMs") - extra(key, "childProcessMs") - extra(key, "writeMs");

  const rows: [string, (key: string) => number][] = [
    [`launcher (${launcher})`, launcherOf],
    ["node + tsx start-up", (k) => phase(k, "boot")],
    ["import cdktf + constructs + provider bindings", (k) => phase(k, "cdktf", "constructs", "provider bindings")],
    ["import zod + project modules (tsx-compiled)", (k) => phase(k, "zod", "project modules")],
    ["config validation (zod, 3 environments)", (k) => phase(k, "config validation")],
    ["construct tree", (k) => phase(k, "construct")],
    ["synth: prepareStack (backend check; no preparing resolve)", (k) => extra(k, "prepareMs")],
    ["synth: policy aspect (its stack rendering incl.)", (k) => extra(k, "policyMs")],
    ["`terraform version`: wait + runs at synth", (k) => phase(k, "terraform version wait") + extra(k, "childProcessMs")],
    ["synth: JSON to disk (stringify + write) + rest", (k) => synthRest(k) + extra(k, "writeMs")],
  ];
  const col = 50;
  line();
  line(`  ${pad("where the time goes", col)}${lpad("ours", 8)}${lpad("minimal", 9)}${lpad("ours−min", 10)}`);
  let sumOurs = 0;
  let sumMinimal = 0;
  for (const [name, f] of rows) {
    const a = f("ours");
    const b = f("minimal");
    sumOurs += a;
    sumMinimal += b;
    line(`  ${pad(name, col)}${lpad(String(Math.round(a)), 8)}${lpad(String(Math.round(b)), 9)}${lpad(String(Math.round(a - b)), 10)}`);
  }
  line(
    `  ${pad("sum = probe wall time", col)}${lpad(String(Math.round(sumOurs)), 8)}${lpad(String(Math.round(sumMinimal)), 9)}${lpad(String(Math.round(sumOurs - sumMinimal)), 10)}`,
  );
  line(`  (section 1 medians: ours ${msf(median(figures.ours))}, minimal ${msf(median(figures.minimal))}; policy's own rendering of the`);
  line(
    `   stacks ${msf(extra("ours", "policyRenderMs"))}, reused as the final rendering; peak RSS ours ${Math.round(median(runs.get("ours")!.map((r) => r.report.maxRssMb)))} MB, minimal ${Math.round(median(runs.get("minimal")!.map((r) => r.report.maxRssMb)))} MB)`,
  );

  const inProcess = (k: string) => phase(k, "construct", "synth");
  line();
  line(`  what-ifs (construct + synth, same run), against main.ts's process settings (environments/synth-process.ts): cdktf asks`);
  line(
    `  V8 for a full stack trace for every token it creates (${Math.round(extra("ours-plain", "stackCapturesConstruct"))} while constructing ours), which main.ts skips.`,
  );
  line(`    main.ts as it is (source maps off, no token traces):                              ${msf(inProcess("ours"))}`);
  line(`    source maps off only (token traces captured and formatted; BENCH_PROCESS=no-sourcemaps) ${msf(inProcess("ours-traces"))}`);
  line(`    plain node + tsx (source maps on, token traces captured and formatted):           ${msf(inProcess("ours-plain"))}`);
  line(
    `  launcher alone (empty .ts file, wall): \`${launcher}\` ${msf(wallOf("noop"))}, \`${otherLauncher}\` ${msf(wallOf("noop-other"))}` +
      ` (common to both apps: a fixed cost, it lowers the ratio)`,
  );
}

// ---------------------------------------------------------------------------------------------
// Section 4b: CPU profiles
// ---------------------------------------------------------------------------------------------

/** Functions whose inclusive time the profile summary prints (phases of a synth). */
const PROFILE_TOTALS = [
  "require",
  "EnvironmentStack",
  "prepareStack",
  "annotate",
  "toTerraform",
  "captureStackTrace",
  "stringify",
  "execSync",
];

async function cpuProfiles(ours: AppUnderTest): Promise<void> {
  heading("4b. CPU profiles (node --cpu-prof --import tsx; main thread)");
  line(`inclusive: EnvironmentStack = construct, prepareStack = cdktf prepare, annotate = policy aspect, toTerraform = rendering,`);
  line(`captureStackTrace = cdktf's per-token stack traces, stringify = JSON to text, execSync = \`terraform version\`.`);
  for (const [label, script, env] of [
    ["main.ts", "main.ts", {}],
    ["scaled app 10×", "scripts/bench/scaled-app.ts", { BENCH_SCALE: "10" }],
  ] as const) {
    const dir = scratch("cpu-prof");
    await withScratch("cpu-prof-out", async (outdir) => {
      const command = `node --cpu-prof --cpu-prof-dir=${JSON.stringify(dir)} --import tsx ${script}`;
      await runOk(`cpu profile of ${label}`, command, ROOT, cdktfAppEnv(ours.config, outdir, env));
    });
    // The largest profile is the main thread's (tsx's loader-hooks worker writes a small one too).
    const [file] = readdirSync(dir)
      .map((f) => path.join(dir, f))
      .sort((a, b) => statSync(b).size - statSync(a).size);
    line();
    line(`  ${label}:`);
    for (const l of formatSummary(summarizeProfile(readProfile(file!), ROOT, PROFILE_TOTALS), 10, "  ")) line(l);
  }
}

// ---------------------------------------------------------------------------------------------
// Section 5: Swarm vs containers
// ---------------------------------------------------------------------------------------------

interface RuntimeReport {
  runtime: "swarm" | "containers";
  constructMs: number;
  synthMs: number;
  maxRssMb: number;
}

type Runtime = RuntimeReport["runtime"];
const RUNTIME_ENV = "test";
const ON_CONTAINERS = `${RUNTIME_ENV} on containers`;

async function runtimes(opts: Options, ours: AppUnderTest): Promise<Record<Runtime, { wall: number[]; inProcess: number[] }>> {
  heading("5. The Swarm stacks vs the container stacks (same run)");
  const command = `${WORKLOAD_LAUNCHER} scripts/bench/runtime-app.ts`;
  line(`workload: scripts/bench/runtime-app.ts = the ${RUNTIME_ENV} environment alone, built as main.ts builds it, on its own runtime`);
  line(`(BENCH_RUNTIME=swarm: the app services as docker_service + docker_secret) and switched to { kind: "containers" }`);
  line(`(BENCH_RUNTIME=containers; validated again by the schema). Launcher and environment as section 1; one warm-up each,`);
  line(`then ${opts.runtimeRuns} round(s), order alternated. in-process = construct + app.synth() (config loading excluded).`);
  const kinds = ["swarm", "containers"] as const;
  const out: Record<Runtime, { wall: number[]; inProcess: number[]; reports: RuntimeReport[] }> = {
    swarm: { wall: [], inProcess: [], reports: [] },
    containers: { wall: [], inProcess: [], reports: [] },
  };
  const counts = new Map<string, ResourceCounts>();
  const once = (runtime: Runtime, keep: boolean) =>
    withScratch("runtime", async (outdir, report) => {
      const env = cdktfAppEnv(ours.config, outdir, { BENCH_RUNTIME: runtime, BENCH_ENV: RUNTIME_ENV, BENCH_REPORT: report });
      const result = await runOk(`${RUNTIME_ENV} on ${runtime}`, command, ROOT, env);
      synthesizedStacks(outdir, `${RUNTIME_ENV} on ${runtime}`);
      if (!keep) return;
      if (runtime === "containers" && !counts.has(ON_CONTAINERS)) counts.set(ON_CONTAINERS, stackCounts(outdir).get(RUNTIME_ENV)!);
      const r = readJson<RuntimeReport>(report);
      out[runtime].wall.push(result.ms);
      out[runtime].inProcess.push(r.constructMs + r.synthMs);
      out[runtime].reports.push(r);
    });
  for (const k of kinds) await once(k, false);
  for (let round = 0; round < opts.runtimeRuns; round++)
    for (const k of round % 2 === 0 ? kinds : [...kinds].reverse()) await once(k, true);
  // The real app once more, for the counts of every stack as main.ts writes them.
  await withScratch("counts", async (outdir) => {
    await runOk("our app: app command", ours.config.app, ours.dir, cdktfAppEnv(ours.config, outdir));
    for (const [name, c] of stackCounts(outdir)) counts.set(name, c);
  });

  line();
  line(
    `  ${pad("runtime", 12)}${pad("wall", 26)}${pad("in-process", 26)}${lpad("construct", 10)}${lpad("synth", 10)}${lpad("peak RSS", 10)}`,
  );
  for (const k of kinds) {
    const { wall, inProcess, reports } = out[k];
    line(
      `  ${pad(k, 12)}${pad(range(wall, sec), 26)}${pad(range(inProcess, msf), 26)}${lpad(msf(median(reports.map((r) => r.constructMs))), 10)}` +
        `${lpad(msf(median(reports.map((r) => r.synthMs))), 10)}${lpad(`${Math.round(max(reports.map((r) => r.maxRssMb)))} MB`, 10)}`,
    );
  }
  const [s, c] = [out.swarm, out.containers];
  line(
    `  swarm / containers (medians): wall ${times(median(s.wall) / median(c.wall))}, in-process ${times(median(s.inProcess) / median(c.inProcess))}` +
      ` (difference ${msf(median(s.inProcess) - median(c.inProcess))} in-process, ${msf(median(s.wall) - median(c.wall))} wall)`,
  );

  const columns: (keyof ResourceCounts)[] = ["containers", "services", "secrets", "configs", "networks", "images", "volumes", "total"];
  line();
  line(
    `  resources per stack, from cdk.tf.json (dev, test, prod: main.ts as configured; total = every resource, random_password included):`,
  );
  line(`  ${pad("stack", 20)}${columns.map((h) => lpad(h, 11)).join("")}`);
  for (const name of ["dev", "test", "prod", ON_CONTAINERS]) {
    const counted = counts.get(name);
    if (counted) line(`  ${pad(name, 20)}${columns.map((key) => lpad(String(counted[key]), 11)).join("")}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const cores = `${typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length} cores`;
  const load = () =>
    os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" ");
  heading("UpdateIO synth benchmark (information only: numbers and target verdicts, no assertions)");
  line(
    `node ${process.version} on ${os.platform()}/${os.arch()}, ${cores} (${os.cpus()[0]?.model.trim() ?? "unknown CPU"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
  );
  line(
    `cdktf ${packageVersion("cdktf")}, cdktf-cli ${packageVersion("cdktf-cli")}, @cdktf/provider-docker ${packageVersion("@cdktf/provider-docker")}, tsx ${packageVersion("tsx")}, zod ${packageVersion("zod")}`,
  );
  line(
    `load average at start: ${load()}   options: runs ${opts.runs}, cli-runs ${opts.cliRuns}, scale-runs ${opts.scaleRuns}${opts.quick ? " (--quick)" : ""}`,
  );

  const ours: AppUnderTest = { label: "our app", dir: ROOT, config: readCdktfJson(ROOT) };
  const minimal: AppUnderTest = { label: "minimal app", dir: MINIMAL_DIR, config: readCdktfJson(MINIMAL_DIR) };

  const figures = await appVersusMinimal(opts, ours, minimal);
  const ratio = median(figures.ours) / median(figures.minimal);
  const scale = await scaling(opts, ours);
  if (opts.profile) await whereTheTimeGoes(opts, ours, figures);
  if (opts.cpuProf) await cpuProfiles(ours);
  const runtime = await runtimes(opts, ours);

  heading("6. Summary (information only; nothing here fails the run)");
  line(`node ${process.version}, ${cores}; load average now ${load()}`);
  line(`  synth, app command: ours ${range(figures.ours, sec)}, minimal ${range(figures.minimal, sec)}`);
  if (figures.oursCli.length > 0)
    line(`  synth, full CLI:    ours ${sec(median(figures.oursCli))}, minimal ${sec(median(figures.minimalCli))}`);
  targetLine("ours / minimal (app command, medians)", times(ratio), `≤ ${times(TARGET_RATIO)}`, ratio <= TARGET_RATIO);
  if (figures.minimalOurLauncher.length > 0) {
    const same = median(figures.ours) / median(figures.minimalOurLauncher);
    // No target: on our launcher the minimal app takes ~0.1 s, so this ratio is our code's cost over cdktf's alone.
    infoLine("ours / minimal, both on our launcher", times(same), "no target: our code's cost over cdktf's alone");
  }
  targetLine(
    `cost per added app service (in-process; cpu ${scale.perServiceCpu.toFixed(1)} ms)`,
    `${scale.perService.toFixed(1)} ms`,
    `≤ ${TARGET_MS_PER_SERVICE} ms`,
    scale.perService <= TARGET_MS_PER_SERVICE,
  );
  targetLine("growth: cost/service 10→50× ÷ 1→10×", scale.linearRatio.toFixed(2), `≤ ${LINEAR_LIMIT}`, scale.linearRatio <= LINEAR_LIMIT);
  line(
    `  floor: cdktf alone ${scale.perContainer.toFixed(2)} ms per typical container × ${scale.resourcesPerService.toFixed(1)} resources per app service` +
      ` ≈ ${(scale.perContainer * scale.resourcesPerService).toFixed(1)} ms`,
  );
  const [s, c] = [runtime.swarm, runtime.containers];
  line(
    `  ${RUNTIME_ENV} on Swarm vs on containers (in-process medians): ${msf(median(s.inProcess))} vs ${msf(median(c.inProcess))}` +
      ` (${times(median(s.inProcess) / median(c.inProcess))}); wall ${sec(median(s.wall))} vs ${sec(median(c.wall))}`,
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    if (e instanceof RunFailure) {
      process.stderr.write(`\nbench: ${e.message}\n  (in ${e.cwd})\n`);
      if (e.result.stderr.trim()) process.stderr.write(`--- stderr ---\n${e.result.stderr}\n`);
      if (e.result.stdout.trim()) process.stderr.write(`--- stdout ---\n${e.result.stdout}\n`);
    } else {
      process.stderr.write(`\nbench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    }
    process.exit(1);
  },
);
