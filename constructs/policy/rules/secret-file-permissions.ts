import { blocks } from "../json";
import { isUnreadableNumber, numberOf } from "../normalize";
import type { PolicyRule } from "../types";
import { onWorkload, unreadableNumber, valueAt } from "./helpers";

/** 0400: only the owner reads it. */
export const SECRET_FILE_MODE = 0o400;

export const secretFilePermissions: PolicyRule = {
  id: "secret-file-permissions",
  level: "error",
  title: "Swarm secrets are files owned by a numeric uid/gid with mode 0400; configs are never writable or setuid",
  why: "the engine's default is root-owned 0444, so any process in the task (and any other uid) reads the secret; a writable or setuid config file is a way to change or escalate what runs",
  fix: 'set file_uid/file_gid to the service\'s numeric uid/gid and file_mode = 256 (0400) on every secrets entry; configs get 0444 (292) or 0555 (365). Write modes as plain decimal numbers: Terraform also reads "2541e0" as 2541 (04755, setuid).',
  appliesTo: "docker_service",
  check: onWorkload((w, ctx) => {
    const problems: string[] = [];
    blocks(w.spec.secrets).forEach((s, i) => {
      const path = `${w.specPath}secrets[${i}]`;
      const label = `secret ${JSON.stringify(s.file_name ?? s.secret_name)}`;
      for (const key of ["file_uid", "file_gid"]) {
        const v = valueAt(w.resourceType, `${path}.${key}`, s[key], ctx, w.name);
        if (v.kind === "problem") problems.push(v.problem);
        else if (v.kind === "value" && !/^\d+$/.test(String(v.value ?? "").trim())) {
          problems.push(
            `${w.name} mounts ${label} with ${key} = ${v.value === undefined ? "unset (root)" : JSON.stringify(v.value)} (expected a numeric id)`,
          );
        }
      }
      const mode = valueAt(w.resourceType, `${path}.file_mode`, s.file_mode, ctx, w.name);
      if (mode.kind === "problem") problems.push(mode.problem);
      else if (mode.kind === "value") {
        const m = numberOf(mode.value);
        if (m === undefined)
          problems.push(
            unreadableNumber(w.name, `${path}.file_mode`, mode.value) ??
              `${w.name} mounts ${label} with file_mode unset (engine default 0444: world-readable)`,
          );
        else if (m !== SECRET_FILE_MODE) {
          const world = (m & 0o004) !== 0 ? ", world-readable" : "";
          problems.push(`${w.name} mounts ${label} with file_mode ${m} (0${m.toString(8)}${world}; expected 256 = 0400)`);
        }
      }
    });
    blocks(w.spec.configs).forEach((c, i) => {
      const mode = valueAt(w.resourceType, `${w.specPath}configs[${i}].file_mode`, c.file_mode, ctx, w.name);
      if (mode.kind === "problem") problems.push(mode.problem);
      else if (mode.kind === "value") {
        const m = numberOf(mode.value);
        if (isUnreadableNumber(mode.value))
          problems.push(
            `${w.name} mounts config ${JSON.stringify(c.file_name ?? c.config_name)} with ${w.specPath}configs[${i}].file_mode = ${JSON.stringify(mode.value)}, which is no number the policy can read`,
          );
        else if (m !== undefined && (!Number.isInteger(m) || m < 0 || (m & 0o7222) !== 0))
          problems.push(
            `${w.name} mounts config ${JSON.stringify(c.file_name ?? c.config_name)} with file_mode 0${m.toString(8)} (writable or setuid/setgid/sticky)`,
          );
      }
    });
    return problems;
  }),
};
