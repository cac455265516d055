/**
 * Reading the synthesized Terraform JSON: nested blocks, labels, references, other resources.
 */
import type { TerraformJson } from "./types";

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A nested block may be rendered as an object (max-1 blocks) or as a list: always get a list. */
export function blocks(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.filter(isRecord);
  if (isRecord(value)) return [value];
  return [];
}

/** The labels of a block: its own keys, or those of each object of a list form, once each. */
export function blockLabels(value: unknown): string[] {
  return [...new Set(blocks(value).flatMap((b) => Object.keys(b)))];
}

/** One finding of `blockKeyProblems`: an element that is no object (`key` undefined), or a key outside the allow-list. */
export interface BlockKeyProblem {
  /** The element's path: `name`, or `name[i]` when the block is written as a list. */
  readonly path: string;
  readonly key?: string;
  /** The element itself. */
  readonly element: unknown;
}

/**
 * A block checked against an allow-list of keys, however the JSON writes it (one object, or a list
 * of them; unset is no block): each element that is no object, and each key outside `allowed`.
 */
export function blockKeyProblems(value: unknown, name: string, allowed: readonly string[]): BlockKeyProblem[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  const out: BlockKeyProblem[] = [];
  list.forEach((element, i) => {
    const path = Array.isArray(value) ? `${name}[${i}]` : name;
    if (!isRecord(element)) out.push({ path, element });
    else for (const key of Object.keys(element)) if (!allowed.includes(key)) out.push({ path, key, element });
  });
  return out;
}

/** The first (max-1) block, or an empty object. */
export function block(value: unknown): Record<string, unknown> {
  return blocks(value)[0] ?? {};
}

export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/**
 * True for a string that contains a Terraform template sequence (`${...}` or a `%{...}` directive).
 * The escapes `$${` and `%%{` are literal text: they are removed first, scanning left to right as
 * Terraform's template scanner does ("$$${x}" is the literal "$${x}").
 */
export function isExpression(value: unknown): boolean {
  if (typeof value !== "string") return false;
  // Each escape holds a marker itself, so a string without one has nothing to unescape.
  if (!value.includes("${") && !value.includes("%{")) return false;
  const unescaped = value.replace(/\$\$\{|%%\{/g, "");
  return unescaped.includes("${") || unescaped.includes("%{");
}

/** `labels` is a list of `{label, value}` (not a map) on containers, services, volumes and networks. */
export function labelsOf(resource: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of blocks(resource.labels)) {
    if (typeof entry.label === "string") out.set(entry.label, typeof entry.value === "string" ? entry.value : String(entry.value));
  }
  return out;
}

export interface ResourceRef {
  readonly type: string;
  readonly name: string;
  readonly attribute: string;
}

/** Parse a whole-string reference such as `${docker_network.svc_net_1234.name}`. */
export function parseRef(value: unknown): ResourceRef | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^\$\{([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)(?:\[[^\]]*\])?\}$/.exec(value.trim());
  if (!m || m[1] === "data" || m[1] === "var" || m[1] === "local") return undefined;
  return { type: m[1]!, name: m[2]!, attribute: m[3]! };
}

export function resourcesOf(json: TerraformJson, type: string): Record<string, Record<string, unknown>> {
  const byType = json.resource?.[type];
  return isRecord(byType) ? (byType as Record<string, Record<string, unknown>>) : {};
}

const declared = new WeakMap<TerraformJson, Map<string, ReadonlySet<string>>>();

/**
 * The literal `name`s of a stack's resources of one type, computed once per stack rendering:
 * rules ask for every workload, and rebuilding the set each time made them quadratic.
 */
export function declaredNames(json: TerraformJson, type: string): ReadonlySet<string> {
  let byType = declared.get(json);
  if (!byType) declared.set(json, (byType = new Map()));
  let names = byType.get(type);
  if (!names) {
    names = new Set(
      Object.values(resourcesOf(json, type))
        .map((r) => r.name)
        .filter((n): n is string => typeof n === "string"),
    );
    byType.set(type, names);
  }
  return names;
}

/** The resource a reference points at, when it is declared in this stack. */
export function referenced(json: TerraformJson, ref: ResourceRef | undefined): Record<string, unknown> | undefined {
  return ref ? resourcesOf(json, ref.type)[ref.name] : undefined;
}

/**
 * Containers with `start: false` never run: they only receive `upload`s into named volumes. Only
 * without a restart policy, though: the engine starts an "always"/"unless-stopped" container on its
 * next restart even if Terraform never did.
 */
export function isSeedContainer(container: Record<string, unknown>): boolean {
  const restart = container.restart;
  return (container.start === false || container.start === "false") && (restart === undefined || restart === "no");
}

export function describe(resource: Record<string, unknown>, resourceType: string): string {
  const kind = resourceType.replace(/^docker_/, "");
  return typeof resource.name === "string" && !isExpression(resource.name) ? `${kind} "${resource.name}"` : kind;
}
