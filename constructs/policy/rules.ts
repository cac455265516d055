/**
 * Policy rules for the UpdateIO Docker platform.
 *
 * Every rule is a pure function over ONE resource of the stack's synthesized Terraform JSON
 * (`TerraformStack.toTerraform()`: snake_case keys, references already rendered as plain
 * `${type.name.attr}` strings). Rules therefore also catch raw provider resources that did not go
 * through the hardened-service kit.
 *
 * A rule returns the list of problems it found ("what is wrong", one string each); an empty list
 * means the resource complies. The aspect in `policy-aspect.ts` turns problems into findings and
 * annotations:
 *
 *   [<rule-id>] <problem> — <why>. Fix: <fix>
 *
 * Rules may rely on the labels the service kit puts on every container (`LABELS` below); the
 * `required-labels` rule makes sure they are there, so a raw container cannot slip past the
 * label-based rules by simply having no labels.
 */

export type Environment = "dev" | "test" | "prod";
export type Severity = "error" | "warning";
/** Severity of a rule per environment; "off" = the rule does not apply in that environment. */
export type SeverityByEnvironment = Readonly<Record<Environment, Severity | "off">>;

export type ResourceType =
  | "docker_container"
  | "docker_volume"
  | "docker_network"
  | "docker_image"
  | "docker_service";

/** Synthesized Terraform JSON of one stack (the shape `TerraformStack.toTerraform()` returns). */
export interface TerraformJson {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
  readonly [key: string]: unknown;
}

export interface RuleContext {
  readonly environment: Environment;
  readonly stackJson: TerraformJson;
}

export interface PolicyRule {
  /** kebab-case, stable: suppressions and docs refer to it. */
  readonly id: string;
  readonly severity: SeverityByEnvironment;
  /** One line, what the rule demands. */
  readonly title: string;
  /** Why it matters (no trailing period: the message adds it). */
  readonly why: string;
  /** How to fix it (a full sentence). */
  readonly fix: string;
  readonly appliesTo: ResourceType;
  /** Problems found on one resource of type `appliesTo`; empty when compliant. */
  check(resource: Record<string, unknown>, ctx: RuleContext): string[];
}

/** Labels set by the service kit on every container. */
export const LABELS = {
  project: "io.updateio.project",
  environment: "io.updateio.environment",
  service: "io.updateio.service",
  component: "io.updateio.component",
  role: "io.updateio.role",
  ephemeral: "io.updateio.ephemeral",
} as const;

export const COMPONENTS = ["edge", "app", "data", "job", "seed", "proxy", "observability"] as const;
export type Component = (typeof COMPONENTS)[number];

export const DOCKER_SOCKET_PROXY_ROLE = "docker-socket-proxy";

const everywhere = (severity: Severity): SeverityByEnvironment => ({ dev: severity, test: severity, prod: severity });

// ---------------------------------------------------------------------------------------------
// Helpers over the JSON (exported for tests and for the review report)
// ---------------------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A nested block may be rendered as an object (max-1 blocks) or as a list: always get a list. */
export function blocks(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.filter(isRecord);
  if (isRecord(value)) return [value];
  return [];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** True for a string that still contains a Terraform expression (`${...}`). */
export function isExpression(value: unknown): value is string {
  return typeof value === "string" && value.includes("${");
}

/** `labels` is a list of `{label, value}` (not a map) on containers, volumes and networks. */
export function labelsOf(resource: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of blocks(resource.labels)) {
    if (typeof entry.label === "string") out.set(entry.label, typeof entry.value === "string" ? entry.value : String(entry.value));
  }
  return out;
}

export interface ResourceRef {
  readonly type: string;
  readonly name: string;
  readonly attribute: string;
}

