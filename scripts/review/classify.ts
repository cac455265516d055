/**
 * What applying "after" on top of "before" does, resource by resource, with kreuzwerker/docker 3.6.2
 * (facts checked by hand against the provider; Swarm resources in ./swarm.ts). Compares two
 * synthesized stacks; no Terraform, no state.
 *
 * 1. Direct changes: attributes that differ, judged by resource type (in place or replaced); for a
 *    docker_service, attribute paths (task_spec.container_spec.image), since one block mixes
 *    ForceNew and in-place values. Attributes in lifecycle.ignore_changes are left out (and said so).
 * 2. Propagation until nothing moves: a reference to a replaced resource's computed attribute
 *    (image_id, result) changes the referring attribute; replace_triggered_by fires on any planned
 *    change of its target; a container attached to a replaced network or mounting a replaced volume
 *    is replaced with it (Docker refuses to remove a network or volume that is in use); a Swarm
 *    service on a replaced network is replaced too (its networks_advanced is ForceNew).
 * 3. Risks: data loss (a volume that is not ephemeral replaced or removed) and downtime (every
 *    running replica of a service replaced at once, a Swarm service replaced, the only task of a
 *    stop-first service updated).
 * 4. Stores (./staging.ts): a primary and its replica, or a Sentinel or cluster majority, replaced
 *    in the same apply; then the targeted applies that keep part of the store up.
 */
import {
  asArray,
  asString,
  block,
  blocks,
  type Body,
  canonical,
  constructPath,
  formatGoSeconds,
  indexResources,
  isDurationIn,
  isOneShot,
  isRecord,
  isSeed,
  label,
  LABELS,
  lifecycleReferences,
  META_KEYS,
  type Reference,
  referencesByAttribute,
  referencesByPath,
  type Resource,
  resourceTypes,
  type TerraformJson,
  wholeReference,
} from "./terraform-json";
import { CONFIG_RELOAD_ROLE } from "../../constructs/contract/index";
import { volumeProtection } from "./inventory";
import {
  isServiceForceNew,
  MODE_SWITCH,
  networkProblems,
  objectName,
  REPLICAS,
  rollsTasks,
  serviceChangedPaths,
  serviceMode,
  serviceProblems,
  serviceReplicas,
  swarmObjectProblems,
  updatePolicy,
} from "./swarm";
import { needsStagedApply, planStagedApply, type StagedApply } from "./staging";

/** The only docker_container attributes 3.6.2 updates in place. */
export const CONTAINER_IN_PLACE: ReadonlySet<string> = new Set([
  "restart",
  "max_retry_count",
  "cpu_shares",
  "memory",
  "cpu_set",
  "memory_swap",
]);
/** docker_image attributes that only matter to the provider (no new image_id). */
export const IMAGE_IN_PLACE: ReadonlySet<string> = new Set(["keep_locally", "force_remove"]);

/**
 * Attributes the provider schema declares as sets: their order is not a change. `labels` is a set
 * of {label, value}, `ports` a list that is read back sorted (so order does count).
 */
const SET_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  docker_container: [
    "labels",
    "env",
    "upload",
    "volumes",
    "networks_advanced",
    "security_opts",
    "mounts",
    "host",
    "devices",
    "dns",
    "dns_opts",
    "dns_search",
    "group_add",
    "ulimit",
    "links",
  ],
  docker_volume: ["labels"],
  docker_network: ["labels", "ipam_config"],
  docker_image: [],
};

export type Action = "add" | "remove" | "update" | "replace" | "no-op";

export type Kind =
  | "added"
  | "removed"
  | "in-place"
  | "container-replaced"
  | "healthcheck-ignored"
  | "meta-only"
  | "volume-data-loss"
  | "volume-replaced"
  | "network-replaced"
  | "image-changed"
  | "password-replaced"
  | "service-replaced"
  | "service-rolling-update"
  | "service-placement"
  | "service-scaled"
  | "service-settings"
  | "service-mode-refused"
  | "secret-rotated"
  | "config-rotated"
  | "swarm-object-refused"
  | "ignored-change"
  | "replaced"
  | "changed";

export interface Cause {
  /** Address of the resource whose change causes this one. */
  readonly via: string;
  readonly text: string;
  /** The attribute (path, for a docker_service) of this resource the change arrives through. */
  readonly attribute?: string;
}

export interface ResourceChange {
  readonly address: string;
  readonly type: string;
  /** Human name: the Docker name, or the construct path. */
  readonly label: string;
  readonly action: Action;
  readonly kind: Kind;
  /** Attributes that differ in the configuration itself. */
  readonly attributes: readonly string[];
  /** The same, with the keys that changed inside them ("upload (/etc/loki/loki.yaml)"). */
  readonly details: readonly string[];
  /** Other resources' changes that force this one. */
  readonly causes: readonly Cause[];
  readonly consequence: string;
  readonly dataLoss: boolean;
  readonly notes: readonly string[];
  /** Services whose containers are replaced because of this change ("api ×3"): network, image, password, volume. */
  readonly replaces: readonly string[];
  /** Swarm services replaced (network) or rolled (secret, config, password) because of this change. */
  readonly swarmServices: readonly string[];
  /** Attributes changed in the configuration but listed in lifecycle.ignore_changes: no effect. */
  readonly ignored: readonly string[];
}

export interface DowntimeRisk {
  readonly service: string;
  readonly replicas: number;
  readonly text: string;
}

export interface StackDiff {
  readonly stack: string;
  readonly added: readonly ResourceChange[];
  readonly removed: readonly ResourceChange[];
  readonly changed: readonly ResourceChange[];
  readonly dataLoss: readonly ResourceChange[];
  readonly downtime: readonly DowntimeRisk[];
  /** Other things a reviewer must not miss (secret rotation, protection removed, ignored edits). */
  readonly warnings: readonly string[];
  /** Present when one apply would replace a store's primary and replica (or its majority) together. */
  readonly staged?: StagedApply;
}

