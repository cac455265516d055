/**
 * Helpers for the real-engine tests: running `docker` without a shell, the prerequisites (a reachable
 * daemon, a static busybox), the local test image, a tar writer that builds archives the way the
 * provider does, and a session that creates networks/volumes/containers under one unique prefix and
 * removes everything with that prefix afterwards.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireBinary, type Requirement } from "../support/binaries";
import { synthEnvironment } from "../support/stacks";
import {
  goDurationString,
  networkCreateArgs,
  translateContainer,
  volumeCreateArgs,
  type ContainerPlan,
  type StackJson,
  type TranslateOptions,
} from "./docker-cli";

export const TEST_IMAGE = "updateio-test/busybox:engine";
/** Marks the image's inputs; an ENV entry, since an image label would show up in every container's labels. */
const TEST_IMAGE_MARK = "UPDATEIO_TEST_IMAGE";

/**
 * Named users of the official images, mapped to the ids those images give them (busybox has no such
 * users, so the test image's /etc/passwd carries them): postgres:17 (Debian) 999:999, redis:7-alpine
 * 999:1000, rabbitmq:4-alpine 100:101, node 1000:1000.
 */
export const IMAGE_USERS: Readonly<Record<string, { uid: number; gid: number }>> = {
  root: { uid: 0, gid: 0 },
  node: { uid: 1000, gid: 1000 },
  postgres: { uid: 999, gid: 999 },
  redis: { uid: 999, gid: 1000 },
  rabbitmq: { uid: 100, gid: 101 },
  nobody: { uid: 65534, gid: 65534 },
};

// --- running docker ---

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command without a shell; never throws on a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: { input?: Buffer | string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

export function docker(args: readonly string[], opts?: { input?: Buffer | string; timeoutMs?: number }): Promise<RunResult> {
  return run("docker", args, opts);
}

/** `docker ...` that must succeed; the error carries the argv and the daemon's message. */
export async function dockerOk(args: readonly string[], opts?: { input?: Buffer | string; timeoutMs?: number }): Promise<string> {
  const r = await docker(args, opts);
  if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Runs fn over items with at most `limit` at once, keeping order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  // Settle every worker before failing: a creation still in flight when cleanup runs would be left behind.
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failure) throw failure.reason;
  return results;
}

// --- requirements ---

let daemon: Requirement | undefined;

/** `docker info` answers: the CLI is installed and the daemon is reachable. Cached. */
export function dockerDaemonRequirement(): Requirement {
  if (daemon) return daemon;
  const bin = requireBinary("docker");
  if (!bin.available) return (daemon = bin);
  const r = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8", timeout: 20_000 });
  const version = (r.stdout ?? "").trim();
  if (r.status === 0 && version !== "" && !version.startsWith("<no value>")) {
    return (daemon = { available: true, reason: `docker daemon reachable (Docker Engine ${version})` });
  }
  const why = (r.stderr || r.stdout || String(r.error ?? "")).trim().split("\n")[0] ?? "no answer";
  return (daemon = {
    available: false,
    reason: `the docker daemon is not reachable (\`docker info\`: ${why}); start it with \`dockerd >/tmp/dockerd.log 2>&1 &\` (CI: .ci/run installs docker.io and starts dockerd)`,
  });
}

/** A statically linked busybox (Debian's busybox-static), which becomes the test image's only binary. */
export function staticBusyboxRequirement(): Requirement & { path?: string } {
  const bin = requireBinary("busybox");
  if (!bin.available || bin.path === undefined) {
    return { available: false, reason: "`busybox` is not installed; install busybox-static (CI: .ci/run installs it)" };
  }
  try {
    if (!isStaticElf(readFileSync(bin.path))) {
      return { available: false, reason: `${bin.path} is dynamically linked; install busybox-static (the test image has no libc)` };
    }
  } catch (e) {
    return { available: false, reason: `cannot read ${bin.path}: ${(e as Error).message}` };
  }
  return { available: true, reason: `static busybox at ${bin.path}`, path: bin.path };
}

