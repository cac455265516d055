/**
 * Translates one synthesized `docker_container` (Terraform JSON, snake_case keys) into the `docker`
 * CLI calls that set the same Engine API fields kreuzwerker/docker 3.6.2 sets in its create function
 * (resource_docker_container_funcs.go): `docker create`, then — as the provider does for
 * `networks_advanced` — `docker network disconnect bridge` and one `docker network connect` per network.
 *
 * Alongside the argv it computes, from the same JSON and the provider's mapping (MiB → bytes, Go
 * durations → nanoseconds, volume → "name:path:rw|ro" bind), the fields `docker inspect` must show.
 *
 * Anything it does not know throws, so a new setting cannot go untested. Three things are substituted
 * on purpose and listed in `notes`: the image (ours are not available), the process (command and
 * entrypoint), and — only when asked — published host ports.
 */

export type JsonObject = Record<string, unknown>;

/** The parts of a synthesized stack this module reads. */
export interface StackJson {
  readonly resource?: Record<string, Record<string, JsonObject>>;
}

export class UntranslatableError extends Error {
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = "UntranslatableError";
  }
}

export interface TranslateOptions {
  /** Local image used instead of the synthesized one. */
  readonly image: string;
  /** Process run instead of the synthesized command/entrypoint (the real binaries are not in the test image). */
  readonly command: readonly string[];
  /** Prefix for container, network and volume names, so a test never touches real resources. */
  readonly namePrefix: string;
  /** Maps a bind's `host_path` (for dev, a Terraform expression) to a real directory. Default: throw. */
  readonly hostPath?: (hostPath: string) => string;
  /**
   * "as-synthesized" (default) publishes exactly the synthesized ip:external:internal; "loopback-ephemeral"
   * publishes on 127.0.0.1 with a host port chosen by Docker (to start containers without taking 80/443).
   */
  readonly ports?: "as-synthesized" | "loopback-ephemeral";
  /** Extra flags a test adds on purpose (e.g. a sysctl that isolates what a capability does), placed before the image. */
  readonly extraFlags?: readonly string[];
}

export interface NetworkRef {
  /** Terraform resource key under docker_network. */
  readonly resource: string;
  /** Prefixed Docker name. */
  readonly name: string;
  readonly internal: boolean;
}

export interface VolumeRef {
  readonly resource: string;
  readonly name: string;
}

export interface Upload {
  readonly file: string;
  /** As synthesized: may hold Terraform expressions (secrets) that only apply resolves. */
  readonly content: string;
  readonly executable: boolean;
  /** Octal mode as the provider parses it ("0400"); the provider's default is 0644 / 0744 (executable). */
  readonly permissions?: string;
}

export interface NetworkConnect {
  readonly network: string;
  readonly aliases: readonly string[];
  /** argv after `docker`. */
  readonly args: readonly string[];
}

/** The Engine API fields `docker inspect` must show, as the provider would have set them. */
export interface EngineExpectation {
  readonly User: string;
  readonly Hostname?: string;
  readonly WorkingDir?: string;
  readonly Env: readonly string[];
  readonly Labels: Readonly<Record<string, string>>;
  readonly StopTimeout?: number;
  /** Healthcheck as the CLI sends it (see notes for exec-form tests), durations in nanoseconds. */
  readonly Healthcheck?: { Test: string[]; Interval: number; Timeout: number; StartPeriod: number; Retries: number };
  readonly ReadonlyRootfs: boolean;
  readonly Privileged: boolean;
  readonly CapAdd: readonly string[];
  readonly CapDrop: readonly string[];
  readonly SecurityOpt: readonly string[];
  readonly Memory: number;
  /** Undefined when memory_swap is not set: the engine then picks its default (2 × Memory with swap accounting). */
  readonly MemorySwap?: number;
  readonly CpuShares: number;
  /** CFS period and quota in µs (0 = not set): the provider sends them as written. */
  readonly CpuPeriod: number;
  readonly CpuQuota: number;
  /** As the provider sends them (ulimitsToDockerUlimits): name, soft, hard. */
  readonly Ulimits: readonly { Name: string; Soft: number; Hard: number }[];
  readonly ShmSize?: number;
  readonly LogConfig: { Type: string; Config: Record<string, string> };
  readonly Tmpfs: Readonly<Record<string, string>>;
  readonly RestartPolicy: { Name: string; MaximumRetryCount: number };
  readonly Sysctls: Readonly<Record<string, string>>;
  readonly Binds: readonly string[];
  /** "internal/proto" → host bindings; HostPort "" when remapped to an ephemeral port. */
  readonly PortBindings: Readonly<Record<string, { HostIp: string; HostPort: string }[]>>;
  readonly NetworkMode?: string;
  /** Prefixed network name → aliases. */
  readonly Networks: Readonly<Record<string, readonly string[]>>;
}

