/** The scaffolding of a construct's unit test: a stack with the providers, and lookups in its synthesized JSON. */
import { rmSync } from "node:fs";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TerraformStack, Testing } from "cdktf";
import { afterAll } from "vitest";
import { synthText } from "./synth-text";
import { scratchDir } from "./temp-dirs";

export type Json = Record<string, any>;

/** A directory for Testing.app's output, removed after the calling file's tests (or with the run's scratch root). */
export function testOutdir(name: string): string {
  const dir = scratchDir(`${name}-`);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A stack named after the environment, with the Docker provider (and the random provider unless `random: false`). */
export function testStack(outdir: string, env: string, opts: { random?: boolean } = {}): TerraformStack {
  const stack = new TerraformStack(Testing.app({ outdir }), env);
  new DockerProvider(stack, "docker", { host: "unix:///var/run/docker.sock" });
  if (opts.random ?? true) new RandomProvider(stack, "random");
  return stack;
}

/** The containers of a synthesized stack. */
export function containersOf(json: Json): Json[] {
  return Object.values(json.resource.docker_container ?? {}) as Json[];
}

/** The container named `name` (its Docker name), if any. */
export function containerNamed(json: Json, name: string): Json | undefined {
  return containersOf(json).find((c) => c.name === name);
}

/** The logical id of the `type` resource whose name is `name` (throws when there is none). */
export function resourceKey(json: Json, type: string, name: string): string {
  const entry = Object.entries(json.resource[type] ?? {}).find(([, v]) => (v as Json).name === name);
  if (!entry) throw new Error(`no ${type} named ${name}`);
  return entry[0];
}

/** What a (seed) container uploads to `file`: its content (throws, listing what it uploads, when there is none). */
export function uploadOf(container: Json, file: string): string {
  const uploads = (container.upload ?? []) as Json[];
  const found = uploads.find((u) => u.file === file);
  if (!found) throw new Error(`${container.name} uploads no ${file}; it uploads ${uploads.map((u) => u.file).join(", ")}`);
  return found.content;
}

/**
 * Synthesizes the stack: its text and JSON, its containers, one by name (must exist), a resource's
 * logical id by name, and what a container (by name) uploads to a file.
 */
export function synthJson(stack: TerraformStack) {
  const text = synthText(stack);
  const json: Json = JSON.parse(text);
  const containers = containersOf(json);
  const named = (name: string): Json => {
    const c = containers.find((x) => x.name === name);
    if (!c) throw new Error(`no container named ${name}; have ${containers.map((x) => x.name).join(", ")}`);
    return c;
  };
  const key = (type: string, name: string) => resourceKey(json, type, name);
  const upload = (containerName: string, file: string) => uploadOf(named(containerName), file);
  return { text, json, containers, named, key, upload };
}
