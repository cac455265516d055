/**
 * One view of what runs, whether a docker_container or a docker_service (whose container settings
 * sit under task_spec.container_spec): the rules shared by both read this, each value with the
 * attribute path it came from (for messages and for judging expressions).
 */
import { block, blocks, describe, isExpression, isRecord, isSeedContainer, labelsOf, parseRef, referenced, resourcesOf } from "./json";
import { imageRepository, plain } from "./normalize";
import type { TerraformJson } from "./types";

export interface Located {
  readonly path: string;
  readonly value: unknown;
}

export interface HostBind {
  readonly path: string;
  /** The host path as written (literal, or the relative-path expression). */
  readonly hostPath: string;
  readonly readOnly: boolean;
  /** How it binds: a plain bind, or a volume whose driver options make it one. */
  readonly via: "bind" | "volume driver options";
  readonly propagation?: string;
}

export interface Workload {
  readonly kind: "container" | "service";
  readonly resourceType: "docker_container" | "docker_service";
  readonly resource: Record<string, unknown>;
  /** `container "dev-db"` / `service "prod-api"`. */
  readonly name: string;
  /** Prefix of the container settings: "" for containers, "task_spec.container_spec." for services. */
  readonly specPath: string;
  readonly spec: Record<string, unknown>;
  readonly labels: Map<string, string>;
  readonly seed: boolean;
  readonly image: Located;
  readonly user: Located;
  readonly groups: Located;
  readonly readOnly: Located;
  readonly capAdd: Located;
  readonly capDrop: Located;
  readonly healthcheck: Located;
}

/**
 * Every rule asks for the workload view of every container and service (about fifty times per
 * resource and synth): made once per resource object of a rendering. Rules only read it.
 */
const views = new WeakMap<Record<string, unknown>, Workload>();

export function workloadOf(resource: Record<string, unknown>, resourceType: string): Workload | undefined {
  if (resourceType !== "docker_container" && resourceType !== "docker_service") return undefined;
  const cached = views.get(resource);
  if (cached && cached.resourceType === resourceType) return cached;
  const w = makeWorkload(resource, resourceType);
  if (w) views.set(resource, w);
  return w;
}

function makeWorkload(resource: Record<string, unknown>, resourceType: string): Workload | undefined {
  if (resourceType === "docker_container") {
    const caps = block(resource.capabilities);
    return {
      kind: "container",
      resourceType,
      resource,
      name: describe(resource, "container"),
      specPath: "",
      spec: resource,
      labels: labelsOf(resource),
      seed: isSeedContainer(resource),
      image: { path: "image", value: resource.image },
      user: { path: "user", value: resource.user },
      groups: { path: "group_add", value: resource.group_add },
      readOnly: { path: "read_only", value: resource.read_only },
      capAdd: { path: "capabilities.add", value: caps.add },
      capDrop: { path: "capabilities.drop", value: caps.drop },
      healthcheck: { path: "healthcheck", value: resource.healthcheck },
    };
  }
  if (resourceType === "docker_service") {
    const spec = block(block(resource.task_spec).container_spec);
    const p = "task_spec.container_spec.";
    return {
      kind: "service",
      resourceType,
      resource,
      name: describe(resource, "service"),
      specPath: p,
      spec,
      labels: labelsOf(resource),
      seed: false,
      image: { path: `${p}image`, value: spec.image },
      user: { path: `${p}user`, value: spec.user },
      groups: { path: `${p}groups`, value: spec.groups },
      readOnly: { path: `${p}read_only`, value: spec.read_only },
      capAdd: { path: `${p}cap_add`, value: spec.cap_add },
      capDrop: { path: `${p}cap_drop`, value: spec.cap_drop },
      healthcheck: { path: `${p}healthcheck`, value: spec.healthcheck },
    };
  }
  return undefined;
}

/** A volume's driver options bind a host path when they say type=none / o=bind / device=/path. */
export function bindLikeDevice(options: unknown): string | undefined {
  if (!isRecord(options)) return undefined;
  const opt = (k: string) => {
    const key = Object.keys(options).find((x) => x.trim().toLowerCase() === k);
    const v = key === undefined ? undefined : plain(options[key]);
    return typeof v === "string" ? v.trim() : undefined;
  };
  const o = (opt("o") ?? "")
    .toLowerCase()
    .split(",")
    .map((s) => s.trim());
  const type = (opt("type") ?? "").toLowerCase();
  const device = opt("device");
  if (device === undefined) return undefined;
  if (o.includes("bind") || o.includes("rbind") || type === "none" || type === "bind" || device.startsWith("/")) return device;
  return undefined;
}

const binds = new WeakMap<Workload, HostBind[]>();

/** Every host path a workload mounts (binds, and volumes whose driver options make a bind). */
export function hostBinds(w: Workload): HostBind[] {
  let out = binds.get(w);
  if (!out) binds.set(w, (out = collectHostBinds(w)));
  return out;
}

