/**
 * Read-only helpers over one stack's synthesized Terraform JSON (cdktf.out/stacks/<env>/cdk.tf.json):
 * resources, labels, references. Pure functions; nothing here knows about Markdown or the CLI.
 */
import { LABELS } from "../../constructs/policy/rules";

export { LABELS };

export type Body = Record<string, unknown>;

export interface TerraformJson {
  readonly resource?: Record<string, Record<string, Body>>;
  readonly terraform?: Record<string, unknown>;
  readonly [key: string]: unknown;
}

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
export const META_KEYS: ReadonlySet<string> = new Set(["//", "depends_on", "lifecycle", "provider", "count", "for_each", "connection", "provisioner"]);

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

/** `labels` is a list of {label, value} in the provider (DESIGN.md), not a map. */
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

/** A seed carries uploads for a hardened container and is never started (start = false). */
export function isSeed(resource: Resource): boolean {
  return resource.type === "docker_container" && resource.body.start === false;
}

/** A one-shot job (migrations): restart "no", it exits when done. */
export function isOneShot(body: Body): boolean {
  return body.restart === "no";
}

const REFERENCE = /(?<![\w.-])([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)(?:\.([A-Za-z0-9_]+))?/g;
const INTERPOLATION = /\$\{([^}]*)\}/g;

/** Every reference to a resource of the given types inside `${...}` expressions of `value`. */
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

/** "${docker_network.X.name}" → "docker_network.X" (exactly one whole reference), else undefined. */
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
  if (isRecord(value)) return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  return value;
}