// ---------------------------------------------------------------------------------------------
// Direct changes
// ---------------------------------------------------------------------------------------------

/** The body with set-typed attributes sorted, so that a reorder compares equal. */
export function normalize(type: string, body: Body): Body {
  const out: Body = { ...body };
  for (const key of SET_ATTRIBUTES[type] ?? []) {
    if (!Array.isArray(out[key])) continue;
    out[key] = (out[key] as unknown[]).map(normalizeNested).sort((a, b) => canonical(a).localeCompare(canonical(b)));
  }
  if (isRecord(out.capabilities)) out.capabilities = normalizeNested(out.capabilities);
  return out;
}

// Nested sets (aliases of a network attachment, capability lists) are sets too.
function normalizeNested(value: unknown): unknown {
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = { ...value };
  for (const key of ["aliases", "add", "drop"]) if (Array.isArray(out[key])) out[key] = [...(out[key] as unknown[])].sort();
  return out;
}

/** Top-level attributes whose values differ (meta-arguments left out). */
export function changedAttributes(type: string, before: Body, after: Body): string[] {
  const a = normalize(type, before);
  const b = normalize(type, after);
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => !META_KEYS.has(k) && canonical(a[k]) !== canonical(b[k])).sort();
}

export function changedMeta(before: Body, after: Body): string[] {
  return [...META_KEYS].filter((k) => k !== "//" && canonical(before[k]) !== canonical(after[k]));
}

/** In place, replaced, or (healthcheck) ignored, from the changed attributes alone. */
export function directAction(type: string, attributes: readonly string[]): Action {
  if (attributes.length === 0) return "no-op";
  switch (type) {
    case "docker_container": {
      const forcing = attributes.filter((a) => !CONTAINER_IN_PLACE.has(a) && a !== "healthcheck");
      if (forcing.length > 0) return "replace";
      return attributes.some((a) => CONTAINER_IN_PLACE.has(a)) ? "update" : "no-op";
    }
    case "docker_image":
      return attributes.every((a) => IMAGE_IN_PLACE.has(a)) ? "update" : "replace";
    case "docker_service":
      return attributes.some(isServiceForceNew) ? "replace" : "update";
    case "docker_volume":
    case "docker_network":
    case "docker_secret":
    case "docker_config":
    case "random_password":
      return "replace";
    default:
      return "update";
  }
}

/** Attribute paths a resource's lifecycle.ignore_changes lists ("task_spec[0].x" → "task_spec.x"; "all": every one). */
export function ignoredAttributes(body: Body): Set<string> | "all" {
  const lifecycle = isRecord(body.lifecycle) ? body.lifecycle : {};
  const list = asArray(lifecycle.ignore_changes);
  if (lifecycle.ignore_changes === "all" || list.includes("all")) return "all";
  return new Set(
    list.filter((x): x is string => typeof x === "string").map((x) => x.replace(/^\$\{(.*)\}$/, "$1").replace(/\[[^\]]*\]/g, "")),
  );
}

/** Whether a changed attribute (path) is covered by ignore_changes: the entry itself or a parent of it. */
function isIgnoredBy(ignoring: Set<string> | "all", attribute: string): boolean {
  if (ignoring === "all") return true;
  return [...ignoring].some((e) => attribute === e || attribute.startsWith(`${e}.`));
}

// ---------------------------------------------------------------------------------------------
// Propagation
// ---------------------------------------------------------------------------------------------

interface State {
  action: Action;
  attributes: string[];
  causes: Cause[];
}

function displayName(resource: Resource): string {
  // Content-derived names are expressions over generated values: show their readable prefix.
  if (resource.type === "docker_secret" || resource.type === "docker_config") return objectName(resource.body);
  const name = asString(resource.body.name);
  // Image names carry 64-hex digests: a prefix is enough to tell them apart in a sentence.
  if (name && resource.type === "docker_image") return name.replace(/@sha256:([0-9a-f]{12})[0-9a-f]{52}$/, "@sha256:$1…");
  return name ?? constructPath(resource.body) ?? resource.address;
}

const IN_USE_TYPES = new Set(["docker_network", "docker_volume"]);

/**
 * Whether a reference to `attr` of `target` yields a different value after the plan: a configured
 * attribute is known in the plan (different only if it changed); a computed one (image_id, result,
 * id) is unknown once its resource is replaced.
 */
function referenceChanges(target: Resource, targetState: State, attr: string | undefined): boolean {
  if (targetState.action !== "replace" && targetState.action !== "update") return false;
  if (attr !== undefined && attr in target.body) return targetState.attributes.includes(attr);
  return targetState.action === "replace";
}

/** What a changed reference in `attribute` does to `dependent`. */
function referenceEffect(dependent: Resource, attribute: string, target: Resource): { action: Action; text: string } {
  const what =
    target.type === "docker_image"
      ? `image ${displayName(target)} changes (new image_id)`
      : target.type === "random_password"
        ? `secret ${constructPath(target.body) ?? target.address} rotates (${attribute} changes)`
        : target.type === "docker_secret" || target.type === "docker_config"
          ? `${target.type === "docker_secret" ? "secret" : "config"} ${objectName(target.body)} is replaced by a new one (${attribute.replace(/^task_spec\.(container_spec\.)?/, "")} changes)`
          : `${target.address} changes (${attribute} changes)`;
  switch (dependent.type) {
    case "docker_container":
      return { action: CONTAINER_IN_PLACE.has(attribute) ? "update" : "replace", text: what };
    case "docker_image":
      return { action: IMAGE_IN_PLACE.has(attribute) ? "update" : "replace", text: what };
    case "docker_service":
      return { action: isServiceForceNew(attribute) ? "replace" : "update", text: what };
    case "docker_volume":
    case "docker_network":
    case "docker_secret":
    case "docker_config":
    case "random_password":
      return { action: "replace", text: what };
    default:
      return { action: "update", text: what };
  }
}

