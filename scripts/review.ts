/**
 * `npm run review`: what the stacks run and what a change does to them (see scripts/review/options.ts
 * for the flags). One synth per run: the current tree in-process, plus the earlier commit when
 * --against-git is given.
 *
 *   npm run review                              reports for dev, test, prod
 *   npm run review -- --against-git HEAD        + what applying this tree on top of HEAD does
 *   npm run review -- --against old/cdktf.out   + the same against a kept synth output
 *
 *   npm run review -- --against-git HEAD --stages-json stages.json
 *                                               + per stack, the stages of a staged apply (npm run apply:staged)
 *
 * Exit code: 0 fine, 2 some change section contains data loss, 4 a staged apply is required (a
 * store's primary and replica would go down together; see review/staging.ts), 3 a change stops
 * services (downtime) and nothing is lost, 1 error. The workflow asks for an approval before a prod
 * apply on 2, 3 or 4, and applies in stages when the stages file says so.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { diffStacks, reviewExitCode, type StackDiff } from "./review/classify";
import { fileStack, PLAN_PREFIX, STAGES_FILE_VERSION, type FileStack, type StagesFile } from "./review/stages-file";
import { needsStagedApply } from "./review/staging";
import { renderDotFile } from "./review/graphviz";
import { renderComment, type CommentStack } from "./review/comment";
import { buildInventory } from "./review/inventory";
import { renderReport, summaryLine, type PictureStatus } from "./review/markdown";
import { parseOptions, USAGE, UsageError, type Options } from "./review/options";
import { consoleLines, consoleText } from "./review/safe-text";
import { readSynthOutput, ReviewError, synthGitRef, synthInProcess, tempDir, type SynthStack } from "./review/synth";
import { buildTopology, renderDot } from "./review/topology";

const ROOT = resolve(__dirname, "..");
/** Written beside the reports when compared; not named after a stack (stack names are identifiers). */
const COMMENT_FILE = "pull-request-comment.md";

async function current(opts: Options): Promise<SynthStack[]> {
  if (opts.from !== undefined) return readSynthOutput(opts.from);
  const out = tempDir("review-synth-");
  return synthInProcess(ROOT, out.path);
}

async function previous(opts: Options): Promise<{ stacks: SynthStack[]; label: string } | undefined> {
  if (opts.against !== undefined) return { stacks: readSynthOutput(opts.against), label: `\`${opts.against}\`` };
  if (opts.againstGit === undefined) return undefined;
  const out = tempDir("review-against-");
  const { stacks, commit } = await synthGitRef(ROOT, opts.againstGit, out.path);
  return { stacks, label: `git \`${opts.againstGit}\` (${commit.slice(0, 12)})` };
}

function selected<T extends { name: string }>(stacks: readonly T[], wanted: readonly string[]): T[] {
  if (wanted.length === 0) return [...stacks];
  const unknown = wanted.filter((w) => !stacks.some((s) => s.name === w));
  if (unknown.length > 0) throw new UsageError(`unknown stack(s) ${unknown.join(", ")}; have ${stacks.map((s) => s.name).join(", ")}`);
  return stacks.filter((s) => wanted.includes(s.name));
}

/** Relative to the working directory when inside it, else absolute. */
function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith("..") ? file : rel;
}

/** The stages on stdout, also with --quiet: what the person deploying must do differently. */
function stagesText(diff: StackDiff, stagesFile: string | undefined, planDigest: string | undefined): string {
  const staged = diff.staged!;
  const dir = `cdktf.out/stacks/${diff.stack}`;
  // Conflicts and reasons quote service names from the JSON: one line each, whatever they hold.
  const lines = [`${diff.stack}: STAGED APPLY REQUIRED (exit 4 unless data loss): ${consoleText(staged.conflicts.join("; "))}`];
  for (const s of staged.stages)
    lines.push(
      `  stage ${s.stage}: terraform -chdir=${dir} apply${s.targets.map((t) => ` -target=${t}`).join("")}`,
      `           ${consoleText(s.why)}`,
    );
  const expect = planDigest === undefined ? "" : ` --expect-plan ${planDigest.slice(0, PLAN_PREFIX)}`;
  lines.push(`  or: npm run apply:staged -- --stack ${diff.stack} --stages ${stagesFile ?? "<file from --stages-json>"}${expect}`);
  return lines.join("\n");
}

