/**
 * `npm run apply:staged`: applies one stack in the stages `npm run review -- --stages-json <file>`
 * computed (scripts/review/staging.ts), so a store's primary and replica are never replaced in the
 * same apply: `terraform apply -target=...` per stage, each checked before the next, then the full
 * apply. Terraform is started with argument lists (no shell), and every target is checked against
 * a strict pattern and against the stack it is applied to.
 *
 *   npm run apply:staged -- --stack prod --stages cdktf.out/stages.json
 *   npm run apply:staged -- --stack prod --stages cdktf.out/stages.json --auto-approve --check ./check.sh
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { forEachFlag, setOptions } from "./lib/argv";
import { consoleLines, consoleText } from "./review/safe-text";
import {
  checkPlanDigest,
  parseStagesFile,
  PLAN_PREFIX,
  STACK_NAME,
  stackDigest,
  StagesFileError,
  TARGET_ADDRESS,
  type FileStack,
} from "./review/stages-file";

export const USAGE = `usage: npm run apply:staged -- --stack <name> --stages <file> [options]

Applies cdktf.out/stacks/<name> in the stages of <file> (written by
npm run review -- --against-git <ref> --stages-json <file>): terraform init, then one
terraform apply -target=... per stage, then the full terraform apply. Stops at the first failure.

  --stack <name>         the stack to apply (dev, test, prod)
  --stages <file>        the stages file from npm run review --stages-json
  --dir <dir>            the stack's synth folder (default: cdktf.out/stacks/<name>); its cdk.tf.json
                         must be the one the review saw (same sha256 digest)
  --expect-plan <hex>    the plan digest the approved review shows (at least its first 16 hex
                         digits): any other stages file is refused
  --auto-approve         pass -auto-approve -input=false to terraform (CI, after an approval);
                         without it terraform asks before each stage
  --check <executable>   run after each targeted stage with arguments <stack> <stage> <stages>;
                         a non-zero exit stops before the next stage (e.g. wait until the replica
                         has caught up)
  --pause <seconds>      wait this long after each targeted stage (0-3600, default 0)
  --skip-init            do not run terraform init first
  --dry-run              print the terraform commands, run nothing
  -h, --help             this text

Exit code: 0 every stage applied, 1 bad input (nothing ran), 2 a stage or check failed (the
stages before it are applied; run the same command again to continue: applied stages are no-ops).`;

export class InputError extends Error {}
class StageFailed extends Error {}

export interface ApplyOptions {
  readonly stack: string;
  readonly stages: string;
  readonly dir?: string;
  /** A prefix of the planDigest the approved review showed. */
  readonly expectPlan?: string;
  readonly autoApprove: boolean;
  readonly check?: string;
  readonly pauseSeconds: number;
  readonly skipInit: boolean;
  readonly dryRun: boolean;
  readonly help: boolean;
}

export function parseArgs(argv: readonly string[]): ApplyOptions {
  const o: { -readonly [K in keyof ApplyOptions]?: ApplyOptions[K] } = {
    autoApprove: false,
    pauseSeconds: 0,
    skipInit: false,
    dryRun: false,
    help: false,
  };
  forEachFlag(
    argv,
    setOptions(o, {
      values: { "--stack": "stack", "--stages": "stages", "--dir": "dir", "--check": "check", "--expect-plan": "expectPlan" },
      switches: { "--auto-approve": "autoApprove", "--skip-init": "skipInit", "--dry-run": "dryRun", "-h": "help", "--help": "help" },
      other: (flag, value, arg) => {
        if (flag !== "--pause") throw new InputError(`unknown option ${arg}`);
        const v = value();
        if (!/^\d{1,4}$/.test(v) || Number(v) > 3600)
          throw new InputError(`--pause "${v}" must be a whole number of seconds from 0 to 3600`);
        o.pauseSeconds = Number(v);
      },
    }),
    (message) => new InputError(message),
  );
  if (o.help) return o as ApplyOptions;
  if (o.stack === undefined) throw new InputError("--stack is required (dev, test or prod)");
  if (!STACK_NAME.test(o.stack)) throw new InputError(`--stack "${o.stack}" must match ${STACK_NAME} (a stack name such as prod)`);
  if (o.stages === undefined)
    throw new InputError("--stages is required: the file npm run review -- --against-git <ref> --stages-json <file> wrote");
  if (o.expectPlan !== undefined && !new RegExp(`^[0-9a-f]{${PLAN_PREFIX},64}$`).test(o.expectPlan))
    throw new InputError(
      `--expect-plan "${consoleText(o.expectPlan)}" must be ${PLAN_PREFIX} to 64 lowercase hex digits: the plan digest the approved review shows`,
    );
  return o as ApplyOptions;
}

