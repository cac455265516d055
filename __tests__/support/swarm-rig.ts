/**
 * A multi-node Docker Swarm on one machine, for the engine tests.
 *
 * Each node is its own containerd + dockerd (own data root, exec root, pidfile, socket, cgroup
 * parent and hostname) inside its own network namespace; the nodes' veths meet on a bridge that
 * lives in a namespace of its own, and a client namespace sits on the same bridge. Nothing touches
 * the host's network, the host's daemon or its /var/lib/docker. The namespace plumbing is in
 * scripts/swarm-rig.sh; this file starts the daemons, forms the swarm, imports the stand-in images
 * and tears everything down (also on failure, interruption, or at the next run after a crash).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, openSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { run, staticBusyboxRequirement, ustar, type RunResult, type TarEntry } from "../engine/fixtures";
import { allOf, requireBinary, type Requirement } from "./binaries";

const SCRIPT = resolve(__dirname, "../../scripts/swarm-rig.sh");
const SUBNET_PREFIX = "10.99.0";
/** Overlay subnets come from here: away from the nodes' own 10.99.0.0/24. */
const ADDRESS_POOL = "10.100.0.0/16";
export const CLIENT_ADDR = `${SUBNET_PREFIX}.100`;

export type NodeRole = "manager" | "worker";

export interface RigNode {
  /** Hostname of the node, its namespace suffix and its Swarm node name. */
  readonly name: string;
  readonly role: NodeRole;
  /** The node's address on the rig's bridge (its advertise address). */
  readonly addr: string;
  readonly dir: string;
  readonly host: string;
}

export interface SwarmRigOptions {
  /** Manager names first: the first one that is listed in `initOn` runs `swarm init` (and so leads). */
  readonly nodes: readonly { name: string; role: NodeRole }[];
  readonly initOn: string;
}

/** What the rig needs: root (namespaces, mounts), the tools, a static busybox and the daemons. */
export function swarmRigRequirement(): Requirement {
  const root: Requirement =
    process.getuid?.() === 0
      ? { available: true, reason: "running as root" }
      : { available: false, reason: "the Swarm rig needs root (network namespaces, mounts, its own dockerd per node)" };
  const bins = ["ip", "ss", "unshare", "iptables", "dockerd", "containerd", "runc", "docker", "caddy"].map(requireBinary);
  return allOf([root, ...bins, staticBusyboxRequirement()]);
}

/** Polls `check` until it returns a value; throws with `what` and the last observation after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "nothing observed yet";
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
      last = "condition not met";
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what} (last: ${last})`);
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function script(args: readonly string[], timeoutMs = 60_000): RunResult {
  const r = spawnSync("bash", [SCRIPT, ...args], { encoding: "utf8", timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error ? String(r.error) : "") };
}

function scriptOk(args: readonly string[], timeoutMs?: number): string {
  const r = script(args, timeoutMs);
  if (r.code !== 0) throw new Error(`swarm-rig.sh ${args.join(" ")} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Removes whatever earlier runs left behind whose owning process is gone (a crash, a kill -9). */
export function removeStaleRigs(): void {
  scriptOk(["down-stale"], 120_000);
}

const active = new Set<string>();
let hooksInstalled = false;

/** Last-resort teardown when the test process ends without afterAll (Ctrl-C, a worker killed). */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const downAll = () => {
    for (const runName of [...active]) {
      script(["down", runName], 120_000);
      active.delete(runName);
    }
  };
  process.once("exit", downAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      downAll();
      process.kill(process.pid, signal);
    });
  }
}

export class SwarmRig {
  /** swrig<pid>: every namespace, cgroup and directory of this run carries it. */
  readonly run = `swrig${process.pid}`;
  readonly dir = `/tmp/${this.run}`;
  readonly nodes: RigNode[];
  private readonly daemons = new Map<string, ChildProcess>();
  private stopped = false;

  private constructor(private readonly options: SwarmRigOptions) {
    this.nodes = options.nodes.map((n, i) => {
      const dir = join(this.dir, n.name);
      return { name: n.name, role: n.role, addr: `${SUBNET_PREFIX}.${11 + i}`, dir, host: `unix://${dir}/docker.sock` };
    });
  }

