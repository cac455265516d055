import { isMetaKey, isStackTemplate, judge, type Judgement, shorten } from "../expressions";
import { blockKeyProblems, blockLabels, blocks, describe, isExpression, isRecord } from "../json";
import type { PolicyRule, RuleContext, TerraformJson } from "../types";
import type { StackProblem } from "./known-resource-types";

/** Every `${...}` in the resource that no rule can judge (not an accepted form, not vouched for). */
function unjudged(resourceType: string, resource: Record<string, unknown>, ctx: RuleContext): string[] {
  const out: string[] = [];
  walkExpressions(
    resourceType,
    resource,
    ctx,
    (j) => {
      if (j.kind === "unjudgeable") out.push(j.why);
    },
    (p) => out.push(p),
  );
  return out;
}

/** Expressions that pass only because a construct vouched for them (reported like suppressions). */
export function vouchedExpressions(
  resourceType: string,
  resource: Record<string, unknown>,
  ctx: RuleContext,
): { path: string; value: string; reason: string }[] {
  const out: { path: string; value: string; reason: string }[] = [];
  walkExpressions(
    resourceType,
    resource,
    ctx,
    (j, path, value) => {
      if (j.kind === "vouched") out.push({ path, value, reason: j.reason });
    },
    () => undefined,
  );
  return out;
}

function walkExpressions(
  resourceType: string,
  resource: Record<string, unknown>,
  ctx: RuleContext,
  onValue: (j: Judgement, path: string, value: string) => void,
  onExpressionKey: (problem: string) => void,
): void {
  // The path ("a.b[0].c") is joined only for an expression: most strings are plain values.
  const segments: string[] = [];
  const walk = (value: unknown) => {
    if (typeof value === "string") {
      if (!isExpression(value)) return; // judge calls it a value: nothing to report
      const path = segments.join("");
      onValue(judge(resourceType, path, value, ctx), path, value);
      return;
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        segments.push(`[${i}]`);
        walk(value[i]);
        segments.pop();
      }
      return;
    }
    if (isRecord(value)) {
      // Meta-arguments are skipped at the top of the resource only, whatever the keys above are called.
      const top = segments.length === 0;
      for (const k of Object.keys(value)) {
        if (top && isMetaKey(k)) continue;
        if (k.includes("${") || k.includes("%{"))
          onExpressionKey(
            `${top ? "" : `${segments.join("")}.`}${shorten(k)} is a key written as an expression, which the policy cannot judge`,
          );
        segments.push(top ? k : `.${k}`);
        walk(value[k]);
        segments.pop();
      }
    }
  };
  walk(resource);
}

/**
 * Every `dynamic` key in the resource, at any depth and in any shape (an object of blocks, a JSON
 * array of such objects, or something else): the path of each and the blocks it names. This
 * project never writes dynamic blocks, so the rule refuses them all instead of judging their
 * for_each and content (which a literal list and plain content would make look harmless).
 */
function dynamicKeys(resource: Record<string, unknown>): { path: string; builds: string[] }[] {
  const out: { path: string; builds: string[] }[] = [];
  const walk = (value: unknown, path: string) => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, `${path}[${i}]`));
      return;
    }
    if (!isRecord(value)) return;
    for (const [k, v] of Object.entries(value)) {
      const at = path === "" ? k : `${path}.${k}`;
      if (k === "dynamic") {
        out.push({ path: at, builds: blockLabels(v) });
        continue; // one finding for the whole dynamic value
      }
      walk(v, at);
    }
  };
  walk(resource, "");
  return out;
}

/** `docker_container.x` or `data.docker_image.x`: what depends_on and replace_triggered_by may name. */
const ADDRESS = /^(?:data\.)?[a-z][a-z0-9_]*\.[A-Za-z0-9_-]+$/;
/** An attribute path of ignore_changes: `upload`, `labels`, `task_spec[0].networks_advanced`. */
const ATTRIBUTE_PATH = /^[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*|\[\d+\])*$/;
/** The one condition constructs write: a one-shot job's exit code (`self.exit_code == 0`). */
const CONDITION = /^\$\{self\.[a-z_]+ == -?\d+\}$/;
const LIFECYCLE_KEYS = [
  "create_before_destroy",
  "prevent_destroy",
  "ignore_changes",
  "replace_triggered_by",
  "precondition",
  "postcondition",
];

const stringsAll = (v: unknown, test: (s: string) => boolean) => Array.isArray(v) && v.every((x) => typeof x === "string" && test(x));

/**
 * The meta-arguments, which Terraform evaluates on the machine that applies before any provider
 * sees the resource: only the forms constructs write. count and for_each are refused outright (no
 * construct uses them, and their expressions run at plan); a condition is `self.<attr> == <n>`; an
 * error message, a dependency or a provider is a literal. provisioner/connection: no-provisioners.
 */