export interface ContainerPlan {
  /** Terraform address, e.g. docker_container.api_service_replica-1_C14540B2. */
  readonly address: string;
  readonly synthesizedName: string;
  /** Prefixed container name. */
  readonly name: string;
  /** argv after `docker`. */
  readonly createArgs: readonly string[];
  /** The provider disconnects the default bridge before connecting networks_advanced. */
  readonly disconnectDefaultBridge: boolean;
  readonly connects: readonly NetworkConnect[];
  readonly networks: readonly NetworkRef[];
  readonly volumes: readonly VolumeRef[];
  readonly uploads: readonly Upload[];
  /** Provider-side behaviour that has no Engine field at create. */
  readonly lifecycle: { readonly start: boolean; readonly mustRun: boolean; readonly attach: boolean };
  /** The synthesized user, before any test mapping. */
  readonly user: string;
  readonly tmpfs: Readonly<Record<string, string>>;
  readonly memoryMb: number;
  /** memory_swap as synthesized (0 = not set). */
  readonly memorySwapMb: number;
  readonly capAdd: readonly string[];
  /** Healthcheck durations as synthesized (the provider reads them back with Go's Duration.String). */
  readonly healthcheckStrings?: { readonly interval?: string; readonly timeout?: string; readonly start_period?: string };
  readonly expected: EngineExpectation;
  /** Where what the CLI sends differs from what the provider sends, and what was substituted. */
  readonly notes: readonly string[];
}

const MIB = 1024 * 1024;

/** Keys with no Engine field at create time: Terraform meta-arguments and provider-side behaviour. */
const PROVIDER_ONLY = new Set(["depends_on", "lifecycle", "must_run", "start", "attach", "logs", "wait", "wait_timeout", "upload"]);
const SUBSTITUTED = new Set(["image", "command", "entrypoint"]);
const TRANSLATED = new Set([
  "name",
  "hostname",
  "user",
  "working_dir",
  "env",
  "labels",
  "read_only",
  "privileged",
  "tmpfs",
  "capabilities",
  "security_opts",
  "memory",
  "memory_swap",
  "cpu_shares",
  "cpu_period",
  "cpu_quota",
  "ulimit",
  "shm_size",
  "log_driver",
  "log_opts",
  "sysctls",
  "healthcheck",
  "restart",
  "max_retry_count",
  "stop_timeout",
  "ports",
  "networks_advanced",
  "network_mode",
  "volumes",
]);

/** All docker_container resources of a stack, by Terraform key. */
export function containersOf(stack: StackJson): [string, JsonObject][] {
  return Object.entries(stack.resource?.docker_container ?? {});
}

