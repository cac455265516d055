/**
 * What one synthesized stack runs: services (containers grouped by the io.updateio.service label,
 * and Swarm services, one docker_service each), seeds, Swarm secrets and configs, networks,
 * volumes, images, backups and policy annotations. Built from the Terraform JSON
 * (and the manifest's annotations) only, so it works the same for a fresh synth and an old cdktf.out.
 *
 * Upload contents are read to find secrets' names and the backup script's defaults; they are never
 * copied into the inventory (only file names and whitelisted numeric settings are). Swarm secrets
 * appear by name and mount path; their `data` is never read.
 */
import { BACKUP_SERVICE, OFFSITE_SERVICE } from "../../constructs/postgres/postgres-backup";
import { mountedObjects, objectName, serviceMode, serviceReplicas, updatePolicy, type ServiceMode, type UpdatePolicy } from "./swarm";
import {
  asArray,
  asNumber,
  asString,
  block,
  blocks,
  containerSpecOf,
  isOneShot,
  isRecord,
  isSecretsOwner,
  isSeed,
  label,
  LABELS,
  labelsOf,
  ofType,
  lifecycleReferences,
  wholeReference,
  type Body,
  type Resource,
  taskSpecOf,
  type TerraformJson,
} from "./terraform-json";

export const SECRETS_DIR = "/run/secrets";

export interface ImageInfo {
  readonly address: string;
  /** The docker_image `name` as written ("repo:tag@sha256:..."). */
  readonly name: string;
  /** "repo:tag" without the digest. */
  readonly reference: string;
  /** "sha256:..." when pinned by digest. */
  readonly digest?: string;
  /** Built from a local source tree (dev hot reload). */
  readonly built: boolean;
}

export type Protection = "protected" | "ephemeral" | "unprotected";

export interface MountInfo {
  readonly containerPath: string;
  readonly readOnly: boolean;
  /** Named volume (Docker name) or undefined for a bind mount. */
  readonly volume?: string;
  readonly protection?: Protection;
  /** Bind mounts: the host path (an expression in dev, e.g. the source tree). */
  readonly hostPath?: string;
}

export interface PortInfo {
  readonly ip: string;
  readonly external: number;
  readonly internal: number;
  readonly protocol: string;
  /** Swarm: "ingress" (routing mesh, every node) or "host" (the node running the task). */
  readonly publishMode?: string;
}

export interface NetworkRef {
  readonly address: string;
  readonly name: string;
  readonly purpose: string;
  readonly internal: boolean;
  /** "bridge" (one host) or "overlay" (spans the Swarm). */
  readonly driver?: string;
  /** Overlay that plain containers may join. */
  readonly attachable?: boolean;
  /** Overlay with IPsec between nodes (options.encrypted). */
  readonly encrypted?: boolean;
}

/** What a docker_service adds to a service: how it updates, where it runs, what replaces it. */
export interface SwarmServiceInfo {
  readonly address: string;
  /** The Swarm service name (`docker service ps <name>`). */
  readonly serviceName: string;
  readonly mode: ServiceMode;
  readonly update: UpdatePolicy;
  readonly rollback: UpdatePolicy;
  readonly placement: readonly string[];
  readonly endpointMode: string;
  /** Memory the scheduler reserves per task, MiB. */
  readonly memoryReservationMb?: number;
  /** CPU limit per task, in CPUs. */
  readonly cpus?: number;
  /** Config files by mount path. */
  readonly configs: readonly string[];
  /** Values that replace the service (downtime) when they change, in provider 3.6.2. */
  readonly forceNew: {
    readonly labels: number;
    readonly containerLabels: number;
    /** "edge (aliases: api)" per network. */
    readonly networks: readonly string[];
    readonly hosts: number;
    readonly sysctls: number;
  };
}

