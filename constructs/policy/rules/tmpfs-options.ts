import { isExpression, isRecord } from "../json";
import type { PolicyRule } from "../types";
import { onWorkload, valueAt } from "./helpers";

/**
 * Options a container's tmpfs may carry. The engine mounts tmpfs noexec,nosuid,nodev and appends
 * what the container asks for, the last word winning: "exec", "suid" and "dev" undo those defaults
 * (and anything not listed here, a misspelling included, is refused rather than guessed at).
 */
const ALLOWED_OPTION =
  /^(rw|ro|noexec|nosuid|nodev|noatime|relatime|size=[1-9][0-9]*[kmg]?|mode=[0-7]{3,4}|uid=[0-9]+|gid=[0-9]+|nr_inodes=[1-9][0-9]*[kmg]?)$/;
/** Ours say so themselves, so that the mount reads the same whatever the engine's defaults. */
const REQUIRED_OPTIONS = ["noexec", "nosuid"] as const;

export const tmpfsOptions: PolicyRule = {
  id: "tmpfs-options",
  level: "error",
  title: "A container's tmpfs cannot run programs or setuid files, and has a size",
  why: "the tmpfs mounts are the only places a read-only container can write: with exec, suid or dev there, whoever gets code execution drops a tool or a setuid binary and runs it, and a tmpfs without a size can take memory up to the container's whole limit",
  fix: 'write each `tmpfs` entry as "<absolute path>" = "rw,noexec,nosuid,size=<n>m" (mode=, uid=, gid=, nodev, noatime and ro may be added); never exec, suid or dev.',
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    if (w.resource.tmpfs === undefined) return [];
    const v = valueAt(w.resourceType, "tmpfs", w.resource.tmpfs, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted") return [];
    if (!isRecord(v.value)) return [`${w.name} has tmpfs = ${JSON.stringify(v.value)}, which is not a map of path to options`];
    const problems: string[] = [];
    for (const [path, raw] of Object.entries(v.value)) {
      if (isExpression(path) || !path.startsWith("/")) {
        problems.push(`${w.name} has a tmpfs at ${JSON.stringify(path)}, which is not an absolute path`);
        continue;
      }
      const ov = valueAt(w.resourceType, `tmpfs.${path}`, raw, ctx, w.name);
      if (ov.kind === "problem") problems.push(ov.problem);
      if (ov.kind !== "value") continue;
      if (typeof ov.value !== "string") {
        problems.push(`${w.name} has tmpfs ${path} options ${JSON.stringify(ov.value)}, which are not a string`);
        continue;
      }
      const options = ov.value.split(",");
      const refused = options.filter((o) => !ALLOWED_OPTION.test(o));
      if (refused.length > 0) problems.push(`${w.name} mounts tmpfs ${path} with ${refused.map((o) => JSON.stringify(o)).join(", ")}`);
      const missing: string[] = REQUIRED_OPTIONS.filter((o) => !options.includes(o));
      if (!options.some((o) => o.startsWith("size="))) missing.push("size=");
      if (missing.length > 0) problems.push(`${w.name} mounts tmpfs ${path} without ${missing.join(", ")}`);
    }
    return problems;
  }),
};
