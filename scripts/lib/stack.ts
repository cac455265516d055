/**
 * Synthesis (`cdktf synth`, exactly as `npm run synth` runs it) and typed reads of what it wrote:
 * cdktf.out/manifest.json and each stack's cdk.tf.json. Used by scripts/test-terraform.ts and
 * scripts/e2e.ts only.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import type { TerraformJson } from "../../constructs/contract/index";
import { run, tail } from "./process";

export const ROOT = path.resolve(__dirname, "..", "..");
export const OUT_DIR = path.join(ROOT, "cdktf.out");

export interface StackInfo {
  readonly name: string;
  /** Absolute path of cdktf.out/stacks/<name>. */
  readonly dir: string;
  /** Path relative to the project root, for messages and commands. */
  readonly relDir: string;
  readonly json: TerraformJson;
}

/** A synthesized cdk.tf.json: the contract's one shape, shared with the policy and the review. */
export type { TerraformJson };

export interface SynthResult {
  readonly ok: boolean;
  readonly seconds: number;
  readonly message: string;
}

/**
 * `cdktf synth` with the app command from cdktf.json (node scripts/run-app.cjs), into cdktf.out/. The CLI
 * sets CDKTF_OUTDIR and the context for the app, validates the stacks and writes the manifest.
 */
export async function synthesize(env: NodeJS.ProcessEnv): Promise<SynthResult> {
  const cli = path.join(ROOT, "node_modules", ".bin", "cdktf");
  if (!existsSync(cli)) return { ok: false, seconds: 0, message: "node_modules/.bin/cdktf is missing: run npm ci first" };
  const result = await run(cli, ["synth"], { cwd: ROOT, env: { ...env, CHECKPOINT_DISABLE: "1", FORCE_COLOR: "0" }, timeoutSeconds: 600 });
  if (result.code !== 0) {
    const why = result.spawnError ?? (result.timedOut ? "timed out after 600 s" : `exit code ${result.code}`);
    return { ok: false, seconds: result.seconds, message: `npx cdktf synth failed (${why}):\n${tail(result.output, 30)}` };
  }
  return {
    ok: true,
    seconds: result.seconds,
    message: `npx cdktf synth wrote ${listStacks()
      .map((s) => s.name)
      .join(", ")} in ${result.seconds.toFixed(1)} s`,
  };
}

/** Every stack in cdktf.out/manifest.json, in manifest order. */
export function listStacks(): StackInfo[] {
  const manifestPath = path.join(OUT_DIR, "manifest.json");
  if (!existsSync(manifestPath)) return [];
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
    stacks?: Record<string, { name?: string; workingDirectory?: string; synthesizedStackPath?: string }>;
  };
  return Object.entries(manifest.stacks ?? {}).map(([key, s]) => {
    const dir = path.join(OUT_DIR, s.workingDirectory ?? path.join("stacks", key));
    const file = path.join(OUT_DIR, s.synthesizedStackPath ?? path.join("stacks", key, "cdk.tf.json"));
    return { name: s.name ?? key, dir, relDir: path.relative(ROOT, dir), json: JSON.parse(readFileSync(file, "utf8")) as TerraformJson };
  });
}

export interface RequiredProvider {
  /** Local name, e.g. "docker". */
  readonly name: string;
  /** Registry source as written, e.g. "kreuzwerker/docker". */
  readonly source: string;
  /** Full address, e.g. "registry.terraform.io/kreuzwerker/docker". */
  readonly address: string;
  /** The version constraint as written (cdktf pins exact versions, e.g. "3.6.2"). */
  readonly version: string;
}

export function requiredProviders(json: TerraformJson): RequiredProvider[] {
  return Object.entries(json.terraform?.required_providers ?? {}).map(([name, p]) => {
    const source = p.source ?? `hashicorp/${name}`;
    const address = source.split("/").length === 3 ? source : `registry.terraform.io/${source}`;
    return { name, source, address: address.toLowerCase(), version: p.version ?? "" };
  });
}

export type BackendKind = "local" | "cloud" | "other" | "none";

export function backendOf(json: TerraformJson): { kind: BackendKind; hostname?: string; organization?: string; workspace?: string } {
  const tf = json.terraform ?? {};
  if (tf.cloud)
    return {
      kind: "cloud",
      hostname: tf.cloud.hostname ?? "app.terraform.io",
      organization: tf.cloud.organization,
      workspace: tf.cloud.workspaces?.name,
    };
  const backends = Object.keys(tf.backend ?? {});
  if (backends.length === 0) return { kind: "none" };
  return { kind: backends[0] === "local" ? "local" : "other" };
}

