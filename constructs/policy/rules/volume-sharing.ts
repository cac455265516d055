import { LABELS, VOLUME_ACCESS } from "../../contract/index";
import { isExpression, labelsOf, resourcesOf } from "../json";
import { plain } from "../normalize";
import type { PolicyRule, Problem, TerraformJson } from "../types";
import { mountedVolumes, type Workload, workloadOf } from "../workload";
import { WORKLOADS } from "./helpers";

type Access = (typeof VOLUME_ACCESS)[number];

/**
 * What each helper of a service may mount of that service's volumes, by the helper's suffix
 * (`postgres-backup` for `postgres`) and the volume's purpose (`prod-postgres-backups`: "backups"),
 * with the access it needs. Least privilege per helper: a replica reads the settings or ACL it
 * shares with its primary, not the primary's data or secrets.
 */
const HELPERS: readonly { readonly suffix: RegExp; readonly mounts: Readonly<Record<string, Access>> }[] = [
  { suffix: /^backup$/, mounts: { backups: "read-write", data: "read-only" } },
  { suffix: /^restore-drill$/, mounts: { backups: "read-write" } },
  { suffix: /^pre-migration-dump$/, mounts: { backups: "read-write" } },
  { suffix: /^replica-[1-9][0-9]*$/, mounts: { settings: "read-only", acl: "read-only" } },
  { suffix: /^reload$/, mounts: { caddyfile: "read-only", admin: "read-write" } },
  { suffix: /^acl-reload$/, mounts: { acl: "read-only" } },
];

/** The access a workload of service `mounter` is allowed to `purpose` volumes of service `owner`, if any. */
function helperAccess(mounter: string, owner: string, purpose: string): Access | undefined {
  if (!mounter.startsWith(`${owner}-`)) return undefined;
  const suffix = mounter.slice(owner.length + 1);
  return HELPERS.find((h) => h.suffix.test(suffix))?.mounts[purpose];
}

const PURPOSE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Whose a volume is and what it holds, from its name `<env>-<service>-<purpose>` checked against its
 * service label: the name is what the engine keeps unique (a second declaration is caught below),
 * the label alone is whatever its author wrote.
 */
interface VolumeIdentity {
  readonly owner: string;
  readonly purpose: string;
  readonly ephemeral: boolean;
}

function volumeIdentity(volume: Record<string, unknown>, environment: string): VolumeIdentity | string {
  const name = plain(volume.name);
  const labels = labelsOf(volume);
  const owner = labels.get(LABELS.service);
  if (typeof name !== "string" || isExpression(name))
    return "has a name that is not a literal, so the policy cannot tell whose it is: write the name out";
  if (owner === undefined || owner === "")
    return `has no ${LABELS.service} label, so nothing says whose it is and any container could mount it: label it with its service`;
  const prefix = `${environment}-${owner}-`;
  const purpose = name.startsWith(prefix) ? name.slice(prefix.length) : "";
  if (!PURPOSE.test(purpose))
    return `is labelled service ${JSON.stringify(owner)} but its name does not say so: name it "${prefix}<purpose>" (lowercase letters, digits and dashes), as the kit does`;
  return { owner, purpose, ephemeral: labels.get(LABELS.ephemeral) === "true" };
}

/**
 * Which service a workload is, and as what, from its name checked against its service label: a
 * server or job is `<env>-<service>`, its secrets owner `<env>-<service>-secrets-owner`, a seed
 * `<env>-<service>[-<name>]-seed`. Anyone can write a label; the engine keeps names unique.
 */
type WorkloadIdentity = { readonly service: string; readonly as: "server" | "secrets-owner" | "seed" } | string;

function workloadIdentity(w: Workload, environment: string): WorkloadIdentity {
  const name = plain(w.resource.name);
  const service = w.labels.get(LABELS.service);
  if (typeof name !== "string" || isExpression(name))
    return "has a name that is not a literal, so the policy cannot tell which service it is: write the name out";
  if (service === undefined || service === "")
    return `has no ${LABELS.service} label, so it is no service's and may mount no volume of one`;
  const own = `${environment}-${service}`;
  if (w.seed && name.startsWith(`${own}-`) && name.endsWith("-seed") && PURPOSE.test(name.slice(own.length + 1)))
    return { service, as: "seed" };
  if (name === own) return { service, as: "server" };
  if (name === `${own}-secrets-owner`) return { service, as: "secrets-owner" };
  return (
    `is labelled service ${JSON.stringify(service)} but is not named "${own}"${w.seed ? ` or "${own}-<name>-seed"` : ""}: ` +
    `a label is whatever the container's author wrote, the name is what the engine keeps unique`
  );
}

/** Undefined when a workload that is `who` may mount a volume that is `what` as it asks; else why not ("" when it is simply not its). */
function refusal(who: Exclude<WorkloadIdentity, string>, what: VolumeIdentity, readOnly: boolean): string | undefined {
  if (who.as === "seed")
    // A seed never runs, but its uploads are written into every volume it mounts.
    return what.owner === who.service && what.ephemeral
      ? undefined
      : "a seed writes its uploads into what it mounts: it may mount only its own service's ephemeral volumes";
  if (who.as === "secrets-owner")
    return what.owner === who.service && what.purpose === "secrets"
      ? undefined
      : "a secrets owner may mount only its own service's secrets volume";
  if (what.owner === who.service) return undefined;
  const access = helperAccess(who.service, what.owner, what.purpose);
  if (access === "read-write" || (access === "read-only" && readOnly)) return undefined;
  return access === "read-only" ? `as its helper, it may mount "${what.purpose}" only read-only` : "";
}