/**
 * Docker refuses to remove a network or volume in use: its containers go with it. A Swarm service
 * references the network's id in networks_advanced (ForceNew), so it is replaced as well.
 */
function inUseEffect(dependent: Resource, target: Resource, targetState: State): { action: Action; text: string } | undefined {
  if ((dependent.type !== "docker_container" && dependent.type !== "docker_service") || targetState.action !== "replace") return undefined;
  const what = target.type === "docker_network" ? `attached to network ${displayName(target)}` : `mounts volume ${displayName(target)}`;
  if (dependent.type === "docker_service")
    return { action: "replace", text: `${what}, which is replaced (a new network id in networks_advanced, ForceNew)` };
  return { action: "replace", text: `${what}, which is replaced (Docker cannot remove it while in use)` };
}

const rank: Record<Action, number> = { "no-op": 0, update: 1, replace: 2, add: 3, remove: 3 };

function raise(state: State, action: Action, cause: Cause): boolean {
  if (state.causes.some((c) => c.via === cause.via && c.text === cause.text)) return false;
  state.causes.push(cause);
  if (rank[action] > rank[state.action]) state.action = action;
  return true;
}

/** Triggers of `lifecycle.replace_triggered_by`: any planned update or replacement of the target. */
function triggers(body: Body, types: ReadonlySet<string>): string[] {
  const lifecycle = isRecord(body.lifecycle) ? body.lifecycle : {};
  return lifecycleReferences(lifecycle.replace_triggered_by, types).map((r) => r.address);
}

function propagate(after: Map<string, Resource>, states: Map<string, State>, types: ReadonlySet<string>): void {
  let moved = true;
  while (moved) {
    moved = false;
    for (const [address, state] of states) {
      const resource = after.get(address);
      if (!resource || state.action === "add" || state.action === "remove") continue;
      for (const { attribute, ref } of attributeReferences(resource, types)) {
        const target = after.get(ref.address);
        const targetState = states.get(ref.address);
        if (!target || !targetState || ref.address === address) continue;
        const effect = IN_USE_TYPES.has(target.type)
          ? inUseEffect(resource, target, targetState)
          : referenceChanges(target, targetState, ref.attr)
            ? referenceEffect(resource, attribute, target)
            : undefined;
        if (effect && raise(state, effect.action, { via: ref.address, text: effect.text, attribute })) moved = true;
      }
      for (const trigger of triggers(resource.body, types)) {
        const targetState = states.get(trigger);
        const target = after.get(trigger);
        if (!target || !targetState || (targetState.action !== "replace" && targetState.action !== "update")) continue;
        const what = isSeed(target)
          ? `its seed ${displayName(target)} is ${targetState.action === "replace" ? "replaced" : "updated"}`
          : `${displayName(target)} changes`;
        if (raise(state, "replace", { via: trigger, text: `replace_triggered_by: ${what}` })) moved = true;
      }
    }
  }
}

/** References with the attribute they sit in: attribute paths for a docker_service (see swarm.ts). */
function attributeReferences(resource: Resource, types: ReadonlySet<string>): { attribute: string; ref: Reference }[] {
  if (resource.type === "docker_service") return referencesByPath(resource.body, types).map((ref) => ({ attribute: ref.path, ref }));
  return [...referencesByAttribute(resource.body, types)].flatMap(([attribute, refs]) => refs.map((ref) => ({ attribute, ref })));
}