/** An ELF executable with no PT_INTERP program header (no dynamic loader). */
function isStaticElf(b: Buffer): boolean {
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) return false;
  const is64 = b[4] === 2;
  const le = b[5] === 1;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const phoff = is64 ? Number(le ? b.readBigUInt64LE(32) : b.readBigUInt64BE(32)) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  for (let i = 0; i < phnum; i++) {
    if (u32(phoff + i * phentsize) === 3) return false; // PT_INTERP
  }
  return true;
}

// --- tar (ustar), written like Go's archive/tar writes the provider's upload headers ---

export interface TarEntry {
  /** Path as written in the header; the provider writes the absolute upload path (leading "/"). */
  readonly name: string;
  readonly type: "file" | "dir" | "symlink";
  readonly mode: number;
  readonly content?: Buffer | string;
  readonly linkname?: string;
  readonly uid?: number;
  readonly gid?: number;
  readonly mtime?: number;
}

export function ustar(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body =
      e.type === "file"
        ? typeof e.content === "string"
          ? Buffer.from(e.content, "utf8")
          : (e.content ?? Buffer.alloc(0))
        : Buffer.alloc(0);
    const h = Buffer.alloc(512);
    let name = e.name;
    let prefix = "";
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf("/", 155);
      if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`ustar: name too long: ${name}`);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    }
    const put = (s: string, off: number, len: number) => h.write(s, off, len, "utf8");
    const oct = (n: number, off: number, len: number) => put(n.toString(8).padStart(len - 1, "0"), off, len - 1);
    put(name, 0, 100);
    oct(e.mode, 100, 8);
    oct(e.uid ?? 0, 108, 8);
    oct(e.gid ?? 0, 116, 8);
    oct(body.length, 124, 12);
    oct(e.mtime ?? 0, 136, 12);
    h.fill(0x20, 148, 156); // checksum counted as spaces
    put(e.type === "file" ? "0" : e.type === "dir" ? "5" : "2", 156, 1);
    if (e.linkname) put(e.linkname, 157, 100);
    put("ustar\u000000", 257, 8);
    put(prefix, 345, 155);
    let sum = 0;
    for (const byte of h) sum += byte;
    put(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8);
    blocks.push(h, body);
    if (body.length % 512 !== 0) blocks.push(Buffer.alloc(512 - (body.length % 512)));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** The archive the provider PUTs to /containers/{id}/archive?path=/ for one `upload` block. */
export function providerUploadTar(file: string, content: string, executable: boolean, permissions?: string): Buffer {
  // As the provider's upload: an explicit octal mode wins, then executable (0744), else 0644; owner root.
  const mode = permissions !== undefined ? parseInt(permissions, 8) : executable ? 0o744 : 0o644;
  return ustar([{ name: file, type: "file", mode, content }]);
}

// --- the test image ---

const PASSWD = Object.entries(IMAGE_USERS)
  .map(([name, { uid, gid }]) => `${name}:x:${uid}:${gid}:${name}:/nonexistent:/bin/sh`)
  .join("\n");
const GROUP = ["root:x:0:", "postgres:x:999:", "node:x:1000:", "redis:x:1000:", "rabbitmq:x:101:", "nogroup:x:65534:"].join("\n");

/**
 * Imports a tiny image made of the static busybox (every applet as a symlink) plus /etc/passwd and
 * /etc/group with the official images' users. Rebuilt only when its inputs change.
 */
