import { ULIMIT_BOUNDS } from "../../contract";
import { blocks } from "../json";
import { numberOf, plain } from "../normalize";
import type { PolicyRule } from "../types";
import { onWorkload, valueAt } from "./helpers";

export { ULIMIT_BOUNDS };

export const ulimitsBounded: PolicyRule = {
  id: "ulimits-bounded",
  level: "error",
  title: "Only nofile/nproc ulimits, with finite values",
  why: "ulimits are set by the engine as root, so a container can lift memlock, rtprio or stack limits (or make any unlimited) that the kernel would otherwise enforce on it",
  fix: `set only ${Object.entries(ULIMIT_BOUNDS)
    .map(([k, v]) => `${k} (≤ ${v})`)
    .join(", ")} in \`ulimit\`, soft ≤ hard.`,
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    const problems: string[] = [];
    blocks(w.resource.ulimit).forEach((u, i) => {
      const name = String(plain(u.name) ?? "")
        .trim()
        .toLowerCase();
      const max = ULIMIT_BOUNDS[name];
      if (max === undefined) {
        problems.push(`${w.name} sets ulimit ${JSON.stringify(u.name)}`);
        return;
      }
      for (const key of ["soft", "hard"]) {
        const v = valueAt(w.resourceType, `ulimit[${i}].${key}`, u[key], ctx, w.name);
        if (v.kind === "problem") problems.push(v.problem);
        if (v.kind !== "value") continue;
        const n = numberOf(v.value);
        if (n === undefined || n < 1 || n > max)
          problems.push(`${w.name} sets ulimit ${name} ${key} = ${JSON.stringify(v.value)} (expected 1 to ${max})`);
      }
      const soft = numberOf(u.soft);
      const hard = numberOf(u.hard);
      if (soft !== undefined && hard !== undefined && soft > hard)
        problems.push(`${w.name} sets ulimit ${name} soft ${soft} above hard ${hard}`);
    });
    return problems;
  }),
};
