/**
 * What kreuzwerker/docker 3.6.2 and the Swarm engine do with a docker_service, docker_secret,
 * docker_config or overlay network, read from the provider source at v3.6.2
 * (internal/provider/resource_docker_service.go, resource_docker_secret.go,
 * resource_docker_config.go, helpers.go's labelSchema) and swarmkit's orchestrator (IsTaskDirty).
 *
 * - ForceNew (destroy, then create under the same name): name, auth, labels (labelSchema's label
 *   and value are ForceNew, so any change to the set is), task_spec.container_spec labels / hosts /
 *   sysctl, task_spec.networks_advanced (name, aliases, driver_opts), and the labels of a mount's
 *   volume_options.
 * - `mode` is ForceNew only as a whole block (the SDK applies it to the block count): replicas
 *   change in place, and a switch replicated ↔ global is planned in place too, then refused by the
 *   engine ("service mode change is not allowed"): the apply fails.
 * - Any other task_spec change (and endpoint_spec) makes every task dirty: a rolling update driven
 *   by update_config. Placement alone moves only tasks whose node no longer matches. Replicas,
 *   update_config, rollback_config and converge_config change the service without touching tasks.
 * - docker_secret (name, data, labels) and docker_config (name, data): every attribute is ForceNew;
 *   the engine refuses a second object with the same name and refuses to delete one in use.
 *
 * Pure functions over the Terraform JSON; no Terraform, no Docker.
 */
import {
  asArray,
  asNumber,
  asString,
  block,
  blocks,
  canonical,
  containerSpecOf,
  formatGoSeconds,
  isDurationIn,
  isRecord,
  META_KEYS,
  taskSpecOf,
  type Body,
} from "./terraform-json";

export const SWARM_OBJECT_TYPES: ReadonlySet<string> = new Set(["docker_secret", "docker_config"]);

/** docker_service attribute paths that force replacement in 3.6.2. */
export const SERVICE_FORCE_NEW: ReadonlySet<string> = new Set([
  "name",
  "auth",
  "labels",
  "task_spec.container_spec.labels",
  "task_spec.container_spec.hosts",
  "task_spec.container_spec.sysctl",
  "task_spec.networks_advanced",
  // Not an attribute: added next to ...mounts when a mount with volume_options.labels differs.
  "task_spec.container_spec.mounts.volume_options.labels",
]);

/** The replicated ↔ global switch (the replicas count is `mode.replicated.replicas`). */
export const MODE_SWITCH = "mode";
export const REPLICAS = "mode.replicated.replicas";
/** Service-level settings: stored by the engine, no task restarts. */
const SETTINGS: ReadonlySet<string> = new Set(["update_config", "rollback_config", "converge_config"]);
const PLACEMENT = "task_spec.placement";

export function isServiceForceNew(path: string): boolean {
  return SERVICE_FORCE_NEW.has(path);
}

/** Whether a changed path restarts every task (a rolling update). */
export function rollsTasks(path: string): boolean {
  return !SERVICE_FORCE_NEW.has(path) && !SETTINGS.has(path) && path !== REPLICAS && path !== MODE_SWITCH && path !== PLACEMENT;
}

// Set-typed attributes in the service schema: their order is not a change.
const SET_KEYS = new Set([
  "labels",
  "hosts",
  "mounts",
  "secrets",
  "configs",
  "networks_advanced",
  "aliases",
  "driver_opts",
  "constraints",
  "prefs",
  "platforms",
]);
// One-item blocks: an object from cdktf, a one-item list from other writers.
const BLOCK_KEYS = new Set([
  "task_spec",
  "container_spec",
  "mode",
  "replicated",
  "resources",
  "limits",
  "reservation",
  "restart_policy",
  "placement",
  "log_driver",
  "update_config",
  "rollback_config",
  "endpoint_spec",
  "converge_config",
  "healthcheck",
  "privileges",
  "dns_config",
  "volume_options",
  "bind_options",
  "tmpfs_options",
  "auth",
]);

/** Sets sorted, one-item blocks unwrapped, empty values dropped: equal meaning gives equal text. */
export function normalizeSwarm(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) {
    if (BLOCK_KEYS.has(key) && value.length === 1 && isRecord(value[0])) return normalizeSwarm(value[0], key);
    const items = value.map((v) => normalizeSwarm(v)).filter((v) => v !== undefined);
    if (items.length === 0) return undefined;
    return SET_KEYS.has(key) ? items.sort((a, b) => canonical(a).localeCompare(canonical(b))) : items;
  }
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const n = normalizeSwarm(v, k);
      if (n !== undefined) out[k] = n;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return value;
}