/** Parse a whole-string reference such as `${docker_network.svc_net_1234.name}`. */
export function parseRef(value: unknown): ResourceRef | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^\$\{([a-z][a-z0-9_]*)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)(?:\[[^\]]*\])?\}$/.exec(value.trim());
  if (!m || m[1] === "data" || m[1] === "var" || m[1] === "local") return undefined;
  return { type: m[1]!, name: m[2]!, attribute: m[3]! };
}

function resourcesOf(json: TerraformJson, type: string): Record<string, Record<string, unknown>> {
  const byType = json.resource?.[type];
  return isRecord(byType) ? (byType as Record<string, Record<string, unknown>>) : {};
}

/** Containers with `start: false` never run: they only receive `upload`s into named volumes. */
export function isSeedContainer(container: Record<string, unknown>): boolean {
  return container.start === false;
}

function componentOf(container: Record<string, unknown>): string | undefined {
  return labelsOf(container).get(LABELS.component);
}

function containerName(container: Record<string, unknown>): string {
  return typeof container.name === "string" ? `container "${container.name}"` : "container";
}

/** Names of `dynamic` blocks (TerraformIterator): their content cannot be checked at synth time. */
function dynamicBlocks(resource: Record<string, unknown>, names: readonly string[]): string[] {
  const dyn = resource.dynamic;
  if (!isRecord(dyn)) return [];
  return names.filter((n) => n in dyn).map((n) => `${n} is built by a dynamic block, which the policy cannot check at synth time`);
}

// ---------------------------------------------------------------------------------------------
// Rules: one function each
// ---------------------------------------------------------------------------------------------

export function checkMemoryLimit(c: Record<string, unknown>): string[] {
  const memory = c.memory;
  if (isExpression(memory)) return []; // e.g. ${var.x}: validated where it is declared
  if (typeof memory === "number" && memory > 0) return [];
  return [`${containerName(c)} has no memory limit (memory = ${memory === undefined ? "unset" : JSON.stringify(memory)})`];
}

const RESTART_POLICIES = ["unless-stopped", "always", "on-failure"];
export function checkRestartPolicy(c: Record<string, unknown>): string[] {
  if (isSeedContainer(c)) return [];
  const restart = c.restart;
  if (typeof restart === "string" && RESTART_POLICIES.includes(restart)) return [];
  return [`${containerName(c)} has restart = ${restart === undefined ? "unset (Docker default: no)" : JSON.stringify(restart)}`];
}

export function checkHealthcheck(c: Record<string, unknown>): string[] {
  if (isSeedContainer(c)) return [];
  const hc = blocks(c.healthcheck)[0];
  if (!hc) return [`${containerName(c)} has no healthcheck`];
  const test = strings(hc.test);
  if (test.length === 0) return [`${containerName(c)} has a healthcheck with an empty test`];
  if (test[0]!.toUpperCase() === "NONE") return [`${containerName(c)} disables the image's healthcheck (test = ["NONE"])`];
  return [];
}

const ROTATING_LOG_DRIVERS = ["json-file", "local"];
export function checkLogRotation(c: Record<string, unknown>): string[] {
  const driver = c.log_driver;
  if (typeof driver !== "string" || !ROTATING_LOG_DRIVERS.includes(driver)) {
    return [`${containerName(c)} has log_driver = ${driver === undefined ? "unset (daemon default)" : JSON.stringify(driver)}`];
  }
  const opts = isRecord(c.log_opts) ? c.log_opts : {};
  const problems: string[] = [];
  for (const key of ["max-size", "max-file"]) {
    const v = opts[key];
    if (typeof v !== "string" || v.trim() === "") problems.push(`${containerName(c)} does not set log_opts["${key}"]`);
  }
  return problems;
}

export function checkNotPrivileged(c: Record<string, unknown>): string[] {
  return c.privileged === true || c.privileged === "true" ? [`${containerName(c)} runs privileged`] : [];
}

