/**
 * Rules about secrets: never in the environment or the JSON, delivered as files only their owner
 * reads, and Swarm secret/config objects that roll over without an outage.
 */
import { block, blocks, describe, isExpression, isRecord } from "../json";
import { judge } from "../expressions";
import { numberOf, plain } from "../normalize";
import { everywhere, type PolicyRule } from "../types";
import { workloadOf } from "../workload";
import { valueAt } from "./common";
import { onWorkload, WORKLOADS } from "./runtime";

const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIAL|COOKIE)/i;
const URL_CREDENTIALS = /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i;
const RANDOM_PASSWORD_REF = /\$\{[^}]*random_password\./;

/** True when an env var NAME looks like it carries a secret (and is not a `*_FILE` pointer). */
export function isSecretEnvName(name: string): boolean {
  return SECRET_NAME.test(name) && !/_FILE$/i.test(name.trim());
}

export const noSecretLiteralEnv: PolicyRule = {
  id: "no-secret-literal-env",
  severity: everywhere("error"),
  title: "No secrets in environment variables (or registry passwords in the JSON)",
  why: "env vars show up in `docker inspect`, in crash dumps and in child processes, and literal ones also land in the synthesized JSON",
  fix: "deliver the secret as a file (a seed-filled volume for containers, a docker_secret for services) and pass its path in a *_FILE variable; build connection URLs inside the service.",
  appliesTo: WORKLOADS,
  check: onWorkload((w) => {
    const problems: string[] = [];
    const env = w.kind === "container" ? w.resource.env : w.spec.env;
    let entries: [string, unknown][] = [];
    if (isExpression(env)) problems.push(`${w.name} has env built from an expression, which cannot be checked`);
    else if (Array.isArray(env)) {
      entries = env.map((e): [string, unknown] => {
        const entry = String(e);
        const eq = entry.indexOf("=");
        return eq === -1 ? [entry, ""] : [entry.slice(0, eq), entry.slice(eq + 1)];
      });
    } else if (isRecord(env)) entries = Object.entries(env);
    for (const [name, value] of entries) {
      const text = typeof value === "string" ? value : JSON.stringify(value);
      if (isExpression(name)) problems.push(`${w.name} has an env var whose name is an expression (${name})`);
      else if (isSecretEnvName(name)) problems.push(`${w.name} sets secret-looking env var ${name} directly`);
      else if (RANDOM_PASSWORD_REF.test(text)) problems.push(`${w.name} puts a random_password into env var ${name}`);
      else if (URL_CREDENTIALS.test(text)) problems.push(`${w.name} has credentials inside the URL in env var ${name}`);
    }
    if (w.kind === "service") {
      const password = block(w.resource.auth).password;
      if (typeof password === "string" && password !== "" && !isExpression(password))
        problems.push(`${w.name} writes a registry password into auth.password`);
    }
    return problems;
  }),
};

export const noUploadOnReadOnly: PolicyRule = {
  id: "no-upload-on-read-only",
  severity: everywhere("error"),
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

/** 0400: only the owner reads it. */
export const SECRET_FILE_MODE = 0o400;

export const secretFilePermissions: PolicyRule = {
  id: "secret-file-permissions",
  severity: everywhere("error"),
  title: "Swarm secrets are files owned by a numeric uid/gid with mode 0400; configs are never writable or setuid",
  why: "the engine's default is root-owned 0444, so any process in the task (and any other uid) reads the secret; a writable or setuid config file is a way to change or escalate what runs",
  fix: "set file_uid/file_gid to the service's numeric uid/gid and file_mode = 256 (0400) on every secrets entry; configs get 0444 (292) or 0555 (365).",
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
        if (m === undefined) problems.push(`${w.name} mounts ${label} with file_mode unset (engine default 0444: world-readable)`);
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
        if (m !== undefined && (m & 0o7222) !== 0)
          problems.push(
            `${w.name} mounts config ${JSON.stringify(c.file_name ?? c.config_name)} with file_mode 0${m.toString(8)} (writable or setuid/setgid/sticky)`,
          );
      }
    });
    return problems;
  }),
};

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
export const swarmObjectData: PolicyRule = {
  id: "swarm-object-data",
  severity: everywhere("error"),
  title: "Swarm secrets take generated data through base64encode(); configs are base64",
  why: "a secret written as a literal sits in the synthesized JSON and the repository, and data that is not the canonical base64 the engine reads back never settles (every plan replaces the object)",
  fix: "set a docker_secret's data to base64encode(<random_password.x.result | var.x | local.x>) and a docker_config's data to the canonical base64 of its content (or base64encode(...)).",
  appliesTo: ["docker_secret", "docker_config"],
  check(resource, ctx, type) {
    const what = describe(resource, type);
    const data = resource.data;
    if (typeof data !== "string" || data === "") return [`${what} has no data`];
    if (isExpression(data)) {
      const j = judge(type, "data", data, ctx);
      if (j.kind === "unjudgeable") return [`${what} has data ${data}, which is not base64encode() of a generated value`];
      // base64encode(local.x / var.x) is only generated when the local is not a literal and the
      // variable has no default: otherwise the value sits in the JSON all the same.
      const m = /^\$\{base64encode\((local|var)\.([A-Za-z0-9_-]+)\)\}$/.exec(data.trim());
      if (type === "docker_secret" && m) {
        const holder =
          m[1] === "local"
            ? (ctx.stackJson.locals as Record<string, unknown> | undefined)?.[m[2]!]
            : block((ctx.stackJson.variable as Record<string, unknown> | undefined)?.[m[2]!]).default;
        if (m[1] === "local" && typeof holder === "string" && !isExpression(holder))
          return [`${what} takes its value from local.${m[2]}, which is a literal in the JSON`];
        if (m[1] === "var" && holder !== undefined)
          return [`${what} takes its value from var.${m[2]}, whose default is written in the JSON`];
      }
      return [];
    }
    if (type === "docker_secret") return [`${what} has its value written as a literal into the JSON`];
    return BASE64.test(data) ? [] : [`${what} has data that is not canonical base64`];
  },
};

export const swarmObjectReplaceFirst: PolicyRule = {
  id: "swarm-object-replace-first",
  severity: everywhere("error"),
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

export const SECRET_RULES: readonly PolicyRule[] = [
  noSecretLiteralEnv,
  noUploadOnReadOnly,
  secretFilePermissions,
  swarmObjectData,
  swarmObjectReplaceFirst,
];
