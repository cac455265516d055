/**
 * `npm run test:terraform`: what `npm test` cannot check, because it needs the Terraform CLI and
 * the providers: every synthesized stack through `terraform init`, `validate` and `plan`.
 *
 *   1. synth: `npx cdktf synth` (the app command of cdktf.json, `node scripts/run-app.cjs`) into cdktf.out/.
 *   2. per stack (cdktf.out/stacks/<stack>):
 *      init      terraform init -backend=false (prod's Terraform Cloud block is not needed to validate).
 *                It checks the configuration before it installs providers: a configuration error
 *                FAILS; providers that cannot be installed (no registry, no mirror) make init,
 *                validate and plan SKIPPED, with the reason and the commands to provide a mirror.
 *      validate  terraform validate. Dev hashes its Dockerfiles (filesha256): when the UpdateIO
 *                sources are not checked out, dev is validated in a scratch copy with empty
 *                stand-in Dockerfiles, and says so.
 *      plan      dev/test (local state under state/): terraform init, then plan -refresh=false
 *                -lock=false; needs the Docker daemon the stack's provider points at (else
 *                SKIPPED) and, for dev, the UpdateIO sources. Variables without a default get a
 *                placeholder TF_VAR_ when unset (a plan only). prod (Terraform Cloud): needs a
 *                token (TF_TOKEN_app_terraform_io or `terraform login`), else SKIPPED.
 *
 * Exit 1 when a step FAILED, else 0. A SKIPPED step did not run and is never reported as passed;
 * the last line says RESULT: PASSED only when every step ran and passed.
 *
 * Options: --stack <name> (repeatable; default every stack), --no-plan,
 *          --require-providers (providers that cannot be installed FAIL instead of SKIP; for CI
 *          machines that reach the registry).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseFlagsOrExit } from "./lib/argv";
import { knownCauses } from "./lib/diagnose";
import { Docker } from "./lib/docker";
import { run, tail } from "./lib/process";
import { Report } from "./lib/report";
import {
  backendOf,
  dockerHostOf,
  imagesOf,
  listStacks,
  requiredProviders,
  resolveFromStackDir,
  ROOT,
  synthesize,
  variablesWithoutDefault,
  type RequiredProvider,
  type StackInfo,
} from "./lib/stack";
import {
  classifyInit,
  cliConfig,
  errorsOf,
  findTerraform,
  hasCloudCredentials,
  mirrorInstructions,
  providerSources,
  summarizeConfigErrors,
  tokenVariable,
  type CliConfig,
} from "./lib/terraform";

interface Options {
  stacks: string[];
  plan: boolean;
  requireProviders: boolean;
}

const USAGE = "usage: npm run test:terraform [-- --stack <name>]... [--no-plan] [--require-providers]";

function parseOptions(argv: readonly string[]): Options {
  const opts: Options = { stacks: [], plan: true, requireProviders: false };
  parseFlagsOrExit(argv, USAGE, (flag, value, arg) => {
    if (flag === "--stack") opts.stacks.push(value());
    else if (arg === "--no-plan") opts.plan = false;
    else if (arg === "--require-providers") opts.requireProviders = true;
    else throw new Error(`unknown option ${arg}`);
  });
  return opts;
}

/** One terraform command in a stack directory, with -no-color and a time limit. */
function terraform(
  bin: string,
  cfg: CliConfig,
  cwd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = cfg.env,
  timeoutSeconds = 600,
) {
  return run(bin, [...args, "-no-color"], { cwd, env, timeoutSeconds });
}

/** Is registry.terraform.io answering? (Information for the skip message; init is the real test.) */
async function registryReachable(): Promise<string> {
  try {
    const res = await fetch("https://registry.terraform.io/.well-known/terraform.json", { signal: AbortSignal.timeout(10_000) });
    return res.ok ? "reachable" : `answers HTTP ${res.status}`;
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return `unreachable (${cause?.code ?? cause?.message ?? (e as Error).message})`;
  }
}

/** Dockerfiles a stack hashes at plan/validate time that are missing on this machine. */
function missingDockerfiles(stack: StackInfo): string[] {
  return imagesOf(stack.json)
    .filter((i) => i.built && i.dockerfile !== undefined)
    .map((i) => resolveFromStackDir(stack.dir, i.dockerfile!))
    .filter((f) => !existsSync(f));
}

/**
 * A scratch copy of the stack with empty stand-in Dockerfiles where the real ones are missing, so
 * `validate` can evaluate filesha256(); undefined when a stand-in would land outside the scratch dir.
 */
