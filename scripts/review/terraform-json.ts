/**
 * Read-only helpers over one stack's synthesized Terraform JSON (cdktf.out/stacks/<env>/cdk.tf.json):
 * resources, labels, references. Pure functions; nothing here knows about Markdown or the CLI.
 */
import { LABELS } from "../../constructs/policy/rules";

export { LABELS };
import { SECRETS_OWNER_ROLE, type TerraformBlock, type TerraformJson } from "../../constructs/contract/index";

export type Body = TerraformBlock;

// One shape of the synthesized JSON for the policy, the review and the scripts (the contract's).
export type { TerraformJson };

export interface Resource {
  readonly type: string;
  readonly name: string;
  /** "type.name", the address Terraform uses. */
  readonly address: string;
  readonly body: Body;
}

/** A `${type.name.attr}` reference found inside an attribute value. */
export interface Reference {
  readonly address: string;
  readonly type: string;
  readonly name: string;
  readonly attr?: string;
}

/** Terraform meta-arguments and cdktf's metadata: changing them replaces nothing by itself. */
export const META_KEYS: ReadonlySet<string> = new Set([
  "//",
  "depends_on",
  "lifecycle",
  "provider",
  "count",
  "for_each",
  "connection",
  "provisioner",
]);

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function resourcesOf(json: TerraformJson | undefined): Resource[] {
  const out: Resource[] = [];
  for (const [type, byName] of Object.entries(json?.resource ?? {})) {
    for (const [name, body] of Object.entries(byName ?? {})) out.push({ type, name, address: `${type}.${name}`, body });
  }
  return out;
}

export function indexResources(json: TerraformJson | undefined): Map<string, Resource> {
  return new Map(resourcesOf(json).map((r) => [r.address, r]));
}

export function ofType(json: TerraformJson | undefined, type: string): Resource[] {
  return resourcesOf(json).filter((r) => r.type === type);
}

/** `labels` is a list (a set) of {label, value} in kreuzwerker/docker, not a map. */
export function labelsOf(body: Body): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of asArray(body.labels)) {
    if (isRecord(entry) && typeof entry.label === "string") out.set(entry.label, String(entry.value ?? ""));
  }
  return out;
}