function metaArgumentProblems(resource: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const key of ["count", "for_each"])
    if (resource[key] !== undefined)
      out.push(`${key} is set, which this project does not use (its expression is evaluated where Terraform runs)`);
  const provider = resource.provider;
  if (provider !== undefined && !(typeof provider === "string" && /^(docker|random)(\.[A-Za-z0-9_-]+)?$/.test(provider)))
    out.push(`provider is ${shorten(JSON.stringify(provider))}: expected "docker" or "random", optionally with an alias ("docker.x")`);
  if (resource.depends_on !== undefined && !stringsAll(resource.depends_on, (s) => ADDRESS.test(s)))
    out.push(`depends_on is ${shorten(JSON.stringify(resource.depends_on))}: expected a list of resource addresses ("docker_container.x")`);
  if (resource.lifecycle === undefined) return out;
  const lifecycles = blocks(resource.lifecycle);
  if (lifecycles.length === 0) out.push("lifecycle is not a block");
  for (const lc of lifecycles) {
    for (const [key, value] of Object.entries(lc)) {
      if (key === "//") continue;
      if (!LIFECYCLE_KEYS.includes(key))
        out.push(`lifecycle.${shorten(key)} is set, which the policy does not know (only ${LIFECYCLE_KEYS.join(", ")})`);
      else if ((key === "create_before_destroy" || key === "prevent_destroy") && typeof value !== "boolean")
        out.push(`lifecycle.${key} is ${shorten(JSON.stringify(value))}: expected true or false`);
      else if (key === "ignore_changes" && value !== "all" && !stringsAll(value, (s) => ATTRIBUTE_PATH.test(s)))
        out.push(`lifecycle.ignore_changes is ${shorten(JSON.stringify(value))}: expected "all" or a list of attribute names`);
      else if (key === "replace_triggered_by" && !stringsAll(value, (s) => ADDRESS.test(s)))
        out.push(`lifecycle.replace_triggered_by is ${shorten(JSON.stringify(value))}: expected a list of resource addresses`);
      else if (key === "precondition" || key === "postcondition") {
        const conditions = blocks(value);
        if (conditions.length === 0) out.push(`lifecycle.${key} is not a block`);
        for (const c of conditions) {
          const extra = Object.keys(c).filter((k) => k !== "condition" && k !== "error_message" && k !== "//");
          if (extra.length > 0)
            out.push(`lifecycle.${key} sets ${extra.map((k) => shorten(k)).join(", ")} (only condition and error_message)`);
          if (!(typeof c.condition === "string" && CONDITION.test(c.condition)))
            out.push(`lifecycle.${key}.condition is ${shorten(JSON.stringify(c.condition))}: expected "\${self.<attribute> == <number>}"`);
          if (typeof c.error_message !== "string" || isExpression(c.error_message))
            out.push(
              `lifecycle.${key}.error_message is ${shorten(JSON.stringify(c.error_message))}: expected literal text (an expression there is printed where Terraform runs)`,
            );
        }
      }
    }
  }
  return out;
}

const VARIABLE_KEYS = ["description", "type", "sensitive", "nullable", "default"];
const OUTPUT_KEYS = ["value", "description", "sensitive", "depends_on"];

/** Every string in `value`, with its path ("output.x.value.url"). */
function stringsIn(value: unknown, path: string, out: { path: string; value: string }[] = []): { path: string; value: string }[] {
  if (typeof value === "string") out.push({ path, value });
  else if (Array.isArray(value)) value.forEach((v, i) => stringsIn(v, `${path}[${i}]`, out));
  else if (isRecord(value)) for (const [k, v] of Object.entries(value)) stringsIn(v, `${path}.${k}`, out);
  return out;
}

/**
 * Expressions outside the resources, which no per-resource check sees: locals and outputs (their
 * values may only join literal text with the stack's own values, so `file()` cannot read the
 * applying machine into a secret, a log or the state), variables (literal, no validation: its
 * condition and message are expressions too), and the docker provider's registry login (its
 * credentials are variables, sent to the registry it names). Run once per stack by the aspect.
 */
