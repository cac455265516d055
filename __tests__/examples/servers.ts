/**
 * Real servers for the reference-service test, configured from the files the test stack uploads
 * (resolved by stack-settings.ts). Rewritten, and only this: ports, paths, listen addresses, and the
 * containers' host names (every node is localhost on its own loopback port, as in the Sentinel test).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireBinary } from "../support/binaries";
import { sleep } from "../support/postgres-server";
import { container, upload } from "./stack-settings";
import type { TerraformJson } from "../support/stacks";
import { rabbitNodeEnv, runRabbitUsersJob } from "../support/rabbitmq-node";

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000, stepMs = 100): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    try {
      if (await check()) return Date.now() - start;
    } catch {
      // not yet
    }
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}

/** A process with its output in <dir>/<name>.log. */
export class Proc {
  readonly child: ChildProcess;
  readonly log: string;
  constructor(
    name: string,
    dir: string,
    cmd: string,
    args: readonly string[],
    opts: { env?: NodeJS.ProcessEnv; detached?: boolean; cwd?: string } = {},
  ) {
    this.log = join(dir, `${name}.log`);
    const fd = openSync(this.log, "a");
    this.child = spawn(cmd, [...args], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ["ignore", fd, fd],
      detached: opts.detached ?? false,
    });
    closeSync(fd);
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  output(): string {
    return existsSync(this.log) ? readFileSync(this.log, "utf8") : "";
  }
  /** Sends `signal`; resolves with the exit code (null when killed by a signal) and how long it took. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<{ code: number | null; ms: number }> {
    const start = Date.now();
    if (!this.running) return { code: this.child.exitCode, ms: 0 };
    const exited = new Promise<number | null>((r) => this.child.once("exit", (code) => r(code)));
    this.child.kill(signal);
    return { code: await exited, ms: Date.now() - start };
  }
}

export const redisCli = (port: number, args: readonly string[]) =>
  spawnSync("redis-cli", ["--no-auth-warning", "-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8", timeout: 10_000 })
    .stdout ?? "";

/** The stack's Redis master, its replica and three Sentinels (redis-server, redis-sentinel). */
export class RedisSet {
  readonly procs = new Map<string, Proc>();
  constructor(
    private readonly dir: string,
    readonly ports: { readonly master: number; readonly replica: number; readonly sentinels: readonly number[] },
  ) {}

  async start(json: TerraformJson, env: string): Promise<void> {
    const node = (name: string, seed: string, port: number) => {
      const d = join(this.dir, name);
      mkdirSync(d, { recursive: true });
      const acl = join(d, "users_acl");
      const repl = join(d, "redis_replication_conf");
      // One ACL file for every data node (the acl seed's live volume); a copy each, as each mounts it.
      writeFileSync(acl, upload(json, `${env}-redis-acl-seed`, "/usr/local/etc/redis-acl/users.acl"));
      writeFileSync(repl, upload(json, seed, "/run/secrets/redis_replication_conf"));
      const conf = upload(json, seed, "/usr/local/etc/redis/redis.conf")
        .replace(/^port 6379$/m, `port ${port}`)
        .replace(/^aclfile .*$/m, `aclfile ${acl}`)
        .replace(/^include \/run\/secrets\/redis_replication_conf$/m, `include ${repl}`)
        .replace(/^dir \/data$/m, `dir ${d}`)
        .replace(/^replica-announce-ip .*$/m, "replica-announce-ip localhost")
        .replace(/^replicaof redis 6379$/m, `replicaof localhost ${this.ports.master}`);
      writeFileSync(join(d, "redis.conf"), conf);
      this.procs.set(name, new Proc(name, this.dir, "redis-server", [join(d, "redis.conf")]));
    };
    node("master", `${env}-redis-seed`, this.ports.master);
    node("replica", `${env}-redis-replica-1-seed`, this.ports.replica);
    this.ports.sentinels.forEach((port, i) => {
      const d = join(this.dir, `sentinel-${i + 1}`);
      mkdirSync(d, { recursive: true });
      // As in the container: Sentinel runs from a writable copy of the rendered file.
      const conf = upload(json, `${env}-redis-sentinel-${i + 1}-seed`, "/run/secrets/sentinel_conf")
        .replace(/^port 26379$/m, `port ${port}`)
        .replace(/^dir \/sentinel$/m, `dir ${d}`)
        .replace(/^sentinel announce-ip .*$/m, "sentinel announce-ip localhost")
        .replace(/^sentinel monitor (\S+) redis 6379 (\d+)$/m, `sentinel monitor $1 localhost ${this.ports.master} $2`);
      writeFileSync(join(d, "sentinel.rendered.conf"), conf);
      copyFileSync(join(d, "sentinel.rendered.conf"), join(d, "sentinel.conf"));
      this.procs.set(`sentinel-${i + 1}`, new Proc(`sentinel-${i + 1}`, this.dir, "redis-sentinel", [join(d, "sentinel.conf")]));
    });
  }

  async stopAll(): Promise<void> {
    for (const p of this.procs.values()) await p.stop("SIGKILL");
  }
}

/**
 * One RabbitMQ node with the stack's conf.d file, enabled plugins and boot definitions (vhost,
 * topology, the legacy user), and the app users applied as the stack does it: the users job's
 * rendered script, run with its own files once the node is up. The test stack runs three clustered
 * nodes; the cluster_formation lines are dropped (one node here), which is the only change to what
 * the nodes import and enforce (users, permissions, topology, policies).
 */
export class RabbitNode {
  readonly node: string;
  private proc?: Proc;
  private readonly env: NodeJS.ProcessEnv;
  /** The users job's run (its log), once it has applied the app users on the first start. */
  usersJobOutput?: string;
  constructor(
    private readonly dir: string,
    readonly ports: {
      readonly amqp: number;
      readonly management: number;
      readonly prometheus: number;
      readonly dist: number;
      readonly epmd: number;
    },
  ) {
    this.node = `rabbit-ref${ports.amqp}@localhost`;
    this.env = rabbitNodeEnv({
      dir,
      node: this.node,
      home: join(dir, "home"),
      configFiles: join(dir, "conf.d"),
      enabledPluginsFile: join(dir, "enabled_plugins"),
      distPort: ports.dist,
      epmdPort: ports.epmd,
    });
  }

