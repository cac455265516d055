import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "cdktf";
import { consoleLines, consoleText } from "../constructs/contract/console-text";
import { EnvironmentStack } from "./environment-stack";
import { type EnvironmentName, ENVIRONMENTS, loadEnvironments } from "./load";
import type { EnvironmentConfig } from "./schema";
import { prepareSynthProcess } from "./synth-process";
import { prefetchTerraformVersion } from "./terraform-version";

/**
 * The app main.ts runs (`npx tsx main.ts [stack...]`, or cdktf through scripts/run-app.cjs), and
 * that the review runs in-process: `synthApp(args, env)` resolves to the exit code once everything
 * is written (or nothing is), so a caller can read the outdir after awaiting it.
 *
 * One independent stack per environment (dev, test, prod), so `cdktf deploy dev` touches dev alone.
 *
 * Which stacks: the cdktf CLI runs this app without saying which stack it will deploy (it passes
 * only CDKTF_OUTDIR and context), then refuses to go on when any stack has an error. So the
 * selection is explicit: stack names as arguments (`cdktf deploy dev --app "npx tsx main.ts dev"`)
 * or CDKTF_TARGET_STACK_ID (the variable cdktf's App reads as "the stack to synthesize", which
 * 0.21 itself ignores). Without one, every environment is validated and all problems are listed.
 *
 * Nothing is written unless everything succeeds: the app synthesizes into a temporary directory
 * (cdktf's App creates its outdir in its constructor) and copies the result into the outdir last.
 */
const USAGE = `To synthesize or deploy one environment while another is invalid, select it: npx cdktf deploy dev --app "npx tsx main.ts dev" (or CDKTF_TARGET_STACK_ID=dev).`;

function selectedStacks(args: readonly string[], env: NodeJS.ProcessEnv): { names: EnvironmentName[]; problem?: string } {
  const requested = [...args, ...(env.CDKTF_TARGET_STACK_ID ?? "").split(",")].map((s) => s.trim()).filter((s) => s !== "");
  const unknown = requested.filter((s) => !(ENVIRONMENTS as readonly string[]).includes(s));
  if (unknown.length > 0)
    return {
      names: [],
      problem: `unknown stack ${unknown.map((s) => `"${s}"`).join(", ")} (arguments or CDKTF_TARGET_STACK_ID); the stacks are ${ENVIRONMENTS.join(", ")}`,
    };
  return { names: requested.length === 0 ? [...ENVIRONMENTS] : ENVIRONMENTS.filter((e) => requested.includes(e)) };
}

/** Error annotations in a synthesized outdir (the CLI sets CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS, so synth() does not throw on them). */
function errorAnnotations(outdir: string): string[] {
  const manifest = JSON.parse(readFileSync(join(outdir, "manifest.json"), "utf8")) as {
    stacks: Record<string, { annotations?: { constructPath: string; level: string; message: string }[] }>;
  };
  return Object.values(manifest.stacks).flatMap((s) =>
    (s.annotations ?? []).filter((a) => a.level === "@cdktf/error").map((a) => `[${a.constructPath}] ${a.message}`),
  );
}

async function synthesize(configs: readonly EnvironmentConfig[], outdir: string): Promise<string | undefined> {
  // A Terraform Cloud backend's version check runs `terraform version`: start it now, beside construction.
  const versionKnown = prefetchTerraformVersion(configs);
  const staging = mkdtempSync(join(tmpdir(), "updateio-synth-"));
  try {
    const app = new App({ outdir: staging });
    for (const config of configs) new EnvironmentStack(app, config.name, config);
    await versionKnown;
    app.synth();
    const errors = errorAnnotations(staging);
    if (errors.length > 0)
      return `Synth found ${errors.length} error${errors.length === 1 ? "" : "s"}; nothing was written:\n${errors.map((e) => `  - ${e}`).join("\n")}`;
    mkdirSync(outdir, { recursive: true });
    cpSync(staging, outdir, { recursive: true });
    return undefined;
  } catch (e) {
    // A construct rejected its props or the policy pack failed the stack: say which and why, without a stack trace.
    return `${(e as Error).message}\nNothing was written.`;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

export async function synthApp(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  prepareSynthProcess();
  const selection = selectedStacks(args, env);
  if (selection.problem) {
    process.stderr.write(`${consoleText(selection.problem)}\n`);
    return 1;
  }
  const { configs, global, errors } = loadEnvironments(selection.names, env);
  if (global.length > 0 || errors.length > 0) {
    const blocks = [
      ...(global.length > 0
        ? [
            `Invalid UPDATEIO_* variables (they block every environment); nothing was synthesized:\n${global.map((p) => `  - ${consoleText(p)}`).join("\n")}`,
          ]
        : []),
      ...errors.map((e) => e.message),
    ];
    const others = selection.names.length > 1 && errors.length < selection.names.length ? `\n\n${USAGE}` : "";
    process.stderr.write(`${blocks.join("\n\n")}${others}\n`);
    return 1;
  }
  const failure = await synthesize(configs, env.CDKTF_OUTDIR ?? "cdktf.out");
  if (failure) {
    // Construct and policy messages quote synthesized values; their own line breaks are kept.
    process.stderr.write(`${consoleLines(failure)}\n`);
    return 1;
  }
  return 0;
}
