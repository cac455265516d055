import { LABELS } from "../../contract/index";
import { block, labelsOf } from "../json";
import { plain } from "../normalize";
import type { PolicyRule } from "../types";

export const prodVolumeProtected: PolicyRule = {
  id: "prod-volume-protected",
  level: "error",
  title: "Prod volumes are protected against destroy",
  why: "every docker_volume attribute forces replacement and deleting a volume deletes its data, so one careless change would wipe a database",
  fix: `set \`lifecycle.prevent_destroy\` = true, or label the volume ${LABELS.ephemeral} = "true" if it only holds disposable data.`,
  appliesTo: "docker_volume",
  check(v) {
    if (labelsOf(v).get(LABELS.ephemeral) === "true") return [];
    if (plain(block(v.lifecycle).prevent_destroy) === true) return [];
    return [`volume ${typeof v.name === "string" ? `"${v.name}" ` : ""}is not protected by lifecycle.prevent_destroy`];
  },
};