/** Values of a service by attribute path (top-level, task_spec.<k>, task_spec.container_spec.<k>). */
export function servicePaths(body: Body): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(body)) if (!META_KEYS.has(k) && k !== "task_spec") out.set(k, normalizeSwarm(v, k));
  const task = taskSpecOf(body);
  for (const [k, v] of Object.entries(task)) if (k !== "container_spec") out.set(`task_spec.${k}`, normalizeSwarm(v, k));
  for (const [k, v] of Object.entries(containerSpecOf(body))) out.set(`task_spec.container_spec.${k}`, normalizeSwarm(v, k));
  out.delete("mode");
  return out;
}

export type ServiceMode = "replicated" | "global";

export function serviceMode(body: Body): ServiceMode {
  return block(body.mode)?.global === true ? "global" : "replicated";
}

/** The replicas a replicated service asks for (1 when left out, the provider's default). */
export function serviceReplicas(body: Body): number | undefined {
  if (serviceMode(body) === "global") return undefined;
  return asNumber(block(block(body.mode)?.replicated)?.replicas) ?? 1;
}

/** Changed attribute paths of a docker_service, sorted. */
export function serviceChangedPaths(before: Body, after: Body): string[] {
  const a = servicePaths(before);
  const b = servicePaths(after);
  const changed = [...new Set([...a.keys(), ...b.keys()])].filter((k) => canonical(a.get(k)) !== canonical(b.get(k)));
  if (serviceMode(before) !== serviceMode(after)) changed.push(MODE_SWITCH);
  else if (serviceReplicas(before) !== serviceReplicas(after)) changed.push(REPLICAS);
  if (changed.includes("task_spec.container_spec.mounts") && labelledMountsDiffer(before, after))
    changed.push("task_spec.container_spec.mounts.volume_options.labels");
  return changed.sort();
}

// A mount whose volume labels are in a set element that is added or removed forces replacement.
function labelledMountsDiffer(before: Body, after: Body): boolean {
  const labelled = (body: Body) =>
    new Set(
      blocks(containerSpecOf(body).mounts)
        .filter((m) => asArray(block(m.volume_options)?.labels).length > 0)
        .map((m) => canonical(normalizeSwarm(m))),
    );
  const x = labelled(before);
  const y = labelled(after);
  return [...x].some((m) => !y.has(m)) || [...y].some((m) => !x.has(m));
}

export interface UpdatePolicy {
  readonly parallelism: number;
  readonly order: string;
  readonly failureAction: string;
  readonly delay: string;
  readonly monitor: string;
}

/** update_config or rollback_config with the engine's defaults filled in. */
export function updatePolicy(body: Body, key: "update_config" | "rollback_config"): UpdatePolicy {
  const c = block(body[key]) ?? {};
  return {
    parallelism: asNumber(c.parallelism) ?? 1,
    order: asString(c.order) ?? "stop-first",
    failureAction: asString(c.failure_action) ?? "pause",
    delay: asString(c.delay) ?? "0s",
    monitor: asString(c.monitor) ?? "5s",
  };
}

// ---------------------------------------------------------------------------------------------
// Values that never settle or fail at apply
// ---------------------------------------------------------------------------------------------

/** Go's Duration.String() with a trailing "0s" / "0m" dropped: how 3.6.2 reads service durations back. */
export function isSwarmDuration(value: string): boolean {
  return isDurationIn(value, shortDuration);
}

export function shortDuration(total: number): string {
  return formatGoSeconds(total).replace(/m0s$/, "m").replace(/h0m$/, "h");
}

const isExpression = (v: unknown) => typeof v === "string" && v.includes("${");

