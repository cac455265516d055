import { parseRef } from "../json";
import type { PolicyRule } from "../types";
import { workloadOf } from "../workload";
import { attachments } from "./helpers";

export const networkById: PolicyRule = {
  id: "network-by-id",
  level: "warning",
  title: "Swarm services attach to networks by docker_network id",
  why: "the engine stores a service's networks by ID, so a name (literal or `.name`) shows a change in every plan, and networks_advanced forces a replacement of the service in provider 3.6.2",
  fix: "set task_spec.networks_advanced.name to `${docker_network.<x>.id}` (PlatformNetwork.id).",
  appliesTo: "docker_service",
  check(resource) {
    const w = workloadOf(resource, "docker_service")!;
    return attachments(w)
      .filter((n) => {
        const ref = parseRef(n.name);
        return !(ref && ref.type === "docker_network" && ref.attribute === "id");
      })
      .map((n) => `${w.name} attaches to network ${JSON.stringify(n.name)} by name (${n.path})`);
  },
};