export function translateContainer(stack: StackJson, key: string, options: TranslateOptions): ContainerPlan {
  const address = `docker_container.${key}`;
  const r = stack.resource?.docker_container?.[key];
  if (r === undefined) throw new UntranslatableError(address, "no such resource in the stack");
  const at = (k: string) => `${address}.${k}`;
  for (const k of Object.keys(r)) {
    if (!PROVIDER_ONLY.has(k) && !SUBSTITUTED.has(k) && !TRANSLATED.has(k)) {
      throw new UntranslatableError(
        at(k),
        "is not translated to docker flags yet; teach __tests__/engine/docker-cli.ts what Engine field the provider sets for it",
      );
    }
  }
  const notes: string[] = [];
  const args: string[] = ["create"];
  const flag = (name: string, value?: string) => (value === undefined ? args.push(name) : args.push(name, value));

  const synthesizedName = literal(at("name"), str(at("name"), r.name));
  const name = `${options.namePrefix}${synthesizedName}`;
  flag("--name", name);

  const hostname = r.hostname === undefined ? undefined : literal(at("hostname"), str(at("hostname"), r.hostname));
  if (hostname) flag("--hostname", hostname);
  const user = r.user === undefined ? "" : literal(at("user"), str(at("user"), r.user));
  if (user) flag("--user", user);
  const workingDir = r.working_dir === undefined ? undefined : literal(at("working_dir"), str(at("working_dir"), r.working_dir));
  if (workingDir) flag("--workdir", workingDir);

  const env = strList(at("env"), r.env ?? []).map((e, i) => {
    const v = literal(`${at("env")}[${i}]`, e);
    // `-e NAME` without "=" would copy NAME from the test's own environment.
    if (!/^[^=]+=/.test(v)) throw new UntranslatableError(`${at("env")}[${i}]`, `"${v}" has no "="`);
    flag("--env", v);
    return v;
  });

  const labels: Record<string, string> = {};
  objList(at("labels"), r.labels ?? []).forEach((l, i) => {
    const where = `${at("labels")}[${i}]`;
    onlyKeys(where, l, ["label", "value"]);
    const k = literal(`${where}.label`, str(`${where}.label`, l.label));
    const v = literal(`${where}.value`, str(`${where}.value`, l.value));
    if (k in labels) throw new UntranslatableError(where, `label ${k} is set twice`);
    labels[k] = v;
    flag("--label", `${k}=${v}`);
  });

  const readOnly = bool(at("read_only"), r.read_only ?? false);
  if (readOnly) flag("--read-only");
  const privileged = bool(at("privileged"), r.privileged ?? false);
  if (privileged) flag("--privileged");

  const tmpfs = strMap(at("tmpfs"), r.tmpfs ?? {});
  for (const [path, opts] of Object.entries(tmpfs)) {
    if (!path.startsWith("/") || path.includes(":"))
      throw new UntranslatableError(`${at("tmpfs")}["${path}"]`, "must be an absolute path without ':'");
    flag("--tmpfs", opts === "" ? path : `${path}:${opts}`);
  }

  let capAdd: string[] = [];
  let capDrop: string[] = [];
  if (r.capabilities !== undefined) {
    const caps = oneBlock(at("capabilities"), r.capabilities);
    onlyKeys(at("capabilities"), caps, ["add", "drop"]);
    capAdd = strList(at("capabilities.add"), caps.add ?? []).map((c) => literal(at("capabilities.add"), c));
    capDrop = strList(at("capabilities.drop"), caps.drop ?? []).map((c) => literal(at("capabilities.drop"), c));
    for (const c of capDrop) flag("--cap-drop", c);
    for (const c of capAdd) flag("--cap-add", c);
    if (capAdd.length > 0)
      notes.push("capabilities: the docker CLI sends CAP_-prefixed names (CAP_NET_BIND_SERVICE); the provider sends them as written");
  }

  const securityOpts = strList(at("security_opts"), r.security_opts ?? []).map((s) => literal(at("security_opts"), s));
  for (const s of securityOpts) flag("--security-opt", s);

  // The provider uses GetOk: a zero value means "not set".
  const memoryMb = int(at("memory"), r.memory ?? 0);
  if (memoryMb > 0) flag("--memory", `${memoryMb}m`);
  const swapMb = int(at("memory_swap"), r.memory_swap ?? 0);
  if (swapMb > 0) flag("--memory-swap", `${swapMb}m`);
  else if (swapMb === -1) flag("--memory-swap", "-1");
  else if (swapMb !== 0) throw new UntranslatableError(at("memory_swap"), `${swapMb} is neither a size in MiB nor -1`);
  const cpuShares = int(at("cpu_shares"), r.cpu_shares ?? 0);
  if (cpuShares > 0) flag("--cpu-shares", String(cpuShares));
  const cpuPeriod = int(at("cpu_period"), r.cpu_period ?? 0);
  if (cpuPeriod > 0) flag("--cpu-period", String(cpuPeriod));
  const cpuQuota = int(at("cpu_quota"), r.cpu_quota ?? 0);
  if (cpuQuota > 0) flag("--cpu-quota", String(cpuQuota));
  const ulimits = objList(at("ulimit"), r.ulimit ?? []).map((u, i) => {
    const where = `${at("ulimit")}[${i}]`;
    onlyKeys(where, u, ["name", "soft", "hard"]);
    const ul = {
      Name: literal(`${where}.name`, str(`${where}.name`, u.name)),
      Soft: int(`${where}.soft`, u.soft),
      Hard: int(`${where}.hard`, u.hard),
    };
    flag("--ulimit", `${ul.Name}=${ul.Soft}:${ul.Hard}`);
    return ul;
  });
  const shmMb = int(at("shm_size"), r.shm_size ?? 0);
  if (shmMb > 0) flag("--shm-size", `${shmMb}m`);

  const logDriver = r.log_driver === undefined ? "" : literal(at("log_driver"), str(at("log_driver"), r.log_driver));
  if (logDriver) flag("--log-driver", logDriver);
  const logOpts = strMap(at("log_opts"), r.log_opts ?? {});
  for (const [k, v] of Object.entries(logOpts)) flag("--log-opt", `${k}=${v}`);

  const sysctls = strMap(at("sysctls"), r.sysctls ?? {});
  for (const [k, v] of Object.entries(sysctls)) flag("--sysctl", `${k}=${v}`);

  let healthcheck: EngineExpectation["Healthcheck"];
  let healthcheckStrings: ContainerPlan["healthcheckStrings"];
  if (r.healthcheck !== undefined) {
    const hc = oneBlock(at("healthcheck"), r.healthcheck);
    onlyKeys(at("healthcheck"), hc, ["test", "interval", "timeout", "start_period", "retries"]);
    const test = strList(at("healthcheck.test"), hc.test ?? []).map((t) => literal(at("healthcheck.test"), t));
    const duration = (k: string) => (hc[k] === undefined ? 0 : parseGoDuration(at(`healthcheck.${k}`), str(at(`healthcheck.${k}`), hc[k])));
    const interval = duration("interval");
    const timeout = duration("timeout");
    const startPeriod = duration("start_period");
    const retries = int(at("healthcheck.retries"), hc.retries ?? 0);
    let cliTest: string[];
    if (test[0] === "NONE") {
      flag("--no-healthcheck");
      cliTest = ["NONE"];
    } else {
      if (test[0] === "CMD-SHELL") {
        if (test.length !== 2) throw new UntranslatableError(at("healthcheck.test"), "CMD-SHELL takes exactly one command string");
        cliTest = ["CMD-SHELL", test[1]!];
      } else if (test[0] === "CMD" && test.length > 1) {
        // `--health-cmd` always makes a CMD-SHELL test; the exec form cannot be written as a flag.
        cliTest = ["CMD-SHELL", shellJoin(test.slice(1))];
        notes.push(
          'healthcheck: exec-form ["CMD", ...] sent as its shell-quoted CMD-SHELL equivalent (the docker CLI cannot express the exec form; the provider sends it unchanged)',
        );
      } else {
        throw new UntranslatableError(at("healthcheck.test"), `must start with "CMD", "CMD-SHELL" or "NONE", got ${JSON.stringify(test)}`);
      }
      flag("--health-cmd", cliTest[1]!);
      if (hc.interval !== undefined) flag("--health-interval", str(at("healthcheck.interval"), hc.interval));
      if (hc.timeout !== undefined) flag("--health-timeout", str(at("healthcheck.timeout"), hc.timeout));
      if (hc.start_period !== undefined) flag("--health-start-period", str(at("healthcheck.start_period"), hc.start_period));
      if (hc.retries !== undefined) flag("--health-retries", String(retries));
    }
    healthcheck = { Test: cliTest, Interval: interval, Timeout: timeout, StartPeriod: startPeriod, Retries: retries };
    healthcheckStrings = {
      interval: hc.interval === undefined ? undefined : str(at("healthcheck.interval"), hc.interval),
      timeout: hc.timeout === undefined ? undefined : str(at("healthcheck.timeout"), hc.timeout),
      start_period: hc.start_period === undefined ? undefined : str(at("healthcheck.start_period"), hc.start_period),
    };
  }

  const restart = r.restart === undefined ? "no" : literal(at("restart"), str(at("restart"), r.restart));
  const maxRetry = int(at("max_retry_count"), r.max_retry_count ?? 0);
  flag("--restart", maxRetry > 0 ? `${restart}:${maxRetry}` : restart);
  const stopTimeout = r.stop_timeout === undefined ? undefined : int(at("stop_timeout"), r.stop_timeout);
  if (stopTimeout !== undefined && stopTimeout !== 0) flag("--stop-timeout", String(stopTimeout));

  const portMode = options.ports ?? "as-synthesized";
  const portBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  objList(at("ports"), r.ports ?? []).forEach((p, i) => {
    const where = `${at("ports")}[${i}]`;
    onlyKeys(where, p, ["internal", "external", "ip", "protocol"]);
    const internal = int(`${where}.internal`, p.internal);
    const external = p.external === undefined ? 0 : int(`${where}.external`, p.external);
    const ip = p.ip === undefined ? "0.0.0.0" : literal(`${where}.ip`, str(`${where}.ip`, p.ip));
    const protocol = p.protocol === undefined ? "tcp" : literal(`${where}.protocol`, str(`${where}.protocol`, p.protocol));
    const port = `${internal}/${protocol}`;
    const binding =
      portMode === "loopback-ephemeral"
        ? { HostIp: "127.0.0.1", HostPort: "" }
        : { HostIp: ip, HostPort: external === 0 ? "" : String(external) };
    (portBindings[port] ??= []).push(binding);
    flag("--publish", `${binding.HostIp.includes(":") ? `[${binding.HostIp}]` : binding.HostIp}:${binding.HostPort}:${port}`);
  });
  if (portMode === "loopback-ephemeral" && Object.keys(portBindings).length > 0)
    notes.push("ports: published on 127.0.0.1 with an ephemeral host port instead of the synthesized ip:external");

  const networkMode = r.network_mode === undefined ? undefined : literal(at("network_mode"), str(at("network_mode"), r.network_mode));
  if (networkMode) flag("--network", networkMode);

  const networks: NetworkRef[] = [];
  const connects: NetworkConnect[] = [];
  const expectedNetworks: Record<string, string[]> = {};
  objList(at("networks_advanced"), r.networks_advanced ?? []).forEach((n, i) => {
    const where = `${at("networks_advanced")}[${i}]`;
    onlyKeys(where, n, ["name", "aliases"]);
    const ref = networkRef(stack, `${where}.name`, str(`${where}.name`, n.name), options.namePrefix);
    if (ref.name in expectedNetworks) throw new UntranslatableError(where, `network ${ref.name} is attached twice`);
    const aliases = strList(`${where}.aliases`, n.aliases ?? []).map((a) => literal(`${where}.aliases`, a));
    networks.push(ref);
    expectedNetworks[ref.name] = aliases;
    connects.push({ network: ref.name, aliases, args: ["network", "connect", ...aliases.flatMap((a) => ["--alias", a]), ref.name, name] });
  });

  const volumes: VolumeRef[] = [];
  const binds: string[] = [];
  objList(at("volumes"), r.volumes ?? []).forEach((v, i) => {
    const where = `${at("volumes")}[${i}]`;
    onlyKeys(where, v, ["volume_name", "host_path", "container_path", "read_only"]);
    const containerPath = literal(`${where}.container_path`, str(`${where}.container_path`, v.container_path));
    const mode = bool(`${where}.read_only`, v.read_only ?? false) ? "ro" : "rw";
    let source: string;
    if (v.volume_name !== undefined && v.host_path !== undefined)
      throw new UntranslatableError(where, "sets both volume_name and host_path");
    if (v.volume_name !== undefined) {
      const ref = volumeRef(stack, `${where}.volume_name`, str(`${where}.volume_name`, v.volume_name), options.namePrefix);
      volumes.push(ref);
      source = ref.name;
    } else if (v.host_path !== undefined) {
      const raw = str(`${where}.host_path`, v.host_path);
      if (!options.hostPath) throw new UntranslatableError(`${where}.host_path`, `${raw} needs a hostPath mapping in the test`);
      source = options.hostPath(raw);
      if (!source.startsWith("/")) throw new UntranslatableError(`${where}.host_path`, `mapped to "${source}", which is not absolute`);
      notes.push(`volumes: host_path ${raw} mapped to ${source}`);
    } else {
      throw new UntranslatableError(where, "anonymous volumes (container_path only) are not used by our constructs; translate them first");
    }
    // volumeSetToDockerVolumes: "<volume_name|host_path>:<container_path>:<rw|ro>" in HostConfig.Binds.
    const bind = `${source}:${containerPath}:${mode}`;
    binds.push(bind);
    flag("--volume", bind);
  });

  const uploads: Upload[] = objList(at("upload"), r.upload ?? []).map((u, i) => {
    const where = `${at("upload")}[${i}]`;
    onlyKeys(where, u, ["file", "content", "executable", "permissions"]);
    const permissions = u.permissions === undefined ? undefined : str(`${where}.permissions`, u.permissions);
    if (permissions !== undefined && !/^0?[0-7]{3,4}$/.test(permissions))
      throw new UntranslatableError(`${where}.permissions`, `"${permissions}" is not an octal mode`);
    return {
      file: str(`${where}.file`, u.file),
      content: str(`${where}.content`, u.content),
      executable: bool(`${where}.executable`, u.executable ?? false),
      ...(permissions !== undefined ? { permissions } : {}),
    };
  });

  if (options.extraFlags && options.extraFlags.length > 0) {
    args.push(...options.extraFlags);
    notes.push(`extra flags added by the test: ${options.extraFlags.join(" ")}`);
  }

  // Substitutions: the image, and the process.
  if (typeof r.image !== "string") throw new UntranslatableError(at("image"), "must be a string");
  notes.push(`image: ${r.image} replaced by ${options.image}`);
  const entrypoint = r.entrypoint === undefined ? undefined : strList(at("entrypoint"), r.entrypoint);
  if (r.command !== undefined) strList(at("command"), r.command);
  if (options.command.length === 0) throw new UntranslatableError(address, "the test must give a command to run");
  if (entrypoint !== undefined && entrypoint.length > 0) {
    // The test image has no entrypoint; the synthesized one names a binary it does not have.
    flag("--entrypoint", options.command[0]!);
    args.push(options.image, ...options.command.slice(1));
  } else {
    args.push(options.image, ...options.command);
  }
  if (r.command !== undefined || entrypoint !== undefined) notes.push(`process: replaced by ${JSON.stringify(options.command)}`);

  const networkConnectsAfterCreate = connects.length > 0;
  return {
    address,
    synthesizedName,
    name,
    createArgs: args,
    disconnectDefaultBridge: networkConnectsAfterCreate && networkMode === undefined,
    connects,
    networks,
    volumes,
    uploads,
    lifecycle: {
      start: bool(at("start"), r.start ?? true),
      mustRun: bool(at("must_run"), r.must_run ?? true),
      attach: bool(at("attach"), r.attach ?? false),
    },
    user,
    tmpfs,
    memoryMb,
    memorySwapMb: swapMb,
    capAdd,
    healthcheckStrings,
    expected: {
      User: user,
      Hostname: hostname,
      WorkingDir: workingDir,
      Env: env,
      Labels: labels,
      StopTimeout: stopTimeout === 0 ? undefined : stopTimeout,
      Healthcheck: healthcheck,
      ReadonlyRootfs: readOnly,
      Privileged: privileged,
      CapAdd: capAdd,
      CapDrop: capDrop,
      SecurityOpt: securityOpts,
      Memory: memoryMb * MIB,
      MemorySwap: swapMb > 0 ? swapMb * MIB : swapMb === -1 ? -1 : undefined,
      CpuShares: cpuShares,
      CpuPeriod: cpuPeriod,
      CpuQuota: cpuQuota,
      Ulimits: ulimits,
      ShmSize: shmMb > 0 ? shmMb * MIB : undefined,
      LogConfig: { Type: logDriver, Config: logOpts },
      Tmpfs: tmpfs,
      RestartPolicy: { Name: restart, MaximumRetryCount: maxRetry },
      Sysctls: sysctls,
      Binds: binds,
      PortBindings: portBindings,
      NetworkMode: networkMode,
      Networks: expectedNetworks,
    },
    notes,
  };
}