/** Capabilities that give (close to) root on the host even after `drop: ["ALL"]`. */
export const DANGEROUS_CAPABILITIES = ["ALL", "SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "DAC_READ_SEARCH", "NET_ADMIN", "BPF"];
export function checkCapabilitiesDropped(c: Record<string, unknown>): string[] {
  const caps = blocks(c.capabilities)[0] ?? {};
  const norm = (s: string) => s.toUpperCase().replace(/^CAP_/, "");
  const problems: string[] = [];
  if (!strings(caps.drop).map(norm).includes("ALL")) problems.push(`${containerName(c)} does not drop ALL capabilities`);
  const dangerous = strings(caps.add).map(norm).filter((cap) => DANGEROUS_CAPABILITIES.includes(cap));
  if (dangerous.length > 0) problems.push(`${containerName(c)} adds back ${dangerous.join(", ")}`);
  return problems;
}

export function checkNoNewPrivileges(c: Record<string, unknown>): string[] {
  const ok = strings(c.security_opts).some((o) => /^no-new-privileges(?:[:=]true)?$/i.test(o.trim()));
  return ok ? [] : [`${containerName(c)} does not set security_opts "no-new-privileges:true"`];
}

const LOOPBACK = ["127.0.0.1", "::1"];
const EDGE_PORTS = [80, 443];
export function checkPublishedPorts(c: Record<string, unknown>, ctx: RuleContext): string[] {
  const problems: string[] = dynamicBlocks(c, ["ports"]);
  const isEdge = componentOf(c) === "edge";
  if (c.publish_all_ports === true) problems.push(`${containerName(c)} sets publish_all_ports`);
  const ports = blocks(c.ports);
  if (ctx.environment === "prod") {
    if (!isEdge && ports.length > 0) {
      problems.push(`${containerName(c)} publishes ports ${ports.map((p) => p.internal).join(", ")} but is not the edge (component "${componentOf(c) ?? "unlabelled"}")`);
    }
    if (isEdge) {
      for (const p of ports) {
        if (!EDGE_PORTS.includes(Number(p.internal))) problems.push(`edge ${containerName(c)} publishes port ${p.internal} (only 80 and 443 may be published in prod)`);
      }
    }
    return problems;
  }
  if (!isEdge) {
    for (const p of ports) {
      const ip = typeof p.ip === "string" ? p.ip : undefined;
      if (!ip || !LOOPBACK.includes(ip)) {
        problems.push(`${containerName(c)} publishes port ${p.internal}${p.external !== undefined ? ` as ${p.external}` : ""} on ${ip ?? "all interfaces (ip unset = 0.0.0.0)"}`);
      }
    }
  }
  return problems;
}

export function checkReadOnlyRootfs(c: Record<string, unknown>): string[] {
  // Seed containers take uploads, which Docker refuses on a read-only rootfs; they never run.
  if (isSeedContainer(c)) return [];
  return c.read_only === true ? [] : [`${containerName(c)} has a writable root filesystem (read_only not true)`];
}

export function isRootUser(user: string): boolean {
  const u = user.trim();
  return u === "" || u === "root" || u === "0" || u.startsWith("0:") || u.startsWith("root:");
}
export function checkNonRoot(c: Record<string, unknown>): string[] {
  const user = c.user;
  if (typeof user !== "string") return [`${containerName(c)} does not set user (runs as the image's user, often root)`];
  if (isExpression(user)) return [];
  return isRootUser(user) ? [`${containerName(c)} runs as root (user = "${user}")`] : [];
}

const DIGEST = /@sha256:[0-9a-f]{64}$/;
/** True when an image reference is pinned by digest (`name[:tag]@sha256:<64 hex>`). */
export function isPinnedByDigest(image: string): boolean {
  return DIGEST.test(image.trim());
}
export function checkImageDigest(c: Record<string, unknown>, ctx: RuleContext): string[] {
  const image = c.image;
  if (typeof image !== "string" || image.trim() === "") return [`${containerName(c)} has no image`];
  const ref = parseRef(image);
  if (ref && ref.type === "docker_image") {
    const img = resourcesOf(ctx.stackJson, "docker_image")[ref.name];
    if (!img) return [`${containerName(c)} uses docker_image.${ref.name}, which is not in this stack`];
    if (blocks(img.build).length > 0) return [`${containerName(c)} uses docker_image.${ref.name}, which is built locally from source (not pinned)`];
    const name = img.name;
    if (typeof name !== "string" || isExpression(name)) return [`${containerName(c)} uses docker_image.${ref.name} whose name is not a literal and cannot be checked for a digest`];
    return isPinnedByDigest(name) ? [] : [`${containerName(c)} uses image "${name}", which is not pinned by digest`];
  }
  if (isExpression(image)) return [`${containerName(c)} has image ${image}, which cannot be checked for a digest`];
  return isPinnedByDigest(image) ? [] : [`${containerName(c)} uses image "${image}", which is not pinned by digest`];
}

const SOCKET_PATHS = ["/var/run/docker.sock", "/run/docker.sock"];
/** Host directories that contain the Docker socket: mounting them exposes it too. */
const SOCKET_PARENTS = ["/", "/var", "/var/run", "/run"];
function normalizeHostPath(p: string): string {
  const collapsed = p.trim().replace(/\/+/g, "/");
  return collapsed.length > 1 ? collapsed.replace(/\/$/, "") : collapsed;
}
export function exposesDockerSocket(hostPath: string): boolean {
  const p = normalizeHostPath(hostPath);
  return SOCKET_PATHS.includes(p) || SOCKET_PARENTS.includes(p) || p.endsWith("/docker.sock");
}
export function checkNoDockerSocket(c: Record<string, unknown>): string[] {
  const problems: string[] = dynamicBlocks(c, ["volumes", "mounts"]);
  const isProxy = labelsOf(c).get(LABELS.role) === DOCKER_SOCKET_PROXY_ROLE;
  const binds: { hostPath: string; readOnly: boolean }[] = [];
  for (const v of blocks(c.volumes)) {
    if (typeof v.host_path === "string") binds.push({ hostPath: v.host_path, readOnly: v.read_only === true });
  }
  for (const m of blocks(c.mounts)) {
    if (typeof m.source === "string" && (m.type === "bind" || m.type === undefined)) binds.push({ hostPath: m.source, readOnly: m.read_only === true });
  }
  for (const b of binds) {
    if (!exposesDockerSocket(b.hostPath)) continue;
    const isSocketItself = SOCKET_PATHS.includes(normalizeHostPath(b.hostPath)) || normalizeHostPath(b.hostPath).endsWith("/docker.sock");
    if (isProxy && b.readOnly && isSocketItself) continue;
    problems.push(
      isProxy
        ? `docker socket proxy ${containerName(c)} mounts "${b.hostPath}"${b.readOnly ? "" : " read-write"}${isSocketItself ? "" : " (a whole directory that contains the socket)"}`
        : `${containerName(c)} mounts "${b.hostPath}", which exposes the Docker socket`,
    );
  }
  return problems;
}

const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIAL|COOKIE)/i;
const URL_CREDENTIALS = /[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:[^/\s@]+@/i;
const RANDOM_PASSWORD_REF = /\$\{[^}]*random_password\./;
/** True when an env var NAME looks like it carries a secret (and is not a `*_FILE` pointer). */
export function isSecretEnvName(name: string): boolean {
  return SECRET_NAME.test(name) && !/_FILE$/i.test(name);
}
export function checkNoSecretLiteralEnv(c: Record<string, unknown>): string[] {
  const problems: string[] = [];
  if (isExpression(c.env)) problems.push(`${containerName(c)} has env built from an expression, which cannot be checked`);
  for (const entry of strings(c.env)) {
    const eq = entry.indexOf("=");
    const name = eq === -1 ? entry : entry.slice(0, eq);
    const value = eq === -1 ? "" : entry.slice(eq + 1);
    if (isSecretEnvName(name)) problems.push(`${containerName(c)} sets secret-looking env var ${name} directly`);
    else if (RANDOM_PASSWORD_REF.test(value)) problems.push(`${containerName(c)} puts a random_password into env var ${name}`);
    else if (URL_CREDENTIALS.test(value)) problems.push(`${containerName(c)} has credentials inside the URL in env var ${name}`);
  }
  return problems;
}

export function checkNoUploadOnReadOnly(c: Record<string, unknown>): string[] {
  const uploads = blocks(c.upload);
  if (c.read_only === true && uploads.length > 0) {
    const files = uploads.map((u) => u.file).filter((f) => typeof f === "string");
    return [`${containerName(c)} is read_only but takes ${uploads.length} upload(s)${files.length ? ` (${files.join(", ")})` : ""}`];
  }
  return [];
}

export function checkDataInternalNetworks(c: Record<string, unknown>, ctx: RuleContext): string[] {
  if (componentOf(c) !== "data") return [];
  const problems: string[] = dynamicBlocks(c, ["networks_advanced"]);
  const mode = typeof c.network_mode === "string" ? c.network_mode : undefined;
  if (mode && ["host", "bridge", "default"].includes(mode)) problems.push(`data ${containerName(c)} uses network_mode "${mode}"`);
  else if (mode?.startsWith("container:")) problems.push(`data ${containerName(c)} shares the network of ${mode}, which the policy cannot check`);
  const networks = resourcesOf(ctx.stackJson, "docker_network");
  const attached = blocks(c.networks_advanced);
  if (attached.length === 0 && mode !== "none" && problems.length === 0) {
    problems.push(`data ${containerName(c)} attaches to no declared network (it lands on Docker's default bridge)`);
  }
  for (const n of attached) {
    const ref = parseRef(n.name);
    let key: string | undefined;
    if (ref && ref.type === "docker_network") key = ref.name;
    else if (typeof n.name === "string" && !isExpression(n.name)) {
      const literal = n.name;
      key = Object.keys(networks).find((k) => networks[k]!.name === literal);
      if (!key) {
        problems.push(`data ${containerName(c)} attaches to network "${literal}", which is not declared in this stack`);
        continue;
      }
    } else {
      problems.push(`data ${containerName(c)} attaches to network ${String(n.name)}, which cannot be resolved to a docker_network of this stack`);
      continue;
    }
    const net = networks[key];
    if (!net) problems.push(`data ${containerName(c)} attaches to docker_network.${key}, which is not in this stack`);
    else if (net.internal !== true) problems.push(`data ${containerName(c)} attaches to network ${typeof net.name === "string" ? `"${net.name}"` : key}, which is not internal`);
  }
  return problems;
}

export function checkProdVolumeProtected(v: Record<string, unknown>): string[] {
  if (labelsOf(v).get(LABELS.ephemeral) === "true") return [];
  const lifecycle = blocks(v.lifecycle)[0];
  if (lifecycle?.prevent_destroy === true) return [];
  return [`volume ${typeof v.name === "string" ? `"${v.name}" ` : ""}is not protected by lifecycle.prevent_destroy`];
}

const HOST_NAMESPACE_KEYS = ["network_mode", "pid_mode", "ipc_mode", "userns_mode", "cgroupns_mode"];
export function checkNoHostNamespaces(c: Record<string, unknown>): string[] {
  return HOST_NAMESPACE_KEYS.filter((k) => c[k] === "host").map((k) => `${containerName(c)} sets ${k} = "host"`);
}

export function checkNoUnconfinedProfiles(c: Record<string, unknown>): string[] {
  return strings(c.security_opts)
    .filter((o) => /^(seccomp|apparmor|label)[:=](unconfined|disable)$/i.test(o.trim()) || /^systempaths[:=]unconfined$/i.test(o.trim()))
    .map((o) => `${containerName(c)} sets security_opts "${o}"`);
}

export function checkRequiredLabels(c: Record<string, unknown>, ctx: RuleContext): string[] {
  const labels = labelsOf(c);
  const problems: string[] = [];
  const project = labels.get(LABELS.project);
  if (project !== "updateio") problems.push(`${containerName(c)} has ${LABELS.project} = ${project === undefined ? "unset" : `"${project}"`} (expected "updateio")`);
  const env = labels.get(LABELS.environment);
  if (env !== ctx.environment) problems.push(`${containerName(c)} has ${LABELS.environment} = ${env === undefined ? "unset" : `"${env}"`} in the ${ctx.environment} stack`);
  if (!labels.get(LABELS.service)) problems.push(`${containerName(c)} has no ${LABELS.service} label`);
  const component = labels.get(LABELS.component);
  if (!component || !(COMPONENTS as readonly string[]).includes(component)) {
    problems.push(`${containerName(c)} has ${LABELS.component} = ${component === undefined ? "unset" : `"${component}"`} (expected one of ${COMPONENTS.join(", ")})`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The rule table
// ---------------------------------------------------------------------------------------------

export const memoryLimit: PolicyRule = {
  id: "memory-limit",
  severity: everywhere("error"),
  title: "Every container has a memory limit",
  why: "without a limit one container can exhaust the host's memory and the kernel OOM killer then picks its victims, possibly the database",
  fix: "set `memory` (MB) to a value sized for the service.",
  appliesTo: "docker_container",
  check: checkMemoryLimit,
};

export const restartPolicy: PolicyRule = {
  id: "restart-policy",
  severity: everywhere("error"),
  title: "Running containers restart on failure",
  why: "with Docker's default (no) a crashed service or a host reboot leaves the service down until someone notices",
  fix: 'set `restart` to "unless-stopped" (or "always"/"on-failure"); seed containers (start = false) are exempt.',
  appliesTo: "docker_container",
  check: checkRestartPolicy,
};

export const healthcheck: PolicyRule = {
  id: "healthcheck",
  severity: everywhere("error"),
  title: "Running containers have a healthcheck",
  why: "without one Docker reports a hung service as running, `wait = true` cannot work and dependants start against a dead upstream",
  fix: 'add `healthcheck.test` (["CMD", ...] or ["CMD-SHELL", ...]) with Go-form durations such as "30s".',
  appliesTo: "docker_container",
  check: checkHealthcheck,
};

export const logRotation: PolicyRule = {
  id: "log-rotation",
  severity: everywhere("error"),
  title: "Container logs rotate (json-file/local with max-size and max-file)",
  why: "unrotated logs grow until the host disk is full, which stops every service on it, and the log shipper reads json-file logs",
  fix: 'set `log_driver` = "json-file" and `log_opts` { "max-size": "10m", "max-file": "3" }.',
  appliesTo: "docker_container",
  check: checkLogRotation,
};

export const notPrivileged: PolicyRule = {
  id: "not-privileged",
  severity: everywhere("error"),
  title: "No privileged containers",
  why: "a privileged container has every capability and every host device: escaping it is trivial and it owns the host",
  fix: "remove `privileged`; add back only the single capability the service needs.",
  appliesTo: "docker_container",
  check: checkNotPrivileged,
};

export const capabilitiesDropped: PolicyRule = {
  id: "capabilities-dropped",
  severity: everywhere("error"),
  title: "Containers drop ALL capabilities and add back none that amount to root",
  why: "Docker's default capability set (and SYS_ADMIN, NET_ADMIN, SYS_PTRACE ...) lets a compromised process attack the host and its neighbours",
  fix: 'set `capabilities.drop` = ["ALL"] and add back only narrow ones (e.g. NET_BIND_SERVICE, CHOWN, SETUID/SETGID for images that drop privileges).',
  appliesTo: "docker_container",
  check: checkCapabilitiesDropped,
};

export const noNewPrivileges: PolicyRule = {
  id: "no-new-privileges",
  severity: everywhere("error"),
  title: "Containers set no-new-privileges",
  why: "without it setuid binaries in the image can regain privileges the container dropped",
  fix: 'add "no-new-privileges:true" to `security_opts`.',
  appliesTo: "docker_container",
  check: checkNoNewPrivileges,
};

export const publishedPorts: PolicyRule = {
  id: "published-ports",
  severity: everywhere("error"),
  title: "Only the edge publishes ports (80/443 in prod); elsewhere only on loopback",
  why: "every published port is reachable from the network (Docker bypasses the host firewall), so databases and admin UIs would be exposed directly",
  fix: 'route traffic through the edge proxy; in dev/test bind extra ports with `ip` = "127.0.0.1"; in prod publish only 80/443 on the edge container.',
  appliesTo: "docker_container",
  check: checkPublishedPorts,
};

export const readOnlyRootfs: PolicyRule = {
  id: "read-only-rootfs",
  severity: everywhere("error"),
  title: "Running containers have a read-only root filesystem",
  why: "a writable rootfs lets an attacker persist tools and modify binaries, and hides state that is lost on replacement",
  fix: "set `read_only` = true and give the service tmpfs/named volumes for the paths it writes; seed containers (start = false) are exempt.",
  appliesTo: "docker_container",
  check: checkReadOnlyRootfs,
};

export const nonRoot: PolicyRule = {
  id: "non-root",
  severity: everywhere("error"),
  title: "Containers run as a non-root user",
  why: "root in the container is root on the host's kernel: any escape or writable mount becomes host root",
  fix: 'set `user` to the image\'s unprivileged uid:gid (e.g. "999:999" for postgres, "1000:1000").',
  appliesTo: "docker_container",
  check: checkNonRoot,
};

export const imageDigest: PolicyRule = {
  id: "image-digest",
  severity: { dev: "warning", test: "warning", prod: "error" },
  title: "Images are pinned by digest (error in prod, warning elsewhere)",
  why: "a tag can be moved and an image that exists locally is never pulled again, so what runs is neither reproducible nor reviewable",
  fix: 'pin the docker_image name as "repo:tag@sha256:<digest>" (locally built images are for dev only).',
  appliesTo: "docker_container",
  check: checkImageDigest,
};

export const noDockerSocket: PolicyRule = {
  id: "no-docker-socket",
  severity: everywhere("error"),
  title: "Nobody mounts the Docker socket except the read-only socket proxy",
  why: "access to the Docker socket is root on the host (start a privileged container, mount /)",
  fix: `read Docker metadata through the socket proxy (label ${LABELS.role} = "${DOCKER_SOCKET_PROXY_ROLE}", socket mounted read-only, API filtered); never mount the socket or its directory elsewhere.`,
  appliesTo: "docker_container",
  check: checkNoDockerSocket,
};

export const noSecretLiteralEnv: PolicyRule = {
  id: "no-secret-literal-env",
  severity: everywhere("error"),
  title: "No secrets in environment variables",
  why: "env vars show up in `docker inspect`, in crash dumps and in child processes, and literal ones also land in the synthesized JSON",
  fix: "deliver the secret as a file (upload into a seed-filled volume) and pass its path in a *_FILE variable; build connection URLs inside the service.",
  appliesTo: "docker_container",
  check: checkNoSecretLiteralEnv,
};

export const noUploadOnReadOnly: PolicyRule = {
  id: "no-upload-on-read-only",
  severity: everywhere("error"),
  title: "No uploads into a read-only container",
  why: 'Docker refuses to copy files into a read-only rootfs ("container rootfs is marked read-only"), even onto a mounted volume, so apply fails',
  fix: "upload into a seed container (start = false) that mounts a named volume, and mount that volume read-only in the hardened container.",
  appliesTo: "docker_container",
  check: checkNoUploadOnReadOnly,
};

export const dataInternalNetworks: PolicyRule = {
  id: "data-internal-networks",
  severity: everywhere("error"),
  title: "Data containers attach only to internal networks",
  why: "a data store on a non-internal network can reach (and be reached from) outside, e.g. to exfiltrate data",
  fix: "attach data containers only to docker_network resources with `internal` = true, never to host/bridge networking.",
  appliesTo: "docker_container",
  check: checkDataInternalNetworks,
};

export const prodVolumeProtected: PolicyRule = {
  id: "prod-volume-protected",
  severity: { dev: "off", test: "off", prod: "error" },
  title: "Prod volumes are protected against destroy",
  why: "every docker_volume attribute forces replacement and deleting a volume deletes its data, so one careless change would wipe a database",
  fix: `set \`lifecycle.prevent_destroy\` = true, or label the volume ${LABELS.ephemeral} = "true" if it only holds disposable data.`,
  appliesTo: "docker_volume",
  check: checkProdVolumeProtected,
};

export const noHostNamespaces: PolicyRule = {
  id: "no-host-namespaces",
  severity: everywhere("error"),
  title: "No host network/pid/ipc/userns/cgroup namespaces",
  why: "sharing a host namespace removes the isolation the other rules rely on (host network also publishes every port)",
  fix: 'remove `network_mode`/`pid_mode`/`ipc_mode`/`userns_mode`/`cgroupns_mode` = "host"; attach to our docker networks instead.',
  appliesTo: "docker_container",
  check: checkNoHostNamespaces,
};

export const noUnconfinedProfiles: PolicyRule = {
  id: "no-unconfined-profiles",
  severity: everywhere("error"),
  title: "No seccomp/AppArmor/SELinux opt-outs",
  why: "the default seccomp and AppArmor profiles block the syscalls most container escapes use",
  fix: 'remove "seccomp=unconfined", "apparmor=unconfined", "label=disable" and "systempaths=unconfined" from `security_opts`.',
  appliesTo: "docker_container",
  check: checkNoUnconfinedProfiles,
};

export const requiredLabels: PolicyRule = {
  id: "required-labels",
  severity: everywhere("error"),
  title: "Containers carry the UpdateIO labels",
  why: "other rules, the log shipper and the review report decide by these labels; an unlabelled container escapes them",
  fix: `create containers through the service kit, or set ${LABELS.project}, ${LABELS.environment}, ${LABELS.service} and ${LABELS.component}.`,
  appliesTo: "docker_container",
  check: checkRequiredLabels,
};

export const RULES: readonly PolicyRule[] = Object.freeze([
  memoryLimit,
  restartPolicy,
  healthcheck,
  logRotation,
  notPrivileged,
  capabilitiesDropped,
  noNewPrivileges,
  publishedPorts,
  readOnlyRootfs,
  nonRoot,
  imageDigest,
  noDockerSocket,
  noSecretLiteralEnv,
  noUploadOnReadOnly,
  dataInternalNetworks,
  prodVolumeProtected,
  noHostNamespaces,
  noUnconfinedProfiles,
  requiredLabels,
]);

export const RULE_IDS: readonly string[] = RULES.map((r) => r.id);

export function ruleById(id: string): PolicyRule | undefined {
  return RULES.find((r) => r.id === id);
}

/** Severity of a rule in an environment, or undefined when the rule does not apply there. */
export function severityOf(rule: PolicyRule, environment: Environment): Severity | undefined {
  const s = rule.severity[environment];
  return s === "off" ? undefined : s;
}

/** The pack of rules active in an environment, optionally only one severity ("a pack per severity"). */
export function rulesFor(environment: Environment, severity?: Severity): PolicyRule[] {
  return RULES.filter((r) => {
    const s = severityOf(r, environment);
    return s !== undefined && (severity === undefined || s === severity);
  });
}
