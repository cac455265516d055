/**
 * What the rule files share: which resources are workloads, how a rule treats an expression, what a
 * workload IS (its image, not a label alone), and the checks two rules run alike.
 */
import { DOCKER_SOCKET_PROXY_ROLE, LABELS } from "../../contract/index";
import { judge, relativeHostPath, shorten } from "../expressions";
import { block, blocks, describe, isExpression, isRecord } from "../json";
import { goDurationSeconds, imageRepository, isUnreadableNumber, numberOf, plain } from "../normalize";
import type { PolicyRule, Problem, RuleContext, TerraformJson } from "../types";
import { bindLikeDevice, builtByStack, type HostBind, hostBinds, repositoryOf, type Workload, workloadOf } from "../workload";

export { COMPONENTS, DOCKER_SOCKET_PROXY_ROLE, LABELS, type Component } from "../../contract/index";

export const WORKLOADS = ["docker_container", "docker_service"] as const;

/** Run `check` on containers and services alike. */
export function onWorkload(fn: (w: Workload, ctx: RuleContext) => string[]): PolicyRule["check"] {
  return (resource, ctx, type) => {
    const w = workloadOf(resource, type);
    return w ? fn(w, ctx) : [];
  };
}

/** A positive number within bounds, or the problem with it. */
/** One entry of a container's or service's env: a "NAME=value" list element, or a key of a map. */
export interface EnvEntry {
  /** "env[3]" or "env.NAME". */
  readonly path: string;
  /** The entry as the list form writes it ("NAME=value"), or a list element or map value that is no string, as it is. */
  readonly text: unknown;
  /** A list element's text before its first "=" (the whole text without one), or the map's key. */
  readonly name: string;
  /** A list element's text after its first "=" ("" without one), or the map's value as it is. */
  readonly value: unknown;
}

/**
 * The entries of an env attribute, in list or map form ([] when unset); undefined when it is
 * neither (an expression, a number ...), which no rule can read.
 */
export function envEntries(env: unknown): EnvEntry[] | undefined {
  if (env === undefined || env === null) return [];
  if (Array.isArray(env))
    return env.map((text, i) => {
      const entry = String(text);
      const eq = entry.indexOf("=");
      return { path: `env[${i}]`, text, name: eq === -1 ? entry : entry.slice(0, eq), value: eq === -1 ? "" : entry.slice(eq + 1) };
    });
  if (isRecord(env))
    return Object.entries(env).map(([name, value]) => ({
      path: `env.${name}`,
      text: typeof value === "string" ? `${name}=${value}` : value,
      name,
      value,
    }));
  return undefined;
}

/**
 * The finding for a value that is set but is no number Terraform would read (`isUnreadableNumber`):
 * such a value is never taken as 0 or skipped. Undefined for a readable or unset value.
 */
export function unreadableNumber(name: string, path: string, value: unknown, kind = "number"): string | undefined {
  return isUnreadableNumber(value) ? `${name} has ${path} = ${JSON.stringify(value)}, which is no ${kind} the policy can read` : undefined;
}

export function positive(w: Workload, ctx: RuleContext, path: string, raw: unknown, what: string, max: number, unit: string): string[] {
  const v = valueAt(w.resourceType, path, raw, ctx, w.name);
  if (v.kind === "problem") return [v.problem];
  if (v.kind === "trusted") return [];
  const n = numberOf(v.value);
  const unreadable = unreadableNumber(w.name, path, v.value);
  if (unreadable) return [`${unreadable} (expected a ${what})`];
  if (n === undefined || n <= 0) return [`${w.name} has no ${what} (${path} = ${raw === undefined ? "unset" : JSON.stringify(raw)})`];
  if (n > max) return [`${w.name} has ${what} ${path} = ${n}${unit}, which is effectively unlimited (more than ${max}${unit})`];
  return [];
}

export function rolloutProblems(w: Workload, ctx: RuleContext, key: "update_config" | "rollback_config"): string[] {
  const cfg = blocks(w.resource[key])[0];
  if (!cfg) return [`${w.name} has no ${key}`];
  const problems: string[] = [];
  const field = (name: string) => valueAt(w.resourceType, `${key}.${name}`, cfg[name], ctx, w.name);
  const parallelism = field("parallelism");
  if (parallelism.kind === "problem") problems.push(parallelism.problem);
  else if (parallelism.kind === "value") {
    const n = numberOf(parallelism.value);
    const unreadable = unreadableNumber(w.name, `${key}.parallelism`, parallelism.value);
    if (unreadable) problems.push(unreadable);
    else if (n === undefined || n < 1)
      problems.push(`${w.name} has ${key}.parallelism = ${JSON.stringify(parallelism.value)} (0 or unset updates every task at once)`);
  }
  const monitor = field("monitor");
  if (monitor.kind === "problem") problems.push(monitor.problem);
  else if (monitor.kind === "value") {
    const s = goDurationSeconds(monitor.value);
    if (s === undefined || s <= 0)
      problems.push(
        `${w.name} has ${key}.monitor = ${JSON.stringify(monitor.value)} (a failing task must be watched for some time to be noticed)`,
      );
  }
  const order = field("order");
  if (order.kind === "problem") problems.push(order.problem);
  else if (order.kind === "value" && order.value !== "start-first" && order.value !== "stop-first") {
    problems.push(`${w.name} has ${key}.order = ${JSON.stringify(order.value)} (expected "start-first" or "stop-first")`);
  }
  if (key === "update_config") {
    const action = field("failure_action");
    if (action.kind === "problem") problems.push(action.problem);
    else if (action.kind === "value" && plain(action.value) !== "rollback") {
      problems.push(`${w.name} has update_config.failure_action = ${JSON.stringify(action.value)} (a failed update must roll back)`);
    }
  }
  return problems;
}

