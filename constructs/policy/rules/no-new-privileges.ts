import { effectiveNoNewPrivileges } from "../normalize";
import type { PolicyRule } from "../types";
import { listItems, onWorkload } from "./helpers";

export const noNewPrivileges: PolicyRule = {
  id: "no-new-privileges",
  level: "error",
  title: "Containers end up with no-new-privileges set",
  why: 'without it setuid binaries in the image can regain privileges the container dropped; the engine applies the LAST no-new-privileges entry, so a later ":false" undoes an earlier ":true"',
  fix: 'put exactly one "no-new-privileges:true" in `security_opts` (Swarm services cannot express it in provider 3.6.2; they rely on cap_drop ALL and a non-root user).',
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    const opts = listItems(w.resourceType, "security_opts", w.resource.security_opts, ctx, w.name);
    if (opts.problems.length > 0) return opts.problems;
    const { value, entries } = effectiveNoNewPrivileges(opts.values);
    if (value === true) return [];
    if (entries.length === 0) return [`${w.name} does not set security_opts "no-new-privileges:true"`];
    return [`${w.name} ends up with no-new-privileges off (security_opts ${JSON.stringify(entries)}: the last entry wins)`];
  }),
};