  configure(json: TerraformJson, env: string): void {
    const seed = `${env}-rabbitmq-1-seed`;
    for (const d of ["home", "conf.d", "secrets"]) mkdirSync(join(this.dir, d), { recursive: true });
    const definitions = join(this.dir, "secrets", "rabbitmq_definitions");
    writeFileSync(definitions, upload(json, seed, "/run/secrets/rabbitmq_definitions"));
    const cookie = join(this.dir, "home", ".erlang.cookie");
    writeFileSync(cookie, upload(json, seed, "/run/secrets/erlang_cookie"));
    chmodSync(cookie, 0o400);
    const conf = upload(json, seed, "/etc/rabbitmq/conf.d/20-updateio.conf")
      .split("\n")
      .filter((l) => !/^cluster_formation\.|^cluster_partition_handling/.test(l))
      .join("\n")
      .replace(/^listeners\.tcp\.default = 5672$/m, `listeners.tcp.default = 127.0.0.1:${this.ports.amqp}`)
      .replace(/^management\.tcp\.port = 15672$/m, `management.tcp.port = ${this.ports.management}\nmanagement.tcp.ip = 127.0.0.1`)
      .replace(/^prometheus\.tcp\.port = 15692$/m, `prometheus.tcp.port = ${this.ports.prometheus}\nprometheus.tcp.ip = 127.0.0.1`)
      .replace(/^definitions\.local\.path = .*$/m, `definitions.local.path = ${definitions}`);
    writeFileSync(join(this.dir, "conf.d", "20-updateio.conf"), conf);
    writeFileSync(join(this.dir, "enabled_plugins"), upload(json, seed, "/etc/rabbitmq/plugins/enabled_plugins"));
    // The users job's files, as its seed uploads them (its secret, its expected permissions, its script).
    const jobSeed = `${env}-rabbitmq-users-seed`;
    for (const d of ["users", "users-home"]) mkdirSync(join(this.dir, d), { recursive: true });
    for (const file of [
      "/run/secrets/rabbitmq_users",
      "/run/secrets/erlang_cookie",
      "/etc/rabbitmq-users/expected-permissions.tsv",
      "/etc/rabbitmq-users/sync-users.sh",
    ])
      writeFileSync(join(this.dir, "users", file.slice(file.lastIndexOf("/") + 1)), upload(json, jobSeed, file));
    if (!/rabbit@rabbitmq-1/.test(container(json, `${env}-rabbitmq-1`).env.join(" "))) throw new Error("unexpected rabbitmq node name");
  }

  private bin(name: string): string {
    return existsSync(`/usr/lib/rabbitmq/bin/${name}`) ? `/usr/lib/rabbitmq/bin/${name}` : requireBinary(name).path!;
  }

  ctl(args: readonly string[]): { status: number | null; out: string } {
    const r = spawnSync(this.bin("rabbitmqctl"), ["-n", this.node, ...args], { env: this.env, encoding: "utf8", timeout: 60_000 });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  }

  async start(): Promise<number> {
    const started = Date.now();
    this.proc = new Proc("rabbitmq", this.dir, this.bin("rabbitmq-server"), [], { env: this.env, detached: true });
    await until(
      "rabbitmq-server is up",
      () => {
        if (!this.proc!.running) throw new Error(`rabbitmq-server exited:\n${this.proc!.output().slice(-3000)}`);
        return this.ctl(["await_startup", "--timeout", "5"]).status === 0;
      },
      120_000,
      500,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${this.proc!.output().slice(-3000)}`);
    });
    // As on the first apply: the job runs after the nodes. Restarts keep the users (in the node's data).
    if (this.usersJobOutput === undefined) this.usersJobOutput = this.applyUsers();
    return Date.now() - started;
  }

  /** Runs the users job's rendered script against this node; only paths and the node name are overridden. */
  private applyUsers(): string {
    const users = join(this.dir, "users");
    const r = runRabbitUsersJob({
      node: this.node,
      env: this.env,
      files: users,
      home: join(this.dir, "users-home"),
      cookieFile: join(users, "erlang_cookie"),
    });
    if (r.status !== 0) throw new Error(`the rabbitmq-users job failed (${r.status}):\n${r.out}`);
    return r.out;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p) return;
    this.ctl(["shutdown", "--timeout", "60"]);
    await until("rabbitmq-server exited", () => !p.running, 30_000).catch(() => {
      try {
        process.kill(-p.child.pid!, "SIGKILL");
      } catch {
        // gone
      }
    });
  }

  killEpmd(): void {
    spawnSync(requireBinary("epmd").path!, ["-port", String(this.ports.epmd), "-kill"], { timeout: 5_000 });
  }
}

/** Writes secret files as Swarm mounts them (owner and mode from the service spec) when we are root. */
export function writeSecret(path: string, content: string, owner?: { uid: number; gid: number; mode: number }): void {
  writeFileSync(path, content);
  if (process.getuid?.() === 0 && owner) {
    chownSync(path, owner.uid, owner.gid);
    chmodSync(path, owner.mode);
  } else chmodSync(path, 0o400);
}
