/**
 * Helpers the rule files share: labels, what a workload IS, and how a rule treats an expression.
 */
import { judge, shorten } from "../expressions";
import { isExpression } from "../json";
import { plain } from "../normalize";
import type { RuleContext, TerraformJson } from "../types";
import { repositoryOf, type Workload } from "../workload";

export { COMPONENTS, LABELS, type Component } from "../../contract/index";
import { LABELS } from "../../contract/index";

export const DOCKER_SOCKET_PROXY_ROLE = "docker-socket-proxy";

/**
 * What a workload IS decides its exemptions, never a label alone (anyone can write a label): the
 * edge is a Caddy image labelled edge, the socket proxy a docker-socket-proxy image with that role,
 * and a database image is data whatever its label says.
 */
export const EDGE_IMAGES = ["caddy"];
export const SOCKET_PROXY_IMAGES = ["tecnativa/docker-socket-proxy"];
export const DATA_IMAGES = [
  "postgres",
  "redis",
  "rabbitmq",
  "edoburu/pgbouncer",
  "bitnami/postgresql",
  "bitnami/redis",
  "bitnami/rabbitmq",
  "valkey/valkey",
  "mariadb",
  "mysql",
  "mongo",
];

export function componentOf(w: Workload): string | undefined {
  return w.labels.get(LABELS.component);
}

export function isEdge(w: Workload, json: TerraformJson): boolean {
  const repo = repositoryOf(w, json);
  return componentOf(w) === "edge" && repo !== undefined && EDGE_IMAGES.includes(repo);
}

export function isSocketProxy(w: Workload, json: TerraformJson): boolean {
  const repo = repositoryOf(w, json);
  return w.labels.get(LABELS.role) === DOCKER_SOCKET_PROXY_ROLE && repo !== undefined && SOCKET_PROXY_IMAGES.includes(repo);
}

export function isData(w: Workload, json: TerraformJson): boolean {
  const repo = repositoryOf(w, json);
  return componentOf(w) === "data" || (repo !== undefined && DATA_IMAGES.includes(repo));
}

export type Verdict =
  | { readonly kind: "value"; readonly value: unknown }
  | { readonly kind: "trusted" }
  | { readonly kind: "problem"; readonly problem: string };

/**
 * How a rule should treat the value at `path`: judge the plain value (wrapped literals unwrapped),
 * trust an expression of an accepted form or vouched for, or report an expression it cannot judge.
 */
export function valueAt(resourceType: string, path: string, raw: unknown, ctx: RuleContext, what: string): Verdict {
  const value = plain(raw);
  if (typeof value !== "string" || !isExpression(value)) return { kind: "value", value };
  const j = judge(resourceType, path, value, ctx);
  if (j.kind === "accepted" || j.kind === "vouched") return { kind: "trusted" };
  return { kind: "problem", problem: `${what} sets ${path} to the expression ${shorten(value)}, which the policy cannot judge` };
}

/** Problems for every unjudgeable expression among the items of a list attribute. */
export function listItems(
  resourceType: string,
  path: string,
  raw: unknown,
  ctx: RuleContext,
  what: string,
): { values: string[]; problems: string[] } {
  const problems: string[] = [];
  const values: string[] = [];
  const v = valueAt(resourceType, path, raw, ctx, what);
  if (v.kind === "problem") return { values, problems: [v.problem] };
  if (v.kind === "trusted" || !Array.isArray(v.value)) return { values, problems };
  v.value.forEach((item, i) => {
    const iv = valueAt(resourceType, `${path}[${i}]`, item, ctx, what);
    if (iv.kind === "problem") problems.push(iv.problem);
    else if (iv.kind === "value" && (typeof iv.value === "string" || typeof iv.value === "number")) values.push(String(iv.value));
  });
  return { values, problems };
}

/** Names of `dynamic` blocks: their content is built at plan time and cannot be checked. */
export function dynamicBlocks(resource: Record<string, unknown>, what: string): string[] {
  const dyn = resource.dynamic;
  if (typeof dyn !== "object" || dyn === null) return [];
  return Object.keys(dyn).map((n) => `${what} builds ${n} with a dynamic block, which the policy cannot check at synth time`);
}
