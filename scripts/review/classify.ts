/**
 * What applying "after" on top of "before" does, resource by resource, with kreuzwerker/docker 3.6.2
 * (DESIGN.md, "Facts checked by hand"). Compares two synthesized stacks; no Terraform, no state.
 *
 * 1. Direct changes: attributes that differ, judged by resource type (in place or replaced).
 * 2. Propagation until nothing moves: a reference to a replaced resource's computed attribute
 *    (image_id, result) changes the referring attribute; replace_triggered_by fires on any planned
 *    change of its target; a container attached to a replaced network or mounting a replaced volume
 *    is replaced with it (Docker refuses to remove a network or volume that is in use).
 * 3. Risks: data loss (a volume that is not ephemeral replaced or removed) and downtime (every
 *    running replica of a service replaced at once).
 */
import {
  asArray,
  asString,
  canonical,
  constructPath,
  indexResources,
  isOneShot,
  isRecord,
  isSeed,
  label,
  LABELS,
  META_KEYS,
  referencesByAttribute,
  lifecycleReferences,
  resourceTypes,
  wholeReference,
  type Body,
  type Resource,
  type TerraformJson,
} from "./terraform-json";
import { volumeProtection } from "./inventory";

/** The only docker_container attributes 3.6.2 updates in place (DESIGN.md). */
export const CONTAINER_IN_PLACE: ReadonlySet<string> = new Set(["restart", "max_retry_count", "cpu_shares", "memory", "cpu_set", "memory_swap"]);
/** docker_image attributes that only matter to the provider (no new image_id). */
export const IMAGE_IN_PLACE: ReadonlySet<string> = new Set(["keep_locally", "force_remove"]);

/**
 * Attributes the provider schema declares as sets: their order is not a change. `labels` is a set
 * of {label, value} (DESIGN.md), `ports` a list that is read back sorted (so order does count).
 */
const SET_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  docker_container: ["labels", "env", "upload", "volumes", "networks_advanced", "security_opts", "mounts", "host", "devices", "dns", "dns_opts", "dns_search", "group_add", "ulimit", "links"],
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
  | "replaced"
  | "changed";

export interface Cause {
  /** Address of the resource whose change causes this one. */
  readonly via: string;
  readonly text: string;
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
    case "docker_volume":
    case "docker_network":
    case "random_password":
      return "replace";
    default:
      return "update";
  }
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
        : `${target.address} changes (${attribute} changes)`;
  switch (dependent.type) {
    case "docker_container":
      return { action: CONTAINER_IN_PLACE.has(attribute) ? "update" : "replace", text: what };
    case "docker_image":
      return { action: IMAGE_IN_PLACE.has(attribute) ? "update" : "replace", text: what };
    case "docker_volume":
    case "docker_network":
    case "random_password":
      return { action: "replace", text: what };
    default:
      return { action: "update", text: what };
  }
}

/** Docker refuses to remove a network or volume in use: its containers go with it. */
function inUseEffect(dependent: Resource, target: Resource, targetState: State): { action: Action; text: string } | undefined {
  if (dependent.type !== "docker_container" || targetState.action !== "replace") return undefined;
  const what = target.type === "docker_network" ? `attached to network ${displayName(target)}` : `mounts volume ${displayName(target)}`;
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
      for (const [attribute, refs] of referencesByAttribute(resource.body, types)) {
        for (const ref of refs) {
          const target = after.get(ref.address);
          const targetState = states.get(ref.address);
          if (!target || !targetState || ref.address === address) continue;
          const effect = IN_USE_TYPES.has(target.type)
            ? inUseEffect(resource, target, targetState)
            : referenceChanges(target, targetState, ref.attr)
              ? referenceEffect(resource, attribute, target)
              : undefined;
          if (effect && raise(state, effect.action, { via: ref.address, text: effect.text })) moved = true;
        }
      }
      for (const trigger of triggers(resource.body, types)) {
        const targetState = states.get(trigger);
        const target = after.get(trigger);
        if (!target || !targetState || (targetState.action !== "replace" && targetState.action !== "update")) continue;
        const what = isSeed(target) ? `its seed ${displayName(target)} is ${targetState.action === "replace" ? "replaced" : "updated"}` : `${displayName(target)} changes`;
        if (raise(state, "replace", { via: trigger, text: `replace_triggered_by: ${what}` })) moved = true;
      }
    }
  }
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

