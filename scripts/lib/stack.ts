/**
 * Synthesis (`cdktf synth`, exactly as `npm run synth` runs it) and typed reads of what it wrote:
 * cdktf.out/manifest.json and each stack's cdk.tf.json. Used by scripts/test-terraform.ts and
 * scripts/e2e.ts only.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
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

/** The parts of a synthesized cdk.tf.json these scripts read. */
export interface TerraformJson {
  readonly terraform?: {
    readonly backend?: Record<string, Record<string, unknown>>;
    readonly cloud?: { readonly hostname?: string; readonly organization?: string; readonly workspaces?: { readonly name?: string } };
    readonly required_providers?: Record<string, { readonly source?: string; readonly version?: string }>;
  };
  readonly provider?: Record<string, ReadonlyArray<Record<string, unknown>>>;
  readonly variable?: Record<string, { readonly default?: unknown; readonly sensitive?: boolean; readonly description?: string }>;
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly output?: Record<string, { readonly value?: unknown; readonly sensitive?: boolean }>;
}

export interface SynthResult {
  readonly ok: boolean;
  readonly seconds: number;
  readonly message: string;
}

/**
 * `cdktf synth` with the app command from cdktf.json (npx tsx main.ts), into cdktf.out/. The CLI
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
  return { ok: true, seconds: result.seconds, message: `npx cdktf synth wrote ${listStacks().map((s) => s.name).join(", ")} in ${result.seconds.toFixed(1)} s` };
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
  if (tf.cloud) return { kind: "cloud", hostname: tf.cloud.hostname ?? "app.terraform.io", organization: tf.cloud.organization, workspace: tf.cloud.workspaces?.name };
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
  return typeof host === "string" && host !== "" ? host : process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
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