function scratchWithStandIns(stack: StackInfo, scratchRoot: string): string | undefined {
  const dir = path.join(scratchRoot, stack.name, "project", path.relative(ROOT, stack.dir));
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(stack.dir, "cdk.tf.json"), path.join(dir, "cdk.tf.json"));
  for (const image of imagesOf(stack.json)) {
    if (!image.built || !image.dockerfile) continue;
    const file = resolveFromStackDir(dir, image.dockerfile);
    if (!file.startsWith(path.join(scratchRoot, stack.name) + path.sep)) return undefined;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, "# stand-in for validate only\n");
  }
  return dir;
}

class StackChecker {
  /** Set once any stack's init could not install providers: the mirror commands are printed at the end. */
  providersMissing?: RequiredProvider[];

  constructor(
    private readonly report: Report,
    private readonly bin: string,
    private readonly cfg: CliConfig,
    private readonly opts: Options,
    private readonly scratchRoot: string,
  ) {}

  async check(stack: StackInfo): Promise<void> {
    const providers = requiredProviders(stack.json);
    const missing = missingDockerfiles(stack);
    let validateDir = stack.dir;
    let validateNote = "";
    if (missing.length > 0) {
      const scratch = scratchWithStandIns(stack, this.scratchRoot);
      if (!scratch) {
        this.report.skipped(
          stack.name,
          "init + validate",
          `the stack hashes Dockerfiles outside the project's parent folder that are missing here: ${missing.join(", ")}`,
        );
        this.skipPlan(stack, "validate did not run");
        return;
      }
      validateDir = scratch;
      validateNote = ` (in a scratch copy with empty stand-ins for ${missing.length} missing Dockerfiles, e.g. ${path.relative(ROOT, missing[0]!)}: set UPDATEIO_DEV_SOURCE_ROOT to the UpdateIO sources to validate the real ones)`;
    }

    const init = await terraform(this.bin, this.cfg, validateDir, ["init", "-backend=false", "-input=false"], this.cfg.env, 600);
    const outcome = classifyInit(init, providers);
    if (outcome.kind === "config") {
      const lines = [...summarizeConfigErrors(outcome.diagnostics), ...knownCauses(outcome.diagnostics)];
      this.report.failed(
        stack.name,
        "init -backend=false",
        `terraform rejects ${stack.relDir}/cdk.tf.json (${outcome.diagnostics.length} errors):\n${lines.join("\n")}`,
      );
      this.report.skipped(stack.name, "validate", "init failed");
      this.skipPlan(stack, "init failed");
      return;
    }
    if (outcome.kind === "providers") {
      this.providersMissing = providers;
      const message = `terraform init could not install ${outcome.providers.join(", ")}: ${outcome.firstError}; provide a filesystem mirror (commands at the end)`;
      if (this.opts.requireProviders) this.report.failed(stack.name, "init -backend=false", `${message} [--require-providers]`);
      else this.report.skipped(stack.name, "init -backend=false", message);
      this.report.skipped(stack.name, "validate", "needs the providers (init did not install them)");
      this.skipPlan(stack, "needs the providers (init did not install them)");
      return;
    }
    if (outcome.kind === "other") {
      this.report.failed(stack.name, "init -backend=false", `${outcome.message}\n${tail(init.output, 15)}`);
      this.report.skipped(stack.name, "validate", "init failed");
      this.skipPlan(stack, "init failed");
      return;
    }
    this.report.passed(stack.name, "init -backend=false", `${init.seconds.toFixed(1)} s`);

    const validate = await terraform(this.bin, this.cfg, validateDir, ["validate"]);
    if (validate.code === 0) {
      this.report.passed(stack.name, "validate", validateNote.trim());
    } else {
      const diagnostics = errorsOf(validate.output);
      this.report.failed(
        stack.name,
        "validate",
        [...summarizeConfigErrors(diagnostics), ...knownCauses(diagnostics)].join("\n") || tail(validate.output),
      );
    }
    if (this.opts.plan) await this.plan(stack, missing);
  }

  private skipPlan(stack: StackInfo, reason: string): void {
    if (this.opts.plan) this.report.skipped(stack.name, "plan", reason);
  }

