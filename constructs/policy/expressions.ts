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

/**
 * What the checkout holds besides sources: the repository's history, Terraform's working
 * directories and state (`cdktf.out/stacks/<name>/.terraform`, `*.tfstate`, with every generated
 * password in it). The stack's own local backend path adds its directories (`state/`).
 */
const CHECKOUT_PRIVATE = new Set([".git", ".terraform", "cdktf.out", "terraform.tfstate.d"]);

function localStateSegments(json: TerraformJson | undefined): string[] {
  const backend = json?.terraform?.backend;
  const local = isRecord(backend) && isRecord(backend.local) ? backend.local.path : undefined;
  return typeof local === "string" ? local.split("/").filter((s) => s !== "" && s !== "." && s !== "..") : [];
}

/** Why a relative host path could reach something dangerous, or undefined (`json`: the stack, for its state's path). */
export function relativeHostPathRisk(rel: RelativeHostPath, json?: TerraformJson): string | undefined {
  if (rel.tail === "") return `climbs ${rel.up} directories above the stack directory and binds that directory itself (which may be /)`;
  // cdktf.out/stacks/<name> is three levels below the checkout: less climbs stay in the synthesized output.
  if (rel.up < 3) return "stays inside cdktf.out (synthesized stacks and Terraform's working directories), where there is nothing to bind";
  const segments = rel.tail.split("/");
  const bad = segments.find((s) => DANGEROUS_SEGMENTS.has(s.toLowerCase()));
  if (bad) return `reaches a directory named "${bad}", which may be the host's`;
  const state = new Set(localStateSegments(json).map((s) => s.toLowerCase()));
  const own = segments.find((s) => CHECKOUT_PRIVATE.has(s.toLowerCase()) || state.has(s.toLowerCase()) || /\.tfstate(\.|$)/i.test(s));
  if (own) return `reaches "${own}", which holds Terraform's state or working files or the repository's history, not sources`;
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

// ---------------------------------------------------------------------------------------------
// Templates made of the stack's own values
// ---------------------------------------------------------------------------------------------

/**
 * The inner text of each `${...}` of a Terraform template string, or undefined when it holds a
 * `%{...}` directive or an interpolation that does not close (`$${` and `%%{` are escapes, read as
 * isExpression reads them). An interpolation ends at the first `}` that closes its braces: the
 * accepted forms hold no brace, so a body that hides one fails them instead of passing.
 */
export function interpolations(value: string): string[] | undefined {
  const out: string[] = [];
  for (let i = 0; i < value.length;) {
    if (value.startsWith("$${", i) || value.startsWith("%%{", i)) {
      i += 3;
      continue;
    }
    if (value.startsWith("%{", i)) return undefined;
    if (!value.startsWith("${", i)) {
      i++;
      continue;
    }
    let depth = 1;
    let k = i + 2;
    for (; k < value.length && depth > 0; k++) {
      if (value[k] === "{") depth++;
      else if (value[k] === "}") depth--;
    }
    if (depth > 0) return undefined;
    out.push(value.slice(i + 2, k - 1));
    i = k;
  }
  return out;
}

const STACK_VALUE = new RegExp(
  [
    /random_password\.(?<password>[A-Za-z0-9_-]+)\.result/,
    /urlencode\(random_password\.(?<encoded>[A-Za-z0-9_-]+)\.result\)/,
    /sha256\(random_password\.(?<hashed>[A-Za-z0-9_-]+)\.result\)/,
    /(?<input>var|local)\.(?<inputName>[A-Za-z_][A-Za-z0-9_-]*)/,
    /tolist\(docker_network\.(?<network>[A-Za-z0-9_-]+)\.ipam_config\)\.0\.subnet/,
    /(?<type>docker_[a-z_]+)\.(?<name>[A-Za-z0-9_-]+)\.[a-z0-9_]+/,
  ]
    .map((re) => `(?:${re.source})`)
    .join("|")
    .replace(/^/, "^(?:")
    .concat(")$"),
);

function declares(section: unknown, name: string): boolean {
  return isRecord(section) && Object.hasOwn(section, name) && section[name] !== undefined;
}

/**
 * Whether an interpolation's body is a value of this stack itself: a generated password
 * (`random_password.x.result`, `urlencode(...)` or `sha256(...)` of one), an input (`var.x`, `local.x`), or an
 * attribute of a docker resource the stack declares (`docker_volume.x.name`, a network's subnet).
 * Config files, connection URLs and secret names are made of these; a function that reads the
 * applying machine (`file`, `templatefile`, `fileset` ...) is none of them.
 */
export function isStackValue(json: TerraformJson, body: string): boolean {
  const g = STACK_VALUE.exec(body)?.groups;
  if (!g) return false;
  const password = g.password ?? g.encoded ?? g.hashed;
  if (password !== undefined) return declares(json.resource?.random_password, password);
  if (g.input !== undefined) return declares(g.input === "var" ? json.variable : json.locals, g.inputName!);
  if (g.network !== undefined) return declares(json.resource?.docker_network, g.network);
  return declares(json.resource?.[g.type!], g.name!);
}

/** A template whose every interpolation is a value of the stack (no directive). */
export function isStackTemplate(json: TerraformJson, value: string): boolean {
  const parts = interpolations(value);
  return parts !== undefined && parts.every((body) => isStackValue(json, body));
}

/** File contents: literal text joined with values of the stack (passwords, URLs built from them, subnets). */
const stackData: Form = (json, value) => isStackTemplate(json, value);

/** `${join("", ["<name>-", substr(sha256(<stack value>), 0, 12)])}`: a name that changes with its content. */
const CONTENT_DERIVED_NAME = /^\$\{join\("", \["[A-Za-z0-9_.-]*", substr\(sha256\(([^(){}"]+)\), 0, 12\)\]\)\}$/;
const contentDerivedName: Form = (json, value) => {
  const m = CONTENT_DERIVED_NAME.exec(value);
  return m !== null && isStackValue(json, m[1]!);
};

/** `${filesha256(<relative path>)}`: a rebuild trigger, the hash of a file of the checkout. */
const hashOfRelativeFile: Form = (json, value) => {
  const m = /^\$\{filesha256\((.+)\)\}$/.exec(value);
  return m !== null && relativePath(json, `\${${m[1]}}`);
};

/** Attribute patterns (per resource type) where an expression of a given form is judgeable. */
const ACCEPTED: Readonly<Record<string, readonly (readonly [RegExp, Form])[]>> = {
  docker_container: [
    [/^image$/, refTo(["docker_image", ["image_id", "name", "repo_digest"]])],
    [/^networks_advanced\[\]\.name$/, refTo(["docker_network", ["name", "id"]])],
    [/^volumes\[\]\.volume_name$/, refTo(["docker_volume", ["name"]])],
    [/^volumes\[\]\.host_path$/, relativePath],
    [/^mounts\[\]\.source$/, (json, v) => refTo(["docker_volume", ["name"]])(json, v) || relativePath(json, v)],
    // File contents carry secrets, but only the stack's own values: never a file of the applying machine.
    [/^upload\[\]\.(content|content_base64)$/, stackData],
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
    [/^name$/, contentDerivedName],
  ],
  docker_config: [
    [/^data$/, base64OfReference],
    [/^name$/, contentDerivedName],
  ],
  docker_image: [
    [/^build\[\]\.context$/, relativePath],
    [/^build\.context$/, relativePath],
    // The Dockerfile's path: the provider reads it from Terraform's working directory, not the context.
    [/^build(\[\])?\.dockerfile$/, relativePath],
    [/^triggers\..+$/, hashOfRelativeFile],
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