/**
 * `docker network create` argv for a referenced network (same fields as the provider's docker_network). `subnet` maps a pinned subnet (ipam_config)
 * to the one this run uses, so concurrent runs of the same stack do not claim the same addresses.
 */
export function networkCreateArgs(
  stack: StackJson,
  resource: string,
  namePrefix: string,
  subnet: (cidr: string) => string = (c) => c,
): string[] {
  const where = `docker_network.${resource}`;
  const n = stack.resource?.docker_network?.[resource];
  if (n === undefined) throw new UntranslatableError(where, "no such resource in the stack");
  // lifecycle (ignore_changes on options) is Terraform-only.
  onlyKeys(where, n, ["name", "driver", "internal", "attachable", "options", "labels", "lifecycle", "ipam_config"]);
  const args = ["network", "create"];
  if (n.driver !== undefined) args.push("--driver", literal(`${where}.driver`, str(`${where}.driver`, n.driver)));
  if (bool(`${where}.internal`, n.internal ?? false)) args.push("--internal");
  // Overlay networks (Swarm stacks): plain containers join them only when attachable.
  if (bool(`${where}.attachable`, n.attachable ?? false)) args.push("--attachable");
  for (const [k, v] of Object.entries(strMap(`${where}.options`, n.options ?? {}))) args.push("--opt", `${k}=${v}`);
  objList(`${where}.ipam_config`, n.ipam_config ?? []).forEach((c, i) => {
    const at = `${where}.ipam_config[${i}]`;
    onlyKeys(at, c, ["subnet", "gateway"]);
    const mapped = subnet(literal(`${at}.subnet`, str(`${at}.subnet`, c.subnet)));
    args.push("--subnet", mapped);
    if (c.gateway !== undefined)
      args.push("--gateway", mappedGateway(mapped, literal(`${at}.gateway`, str(`${at}.gateway`, c.gateway)), c.subnet as string));
  });
  objList(`${where}.labels`, n.labels ?? []).forEach((l, i) => {
    onlyKeys(`${where}.labels[${i}]`, l, ["label", "value"]);
    args.push("--label", `${str(`${where}.labels[${i}].label`, l.label)}=${str(`${where}.labels[${i}].value`, l.value)}`);
  });
  args.push(`${namePrefix}${literal(`${where}.name`, str(`${where}.name`, n.name))}`);
  return args;
}