export function label(body: Body, key: string): string | undefined {
  return labelsOf(body).get(key);
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function asNumber(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

/** cdktf's construct path of a resource ("prod/api/service/replica-1"), when present. */
export function constructPath(body: Body): string | undefined {
  const meta = body["//"];
  if (!isRecord(meta) || !isRecord(meta.metadata)) return undefined;
  return asString(meta.metadata.path);
}

/**
 * A seed carries the uploads of a hardened container. Known by the kit's component label "seed"
 * (constructs/contract/index.ts), which stays when a seed starts once as a one-shot; `start = false`
 * alone still counts, for synth output written before the label existed.
 */
export function isSeed(resource: Resource): boolean {
  return resource.type === "docker_container" && (label(resource.body, LABELS.component) === "seed" || resource.body.start === false);
}

/** The kit's job that gives a service's secret files to its user: plumbing of that service, like its seed. */
export function isSecretsOwner(resource: Resource): boolean {
  return resource.type === "docker_container" && label(resource.body, LABELS.role) === SECRETS_OWNER_ROLE;
}

/** A one-shot job (migrations): restart "no", it exits when done. */
export function isOneShot(body: Body): boolean {
  return body.restart === "no";
}

const REFERENCE = /(?<![\w.-])([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)(?:\.([A-Za-z0-9_]+))?/g;
const INTERPOLATION = /\$\{([^}]*)\}/g;

/**
 * References in a `lifecycle.replace_triggered_by` list: bare addresses ("docker_container.x", what
 * Terraform requires there) or, from older synth output, interpolations ("${docker_container.x}").
 */
export function lifecycleReferences(value: unknown, types: ReadonlySet<string>): Reference[] {
  const bare = asArrayOfStrings(value).map((v) => (/^\$\{.*\}$/.test(v) ? v : `\${${v}}`));
  return referencesIn(bare, types);
}

function asArrayOfStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/**
 * A nested block: cdktf writes a block of at most one item as an object, Terraform JSON also takes
 * a one-item list. Both read the same.
 */
export function block(value: unknown): Record<string, unknown> | undefined {
  if (isRecord(value)) return value;
  if (Array.isArray(value) && isRecord(value[0])) return value[0];
  return undefined;
}

/** A repeated block (list of objects), or a single one written as an object. */
export function blocks(value: unknown): Record<string, unknown>[] {
  if (isRecord(value)) return [value];
  return asArray(value).filter(isRecord);
}

/** `task_spec` and its `container_spec` of a docker_service ({} when absent). */
export function taskSpecOf(body: Body): Record<string, unknown> {
  return block(body.task_spec) ?? {};
}

export function containerSpecOf(body: Body): Record<string, unknown> {
  return block(taskSpecOf(body).container_spec) ?? {};
}

export interface PathReference extends Reference {
  /** Where the reference sits, in the granularity the classifier judges (see `attributePath`). */
  readonly path: string;
}

/**
 * The attribute a docker_service value belongs to: a top-level key, `task_spec.<key>`, or
 * `task_spec.container_spec.<key>` (list indices and one-item block wrappers dropped).
 */
export function attributePath(keys: readonly string[]): string {
  const named = keys.filter((k) => !/^\d+$/.test(k));
  if (named[0] === "task_spec" && named[1] === "container_spec") return named.slice(0, 3).join(".");
  if (named[0] === "task_spec") return named.slice(0, 2).join(".");
  return named.slice(0, 1).join(".");
}

/** References of a body with the attribute path they sit in, meta-arguments left out. */
export function referencesByPath(body: Body, types: ReadonlySet<string>): PathReference[] {
  const out: PathReference[] = [];
  const visit = (v: unknown, keys: string[]): void => {
    if (typeof v === "string") {
      for (const ref of referencesIn(v, types)) out.push({ ...ref, path: attributePath(keys) });
    } else if (Array.isArray(v)) v.forEach((x, i) => visit(x, [...keys, String(i)]));
    else if (isRecord(v)) for (const [k, x] of Object.entries(v)) visit(x, [...keys, k]);
  };
  for (const [key, value] of Object.entries(body)) if (!META_KEYS.has(key)) visit(value, [key]);
  return out;
}

/** Every reference to a resource of the given types inside `${...}` expressions of `value`. */
export function referencesIn(value: unknown, types: ReadonlySet<string>): Reference[] {
  const out: Reference[] = [];
  const visit = (v: unknown): void => {
    if (typeof v === "string") {
      for (const expr of v.matchAll(INTERPOLATION)) {
        for (const m of expr[1]!.matchAll(REFERENCE)) {
          if (!types.has(m[1]!)) continue;
          out.push({ address: `${m[1]}.${m[2]}`, type: m[1]!, name: m[2]!, ...(m[3] ? { attr: m[3] } : {}) });
        }
      }
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (isRecord(v)) Object.values(v).forEach(visit);
  };
  visit(value);
  return out;
}

/** References per top-level attribute, meta-arguments left out. */
export function referencesByAttribute(body: Body, types: ReadonlySet<string>): Map<string, Reference[]> {
  const out = new Map<string, Reference[]>();
  for (const [key, value] of Object.entries(body)) {
    if (META_KEYS.has(key)) continue;
    const refs = referencesIn(value, types);
    if (refs.length > 0) out.set(key, refs);
  }
  return out;
}

export function resourceTypes(...jsons: (TerraformJson | undefined)[]): Set<string> {
  return new Set(jsons.flatMap((j) => Object.keys(j?.resource ?? {})));
}

/** "${docker_network.X.name}" or "${docker_network.X.id}" → "docker_network.X" (exactly one whole reference), else undefined. */
export function wholeReference(value: unknown, type: string): string | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^\$\{([a-z_]+)\.([A-Za-z0-9_-]+)\.[a-z_]+\}$/.exec(value);
  return m && m[1] === type ? `${m[1]}.${m[2]}` : undefined;
}

/** Stable JSON text with sorted object keys: equal values give equal text. */
export function canonical(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isRecord(value))
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys(value[k])]),
    );
  return value;
}

/**
 * `value` is a positive duration written exactly as `format` writes its number of seconds (or a
 * sub-second unit, which both forms share).
 */
export function isDurationIn(value: string, format: (seconds: number) => string): boolean {
  if (value === "0s") return true;
  if (/^[1-9]\d{0,2}(\.\d*[1-9])?(ns|µs|us|ms)$/.test(value)) return true;
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(value);
  if (!m || value === "") return false;
  const total = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  return total >= 1 && format(total) === value;
}

/** Go's Duration.String() of a number of seconds. */
export function formatGoSeconds(total: number): string {
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = Number((total % 60).toFixed(9));
  return `${h > 0 ? `${h}h${m}m` : m > 0 ? `${m}m` : ""}${s}s`;
}
