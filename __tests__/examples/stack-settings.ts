/**
 * What the synthesized stack hands an app: its environment and the content of its secret files,
 * read from the Terraform JSON (never retyped). Terraform-time values are stood in for the way the
 * other real-server tests do it (metrics-real, pgbouncer): a `random_password` result becomes a test
 * password derived from its id, except the Postgres roles', which become the support cluster's
 * known passwords (startClusterPrimary creates them); a sensitive variable becomes a placeholder.
 */
import { createHash } from "node:crypto";
import { CLUSTER } from "../support/postgres-server";
import type { TerraformJson } from "../support/stacks";

type Json = Record<string, any>;

export interface AppSettings {
  /** The container's environment, as synthesized. */
  readonly env: Readonly<Record<string, string>>;
  /** Secret files by path inside the container (e.g. /run/secrets/amqp_url), resolved. */
  readonly files: Readonly<Record<string, string>>;
  /** uid, gid and mode each secret file is mounted with (Swarm: file_uid/file_gid/file_mode). */
  readonly fileOwner?: { readonly uid: number; readonly gid: number; readonly mode: number };
}

export function testPassword(id: string): string {
  if (id.startsWith("postgres_app-password_")) return CLUSTER.app.password;
  if (id.startsWith("postgres_owner-password_")) return CLUSTER.owner.password;
  return `Tst${createHash("sha256").update(id).digest("hex").slice(0, 29)}`;
}

/**
 * Replaces the Terraform expressions an uploaded file or a `locals` value may hold; anything else
 * left is an error, so a file handed to a server or to the service is fully resolved.
 */
export function resolveTerraform(json: TerraformJson, text: string): string {
  const replaced = text.replace(/(?<!\$)\$\{([^{}]+)\}/g, (whole, expr: string) => expression(json, expr.trim(), whole));
  return replaced.replace(/\$\$\{/g, "${");
}

function expression(json: TerraformJson, expr: string, whole: string): string {
  let m = /^random_password\.([A-Za-z0-9_-]+)\.result$/.exec(expr);
  if (m) return testPassword(m[1]!);
  m = /^urlencode\(random_password\.([A-Za-z0-9_-]+)\.result\)$/.exec(expr);
  if (m) return encodeURIComponent(testPassword(m[1]!));
  m = /^sha256\(random_password\.([A-Za-z0-9_-]+)\.result\)$/.exec(expr);
  if (m) return createHash("sha256").update(testPassword(m[1]!)).digest("hex");
  m = /^var\.([a-z_]+)$/.exec(expr);
  if (m) return `test-value-of-${m[1]}`;
  m = /^local\.([A-Za-z0-9_-]+)$/.exec(expr);
  if (m && typeof json.locals?.[m[1]!] === "string") return resolveTerraform(json, json.locals[m[1]!]);
  throw new Error(`unresolved Terraform expression ${whole}`);
}

/** The Swarm service `<env>-<service>`: its env and its docker_secret files (data is base64encode(<expr>)). */
export function swarmApp(json: TerraformJson, name: string): AppSettings {
  const svc = Object.values(json.resource.docker_service ?? {}).find((s: Json) => s.name === name) as Json | undefined;
  if (!svc) throw new Error(`no docker_service ${name}`);
  const spec = svc.task_spec.container_spec as Json;
  const files: Record<string, string> = {};
  let owner: AppSettings["fileOwner"];
  for (const s of (spec.secrets ?? []) as Json[]) {
    const key = /^\$\{docker_secret\.([^.]+)\.id\}$/.exec(s.secret_id)?.[1];
    const data = key ? (json.resource.docker_secret?.[key]?.data as string | undefined) : undefined;
    const inner = data ? /^\$\{base64encode\((.+)\)\}$/.exec(data)?.[1] : undefined;
    if (inner === undefined) throw new Error(`${name}: secret ${s.file_name} is not base64encode(<expression>): ${data}`);
    files[s.file_name] = expression(json, inner, data!);
    owner = { uid: Number(s.file_uid), gid: Number(s.file_gid), mode: Number(s.file_mode) };
  }
  return { env: { ...(spec.env as Record<string, string>) }, files, fileOwner: owner };
}

/** The plain container `name` (e.g. test-api-migrate): its env list and its seed's secret uploads. */
export function containerApp(json: TerraformJson, name: string): AppSettings {
  const c = container(json, name);
  const env = Object.fromEntries(((c.env ?? []) as string[]).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
  const files: Record<string, string> = {};
  for (const u of (container(json, `${name}-seed`).upload ?? []) as { file: string; content: string }[])
    if (u.file.startsWith("/run/secrets/")) files[u.file] = resolveTerraform(json, u.content);
  return { env, files };
}

export function container(json: TerraformJson, name: string): Json {
  const c = Object.values(json.resource.docker_container ?? {}).find((x: Json) => x.name === name);
  if (!c) throw new Error(`no docker_container ${name}`);
  return c as Json;
}

/** One uploaded file of a container's seed, resolved. */
export function upload(json: TerraformJson, container_: string, file: string): string {
  const u = ((container(json, container_).upload ?? []) as { file: string; content: string }[]).find((x) => x.file === file);
  if (!u) throw new Error(`${container_} uploads no ${file}`);
  return resolveTerraform(json, u.content);
}

/**
 * Container host names → this machine: every `host:port` the stack names (in env values and in
 * files) becomes `<address>:<free port>`. The only rewrite besides paths and PORT.
 */
export function rewriteHosts(text: string, hosts: ReadonlyMap<string, string>): string {
  let out = text;
  for (const [from, to] of hosts)
    out = out.replace(new RegExp(`(?<![A-Za-z0-9.-])${from.replace(/[.*+?^$()[\]{}|\\]/g, "\\$&")}(?![0-9])`, "g"), to);
  return out;
}