export interface SwarmObjectInfo {
  readonly address: string;
  readonly type: "docker_secret" | "docker_config";
  /** The Docker name, or its prefix with "<hash ...>" when derived from a generated value. */
  readonly name: string;
  readonly service?: string;
  /** "api:/run/secrets/session_secret" for every service that mounts it. */
  readonly mountedBy: readonly string[];
  readonly createBeforeDestroy: boolean;
}

export interface ServiceInfo {
  readonly name: string;
  readonly component: string;
  readonly role?: string;
  /** Plain containers, or one Swarm service (details in `swarm`). */
  readonly runtime: "containers" | "swarm";
  readonly swarm?: SwarmServiceInfo;
  /** Docker container names (the Swarm service name for a Swarm service), sorted. */
  readonly containers: readonly string[];
  readonly addresses: readonly string[];
  readonly replicas: number;
  readonly image?: ImageInfo;
  readonly memoryMb?: number;
  readonly memorySwapMb?: number;
  readonly cpuShares?: number;
  readonly cpuQuota?: { readonly period: number; readonly quota: number };
  readonly user: string;
  readonly readOnly: boolean;
  readonly oneShot: boolean;
  readonly networks: readonly NetworkRef[];
  readonly ports: readonly PortInfo[];
  readonly mounts: readonly MountInfo[];
  /** File names under /run/secrets delivered by the service's seeds (Swarm: its secrets' file names). */
  readonly secrets: readonly string[];
  /** Container names of the seeds that carry its files. */
  readonly seeds: readonly string[];
}

export interface SeedInfo {
  readonly name: string;
  readonly address: string;
  readonly service: string;
  readonly secrets: readonly string[];
  /** Paths of non-secret uploaded files (config, scripts). */
  readonly configFiles: readonly string[];
}

export interface NetworkInfo extends NetworkRef {
  /** Services attached (seeds have no network). */
  readonly services: readonly string[];
}

export interface VolumeInfo {
  readonly address: string;
  readonly name: string;
  readonly protection: Protection;
  readonly service?: string;
  /** "service:/path" of every container that mounts it. */
  readonly mountedBy: readonly string[];
}

export interface BackupInfo {
  /** Whether the scheduler container exists at all. */
  readonly scheduler: boolean;
  /** Defaults read from the scheduler script (`: "${KEEP_DAILY:=7}"`). */
  readonly settings: Readonly<Record<string, string>>;
  readonly offsite: boolean;
  readonly offsiteSettings: Readonly<Record<string, string>>;
}

export interface Annotation {
  readonly constructPath: string;
  readonly level: string;
  readonly message: string;
}

export interface SuppressionInfo {
  readonly ruleId: string;
  readonly reason: string;
  /** Construct the suppression was declared on. */
  readonly scope: string;
  /** Construct paths of the resources whose findings it suppressed. */
  readonly resources: readonly string[];
}

export interface WarningInfo {
  readonly ruleId?: string;
  readonly message: string;
  readonly count: number;
}

export interface PolicyInfo {
  readonly suppressions: readonly SuppressionInfo[];
  readonly warnings: readonly WarningInfo[];
  readonly errors: readonly string[];
}

export interface StackInventory {
  readonly stack: string;
  readonly services: readonly ServiceInfo[];
  readonly seeds: readonly SeedInfo[];
  readonly networks: readonly NetworkInfo[];
  readonly volumes: readonly VolumeInfo[];
  readonly images: readonly ImageInfo[];
  readonly swarmObjects: readonly SwarmObjectInfo[];
  readonly passwords: number;
  readonly backup: BackupInfo;
  readonly policy: PolicyInfo;
}

// ---------------------------------------------------------------------------------------------
// Small readers
// ---------------------------------------------------------------------------------------------

export function imageInfo(resource: Resource): ImageInfo {
  const name = asString(resource.body.name) ?? resource.name;
  const at = name.indexOf("@");
  const digest = at >= 0 ? name.slice(at + 1) : undefined;
  return {
    address: resource.address,
    name,
    reference: at >= 0 ? name.slice(0, at) : name,
    ...(digest ? { digest } : {}),
    built: isRecord(resource.body.build),
  };
}