  private async plan(stack: StackInfo, missingSources: readonly string[]): Promise<void> {
    const backend = backendOf(stack.json);
    if (backend.kind === "cloud") return this.planCloud(stack, backend.hostname!, `${backend.organization}/${backend.workspace}`);
    if (backend.kind !== "local")
      return this.report.skipped(stack.name, "plan", `backend "${backend.kind}" is not one this script plans against`);
    if (missingSources.length > 0) {
      return this.report.skipped(
        stack.name,
        "plan",
        `builds its images from the UpdateIO sources, missing here (${path.relative(ROOT, missingSources[0]!)} ...): check them out next to this project or set UPDATEIO_DEV_SOURCE_ROOT`,
      );
    }
    const host = dockerHostOf(stack.json);
    const engine = await new Docker(host).engine();
    if (!engine.ok)
      return this.report.skipped(stack.name, "plan", `the docker provider needs a reachable Docker daemon: ${engine.problem}`);

    const env = { ...this.cfg.env };
    const placeholders = variablesWithoutDefault(stack.json).filter((v) => !env[`TF_VAR_${v}`]);
    for (const v of placeholders) env[`TF_VAR_${v}`] = "placeholder-for-plan-only";
    const init = await terraform(this.bin, this.cfg, stack.dir, ["init", "-input=false"], env);
    if (init.code !== 0) return this.report.failed(stack.name, "plan", `terraform init (local backend) failed:\n${tail(init.output, 15)}`);
    const plan = await terraform(this.bin, this.cfg, stack.dir, ["plan", "-refresh=false", "-lock=false", "-input=false"], env, 900);
    const summary = /^(Plan: .*|No changes\..*)$/m.exec(plan.output)?.[1] ?? "";
    const note = placeholders.length > 0 ? ` (placeholder values for ${placeholders.map((v) => `TF_VAR_${v}`).join(", ")})` : "";
    if (plan.code === 0) this.report.passed(stack.name, "plan -refresh=false", `${summary}${note}`);
    else
      this.report.failed(
        stack.name,
        "plan -refresh=false",
        [...summarizeConfigErrors(errorsOf(plan.output)), ...knownCauses(errorsOf(plan.output))].join("\n") || tail(plan.output, 20),
      );
  }

  private async planCloud(stack: StackInfo, hostname: string, workspace: string): Promise<void> {
    const creds = hasCloudCredentials(hostname, this.cfg.env);
    if (!creds.available) {
      return this.report.skipped(
        stack.name,
        "plan",
        `needs a Terraform Cloud token for ${hostname} (workspace ${workspace}): set ${tokenVariable(hostname)} or run terraform login`,
      );
    }
    const init = await terraform(this.bin, this.cfg, stack.dir, ["init", "-input=false"]);
    if (init.code !== 0)
      return this.report.failed(
        stack.name,
        "plan",
        `terraform init (Terraform Cloud, ${workspace}, token from ${creds.via}) failed:\n${tail(init.output, 15)}`,
      );
    const plan = await terraform(this.bin, this.cfg, stack.dir, ["plan", "-refresh=false", "-input=false"], this.cfg.env, 1800);
    const summary = /^(Plan: .*|No changes\..*)$/m.exec(plan.output)?.[1] ?? "";
    if (plan.code === 0) this.report.passed(stack.name, "plan -refresh=false", `${summary} (Terraform Cloud ${workspace})`);
    else this.report.failed(stack.name, "plan -refresh=false", tail(plan.output, 20));
  }
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  const report = new Report("test:terraform");
  process.stdout.write("test:terraform: synth, then terraform init/validate/plan of every stack\n");

  const cfg = cliConfig(process.env);
  for (const note of cfg.notes) process.stdout.write(`note: ${note}\n`);
  const tf = await findTerraform(cfg.env);
  if (!tf.path || tf.problem) {
    report.skipped("all stacks", "init, validate, plan", tf.problem ?? "terraform not found");
    return report.finish();
  }
  process.stdout.write(`terraform: ${tf.path} (${tf.version})\n`);

  const synth = await synthesize(cfg.env);
  if (!synth.ok) {
    report.failed("app", "synth", synth.message);
    return report.finish();
  }
  report.passed("app", "synth", synth.message);

  const all = listStacks();
  const unknown = opts.stacks.filter((s) => !all.some((x) => x.name === s));
  if (unknown.length > 0) {
    report.failed("app", "stacks", `no stack named ${unknown.join(", ")}; the app has ${all.map((s) => s.name).join(", ")}`);
    return report.finish();
  }
  const stacks = opts.stacks.length > 0 ? all.filter((s) => opts.stacks.includes(s.name)) : all;

  const providers = [...new Map(stacks.flatMap((s) => requiredProviders(s.json)).map((p) => [`${p.address}@${p.version}`, p])).values()];
  process.stdout.write(`providers: ${providers.map((p) => `${p.source} ${p.version}`).join(", ")}\n`);
  for (const line of providerSources(cfg, providers).lines) process.stdout.write(`  ${line}\n`);
  process.stdout.write(`  registry.terraform.io: ${await registryReachable()}\n`);
  if (cfg.file) process.stdout.write(`  CLI config: ${cfg.file}\n`);
  process.stdout.write("\n");

  const scratchRoot = mkdtempSync(path.join(os.tmpdir(), "updateio-tf-"));
  const checker = new StackChecker(report, tf.path, cfg, opts, scratchRoot);
  try {
    for (const stack of stacks) await checker.check(stack);
  } finally {
    rmSync(scratchRoot, { recursive: true, force: true });
  }
  const code = report.finish();
  if (checker.providersMissing) process.stdout.write(`\n${mirrorInstructions(checker.providersMissing).join("\n")}\n`);
  return code;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`test:terraform crashed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
