import { blocks } from "../json";
import { plain } from "../normalize";
import type { PolicyRule } from "../types";
import { workloadOf } from "../workload";

export const noUploadOnReadOnly: PolicyRule = {
  id: "no-upload-on-read-only",
  level: "error",
  title: "No uploads into a read-only container",
  why: 'Docker refuses to copy files into a read-only rootfs ("container rootfs is marked read-only"), even onto a mounted volume, so apply fails',
  fix: "upload into a seed container (start = false) that mounts a named volume, and mount that volume read-only in the hardened container.",
  appliesTo: "docker_container",
  check(c) {
    const w = workloadOf(c, "docker_container")!;
    const uploads = blocks(c.upload);
    if (plain(c.read_only) === true && uploads.length > 0) {
      const files = uploads.map((u) => u.file).filter((f) => typeof f === "string");
      return [`${w.name} is read_only but takes ${uploads.length} upload(s)${files.length ? ` (${files.join(", ")})` : ""}`];
    }
    return [];
  },
};