/** Volumes holding nothing that config cannot rebuild carry the ephemeral label (the kit sets it). */
export function volumeProtection(body: Body): Protection {
  if (label(body, LABELS.ephemeral) === "true") return "ephemeral";
  const lifecycle = body.lifecycle;
  if (isRecord(lifecycle) && lifecycle.prevent_destroy === true) return "protected";
  return "unprotected";
}

export function networkRef(resource: Resource): NetworkRef {
  const name = asString(resource.body.name) ?? resource.name;
  const options = isRecord(resource.body.options) ? resource.body.options : {};
  return {
    address: resource.address,
    name,
    purpose: label(resource.body, LABELS.role) ?? name,
    internal: resource.body.internal === true,
    driver: asString(resource.body.driver) ?? "bridge",
    ...(resource.body.attachable === true ? { attachable: true } : {}),
    ...("encrypted" in options ? { encrypted: true } : {}),
  };
}

interface Upload {
  readonly file: string;
  readonly content: string;
}

function uploadsOf(body: Body): Upload[] {
  return asArray(body.upload).flatMap((u) =>
    isRecord(u) && typeof u.file === "string" ? [{ file: u.file, content: String(u.content ?? "") }] : [],
  );
}

export function isSecretFile(path: string): boolean {
  return path.startsWith(`${SECRETS_DIR}/`);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

// Only these script defaults are copied into the report: schedule and retention, never credentials.
const BACKUP_KEYS = [
  "BACKUP_AT",
  "KEEP_DAILY",
  "KEEP_WEEKLY",
  "KEEP_MONTHLY",
  "BASE_BACKUP_EVERY_SECONDS",
  "KEEP_BASE_BACKUPS",
  "BACKUP_RETRY_SECONDS",
];
const OFFSITE_KEYS = ["OFFSITE_INTERVAL_SECONDS"];

/** `: "${KEY:=value}"` defaults of a shell script, for the whitelisted keys with plain values. */
export function scriptDefaults(script: string, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  // Terraform JSON may escape the literal "${" as "$${".
  for (const m of script.matchAll(/^: "\$?\$\{([A-Z_]+):=([^}"]*)\}"\s*$/gm)) {
    // A value must look like a time or a number: anything else stays out of the report.
    if (keys.includes(m[1]!) && /^[0-9:]+$/.test(m[2]!)) out[m[1]!] = m[2]!;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The inventory
// ---------------------------------------------------------------------------------------------

interface Lookup {
  readonly networks: Map<string, NetworkRef>;
  readonly volumes: Map<string, Resource>;
  readonly images: Map<string, ImageInfo>;
  readonly containers: Map<string, Resource>;
}

function lookupOf(json: TerraformJson): Lookup {
  return {
    networks: new Map(ofType(json, "docker_network").map((r) => [r.address, networkRef(r)])),
    volumes: new Map(ofType(json, "docker_volume").map((r) => [r.address, r])),
    images: new Map(ofType(json, "docker_image").map((r) => [r.address, imageInfo(r)])),
    containers: new Map(ofType(json, "docker_container").map((r) => [r.address, r])),
  };
}

function mountsOf(body: Body, lookup: Lookup): MountInfo[] {
  return asArray(body.volumes).flatMap((v): MountInfo[] => {
    if (!isRecord(v) || typeof v.container_path !== "string") return [];
    const readOnly = v.read_only === true;
    const address = wholeReference(v.volume_name, "docker_volume");
    const volume = address ? lookup.volumes.get(address) : undefined;
    if (volume)
      return [
        {
          containerPath: v.container_path,
          readOnly,
          volume: asString(volume.body.name) ?? volume.name,
          protection: volumeProtection(volume.body),
        },
      ];
    if (typeof v.volume_name === "string")
      return [{ containerPath: v.container_path, readOnly, volume: v.volume_name, protection: "unprotected" }];
    return [{ containerPath: v.container_path, readOnly, hostPath: asString(v.host_path) ?? "?" }];
  });
}

function networksOf(body: Body, lookup: Lookup): NetworkRef[] {
  return asArray(body.networks_advanced).flatMap((n) => {
    if (!isRecord(n)) return [];
    const address = wholeReference(n.name, "docker_network");
    const ref = address ? lookup.networks.get(address) : undefined;
    if (ref) return [ref];
    return typeof n.name === "string" ? [{ address: "", name: n.name, purpose: n.name, internal: false }] : [];
  });
}

/** A Swarm service's published ports: no host IP, every node (ingress) or the task's node (host). */
function swarmPortsOf(body: Body): PortInfo[] {
  return blocks(block(body.endpoint_spec)?.ports).flatMap((p) =>
    typeof p.target_port === "number"
      ? [
          {
            ip: "0.0.0.0",
            external: asNumber(p.published_port) ?? p.target_port,
            internal: p.target_port,
            protocol: asString(p.protocol) ?? "tcp",
            publishMode: asString(p.publish_mode) ?? "ingress",
          },
        ]
      : [],
  );
}

function portsOf(body: Body): PortInfo[] {
  return asArray(body.ports).flatMap((p) =>
    isRecord(p) && typeof p.internal === "number"
      ? [
          {
            ip: asString(p.ip) ?? "0.0.0.0",
            external: asNumber(p.external) ?? p.internal,
            internal: p.internal,
            protocol: asString(p.protocol) ?? "tcp",
          },
        ]
      : [],
  );
}

const CONTAINER_TYPES = new Set(["docker_container"]);

/** Seeds a container takes its files from: replace_triggered_by / depends_on on a never-started container. */
function seedsOf(container: Resource, lookup: Lookup): Resource[] {
  const lifecycle = isRecord(container.body.lifecycle) ? container.body.lifecycle : {};
  const refs = [
    ...lifecycleReferences(lifecycle.replace_triggered_by, CONTAINER_TYPES).map((r) => r.address),
    ...asArray(container.body.depends_on).filter((d): d is string => typeof d === "string"),
  ];
  const seeds = refs.map((a) => lookup.containers.get(a)).filter((r): r is Resource => r !== undefined && isSeed(r));
  return [...new Map(seeds.map((s) => [s.address, s])).values()];
}

function serviceName(resource: Resource): string {
  return label(resource.body, LABELS.service) ?? asString(resource.body.name) ?? resource.name;
}

const uniqueSorted = (items: Iterable<string>): string[] => [...new Set(items)].sort();

function buildService(name: string, containers: Resource[], lookup: Lookup): ServiceInfo {
  const first = containers[0]!.body;
  const labels = labelsOf(first);
  const seeds = containers.flatMap((c) => seedsOf(c, lookup));
  const imageAddress = wholeReference(first.image, "docker_image");
  const image = imageAddress ? lookup.images.get(imageAddress) : undefined;
  const period = asNumber(first.cpu_period);
  const quota = asNumber(first.cpu_quota);
  const networks = new Map<string, NetworkRef>();
  for (const c of containers) for (const n of networksOf(c.body, lookup)) networks.set(n.address || n.name, n);
  const ports = containers.flatMap((c) => portsOf(c.body));
  const mounts = new Map<string, MountInfo>();
  for (const c of containers) for (const m of mountsOf(c.body, lookup)) mounts.set(`${m.volume ?? m.hostPath}:${m.containerPath}`, m);
  return {
    name,
    component: labels.get(LABELS.component) ?? "?",
    ...(labels.has(LABELS.role) ? { role: labels.get(LABELS.role)! } : {}),
    runtime: "containers",
    containers: uniqueSorted(containers.map((c) => asString(c.body.name) ?? c.name)),
    addresses: containers.map((c) => c.address).sort(),
    replicas: containers.length,
    ...(image ? { image } : {}),
    ...(asNumber(first.memory) !== undefined ? { memoryMb: asNumber(first.memory)! } : {}),
    ...(asNumber(first.memory_swap) !== undefined ? { memorySwapMb: asNumber(first.memory_swap)! } : {}),
    ...(asNumber(first.cpu_shares) !== undefined ? { cpuShares: asNumber(first.cpu_shares)! } : {}),
    ...(period !== undefined && quota !== undefined ? { cpuQuota: { period, quota } } : {}),
    user: asString(first.user) ?? "(image default)",
    readOnly: containers.every((c) => c.body.read_only === true),
    oneShot: containers.every((c) => isOneShot(c.body)),
    networks: [...networks.values()],
    ports: [...new Map(ports.map((p) => [`${p.ip}:${p.external}:${p.internal}/${p.protocol}`, p])).values()],
    mounts: [...mounts.values()],
    secrets: uniqueSorted(
      seeds.flatMap((s) =>
        uploadsOf(s.body)
          .filter((u) => isSecretFile(u.file))
          .map((u) => basename(u.file)),
      ),
    ),
    seeds: uniqueSorted(seeds.map((s) => asString(s.body.name) ?? s.name)),
  };
}

const MIB = 1024 * 1024;

function basenameOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** One docker_service as a service of the inventory. */
function buildSwarmService(resource: Resource, lookup: Lookup): ServiceInfo {
  const body = resource.body;
  const task = taskSpecOf(body);
  const spec = containerSpecOf(body);
  const labels = labelsOf(body);
  const resources = block(task.resources);
  const limits = block(resources?.limits);
  const reservation = block(resources?.reservation);
  const imageName = asString(spec.image);
  const imageAddress = wholeReference(spec.image, "docker_image");
  const image = imageAddress
    ? lookup.images.get(imageAddress)
    : imageName && !imageName.includes("${")
      ? imageInfo({ ...resource, address: "", body: { name: imageName } })
      : undefined;
  const networks = blocks(task.networks_advanced).flatMap((n): NetworkRef[] => {
    const address = wholeReference(n.name, "docker_network");
    const ref = address ? lookup.networks.get(address) : undefined;
    if (ref) return [ref];
    return typeof n.name === "string" ? [{ address: "", name: n.name, purpose: n.name, internal: false }] : [];
  });
  const networkText = blocks(task.networks_advanced).map((n, i) => {
    const aliases = asArray(n.aliases).filter((a): a is string => typeof a === "string");
    return `${networks[i]?.name ?? "?"}${aliases.length > 0 ? ` (aliases: ${aliases.join(", ")})` : ""}`;
  });
  const memory = asNumber(limits?.memory_bytes);
  const reserved = asNumber(reservation?.memory_bytes);
  const nano = asNumber(limits?.nano_cpus);
  const name = label(body, LABELS.service) ?? asString(body.name) ?? resource.name;
  const dockerName = asString(body.name) ?? resource.name;
  const mounts = blocks(spec.mounts).flatMap((m): MountInfo[] => {
    if (typeof m.target !== "string" || m.type === "tmpfs") return [];
    const readOnly = m.read_only === true;
    if (m.type === "bind") return [{ containerPath: m.target, readOnly, hostPath: asString(m.source) ?? "?" }];
    return [{ containerPath: m.target, readOnly, volume: asString(m.source) ?? "(anonymous)", protection: "unprotected" }];
  });
  return {
    name,
    component: labels.get(LABELS.component) ?? "?",
    ...(labels.has(LABELS.role) ? { role: labels.get(LABELS.role)! } : {}),
    runtime: "swarm",
    swarm: {
      address: resource.address,
      serviceName: dockerName,
      mode: serviceMode(body),
      update: updatePolicy(body, "update_config"),
      rollback: updatePolicy(body, "rollback_config"),
      placement: asArray(block(task.placement)?.constraints).filter((c): c is string => typeof c === "string"),
      endpointMode: asString(block(body.endpoint_spec)?.mode) ?? "vip",
      ...(reserved !== undefined ? { memoryReservationMb: reserved / MIB } : {}),
      ...(nano !== undefined ? { cpus: nano / 1e9 } : {}),
      configs: uniqueSorted(mountedObjects(body, "configs").map((c) => c.file)),
      forceNew: {
        labels: blocks(body.labels).length,
        containerLabels: blocks(spec.labels).length,
        networks: networkText,
        hosts: blocks(spec.hosts).length,
        sysctls: isRecord(spec.sysctl) ? Object.keys(spec.sysctl).length : 0,
      },
    },
    containers: [dockerName],
    addresses: [resource.address],
    replicas: serviceReplicas(body) ?? 0,
    ...(image ? { image } : {}),
    ...(memory !== undefined ? { memoryMb: memory / MIB } : {}),
    user: asString(spec.user) ?? "(image default)",
    readOnly: spec.read_only === true,
    oneShot: false,
    networks,
    ports: swarmPortsOf(body),
    mounts,
    // Names only: the file a secret is mounted as, never its data.
    secrets: uniqueSorted(mountedObjects(body, "secrets").map((s) => basenameOf(s.file))),
    seeds: [],
  };
}

function buildSwarmObjects(json: TerraformJson, services: readonly Resource[]): SwarmObjectInfo[] {
  const mounts = new Map<string, string[]>();
  for (const svc of services) {
    const who = label(svc.body, LABELS.service) ?? asString(svc.body.name) ?? svc.name;
    for (const kind of ["secrets", "configs"] as const) {
      for (const m of mountedObjects(svc.body, kind))
        if (m.address) mounts.set(m.address, [...(mounts.get(m.address) ?? []), `${who}:${m.file}`]);
    }
  }
  return [...ofType(json, "docker_secret"), ...ofType(json, "docker_config")]
    .map((r) => ({
      address: r.address,
      type: r.type as SwarmObjectInfo["type"],
      name: objectName(r.body),
      ...(label(r.body, LABELS.service) ? { service: label(r.body, LABELS.service)! } : {}),
      mountedBy: uniqueSorted(mounts.get(r.address) ?? []),
      createBeforeDestroy: isRecord(r.body.lifecycle) && r.body.lifecycle.create_before_destroy === true,
    }))
    .sort((a, b) => a.type.localeCompare(b.type) || a.name.localeCompare(b.name));
}

function buildSeed(seed: Resource): SeedInfo {
  const uploads = uploadsOf(seed.body);
  return {
    name: asString(seed.body.name) ?? seed.name,
    address: seed.address,
    service: serviceName(seed),
    secrets: uploads.filter((u) => isSecretFile(u.file)).map((u) => basename(u.file)),
    configFiles: uploads.filter((u) => !isSecretFile(u.file)).map((u) => u.file),
  };
}

function buildBackup(containers: Resource[]): BackupInfo {
  const of = (service: string) => containers.filter((c) => serviceName(c) === service);
  const scriptSettings = (service: string, keys: readonly string[]) => {
    const settings: Record<string, string> = {};
    for (const c of of(service).filter(isSeed)) for (const u of uploadsOf(c.body)) Object.assign(settings, scriptDefaults(u.content, keys));
    return settings;
  };
  return {
    scheduler: of(BACKUP_SERVICE).some((c) => !isSeed(c)),
    settings: scriptSettings(BACKUP_SERVICE, BACKUP_KEYS),
    offsite: of(OFFSITE_SERVICE).some((c) => !isSeed(c)),
    offsiteSettings: scriptSettings(OFFSITE_SERVICE, OFFSITE_KEYS),
  };
}

const SUPPRESSED = /^\[([a-z0-9-]+)\] suppressed: (.*) \(finding: .*; suppressed on ([^)]*)\)$/s;
const RULE_ID = /^\[([a-z0-9-]+)\] /;

