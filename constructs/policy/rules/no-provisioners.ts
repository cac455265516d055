import { describe } from "../json";
import type { PolicyRule } from "../types";

export const noProvisioners: PolicyRule = {
  id: "no-provisioners",
  level: "error",
  title: "No provisioners",
  why: "a provisioner (local-exec, remote-exec, file) runs arbitrary commands on the machine that applies, or on a host, outside every rule of this policy",
  fix: "remove `provisioner` and `connection`; express the change as resources the policy checks.",
  appliesTo: "*",
  check(resource, _ctx, resourceType) {
    const what = describe(resource, resourceType);
    const problems: string[] = [];
    if (resource.provisioner !== undefined)
      problems.push(
        `${what} has provisioner(s) ${JSON.stringify(Object.keys(Array.isArray(resource.provisioner) ? Object.assign({}, ...resource.provisioner) : (resource.provisioner as object)))}`,
      );
    if (resource.connection !== undefined) problems.push(`${what} has a connection block`);
    return problems;
  },
};