export function stackExpressionProblems(json: TerraformJson): StackProblem[] {
  const out: StackProblem[] = [];
  const raw = json as unknown as Record<string, unknown>;
  const foreign = (type: string, name: string, value: unknown, path: string, what: string) => {
    for (const f of stringsIn(value, path).filter((x) => isExpression(x.value) && !isStackTemplate(json, x.value)))
      out.push({
        type,
        name,
        problem: `${f.path} is ${shorten(JSON.stringify(f.value))}: ${what} may only join literal text with the stack's own values (random_password.x.result, urlencode() of one, var.x, local.x, docker_<type>.x.<attribute>)`,
      });
  };
  if (raw.locals !== undefined) {
    if (!isRecord(raw.locals)) out.push({ type: "locals", name: "", problem: "the stack's locals are not an object of values" });
    else for (const [name, value] of Object.entries(raw.locals)) foreign("locals", name, value, `local.${name}`, "a local");
  }
  for (const [section, allowed] of [
    ["output", OUTPUT_KEYS],
    ["variable", VARIABLE_KEYS],
  ] as const) {
    const byName = raw[section];
    if (byName === undefined) continue;
    if (!isRecord(byName)) {
      out.push({ type: section, name: "", problem: `the stack's ${section} blocks are not an object of names` });
      continue;
    }
    for (const [name, body] of Object.entries(byName)) {
      const at = `${section}.${name}`;
      for (const p of blockKeyProblems(body, at, [...allowed, "//"]))
        out.push({
          type: section,
          name,
          problem:
            p.key === undefined
              ? `${p.path} is not an object`
              : `${p.path} sets ${shorten(p.key)}, which the policy does not allow (only ${allowed.join(", ")})`,
        });
      for (const b of blocks(body)) {
        if (section === "output") {
          foreign(section, name, b.value, `${at}.value`, "an output");
          if (b.depends_on !== undefined && !stringsAll(b.depends_on, (s) => ADDRESS.test(s)))
            out.push({ type: section, name, problem: `${at}.depends_on is not a list of resource addresses` });
        }
        for (const key of ["description", ...(section === "variable" ? ["type", "default"] : [])]) {
          for (const f of stringsIn(b[key], `${at}.${key}`).filter((x) => isExpression(x.value)))
            out.push({ type: section, name, problem: `${f.path} is ${shorten(JSON.stringify(f.value))}: write it as literal text` });
        }
      }
    }
  }
  for (const docker of isRecord(raw.provider) ? blocks(raw.provider.docker) : []) {
    for (const auth of blocks(docker.registry_auth)) {
      if (isExpression(auth.address))
        out.push({
          type: "provider.docker",
          name: "",
          problem: `provider.docker.registry_auth.address is ${shorten(JSON.stringify(auth.address))}: write the registry's address as a literal`,
        });
      for (const key of ["username", "password"]) {
        const v = auth[key];
        if (isExpression(v) && !(typeof v === "string" && /^\$\{var\.[A-Za-z_][A-Za-z0-9_-]*\}$/.test(v) && isStackTemplate(json, v)))
          out.push({
            type: "provider.docker",
            name: "",
            problem: `provider.docker.registry_auth.${key} is ${shorten(JSON.stringify(v))}: a registry login takes its ${key} from a declared variable ("\${var.x}")`,
          });
      }
    }
  }
  return out;
}

export const noUnjudgedExpressions: PolicyRule = {
  id: "no-unjudged-expressions",
  level: "error",
  title:
    "Every attribute, meta-argument, local, output and variable is a value the policy can judge (or an expression a construct vouches for)",
  why: 'an attribute written as a Terraform expression ("${true}", "${var.x}", "${0}") is only known at plan time, so every other rule would have to wave it through; Terraform evaluates every expression on the machine that applies, so `file()`, `templatefile()` and the like in a file\'s content, a secret\'s name, a local, an output, a meta-argument (count, for_each, a condition or its message) or the registry login would carry that machine\'s files (its Terraform Cloud token, SSH keys) into a container, the state or a run log; a `dynamic` block (at the top of a resource or data source or nested in one of its blocks, as an object or a JSON array) builds whole blocks the rules never see, and this project does not use dynamic blocks',
  fix: 'write the value itself; reference other resources only in the accepted forms (docker_network.x.id/name, docker_volume.x.name, docker_image.x.image_id, docker_secret.x.id/name, base64encode(random_password.x.result)); build file contents, locals and outputs from literal text and the stack\'s own values only (random_password.x.result, urlencode() of one, var.x, local.x, docker_<type>.x.<attribute>); name a secret join("", ["<name>-", substr(sha256(<such a value>), 0, 12)]); trigger a rebuild with filesha256() of a file in the checkout; leave out count and for_each, write conditions as self.<attribute> == <number> with a literal message, and take the registry login from variables; where an expression is needed, have the construct call vouchForExpression(resource, attribute, reason). Replace a dynamic block by the blocks it would build, written out one by one (a map attribute must not have a key named "dynamic" either).',
  appliesTo: "*",
  check(resource, ctx, resourceType) {
    const what = resourceType.startsWith("data.") ? `data source ${resourceType.slice("data.".length)}` : describe(resource, resourceType);
    const problems = dynamicKeys(resource).map(
      (d) =>
        `${what}: ${d.path} is a dynamic block${d.builds.length > 0 ? ` (building ${d.builds.join(", ")})` : ""}, which this project does not use and the policy cannot check: write the blocks out`,
    );
    problems.unshift(...[...unjudged(resourceType, resource, ctx), ...metaArgumentProblems(resource)].map((p) => `${what}: ${p}`));
    return problems;
  },
};
