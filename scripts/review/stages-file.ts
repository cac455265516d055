/**
 * The stages file: what `npm run review -- --stages-json <file>` writes and `npm run apply:staged`
 * reads. Node built-ins only, so the apply script does not load the review (or the constructs).
 * Everything read back is checked again: the file travels between CI jobs and through people's
 * hands, and its addresses end up as Terraform arguments.
 */
import { createHash } from "node:crypto";
import type { StagedApply } from "./staging";

export const STAGES_FILE_VERSION = 2;
/** How many hex digits of a planDigest the review shows and apply:staged --expect-plan takes at least. */
export const PLAN_PREFIX = 16;

/**
 * A -target the review may emit: a container or volume of the data tier, by its plain address (the
 * stacks use no count/for_each, so no index). Nothing else reaches terraform's argv.
 */
export const TARGET_ADDRESS = /^docker_(container|volume)\.[A-Za-z_][A-Za-z0-9_-]{0,200}$/;
/** Stack names as main.ts makes them (dev, test, prod) and as a folder name under cdktf.out/stacks. */
export const STACK_NAME = /^[a-z][a-z0-9-]{0,30}$/;

export interface FileStage {
  readonly stage: number;
  /** Empty for the last stage: the full apply. */
  readonly targets: readonly string[];
  readonly full: boolean;
  /** Store members (service names) replaced in this stage. */
  readonly members: readonly string[];
  readonly why: string;
}

export interface FileStack {
  readonly stack: string;
  /** sha256 of the reviewed cdk.tf.json (canonical form: sorted keys), see stackDigest. */
  readonly digest: string;
  /** Whether the stack must be applied in the stages below instead of one apply. */
  readonly staged: boolean;
  readonly conflicts: readonly string[];
  readonly stages: readonly FileStage[];
  /** Why the conflicts cannot be separated by targeted applies (then staged is false). */
  readonly blocked?: string;
  /** sha256 of everything above (see planDigest): stages edited after the review do not match it. */
  readonly planDigest: string;
}

export interface StagesFile {
  readonly version: number;
  readonly stacks: readonly FileStack[];
}

export class StagesFileError extends Error {}

/** sha256 of the JSON with sorted keys: the same configuration gives the same digest, whatever the spacing. */
export function stackDigest(json: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify(sortKeys(json)))
    .digest("hex");
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === "object" && value !== null) {
    const v = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys(v[k])]),
    );
  }
  return value;
}

/**
 * sha256 of an entry without its planDigest: the stack's digest, whether it is staged, and every
 * stage in order with its targets and texts. `digest` alone covers only the configuration, so a
 * file with other targets or another order would still pass; this covers what the apply runs.
 */
export function planDigest(entry: Omit<FileStack, "planDigest">): string {
  const { planDigest: _, ...rest } = entry as FileStack;
  return stackDigest(rest);
}

/** The entry of one stack: staged only when the review found stages (not when they are blocked). */
export function fileStack(stack: string, json: unknown, staged: StagedApply | undefined): FileStack {
  const entry = planEntry(stack, json, staged);
  return { ...entry, planDigest: planDigest(entry) };
}

function planEntry(stack: string, json: unknown, staged: StagedApply | undefined): Omit<FileStack, "planDigest"> {
  const ok = staged !== undefined && staged.blocked === undefined && staged.stages.length > 1;
  return {
    stack,
    digest: stackDigest(json),
    staged: ok,
    conflicts: staged?.conflicts ?? [],
    stages: ok
      ? staged.stages.map((s, i, all) => ({
          stage: s.stage,
          targets: [...s.targets],
          full: i === all.length - 1,
          members: [...s.members],
          why: s.why,
        }))
      : [],
    ...(staged?.blocked !== undefined ? { blocked: staged.blocked } : {}),
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Parses and checks a stages file; every problem names the key and what it must be. */
export function parseStagesFile(text: string, source = "stages file"): StagesFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new StagesFileError(`${source} is not JSON (${(e as Error).message}): write it with npm run review -- --stages-json <file>`);
  }
  if (!isRecord(raw)) throw new StagesFileError(`${source}: expected an object with "version" and "stacks"`);
  if (raw.version !== STAGES_FILE_VERSION)
    throw new StagesFileError(
      `${source}: "version" is ${JSON.stringify(raw.version)}, this script reads version ${STAGES_FILE_VERSION}: write the file again with this checkout's npm run review`,
    );
  if (!Array.isArray(raw.stacks)) throw new StagesFileError(`${source}: "stacks" must be a list`);
  return { version: STAGES_FILE_VERSION, stacks: raw.stacks.map((s, i) => parseStack(s, `${source}: stacks[${i}]`)) };
}

