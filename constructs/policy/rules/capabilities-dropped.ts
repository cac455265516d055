import { ALLOWED_CAPABILITIES, dropsAll, normalizeCapability } from "../normalize";
import type { PolicyRule } from "../types";
import { listItems, onWorkload, WORKLOADS } from "./helpers";

export const capabilitiesDropped: PolicyRule = {
  id: "capabilities-dropped",
  level: "error",
  title: "Containers and services drop ALL capabilities and add back only allow-listed ones",
  why: "Docker's default capability set (and DAC_OVERRIDE, MKNOD, SETFCAP, SYS_ADMIN, NET_ADMIN ...) lets a compromised process read any file, create devices or attack the host and its neighbours",
  fix: `drop ["ALL"] (capabilities.drop, or cap_drop on services) and add back only ${ALLOWED_CAPABILITIES.join(", ")}; anything else needs a suppression with its reason.`,
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    const drop = listItems(w.resourceType, w.capDrop.path, w.capDrop.value, ctx, w.name);
    const add = listItems(w.resourceType, w.capAdd.path, w.capAdd.value, ctx, w.name);
    const problems = [...drop.problems, ...add.problems];
    if (drop.problems.length === 0 && !dropsAll(drop.values))
      problems.push(`${w.name} does not drop ALL capabilities (${w.capDrop.path} = ${JSON.stringify(drop.values)})`);
    const extra = add.values.filter((c) => !ALLOWED_CAPABILITIES.includes(normalizeCapability(c)));
    if (extra.length > 0)
      problems.push(`${w.name} adds back ${extra.map((c) => JSON.stringify(c)).join(", ")} (allowed: ${ALLOWED_CAPABILITIES.join(", ")})`);
    return problems;
  }),
};
