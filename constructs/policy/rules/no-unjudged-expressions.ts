import { isMetaKey, judge, type Judgement, shorten } from "../expressions";
import { describe, isExpression, isRecord } from "../json";
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

export const noUnjudgedExpressions: PolicyRule = {
  id: "no-unjudged-expressions",
  level: "error",
  title: "Every attribute is a value the policy can judge (or an expression a construct vouches for)",
  why: 'an attribute written as a Terraform expression ("${true}", "${var.x}", "${0}") is only known at plan time, so every other rule would have to wave it through; dynamic blocks hide whole blocks the same way',
  fix: "write the value itself; reference other resources only in the accepted forms (docker_network.x.id/name, docker_volume.x.name, docker_image.x.image_id, docker_secret.x.id/name, base64encode(random_password.x.result)); where an expression is needed, have the construct call vouchForExpression(resource, attribute, reason).",
  appliesTo: "*",
  check(resource, ctx, resourceType) {
    if (resourceType.startsWith("data.")) return [];
    const what = describe(resource, resourceType);
    const problems = unjudged(resourceType, resource, ctx).map((p) => `${what}: ${p}`);
    if (isRecord(resource.dynamic)) {
      for (const name of Object.keys(resource.dynamic))
        problems.push(`${what}: ${name} is built by a dynamic block, which the policy cannot check at synth time`);
    }
    return problems;
  },
};
