/**
 * Helpers for the host-lost drill (__tests__/recovery/): an S3 server on loopback (s3rver), rclone
 * to and from it, and Redis and RabbitMQ nodes on loopback started from the rendered config.
 *
 * RedisNode and RabbitNode are the start/stop/inventory code of __tests__/redis/redis-backup and
 * __tests__/rabbitmq/rabbit-backup, as classes: those files keep their local copies for now (their
 * owners were editing them), and can switch to these.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import S3rver from "s3rver";
import { renderEnabledPlugins, renderRabbitConf } from "../../constructs/rabbitmq";
import { renderRedisAcl, renderRedisBackupAclLine, renderRedisConf } from "../../constructs/redis";
import { execAsync, freePort, freePorts } from "./helpers";
import { rabbitBin, rabbitCtl, rabbitNodeEnv, runRabbitUsersJob, stopRabbitNode, waitForRabbitNode } from "./rabbitmq-node";

export { execAsync, type ExecResult } from "./helpers";

/** s3rver on 127.0.0.1 with one bucket; its default credentials are S3RVER / S3RVER. */
export class S3Loopback {
  static readonly KEY = "S3RVER";
  private server?: S3rver;
  endpoint = "";

  constructor(
    private readonly directory: string,
    readonly bucket: string,
  ) {}

  async start(): Promise<void> {
    mkdirSync(this.directory, { recursive: true });
    this.server = new S3rver({
      port: 0,
      address: "127.0.0.1",
      silent: true,
      directory: this.directory,
      configureBuckets: [{ name: this.bucket, configs: [] }],
    });
    const { port } = (await this.server.run()) as unknown as { port: number };
    this.endpoint = `http://127.0.0.1:${port}`;
  }

  async close(): Promise<void> {
    await this.server?.close();
  }

  /**
   * rclone's environment for this server, as the runbook's `docker run ... rclone/rclone` passes it
   * (no config file; the remote is `:s3:`).
   */
  rcloneEnv(home: string): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      RCLONE_CONFIG: "/dev/null",
      RCLONE_CACHE_DIR: join(home, ".rclone-cache"),
      RCLONE_S3_PROVIDER: "Other",
      RCLONE_S3_ENDPOINT: this.endpoint,
      RCLONE_S3_ACCESS_KEY_ID: S3Loopback.KEY,
      RCLONE_S3_SECRET_ACCESS_KEY: S3Loopback.KEY,
    };
  }

  /**
   * `rclone copy :s3:<bucket>/<prefix> <dest>`: the runbook's fetch. `asUser` runs it as that OS user
   * (runuser, when root), as `docker run --user` does. Returns what arrived and how long it took.
   */
  async fetch(prefix: string, dest: string, home: string, asUser?: string): Promise<FetchResult> {
    // --fast-list (one recursive listing): without it rclone 1.60 against s3rver copies the first level
    // of nested directories only (base/<stamp>/ came back empty); on real S3 it also saves requests.
    const args = ["copy", "--fast-list", "--stats", "0", `:s3:${this.bucket}/${prefix}`, dest];
    const env = this.rcloneEnv(home);
    const asRoot = process.getuid?.() === 0;
    const t0 = performance.now();
    const r =
      asUser && asRoot
        ? await execAsync(
            "runuser",
            ["-u", asUser, "--", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), "rclone", ...args],
            env,
          )
        : await execAsync("rclone", args, env);
    const seconds = (performance.now() - t0) / 1000;
    if (r.status !== 0) throw new Error(`rclone copy from ${prefix} failed (${r.status}): ${r.stderr}`);
    const { files, bytes } = treeSize(dest);
    return { files, bytes, seconds };
  }

  /** Writes `content` as the object `<prefix>/<name>`, as anyone holding the bucket's write key could. */
  async plant(prefix: string, name: string, content: string | Buffer, home: string): Promise<void> {
    const local = join(home, `planted-${name.replace(/\//g, "_")}`);
    writeFileSync(local, content);
    const r = await execAsync("rclone", ["copyto", "--stats", "0", local, `:s3:${this.bucket}/${prefix}/${name}`], this.rcloneEnv(home));
    if (r.status !== 0) throw new Error(`rclone copyto ${prefix}/${name} failed: ${r.stderr}`);
  }

  /** Every object under the prefix, sorted (relative names). */
  async list(prefix: string, home: string): Promise<string[]> {
    const r = await execAsync("rclone", ["lsf", "-R", "--files-only", `:s3:${this.bucket}/${prefix}`], this.rcloneEnv(home));
    if (r.status !== 0) throw new Error(`rclone lsf ${prefix} failed: ${r.stderr}`);
    return r.stdout.split("\n").filter(Boolean).sort();
  }
}

export interface FetchResult {
  readonly files: number;
  readonly bytes: number;
  readonly seconds: number;
}

