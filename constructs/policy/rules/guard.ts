/**
 * Rules that keep the policy itself from being stepped around: expressions it cannot judge,
 * provisioners, and resource types it does not know.
 */
import { isMetaKey, judge, shorten, type Judgement } from "../expressions";
import { describe, isRecord } from "../json";
import { everywhere, type PolicyRule, type RuleContext } from "../types";

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
  const walk = (value: unknown, path: string) => {
    if (typeof value === "string") {
      onValue(judge(resourceType, path, value, ctx), path, value);
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, `${path}[${i}]`));
      return;
    }
    if (isRecord(value)) {
      for (const [k, v] of Object.entries(value)) {
        if (path === "" && isMetaKey(k)) continue;
        if (k.includes("${") || k.includes("%{"))
          onExpressionKey(`${path ? `${path}.` : ""}${shorten(k)} is a key written as an expression, which the policy cannot judge`);
        walk(v, path ? `${path}.${k}` : k);
      }
    }
  };
  walk(resource, "");
}

export const noUnjudgedExpressions: PolicyRule = {
  id: "no-unjudged-expressions",
  severity: everywhere("error"),
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

export const noProvisioners: PolicyRule = {
  id: "no-provisioners",
  severity: everywhere("error"),
  title: "No provisioners",
  why: "a provisioner (local-exec, remote-exec, file) runs arbitrary commands on the machine that applies, or on a host, outside every rule of this policy",
  fix: "remove `provisioner` and `connection`; express the change as resources the policy checks.",
  appliesTo: "*",
  check(resource, _ctx, resourceType) {
    const what = describe(resource, resourceType);
    const problems: string[] = [];
    if (resource.provisioner !== undefined)
      problems.push(
        `${what} has provisioner(s) ${JSON.stringify(Object.keys(Array.isArray(resource.provisioner) ? Object.assign({}, ...resource.provisioner) : (resource.provisioner as object)))}`,
      );
    if (resource.connection !== undefined) problems.push(`${what} has a connection block`);
    return problems;
  },
};

/** What this platform's stacks are made of; anything else is outside what the policy understands. */
export const ALLOWED_RESOURCE_TYPES = [
  "docker_container",
  "docker_image",
  "docker_network",
  "docker_volume",
  "docker_service",
  "docker_secret",
  "docker_config",
  "random_password",
  "random_id",
  "random_string",
  "random_integer",
  "random_uuid",
];
export const ALLOWED_DATA_SOURCES = ["docker_network", "docker_image", "docker_registry_image", "docker_registry_image_manifests"];

export const knownResourceTypes: PolicyRule = {
  id: "known-resource-types",
  severity: everywhere("error"),
  title: "Only resource and data source types the policy knows",
  why: "a docker_plugin runs with the privileges it asks for on the host, docker_buildx_builder/docker_registry_image/docker_tag build and push images outside review, and other providers' resources and data sources (null_resource, external, local_file ...) run or read anything",
  fix: `use only ${ALLOWED_RESOURCE_TYPES.join(", ")} (data sources: ${ALLOWED_DATA_SOURCES.join(", ")}); a new type needs rules first.`,
  appliesTo: "*",
  check(resource, _ctx, resourceType) {
    if (resourceType.startsWith("data.")) {
      const t = resourceType.slice("data.".length);
      return ALLOWED_DATA_SOURCES.includes(t)
        ? []
        : [`data source ${t}${typeof resource.name === "string" ? ` "${resource.name}"` : ""} is of a type the policy does not know`];
    }
    return ALLOWED_RESOURCE_TYPES.includes(resourceType)
      ? []
      : [`${describe(resource, resourceType)} is a resource of type ${resourceType}, which the policy does not know`];
  },
};

export const GUARD_RULES: readonly PolicyRule[] = [noUnjudgedExpressions, noProvisioners, knownResourceTypes];
