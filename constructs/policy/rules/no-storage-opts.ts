import { isRecord } from "../json";
import { plain } from "../normalize";
import type { PolicyRule } from "../types";
import { onWorkload, valueAt } from "./helpers";

/** Sizes the engine accepts for storage_opts size, e.g. "10G". */
const STORAGE_SIZE = /^\d+(\.\d+)?\s*[kmgt]?i?b?$/i;

export const noStorageOpts: PolicyRule = {
  id: "no-storage-opts",
  level: "error",
  title: "No storage driver options beyond a size",
  why: "storage_opts are handed to the storage driver as root on the host; only a size quota is understood here, anything else is untested host-level behaviour",
  fix: 'remove `storage_opts`, or set only { size = "<n>G" }.',
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    const v = valueAt(w.resourceType, "storage_opts", w.resource.storage_opts, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted" || !isRecord(v.value)) return [];
    return Object.entries(v.value)
      .filter(
        ([k, val]) => k.trim().toLowerCase() !== "size" || typeof plain(val) !== "string" || !STORAGE_SIZE.test(String(plain(val)).trim()),
      )
      .map(([k, val]) => `${w.name} sets storage_opts ${JSON.stringify(k)} = ${JSON.stringify(val)}`);
  }),
};