export async function ensureTestImage(busyboxPath: string): Promise<string> {
  const busybox = readFileSync(busyboxPath);
  const applets = spawnSync(busyboxPath, ["--list"], { encoding: "utf8" })
    .stdout.split("\n")
    .filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== "busybox");
  const digest = createHash("sha256")
    .update(busybox)
    .update(PASSWD)
    .update(GROUP)
    .update(applets.join(","))
    .update("v1")
    .digest("hex")
    .slice(0, 16);
  const current = await docker(["image", "inspect", "--format", "{{json .Config.Env}}", TEST_IMAGE]);
  if (current.code === 0 && (JSON.parse(current.stdout) as string[] | null)?.includes(`${TEST_IMAGE_MARK}=${digest}`)) return TEST_IMAGE;
  const tar = ustar([
    { name: "bin/", type: "dir", mode: 0o755 },
    { name: "bin/busybox", type: "file", mode: 0o755, content: busybox },
    ...applets.map((a): TarEntry => ({ name: `bin/${a}`, type: "symlink", mode: 0o777, linkname: "busybox" })),
    { name: "etc/", type: "dir", mode: 0o755 },
    { name: "etc/passwd", type: "file", mode: 0o644, content: `${PASSWD}\n` },
    { name: "etc/group", type: "file", mode: 0o644, content: `${GROUP}\n` },
    { name: "tmp/", type: "dir", mode: 0o1777 },
  ]);
  await dockerOk(
    [
      "import",
      "--change",
      "ENV PATH=/bin",
      "--change",
      `ENV ${TEST_IMAGE_MARK}=${digest}`,
      "--change",
      'CMD ["sleep", "3600"]',
      "-",
      TEST_IMAGE,
    ],
    { input: tar, timeoutMs: 60_000 },
  );
  return TEST_IMAGE;
}

// --- synthesized stacks ---

const stacks = new Map<string, StackJson>();

/** The real environment, synthesized in-process (validations off: prod's CloudBackend would run `terraform version`). */
export function synthesizedStack(environment: "dev" | "test" | "prod"): StackJson {
  const cached = stacks.get(environment);
  if (cached) return cached;
  // Dev with every observability part (UPDATEIO_DEV_OBSERVABILITY=full), as test and prod run.
  const json = synthEnvironment(environment, environment === "dev" ? { UPDATEIO_DEV_OBSERVABILITY: "full" } : {})
    .json as unknown as StackJson;
  stacks.set(environment, json);
  return json;
}

export function containerKey(stack: StackJson, synthesizedName: string): string {
  const hit = Object.entries(stack.resource?.docker_container ?? {}).find(([, r]) => r.name === synthesizedName);
  if (!hit) throw new Error(`no docker_container named ${synthesizedName} in the stack`);
  return hit[0];
}

// --- a session: everything it makes carries its prefix and is removed by cleanup() ---

/** A prefix unique to this test process; every resource name starts with it. */
export function runPrefix(): string {
  return `uioeng-${process.pid}-${randomBytes(3).toString("hex")}-`;
}

let sessionsStarted = 0;

/**
 * The second octet of a session's 10.x.0.0/16, for the stack's pinned subnets (dev's 172.16.0.0/16):
 * unique among the sessions a run has open at once (eight per vitest worker, workers apart), so
 * concurrent files that create the same stack's networks do not overlap.
 */
function sessionOctet(): number {
  return 64 + (Number(process.env.VITEST_POOL_ID ?? 0) % 16) * 8 + (sessionsStarted++ % 8);
}

export class EngineSession {
  private readonly networks = new Set<string>();
  private readonly octet = sessionOctet();
  private readonly volumes = new Set<string>();
  private readonly dirs: string[] = [];

  constructor(
    readonly stack: StackJson,
    /** Unique prefix, e.g. "uioeng-123-abcdef-t2-". */
    readonly prefix: string,
    readonly image: string,
  ) {}

  /** Translates a container by its synthesized name (e.g. "prod-api-1"). */
  plan(synthesizedName: string, options: Partial<TranslateOptions> = {}): ContainerPlan {
    return translateContainer(this.stack, containerKey(this.stack, synthesizedName), this.options(options));
  }

  planByKey(key: string, options: Partial<TranslateOptions> = {}): ContainerPlan {
    return translateContainer(this.stack, key, this.options(options));
  }

  private options(options: Partial<TranslateOptions>): TranslateOptions {
    return {
      image: this.image,
      command: ["sleep", "3600"],
      namePrefix: this.prefix,
      hostPath: (raw) => this.hostDir(raw),
      ...options,
    };
  }

