/**
 * Which Terraform expressions the policy can judge.
 *
 * A rule reads the synthesized JSON, where an attribute may hold an expression instead of a value
 * (`privileged = "${true}"`, `memory = "${var.m}"`). Skipping those would let anyone write any
 * value past the policy, so an expression counts as a finding unless it is one of:
 *   - a reference of a known form to a resource declared in this stack, at the attribute where that
 *     form belongs (a network by `${docker_network.x.id}`, a secret by `${docker_secret.x.name}`, an
 *     image by `${docker_image.x.image_id}` ...): the rules then judge the referenced resource;
 *   - a host path relative to the stack directory (`${abspath(join("/", [path.root, "..."]))}`),
 *     which the mount rules judge by its literal parts;
 *   - vouched for by the construct that made the resource, with a reason, for exactly that
 *     attribute (`vouchForExpression`, reported like a suppression).
 * A literal wrapped in `${...}` is never accepted: it only hides a value from the reader.
 */
import { isExpression, isRecord, parseRef, type ResourceRef } from "./json";
import { exposesDockerSocket, normalizeHostPath, SENSITIVE_HOST_PATHS, sensitiveHostPath, SOCKET_PATHS, unwrapLiteral } from "./normalize";
import type { RuleContext, TerraformJson } from "./types";

/** "volumes[3].host_path" → "volumes[].host_path" (vouches and forms ignore list positions). */
export function pattern(path: string): string {
  return path.replace(/\[\d+\]/g, "[]");
}