/** The gateway at the same offset in the mapped subnet as in the synthesized one. */
function mappedGateway(mapped: string, gateway: string, synthesized: string): string {
  const n = (a: string) => a.split(".").reduce((v, o) => v * 256 + Number(o), 0);
  const offset = n(gateway) - n(synthesized.split("/")[0]!);
  const v = n(mapped.split("/")[0]!) + offset;
  return [24, 16, 8, 0].map((s) => Math.floor(v / 2 ** s) % 256).join(".");
}

/** `docker volume create` argv for a referenced volume. */
export function volumeCreateArgs(stack: StackJson, resource: string, namePrefix: string): string[] {
  const where = `docker_volume.${resource}`;
  const v = stack.resource?.docker_volume?.[resource];
  if (v === undefined) throw new UntranslatableError(where, "no such resource in the stack");
  // lifecycle (prevent_destroy) is Terraform-only.
  onlyKeys(where, v, ["name", "labels", "lifecycle"]);
  const args = ["volume", "create"];
  objList(`${where}.labels`, v.labels ?? []).forEach((l, i) => {
    onlyKeys(`${where}.labels[${i}]`, l, ["label", "value"]);
    args.push("--label", `${str(`${where}.labels[${i}].label`, l.label)}=${str(`${where}.labels[${i}].value`, l.value)}`);
  });
  args.push(`${namePrefix}${literal(`${where}.name`, str(`${where}.name`, v.name))}`);
  return args;
}

