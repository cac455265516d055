import { LABELS } from "../../contract/index";
import { labelsOf, resourcesOf } from "../json";
import { plain } from "../normalize";
import type { PolicyRule, TerraformJson } from "../types";
import { mountedVolumes, workloadOf } from "../workload";
import { WORKLOADS } from "./helpers";

/**
 * The helpers of a service that work on its volumes, by the suffix of their service name
 * (`postgres-backup` for `postgres`): its backup scheduler, restore drill and pre-migration dump
 * (the backups volume), its replicas and reload jobs (the config it shares with them).
 */
const HELPER_SUFFIX = /^(?:backup|restore-drill|pre-migration-dump|replica-[1-9][0-9]*|reload|acl-reload|users)$/;

/** Whether a workload of service `mounter` may mount a volume of service `owner` without a suppression. */
function mayMount(mounter: string, owner: string): boolean {
  return mounter === owner || (mounter.startsWith(`${owner}-`) && HELPER_SUFFIX.test(mounter.slice(owner.length + 1)));
}

/** How many docker_volume blocks of the stack carry each literal name (once per rendering). */
const nameCounts = new WeakMap<TerraformJson, Map<string, number>>();
function volumesNamed(json: TerraformJson, name: string): number {
  let counts = nameCounts.get(json);
  if (!counts) {
    counts = new Map();
    for (const v of Object.values(resourcesOf(json, "docker_volume"))) {
      const n = plain(v.name);
      if (typeof n === "string") counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    nameCounts.set(json, counts);
  }
  return counts.get(name) ?? 0;
}

export const volumeSharing: PolicyRule = {
  id: "volume-sharing",
  level: "error",
  title: "A container mounts only its own service's volumes, or those of the service it is a backup, replica or reload helper of",
  why: "a volume holds one service's state (a database's files, its backups, the ACL file, a proxy's keys): any other container that mounts it reads all of it, and with write access can corrupt it or plant a backup that a restore would load; the kit labels every volume with its service, so a mount across services is either a helper of that service or a mistake; and a volume declared twice is one volume (the engine hands the second create the first's), so its second label would lie",
  fix: `mount only volumes whose ${LABELS.service} label is the container's own service, or <service>-backup/-restore-drill/-pre-migration-dump/-replica-<n>/-reload/-acl-reload/-users for <service>'s volumes; a collector that must read other services' volumes (sizes, metrics files) relaxes volume-sharing on its construct with the reason, limited to its image, and mounts them read-only wherever it can; declare each volume once.`,
  appliesTo: [...WORKLOADS, "docker_volume"],
  check(resource, ctx, type) {
    if (type === "docker_volume") {
      // The engine answers a second create of a name with the volume that exists, labels and all:
      // a second block could claim another service's volume under its own label.
      const name = plain(resource.name);
      return typeof name === "string" && volumesNamed(ctx.stackJson, name) > 1
        ? [`volume ${JSON.stringify(name)} is declared more than once in this stack, and every declaration gets the same volume`]
        : [];
    }
    const w = workloadOf(resource, type);
    // A seed never runs: it only receives uploads into its service's volumes.
    if (!w || w.seed) return [];
    const mounter = w.labels.get(LABELS.service);
    const problems: string[] = [];
    for (const m of mountedVolumes(w, ctx.stackJson)) {
      const owner = labelsOf(m.volume).get(LABELS.service);
      // A volume without the label is required-labels' finding; a workload without one cannot claim any.
      if (owner === undefined || (mounter !== undefined && mayMount(mounter, owner))) continue;
      const volume = typeof m.volume.name === "string" ? JSON.stringify(m.volume.name) : "a volume";
      problems.push(
        `${w.name}${mounter === undefined ? " (no service label)" : ` (service "${mounter}")`} mounts ${volume} of service "${owner}" ${m.readOnly ? "read-only" : "read-write"} (${m.path})`,
      );
    }
    return problems;
  },
};
