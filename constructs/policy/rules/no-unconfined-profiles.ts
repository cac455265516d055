import { parseSecurityOpt } from "../normalize";
import type { PolicyRule } from "../types";
import { listItems, onWorkload } from "./helpers";

export const noUnconfinedProfiles: PolicyRule = {
  id: "no-unconfined-profiles",
  level: "error",
  title: "Default seccomp/AppArmor/SELinux profiles: no opt-outs, no custom profiles",
  why: "the default seccomp and AppArmor profiles block the syscalls most container escapes use; a custom profile (seccomp=<file>, apparmor=<name>, label=...) or systempaths/writable-cgroups can switch that off without saying so",
  fix: 'keep only "no-new-privileges:true" in `security_opts`; remove seccomp=, apparmor=, label=, systempaths= and writable-cgroups= options.',
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    const opts = listItems(w.resourceType, "security_opts", w.resource.security_opts, ctx, w.name);
    return [
      ...opts.problems,
      ...opts.values
        .filter((o) => parseSecurityOpt(o).key !== "no-new-privileges")
        .map((o) => `${w.name} sets security_opts ${JSON.stringify(o)}`),
    ];
  }),
};
