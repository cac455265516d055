import { noNewPrivilegesEntries } from "../normalize";
import type { PolicyRule } from "../types";
import { listItems, onWorkload } from "./helpers";

export const noNewPrivileges: PolicyRule = {
  id: "no-new-privileges",
  level: "error",
  title: "Containers end up with no-new-privileges set",
  why: 'without it setuid binaries in the image can regain privileges the container dropped; security_opts is a set, which the provider sends in hash order (not as written) and the engine applies the last no-new-privileges entry it receives, so any entry that turns it off (":false", "=0", ":f" ...) may be the one that wins',
  fix: 'put exactly one no-new-privileges entry in `security_opts`, spelled "no-new-privileges:true" (or "no-new-privileges"), and no other entry naming the option (Swarm services cannot express it in provider 3.6.2; they rely on cap_drop ALL and a non-root user).',
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    const opts = listItems(w.resourceType, "security_opts", w.resource.security_opts, ctx, w.name);
    if (opts.problems.length > 0) return opts.problems;
    const { on, other } = noNewPrivilegesEntries(opts.values);
    // One finding per container: what is wrong first (an entry that may turn it off), then what is missing.
    if (other.length > 0)
      return [
        `${w.name} has security_opts ${JSON.stringify(other)}, which turn${other.length === 1 ? "s" : ""} no-new-privileges off or ${other.length === 1 ? "is" : "are"} no spelling the engine reads as on (security_opts is a set, sent in hash order: any such entry may be applied last${on.length === 0 ? "; and no entry turns it on" : ""})`,
      ];
    if (on.length === 0) return [`${w.name} does not set security_opts "no-new-privileges:true"`];
    if (on.length > 1)
      return [`${w.name} sets no-new-privileges ${on.length} times in security_opts ${JSON.stringify(on)} (expected exactly one)`];
    return [];
  }),
};