/** Problems of one docker_service body: never-settling values and values that fail at apply. */
export function serviceProblems(body: Body): string[] {
  const problems: string[] = [];
  const task = taskSpecOf(body);
  const spec = containerSpecOf(body);
  const durations: [string, unknown][] = [
    ["stop_grace_period", spec.stop_grace_period],
    ...["interval", "timeout", "start_period", "start_interval"].map((k): [string, unknown] => [
      `healthcheck ${k}`,
      block(spec.healthcheck)?.[k],
    ]),
    ...["delay", "window"].map((k): [string, unknown] => [`restart_policy ${k}`, block(task.restart_policy)?.[k]]),
    ...(["update_config", "rollback_config"] as const).flatMap((c) =>
      ["delay", "monitor"].map((k): [string, unknown] => [`${c} ${k}`, block(body[c])?.[k]]),
    ),
  ];
  for (const [what, value] of durations) {
    if (typeof value === "string" && !isExpression(value) && !isSwarmDuration(value))
      problems.push(`${what} "${value}" is not in the form the provider reads back (e.g. "1m", "1m30s", "1h"): plans never settle`);
  }
  for (const c of ["update_config", "rollback_config"] as const) {
    const ratio = block(body[c])?.max_failure_ratio;
    if (typeof ratio === "string" && !/^\d+\.\d$/.test(ratio))
      problems.push(`${c} max_failure_ratio "${ratio}" is read back with one decimal ("0.0", "0.1"): plans never settle`);
  }
  if (spec.stop_grace_period === undefined)
    problems.push("no stop_grace_period: the provider sends 0, so tasks are killed at once (exit 137) on every update");
  const restart = block(task.restart_policy);
  if (restart) {
    const missing = ["condition", "delay", "max_attempts", "window"].filter((k) => restart[k] === undefined);
    if (missing.length > 0)
      problems.push(`restart_policy leaves out ${missing.join(", ")}: sent as 0 and read back as "0s", plans never settle`);
  }
  for (const n of blocks(task.networks_advanced)) {
    const name = asString(n.name);
    if (name && /^\$\{docker_network\.[^}]*\.name\}$/.test(name))
      problems.push(
        `networks_advanced names network ${name.slice(2, -1)}: the engine stores the ID, so the plan never settles (use the network's id)`,
      );
  }
  if (blocks(spec.mounts).some((m) => block(m.tmpfs_options) !== undefined))
    problems.push("a mount has tmpfs_options: provider 3.6.2 crashes on them (use a tmpfs mount without options)");
  for (const [kind, ref] of [
    ["secrets", "secret_name"],
    ["configs", "config_name"],
  ] as const) {
    for (const item of blocks(spec[kind]))
      if (item[ref] === undefined)
        problems.push(
          `a ${kind.slice(0, -1)} reference without ${ref}: the engine refuses it ("malformed ${kind.slice(0, -1)} reference")`,
        );
  }
  const image = asString(spec.image);
  if (image && !isExpression(image) && !image.includes("@sha256:"))
    problems.push(`image "${image}" is not pinned by digest: an update does not pin the tag, so nodes may run different images`);
  return problems;
}

/** Problems of a docker_secret / docker_config body. */
export function swarmObjectProblems(type: string, body: Body): string[] {
  const problems: string[] = [];
  const data = body.data;
  const what = type === "docker_secret" ? "secret" : "config";
  if (typeof data === "string" && !/^\$\{base64encode\(/.test(data)) {
    problems.push(
      `data is not base64encode(...) of the content: the provider decodes it with standard base64 and ignores errors, so the ${what} may hold other bytes than meant`,
    );
  }
  if (type === "docker_config" && "labels" in body) problems.push("docker_config has no labels in provider 3.6.2: the plan fails");
  const lifecycle = isRecord(body.lifecycle) ? body.lifecycle : {};
  if (lifecycle.create_before_destroy !== true)
    problems.push(`no create_before_destroy: a new value deletes the old ${what} first, which the engine refuses while a service uses it`);
  if (typeof body.name === "string" && !isExpression(body.name) && !/-[0-9a-f]{12}$/.test(body.name))
    problems.push(`the name does not change with the content: a new value is refused ("${what} already exists" or "in use")`);
  return problems;
}

/** An overlay network with options must ignore them: the engine adds a vxlanid_list option. */
export function networkProblems(body: Body): string[] {
  const options = body.options;
  if (body.driver !== "overlay" || !isRecord(options) || Object.keys(options).length === 0) return [];
  const ignored = asArray(isRecord(body.lifecycle) ? body.lifecycle.ignore_changes : undefined);
  if (ignored.includes("options") || ignored.includes("all")) return [];
  return [
    'overlay options without lifecycle ignore_changes ["options"]: the engine reads back an extra vxlanid_list option, so the network (and everything on it) is replaced on every apply',
  ];
}

/**
 * A readable name for a secret or config: the literal name, or for a content-derived one
 * ("${join("", ["test-api-x-", substr(sha256(...), 0, 12)])}") its prefix and "<hash>".
 */
export function objectName(body: Body): string {
  const name = body.name;
  if (typeof name !== "string") return "?";
  if (!name.includes("${")) return name;
  const prefix = /^\$\{join\("", \["([^"$]*)"/.exec(name)?.[1];
  return prefix !== undefined ? `${prefix}<hash of the generated value>` : "(computed at apply)";
}

/** Mount target of each secret or config of a service, by resource address. */
export function mountedObjects(body: Body, kind: "secrets" | "configs"): { address?: string; file: string }[] {
  const id = kind === "secrets" ? "secret_id" : "config_id";
  const type = kind === "secrets" ? "docker_secret" : "docker_config";
  return blocks(containerSpecOf(body)[kind]).map((item) => {
    const ref = asString(item[id]) ?? asString(item[kind === "secrets" ? "secret_name" : "config_name"]) ?? "";
    const m = new RegExp(`\\$\\{${type}\\.([A-Za-z0-9_-]+)\\.`).exec(ref);
    return { ...(m ? { address: `${type}.${m[1]}` } : {}), file: asString(item.file_name) ?? "?" };
  });
}