function parseStack(raw: unknown, where: string): FileStack {
  if (!isRecord(raw)) throw new StagesFileError(`${where} must be an object`);
  const stack = raw.stack;
  if (typeof stack !== "string" || !STACK_NAME.test(stack))
    throw new StagesFileError(`${where}.stack must match ${STACK_NAME} (got ${JSON.stringify(stack)})`);
  const at = `${where} (${stack})`;
  if (typeof raw.digest !== "string" || !/^[0-9a-f]{64}$/.test(raw.digest))
    throw new StagesFileError(`${at}.digest must be 64 lowercase hex digits (sha256)`);
  if (typeof raw.planDigest !== "string" || !/^[0-9a-f]{64}$/.test(raw.planDigest))
    throw new StagesFileError(`${at}.planDigest must be 64 lowercase hex digits (sha256); write the file again with npm run review`);
  if (typeof raw.staged !== "boolean") throw new StagesFileError(`${at}.staged must be true or false`);
  const conflicts = stringList(raw.conflicts, `${at}.conflicts`);
  if (raw.blocked !== undefined && typeof raw.blocked !== "string")
    throw new StagesFileError(`${at}.blocked must be a string when present`);
  if (!Array.isArray(raw.stages)) throw new StagesFileError(`${at}.stages must be a list`);
  const stages = raw.stages.map((s, i) => parseStage(s, `${at}.stages[${i}]`, i));
  if (raw.staged) {
    if (stages.length < 2)
      throw new StagesFileError(
        `${at}: staged is true but there are ${stages.length} stage(s); a staged apply has at least one targeted stage and the full apply`,
      );
    if (stages.slice(0, -1).some((s) => s.full)) throw new StagesFileError(`${at}: only the last stage may be the full apply`);
    if (!stages[stages.length - 1]!.full)
      throw new StagesFileError(`${at}: the last stage must be the full apply (full: true, no targets)`);
  }
  return {
    stack,
    digest: raw.digest,
    staged: raw.staged,
    conflicts,
    stages,
    ...(typeof raw.blocked === "string" ? { blocked: raw.blocked } : {}),
    planDigest: raw.planDigest,
  };
}

/** Refuses an entry whose stages, targets, order or texts differ from what the review wrote. */
export function checkPlanDigest(entry: FileStack, source = "stages file"): void {
  const actual = planDigest(entry);
  if (actual !== entry.planDigest)
    throw new StagesFileError(
      `${source}: the entry of stack ${entry.stack} was changed after the review (its stages hash to ${actual.slice(0, 12)}…, planDigest says ${entry.planDigest.slice(0, 12)}…); refusing to apply it: write the file again with npm run review -- --stages-json <file>`,
    );
}

function parseStage(raw: unknown, where: string, index: number): FileStage {
  if (!isRecord(raw)) throw new StagesFileError(`${where} must be an object`);
  if (raw.stage !== index + 1) throw new StagesFileError(`${where}.stage must be ${index + 1} (stages are numbered in order from 1)`);
  if (typeof raw.full !== "boolean") throw new StagesFileError(`${where}.full must be true or false`);
  const targets = stringList(raw.targets, `${where}.targets`);
  for (const t of targets) {
    if (!TARGET_ADDRESS.test(t))
      throw new StagesFileError(
        `${where}.targets: "${t}" is not a container or volume address (must match ${TARGET_ADDRESS}); refusing to pass it to terraform`,
      );
  }
  if (raw.full && targets.length > 0) throw new StagesFileError(`${where}: the full apply takes no targets`);
  if (!raw.full && targets.length === 0) throw new StagesFileError(`${where}: a targeted stage needs at least one target`);
  if (new Set(targets).size !== targets.length) throw new StagesFileError(`${where}.targets lists an address twice`);
  return {
    stage: index + 1,
    targets,
    full: raw.full,
    members: stringList(raw.members, `${where}.members`),
    why: typeof raw.why === "string" ? raw.why : "",
  };
}

function stringList(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw new StagesFileError(`${where} must be a list of strings`);
  return value as string[];
}