  /** Starts the daemons, forms the swarm, and waits until every node is Ready. Tears down on failure. */
  static async start(options: SwarmRigOptions): Promise<SwarmRig> {
    removeStaleRigs();
    const rig = new SwarmRig(options);
    installExitHooks();
    active.add(rig.run);
    try {
      await rig.up();
    } catch (e) {
      const logs = rig.logTails();
      await rig.stop();
      throw new Error(`${(e as Error).message}\n${logs}`);
    }
    return rig;
  }

  node(name: string): RigNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no rig node ${name}`);
    return n;
  }

  private async up(): Promise<void> {
    // A dir left by a dead process with our pid would only confuse the daemons.
    script(["down", this.run], 120_000);
    mkdirSync(this.dir, { recursive: true });
    scriptOk(["net-up", this.run, ...this.nodes.map((n) => n.name)]);
    for (const n of this.nodes) this.startDaemon(n);
    await Promise.all(
      this.nodes.map((n) =>
        waitFor(`dockerd of ${n.name} to answer on ${n.host}`, 60_000, async () => {
          const child = this.daemons.get(n.name);
          if (child?.exitCode !== null && child?.exitCode !== undefined)
            throw new Error(`dockerd of ${n.name} exited with ${child.exitCode}`);
          const r = await this.docker(n.name, ["info", "--format", "{{.Name}}"], { timeoutMs: 10_000 });
          return r.code === 0 && r.stdout.trim() === n.name ? true : undefined;
        }),
      ),
    );
    await this.formSwarm();
  }

  private startDaemon(n: RigNode): void {
    mkdirSync(n.dir, { recursive: true });
    const log = openSync(join(n.dir, "dockerd.log"), "a");
    // Detached (own process group) so a Ctrl-C to vitest does not kill it before the teardown runs.
    const child = spawn("bash", [SCRIPT, "daemon", this.run, n.name, n.dir], { stdio: ["ignore", log, log], detached: true });
    child.unref();
    this.daemons.set(n.name, child);
  }

  private async formSwarm(): Promise<void> {
    const init = this.node(this.options.initOn);
    if (init.role !== "manager") throw new Error(`initOn ${init.name} must be a manager`);
    await this.dockerOk(
      init.name,
      ["swarm", "init", "--advertise-addr", init.addr, "--listen-addr", `${init.addr}:2377`, "--default-addr-pool", ADDRESS_POOL],
      { timeoutMs: 60_000 },
    );
    const token = async (role: NodeRole) => (await this.dockerOk(init.name, ["swarm", "join-token", "-q", role])).trim();
    const tokens = { manager: await token("manager"), worker: await token("worker") };
    const join = (n: RigNode) =>
      this.dockerOk(
        n.name,
        ["swarm", "join", "--token", tokens[n.role], "--advertise-addr", n.addr, "--listen-addr", `${n.addr}:2377`, `${init.addr}:2377`],
        { timeoutMs: 90_000 },
      );
    // Managers one at a time (each join changes the raft membership), then the workers together.
    for (const n of this.nodes) if (n !== init && n.role === "manager") await join(n);
    await Promise.all(this.nodes.filter((n) => n.role === "worker").map(join));
    await waitFor(`all ${this.nodes.length} nodes Ready and Active`, 60_000, async () => {
      const nodes = await this.nodeList(init.name);
      return nodes.length === this.nodes.length && nodes.every((x) => x.status === "Ready" && x.availability === "Active")
        ? true
        : undefined;
    });
  }

  /** `docker -H <node>`; never throws on a non-zero exit. */
  docker(node: string, args: readonly string[], opts: { input?: Buffer | string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run("docker", ["-H", this.node(node).host, ...args], opts);
  }

  async dockerOk(node: string, args: readonly string[], opts: { input?: Buffer | string; timeoutMs?: number } = {}): Promise<string> {
    const r = await this.docker(node, args, opts);
    if (r.code !== 0) throw new Error(`[${node}] docker ${args.join(" ")} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  /** The swarm's view of its nodes, asked of `via` (a manager). */
  async nodeList(via: string): Promise<{ hostname: string; status: string; availability: string; manager: string }[]> {
    const out = await this.dockerOk(via, ["node", "ls", "--format", "{{.Hostname}}|{{.Status}}|{{.Availability}}|{{.ManagerStatus}}"], {
      timeoutMs: 15_000,
    });
    return out
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => {
        const [hostname = "", status = "", availability = "", manager = ""] = l.split("|");
        return { hostname, status, availability, manager };
      });
  }

  /**
   * Imports an image (a rootfs tar) on the first of `nodes` and copies it (save/load) to the others,
   * so it has the same ID everywhere. Returns that ID: a service that names its image by ID skips
   * the registry. By tag, every task would first try to pull (there is no registry here) and sit in
   * "preparing" until that times out; by `repo@sha256:` (the stacks' form) it skips the pull only when
   * the image came from a registry, which an imported one did not.
   */
  async importImage(image: StandInImage, nodes: readonly string[] = this.nodes.map((n) => n.name)): Promise<string> {
    const [first, ...rest] = nodes;
    if (first === undefined) throw new Error("importImage: no nodes");
    await this.dockerOk(first, ["import", ...image.changes.flatMap((c) => ["--change", c]), "-", image.tag], {
      input: image.tar,
      timeoutMs: 120_000,
    });
    const id = (await this.dockerOk(first, ["image", "inspect", "--format", "{{.Id}}", image.tag])).trim();
    if (rest.length > 0) {
      const saved = await this.dockerBuffer(first, ["save", image.tag]);
      await Promise.all(rest.map((n) => this.dockerOk(n, ["load", "--quiet"], { input: saved, timeoutMs: 120_000 })));
    }
    return id;
  }

  /** `docker save` output as bytes (the text runner would mangle a tar). */
  private dockerBuffer(node: string, args: readonly string[]): Promise<Buffer> {
    return new Promise((resolveBuffer, reject) => {
      const child = spawn("docker", ["-H", this.node(node).host, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      const out: Buffer[] = [];
      let err = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => (err += b.toString("utf8")));
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        if (code === 0) resolveBuffer(Buffer.concat(out));
        else reject(new Error(`[${node}] docker ${args.join(" ")} failed (${code}): ${err.trim()}`));
      });
    });
  }

  /** Takes the node's veth down on the bridge: its peers see it vanish (no RST, no ICMP). */
  linkDown(node: string): void {
    scriptOk(["link", this.run, node, "down"]);
  }

  /** SIGKILLs the node's containerd, dockerd, shims and containers: a node that lost power. */
  killNode(node: string): void {
    scriptOk(["kill-node", this.run, node], 60_000);
  }

  /** Spawns argv inside the client namespace (a machine on the rig's bridge, outside the swarm). */
  spawnInClient(argv: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    return spawn("ip", ["netns", "exec", `${this.run}-cl`, ...argv], { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
  }

  /** Last lines of every node's daemon log, for error messages. */
  logTails(lines = 15): string {
    return this.nodes
      .map((n) => {
        const f = join(n.dir, "dockerd.log");
        if (!existsSync(f)) return `--- ${n.name}: no log`;
        const text = readFileSync(f, "utf8")
          .split("\n")
          .filter((l) => l.trim() !== "");
        return `--- ${n.name} dockerd.log (last ${lines} lines)\n${text.slice(-lines).join("\n")}`;
      })
      .join("\n");
  }

  /** Kills every daemon and container, deletes namespaces, veths, bridge, cgroups and the temp dir. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const r = script(["down", this.run], 120_000);
    active.delete(this.run);
    if (r.code !== 0) throw new Error(`swarm rig teardown failed: ${r.stderr.trim()}`);
    const left = leftovers(this.run);
    if (left.length > 0) throw new Error(`swarm rig teardown left: ${left.join(", ")}`);
  }
}

/** What of a run still exists: namespaces, cgroups, the temp dir. */
export function leftovers(runName: string): string[] {
  const found: string[] = [];
  const ns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  for (const l of ns.split("\n")) if (l.startsWith(`${runName}-`)) found.push(`netns ${l.split(" ")[0]}`);
  if (existsSync(`/tmp/${runName}`)) found.push(`/tmp/${runName}`);
  for (const top of ["/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory", "/sys/fs/cgroup"]) {
    const r = spawnSync("ls", [top], { encoding: "utf8" });
    for (const e of (r.stdout ?? "").split("\n")) if (e.startsWith(`${runName}-`)) found.push(`cgroup ${top}/${e}`);
  }
  return found;
}

// --- stand-in images ---

export interface StandInImage {
  readonly tag: string;
  readonly tar: Buffer;
  readonly changes: readonly string[];
}

const PASSWD =
  "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/nonexistent:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n";
const GROUP = "root:x:0:\napp:x:1000:\nnogroup:x:65534:\n";

function busyboxEntries(): TarEntry[] {
  const bb = staticBusyboxRequirement();
  if (!bb.path) throw new Error(bb.reason);
  const applets = spawnSync(bb.path, ["--list"], { encoding: "utf8" })
    .stdout.split("\n")
    .filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== "busybox");
  return [
    { name: "bin/", type: "dir", mode: 0o755 },
    { name: "bin/busybox", type: "file", mode: 0o755, content: readFileSync(bb.path) },
    ...applets.map((a): TarEntry => ({ name: `bin/${a}`, type: "symlink", mode: 0o777, linkname: "busybox" })),
    { name: "etc/", type: "dir", mode: 0o755 },
    { name: "etc/passwd", type: "file", mode: 0o644, content: PASSWD },
    { name: "etc/group", type: "file", mode: 0o644, content: GROUP },
    { name: "tmp/", type: "dir", mode: 0o1777 },
  ];
}

function image(name: string, entries: TarEntry[], changes: string[]): StandInImage {
  const tar = ustar(entries);
  const digest = createHash("sha256").update(tar).update(changes.join("\n")).digest("hex").slice(0, 12);
  return { tag: `updateio-test/${name}:${digest}`, tar, changes };
}

/** The app stand-in: the static busybox (httpd, wget, nc, sh) and users root, app (1000:1000). */
export function appStandInImage(): StandInImage {
  return image("swarm-app", busyboxEntries(), ["ENV PATH=/bin", 'CMD ["sleep", "3600"]']);
}

/**
 * The edge stand-in: busybox plus Debian's caddy. Debian builds caddy with cgo, so the shared
 * libraries `ldd` names (and the loader) go into the image with it.
 */
export function edgeStandInImage(): StandInImage {
  const caddy = requireBinary("caddy");
  if (!caddy.path) throw new Error(caddy.reason);
  const caddyPath = realpathSync(caddy.path);
  const libs = sharedLibraries(caddyPath);
  const dirs = new Set<string>(["usr/", "usr/bin/"]);
  for (const l of libs) {
    const parts = l.replace(/^\//, "").split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(`${parts.slice(0, i).join("/")}/`);
  }
  const entries: TarEntry[] = [
    ...busyboxEntries(),
    ...[...dirs].sort().map((d): TarEntry => ({ name: d, type: "dir", mode: 0o755 })),
    { name: "usr/bin/caddy", type: "file", mode: 0o755, content: readFileSync(caddyPath) },
    // readFileSync follows the symlinks ldd reports (libc.so.6 -> libc-2.36.so): the image gets the real bytes.
    ...libs.map((l): TarEntry => ({ name: l.replace(/^\//, ""), type: "file", mode: 0o755, content: readFileSync(l) })),
    { name: "etc/caddy/", type: "dir", mode: 0o755 },
  ];
  return image("swarm-edge", entries, [
    "ENV PATH=/bin:/usr/bin",
    "ENV HOME=/tmp",
    "ENV XDG_CONFIG_HOME=/tmp",
    "ENV XDG_DATA_HOME=/tmp",
    'CMD ["caddy", "version"]',
  ]);
}

/** Absolute paths of the shared objects (and loader) an ELF needs, from ldd; none for a static binary. */
function sharedLibraries(path: string): string[] {
  const r = spawnSync("ldd", [path], { encoding: "utf8" });
  if (r.status !== 0) return []; // "not a dynamic executable"
  const libs = new Set<string>();
  for (const line of r.stdout.split("\n")) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.add(m[1]!);
  }
  return [...libs];
}

/** Writes a file under the rig's directory (bind-mounted into containers by the node daemons). */
export function writeRigFile(rig: SwarmRig, name: string, content: string): string {
  const path = join(rig.dir, "files", name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

// --- a client that sends requests one after another, from the client namespace ---

/** Runs in the client namespace: GET $URL one request at a time until stdin closes; one JSON line per request. */
const LOAD_CLIENT = `
const http = require("node:http");
const url = process.env.LOAD_URL;
const timeoutMs = Number(process.env.LOAD_TIMEOUT_MS);
const pauseMs = Number(process.env.LOAD_PAUSE_MS);
let stop = false;
process.stdin.on("end", () => { stop = true; });
process.stdin.on("error", () => { stop = true; });
process.stdin.resume();
const once = () => new Promise((resolve) => {
  const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (c) => { body += c; });
    res.on("end", () => resolve({ ok: res.statusCode === 200, status: res.statusCode, body: body.trim().slice(0, 200) }));
    res.on("error", (e) => resolve({ ok: false, err: e.message }));
  });
  req.on("timeout", () => req.destroy(new Error("no answer within " + timeoutMs + " ms")));
  req.on("error", (e) => resolve({ ok: false, err: e.message }));
});
(async () => {
  while (!stop) {
    const t = Date.now();
    const r = await once();
    process.stdout.write(JSON.stringify({ t, ms: Date.now() - t, ...r }) + "\\n");
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
  process.exit(0);
})();
`;

export interface Sample {
  /** When the request was sent (epoch ms) and how long it took. */
  readonly t: number;
  readonly ms: number;
  readonly ok: boolean;
  readonly status?: number;
  readonly body?: string;
  readonly err?: string;
}

export interface LoadSummary {
  readonly sent: number;
  readonly failed: number;
  /** Answered (200) but slower than this many ms. */
  readonly slowOverMs: number;
  readonly slow: number;
  /** The slow ones: seconds after `since` and how long each took. */
  readonly slowOnes: readonly { at: number; ms: number }[];
  readonly maxMs: number;
  readonly seconds: number;
  /** Failed requests, as seconds after `since` (or after the first request) with the reason. */
  readonly failures: readonly { at: number; why: string }[];
  /** Answer bodies and how often each came back. */
  readonly bodies: Readonly<Record<string, number>>;
}

export class Load {
  private readonly samples: Sample[] = [];
  private readonly child: ChildProcess;
  private buffer = "";
  private stderr = "";

  private constructor(rig: SwarmRig, url: string, timeoutMs: number, pauseMs: number) {
    this.child = rig.spawnInClient([process.execPath, "-e", LOAD_CLIENT], {
      LOAD_URL: url,
      LOAD_TIMEOUT_MS: String(timeoutMs),
      LOAD_PAUSE_MS: String(pauseMs),
    });
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      this.buffer += chunk;
      const lines = this.buffer.split("\n");
      this.buffer = lines.pop() ?? "";
      for (const l of lines) if (l.trim() !== "") this.samples.push(JSON.parse(l) as Sample);
    });
    this.child.stderr!.setEncoding("utf8").on("data", (c: string) => (this.stderr += c));
  }

  /** Starts sending; waits until the first answer is in (so a scenario starts under load). */
  static async start(rig: SwarmRig, url: string, opts: { timeoutMs?: number; pauseMs?: number } = {}): Promise<Load> {
    const load = new Load(rig, url, opts.timeoutMs ?? 10_000, opts.pauseMs ?? 0);
    await waitFor(
      "the load client's first answer",
      20_000,
      async () => {
        if (load.child.exitCode !== null) throw new Error(`load client exited ${load.child.exitCode}: ${load.stderr.trim()}`);
        return load.samples.length > 0 ? true : undefined;
      },
      100,
    );
    return load;
  }

  get count(): number {
    return this.samples.length;
  }

  /** Samples so far (a copy). */
  snapshot(): Sample[] {
    return [...this.samples];
  }

  /** Closes the client's stdin, waits for its last request, and sums up. */
  async stop(since?: number, slowOverMs = 2_000): Promise<LoadSummary> {
    const exited = new Promise<void>((r) => (this.child.exitCode !== null ? r() : this.child.once("exit", () => r())));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
    return summarize(this.samples, since, slowOverMs);
  }
}

export function summarize(samples: readonly Sample[], since?: number, slowOverMs = 2_000): LoadSummary {
  const t0 = since ?? samples[0]?.t ?? Date.now();
  const last = samples[samples.length - 1];
  const bodies: Record<string, number> = {};
  for (const s of samples) if (s.ok && s.body !== undefined) bodies[s.body] = (bodies[s.body] ?? 0) + 1;
  return {
    sent: samples.length,
    failed: samples.filter((s) => !s.ok).length,
    slowOverMs,
    slow: samples.filter((s) => s.ok && s.ms > slowOverMs).length,
    slowOnes: samples.filter((s) => s.ok && s.ms > slowOverMs).map((s) => ({ at: Math.round((s.t - t0) / 100) / 10, ms: s.ms })),
    maxMs: samples.reduce((m, s) => Math.max(m, s.ms), 0),
    seconds: last ? Math.round((last.t + last.ms - (samples[0]?.t ?? t0)) / 100) / 10 : 0,
    failures: samples
      .filter((s) => !s.ok)
      .map((s) => ({ at: Math.round((s.t - t0) / 100) / 10, why: s.err ?? `HTTP ${s.status}: ${s.body ?? ""}` })),
    bodies,
  };
}