  /** Dev binds name source folders that do not exist here: each gets an empty temp directory. */
  private hostDir(_raw: string): string {
    const dir = mkdtempSync(join(tmpdir(), `${this.prefix}src-`));
    this.dirs.push(dir);
    return dir;
  }

  /** Networks made elsewhere (Swarm overlays created through the Engine API) that prepare() must not create. */
  adoptNetworks(names: Iterable<string>): void {
    for (const n of names) this.networks.add(n);
  }

  /** Creates the networks and volumes the plans reference (as synthesized: bridge, internal or not, labels). */
  async prepare(plans: readonly ContainerPlan[]): Promise<void> {
    const nets = new Map<string, string>();
    const vols = new Map<string, string>();
    for (const p of plans) {
      for (const n of p.networks) if (!this.networks.has(n.name)) nets.set(n.name, n.resource);
      for (const v of p.volumes) if (!this.volumes.has(v.name)) vols.set(v.name, v.resource);
    }
    await mapLimit([...nets], 4, async ([name, resource]) => {
      this.networks.add(name);
      await dockerOk(networkCreateArgs(this.stack, resource, this.prefix, (cidr) => this.subnet(cidr)));
    });
    await this.checkPinnedSubnets([...nets]);
    await mapLimit([...vols], 6, async ([name, resource]) => {
      this.volumes.add(name);
      await dockerOk(volumeCreateArgs(this.stack, resource, this.prefix));
    });
  }

  /** A pinned /24 of the stack's /16 pool, moved into this session's 10.x.0.0/16. */
  subnet(cidr: string): string {
    return cidr.replace(/^\d+\.\d+\./, `10.${this.octet}.`);
  }

  /**
   * A pinned network must read back exactly as configured: the provider stores IPAM.Config's subnet,
   * gateway, ip_range and aux_address in ipam_config (a ForceNew set), so anything the engine adds
   * would replace the network on every apply.
   */
  private async checkPinnedSubnets(nets: readonly (readonly [string, string])[]): Promise<void> {
    const pinned = nets.filter(([, r]) => (this.stack.resource?.docker_network?.[r] as { ipam_config?: unknown[] })?.ipam_config);
    if (pinned.length === 0) return;
    const out = await dockerOk(["network", "inspect", "--format", "{{.Name}} {{json .IPAM.Config}}", ...pinned.map(([n]) => n)]);
    const got = new Map(
      out
        .trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf(" ")), JSON.parse(l.slice(l.indexOf(" ") + 1))]),
    );
    const problems = pinned.flatMap(([name, resource]) => {
      const c = (this.stack.resource!.docker_network![resource] as { ipam_config: { subnet: string; gateway: string }[] }).ipam_config[0]!;
      const subnet = this.subnet(c.subnet);
      const want = [{ Subnet: subnet, Gateway: `${subnet.split(".").slice(0, 3).join(".")}.${c.gateway.split(".")[3]}` }];
      const have = (got.get(name) ?? []).map((x: Record<string, unknown>) =>
        Object.fromEntries(
          Object.entries(x).filter(([, v]) => v !== "" && v !== null && !(typeof v === "object" && Object.keys(v).length === 0)),
        ),
      );
      return JSON.stringify(have) === JSON.stringify(want)
        ? []
        : [`${name}: IPAM.Config ${JSON.stringify(got.get(name))}, expected ${JSON.stringify(want)}`];
    });
    if (problems.length > 0) throw new Error(`pinned subnets do not read back as configured:\n${problems.join("\n")}`);
  }

  /** docker create + the provider's network calls (disconnect the default bridge, connect each network). */
  async create(plan: ContainerPlan): Promise<void> {
    await dockerOk(plan.createArgs);
    if (plan.disconnectDefaultBridge) await dockerOk(["network", "disconnect", "bridge", plan.name]);
    for (const c of plan.connects) await dockerOk(c.args);
  }

  async start(plan: ContainerPlan): Promise<void> {
    // A container on Swarm overlays waits for the manager at each attachment (5-7 s per network here).
    await dockerOk(["start", plan.name], { timeoutMs: 180_000 });
  }

  /** Runs argv in the container as its own user (no shell unless argv asks for one). */
  exec(plan: ContainerPlan, argv: readonly string[], opts: { user?: string } = {}): Promise<RunResult> {
    return docker(["exec", ...(opts.user ? ["--user", opts.user] : []), plan.name, ...argv]);
  }

  async inspect(names: readonly string[]): Promise<DockerInspect[]> {
    return JSON.parse(await dockerOk(["inspect", ...names])) as DockerInspect[];
  }

  async networkGateway(networkName: string): Promise<string> {
    const out = await dockerOk(["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}", networkName]);
    const gw = out
      .trim()
      .split(/\s+/)
      .find((g) => /^\d+\.\d+\.\d+\.\d+$/.test(g));
    if (!gw) throw new Error(`network ${networkName} has no IPv4 gateway`);
    return gw;
  }

  /** Removes every container, network and volume whose name starts with the prefix, and the temp dirs. */
  async cleanup(): Promise<void> {
    await removeByPrefix(this.prefix);
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}