/** The stack's entry of the stages file, checked against the synth folder it will be applied in. */
export function loadPlan(opts: ApplyOptions, cwd: string): { entry: FileStack; dir: string } {
  const stagesPath = resolve(cwd, opts.stages);
  if (!existsSync(stagesPath))
    throw new InputError(
      `--stages ${opts.stages}: no such file; write it with npm run review -- --stack ${opts.stack} --against-git <ref> --stages-json ${opts.stages}`,
    );
  const file = parseStagesFile(readFileSync(stagesPath, "utf8"), opts.stages);
  const entry = file.stacks.find((s) => s.stack === opts.stack);
  if (!entry)
    throw new InputError(
      `--stages ${opts.stages} has no entry for stack "${opts.stack}" (it has: ${file.stacks.map((s) => s.stack).join(", ") || "none"}); review that stack with --stack ${opts.stack}`,
    );
  if (entry.blocked)
    throw new InputError(
      `stack ${opts.stack}: the review found no safe stages (${entry.blocked}); a staged apply cannot help, apply it once after an approval (docs/runbooks/promote-to-prod.md)`,
    );
  if (!entry.staged)
    throw new InputError(
      `stack ${opts.stack}: the review says no staged apply is needed; apply it the usual way (npx cdktf deploy ${opts.stack})`,
    );

  const dir = resolve(cwd, opts.dir ?? join("cdktf.out", "stacks", opts.stack));
  const stackFile = join(dir, "cdk.tf.json");
  if (!existsSync(stackFile))
    throw new InputError(
      `${stackFile} does not exist: synthesize the stack first (npx tsx main.ts ${opts.stack}) or pass its folder with --dir`,
    );
  let json: { resource?: Record<string, Record<string, unknown>> };
  try {
    json = JSON.parse(readFileSync(stackFile, "utf8")) as typeof json;
  } catch (e) {
    throw new InputError(`${stackFile} is not JSON (${(e as Error).message}): synthesize again`);
  }
  const digest = stackDigest(json);
  if (digest !== entry.digest) {
    throw new InputError(
      `${stackFile} is not the configuration the review saw (sha256 ${digest.slice(0, 12)}… vs ${entry.digest.slice(0, 12)}… in ${opts.stages}): review this synth output again with npm run review -- --stack ${opts.stack} --from <its cdktf.out> --against-git <ref> --stages-json ${opts.stages}`,
    );
  }
  for (const stage of entry.stages) {
    for (const t of stage.targets) {
      // Checked by parseStagesFile already; again here because this is what reaches terraform.
      if (!TARGET_ADDRESS.test(t)) throw new InputError(`stage ${stage.stage}: target "${t}" is not a container or volume address`);
      const [type, name] = t.split(".") as [string, string];
      // Own keys only: "docker_container.constructor" must not pass as a resource.
      const ofType = json.resource !== undefined && Object.hasOwn(json.resource, type) ? json.resource[type] : undefined;
      if (!ofType || !Object.hasOwn(ofType, name))
        throw new InputError(`stage ${stage.stage}: target ${t} is not a resource of ${stackFile}; review the stack again`);
    }
  }
  // Last, so that the checks above name what is wrong with a file that was edited and re-sealed.
  checkPlanDigest(entry, opts.stages);
  // A re-sealed file passes checkPlanDigest; the digest the reviewers approved does not move.
  if (opts.expectPlan !== undefined && !entry.planDigest.startsWith(opts.expectPlan))
    throw new InputError(
      `--stages ${opts.stages}: its plan digest is ${entry.planDigest.slice(0, PLAN_PREFIX)}…, not the ${opts.expectPlan.slice(0, PLAN_PREFIX)}… the approved review shows: these are not the reviewed stages; review again and apply what was approved`,
    );
  if (opts.check !== undefined) {
    const check = resolve(cwd, opts.check);
    try {
      if (!statSync(check).isFile()) throw new Error("not a file");
      accessSync(check, constants.X_OK);
    } catch {
      throw new InputError(
        `--check ${opts.check}: not an executable file (give the path of a script with a shebang, chmod +x; it gets <stack> <stage> <stages> as arguments)`,
      );
    }
  }
  return { entry, dir };
}