export const MOUNTING = ["docker_container", "docker_service", "docker_volume"] as const;

/** Host paths a docker_volume binds through its driver options (`type=none, o=bind, device=/x`). */
export function volumeBinds(v: Record<string, unknown>): HostBind[] {
  const device = bindLikeDevice(v.driver_opts);
  return device === undefined ? [] : [{ path: "driver_opts.device", hostPath: device, readOnly: false, via: "volume driver options" }];
}

/** Literal binds of a resource, with expressions the policy cannot judge reported. */
export function bindsOf(
  resource: Record<string, unknown>,
  type: string,
  ctx: RuleContext,
): { what: string; w?: Workload; binds: HostBind[]; problems: Problem[] } {
  const w = workloadOf(resource, type);
  const what = w ? w.name : describe(resource, type);
  const all = w ? hostBinds(w) : volumeBinds(resource);
  const binds: HostBind[] = [];
  const problems: Problem[] = [];
  for (const b of all) {
    if (relativeHostPath(b.hostPath)) {
      binds.push(b);
      continue;
    }
    const v = valueAt(type, b.path, b.hostPath, ctx, what);
    if (v.kind === "problem") problems.push(v.problem);
    else if (v.kind === "value" && typeof v.value === "string") binds.push({ ...b, hostPath: v.value });
  }
  return { what, w, binds, problems };
}

/** Network attachments of a workload: the path, the written name and the whole block (its aliases). */
export function attachments(w: Workload): { path: string; name: unknown; block: Record<string, unknown> }[] {
  const list = w.kind === "container" ? blocks(w.resource.networks_advanced) : blocks(block(w.resource.task_spec).networks_advanced);
  const prefix = w.kind === "container" ? "networks_advanced" : "task_spec.networks_advanced";
  return list.map((n, i) => ({ path: `${prefix}[${i}].name`, name: n.name, block: n }));
}

/**
 * What a workload IS decides its exemptions, never a label alone (anyone can write a label): the
 * edge is a Caddy image labelled edge, the socket proxy a docker-socket-proxy image with that role,
 * and a database image is data whatever its label says. An image the stack BUILDS (a docker_image
 * with a build block, or one named like it) is never the edge or the socket proxy, whatever its
 * name: its content is whatever the build context holds.
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

/** "public.ecr.aws/docker/library/postgres" → "postgres": a mirror serves the same image under any prefix. */
function lastSegment(repository: string): string {
  return repository.slice(repository.lastIndexOf("/") + 1);
}

/** The names that make an image a data store, by the last path segment of DATA_IMAGES. */
const DATA_NAMES = new Set(DATA_IMAGES.map((i) => lastSegment(imageRepository(i))));

/**
 * True when `repository` is a data image from any registry or namespace (a mirror, a proxy cache):
 * its last path segment is exactly one of DATA_IMAGES' ("postgres-exporter" is not "postgres").
 */
export function isDataRepository(repository: string): boolean {
  return DATA_NAMES.has(lastSegment(imageRepository(repository)));
}

export function componentOf(w: Workload): string | undefined {
  return w.labels.get(LABELS.component);
}

export function isEdge(w: Workload, json: TerraformJson): boolean {
  const repo = repositoryOf(w, json);
  return componentOf(w) === "edge" && repo !== undefined && EDGE_IMAGES.includes(repo) && !builtByStack(w, json);
}

export function isSocketProxy(w: Workload, json: TerraformJson): boolean {
  const repo = repositoryOf(w, json);
  return (
    w.labels.get(LABELS.role) === DOCKER_SOCKET_PROXY_ROLE &&
    repo !== undefined &&
    SOCKET_PROXY_IMAGES.includes(repo) &&
    !builtByStack(w, json)
  );
}

export function isData(w: Workload, json: TerraformJson): boolean {
  const repo = repositoryOf(w, json);
  // Built or pulled alike: being data only adds restrictions.
  return componentOf(w) === "data" || (repo !== undefined && isDataRepository(repo));
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

/**
 * `["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:<port>/<path>"]`: a probe of the
 * workload's own HTTP endpoint, and nothing else (no shell, no other host).
 */
export function isLocalProbe(test: unknown): boolean {
  if (!Array.isArray(test) || test.length !== 6) return false;
  const [cmd, wget, q, o, sink, url] = test as unknown[];
  return (
    cmd === "CMD" &&
    wget === "wget" &&
    q === "-q" &&
    o === "-O" &&
    sink === "/dev/null" &&
    typeof url === "string" &&
    /^http:\/\/127\.0\.0\.1:\d{1,5}\/[A-Za-z0-9_/.-]*$/.test(url)
  );
}