/** Removes containers (with their anonymous volumes), then networks, then volumes named <prefix>*. */
export async function removeByPrefix(prefix: string): Promise<void> {
  const names = async (args: string[]) =>
    (await dockerOk(args))
      .split("\n")
      .map((s) => s.trim())
      .filter((s) => s.startsWith(prefix));
  const containers = await names(["ps", "-a", "--format", "{{.Names}}"]);
  if (containers.length > 0) await docker(["rm", "-f", "-v", ...containers], { timeoutMs: 60_000 });
  const networks = await names(["network", "ls", "--format", "{{.Name}}"]);
  if (networks.length > 0) await docker(["network", "rm", ...networks]);
  const volumes = await names(["volume", "ls", "--format", "{{.Name}}"]);
  if (volumes.length > 0) await docker(["volume", "rm", "-f", ...volumes]);
}

// --- docker inspect, and what the engine applied compared with what we synthesized ---

export interface DockerInspect {
  Name: string;
  RestartCount: number;
  State: { Status: string; Running: boolean; ExitCode: number; Error: string };
  Config: {
    User: string;
    Hostname: string;
    WorkingDir: string;
    Env: string[] | null;
    Labels: Record<string, string> | null;
    StopTimeout?: number;
    Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  };
  HostConfig: {
    ReadonlyRootfs: boolean;
    Privileged: boolean;
    CapAdd: string[] | null;
    CapDrop: string[] | null;
    SecurityOpt: string[] | null;
    Memory: number;
    MemorySwap: number;
    CpuShares: number;
    CpuPeriod: number;
    CpuQuota: number;
    Ulimits: { Name: string; Soft: number; Hard: number }[] | null;
    ShmSize: number;
    LogConfig: { Type: string; Config: Record<string, string> | null };
    Tmpfs: Record<string, string> | null;
    RestartPolicy: { Name: string; MaximumRetryCount: number };
    Sysctls: Record<string, string> | null;
    Binds: string[] | null;
    PortBindings: Record<string, { HostIp: string; HostPort: string }[]> | null;
    NetworkMode: string;
  };
  Mounts: { Type: string; Name?: string; Source: string; Destination: string; RW: boolean }[];
  NetworkSettings: { Networks: Record<string, { Aliases: string[] | null; IPAddress: string; Gateway: string }> };
}

const normCap = (c: string) => c.toUpperCase().replace(/^CAP_/, "");
const sorted = (xs: readonly string[] | null | undefined) => [...(xs ?? [])].sort();
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export interface Mismatches {
  /** The engine did not apply what the synthesized resource asks for. */
  readonly applied: string[];
  /**
   * What the provider's Read (Duration.String(), bytes/MiB, ...) would put in state differs from what
   * we wrote: a diff in every plan (see resourceDockerContainerRead).
   */
  readonly readBack: string[];
}