/** A reference of one of the given forms, to a resource declared in this stack. */
function declaredRef(
  json: TerraformJson,
  value: string,
  forms: readonly (readonly [string, readonly string[]])[],
): ResourceRef | undefined {
  const ref = parseRef(value);
  if (!ref || /\[/.test(value)) return undefined;
  const ok = forms.some(([type, attrs]) => ref.type === type && attrs.includes(ref.attribute));
  if (!ok) return undefined;
  const declared = json.resource?.[ref.type];
  return isRecord(declared) && isRecord(declared[ref.name]) ? ref : undefined;
}

// ---------------------------------------------------------------------------------------------
// Host paths relative to the stack directory
// ---------------------------------------------------------------------------------------------

const PATH_ROOT_FORM = /^\$\{abspath\(join\("\/", \[path\.root((?:, "(?:[^"\\$%]|\\.)*")*)\]\)\)\}$/;

export interface RelativeHostPath {
  /** How many directories the path climbs above the stack directory (cdktf.out/stacks/<name>). */
  readonly up: number;
  /** What follows the climb, normalised, without a leading slash ("" when nothing). */
  readonly tail: string;
}

/**
 * `${abspath(join("/", [path.root, "../../..", "../updateio/api"]))}` → { up: 4, tail: "updateio/api" };
 * undefined for any other expression. The absolute result depends on where the checkout lives.
 */
export function relativeHostPath(value: unknown): RelativeHostPath | undefined {
  if (typeof value !== "string") return undefined;
  const m = PATH_ROOT_FORM.exec(value.trim());
  if (!m) return undefined;
  const parts = [...m[1]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((p) => JSON.parse(`"${p[1]}"`) as string);
  let up = 0;
  const out: string[] = [];
  for (const seg of parts.join("/").split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length > 0) out.pop();
      else up++;
    } else out.push(seg);
  }
  return { up, tail: out.join("/") };
}

/**
 * Directory names that make a relative bind dangerous wherever the checkout lives: every segment of
 * the sensitive host paths and of the socket paths (normalize.ts, the one list both checks use, so
 * they cannot drift apart), the sockets' file names, and the clients' credential directories.
 */
const DANGEROUS_SEGMENTS = new Set([
  ...[...SENSITIVE_HOST_PATHS, ...SOCKET_PATHS].flatMap((p) => p.split("/").filter((s) => s !== "")),
  "docker.sock",
  "containerd.sock",
  "dockershim.sock",
  ".ssh",
  ".docker",
]);

/** Why a relative host path could reach something dangerous, or undefined. */
export function relativeHostPathRisk(rel: RelativeHostPath): string | undefined {
  if (rel.tail === "") return `climbs ${rel.up} directories above the stack directory and binds that directory itself (which may be /)`;
  const bad = rel.tail.split("/").find((s) => DANGEROUS_SEGMENTS.has(s.toLowerCase()));
  if (bad) return `reaches a directory named "${bad}", which may be the host's`;
  // Where the climb reaches /, the tail is an absolute path: it must not reach a sensitive one either.
  const absolute = normalizeHostPath(`/${rel.tail}`);
  if (absolute === "/") return "resolves to /";
  const sensitive = sensitiveHostPath(absolute);
  if (sensitive) return `reaches the host's ${sensitive} when the climb ends at / (${absolute})`;
  if (exposesDockerSocket(absolute)) return `reaches the Docker socket when the climb ends at / (${absolute})`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Accepted forms per attribute
// ---------------------------------------------------------------------------------------------

type Form = (json: TerraformJson, value: string) => boolean;

const refTo =
  (...forms: (readonly [string, readonly string[]])[]): Form =>
  (json, value) =>
    declaredRef(json, value, forms) !== undefined;
const relativePath: Form = (_json, value) => relativeHostPath(value) !== undefined;
/** `${base64encode(<random_password.x.result | local.x | var.x>)}`: data known only at apply. */
const base64OfReference: Form = (json, value) => {
  const m = /^\$\{base64encode\(([^()]+)\)\}$/.exec(value.trim());
  if (!m) return false;
  const inner = m[1]!.trim();
  if (/^(local|var)\.[A-Za-z0-9_-]+$/.test(inner)) return true;
  return declaredRef(json, `\${${inner}}`, [["random_password", ["result"]]]) !== undefined;
};
/** Any expression: attributes that carry data or names, which no rule judges by value. */
const anything: Form = () => true;

/** Attribute patterns (per resource type) where an expression of a given form is judgeable. */
const ACCEPTED: Readonly<Record<string, readonly (readonly [RegExp, Form])[]>> = {
  docker_container: [
    [/^image$/, refTo(["docker_image", ["image_id", "name", "repo_digest"]])],
    [/^networks_advanced\[\]\.name$/, refTo(["docker_network", ["name", "id"]])],
    [/^volumes\[\]\.volume_name$/, refTo(["docker_volume", ["name"]])],
    [/^volumes\[\]\.host_path$/, relativePath],
    [/^mounts\[\]\.source$/, (json, v) => refTo(["docker_volume", ["name"]])(json, v) || relativePath(json, v)],
    // File contents: data for the service, judged by no rule (secrets belong there).
    [/^upload\[\]\.(content|content_base64)$/, anything],
  ],
  docker_service: [
    [/^task_spec\.networks_advanced\[\]\.name$/, refTo(["docker_network", ["id", "name"]])],
    [/^task_spec\.container_spec\.secrets\[\]\.secret_id$/, refTo(["docker_secret", ["id"]])],
    [/^task_spec\.container_spec\.secrets\[\]\.secret_name$/, refTo(["docker_secret", ["name"]])],
    [/^task_spec\.container_spec\.configs\[\]\.config_id$/, refTo(["docker_config", ["id"]])],
    [/^task_spec\.container_spec\.configs\[\]\.config_name$/, refTo(["docker_config", ["name"]])],
  ],
  docker_secret: [
    [/^data$/, base64OfReference],
    // Content-derived names (join/substr/sha256 of the value): a name grants nothing.
    [/^name$/, anything],
  ],
  docker_config: [
    [/^data$/, base64OfReference],
    [/^name$/, anything],
  ],
  docker_image: [
    [/^build\[\]\.context$/, relativePath],
    [/^build\.context$/, relativePath],
    // The Dockerfile's path: the provider reads it from Terraform's working directory, not the context.
    [/^build(\[\])?\.dockerfile$/, relativePath],
    [/^triggers\..+$/, anything],
  ],
};

/** Keys that are Terraform meta-arguments or cdktf metadata, not provider attributes. */
const META_KEYS = new Set(["//", "depends_on", "lifecycle", "provider", "count", "for_each", "provisioner", "connection", "dynamic"]);
export function isMetaKey(key: string): boolean {
  return META_KEYS.has(key);
}

export type Judgement =
  | { readonly kind: "value" }
  | { readonly kind: "accepted" }
  | { readonly kind: "vouched"; readonly reason: string }
  | { readonly kind: "unjudgeable"; readonly why: string };

/**
 * How the policy stands to the value at `path` of a resource of `resourceType`: a plain value, an
 * expression of an accepted form, an expression vouched for, or an expression it cannot judge.
 */
export function judge(resourceType: string, path: string, value: unknown, ctx: RuleContext): Judgement {
  if (typeof value !== "string" || !isExpression(value)) return { kind: "value" };
  if (unwrapLiteral(value)) return { kind: "unjudgeable", why: `${path} is a literal written as an expression (${value})` };
  const p = pattern(path);
  for (const [re, form] of ACCEPTED[resourceType] ?? []) {
    if (re.test(p) && form(ctx.stackJson, value)) return { kind: "accepted" };
  }
  const reason = ctx.vouchedFor?.(p);
  if (reason !== undefined) return { kind: "vouched", reason };
  return { kind: "unjudgeable", why: `${path} is the expression ${shorten(value)}, which the policy cannot judge` };
}

/** For rules: true when `value` is an expression the policy must not accept (not a known form, not vouched). */
export function cannotJudge(resourceType: string, path: string, value: unknown, ctx: RuleContext): boolean {
  return judge(resourceType, path, value, ctx).kind === "unjudgeable";
}

export function shorten(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
