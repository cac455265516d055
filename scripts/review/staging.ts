/**
 * Stateful stores whose members one apply must not replace together, and the targeted applies
 * (`terraform apply -target=...`, then the full apply) that keep part of each store running.
 *
 * Stores are found by the service labels the constructs give their data containers (component
 * "data", not seeds, not one-shot jobs): `<s>` with `<s>-replica-<n>` is a primary with replicas
 * (Postgres, Redis), `<s>-sentinel-<n>` its Sentinels, and `<s>-<n>` with no `<s>` a cluster of
 * peers (RabbitMQ). A member is replaced when its container is, which includes a replaced seed
 * (replace_triggered_by, propagated by the classifier).
 *
 * One apply must not replace: a primary together with any of its replicas (nothing is left to take
 * over or to keep the data), or so many Sentinels or cluster peers that fewer than a majority stay
 * up (no failover vote, no quorum-queue leader).
 *
 * Terraform's -target also applies everything a target depends on (depends_on, references, locals,
 * replace_triggered_by; checked on Terraform 1.11 with terraform_data). So a stage's real reach is
 * the closure of its targets, and a member that depends on another (a replica's depends_on on its
 * primary, Sentinels on both) can only go in the same stage as it or a later one. Replicas go first
 * when nothing forbids it.
 *
 * Pure functions over the synthesized JSON and the classifier's planned actions.
 */
import {
  asArray,
  isOneShot,
  isRecord,
  isSeed,
  label,
  LABELS,
  lifecycleReferences,
  referencesIn,
  resourcesOf,
  type Resource,
  type TerraformJson,
} from "./terraform-json";

/** The classifier's action per address (classify.ts `Action`; repeated to avoid an import cycle). */
export type PlannedAction = "add" | "remove" | "update" | "replace" | "no-op";

export type MemberRole = "primary" | "replica" | "sentinel" | "peer";

export interface StoreMember {
  readonly service: string;
  readonly role: MemberRole;
  /** Address of the member's running container. */
  readonly address: string;
}

export interface Store {
  readonly name: string;
  readonly members: readonly StoreMember[];
}

export interface ApplyStage {
  readonly stage: number;
  /** -target addresses (sorted); empty for the last stage, which is the full apply. */
  readonly targets: readonly string[];
  /** Services of the store members this stage replaces. */
  readonly members: readonly string[];
  readonly why: string;
}

export interface StagedApply {
  /** What one apply would do to each store. */
  readonly conflicts: readonly string[];
  /** Every stage in order, the last one the full apply; empty when blocked. */
  readonly stages: readonly ApplyStage[];
  readonly notes: readonly string[];
  /** Why targeted applies cannot separate the members (the apply then takes the store down). */
  readonly blocked?: string;
}

// ---------------------------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------------------------

const serviceOf = (r: Resource): string | undefined => label(r.body, LABELS.service);