/** Compares `docker inspect` with the plan's expected Engine fields and with the provider's read-back. */
export function inspectMismatches(plan: ContainerPlan, c: DockerInspect): Mismatches {
  const e = plan.expected;
  const out: string[] = [];
  const readBack: string[] = [];
  const check = (field: string, actual: unknown, expected: unknown) => {
    if (!same(actual, expected))
      out.push(`${plan.synthesizedName}: ${field} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  };
  const hc = c.HostConfig;
  check("Config.User", c.Config.User, e.User);
  if (e.Hostname !== undefined) check("Config.Hostname", c.Config.Hostname, e.Hostname);
  if (e.WorkingDir !== undefined) check("Config.WorkingDir", c.Config.WorkingDir, e.WorkingDir);
  const env = new Set(c.Config.Env ?? []);
  for (const v of e.Env) if (!env.has(v)) out.push(`${plan.synthesizedName}: Config.Env lacks ${v}`);
  check(
    "Config.Labels",
    Object.fromEntries(Object.entries(c.Config.Labels ?? {}).sort()),
    Object.fromEntries(Object.entries(e.Labels).sort()),
  );
  if (e.StopTimeout !== undefined) check("Config.StopTimeout", c.Config.StopTimeout, e.StopTimeout);
  if (e.Healthcheck) {
    const h = c.Config.Healthcheck;
    check(
      "Config.Healthcheck",
      h && { Test: h.Test, Interval: h.Interval ?? 0, Timeout: h.Timeout ?? 0, StartPeriod: h.StartPeriod ?? 0, Retries: h.Retries ?? 0 },
      e.Healthcheck,
    );
  }
  check("HostConfig.ReadonlyRootfs", hc.ReadonlyRootfs, e.ReadonlyRootfs);
  check("HostConfig.Privileged", hc.Privileged, e.Privileged);
  check("HostConfig.CapDrop", sorted(hc.CapDrop).map(normCap), sorted(e.CapDrop).map(normCap));
  check("HostConfig.CapAdd", sorted(hc.CapAdd).map(normCap), sorted(e.CapAdd).map(normCap));
  check("HostConfig.SecurityOpt", sorted(hc.SecurityOpt), sorted(e.SecurityOpt));
  check("HostConfig.Memory", hc.Memory, e.Memory);
  if (e.MemorySwap !== undefined) check("HostConfig.MemorySwap", hc.MemorySwap, e.MemorySwap);
  check("HostConfig.CpuShares", hc.CpuShares, e.CpuShares);
  check("HostConfig.CpuPeriod", hc.CpuPeriod, e.CpuPeriod);
  check("HostConfig.CpuQuota", hc.CpuQuota, e.CpuQuota);
  // The engine answers {Name, Hard, Soft}: compare values, not key order.
  const byName = (u: readonly { Name: string; Soft: number; Hard: number }[] | null | undefined) =>
    [...(u ?? [])].map(({ Name, Soft, Hard }) => ({ Name, Soft, Hard })).sort((a, b) => a.Name.localeCompare(b.Name));
  check("HostConfig.Ulimits", byName(hc.Ulimits), byName(e.Ulimits));
  if (e.ShmSize !== undefined) check("HostConfig.ShmSize", hc.ShmSize, e.ShmSize);
  check(
    "HostConfig.LogConfig",
    { Type: hc.LogConfig.Type, Config: Object.fromEntries(Object.entries(hc.LogConfig.Config ?? {}).sort()) },
    { Type: e.LogConfig.Type, Config: Object.fromEntries(Object.entries(e.LogConfig.Config).sort()) },
  );
  check("HostConfig.Tmpfs", Object.fromEntries(Object.entries(hc.Tmpfs ?? {}).sort()), Object.fromEntries(Object.entries(e.Tmpfs).sort()));
  check(
    "HostConfig.RestartPolicy",
    { Name: hc.RestartPolicy.Name, MaximumRetryCount: hc.RestartPolicy.MaximumRetryCount },
    e.RestartPolicy,
  );
  check(
    "HostConfig.Sysctls",
    Object.fromEntries(Object.entries(hc.Sysctls ?? {}).sort()),
    Object.fromEntries(Object.entries(e.Sysctls).sort()),
  );
  check("HostConfig.Binds", sorted(hc.Binds), sorted(e.Binds));
  const ports = Object.fromEntries(
    Object.entries(hc.PortBindings ?? {})
      .filter(([, b]) => b && b.length > 0)
      .sort(),
  );
  check("HostConfig.PortBindings", ports, Object.fromEntries(Object.entries(e.PortBindings).sort()));
  if (e.NetworkMode !== undefined) check("HostConfig.NetworkMode", hc.NetworkMode, e.NetworkMode);
  // Mounts: each bind at its destination, writable exactly when not read_only.
  for (const b of e.Binds) {
    const [source, dest, mode] = b.split(":");
    const m = c.Mounts.find((x) => x.Destination === dest);
    if (!m) out.push(`${plan.synthesizedName}: no mount at ${dest}`);
    else {
      if (m.RW !== (mode === "rw")) out.push(`${plan.synthesizedName}: mount ${dest} RW=${m.RW}, expected ${mode}`);
      if ((m.Type === "volume" ? m.Name : m.Source) !== source)
        out.push(`${plan.synthesizedName}: mount ${dest} comes from ${m.Name ?? m.Source}, expected ${source}`);
    }
  }
  // Networks: exactly the synthesized ones (the default bridge disconnected), each with its aliases.
  if (Object.keys(e.Networks).length > 0) {
    check("NetworkSettings.Networks (names)", Object.keys(c.NetworkSettings.Networks).sort(), Object.keys(e.Networks).sort());
    for (const [net, aliases] of Object.entries(e.Networks)) {
      const got = c.NetworkSettings.Networks[net]?.Aliases ?? [];
      for (const a of aliases)
        if (!got.includes(a)) out.push(`${plan.synthesizedName}: alias ${a} missing on ${net} (has ${JSON.stringify(got)})`);
    }
  }
  // What the provider's Read would put in state, compared with what we synthesized.
  const back = (what: string) => readBack.push(`${plan.synthesizedName}: ${what}`);
  const h = c.Config.Healthcheck;
  const synthesizedHc = plan.healthcheckStrings;
  if (h && synthesizedHc) {
    for (const [k, ns] of [
      ["interval", h.Interval ?? 0],
      ["timeout", h.Timeout ?? 0],
      ["start_period", h.StartPeriod ?? 0],
    ] as const) {
      const back = goDurationString(ns);
      if (synthesizedHc[k] !== undefined && back !== synthesizedHc[k]) {
        readBack.push(`${plan.synthesizedName}: healthcheck.${k} "${synthesizedHc[k]}" is read back as "${back}"`);
      }
    }
  }
  const mib = (bytes: number) => (bytes > 0 ? bytes / 1024 / 1024 : bytes);
  if (mib(hc.Memory) !== plan.memoryMb) back(`memory ${plan.memoryMb} is read back as ${mib(hc.Memory)}`);
  if (mib(hc.MemorySwap) !== plan.memorySwapMb) {
    back(
      `memory_swap ${plan.memorySwapMb === 0 ? "(not set)" : plan.memorySwapMb} is read back as ${mib(hc.MemorySwap)} (HostConfig.MemorySwap ${hc.MemorySwap})`,
    );
  }
  if (c.Config.User !== plan.user) back(`user "${plan.user}" is read back as "${c.Config.User}"`);
  if (hc.RestartPolicy.Name !== e.RestartPolicy.Name) back(`restart "${e.RestartPolicy.Name}" is read back as "${hc.RestartPolicy.Name}"`);
  if (hc.ReadonlyRootfs !== e.ReadonlyRootfs) back(`read_only is read back as ${hc.ReadonlyRootfs}`);
  return { applied: out, readBack };
}
