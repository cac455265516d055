import { isMetaKey, judge, type Judgement, shorten } from "../expressions";
import { blockLabels, describe, isExpression, isRecord } from "../json";
import type { PolicyRule, RuleContext } from "../types";

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

export const noUnjudgedExpressions: PolicyRule = {
  id: "no-unjudged-expressions",
  level: "error",
  title: "Every attribute is a value the policy can judge (or an expression a construct vouches for)",
  why: 'an attribute written as a Terraform expression ("${true}", "${var.x}", "${0}") is only known at plan time, so every other rule would have to wave it through; a `dynamic` block (at the top of a resource or data source or nested in one of its blocks, as an object or a JSON array) builds whole blocks the rules never see, and this project does not use dynamic blocks',
  fix: 'write the value itself; reference other resources only in the accepted forms (docker_network.x.id/name, docker_volume.x.name, docker_image.x.image_id, docker_secret.x.id/name, base64encode(random_password.x.result)); where an expression is needed, have the construct call vouchForExpression(resource, attribute, reason). Replace a dynamic block by the blocks it would build, written out one by one (a map attribute must not have a key named "dynamic" either).',
  appliesTo: "*",
  check(resource, ctx, resourceType) {
    const what = resourceType.startsWith("data.") ? `data source ${resourceType.slice("data.".length)}` : describe(resource, resourceType);
    const problems = dynamicKeys(resource).map(
      (d) =>
        `${what}: ${d.path} is a dynamic block${d.builds.length > 0 ? ` (building ${d.builds.join(", ")})` : ""}, which this project does not use and the policy cannot check: write the blocks out`,
    );
    if (resourceType.startsWith("data.")) return problems;
    problems.unshift(...unjudged(resourceType, resource, ctx).map((p) => `${what}: ${p}`));
    return problems;
  },
};