/** Ports are read back sorted and Go durations canonical: anything else never settles (DESIGN.md). */
export function settleProblems(body: Body): string[] {
  const problems: string[] = [];
  const ports = asArray(body.ports).filter(isRecord);
  const keys = ports.map((p) => Number(p.internal));
  if (keys.some((k, i) => i > 0 && k < keys[i - 1]!)) problems.push("ports are not in ascending order: the provider reads them back sorted, so the plan never settles (every plan replaces this container again)");
  if (isRecord(body.healthcheck)) {
    for (const key of ["interval", "timeout", "start_period", "start_interval"]) {
      const value = body.healthcheck[key];
      if (typeof value === "string" && !isGoDuration(value)) problems.push(`healthcheck ${key} "${value}" is not in Go's form (e.g. "1m0s"): plans never settle`);
    }
  }
  return problems;
}

/** Go's time.Duration.String() form: "30s", "1m0s", "1h0m0s", "1m30s", "500ms" (not "1m", "90s"). */
export function isGoDuration(value: string): boolean {
  if (value === "0s") return true;
  if (/^[1-9]\d{0,2}(\.\d*[1-9])?(ns|µs|us|ms)$/.test(value)) return true;
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(value);
  if (!m || value === "") return false;
  const total = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  return total >= 1 && formatGoSeconds(total) === value;
}

function formatGoSeconds(total: number): string {
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = Number((total % 60).toFixed(9));
  return `${h > 0 ? `${h}h${m}m` : m > 0 ? `${m}m` : ""}${s}s`;
}

// ---------------------------------------------------------------------------------------------
// Which parts of an attribute changed (names and paths only: values may be secret)
// ---------------------------------------------------------------------------------------------

type Keyed = Map<string, string>;