/** Policy annotations (the manifest's, or construct metadata) grouped for the report. */
export function policyOf(annotations: readonly Annotation[]): PolicyInfo {
  const suppressions = new Map<string, { ruleId: string; reason: string; scope: string; resources: string[] }>();
  const warnings = new Map<string, { ruleId?: string; message: string; count: number }>();
  const errors: string[] = [];
  for (const a of annotations) {
    const suppressed = a.level === "@cdktf/info" ? SUPPRESSED.exec(a.message) : null;
    if (suppressed) {
      const [, ruleId, reason, scope] = suppressed as unknown as [string, string, string, string];
      const key = `${ruleId}\u0000${scope}\u0000${reason}`;
      const entry = suppressions.get(key) ?? { ruleId, reason, scope, resources: [] };
      entry.resources.push(a.constructPath);
      suppressions.set(key, entry);
    } else if (a.level === "@cdktf/warn") {
      // One line per rule (dev has a digest warning per container); stack warnings stay whole.
      const ruleId = RULE_ID.exec(a.message)?.[1];
      const key = ruleId ?? a.message;
      const entry = warnings.get(key) ?? { ...(ruleId ? { ruleId } : {}), message: a.message, count: 0 };
      entry.count++;
      warnings.set(key, entry);
    } else if (a.level === "@cdktf/error") errors.push(a.message);
  }
  return { suppressions: [...suppressions.values()], warnings: [...warnings.values()], errors };
}