/** The local backend's state file, resolved from the stack directory as Terraform does. */
export function localStatePath(stack: StackInfo): string | undefined {
  const local = stack.json.terraform?.backend?.local as { path?: string } | undefined;
  if (!local) return undefined;
  return path.resolve(stack.dir, local.path ?? "terraform.tfstate");
}

/** The Docker daemon the stack's docker provider talks to. */
export function dockerHostOf(json: TerraformJson): string {
  const docker = json.provider?.docker?.[0];
  const host = docker?.host;
  return typeof host === "string" && host !== "" ? host : (process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock");
}

/** Terraform variables that have no default: plan and apply need a value for each. */
export function variablesWithoutDefault(json: TerraformJson): string[] {
  return Object.entries(json.variable ?? {})
    .filter(([, v]) => v.default === undefined)
    .map(([name]) => name)
    .sort();
}

export interface ImageRef {
  /** Resource address, e.g. docker_image.api-image_45EBB781. */
  readonly address: string;
  readonly name: string;
  /** Built from local source (dev) rather than pulled. */
  readonly built: boolean;
  /**
   * For built images: the Dockerfile path of the trigger (filesha256), relative to the stack
   * directory, where Terraform evaluates it (e.g. "../../../../updateio/api/Dockerfile").
   */
  readonly dockerfile?: string;
}

const FILESHA_DOCKERFILE = /filesha256\(abspath\(join\("\/", \[path\.root, "([^"]*)", "([^"]*)"\]\)\)\)/;

export function imagesOf(json: TerraformJson): ImageRef[] {
  return Object.entries(json.resource?.docker_image ?? {}).map(([id, r]) => {
    const built = r.build !== undefined;
    const trigger = (r.triggers as Record<string, unknown> | undefined)?.dockerfile;
    const m = typeof trigger === "string" ? FILESHA_DOCKERFILE.exec(trigger) : null;
    return { address: `docker_image.${id}`, name: String(r.name), built, dockerfile: m ? path.posix.join(m[1]!, m[2]!) : undefined };
  });
}

/**
 * Where Terraform looks for a built image's Dockerfile when it runs in `stackDir`:
 * abspath(join("/", [path.root, "../../..", rel])) with path.root = "." (Go's filepath.Clean and
 * path.posix.join agree on "a//b" = "a/b").
 */
export function resolveFromStackDir(stackDir: string, dockerfile: string): string {
  return path.resolve(stackDir, dockerfile);
}

export interface ContainerRef {
  readonly address: string;
  readonly name: string;
  /** A seed container: created, never started. */
  readonly seed: boolean;
  /** A one-shot job (migrations): runs to completion, must exit 0. */
  readonly oneShot: boolean;
  readonly hasHealthcheck: boolean;
  readonly env: readonly string[];
  readonly ports: ReadonlyArray<{ internal: number; external?: number; ip?: string }>;
}

export function containersOf(json: TerraformJson): ContainerRef[] {
  return Object.entries(json.resource?.docker_container ?? {}).map(([id, r]) => ({
    address: `docker_container.${id}`,
    name: String(r.name),
    seed: r.start === false,
    oneShot: r.must_run === false && r.start !== false,
    hasHealthcheck: r.healthcheck !== undefined,
    env: Array.isArray(r.env) ? (r.env as string[]) : [],
    ports: Array.isArray(r.ports) ? (r.ports as ContainerRef["ports"]) : [],
  }));
}

/**
 * A Swarm service (docker_service): the app services of a stack on the swarm runtime. Their images
 * are plain strings in task_spec.container_spec.image, not docker_image resources.
 */
export interface ServiceRef {
  readonly address: string;
  readonly name: string;
  /** Replicated: the task count it must converge to; undefined for a global service (one task per node). */
  readonly replicas?: number;
  readonly image: string;
  readonly env: Readonly<Record<string, string>>;
  readonly hasHealthcheck: boolean;
  /** Ports published through the routing mesh (endpoint_spec.ports): on every node, all addresses. */
  readonly ports: ReadonlyArray<{ internal: number; external?: number; ip?: string }>;
}

interface ServiceJson {
  name?: unknown;
  mode?: { global?: unknown; replicated?: { replicas?: unknown } };
  endpoint_spec?: { ports?: Array<{ target_port?: unknown; published_port?: unknown }> };
  task_spec?: { container_spec?: { image?: unknown; env?: unknown; healthcheck?: unknown } };
}

export function servicesOf(json: TerraformJson): ServiceRef[] {
  return Object.entries(json.resource?.docker_service ?? {}).map(([id, raw]) => {
    const r = raw as ServiceJson;
    const spec = r.task_spec?.container_spec ?? {};
    const global = r.mode?.global === true;
    // The provider's default is one replica when `replicated` leaves it out.
    const replicas = global ? undefined : typeof r.mode?.replicated?.replicas === "number" ? r.mode.replicated.replicas : 1;
    const env = Array.isArray(spec.env)
      ? envMap(spec.env as string[])
      : typeof spec.env === "object" && spec.env !== null
        ? Object.fromEntries(Object.entries(spec.env).map(([k, v]) => [k, String(v)]))
        : {};
    const ports = (r.endpoint_spec?.ports ?? [])
      .filter((p) => typeof p.target_port === "number")
      .map((p) => ({
        internal: p.target_port as number,
        external: typeof p.published_port === "number" ? p.published_port : undefined,
        ip: "0.0.0.0",
      }));
    return {
      address: `docker_service.${id}`,
      name: String(r.name),
      replicas,
      image: String(spec.image ?? ""),
      env,
      hasHealthcheck: spec.healthcheck !== undefined,
      ports,
    };
  });
}

/** Whether the stack needs a Swarm manager: it has services, secrets or configs. */
export function usesSwarm(json: TerraformJson): boolean {
  const r = json.resource ?? {};
  return ["docker_service", "docker_secret", "docker_config"].some((t) => Object.keys(r[t] ?? {}).length > 0);
}

/**
 * Images the engine must pull (or already have): every docker_image that is not built here, and
 * every service image (each Swarm node pulls those itself; the manager first). An image written as
 * an expression (a docker_image's attribute) is covered by that docker_image.
 */
export function pulledImages(json: TerraformJson): string[] {
  const refs = [
    ...imagesOf(json)
      .filter((i) => !i.built)
      .map((i) => i.name),
    ...servicesOf(json)
      .map((s) => s.image)
      .filter((i) => i !== "" && !i.includes("${")),
  ];
  return [...new Set(refs)].sort();
}

/** A docker_service, docker_secret or docker_config: a Swarm object whose name must be free on the manager. */
export interface SwarmObjectRef {
  readonly kind: "service" | "secret" | "config";
  readonly address: string;
  /** The name as written: a literal, or an expression Terraform evaluates. */
  readonly written: string;
  /** Matches the names this object can get; undefined when the expression cannot be predicted. */
  readonly pattern?: RegExp;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** join("", ["<prefix>", substr(sha256(...), 0, 12)]): a content name hashed by Terraform at apply. */
const HASHED_NAME = /^\$\{join\("", \["([^"$]+)", substr\(sha256\(.*\), 0, 12\)\]\)\}$/;

/** The names a written object name can take: itself when literal, prefix + 12 hex when Terraform hashes it. */
export function objectNamePattern(written: string): RegExp | undefined {
  if (!written.includes("${")) return new RegExp(`^${escapeRegExp(written)}$`);
  const m = HASHED_NAME.exec(written);
  return m ? new RegExp(`^${escapeRegExp(m[1]!)}[0-9a-f]{12}$`) : undefined;
}

/** Services, secrets and configs of the stack, with the names each may take on the engine. */
export function swarmObjectsOf(json: TerraformJson): SwarmObjectRef[] {
  const out: SwarmObjectRef[] = [];
  for (const [type, kind] of [
    ["docker_service", "service"],
    ["docker_secret", "secret"],
    ["docker_config", "config"],
  ] as const) {
    for (const [id, r] of Object.entries(json.resource?.[type] ?? {})) {
      const written = String(r.name);
      out.push({ kind, address: `${type}.${id}`, written, pattern: objectNamePattern(written) });
    }
  }
  return out;
}

/** Existing names (per kind) that one of the stack's objects would take or already took. */
export function swarmClashes(
  objects: readonly SwarmObjectRef[],
  existing: Readonly<Record<SwarmObjectRef["kind"], readonly string[]>>,
): Array<{ kind: SwarmObjectRef["kind"]; name: string }> {
  const clashes: Array<{ kind: SwarmObjectRef["kind"]; name: string }> = [];
  for (const kind of ["service", "secret", "config"] as const) {
    const patterns = objects.filter((o) => o.kind === kind && o.pattern).map((o) => o.pattern!);
    for (const name of existing[kind]) if (patterns.some((p) => p.test(name))) clashes.push({ kind, name });
  }
  return clashes;
}

/** An env list ["A=1", ...] as a map. */
export function envMap(env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of env) {
    const i = entry.indexOf("=");
    if (i > 0) out[entry.slice(0, i)] = entry.slice(i + 1);
  }
  return out;
}

/** A literal output value (e.g. urls), or undefined when it is an expression. */
export function literalOutput(json: TerraformJson, name: string): unknown {
  const value = json.output?.[name]?.value;
  return typeof value === "string" && value.includes("${") ? undefined : value;
}