/** Stores with more than one member in a synthesized stack. */
export function storesOf(json: TerraformJson | undefined): Store[] {
  const data = resourcesOf(json).filter(
    (r) =>
      r.type === "docker_container" &&
      !isSeed(r) &&
      !isOneShot(r.body) &&
      label(r.body, LABELS.component) === "data" &&
      serviceOf(r) !== undefined,
  );
  const services = new Set(data.map((r) => serviceOf(r)!));
  const roles = new Map<string, { store: string; role: MemberRole }>();
  for (const r of data) {
    const s = serviceOf(r)!;
    const replica = /^(.+)-replica-\d+$/.exec(s);
    const sentinel = /^(.+)-sentinel-\d+$/.exec(s);
    if (replica && services.has(replica[1]!)) roles.set(r.address, { store: replica[1]!, role: "replica" });
    else if (sentinel && services.has(sentinel[1]!)) roles.set(r.address, { store: sentinel[1]!, role: "sentinel" });
  }
  const primaries = new Set([...roles.values()].map((x) => x.store));
  for (const r of data) {
    if (roles.has(r.address)) continue;
    const s = serviceOf(r)!;
    const peer = /^(.+)-\d+$/.exec(s);
    if (primaries.has(s)) roles.set(r.address, { store: s, role: "primary" });
    else if (peer && !services.has(peer[1]!)) roles.set(r.address, { store: peer[1]!, role: "peer" });
  }
  const byStore = new Map<string, StoreMember[]>();
  for (const r of data) {
    const x = roles.get(r.address);
    if (x) byStore.set(x.store, [...(byStore.get(x.store) ?? []), { service: serviceOf(r)!, role: x.role, address: r.address }]);
  }
  return [...byStore.entries()]
    .filter(([, members]) => members.length > 1)
    .map(([name, members]) => ({ name, members: members.sort((a, b) => a.service.localeCompare(b.service)) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

const majority = (n: number) => Math.floor(n / 2) + 1;

/** What replacing `together` (members of `store`) in one apply breaks; [] when the store stays up. */
export function storeViolations(store: Store, together: readonly StoreMember[]): string[] {
  const of = (role: MemberRole) => together.filter((m) => m.role === role);
  const all = (role: MemberRole) => store.members.filter((m) => m.role === role).length;
  const names = (ms: readonly StoreMember[]) => ms.map((m) => m.service).join(", ");
  const out: string[] = [];
  if (of("primary").length > 0 && of("replica").length > 0) {
    out.push(
      `${store.name}: primary ${names(of("primary"))} and replica ${names(of("replica"))} are replaced in the same apply: no copy stays up to serve or take over`,
    );
  }
  // Two or fewer: every replacement already loses the majority; staging cannot help.
  for (const [role, what, why] of [
    ["sentinel", "Sentinels", "no failover can be voted and clients cannot ask for the master"],
    ["peer", "nodes", "quorum queues lose their majority"],
  ] as const) {
    const n = all(role);
    if (n >= 3 && of(role).length > n - majority(n))
      out.push(
        `${store.name}: ${of(role).length} of ${n} ${what} are replaced in the same apply: fewer than ${majority(n)} stay up, so ${why}`,
      );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// What -target pulls in
// ---------------------------------------------------------------------------------------------

/** Direct dependencies of every resource as Terraform's graph has them: depends_on, references (also through locals), replace_triggered_by. */
export function dependencyGraph(json: TerraformJson | undefined): Map<string, Set<string>> {
  const types = new Set(Object.keys(json?.resource ?? {}));
  const locals = isRecord(json?.locals) ? (json!.locals as Record<string, unknown>) : {};
  const localDeps = new Map<string, Set<string>>();
  const throughLocal = (name: string, seen: Set<string>): Set<string> => {
    const known = localDeps.get(name);
    if (known) return known;
    const out = new Set<string>();
    if (seen.has(name)) return out;
    seen.add(name);
    const value = locals[name];
    for (const r of referencesIn(value, types)) out.add(r.address);
    for (const l of referencesIn(value, LOCAL)) for (const a of throughLocal(l.name, seen)) out.add(a);
    localDeps.set(name, out);
    return out;
  };
  const graph = new Map<string, Set<string>>();
  for (const r of resourcesOf(json)) {
    const deps = new Set<string>();
    for (const d of asArray(r.body.depends_on)) {
      const m = typeof d === "string" ? /^(?:\$\{)?([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)\}?$/.exec(d) : null;
      if (m && types.has(m[1]!)) deps.add(`${m[1]}.${m[2]}`);
    }
    const { "//": _meta, depends_on: _deps, ...rest } = r.body;
    for (const ref of referencesIn(rest, types)) deps.add(ref.address);
    for (const l of referencesIn(rest, LOCAL)) for (const a of throughLocal(l.name, new Set())) deps.add(a);
    const lifecycle = isRecord(r.body.lifecycle) ? r.body.lifecycle : {};
    for (const ref of lifecycleReferences(lifecycle.replace_triggered_by, types)) deps.add(ref.address);
    deps.delete(r.address);
    graph.set(r.address, deps);
  }
  return graph;
}

const LOCAL: ReadonlySet<string> = new Set(["local"]);

/** The addresses and everything they depend on, transitively: what `-target` applies. */
export function closure(graph: ReadonlyMap<string, ReadonlySet<string>>, addresses: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const queue = [...addresses];
  while (queue.length > 0) {
    const a = queue.pop()!;
    if (out.has(a)) continue;
    out.add(a);
    for (const d of graph.get(a) ?? []) queue.push(d);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Stages
// ---------------------------------------------------------------------------------------------

const ROLE_ORDER: Record<MemberRole, number> = { replica: 0, peer: 1, sentinel: 2, primary: 3 };
const CHANGING: ReadonlySet<PlannedAction> = new Set(["replace", "update", "add"]);
const IN_USE: ReadonlySet<string> = new Set(["docker_network", "docker_volume"]);

function roleText(m: StoreMember): string {
  return m.role === "peer" ? m.service : `${m.service} (${m.role})`;
}

/**
 * The staged apply for a plan, or undefined when no store loses every copy (or its majority) in
 * one apply. `actions` is the classifier's action per address (after propagation).
 */
export function planStagedApply(json: TerraformJson | undefined, actions: ReadonlyMap<string, PlannedAction>): StagedApply | undefined {
  const stores = storesOf(json);
  const replaced = (m: StoreMember) => actions.get(m.address) === "replace";
  const conflicting = stores
    .map((store) => ({ store, violations: storeViolations(store, store.members.filter(replaced)) }))
    .filter((x) => x.violations.length > 0);
  if (conflicting.length === 0) return undefined;
  const conflicts = conflicting.flatMap((x) => x.violations);

  const graph = dependencyGraph(json);
  const resources = new Map(resourcesOf(json).map((r) => [r.address, r]));
  const storeOf = new Map(conflicting.flatMap(({ store }) => store.members.map((m) => [m.address, store] as const)));
  const members = conflicting.flatMap(({ store }) => store.members.filter(replaced));

  // A member's side: its container plus the seeds, jobs (secrets owner) and volumes of the same
  // service it depends on. Listed as targets so the stage says what it touches; -target would
  // include them anyway.
  const side = new Map<string, string[]>();
  for (const m of members) {
    const own = [...closure(graph, [m.address])].filter((a) => {
      const r = resources.get(a);
      return r !== undefined && (r.type === "docker_container" || r.type === "docker_volume") && serviceOf(r) === m.service;
    });
    side.set(m.address, [...new Set([m.address, ...own])].sort());
  }
  const reach = new Map(members.map((m) => [m.address, closure(graph, side.get(m.address)!)]));
  const needs = new Map(
    members.map((m) => [
      m.address,
      members.filter(
        (o) => o !== m && side.get(o.address)!.some((a) => CHANGING.has(actions.get(a) ?? "no-op") && reach.get(m.address)!.has(a)),
      ),
    ]),
  );
  const fits = (set: readonly StoreMember[]) =>
    conflicting.every(
      ({ store }) =>
        storeViolations(
          store,
          set.filter((m) => storeOf.get(m.address) === store),
        ).length === 0,
    );

  const order = [...members].sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.service.localeCompare(b.service));
  const done = new Set<StoreMember>();
  const batches: StoreMember[][] = [];
  while (done.size < members.length) {
    const batch: StoreMember[] = [];
    let grew = true;
    while (grew) {
      grew = false;
      for (const m of order) {
        if (done.has(m) || batch.includes(m)) continue;
        const ready = needs.get(m.address)!.every((d) => done.has(d) || batch.includes(d));
        if (ready && fits([...batch, m])) {
          batch.push(m);
          grew = true;
        }
      }
    }
    if (batch.length === 0) {
      const left = order.filter((m) => !done.has(m));
      return {
        conflicts,
        stages: [],
        notes: [],
        blocked: `no order of targeted applies keeps ${left.map((m) => m.service).join(", ")} apart`,
      };
    }
    batches.push(batch);
    for (const m of batch) done.add(m);
  }

  // A replaced network or volume cannot be removed while a container outside the stage uses it:
  // such a change can only happen in one apply with everything attached to it.
  for (const batch of batches.slice(0, -1)) {
    const reached = closure(
      graph,
      batch.flatMap((m) => side.get(m.address)!),
    );
    for (const a of reached) {
      const r = resources.get(a);
      if (!r || !IN_USE.has(r.type) || actions.get(a) !== "replace") continue;
      const users = [...graph.entries()]
        .filter(([u, deps]) => deps.has(a) && /^docker_(container|service)\./.test(u) && !reached.has(u))
        .map(([u]) => u);
      if (users.length > 0) {
        const what = r.type === "docker_network" ? "network" : "volume";
        return {
          conflicts,
          stages: [],
          notes: [],
          blocked: `${what} ${String(r.body.name ?? a)} (${a}) is replaced and ${batch.map((m) => m.service).join(", ")} need it, but so do ${users.length} other container(s)/service(s) (${users.slice(0, 3).join(", ")}${users.length > 3 ? ", ..." : ""}); Docker cannot remove it while they use it, so the store's members are replaced together in one apply`,
        };
      }
    }
  }

  const notes: string[] = [];
  for (const m of members) {
    const first = needs.get(m.address)!.filter((d) => d.role === "primary" && m.role === "replica");
    for (const p of first) {
      notes.push(
        `${m.service} depends on ${p.service} (depends_on or a reference) and -target always applies what a target depends on, so ${p.service} goes first while ${m.service} keeps running`,
      );
    }
  }
  const stages: ApplyStage[] = batches.map((batch, i) => {
    const last = i === batches.length - 1;
    const stores = [...new Set(batch.map((m) => storeOf.get(m.address)!))];
    const up = stores.flatMap((s) => s.members.filter((m) => !batch.includes(m))).map((m) => m.service);
    const replacing = batch.map(roleText).join(", ");
    return {
      stage: i + 1,
      targets: last ? [] : [...new Set(batch.flatMap((m) => side.get(m.address)!))].sort(),
      members: batch.map((m) => m.service),
      why: last
        ? `the full apply: everything else, including ${replacing}${up.length > 0 ? `; still up: ${up.join(", ")}` : ""}`
        : `replaces ${replacing}; still up: ${up.join(", ") || "(none)"}`,
    };
  });
  return { conflicts, stages, notes };
}

/** Whether the review asks for a staged apply (a plan exists; a blocked one does not count). */
export function needsStagedApply(staged: StagedApply | undefined): boolean {
  return staged !== undefined && staged.blocked === undefined && staged.stages.length > 1;
}
