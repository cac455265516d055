import { block, describe } from "../json";
import { plain } from "../normalize";
import type { PolicyRule } from "../types";

export const swarmObjectReplaceFirst: PolicyRule = {
  id: "swarm-object-replace-first",
  level: "error",
  title: "Swarm secrets and configs are created before the old ones are destroyed",
  why: 'secrets and configs are immutable and in use by running tasks: destroying the old one first fails ("in use") or leaves the service without it',
  fix: "set lifecycle { create_before_destroy = true } and a content-derived name.",
  appliesTo: ["docker_secret", "docker_config"],
  check(resource, _ctx, type) {
    const lifecycle = block(resource.lifecycle);
    return plain(lifecycle.create_before_destroy) === true
      ? []
      : [`${describe(resource, type)} does not set lifecycle.create_before_destroy`];
  },
};