/** The engine reads "/prod-db" as "prod-db". */
const engineName = (name: string): string => name.replace(/^\//, "");

/** How many resources of the given types carry each literal name (once per rendering). */
const nameCounts = new WeakMap<TerraformJson, Map<string, Map<string, number>>>();
function namedTimes(json: TerraformJson, types: readonly string[], name: string): number {
  let byTypes = nameCounts.get(json);
  if (!byTypes) nameCounts.set(json, (byTypes = new Map()));
  const key = types.join(",");
  let counts = byTypes.get(key);
  if (!counts) {
    counts = new Map();
    for (const type of types)
      for (const r of Object.values(resourcesOf(json, type))) {
        const n = plain(r.name);
        if (typeof n !== "string") continue;
        const engine = engineName(n);
        counts.set(engine, (counts.get(engine) ?? 0) + 1);
      }
    byTypes.set(key, counts);
  }
  return counts.get(engineName(name)) ?? 0;
}

export const volumeSharing: PolicyRule = {
  id: "volume-sharing",
  level: "error",
  title:
    "A container mounts only its own service's volumes, or what it needs of the service it is a backup, replica or reload helper of; names and labels agree",
  why: "a volume holds one service's state (a database's files, its backups, the ACL file, a proxy's keys): any other container that mounts it reads all of it, and with write access can corrupt it or plant a backup that a restore would load; a seed never runs, but its uploads are written into what it mounts; a label is whatever the resource's author wrote, so who a container is and whose a volume is are read from their names (`<env>-<service>`, `<env>-<service>-<purpose>`), which the engine keeps unique, checked against their labels; and a volume or container declared twice is one object (the engine hands the second create the first's volume), so its second label would lie",
  fix: `name a volume "<env>-<service>-<purpose>" and label it with that ${LABELS.service}; name a container "<env>-<service>" (its secrets owner "<env>-<service>-secrets-owner", a seed "<env>-<service>[-<name>]-seed") with its own ${LABELS.service}; mount only your own service's volumes (a seed: only ephemeral ones; a secrets owner: only "secrets"), or as <service>-backup (backups, data read-only), -restore-drill or -pre-migration-dump (backups), -replica-<n> (settings or acl, read-only), -reload (caddyfile read-only, admin) or -acl-reload (acl, read-only) what that helper needs of <service>'s; a collector that must read other services' volumes (sizes, metrics files) mounts them read-only and relaxes volume-sharing on its construct with the reason, limited to its image and to read-only mounts (appliesTo: ["read-only"]); declare each volume and container once.`,
  appliesTo: [...WORKLOADS, "docker_volume"],
  check(resource, ctx, type) {
    if (type === "docker_volume") {
      const name = plain(resource.name);
      const label = typeof name === "string" && !isExpression(name) ? `volume ${JSON.stringify(name)}` : "volume";
      const problems: string[] = [];
      // The engine answers a second create of a name with the volume that exists, labels and all:
      // a second block could claim another service's volume under its own label.
      if (typeof name === "string" && namedTimes(ctx.stackJson, ["docker_volume"], name) > 1)
        problems.push(`${label} is declared more than once in this stack, and every declaration gets the same volume`);
      const identity = volumeIdentity(resource, ctx.environment);
      if (typeof identity === "string") problems.push(`${label} ${identity}`);
      return problems;
    }
    const w = workloadOf(resource, type);
    if (!w) return [];
    const mounts = mountedVolumes(w, ctx.stackJson);
    if (mounts.length === 0) return [];
    const problems: Problem[] = [];
    const name = plain(resource.name);
    if (typeof name === "string" && namedTimes(ctx.stackJson, WORKLOADS, name) > 1)
      problems.push(
        `${w.name} is declared more than once in this stack (containers and services), so its name says nothing about which one mounts what`,
      );
    const who = workloadIdentity(w, ctx.environment);
    if (typeof who === "string") {
      const first = mounts[0]!;
      const volume = typeof first.volume.name === "string" ? JSON.stringify(first.volume.name) : "a volume";
      return [
        ...problems,
        `${w.name} ${who}; it mounts ${volume} (${first.path})${mounts.length > 1 ? ` and ${mounts.length - 1} more` : ""}`,
      ];
    }
    for (const m of mounts) {
      const what = volumeIdentity(m.volume, ctx.environment);
      // A volume that does not say whose it is is the volume's finding (above).
      if (typeof what === "string") continue;
      const why = refusal(who, what, m.readOnly);
      if (why === undefined) continue;
      const access: Access = m.readOnly ? "read-only" : "read-write";
      const message = `${w.name} (service "${who.service}") mounts ${JSON.stringify(m.volume.name)} of service "${what.owner}" ${access} (${m.path})${why ? `: ${why}` : ""}`;
      // Only a service's own container names the access a suppression may be limited to: a seed
      // writes into whatever it mounts, a secrets owner holds secrets.
      problems.push(who.as === "server" ? { message, subject: access } : message);
    }
    return problems;
  },
};