function picture(stack: string, dot: string, outDir: string): PictureStatus {
  const svg = join(outDir, `${stack}.svg`);
  const result = renderDotFile(dot, "svg", svg);
  return result.ok ? { svg: `${stack}.svg` } : { missing: result.reason };
}

async function main(argv: readonly string[]): Promise<number> {
  const opts = parseOptions(argv);
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // cdktf records a stack trace per token; source maps make that slow (main.ts does the same).
  process.setSourceMapsEnabled(false);
  const outDir = resolve(opts.out ?? join(ROOT, "cdktf.out", "review"));
  const before = await previous(opts);
  const after = selected(await current(opts), opts.stacks);
  mkdirSync(outDir, { recursive: true });

  const diffs: StackDiff[] = [];
  const summaries: string[] = [];
  const stageEntries: FileStack[] = [];
  const commented: CommentStack[] = [];
  for (const stack of after) {
    const inventory = buildInventory(stack.name, stack.json, stack.annotations);
    const topology = buildTopology(inventory, stack.json);
    const old = before?.stacks.find((s) => s.name === stack.name);
    const diff = before ? diffStacks(stack.name, old?.json, stack.json) : undefined;
    if (diff) diffs.push(diff);
    const entry = diff ? fileStack(stack.name, stack.json, diff.staged) : undefined;
    if (entry) stageEntries.push(entry);
    if (diff) commented.push({ diff, planDigest: entry?.planDigest });
    const report = renderReport({
      inventory,
      topology,
      json: stack.json,
      picture: picture(stack.name, renderDot(topology), outDir),
      diff,
      against: before?.label,
      planDigest: entry?.planDigest,
    });
    const file = join(outDir, `${stack.name}.md`);
    writeFileSync(file, report);
    if (!opts.quiet) process.stdout.write(`${consoleLines(report)}\n`);
    summaries.push(`${summaryLine(inventory, diff)} [${displayPath(file)}]`);
  }
  // Stacks that exist only in the earlier synth: everything in them goes.
  for (const gone of before?.stacks.filter(
    (s) => !after.some((a) => a.name === s.name) && (opts.stacks.length === 0 || opts.stacks.includes(s.name)),
  ) ?? []) {
    const diff = diffStacks(gone.name, gone.json, undefined);
    diffs.push(diff);
    commented.push({ diff });
    summaries.push(`${gone.name}: stack removed; ${diff.removed.length} resources go, ${diff.dataLoss.length} data loss`);
  }
  if (before) {
    const file = join(outDir, COMMENT_FILE);
    writeFileSync(file, renderComment(commented, before.label));
    summaries.push(`pull-request comment: ${displayPath(file)}`);
  }
  process.stdout.write(`${consoleLines(summaries.join("\n"))}\n`);
  const stagesFile = opts.stagesJson ? resolve(opts.stagesJson) : undefined;
  for (const diff of diffs.filter((d) => needsStagedApply(d.staged)))
    process.stdout.write(
      `${consoleLines(stagesText(diff, stagesFile && displayPath(stagesFile), stageEntries.find((e) => e.stack === diff.stack)?.planDigest))}\n`,
    );
  if (stagesFile) {
    const file: StagesFile = { version: STAGES_FILE_VERSION, stacks: stageEntries };
    mkdirSync(dirname(stagesFile), { recursive: true });
    writeFileSync(stagesFile, `${JSON.stringify(file, null, 2)}\n`);
  }
  return reviewExitCode(diffs);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    // Messages may quote names from the synth output (a refused stack or address, a synth's stderr).
    if (e instanceof UsageError) process.stderr.write(`review: ${consoleLines(e.message)}\n\n${USAGE}\n`);
    else if (e instanceof ReviewError) process.stderr.write(`review: ${consoleLines(e.message)}\n`);
    else process.stderr.write(`review: ${consoleLines((e as Error).stack ?? String(e))}\n`);
    process.exit(1);
  },
);