// --- Go durations (time.ParseDuration / Duration.String), as the provider uses them ---

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds. The provider ignores its error (sending 0); we throw. */
export function parseGoDuration(where: string, value: string): number {
  if (value === "0") return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value)) !== null) {
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (value === "" || consumed !== value.length) {
    throw new UntranslatableError(
      where,
      `"${value}" is not a Go duration (time.ParseDuration would fail and the provider would silently send 0)`,
    );
  }
  return Math.round(total);
}

/** Go's Duration.String(): how the provider reads healthcheck durations back into state. */
export function goDurationString(ns: number): string {
  if (!Number.isInteger(ns)) throw new Error(`goDurationString: ${ns} is not whole nanoseconds`);
  if (ns === 0) return "0s";
  const sign = ns < 0 ? "-" : "";
  let u = Math.abs(ns);
  const frac = (v: number, digits: number) => {
    const scale = 10 ** digits;
    const whole = Math.floor(v / scale);
    const rest = String(v % scale)
      .padStart(digits, "0")
      .replace(/0+$/, "");
    return rest === "" ? String(whole) : `${whole}.${rest}`;
  };
  if (u < 1e3) return `${sign}${u}ns`;
  if (u < 1e6) return `${sign}${frac(u, 3)}µs`;
  if (u < 1e9) return `${sign}${frac(u, 6)}ms`;
  const h = Math.floor(u / 3600e9);
  u -= h * 3600e9;
  const min = Math.floor(u / 60e9);
  u -= min * 60e9;
  const s = `${frac(u, 9)}s`;
  if (h > 0) return `${sign}${h}h${min}m${s}`;
  if (min > 0) return `${sign}${min}m${s}`;
  return `${sign}${s}`;
}