function collectHostBinds(w: Workload): HostBind[] {
  const out: HostBind[] = [];
  if (w.kind === "container") {
    blocks(w.resource.volumes).forEach((v, i) => {
      const ro = plain(v.read_only) === true || plain(v.read_only) === "true";
      // The provider sends volume_name (or, when empty, host_path) as the bind source: a
      // volume_name that is a path binds that host path.
      if (typeof v.host_path === "string") out.push({ path: `volumes[${i}].host_path`, hostPath: v.host_path, readOnly: ro, via: "bind" });
      const name = plain(v.volume_name);
      if (typeof name === "string" && !isExpression(name) && /[/.~]/.test(name.trim()[0] ?? "")) {
        out.push({ path: `volumes[${i}].volume_name`, hostPath: name, readOnly: ro, via: "bind" });
      }
    });
  }
  blocks(w.spec.mounts).forEach((m, i) => {
    const path = `${w.specPath}mounts[${i}]`;
    const type = String(plain(m.type) ?? "")
      .trim()
      .toLowerCase();
    const ro = plain(m.read_only) === true || plain(m.read_only) === "true";
    const propagation = plain(block(m.bind_options).propagation);
    if (type === "bind" || (type !== "volume" && type !== "tmpfs" && typeof m.source === "string")) {
      if (typeof m.source === "string")
        out.push({
          path: `${path}.source`,
          hostPath: m.source,
          readOnly: ro,
          via: "bind",
          propagation: typeof propagation === "string" ? propagation : undefined,
        });
    }
    const device = bindLikeDevice(block(m.volume_options).driver_options);
    if (device !== undefined)
      out.push({ path: `${path}.volume_options.driver_options.device`, hostPath: device, readOnly: ro, via: "volume driver options" });
  });
  return out;
}

/** The docker_volume of this stack that a mount names: by reference, or by its literal name. */
function volumeNamed(json: TerraformJson, source: unknown): Record<string, unknown> | undefined {
  const ref = parseRef(source);
  if (ref) return ref.type === "docker_volume" ? referenced(json, ref) : undefined;
  const name = plain(source);
  if (typeof name !== "string" || isExpression(name)) return undefined;
  let byName = volumesByName.get(json);
  if (!byName) {
    byName = new Map();
    for (const v of Object.values(resourcesOf(json, "docker_volume")))
      if (typeof v.name === "string" && !byName.has(v.name)) byName.set(v.name, v);
    volumesByName.set(json, byName);
  }
  return byName.get(name);
}
const volumesByName = new WeakMap<TerraformJson, Map<string, Record<string, unknown>>>();

/**
 * The docker_volumes of this stack a workload mounts, with the path of the mount's source: named by
 * reference or by their literal name (the engine finds the same volume either way).
 */
export function mountedVolumes(w: Workload, json: TerraformJson): { path: string; volume: Record<string, unknown>; readOnly: boolean }[] {
  const out: { path: string; volume: Record<string, unknown>; readOnly: boolean }[] = [];
  if (w.kind === "container") {
    blocks(w.resource.volumes).forEach((v, i) => {
      const vol = volumeNamed(json, v.volume_name);
      if (vol) out.push({ path: `volumes[${i}].volume_name`, volume: vol, readOnly: plain(v.read_only) === true });
    });
  }
  blocks(w.spec.mounts).forEach((m, i) => {
    const vol = volumeNamed(json, m.source);
    if (vol) out.push({ path: `${w.specPath}mounts[${i}].source`, volume: vol, readOnly: plain(m.read_only) === true });
  });
  return out;
}

/** The image reference of a workload, resolved through a docker_image reference; undefined if unknown. */
export function imageRef(w: Workload, json: TerraformJson): string | undefined {
  const image = w.image.value;
  const ref = parseRef(image);
  if (ref && ref.type === "docker_image") {
    const name = referenced(json, ref)?.name;
    return typeof name === "string" && !isExpression(name) ? name : undefined;
  }
  const v = plain(image);
  return typeof v === "string" && !isExpression(v) ? v : undefined;
}

/** True when the docker_image resource has a build block (also written as a dynamic block). */
function hasBuild(image: Record<string, unknown>): boolean {
  const dyn = image.dynamic;
  return (image.build !== undefined && image.build !== null) || (isRecord(dyn) && dyn.build !== undefined);
}

/**
 * True when the workload runs an image this stack BUILDS: it references a docker_image with a build
 * block, or its image (by reference or by name) has the repository of one (the engine resolves a
 * name to the local image built under it). Such an image is whatever its build context holds.
 */
export function builtByStack(w: Workload, json: TerraformJson): boolean {
  const ref = parseRef(w.image.value);
  if (ref && ref.type === "docker_image") {
    const img = referenced(json, ref);
    if (img && hasBuild(img)) return true;
  }
  const images = json.resource?.docker_image;
  if (!isRecord(images)) return false;
  const repo = repositoryOf(w, json);
  return Object.values(images).some((img) => {
    if (!isRecord(img) || !hasBuild(img)) return false;
    if (typeof img.name !== "string" || isExpression(img.name)) return true; // a built image of unknown name may be any
    return repo !== undefined && imageRepository(img.name) === repo;
  });
}

/** The canonical repository of the workload's image ("caddy", "postgres"), or undefined. */
export function repositoryOf(w: Workload, json: TerraformJson): string | undefined {
  const ref = imageRef(w, json);
  return ref === undefined ? undefined : imageRepository(ref);
}