function keyed(value: unknown, keyOf: (item: unknown) => string | undefined): Keyed {
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

const envKey = (item: unknown) => (typeof item === "string" ? item.split("=")[0] : undefined);
const field = (name: string) => (item: unknown) => (isRecord(item) && item[name] !== undefined ? String(item[name]) : undefined);

/** "upload (/etc/loki/loki.yaml)", "env (LOG_LEVEL)", "ports (order only)": what to look at in the diff. */
export function describeAttribute(attribute: string, before: Body, after: Body, names: (ref: string) => string): string {
  const keyOf: Record<string, (item: unknown) => string | undefined> = {
    env: envKey,
    upload: field("file"),
    labels: field("label"),
    volumes: field("container_path"),
    networks_advanced: (item) => (isRecord(item) && typeof item.name === "string" ? names(item.name) : undefined),
  };
  const by = keyOf[attribute];
  if (by) {
    const keys = differingKeys(keyed(before[attribute], by), keyed(after[attribute], by));
    return keys.length > 0 ? `${attribute} (${list(keys, 5)})` : attribute;
  }
  if (attribute === "ports") {
    const sorted = (v: unknown) => canonical(asArray(v).map(canonical).sort());
    if (sorted(before.ports) === sorted(after.ports)) return "ports (order only)";
  }
  return attribute;
}

function kindOf(type: string, action: Action, attributes: readonly string[], before: Body | undefined): Kind {
  if (action === "add") return "added";
  if (action === "remove") return type === "docker_volume" && before && volumeProtection(before) !== "ephemeral" ? "volume-data-loss" : "removed";
  if (action === "no-op") return attributes.includes("healthcheck") ? "healthcheck-ignored" : "meta-only";
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

function list(items: readonly string[], max = 8): string {
  if (items.length <= max) return items.join(", ");
  return `${items.slice(0, max).join(", ")} and ${items.length - max} more`;
}

function consequenceText(c: Omit<ResourceChange, "consequence" | "notes">, before: Resource | undefined, after: Resource | undefined): string {
  const attrs = c.details.join(", ");
  const through = c.causes.map((x) => x.text);
  const why = [...(attrs ? [attrs] : []), ...through].join("; ");
  const replaced = c.replaces.length > 0 ? ` → containers replaced: ${list(c.replaces)}` : "";
  switch (c.kind) {
    case "added":
      return "added";
    case "removed":
      if (c.type === "docker_container") return before && isSeed(before) ? "removed (seed: never ran)" : "removed (container stopped and deleted)";
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
    case "password-replaced":
      return `random_password replaced: the secret rotates${c.replaces.length > 0 ? ` → services restart: ${list(c.replaces)}` : ""} (${why})`;
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
    if (c.action === "replace" && protectedAfter) notes.push("prevent_destroy is set: the plan stops with an error instead; going ahead means removing the protection and losing the data");
    if (c.action === "remove" && protectedBefore) notes.push("the resource leaves the configuration together with its prevent_destroy, so nothing stops the delete");
    const name = asString(before.body.name);
    const readded = name ? addedNames.get(`docker_volume:${name}`) : undefined;
    if (c.action === "remove" && readded) notes.push(`a volume with the same Docker name is added as ${readded}: a renamed construct id; a \`moved\` block (or terraform state mv) keeps the data`);
  }
  if (c.type === "docker_container" && c.action === "replace" && after && dataVolumes.length > 0) notes.push(`named volumes survive the replacement: ${dataVolumes.join(", ")}`);
  if (c.type === "docker_container" && c.action !== "replace" && c.kind !== "healthcheck-ignored" && c.attributes.includes("healthcheck")) {
    notes.push("its healthcheck edit is ignored by the provider (3.6.2)");
  }
  if (c.type === "random_password" && c.replaces.length > 0) {
    notes.push("if it is a server credential, the server keeps what it stored at first start (Postgres roles, for one): change it there too, or clients lose access");
  }
  if (after && after.type === "docker_container") notes.push(...settleProblems(after.body));
  if (before && after && c.kind === "meta-only" && before.type === "docker_volume" && volumeProtection(before.body) === "protected" && volumeProtection(after.body) !== "protected") {
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

/** A service is down when every running replica it had is replaced or removed in one apply. */
function downtimeRisks(before: Map<string, Resource>, after: Map<string, Resource>, states: Map<string, State>): DowntimeRisk[] {
  const running = [...before.values()].filter((r) => r.type === "docker_container" && !isSeed(r) && !isOneShot(r.body));
  const byService = new Map<string, Resource[]>();
  for (const r of running) byService.set(serviceOf(r), [...(byService.get(serviceOf(r)) ?? []), r]);
  const stillThere = new Set([...after.values()].filter((r) => r.type === "docker_container" && !isSeed(r)).map(serviceOf));
  const out: DowntimeRisk[] = [];
  for (const [service, replicas] of byService) {
    if (!stillThere.has(service)) continue;
    const gone = replicas.filter((r) => {
      const action = states.get(r.address)?.action;
      return action === "replace" || action === "remove";
    });
    if (gone.length === 0 || gone.length < replicas.length) continue;
    const text = replicas.length === 1 ? `${service}: its only container is replaced` : `${service}: all ${replicas.length} replicas are replaced in the same apply`;
    out.push({ service, replicas: replicas.length, text });
  }
  return out.sort((a, b) => a.service.localeCompare(b.service));
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
    .map((r) => `${displayName(r)} (one-shot job) runs again`);
}

export function diffStacks(stack: string, beforeJson: TerraformJson | undefined, afterJson: TerraformJson | undefined): StackDiff {
  const before = indexResources(beforeJson);
  const after = indexResources(afterJson);
  const types = resourceTypes(beforeJson, afterJson);
  const states = new Map<string, State>();
  const meta = new Map<string, string[]>();
  for (const address of new Set([...before.keys(), ...after.keys()])) {
    const b = before.get(address);
    const a = after.get(address);
    if (!b) states.set(address, { action: "add", attributes: [], causes: [] });
    else if (!a) states.set(address, { action: "remove", attributes: [], causes: [] });
    else {
      const attributes = changedAttributes(a.type, b.body, a.body);
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
    if (s.action === "no-op" && s.attributes.length === 0 && !meta.has(address)) continue;
    const kind = kindOf(resource.type, s.action, s.attributes, b?.body);
    const replaces = ["docker_network", "docker_image", "random_password", "docker_volume"].includes(resource.type) && s.action === "replace"
      ? collapseByService([...dependentsOf(address, states)].map((d) => after.get(d)).filter((r): r is Resource => r !== undefined && r.type === "docker_container" && !isSeed(r)))
      : [];
    const names = (ref: string) => {
      const target = wholeReference(ref, "docker_network");
      const r = target ? after.get(target) ?? before.get(target) : undefined;
      return r ? displayName(r) : ref;
    };
    const details = b && a ? s.attributes.map((attr) => describeAttribute(attr, b.body, a.body, names)) : [];
    const base = {
      address,
      type: resource.type,
      label: displayName(resource),
      action: s.action,
      kind,
      attributes: s.action === "no-op" && s.attributes.length === 0 ? meta.get(address) ?? [] : s.attributes,
      details: s.action === "no-op" && s.attributes.length === 0 ? meta.get(address) ?? [] : details,
      causes: s.causes,
      dataLoss: kind === "volume-data-loss",
      replaces,
    };
    changes.push({ ...base, consequence: consequenceText(base, b, a), notes: notesOf(base, b, a, addedNames, a && !isSeed(a) ? dataVolumesOf(a, after) : []) });
  }
  // Worst first: data loss, then the replacements that cause others, the replaced containers, in-place updates, the rest.
  const severity = (c: ResourceChange) => (c.dataLoss ? 0 : c.action === "replace" ? (c.type === "docker_container" ? 2 : 1) : c.action === "update" ? 3 : 4);
  changes.sort((x, y) => severity(x) - severity(y) || x.address.localeCompare(y.address));

  const warnings = [
    ...changes.filter((c) => c.kind === "password-replaced").map((c) => `secret rotates: ${c.label}${c.replaces.length > 0 ? ` (restarts ${list(c.replaces)})` : ""}`),
    ...changes.filter((c) => c.kind === "healthcheck-ignored").map((c) => `${c.label}: healthcheck edit has no effect (ignored by the provider)`),
    ...changes.filter((c) => c.notes.some((n) => n.startsWith("prevent_destroy removed"))).map((c) => `${c.label}: prevent_destroy removed`),
    ...oneShotReruns(before, states),
    ...backendChange(beforeJson, afterJson),
  ];
  return {
    stack,
    added: changes.filter((c) => c.action === "add"),
    removed: changes.filter((c) => c.action === "remove"),
    changed: changes.filter((c) => c.action !== "add" && c.action !== "remove"),
    dataLoss: changes.filter((c) => c.dataLoss),
    downtime: downtimeRisks(before, after, states),
    warnings,
  };
}

/** A different backend block means Terraform looks for state elsewhere (migration needed). */
function backendChange(before: TerraformJson | undefined, after: TerraformJson | undefined): string[] {
  if (!before || !after) return [];
  const backend = (j: TerraformJson) => {
    const t = j.terraform;
    return isRecord(t) ? canonical({ backend: t.backend, cloud: t.cloud }) : "";
  };
  return backend(before) === backend(after) ? [] : ["the state backend changes: Terraform will look for state elsewhere (run `terraform init -migrate-state` or it plans everything as new)"];
}

export function hasDataLoss(diffs: readonly StackDiff[]): boolean {
  return diffs.some((d) => d.dataLoss.length > 0);
}