/** Every resource replaced (directly or transitively) because of `address`. */
function dependentsOf(address: string, states: Map<string, State>): Set<string> {
  const out = new Set<string>();
  const queue = [address];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const [a, s] of states) {
      if (out.has(a) || s.action !== "replace") continue;
      if (s.causes.some((c) => c.via === current)) {
        out.add(a);
        queue.push(a);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Consequences
// ---------------------------------------------------------------------------------------------

/** Ports are read back sorted and Go durations canonical: anything else never settles. */
export function settleProblems(body: Body): string[] {
  const problems: string[] = [];
  const ports = asArray(body.ports).filter(isRecord);
  const keys = ports.map((p) => Number(p.internal));
  if (keys.some((k, i) => i > 0 && k < keys[i - 1]!))
    problems.push(
      "ports are not in ascending order: the provider reads them back sorted, so the plan never settles (every plan replaces this container again)",
    );
  if (isRecord(body.healthcheck)) {
    for (const key of ["interval", "timeout", "start_period", "start_interval"]) {
      const value = body.healthcheck[key];
      if (typeof value === "string" && !isGoDuration(value))
        problems.push(`healthcheck ${key} "${value}" is not in Go's form (e.g. "1m0s"): plans never settle`);
    }
  }
  return problems;
}

/** Go's time.Duration.String() form: "30s", "1m0s", "1h0m0s", "1m30s", "500ms" (not "1m", "90s"). */
export function isGoDuration(value: string): boolean {
  return isDurationIn(value, formatGoSeconds);
}

// ---------------------------------------------------------------------------------------------
// Which parts of an attribute changed (names and paths only: values may be secret)
// ---------------------------------------------------------------------------------------------

type Keyed = Map<string, string>;

function keyed(value: unknown, keyOf: KeyOf): Keyed {
  const out: Keyed = new Map();
  for (const item of asArray(value)) {
    const key = keyOf(item);
    if (key !== undefined) out.set(key, canonical(item));
  }
  return out;
}

function differingKeys(a: Keyed, b: Keyed): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();
}

type KeyOf = (item: unknown) => string | undefined;
const envKey: KeyOf = (item) => (typeof item === "string" ? item.split("=")[0] : undefined);
function field(name: string): KeyOf {
  return (item) => (isRecord(item) && item[name] !== undefined ? String(item[name]) : undefined);
}
/** A network attachment keyed by its network's Docker name. */
function networkKey(names: (ref: string) => string): KeyOf {
  return (item) => (isRecord(item) && typeof item.name === "string" ? names(item.name) : undefined);
}
/** `label` followed by the keys that differ, when the diff tells any apart. */
const withKeys = (label: string, keys: readonly string[]) => (keys.length > 0 ? `${label} (${list(keys, 5)})` : label);

/** "upload (/etc/loki/loki.yaml)", "env (LOG_LEVEL)", "ports (order only)": what to look at in the diff. */
export function describeAttribute(attribute: string, before: Body, after: Body, names: (ref: string) => string): string {
  if (attribute.includes(".")) return describeServicePath(attribute, before, after, names);
  const keyOf: Record<string, KeyOf> = {
    env: envKey,
    upload: field("file"),
    labels: field("label"),
    volumes: field("container_path"),
    networks_advanced: networkKey(names),
  };
  const by = keyOf[attribute];
  if (by) return withKeys(attribute, differingKeys(keyed(before[attribute], by), keyed(after[attribute], by)));
  if (attribute === "ports") {
    const sorted = (v: unknown) => canonical(asArray(v).map(canonical).sort());
    if (sorted(before.ports) === sorted(after.ports)) return "ports (order only)";
  }
  return attribute;
}

/** The value at a service attribute path ("task_spec.container_spec.env"), one-item blocks unwrapped. */
function valueAt(body: Body, path: string): unknown {
  let value: unknown = body;
  for (const key of path.split(".")) value = block(value)?.[key];
  return value;
}

/** "task_spec.container_spec.env (LOG_LEVEL)", "mode.replicated.replicas (2 → 3)": what to look at. */
function describeServicePath(path: string, before: Body, after: Body, names: (ref: string) => string): string {
  if (path === REPLICAS) return `replicas (${serviceReplicas(before)} → ${serviceReplicas(after)})`;
  const short = path.replace(/^task_spec\.(container_spec\.)?/, "");
  const key = path.split(".").pop()!;
  const b = valueAt(before, path);
  const a = valueAt(after, path);
  if (key === "env") {
    const map = (v: unknown) => new Map(Object.entries(isRecord(v) ? v : {}).map(([k, x]) => [k, canonical(x)]));
    return withKeys(short, differingKeys(map(b), map(a)));
  }
  const keyOf: Record<string, KeyOf> = {
    labels: field("label"),
    secrets: field("file_name"),
    configs: field("file_name"),
    mounts: field("target"),
    hosts: field("host"),
    networks_advanced: networkKey(names),
  };
  const by = keyOf[key];
  if (by) return withKeys(short, differingKeys(keyed(blocks(b), by), keyed(blocks(a), by)));
  if (key === "image") return `image (${imageTail(b)} → ${imageTail(a)})`;
  return short;
}

/** "api:1.2.3@sha256:abcdef012345…": enough of an image reference to tell two apart. */
function imageTail(value: unknown): string {
  if (typeof value !== "string") return "?";
  return value.replace(/^.*\//, "").replace(/@sha256:([0-9a-f]{12})[0-9a-f]{52}$/, "@sha256:$1…");
}

/** Attribute paths of a service that change, configured or through a reference. */
function servicePathsOf(attributes: readonly string[], causes: readonly Cause[]): string[] {
  return [...new Set([...attributes, ...causes.map((c) => c.attribute).filter((a): a is string => a !== undefined)])];
}

function kindOf(
  type: string,
  action: Action,
  attributes: readonly string[],
  before: Body | undefined,
  causes: readonly Cause[] = [],
  after?: Body,
  mounted = false,
): Kind {
  if (action === "add") return "added";
  if (action === "remove")
    return type === "docker_volume" && before && volumeProtection(before) !== "ephemeral" ? "volume-data-loss" : "removed";
  if (action === "no-op") return attributes.includes("healthcheck") ? "healthcheck-ignored" : "meta-only";
  if (type === "docker_service") {
    if (action === "replace") return "service-replaced";
    const paths = servicePathsOf(attributes, causes);
    if (paths.includes(MODE_SWITCH)) return "service-mode-refused";
    if (paths.some(rollsTasks)) return "service-rolling-update";
    if (paths.includes("task_spec.placement")) return "service-placement";
    return paths.includes(REPLICAS) ? "service-scaled" : "service-settings";
  }
  if (type === "docker_secret" || type === "docker_config") {
    const nameChanges = attributes.includes("name") || causes.some((c) => c.attribute === "name");
    const lifecycle = after && isRecord(after.lifecycle) ? after.lifecycle : {};
    const first = lifecycle.create_before_destroy === true;
    // New object first: its name must be free. Old object first: it must not be in use.
    if ((first && !nameChanges) || (!first && mounted)) return "swarm-object-refused";
    if (!first) return "replaced";
    return type === "docker_secret" ? "secret-rotated" : "config-rotated";
  }
  switch (type) {
    case "docker_container":
      return action === "update" ? "in-place" : "container-replaced";
    case "docker_volume":
      return before && volumeProtection(before) !== "ephemeral" ? "volume-data-loss" : "volume-replaced";
    case "docker_network":
      return "network-replaced";
    case "docker_image":
      return action === "update" ? "in-place" : "image-changed";
    case "random_password":
      return "password-replaced";
    default:
      return action === "replace" ? "replaced" : "changed";
  }
}

/** "all 3 tasks", "its only task", "a task on every node". */
function tasksText(body: Body): string {
  if (serviceMode(body) === "global") return "the task on every node";
  const n = serviceReplicas(body) ?? 1;
  return n === 1 ? "its only task" : `all ${n} tasks`;
}

function stopText(body: Body): string {
  const tasks = tasksText(body);
  return tasks.startsWith("all ") ? `${tasks} stop` : `${tasks} stops`;
}

function list(items: readonly string[], max = 8): string {
  if (items.length <= max) return items.join(", ");
  return `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

function consequenceText(
  c: Omit<ResourceChange, "consequence" | "notes">,
  before: Resource | undefined,
  after: Resource | undefined,
): string {
  const attrs = c.details.join(", ");
  const through = c.causes.map((x) => x.text);
  const why = [...(attrs ? [attrs] : []), ...through].join("; ");
  const swarm = c.swarmServices.length > 0 ? `; Swarm services replaced (downtime): ${list(c.swarmServices)}` : "";
  const replaced = c.replaces.length > 0 ? ` → containers replaced: ${list(c.replaces)}${swarm}` : swarm ? ` →${swarm.slice(1)}` : "";
  switch (c.kind) {
    case "added":
      return "added";
    case "removed":
      if (c.type === "docker_container")
        return before && isSeed(before) ? "removed (seed: never ran)" : "removed (container stopped and deleted)";
      return c.type === "docker_volume" ? "removed (ephemeral: nothing to lose)" : "removed";
    case "in-place":
      return `in place (${why})`;
    case "container-replaced":
      return after && isSeed(after) ? `seed replaced, its files are uploaded again (${why})` : `container replaced (${why})`;
    case "healthcheck-ignored":
      return "no effect: healthcheck edits are silently ignored by kreuzwerker/docker 3.6.2; change something that forces replacement (the kit's healthcheck-sha label) to apply it";
    case "meta-only":
      return "no change to the running resource (only meta-arguments differ)";
    case "volume-data-loss":
      return c.action === "remove" ? "volume removed = DATA LOSS" : `volume replaced = DATA LOSS (${why})`;
    case "volume-replaced":
      return `volume replaced (ephemeral: refilled from its seed's uploads; ${why})${replaced}`;
    case "network-replaced":
      return `network replaced (${why})${replaced}`;
    case "image-changed": {
      const from = asString(before?.body.name) ?? "?";
      const to = asString(after?.body.name) ?? "?";
      const verb = after && isRecord(after.body.build) ? "rebuild" : "pull";
      return `image changed: ${verb} ${to}${from !== to ? ` (was ${from})` : ""}${replaced || " (no container uses it)"}`;
    }
    case "password-replaced": {
      const rolls = c.swarmServices.length > 0 ? ` → Swarm services roll: ${list(c.swarmServices)}` : "";
      return `random_password replaced: the secret rotates${c.replaces.length > 0 ? ` → services restart: ${list(c.replaces)}` : ""}${rolls} (${why})`;
    }
    case "service-replaced": {
      const forcing = c.attributes.filter(isServiceForceNew).map((a) => a.replace(/^task_spec\./, ""));
      const tasks = before ? stopText(before.body) : "every task stops";
      return `Swarm service REPLACED = DOWNTIME: destroyed, then created under the same name, ${tasks} (${[...(forcing.length > 0 ? [`ForceNew in 3.6.2: ${forcing.join(", ")}`] : []), ...(why ? [why] : [])].join("; ")})`;
    }
    case "service-rolling-update": {
      const p = updatePolicy(after?.body ?? {}, "update_config");
      return `ROLLING UPDATE (${why}): ${after ? tasksText(after.body) : "every task"} replaced ${p.parallelism} at a time, ${p.order}, every ${p.delay}; a failed task → ${p.failureAction}`;
    }
    case "service-placement":
      return `placement changes (${why}): only tasks on nodes that no longer match move; the others keep running`;
    case "service-scaled":
      return `scaled in place (${why}): tasks added or removed, running ones untouched`;
    case "service-settings":
      return `in place, no task restarts (${why})`;
    case "service-mode-refused":
      return `APPLY FAILS: replicated ↔ global is planned in place (3.6.2 marks only the mode block's presence ForceNew) and Docker refuses it ("service mode change is not allowed"); apply it with \`terraform apply -replace=${c.address}\` = downtime (${why})`;
    case "secret-rotated":
    case "config-rotated": {
      const what = c.type === "docker_secret" ? "secret" : "config";
      const rolls =
        c.swarmServices.length > 0 ? `; services that mount it roll to the new one: ${list(c.swarmServices)}` : "; no service mounts it";
      return `ROTATION: a new ${what} ${after ? objectName(after.body) : ""} is created before the old one is removed (create_before_destroy)${rolls} (${why})`;
    }
    case "swarm-object-refused": {
      const what = c.type === "docker_secret" ? "secret" : "config";
      const lifecycle = after && isRecord(after.body.lifecycle) ? after.body.lifecycle : {};
      const reason =
        lifecycle.create_before_destroy !== true
          ? `without create_before_destroy the old ${what} is deleted first, which Docker refuses while a service uses it`
          : `the name stays the same, so the new ${what} conflicts with the old one ("already exists")`;
      return `APPLY FAILS: ${what}s are immutable (every attribute ForceNew) and ${reason} (${why})`;
    }
    case "ignored-change":
      return `no effect: ${c.ignored.join(", ")} changed but listed in lifecycle.ignore_changes; the running resource keeps the old value (replace it with \`terraform apply -replace=${c.address}\` to apply it)`;
    case "replaced":
      return `replaced (${why})`;
    case "changed":
      return `changed (${why}; consequence not classified for ${c.type})`;
  }
}

function notesOf(
  c: Omit<ResourceChange, "consequence" | "notes">,
  before: Resource | undefined,
  after: Resource | undefined,
  addedNames: Map<string, string>,
  dataVolumes: readonly string[],
): string[] {
  const notes: string[] = [];
  if (c.type === "docker_volume" && c.dataLoss && before) {
    const protectedBefore = volumeProtection(before.body) === "protected";
    const protectedAfter = after !== undefined && volumeProtection(after.body) === "protected";
    if (c.action === "replace" && protectedAfter)
      notes.push(
        "prevent_destroy is set: the plan stops with an error instead; going ahead means removing the protection and losing the data",
      );
    if (c.action === "remove" && protectedBefore)
      notes.push("the resource leaves the configuration together with its prevent_destroy, so nothing stops the delete");
    const name = asString(before.body.name);
    const readded = name ? addedNames.get(`docker_volume:${name}`) : undefined;
    if (c.action === "remove" && readded)
      notes.push(
        `a volume with the same Docker name is added as ${readded}: a renamed construct id; a \`moved\` block (or terraform state mv) keeps the data`,
      );
  }
  if (c.type === "docker_container" && c.action === "replace" && after && dataVolumes.length > 0)
    notes.push(`named volumes survive the replacement: ${dataVolumes.join(", ")}`);
  if (c.type === "docker_container" && c.action !== "replace" && c.kind !== "healthcheck-ignored" && c.attributes.includes("healthcheck")) {
    notes.push("its healthcheck edit is ignored by the provider (3.6.2)");
  }
  if (c.type === "random_password" && c.replaces.length > 0) {
    notes.push(
      "if it is a server credential, the server keeps what it stored at first start (Postgres roles, for one): change it there too, or clients lose access",
    );
  }
  if (after && after.type === "docker_container") notes.push(...settleProblems(after.body));
  if (c.ignored.length > 0 && c.kind !== "ignored-change")
    notes.push(`${c.ignored.join(", ")} changed but listed in lifecycle.ignore_changes: not applied`);
  if (after && after.type === "docker_service") notes.push(...serviceProblems(after.body));
  if (after && (after.type === "docker_secret" || after.type === "docker_config") && c.kind !== "swarm-object-refused")
    notes.push(...swarmObjectProblems(after.type, after.body));
  if (after && after.type === "docker_network") notes.push(...networkProblems(after.body));
  if (
    c.type === "docker_service" &&
    c.kind === "service-replaced" &&
    after &&
    isRecord(after.body.lifecycle) &&
    after.body.lifecycle.create_before_destroy === true
  ) {
    notes.push(
      'create_before_destroy cannot help: the new service would take the same name, which the engine refuses ("name conflicts with an existing object")',
    );
  }
  if (c.kind === "network-replaced" && after?.body.driver === "overlay")
    notes.push("an overlay spans every node: every Swarm service and container attached to it is replaced");
  if (
    before &&
    after &&
    c.kind === "meta-only" &&
    before.type === "docker_volume" &&
    volumeProtection(before.body) === "protected" &&
    volumeProtection(after.body) !== "protected"
  ) {
    notes.push("prevent_destroy removed: the data in this volume is no longer guarded against a delete");
  }
  return notes;
}

// ---------------------------------------------------------------------------------------------
// The diff
// ---------------------------------------------------------------------------------------------

function serviceOf(resource: Resource): string {
  return label(resource.body, LABELS.service) ?? displayName(resource);
}

/**
 * A service is down when every running replica it had is replaced or removed in one apply; a Swarm
 * service when it is replaced (destroy, then create), when its only task is updated stop-first, or
 * when it cannot be updated at all (mode switch). A service moving from containers to Swarm loses
 * its containers while its tasks start: nothing orders one after the other.
 */
function downtimeRisks(
  before: Map<string, Resource>,
  after: Map<string, Resource>,
  states: Map<string, State>,
  changes: readonly ResourceChange[],
): DowntimeRisk[] {
  const running = [...before.values()].filter((r) => r.type === "docker_container" && !isSeed(r) && !isOneShot(r.body));
  const byService = new Map<string, Resource[]>();
  for (const r of running) byService.set(serviceOf(r), [...(byService.get(serviceOf(r)) ?? []), r]);
  const stillThere = new Set([...after.values()].filter((r) => r.type === "docker_container" && !isSeed(r)).map(serviceOf));
  const swarmAfter = new Set([...after.values()].filter((r) => r.type === "docker_service").map(serviceOf));
  const swarmBefore = new Set([...before.values()].filter((r) => r.type === "docker_service").map(serviceOf));
  const out: DowntimeRisk[] = [];
  for (const [service, replicas] of byService) {
    if (!stillThere.has(service)) {
      const removed = replicas.filter((r) => states.get(r.address)?.action === "remove");
      if (swarmAfter.has(service) && !swarmBefore.has(service) && removed.length === replicas.length) {
        out.push({
          service,
          replicas: replicas.length,
          text: `${service}: its ${replicas.length === 1 ? "container is" : `${replicas.length} containers are`} removed while its new Swarm service starts (nothing orders one after the other)`,
        });
      }
      continue;
    }
    const gone = replicas.filter((r) => {
      const action = states.get(r.address)?.action;
      return action === "replace" || action === "remove";
    });
    if (gone.length === 0 || gone.length < replicas.length) continue;
    const text =
      replicas.length === 1
        ? `${service}: its only container is replaced`
        : `${service}: all ${replicas.length} replicas are replaced in the same apply`;
    out.push({ service, replicas: replicas.length, text });
  }
  for (const c of changes.filter((x) => x.type === "docker_service")) {
    const b = before.get(c.address);
    const a = after.get(c.address);
    if (!b || !a) continue;
    const service = serviceOf(a);
    const replicas = serviceReplicas(b.body) ?? 0;
    if (c.kind === "service-replaced") {
      out.push({ service, replicas, text: `${service}: its Swarm service is replaced (destroyed, then created), ${stopText(b.body)}` });
    } else if (c.kind === "service-mode-refused") {
      out.push({
        service,
        replicas,
        text: `${service}: the mode switch fails the apply; replacing the service (the only way) stops ${tasksText(b.body)}`,
      });
    } else if (
      c.kind === "service-rolling-update" &&
      serviceMode(a.body) === "replicated" &&
      Math.min(serviceReplicas(a.body) ?? 1, replicas) === 1 &&
      updatePolicy(a.body, "update_config").order !== "start-first"
    ) {
      out.push({ service, replicas, text: `${service}: its only task is stopped before the new one starts (update order stop-first)` });
    }
  }
  return out.sort((a, b) => a.service.localeCompare(b.service));
}

/** Swarm services replaced (or rolled, with `rolled`) because of `address`, directly or through replaced resources. */
function swarmDependents(
  address: string,
  states: Map<string, State>,
  after: Map<string, Resource>,
): { replaced: string[]; rolled: string[] } {
  const chain = new Set([address, ...dependentsOf(address, states)]);
  const replaced: string[] = [];
  const rolled: string[] = [];
  for (const [a, s] of states) {
    const r = after.get(a);
    if (!r || r.type !== "docker_service" || !s.causes.some((c) => chain.has(c.via))) continue;
    if (s.action === "replace") replaced.push(serviceOf(r));
    else if (s.action === "update") rolled.push(serviceOf(r));
  }
  return { replaced: [...new Set(replaced)].sort(), rolled: [...new Set(rolled)].sort() };
}

/** Docker names of the volumes with data (not ephemeral) a container mounts. */
function dataVolumesOf(container: Resource, all: Map<string, Resource>): string[] {
  return asArray(container.body.volumes)
    .map((v) => (isRecord(v) ? wholeReference(v.volume_name, "docker_volume") : undefined))
    .map((address) => (address ? all.get(address) : undefined))
    .filter((v): v is Resource => v !== undefined && volumeProtection(v.body) !== "ephemeral")
    .map(displayName);
}

/** "api ×3", "postgres": replicas of one service count once. */
function collapseByService(containers: readonly Resource[]): string[] {
  const counts = new Map<string, number>();
  for (const c of containers) counts.set(serviceOf(c), (counts.get(serviceOf(c)) ?? 0) + 1);
  return [...counts.entries()].map(([svc, n]) => (n > 1 ? `${svc} ×${n}` : svc)).sort();
}

function oneShotReruns(before: Map<string, Resource>, states: Map<string, State>): string[] {
  return [...before.values()]
    .filter((r) => r.type === "docker_container" && !isSeed(r) && isOneShot(r.body) && states.get(r.address)?.action === "replace")
    .map((r) =>
      // A config-reload job applies a changed file to servers that keep running (constructs/contract/index.ts).
      label(r.body, LABELS.role) === CONFIG_RELOAD_ROLE
        ? `${displayName(r)} (one-shot job) runs again: the change is applied to the running servers in place, no restart`
        : `${displayName(r)} (one-shot job) runs again`,
    );
}

export function diffStacks(stack: string, beforeJson: TerraformJson | undefined, afterJson: TerraformJson | undefined): StackDiff {
  const before = indexResources(beforeJson);
  const after = indexResources(afterJson);
  const types = resourceTypes(beforeJson, afterJson);
  const states = new Map<string, State>();
  const meta = new Map<string, string[]>();
  const ignored = new Map<string, string[]>();
  for (const address of new Set([...before.keys(), ...after.keys()])) {
    const b = before.get(address);
    const a = after.get(address);
    if (!b) states.set(address, { action: "add", attributes: [], causes: [] });
    else if (!a) states.set(address, { action: "remove", attributes: [], causes: [] });
    else {
      const all = a.type === "docker_service" ? serviceChangedPaths(b.body, a.body) : changedAttributes(a.type, b.body, a.body);
      const ignoring = ignoredAttributes(a.body);
      const isIgnored = (attr: string) => isIgnoredBy(ignoring, attr);
      const attributes = all.filter((x) => !isIgnored(x));
      if (all.some(isIgnored)) ignored.set(address, all.filter(isIgnored));
      states.set(address, { action: directAction(a.type, attributes), attributes, causes: [] });
      const m = changedMeta(b.body, a.body);
      if (m.length > 0) meta.set(address, m);
    }
  }
  propagate(after, states, types);

  const addedNames = new Map<string, string>();
  for (const [address, s] of states) {
    const r = after.get(address);
    if (s.action === "add" && r && typeof r.body.name === "string") addedNames.set(`${r.type}:${r.body.name}`, address);
  }

  const changes: ResourceChange[] = [];
  for (const [address, s] of states) {
    const b = before.get(address);
    const a = after.get(address);
    const resource = (a ?? b)!;
    const ignoredHere = ignored.get(address) ?? [];
    if (s.action === "no-op" && s.attributes.length === 0 && !meta.has(address) && ignoredHere.length === 0) continue;
    const replaces =
      ["docker_network", "docker_image", "random_password", "docker_volume"].includes(resource.type) && s.action === "replace"
        ? collapseByService(
            [...dependentsOf(address, states)]
              .map((d) => after.get(d))
              .filter((r): r is Resource => r !== undefined && r.type === "docker_container" && !isSeed(r)),
          )
        : [];
    const swarm =
      ["docker_network", "random_password", "docker_secret", "docker_config", "docker_image"].includes(resource.type) &&
      s.action === "replace"
        ? swarmDependents(address, states, after)
        : undefined;
    const swarmServices =
      resource.type === "docker_network"
        ? (swarm?.replaced ?? [])
        : [...new Set([...(swarm?.replaced ?? []), ...(swarm?.rolled ?? [])])].sort();
    const kind =
      s.action === "no-op" && s.attributes.length === 0 && ignoredHere.length > 0
        ? "ignored-change"
        : kindOf(resource.type, s.action, s.attributes, b?.body, s.causes, a?.body, swarmServices.length > 0);
    const names = (ref: string) => {
      const target = wholeReference(ref, "docker_network");
      const r = target ? (after.get(target) ?? before.get(target)) : undefined;
      return r ? displayName(r) : ref;
    };
    const details = b && a ? s.attributes.map((attr) => describeAttribute(attr, b.body, a.body, names)) : [];
    const base = {
      address,
      type: resource.type,
      label: displayName(resource),
      action: s.action,
      kind,
      attributes: s.action === "no-op" && s.attributes.length === 0 ? (meta.get(address) ?? []) : s.attributes,
      details: s.action === "no-op" && s.attributes.length === 0 ? (meta.get(address) ?? []) : details,
      causes: s.causes,
      dataLoss: kind === "volume-data-loss",
      replaces,
      swarmServices,
      ignored: ignoredHere,
    };
    changes.push({
      ...base,
      consequence: consequenceText(base, b, a),
      notes: notesOf(base, b, a, addedNames, a && !isSeed(a) ? dataVolumesOf(a, after) : []),
    });
  }
  // Worst first: data loss, then the replacements that cause others, the replaced containers and services, in-place updates, the rest.
  const severity = (c: ResourceChange) =>
    c.dataLoss
      ? 0
      : c.action === "replace"
        ? c.type === "docker_container" || c.type === "docker_service"
          ? 2
          : 1
        : c.action === "update"
          ? 3
          : 4;
  changes.sort((x, y) => severity(x) - severity(y) || x.address.localeCompare(y.address));

  const warnings = [
    ...changes
      .filter((c) => c.kind === "password-replaced")
      .map(
        (c) =>
          `secret rotates: ${c.label}${c.replaces.length > 0 || c.swarmServices.length > 0 ? ` (restarts ${list([...c.replaces, ...c.swarmServices])})` : ""}`,
      ),
    ...changes
      .filter((c) => c.kind === "secret-rotated" || c.kind === "config-rotated")
      .map(
        (c) =>
          `${c.type === "docker_secret" ? "Swarm secret" : "Swarm config"} rotates: ${c.label}${c.swarmServices.length > 0 ? ` (services roll: ${list(c.swarmServices)})` : ""}`,
      ),
    ...changes
      .filter((c) => c.kind === "swarm-object-refused" || c.kind === "service-mode-refused")
      .map((c) => `${c.label}: the apply fails (${c.address}; see Changes)`),
    ...changes
      .filter((c) => c.kind === "ignored-change")
      .map((c) => `${c.label}: ${c.ignored.join(", ")} changed but ignored (lifecycle ignore_changes): no effect`),
    ...changes
      .filter((c) => c.kind === "healthcheck-ignored")
      .map((c) => `${c.label}: healthcheck edit has no effect (ignored by the provider)`),
    ...changes
      .filter((c) => c.notes.some((n) => n.startsWith("prevent_destroy removed")))
      .map((c) => `${c.label}: prevent_destroy removed`),
    ...oneShotReruns(before, states),
    ...backendChange(beforeJson, afterJson),
  ];
  const staged = planStagedApply(afterJson, new Map([...states].map(([a, s]) => [a, s.action])));
  if (staged?.blocked) warnings.push(`STORE DOWN, cannot be staged: ${staged.conflicts.join("; ")}; ${staged.blocked}`);
  return {
    stack,
    added: changes.filter((c) => c.action === "add"),
    removed: changes.filter((c) => c.action === "remove"),
    changed: changes.filter((c) => c.action !== "add" && c.action !== "remove"),
    dataLoss: changes.filter((c) => c.dataLoss),
    downtime: downtimeRisks(before, after, states, changes),
    warnings,
    ...(staged ? { staged } : {}),
  };
}

/** A different backend block means Terraform looks for state elsewhere (migration needed). */
function backendChange(before: TerraformJson | undefined, after: TerraformJson | undefined): string[] {
  if (!before || !after) return [];
  const backend = (j: TerraformJson) => {
    const t = j.terraform;
    return isRecord(t) ? canonical({ backend: t.backend, cloud: t.cloud }) : "";
  };
  return backend(before) === backend(after)
    ? []
    : [
        "the state backend changes: Terraform will look for state elsewhere (run `terraform init -migrate-state` or it plans everything as new)",
      ];
}

export function hasDataLoss(diffs: readonly StackDiff[]): boolean {
  return diffs.some((d) => d.dataLoss.length > 0);
}

export function hasDowntime(diffs: readonly StackDiff[]): boolean {
  return diffs.some((d) => d.downtime.length > 0);
}

/** Whether some stack must be applied in stages (see ./staging.ts). */
export function hasStagedApply(diffs: readonly StackDiff[]): boolean {
  return diffs.some((d) => needsStagedApply(d.staged));
}

/**
 * The CLI's exit code: 2 data loss, 4 staged apply required (a store's primary and replica, or its
 * majority, would be replaced in one apply), 3 downtime (services stop during the apply), 0
 * otherwise. Data loss wins: a staged apply does not make it safe.
 */
export const EXIT = { safe: 0, dataLoss: 2, downtime: 3, staged: 4 } as const;

export function reviewExitCode(diffs: readonly StackDiff[]): 0 | 2 | 3 | 4 {
  if (hasDataLoss(diffs)) return EXIT.dataLoss;
  if (hasStagedApply(diffs)) return EXIT.staged;
  return hasDowntime(diffs) ? EXIT.downtime : EXIT.safe;
}