/** POSIX shell quoting, for turning an exec-form healthcheck into its CMD-SHELL equivalent. */
export function shellJoin(words: readonly string[]): string {
  return words.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`)).join(" ");
}

// --- helpers ---

function networkRef(stack: StackJson, where: string, value: string, prefix: string): NetworkRef {
  const m = /^\$\{docker_network\.([A-Za-z0-9_-]+)\.name\}$/.exec(value);
  if (!m) throw new UntranslatableError(where, `"${value}" is not a reference to a docker_network in this stack`);
  const n = stack.resource?.docker_network?.[m[1]!];
  if (n === undefined) throw new UntranslatableError(where, `docker_network.${m[1]} is not in this stack`);
  return {
    resource: m[1]!,
    name: `${prefix}${literal(`docker_network.${m[1]}.name`, str(`docker_network.${m[1]}.name`, n.name))}`,
    internal: bool(`docker_network.${m[1]}.internal`, n.internal ?? false),
  };
}

function volumeRef(stack: StackJson, where: string, value: string, prefix: string): VolumeRef {
  const m = /^\$\{docker_volume\.([A-Za-z0-9_-]+)\.name\}$/.exec(value);
  if (!m) throw new UntranslatableError(where, `"${value}" is not a reference to a docker_volume in this stack`);
  const v = stack.resource?.docker_volume?.[m[1]!];
  if (v === undefined) throw new UntranslatableError(where, `docker_volume.${m[1]} is not in this stack`);
  return { resource: m[1]!, name: `${prefix}${literal(`docker_volume.${m[1]}.name`, str(`docker_volume.${m[1]}.name`, v.name))}` };
}

/**
 * A Terraform string as the engine will get it: "$${" and "%%{" are escapes for literal "${" and
 * "%{"; any real interpolation or directive is an expression only Terraform can evaluate.
 */
export function literal(where: string, value: string): string {
  if (/(^|[^$])\$\{/.test(value) || /(^|[^%])%\{/.test(value)) {
    throw new UntranslatableError(where, `"${value}" is a Terraform expression; only terraform apply can evaluate it`);
  }
  return value.replace(/\$\$\{/g, "${").replace(/%%\{/g, "%{");
}

function str(where: string, v: unknown): string {
  if (typeof v !== "string") throw new UntranslatableError(where, `expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function bool(where: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw new UntranslatableError(where, `expected a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function int(where: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v))
    throw new UntranslatableError(where, `expected a whole number, got ${JSON.stringify(v)}`);
  return v;
}

function strList(where: string, v: unknown): string[] {
  if (!Array.isArray(v)) throw new UntranslatableError(where, `expected a list, got ${JSON.stringify(v)}`);
  return v.map((x, i) => str(`${where}[${i}]`, x));
}

function objList(where: string, v: unknown): JsonObject[] {
  if (!Array.isArray(v)) throw new UntranslatableError(where, `expected a list of blocks, got ${JSON.stringify(v)}`);
  return v.map((x, i) => {
    if (x === null || typeof x !== "object" || Array.isArray(x)) throw new UntranslatableError(`${where}[${i}]`, "expected a block");
    return x as JsonObject;
  });
}

function oneBlock(where: string, v: unknown): JsonObject {
  const list = Array.isArray(v) ? objList(where, v) : objList(where, [v]);
  if (list.length !== 1) throw new UntranslatableError(where, `expected one block, got ${list.length}`);
  return list[0]!;
}

function strMap(where: string, v: unknown): Record<string, string> {
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new UntranslatableError(where, `expected a map, got ${JSON.stringify(v)}`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as JsonObject)) {
    literal(`${where}["${k}"]`, k);
    out[k] = literal(`${where}["${k}"]`, str(`${where}["${k}"]`, x));
  }
  return out;
}

function onlyKeys(where: string, o: JsonObject, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k))
      throw new UntranslatableError(
        `${where}.${k}`,
        "is not translated yet; teach __tests__/engine/docker-cli.ts what the provider does with it",
      );
  }
}
