/**
 * Phase probe for `npm run bench` (scripts/bench.ts): where one synth process spends its time.
 * Run with the app's own launcher (`npx tsx scripts/bench/probe.ts <mode>`, CDKTF_OUTDIR set);
 * it writes its figures as JSON to the file named by BENCH_REPORT and prints nothing.
 *
 * Modes:
 *   ours          the steps of main.ts (validate every config, one EnvironmentStack each, synth),
 *                 with the modules it needs loaded one group at a time so each group is timed
 *   minimal       a one-container app (TerraformStack + DockerProvider + docker_container)
 *   import-deep   cdktf, then the five @cdktf/provider-docker deep imports our constructs use
 *   import-root   cdktf, then the @cdktf/provider-docker root index
 *   noop          nothing (node + tsx start-up alone)
 * The process is prepared as main.ts prepares it (environments/synth-process.ts). What-ifs, to price
 * those settings: BENCH_PROCESS=plain leaves node and cdktf as they are (tsx turns source maps on,
 * cdktf captures and formats a full stack trace for every token); BENCH_PROCESS=no-sourcemaps only
 * turns source maps off (main.ts before the traces were dropped).
 *
 * Every figure is milliseconds from this process's start (performance.now()); the module groups
 * are loaded with require() in the order given so each group's time excludes the ones before it.
 */
import { writeFileSync } from "node:fs";
import { prepareSynthProcess } from "../../environments/synth-process";

const marks: [string, number][] = [];
const mark = (name: string) => marks.push([name, performance.now()]);
const extra: Record<string, number> = {};

const processMode = process.env.BENCH_PROCESS ?? "main";
if (processMode === "main") prepareSynthProcess();
else if (processMode === "no-sourcemaps") process.setSourceMapsEnabled(false);
else if (processMode !== "plain") throw new Error(`probe: BENCH_PROCESS must be main, no-sourcemaps or plain, got "${processMode}"`);
mark("boot");

// Counts stack captures (cdktf captures one, with no depth limit, for every token it creates).
let stackCaptures = 0;
const captureStackTrace = Error.captureStackTrace;
Error.captureStackTrace = function (target: object, ctor?: Function) {
  stackCaptures++;
  captureStackTrace.call(Error, target, ctor);
};

async function ours(outdir: string): Promise<void> {
  const cdktf = require("cdktf") as typeof import("cdktf");
  mark("cdktf");
  require("constructs");
  mark("constructs");
  for (const m of ["provider", "container", "image", "network", "volume"]) require(`@cdktf/provider-docker/lib/${m}`);
  require("@cdktf/provider-random/lib/provider");
  require("@cdktf/provider-random/lib/password");
  mark("provider bindings");
  require("zod");
  mark("zod");
  const load = require("../../environments/load") as typeof import("../../environments/load");
  const { EnvironmentStack } = require("../../environments/environment-stack") as typeof import("../../environments/environment-stack");
  require("../../constructs/policy/policy-aspect");
  mark("project modules");

  // Synth breakdown (scripts/bench/synth-timing.ts): prepare, policy aspect, rendering, child processes, writes.
  const { timeSynthPhases } = require("./synth-timing") as typeof import("./synth-timing");
  const times = timeSynthPhases();

  const configs = load.ENVIRONMENTS.map((name) => load.loadEnvironmentConfig(name));
  mark("config validation");
  // As main.ts: `terraform version` runs beside construction, and synth waits for what is left of it.
  const { prefetchTerraformVersion } =
    require("../../environments/terraform-version") as typeof import("../../environments/terraform-version");
  const versionKnown = prefetchTerraformVersion(configs);
  const app = new cdktf.App({ outdir });
  for (const config of configs) new EnvironmentStack(app, config.name, config);
  mark("construct");
  await versionKnown;
  mark("terraform version wait");
  synthCountingCaptures(app);
  Object.assign(extra, times);
  extra.resources = app.node.findAll().filter((c) => cdktf.TerraformResource.isTerraformResource(c)).length;
}

/** app.synth(), recording how many stack traces were captured before and during it. */
function synthCountingCaptures(app: { synth(): void }): void {
  const capturesBeforeSynth = stackCaptures;
  app.synth();
  mark("synth");
  extra.stackCapturesConstruct = capturesBeforeSynth;
  extra.stackCapturesSynth = stackCaptures - capturesBeforeSynth;
}

function minimal(outdir: string): void {
  const cdktf = require("cdktf") as typeof import("cdktf");
  mark("cdktf");
  require("constructs");
  mark("constructs");
  const { DockerProvider } = require("@cdktf/provider-docker/lib/provider") as typeof import("@cdktf/provider-docker/lib/provider");
  const { Container } = require("@cdktf/provider-docker/lib/container") as typeof import("@cdktf/provider-docker/lib/container");
  mark("provider bindings");
  const app = new cdktf.App({ outdir });
  const stack = new cdktf.TerraformStack(app, "minimal");
  new DockerProvider(stack, "docker", {});
  new Container(stack, "hello", { name: "hello", image: "nginx:1.27" });
  mark("construct");
  synthCountingCaptures(app);
}

function imports(root: boolean): void {
  require("cdktf");
  mark("cdktf");
  if (root) require("@cdktf/provider-docker");
  else for (const m of ["provider", "container", "image", "network", "volume"]) require(`@cdktf/provider-docker/lib/${m}`);
  mark(root ? "provider-docker root index" : "provider-docker 5 deep imports");
}

async function run(mode: string, outdir: string): Promise<void> {
  switch (mode) {
    case "ours":
      await ours(outdir);
      break;
    case "minimal":
      minimal(outdir);
      break;
    case "import-deep":
    case "import-root":
      imports(mode === "import-root");
      break;
    case "noop":
      break;
    default:
      throw new Error(`probe: unknown mode "${mode}" (ours, minimal, import-deep, import-root, noop)`);
  }
  mark("end");
}

function report(mode: string): void {
  const phases: Record<string, number> = {};
  let previous = 0;
  for (const [name, at] of marks) {
    phases[name] = at - previous;
    previous = at;
  }
  const file = process.env.BENCH_REPORT;
  if (file)
    writeFileSync(
      file,
      JSON.stringify({ mode, phases, extra, totalMs: performance.now(), maxRssMb: process.resourceUsage().maxRSS / 1024 }),
    );
}

const mode = process.argv[2] ?? "";
void run(mode, process.env.CDKTF_OUTDIR ?? "cdktf.out").then(() => report(mode));
