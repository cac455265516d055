import { LABELS } from "../../contract/index";
import { block, labelsOf, resourcesOf } from "../json";
import { plain } from "../normalize";
import type { PolicyRule, TerraformJson } from "../types";
import { mountedVolumes, workloadOf, type Workload } from "../workload";
import { WORKLOADS } from "./helpers";

/**
 * Per stack, the volumes a running workload other than a one-shot job writes to, with its name:
 * the ephemeral label (no prevent_destroy needed, and "nothing to lose" in the review) is for
 * volumes that only seeds and jobs fill (secrets, config, scratch), never for a server's data.
 * A one-shot job is a container the engine does not restart (restart "no", or unset: Docker's
 * default), not one labelled "job": the label is the workload's own claim, and a server labelled
 * so would lift the protection from its data. Swarm services always run, so they always count.
 */
const writers = new WeakMap<TerraformJson, Map<Record<string, unknown>, string>>();

function writtenByServers(json: TerraformJson): Map<Record<string, unknown>, string> {
  let map = writers.get(json);
  if (map) return map;
  map = new Map();
  for (const type of WORKLOADS)
    for (const resource of Object.values(resourcesOf(json, type))) {
      const w = workloadOf(resource, type);
      if (!w || w.seed || runsOnce(w)) continue;
      for (const m of mountedVolumes(w, json)) if (!m.readOnly && !map.has(m.volume)) map.set(m.volume, w.name);
    }
  writers.set(json, map);
  return map;
}

function runsOnce(w: Workload): boolean {
  if (w.kind !== "container") return false;
  const restart = plain(w.resource.restart);
  return restart === undefined || restart === "no";
}

export const prodVolumeProtected: PolicyRule = {
  id: "prod-volume-protected",
  level: "error",
  title: "Prod volumes are protected against destroy",
  why: "every docker_volume attribute forces replacement and deleting a volume deletes its data, so one careless change would wipe a database; the ephemeral label lifts that protection (and the review then reports the volume's loss as nothing lost), so it holds only for volumes no running server writes to",
  fix: `set \`lifecycle.prevent_destroy\` = true, or label the volume ${LABELS.ephemeral} = "true" if it only holds disposable data that seeds and one-shot jobs write (secrets, config, scratch).`,
  appliesTo: "docker_volume",
  check(v, ctx) {
    if (plain(block(v.lifecycle).prevent_destroy) === true) return [];
    const name = typeof v.name === "string" ? `"${v.name}" ` : "";
    if (labelsOf(v).get(LABELS.ephemeral) === "true") {
      const writer = writtenByServers(ctx.stackJson).get(v);
      return writer === undefined
        ? []
        : [`volume ${name}is labelled ${LABELS.ephemeral} but ${writer} writes to it, and is not protected by lifecycle.prevent_destroy`];
    }
    return [`volume ${name}is not protected by lifecycle.prevent_destroy`];
  },
};
