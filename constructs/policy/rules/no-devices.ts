import { block, blocks } from "../json";
import type { PolicyRule } from "../types";
import { onWorkload, WORKLOADS } from "./helpers";

export const noDevices: PolicyRule = {
  id: "no-devices",
  level: "error",
  title: "No host devices or GPUs",
  why: "a host device node (a disk, /dev/mem, /dev/kmsg, a GPU) in a container gives direct access to host hardware and memory, outside every namespace",
  fix: "remove `devices` and `gpus` (and generic_resources reservations on services); no service of the platform needs host hardware.",
  appliesTo: WORKLOADS,
  check: onWorkload((w) => {
    const problems: string[] = [];
    if (w.kind === "container") {
      for (const d of blocks(w.resource.devices))
        problems.push(
          `${w.name} maps host device ${JSON.stringify(d.host_path)}${d.container_path ? ` to ${JSON.stringify(d.container_path)}` : ""}`,
        );
      if (w.resource.gpus !== undefined && w.resource.gpus !== null && w.resource.gpus !== "")
        problems.push(`${w.name} requests gpus = ${JSON.stringify(w.resource.gpus)}`);
    } else {
      const generic = block(block(block(w.resource.task_spec).resources).reservation).generic_resources;
      if (blocks(generic).length > 0)
        problems.push(`${w.name} reserves generic resources (devices such as GPUs): ${JSON.stringify(generic)}`);
    }
    return problems;
  }),
};