/** The terraform argument lists, in order: init, one apply per targeted stage, the full apply. */
export function commands(
  entry: FileStack,
  dir: string,
  opts: Pick<ApplyOptions, "autoApprove" | "skipInit">,
): { stage?: number; argv: string[] }[] {
  const approve = opts.autoApprove ? ["-input=false", "-auto-approve"] : [];
  const out: { stage?: number; argv: string[] }[] = [];
  if (!opts.skipInit) out.push({ argv: [`-chdir=${dir}`, "init", "-input=false"] });
  for (const s of entry.stages)
    out.push({ stage: s.stage, argv: [`-chdir=${dir}`, "apply", ...approve, ...s.targets.map((t) => `-target=${t}`)] });
  return out;
}

function run(file: string, args: readonly string[], what: string): void {
  const r = spawnSync(file, args, { stdio: "inherit" });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === "ENOENT";
    throw new StageFailed(
      `${what}: ${missing ? `${file} not found${file === "terraform" ? " on PATH (install Terraform 1.11)" : ""}` : r.error.message}`,
    );
  }
  if (r.status !== 0) throw new StageFailed(`${what} failed (exit ${r.status ?? `signal ${r.signal}`})`);
}

export function main(argv: readonly string[], cwd = process.cwd()): number {
  let opts: ApplyOptions;
  let plan: { entry: FileStack; dir: string };
  try {
    opts = parseArgs(argv);
    if (opts.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    plan = loadPlan(opts, cwd);
  } catch (e) {
    if (e instanceof InputError || e instanceof StagesFileError) {
      // Messages may quote the stages file (a refused stack, target or blocked reason).
      process.stderr.write(`apply:staged: ${consoleLines(e.message)}\n`);
      if (e instanceof InputError && /unknown option|needs a value|is required/.test(e.message)) process.stderr.write(`\n${USAGE}\n`);
      return 1;
    }
    throw e;
  }
  const { entry, dir } = plan;
  const n = entry.stages.length;
  const steps = commands(entry, dir, opts);
  // Conflicts and reasons quote service names from the reviewed JSON: one line each, no escapes.
  process.stdout.write(`apply:staged: ${opts.stack} in ${n} stages (${consoleText(entry.conflicts.join("; "))})\n`);
  if (opts.dryRun) {
    for (const s of steps) process.stdout.write(`terraform ${consoleText(s.argv.join(" "))}\n`);
    return 0;
  }
  try {
    for (const step of steps) {
      const stage = step.stage === undefined ? undefined : entry.stages[step.stage - 1]!;
      if (stage) process.stdout.write(`\napply:staged: stage ${stage.stage}/${n}: ${consoleText(stage.why)}\n`);
      run(
        "terraform",
        step.argv,
        stage
          ? `stage ${stage.stage}/${n} (terraform apply${stage.full ? "" : ` with ${stage.targets.length} targets`})`
          : "terraform init",
      );
      if (!stage || stage.full) continue;
      if (opts.check !== undefined)
        run(
          resolve(cwd, opts.check),
          [opts.stack, String(stage.stage), String(n)],
          `check after stage ${stage.stage}/${n} (${opts.check})`,
        );
      if (opts.pauseSeconds > 0) {
        process.stdout.write(`apply:staged: waiting ${opts.pauseSeconds} s before stage ${stage.stage + 1}\n`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, opts.pauseSeconds * 1000);
      }
    }
  } catch (e) {
    if (!(e instanceof StageFailed)) throw e;
    process.stderr.write(
      `apply:staged: ${consoleLines(e.message)}; later stages did not run. Fix the cause, then run the same command again (applied stages are no-ops).\n`,
    );
    return 2;
  }
  process.stdout.write(`\napply:staged: ${opts.stack}: all ${n} stages applied\n`);
  return 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
