import { blocks } from "../json";
import type { PolicyRule } from "../types";
import { workloadOf } from "../workload";

export const noVolumesFrom: PolicyRule = {
  id: "no-volumes-from",
  level: "error",
  title: "No volumes inherited from other containers",
  why: "volumes_from copies every mount of another container, including binds and the socket, past the checks on this one",
  fix: "mount the named volumes this container needs explicitly.",
  appliesTo: "docker_container",
  check(resource) {
    const w = workloadOf(resource, "docker_container")!;
    return blocks(resource.volumes)
      .filter((v) => v.from_container !== undefined && v.from_container !== "")
      .map((v) => `${w.name} takes the volumes of ${JSON.stringify(v.from_container)} (volumes.from_container)`);
  },
};
