import { shorten } from "../expressions";
import { blockKeyProblems, blocks } from "../json";
import { plain } from "../normalize";
import type { PolicyRule } from "../types";
import { workloadOf } from "../workload";

/**
 * What an upload may set: the file's content (written in the JSON, judged by the other rules) and
 * where and how it lands. Not `source` (a host path the provider reads on the machine that runs
 * apply, e.g. /root/.docker/config.json, and copies into the container) nor `source_hash`, its
 * companion; nor anything the policy does not know.
 */
const UPLOAD_KEYS: readonly string[] = ["content", "content_base64", "file", "executable", "permissions"];

export const noUploadOnReadOnly: PolicyRule = {
  id: "no-upload-on-read-only",
  level: "error",
  title: "No uploads into a read-only container, and uploads carry their content (never a host file)",
  why: 'Docker refuses to copy files into a read-only rootfs ("container rootfs is marked read-only"), even onto a mounted volume, so apply fails; and an upload from `source` copies a file of the machine that runs apply (credentials, keys) into a container',
  fix: `upload into a seed container (start = false) that mounts a named volume, and mount that volume read-only in the hardened container; an upload sets only ${UPLOAD_KEYS.join(", ")} (write the file's content, never a host path in \`source\`/\`source_hash\`).`,
  appliesTo: "docker_container",
  check(c) {
    const w = workloadOf(c, "docker_container")!;
    const problems = blockKeyProblems(c.upload, "upload", UPLOAD_KEYS).map((p) =>
      p.key === undefined
        ? `${w.name} sets ${p.path} to ${shorten(JSON.stringify(p.element))}, which the policy cannot read`
        : p.key === "source" || p.key === "source_hash"
          ? `${w.name} sets ${p.path}.${p.key}, which uploads a file of the machine that runs apply`
          : `${w.name} sets ${p.path}.${p.key}, an upload option the policy does not allow (only ${UPLOAD_KEYS.join(", ")})`,
    );
    const uploads = blocks(c.upload);
    if (plain(c.read_only) === true && uploads.length > 0) {
      const files = uploads.map((u) => u.file).filter((f) => typeof f === "string");
      problems.push(`${w.name} is read_only but takes ${uploads.length} upload(s)${files.length ? ` (${files.join(", ")})` : ""}`);
    }
    return problems;
  },
};