export function buildInventory(stack: string, json: TerraformJson, annotations: readonly Annotation[] = []): StackInventory {
  const lookup = lookupOf(json);
  const containers = [...lookup.containers.values()];
  const byService = new Map<string, Resource[]>();
  const running = containers.filter((c) => !isSeed(c) && !isSecretsOwner(c));
  for (const c of running) byService.set(serviceName(c), [...(byService.get(serviceName(c)) ?? []), c]);
  const swarmServices = ofType(json, "docker_service");
  const services = [
    ...[...byService.entries()].map(([name, list]) => buildService(name, list, lookup)),
    ...swarmServices.map((s) => buildSwarmService(s, lookup)),
  ].sort((a, b) => a.name.localeCompare(b.name) || a.runtime.localeCompare(b.runtime));

  const mountedBy = new Map<string, string[]>();
  for (const c of running) {
    for (const v of asArray(c.body.volumes)) {
      const address = isRecord(v) ? wholeReference(v.volume_name, "docker_volume") : undefined;
      if (address && isRecord(v))
        mountedBy.set(address, [...(mountedBy.get(address) ?? []), `${serviceName(c)}:${String(v.container_path)}`]);
    }
  }
  const volumes = [...lookup.volumes.values()].map((r) => ({
    address: r.address,
    name: asString(r.body.name) ?? r.name,
    protection: volumeProtection(r.body),
    ...(label(r.body, LABELS.service) ? { service: label(r.body, LABELS.service)! } : {}),
    mountedBy: uniqueSorted(mountedBy.get(r.address) ?? []),
  }));
  const networks = [...lookup.networks.values()].map((n) => ({
    ...n,
    services: services.filter((s) => s.networks.some((x) => x.address === n.address)).map((s) => s.name),
  }));
  return {
    stack,
    services,
    seeds: containers
      .filter(isSeed)
      .map(buildSeed)
      .sort((a, b) => a.name.localeCompare(b.name)),
    networks: networks.sort((a, b) => a.name.localeCompare(b.name)),
    volumes: volumes.sort((a, b) => a.name.localeCompare(b.name)),
    images: [...lookup.images.values()].sort((a, b) => a.name.localeCompare(b.name)),
    swarmObjects: buildSwarmObjects(json, swarmServices),
    passwords: ofType(json, "random_password").length,
    backup: buildBackup(containers),
    policy: policyOf(annotations),
  };
}
