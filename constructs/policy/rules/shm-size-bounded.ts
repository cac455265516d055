import { numberOf } from "../normalize";
import type { PolicyRule } from "../types";
import { onWorkload, valueAt } from "./helpers";

const MAX_SHM_MB = 2048;

export const shmSizeBounded: PolicyRule = {
  id: "shm-size-bounded",
  level: "error",
  title: "/dev/shm is smaller than the memory limit",
  why: "shared memory is RAM: an /dev/shm as large as (or larger than) the memory limit lets one process fill the container's memory, and absurd sizes hide a missing limit",
  fix: `set \`shm_size\` (MB) to what the service needs (postgres: a quarter of its memory), below \`memory\` and at most ${MAX_SHM_MB}.`,
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    if (w.resource.shm_size === undefined) return [];
    const v = valueAt(w.resourceType, "shm_size", w.resource.shm_size, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted") return [];
    const shm = numberOf(v.value);
    const memory = numberOf(w.resource.memory);
    if (shm === undefined || shm < 1) return [`${w.name} has shm_size = ${JSON.stringify(v.value)}`];
    if (shm > MAX_SHM_MB) return [`${w.name} has shm_size = ${shm} MB (more than ${MAX_SHM_MB})`];
    if (memory !== undefined && shm >= memory) return [`${w.name} has shm_size = ${shm} MB, not below its memory limit of ${memory} MB`];
    return [];
  }),
};