/** Number of files and their total size under a directory (0 when it does not exist). */
export function treeSize(dir: string): { files: number; bytes: number } {
  if (!existsSync(dir)) return { files: 0, bytes: 0 };
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const s = statSync(join(dir, entry));
    if (s.isFile()) {
      files++;
      bytes += s.size;
    }
  }
  return { files, bytes };
}

/** Writes key files holding s3rver's credentials (the offsite scripts read the keys from files). */
export function writeS3KeyFiles(dir: string): { keyFile: string; secretFile: string } {
  mkdirSync(dir, { recursive: true });
  const keyFile = join(dir, "offsite_access_key_id");
  const secretFile = join(dir, "offsite_secret_access_key");
  writeFileSync(keyFile, `${S3Loopback.KEY}\n`);
  writeFileSync(secretFile, `${S3Loopback.KEY}\n`);
  return { keyFile, secretFile };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Debian's redis-server on loopback, on RedisCache's rendered config and ACL file plus the backup
 * ACL line RedisBackup needs; only `dir` and the port differ.
 */
export class RedisNode {
  static readonly APP = { user: "api", password: "AppPw0123456789abcdefABCDEF012345" };
  static readonly HEALTH_PASSWORD = "HealthPw0123456789abcdefABCDEF01";
  static readonly BACKUP_PASSWORD = "BackupPw0123456789abcdefABCDEF01";
  port = 0;
  private child?: ChildProcess;

  constructor(
    readonly dir: string,
    readonly dataDir: string,
  ) {}

  get passwordFile(): string {
    return join(this.dir, "redis_backup_password");
  }

  /** Renders the config (once), then starts; waits for PING as the healthcheck user. */
  async start(): Promise<void> {
    const conf = join(this.dir, "redis.conf");
    if (!existsSync(conf)) {
      this.port = await freePort();
      const acl = join(this.dir, "users_acl");
      writeFileSync(
        acl,
        renderRedisAcl({ apps: [RedisNode.APP], healthPassword: RedisNode.HEALTH_PASSWORD }) +
          renderRedisBackupAclLine(RedisNode.BACKUP_PASSWORD) +
          "\n",
      );
      writeFileSync(this.passwordFile, RedisNode.BACKUP_PASSWORD);
      writeFileSync(conf, renderRedisConf({ memoryMb: 256, aclFile: acl, port: this.port }).replace("dir /data", `dir ${this.dataDir}`));
    }
    mkdirSync(this.dataDir, { recursive: true });
    this.child = spawn("redis-server", [conf], { stdio: "ignore" });
    for (let i = 0; i < 200; i++) {
      if (this.cli(["ping"], "healthcheck", RedisNode.HEALTH_PASSWORD).stdout.includes("PONG")) return;
      await sleep(50);
    }
    throw new Error("redis-server did not answer PING within 10 s");
  }

  async stop(): Promise<void> {
    const p = this.child;
    this.child = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    await exited;
  }

  cli(args: readonly string[], user = RedisNode.APP.user, pass = RedisNode.APP.password, input?: string) {
    return spawnSync(
      "redis-cli",
      ["--no-auth-warning", "-h", "127.0.0.1", "-p", String(this.port), "--user", user, "--pass", pass, ...args],
      {
        encoding: "utf8",
        timeout: 60_000,
        input,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
  }
}

/** What a node holds, from one `export_definitions` (one CLI call: each boots an Erlang VM, seconds on a busy machine). */
export interface RabbitInventory {
  readonly vhosts: number;
  readonly users: number;
  readonly permissions: number;
  readonly policies: number;
  readonly queues: number;
  readonly exchanges: number;
  readonly bindings: number;
  /** Every object above, normalized and sorted: equal fingerprints mean equal definitions. */
  readonly fingerprint: string;
}

type Definitions = Record<string, Array<Record<string, unknown>> | unknown>;

/** Counts and a fingerprint of an export; node-specific parts (versions, global parameters) left out. */
export function rabbitInventory(defs: Definitions): RabbitInventory {
  const list = (key: string) => (Array.isArray(defs[key]) ? (defs[key] as Array<Record<string, unknown>>) : []);
  const kinds = ["vhosts", "users", "permissions", "policies", "queues", "exchanges", "bindings"] as const;
  // Users without their hash: the hash is what the import writes back, not what is compared.
  const normalized = kinds.map((k) =>
    list(k)
      .map((o) => JSON.stringify(Object.entries(k === "users" ? { name: o.name, tags: o.tags } : o).sort(([a], [b]) => a.localeCompare(b))))
      .sort(),
  );
  const counts = Object.fromEntries(kinds.map((k, i) => [k, normalized[i]!.length])) as Record<(typeof kinds)[number], number>;
  return { ...counts, fingerprint: JSON.stringify(normalized) };
}

/**
 * Debian's rabbitmq-server on loopback, booted on RabbitBroker's rendered config and boot definitions
 * (imported at boot: vhost, topology, the legacy user; the app users come from the users job, see
 * runUsersJob), every port picked free and every path in a temp dir.
 */
export class RabbitNode {
  static readonly COOKIE = "CookieHostLostABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnop";
  readonly node: string;
  readonly paths: { etc: string; plugins: string; secrets: string; home: string; mnesia: string };
  env: NodeJS.ProcessEnv = {};
  private child?: ChildProcess;

  constructor(
    readonly dir: string,
    readonly vhost: string,
    readonly bootDefinitions: string,
    name = "rabbit-host-lost",
  ) {
    this.node = `${name}@localhost`;
    this.paths = {
      etc: join(dir, "etc"),
      plugins: join(dir, "plugins"),
      secrets: join(dir, "secrets"),
      home: join(dir, "home"),
      mnesia: join(dir, "mnesia"),
    };
  }

  get cookieFile(): string {
    return join(this.paths.secrets, "erlang_cookie");
  }

  /** Renders config, plugins, definitions and the cookie (once), then starts and awaits startup. */
  async start(): Promise<void> {
    if (Object.keys(this.env).length === 0) await this.configure();
    const log = openSync(join(this.dir, "server.log"), "a");
    this.child = spawn(rabbitBin("rabbitmq-server"), [], { env: this.env, stdio: ["ignore", log, log], detached: true });
    closeSync(log);
    if (await waitForRabbitNode(this.child, () => this.ctl(["await_startup", "--timeout", "5"]).status === 0, 90_000)) return;
    throw new Error(`rabbitmq-server did not start:\n${readFileSync(join(this.dir, "server.log"), "utf8").slice(-3000)}`);
  }

  private async configure(): Promise<void> {
    for (const p of [this.paths.etc, this.paths.plugins, this.paths.secrets, this.paths.home]) mkdirSync(p, { recursive: true });
    const [amqp, management, prometheus, dist, epmd] = await freePorts(5);
    this.env = rabbitNodeEnv({
      dir: this.dir,
      node: this.node,
      home: this.paths.home,
      configFiles: this.paths.etc,
      enabledPluginsFile: join(this.paths.plugins, "enabled_plugins"),
      distPort: dist,
      epmdPort: epmd,
      mnesia: this.paths.mnesia,
    });
    const conf = renderRabbitConf({ memoryMb: 512, vhost: this.vhost, definitionsFile: "/run/secrets/rabbitmq_definitions" })
      .replace("/run/secrets/", `${this.paths.secrets}/`)
      .replace("listeners.tcp.default = 5672", `listeners.tcp.default = 127.0.0.1:${amqp}`)
      .replace("management.tcp.port = 15672", `management.tcp.port = ${management}\nmanagement.tcp.ip = 127.0.0.1`)
      .replace("prometheus.tcp.port = 15692", `prometheus.tcp.port = ${prometheus}\nprometheus.tcp.ip = 127.0.0.1`)
      .replace("disk_free_limit.absolute = 1GB", "disk_free_limit.absolute = 50MB");
    writeFileSync(join(this.paths.etc, "20-updateio.conf"), conf);
    writeFileSync(join(this.paths.plugins, "enabled_plugins"), renderEnabledPlugins());
    writeFileSync(join(this.paths.secrets, "rabbitmq_definitions"), this.bootDefinitions);
    writeFileSync(this.cookieFile, RabbitNode.COOKIE, { mode: 0o644 });
    // The server reads $HOME/.erlang.cookie; the image's wrapper installs the secret there.
    writeFileSync(join(this.paths.home, ".erlang.cookie"), RabbitNode.COOKIE, { mode: 0o400 });
  }

  async stop(): Promise<void> {
    const s = this.child;
    this.child = undefined;
    if (s) await stopRabbitNode(s, () => this.ctl(["shutdown", "--timeout", "30"]), 10_000);
  }

  ctl(args: readonly string[]): { status: number | null; out: string } {
    return rabbitCtl(this.node, this.env, args, 60_000);
  }

  /** RabbitBroker's users job script in `files`, run against this node (see runRabbitUsersJob). */
  runUsersJob(files: string, home: string, overrides: NodeJS.ProcessEnv = {}): { status: number | null; out: string } {
    return runRabbitUsersJob({ node: this.node, env: this.env, files, home, cookieFile: this.cookieFile, overrides });
  }

  /** The node's definitions (`rabbitmqctl export_definitions -`). */
  definitions(): Definitions {
    const r = spawnSync(rabbitBin("rabbitmqctl"), ["-n", this.node, "-q", "export_definitions", "-"], {
      env: this.env,
      encoding: "utf8",
      timeout: 60_000,
    });
    if (r.status !== 0) throw new Error(`rabbitmqctl export_definitions failed: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout) as Definitions;
  }

  inventory(): RabbitInventory {
    return rabbitInventory(this.definitions());
  }
}
