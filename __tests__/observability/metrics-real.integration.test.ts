/**
 * The metrics path of the `dev` stack on REAL servers: Debian's postgres_exporter (0.11),
 * redis_exporter (1.45), node_exporter (1.5) and Prometheus (2.42), fed exactly what our constructs
 * synthesize (read from the stack's Terraform JSON, never retyped):
 *
 * - the exporters' environment and command flags, and the secret files their seed containers upload;
 * - PostgreSQL 15 started with the cluster's container command, initdb arguments, pg_hba and every
 *   first-boot SQL file (roles, backup role, monitor role) as uploaded;
 * - redis-server with the uploaded redis.conf and ACL file;
 * - the backup scheduler's uploaded backup.sh, really run, writing the textfile metrics;
 * - Prometheus with the uploaded prometheus.yml, rule file and container flags.
 *
 * What is rewritten, and only that (each fixture says so again where it does it):
 * - `${random_password.<id>.result}` → a test password derived from <id>, so two uploads of the same
 *   Terraform value (e.g. the Redis monitor password in the ACL and in the exporter's password map)
 *   still carry the same password; no other Terraform expression may be left in a file we use;
 * - container host names and ports → 127.0.0.1 and free loopback ports;
 * - container paths (/run/secrets, /etc/..., /data, /var/lib/postgresql, /backups, /prometheus,
 *   /host) → temp dirs (or the host's own /, /proc, /sys for node-exporter's /host bind);
 * - Prometheus: scrape/evaluation interval 15s → 1s (so the test takes seconds, not minutes), and
 *   the jobs whose targets don't run here are dropped (listed in the test).
 *
 * Processes run as the container's user (setpriv to its uid:gid) when the tests run as root, as in
 * CI; otherwise as the current user. Every fixture stops what it starts and removes its temp dirs.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { durationSeconds } from "../../constructs/observability/renderers/alert-rules";
import { METRICS, SCRAPE_JOBS } from "../../constructs/observability/renderers/observability-catalogue";
import { describeIf, requireBinary, type Requirement } from "../support/binaries";
import { peerAsPostgresRequirement, postgresBinDir, postgresRequirement, sleep, TempPostgres } from "../support/postgres-server";
import { synthEnvironment, type TerraformJson } from "../support/stacks";
import { uploadOf } from "../support/test-stack";
import { freePort } from "../support/helpers";

const ENV = "dev" as const;
const AS_ROOT = process.getuid?.() === 0;

// =============================================================================================
// The synthesized stack (built once, on first use, in-process)
// =============================================================================================

type Json = Record<string, any>;
interface Upload {
  readonly file: string;
  readonly content: string;
}

let synthOut = "";
let synthesized: TerraformJson | undefined;
function stackJson(): TerraformJson {
  if (synthesized === undefined) {
    synthOut = mkdtempSync(join(tmpdir(), "updateio-metrics-synth-"));
    // The full profile: dev's default (logs) runs no Prometheus or exporters.
    synthesized = synthEnvironment(ENV, { UPDATEIO_DEV_OBSERVABILITY: "full" }, synthOut).json;
  }
  return synthesized;
}
afterAll(() => {
  if (synthOut !== "") rmSync(synthOut, { recursive: true, force: true });
});

/** The container named "<env>-<service>" (seeds are "<env>-<service>-seed"). */
function container(service: string): Json {
  const name = `${ENV}-${service}`;
  const found = Object.values(stackJson().resource.docker_container ?? {}).find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name} in the ${ENV} stack`);
  return found;
}

/** A container's env list as a record. */
function envOf(c: Json): Record<string, string> {
  return Object.fromEntries(((c.env ?? []) as string[]).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

function uploadsOf(seed: Json): Upload[] {
  return [...((seed.upload ?? []) as Upload[])];
}

/** The network aliases a container answers to (the host names other containers use for it). */
function aliasesOf(c: Json): Set<string> {
  return new Set(((c.networks_advanced ?? []) as Json[]).flatMap((n) => (n.aliases ?? []) as string[]));
}

/** "--name=value" flags (or bare "--name") of a command list, in order. */
function flagsOf(command: readonly string[]): [string, string | undefined][] {
  return command.map((arg) => {
    if (!arg.startsWith("--")) throw new Error(`not a --flag: ${arg}`);
    const eq = arg.indexOf("=");
    return eq === -1 ? [arg.slice(2), undefined] : [arg.slice(2, eq), arg.slice(eq + 1)];
  });
}
const flagArgs = (flags: readonly [string, string | undefined][]) => flags.map(([k, v]) => (v === undefined ? `--${k}` : `--${k}=${v}`));

// =============================================================================================
// Terraform values in uploaded files → test passwords
// =============================================================================================

/**
 * Replaces each `${random_password.<id>.result}` with a password derived from <id> (the same id
 * always gives the same password, in every file), then Terraform's `$${` escape (the kit escapes
 * literal `${` in uploads, e.g. the scripts' shell expansions) with `${`. Throws if any other
 * Terraform expression is left: a file we hand to a server must be fully resolved.
 */
function resolveTerraform(content: string): string {
  const replaced = content
    .replace(/(?<!\$)\$\{random_password\.([A-Za-z0-9_-]+)\.result\}/g, (_, id: string) => testPassword(id))
    .replace(/(?<!\$)\$\{sha256\(random_password\.([A-Za-z0-9_-]+)\.result\)\}/g, (_, id: string) =>
      createHash("sha256").update(testPassword(id)).digest("hex"),
    );
  const left = /(?<!\$)\$\{[^}]*\}/.exec(replaced);
  if (left)
    throw new Error(
      `unresolved Terraform expression ${left[0]} (only random_password results and their sha256 are replaced by test values)`,
    );
  return replaced.replace(/\$\$\{/g, "${");
}

function testPassword(id: string): string {
  return `Tst${createHash("sha256").update(id).digest("hex").slice(0, 29)}`;
}

// =============================================================================================
// Processes, ports, HTTP, metrics text
// =============================================================================================

/** "uid:gid" of a container's `user` ("65534:65534", "59000:59000" or a name such as "postgres"). */
function numericUser(user: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  if (m) return { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) };
  return {
    uid: Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim()),
    gid: Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim()),
  };
}

/** The command line that runs `cmd` as the container's user (as root), or as ourselves (otherwise). */
function asContainerUser(user: string | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  if (!AS_ROOT || user === undefined) return [cmd, [...args]];
  const { uid, gid } = numericUser(user);
  return ["setpriv", [`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", cmd, ...args]];
}

/** Gives a directory to the container's user (as root; otherwise we own it already). */
function giveTo(path: string, user: string): void {
  if (!AS_ROOT) return;
  const { uid, gid } = numericUser(user);
  chownSync(path, uid, gid);
}

/** A temp dir others may traverse (as the container users must, to reach their files). */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}

/** Writes a file the way an upload lands: mode 0644 (owned by root when root). */
function writeUpload(path: string, content: string): string {
  writeFileSync(path, content);
  chmodSync(path, 0o644);
  return path;
}

/** A long-running server process with its output in a log file; only the given env is passed. */
class Proc {
  readonly child: ChildProcess;
  private readonly logFile: string;

  constructor(
    readonly name: string,
    cmd: string,
    args: readonly string[],
    env: Record<string, string>,
    logDir: string,
    user?: string,
  ) {
    this.logFile = join(logDir, `${name}.log`);
    const fd = openSync(this.logFile, "a");
    const [c, argv] = asContainerUser(user, cmd, args);
    // Not process.env: the process sees its container's environment only (plus PATH).
    this.child = spawn(c, argv, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, cwd: logDir, stdio: ["ignore", fd, fd] });
    closeSync(fd);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, "utf8");
    } catch {
      return "";
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    const killer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(killer);
  }
}

async function httpText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return res.text();
}

async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  seconds = 30,
  explain: () => string = () => "",
): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  let lastError = "";
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      lastError = (e as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`timed out after ${seconds}s waiting for ${what}${lastError ? ` (last error: ${lastError})` : ""}\n${explain()}`);
}

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/** Prometheus text exposition format → samples (comments skipped). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[k!] = v!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** Keys whose values differ between the synthesized env and the env run here (the rewrites). */
const changedKeys = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a)
    .filter((k) => a[k] !== b[k])
    .sort();
/** The env run here has exactly the synthesized env's keys and differs from it only in `rewritten` (sorted). */
function expectOnlyRewritten(
  f: { readonly synthesizedEnv: Record<string, string>; readonly runEnv: Record<string, string> },
  rewritten: string[],
) {
  expect(Object.keys(f.runEnv).sort()).toEqual(Object.keys(f.synthesizedEnv).sort());
  expect(changedKeys(f.synthesizedEnv, f.runEnv)).toEqual(rewritten);
}
const namesOf = (samples: readonly Sample[]) => new Set(samples.map((s) => s.name));
const valuesOf = (samples: readonly Sample[], name: string) => samples.filter((s) => s.name === name);

async function scrape(port: number): Promise<Sample[]> {
  return parseMetrics(await httpText(`http://127.0.0.1:${port}/metrics`));
}

/**
 * Starts an exporter fixture before the describe's tests (and scrapes it once), stops it after;
 * `fx()` is the fixture, `samples()` that first scrape.
 */
function exporterFixture<F extends { readonly exporterPort: number; stop(): Promise<void> }>(start: () => Promise<F>) {
  let f: F | undefined;
  let samples: Sample[] = [];
  beforeAll(async () => {
    f = await start();
    samples = await scrape(f.exporterPort);
  }, 120_000);
  afterAll(async () => {
    await f?.stop();
  });
  return { fx: () => f!, samples: () => samples };
}

// =============================================================================================
// Fixtures: each starts what the synthesized containers run, and stops it again
// =============================================================================================

// --- PostgreSQL primary + postgres_exporter --------------------------------------------------

/**
 * postgres_exporter 0.11 flags. The exporter container has no command today (env only); if one is
 * added, flags 0.11 does not know are dropped here and listed in PG_FLAGS_UNKNOWN_TO_0_11.
 */
function postgresExporterKnownFlags(): Set<string> {
  const help = spawnSync("prometheus-postgres-exporter", ["--help-long"], { encoding: "utf8" });
  return new Set([...`${help.stdout}${help.stderr}`.matchAll(/--(?:\[no-\])?([a-zA-Z0-9._-]+)/g)].map((m) => m[1]!));
}
const PG_FLAGS_UNKNOWN_TO_0_11: readonly string[] = [];

interface PostgresFixture {
  readonly server: TempPostgres;
  readonly pgPort: number;
  readonly exporter: Proc;
  readonly exporterPort: number;
  /** The exporter container's env as synthesized, and as run here. */
  readonly synthesizedEnv: Record<string, string>;
  readonly runEnv: Record<string, string>;
  readonly droppedFlags: readonly string[];
  readonly monitorRole: string;
  stop(): Promise<void>;
}

/**
 * A primary as the PostgresCluster runs it: initdb with the container's POSTGRES_INITDB_ARGS and
 * superuser password file, the container's `postgres -c ...` settings, the uploaded pg_hba.conf,
 * and every uploaded /docker-entrypoint-initdb.d/*.sql run in name order the way the image's
 * entrypoint runs them (psql on the socket as postgres). Then postgres_exporter with the exporter
 * container's env and flags.
 *
 * Rewritten: /run/secrets → <dir>/secrets, /etc/postgresql/pg_hba.conf → <dir>/pg_hba.conf,
 * the settings file (config_file) → <dir>/postgresql.conf with its paths rewritten the same way,
 * the WAL archive under /var/lib/postgresql → <dir>/wal-archive, listen_addresses * → 127.0.0.1,
 * port 5432 → a free port (+ the socket in <dir>); DATA_SOURCE_URI's host:port → 127.0.0.1:<port>,
 * DATA_SOURCE_PASS_FILE → a temp file with the uploaded content, the listen address :9187 →
 * 127.0.0.1:<free port>.
 */
async function startPostgresWithExporter(): Promise<PostgresFixture> {
  const pg = container("postgres");
  const pgSeed = container("postgres-seed");
  const exporterC = container("postgres-exporter");
  const exporterSeed = container("postgres-exporter-seed");
  const pgEnv = envOf(pg);

  const pgPort = await freePort();
  const server = new TempPostgres(pgPort);
  const exporterDir = tempDir("updateio-pg-exporter-");
  let exporter: Proc | undefined;
  const stop = async () => {
    await exporter?.stop();
    server.stop();
    rmSync(exporterDir, { recursive: true, force: true });
  };
  try {
    // Secrets, as the seed uploads them into the secrets volume.
    const secretsDir = join(server.dir, "secrets");
    mkdirSync(secretsDir, { mode: 0o755 });
    const rewritePaths = (text: string) => text.replaceAll("/run/secrets/", `${secretsDir}/`);
    for (const u of uploadsOf(pgSeed).filter((x) => x.file.startsWith("/run/secrets/"))) {
      writeUpload(join(secretsDir, u.file.slice("/run/secrets/".length)), resolveTerraform(u.content));
    }
    const hbaFile = writeUpload(join(server.dir, "pg_hba.conf"), resolveTerraform(uploadOf(pgSeed, "/etc/postgresql/pg_hba.conf")));

    // initdb as the image's entrypoint does: --username, --pwfile, then POSTGRES_INITDB_ARGS.
    const pwFile = rewritePaths(pgEnv.POSTGRES_PASSWORD_FILE!);
    server.run(server.tool("initdb"), [
      "-D",
      server.dataDir,
      `--username=${pgEnv.POSTGRES_USER}`,
      `--pwfile=${pwFile}`,
      ...pgEnv.POSTGRES_INITDB_ARGS!.split(" "),
    ]);

    // The container command: postgres -c k=v ...
    const command = pg.command as string[];
    expect(command[0]).toBe("postgres");
    const settings: Record<string, string> = {};
    for (let i = 1; i < command.length; i += 2) {
      expect(command[i], `postgres argument ${i}`).toBe("-c");
      const kv = command[i + 1]!;
      settings[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
    }
    const walArchive = join(server.dir, "wal-archive");
    // The live settings file (config_file) as its seed uploads it: reloadable settings live only there.
    const settingsFile = writeUpload(
      join(server.dir, "postgresql.conf"),
      uploadOf(container("postgres-settings-seed"), settings.config_file!)
        .replaceAll("/var/lib/postgresql/wal-archive", walArchive)
        .replaceAll("/var/lib/postgresql/data/", `${server.dataDir}/`)
        .replaceAll("/etc/postgresql/pg_hba.conf", hbaFile),
    );
    const run: Record<string, string> = {
      ...settings,
      config_file: settingsFile,
      hba_file: hbaFile,
      listen_addresses: "127.0.0.1",
      port: String(pgPort),
      unix_socket_directories: server.dir,
    };
    expect(readFileSync(settingsFile, "utf8"), "every container path in the settings file is rewritten").not.toMatch(
      /\/var\/lib\/postgresql\/|\/etc\/postgresql\/|\/run\/secrets/,
    );
    const leftover = Object.entries(run).filter(([, v]) => /\/var\/lib\/postgresql|\/etc\/postgresql|\/run\/secrets/.test(v));
    expect(leftover, "every container path in the settings is rewritten").toEqual([]);
    const child = server.spawnAsUser("postgres", ["-D", server.dataDir, ...Object.entries(run).flatMap(([k, v]) => ["-c", `${k}=${v}`])]);
    await server.waitReady(30_000, child);

    // First boot: every uploaded init script, in name order, as docker_process_sql runs a .sql file.
    const initScripts = uploadsOf(pgSeed)
      .filter((u) => u.file.startsWith("/docker-entrypoint-initdb.d/"))
      .sort((a, b) => (a.file < b.file ? -1 : 1));
    expect(initScripts.map((u) => u.file.split("/").pop())).toEqual([
      "10-updateio-roles.sql",
      "15-updateio-reload-role.sql",
      "20-updateio-backup.sql",
      "21-updateio-restore-drill.sql",
      "22-updateio-monitor.sql",
      "23-updateio-grafana.sql",
    ]);
    for (const u of initScripts) {
      const script = server.writeFile(u.file.split("/").pop()!, rewritePaths(resolveTerraform(u.content)));
      expect(readFileSync(script, "utf8")).not.toContain("/run/secrets");
      server.run(
        "psql",
        ["-v", "ON_ERROR_STOP=1", "--username", pgEnv.POSTGRES_USER!, "--no-password", "--no-psqlrc", "--dbname", "postgres", "-f", script],
        {
          PGHOST: server.dir,
          PGPORT: String(pgPort),
        },
      );
    }

    // The exporter: its env with host, port and paths rewritten.
    const synthesizedEnv = envOf(exporterC);
    const uri = /^([a-z0-9-]+):(\d+)\/(.+)$/.exec(synthesizedEnv.DATA_SOURCE_URI ?? "");
    if (!uri) throw new Error(`DATA_SOURCE_URI ${synthesizedEnv.DATA_SOURCE_URI} is not host:port/database?...`);
    expect(aliasesOf(pg).has(uri[1]!), `DATA_SOURCE_URI host ${uri[1]} is the Postgres container's alias`).toBe(true);
    expect(Number(uri[2]), "DATA_SOURCE_URI port is the port Postgres listens on in its container").toBe(5432);
    expect(settings.port ?? "5432").toBe("5432");
    const passFile = writeUpload(
      join(exporterDir, "postgres_monitor_password"),
      resolveTerraform(uploadOf(exporterSeed, synthesizedEnv.DATA_SOURCE_PASS_FILE!)),
    );
    const exporterPort = await freePort();
    const runEnv = {
      ...synthesizedEnv,
      DATA_SOURCE_URI: `127.0.0.1:${pgPort}/${uri[3]}`,
      DATA_SOURCE_PASS_FILE: passFile,
      PG_EXPORTER_WEB_LISTEN_ADDRESS: `127.0.0.1:${exporterPort}`,
    };
    const known = postgresExporterKnownFlags();
    const flags = flagsOf((exporterC.command ?? []) as string[]);
    const droppedFlags = flags.filter(([k]) => !known.has(k)).map(([k]) => k);
    exporter = new Proc(
      "postgres-exporter",
      "prometheus-postgres-exporter",
      flagArgs(flags.filter(([k]) => known.has(k))),
      runEnv,
      exporterDir,
      exporterC.user,
    );
    const started = exporter;
    await waitFor(
      "postgres_exporter /metrics",
      async () => (await httpText(`http://127.0.0.1:${exporterPort}/metrics`)).includes("pg_up"),
      30,
      () => started.log(),
    );
    return {
      server,
      pgPort,
      exporter,
      exporterPort,
      synthesizedEnv,
      runEnv,
      droppedFlags,
      monitorRole: synthesizedEnv.DATA_SOURCE_USER!,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

// --- redis-server + redis_exporter -----------------------------------------------------------

interface RedisFixture {
  readonly redisPort: number;
  readonly exporter: Proc;
  readonly exporterPort: number;
  readonly synthesizedEnv: Record<string, string>;
  readonly runEnv: Record<string, string>;
  /** maxmemory as written in the uploaded redis.conf, in bytes. */
  readonly maxmemoryBytes: number;
  readonly passwordMap: Record<string, string>;
  stop(): Promise<void>;
}

/** Redis memory units (redis.conf: 1k = 1000, 1kb = 1024, ...). */
function redisBytes(value: string): number {
  const m = /^(\d+)(k|kb|m|mb|g|gb)?$/i.exec(value);
  if (!m) throw new Error(`not a redis memory size: ${value}`);
  const unit: Record<string, number> = { "": 1, k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 };
  return Number(m[1]) * unit[(m[2] ?? "").toLowerCase()]!;
}

/**
 * redis-server with the redis seed's uploaded redis.conf and ACL file (the container command
 * `redis-server <conf>`), then redis_exporter with its container's env.
 *
 * Rewritten in redis.conf: `bind * -::*` → `bind 127.0.0.1`, `port 6379` → a free port,
 * `aclfile /usr/local/etc/redis-acl/users.acl` (the acl seed's file) → the temp copy, `dir /data` → the temp dir. In the exporter's
 * env: REDIS_ADDR redis://redis:6379 → redis://127.0.0.1:<port> (and the same key in the password
 * map, which redis_exporter looks up by the exact address), REDIS_PASSWORD_FILE → a temp copy of the
 * uploaded map, the listen address → 127.0.0.1:<free port>. redis-server runs as the current user.
 */
async function startRedisWithExporter(): Promise<RedisFixture> {
  const redis = container("redis");
  const redisSeed = container("redis-seed");
  const aclSeed = container("redis-acl-seed");
  const exporterC = container("redis-exporter");
  const exporterSeed = container("redis-exporter-seed");
  const dir = tempDir("updateio-redis-metrics-");
  const procs: Proc[] = [];
  const stop = async () => {
    for (const p of [...procs].reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const command = redis.command as string[];
    expect(command[0]).toBe("redis-server");
    const confUpload = command[1]!;
    const redisPort = await freePort();
    const aclPath = writeUpload(join(dir, "users_acl"), resolveTerraform(uploadOf(aclSeed, "/usr/local/etc/redis-acl/users.acl")));
    const rewrites: Record<string, { from: RegExp; to: string }> = {
      bind: { from: /^bind .*$/m, to: "bind 127.0.0.1" },
      port: { from: /^port 6379$/m, to: `port ${redisPort}` },
      aclfile: { from: /^aclfile \/usr\/local\/etc\/redis-acl\/users\.acl$/m, to: `aclfile ${aclPath}` },
      dir: { from: /^dir \/data$/m, to: `dir ${dir}` },
    };
    let conf = resolveTerraform(uploadOf(redisSeed, confUpload));
    for (const [directive, { from, to }] of Object.entries(rewrites)) {
      expect(conf.match(new RegExp(from.source, "gm"))?.length, `redis.conf has one "${directive}" line of the expected form`).toBe(1);
      conf = conf.replace(from, to);
    }
    const confPath = writeUpload(join(dir, "redis.conf"), conf);
    const maxmemory = /^maxmemory (\S+)$/m.exec(conf);
    if (!maxmemory) throw new Error("the uploaded redis.conf sets no maxmemory");
    const server = new Proc("redis-server", "redis-server", [confPath], {}, dir);
    procs.push(server);
    await waitFor(
      `redis-server on ${redisPort}`,
      () => spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(redisPort), "ping"], { encoding: "utf8" }).stdout.includes("NOAUTH"),
      15,
      () => server.log(),
    );

    const synthesizedEnv = envOf(exporterC);
    const addr = /^redis:\/\/([a-z0-9-]+):(\d+)$/.exec(synthesizedEnv.REDIS_ADDR ?? "");
    if (!addr) throw new Error(`REDIS_ADDR ${synthesizedEnv.REDIS_ADDR} is not redis://host:port`);
    expect(aliasesOf(redis).has(addr[1]!), `REDIS_ADDR host ${addr[1]} is the Redis container's alias`).toBe(true);
    expect(Number(addr[2])).toBe(6379);
    const passwordMap = JSON.parse(resolveTerraform(uploadOf(exporterSeed, synthesizedEnv.REDIS_PASSWORD_FILE!))) as Record<string, string>;
    const localAddr = `redis://127.0.0.1:${redisPort}`;
    const localMap = Object.fromEntries(Object.entries(passwordMap).map(([k, v]) => [k === synthesizedEnv.REDIS_ADDR ? localAddr : k, v]));
    const mapPath = writeUpload(join(dir, "redis_password_map"), `${JSON.stringify(localMap)}\n`);
    const exporterPort = await freePort();
    const runEnv = {
      ...synthesizedEnv,
      REDIS_ADDR: localAddr,
      REDIS_PASSWORD_FILE: mapPath,
      REDIS_EXPORTER_WEB_LISTEN_ADDRESS: `127.0.0.1:${exporterPort}`,
    };
    const exporter = new Proc(
      "redis-exporter",
      "prometheus-redis-exporter",
      (exporterC.command ?? []) as string[],
      runEnv,
      dir,
      exporterC.user,
    );
    procs.push(exporter);
    await waitFor(
      "redis_exporter /metrics",
      async () => (await httpText(`http://127.0.0.1:${exporterPort}/metrics`)).includes("redis_up"),
      30,
      () => exporter.log(),
    );
    return { redisPort, exporter, exporterPort, synthesizedEnv, runEnv, maxmemoryBytes: redisBytes(maxmemory[1]!), passwordMap, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// --- the backup scheduler's script (writes the textfile metrics) ------------------------------

interface BackupsVolume {
  /** The temp dir standing for the backups volume (the scheduler's /var/lib/postgresql, node-exporter's /backups). */
  readonly dir: string;
  /** Runs the uploaded backup.sh `once` (what `loop` runs at start) against host:port; returns its exit status and output. */
  runOnce(pgPort: number): { status: number; output: string };
  readonly metricsFile: string;
  remove(): void;
}

/**
 * The backups volume and the scheduler's uploaded backup.sh, run as the scheduler container's user
 * with the environment overrides the script reads its defaults from: BACKUP_ROOT (the volume,
 * /var/lib/postgresql in the container) → the temp dir, PGHOST postgres → 127.0.0.1, PGPORT 5432 →
 * the given port, BACKUP_PASSWORD_FILE and BACKUP_SIGNING_KEY_FILE → temp copies of the uploaded
 * password and signing key. The temp dir is
 * 0755 and owned by the scheduler's user, like the image's /var/lib/postgresql that the volume
 * copies up.
 */
function backupsVolume(): BackupsVolume {
  const scheduler = container("postgres-backup");
  const seed = container("postgres-backup-seed");
  // The container: sh /etc/postgres-backup/backup.sh loop
  expect(scheduler.entrypoint).toEqual(["sh", "/etc/postgres-backup/backup.sh"]);
  expect(scheduler.command).toEqual(["loop"]);
  const script = uploadOf(seed, "/etc/postgres-backup/backup.sh");
  const scriptText = resolveTerraform(script);
  const password = resolveTerraform(uploadOf(seed, "/run/secrets/postgres_backup_password"));
  const signingKey = resolveTerraform(uploadOf(seed, "/run/secrets/backup_signing_key"));
  const dir = tempDir("updateio-backups-");
  const filesDir = tempDir("updateio-backup-files-");
  const remove = () => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(filesDir, { recursive: true, force: true });
  };
  let scriptPath = "";
  let passwordFile = "";
  let keyFile = "";
  try {
    giveTo(dir, scheduler.user);
    scriptPath = writeUpload(join(filesDir, "backup.sh"), scriptText);
    passwordFile = writeUpload(join(filesDir, "postgres_backup_password"), password);
    keyFile = writeUpload(join(filesDir, "backup_signing_key"), signingKey);
  } catch (e) {
    remove();
    throw e;
  }
  const bin = postgresBinDir();
  return {
    dir,
    metricsFile: join(dir, "metrics", "postgres_backup.prom"),
    runOnce(pgPort: number) {
      const env = {
        PATH: `${bin ? `${bin}:` : ""}${process.env.PATH ?? "/usr/bin:/bin"}`,
        BACKUP_ROOT: dir,
        PGHOST: "127.0.0.1",
        PGPORT: String(pgPort),
        BACKUP_PASSWORD_FILE: passwordFile,
        BACKUP_SIGNING_KEY_FILE: keyFile,
        TMPDIR: dir,
      };
      const [cmd, argv] = asContainerUser(scheduler.user, "sh", [scriptPath, "once"]);
      const r = spawnSync(cmd, argv, { encoding: "utf8", env, cwd: dir, timeout: 120_000 });
      return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
    },
    remove,
  };
}

// --- node-exporter ----------------------------------------------------------------------------

interface NodeFixture {
  readonly exporter: Proc;
  readonly port: number;
  readonly flags: readonly [string, string | undefined][];
  stop(): Promise<void>;
}

/** The list of the stack's services that node-exporter's live config uploads (ContainerMissing's). */
function expectedServicesFile(): string {
  return resolveTerraform(uploadOf(container("node-exporter-expected-services-seed"), "/expected-services/expected-services.prom"));
}

/**
 * node-exporter with its container's flags. Rewritten: --path.rootfs=/host, --path.procfs=/host/proc
 * and --path.sysfs=/host/sys → /, /proc and /sys (the container binds the host's / at /host; here
 * the host's root is ours), --web.listen-address=:9100 → 127.0.0.1:<free port>, and the textfile
 * directories /backups/metrics (the backups volume mounted at /backups), /volume-usage (that job's
 * own volume, empty here: the job does not run) and /expected-services (the live config with the
 * list of services) → <backups dir>/metrics alone, with the list's uploaded
 * file copied there: Debian's node-exporter 1.5 refuses the flag twice (the pinned image, 1.9 or
 * later, takes it more than once).
 */
async function startNodeExporter(backupsDir: string, logDir: string): Promise<NodeFixture> {
  const c = container("node-exporter");
  const mountAt = (path: string) => ((c.volumes ?? []) as Json[]).find((v) => v.container_path === path);
  expect(mountAt("/backups"), "node-exporter mounts the backups volume at /backups").toBeDefined();
  expect(mountAt("/expected-services")?.read_only, "node-exporter mounts the list of services read-only at /expected-services").toBe(true);
  const port = await freePort();
  const rewrite: Record<string, string> = {
    "path.rootfs": "/",
    "path.procfs": "/proc",
    "path.sysfs": "/sys",
    "web.listen-address": `127.0.0.1:${port}`,
  };
  const synthesized = flagsOf(c.command as string[]);
  const expectedOriginal: Record<string, string> = {
    "path.rootfs": "/host",
    "path.procfs": "/host/proc",
    "path.sysfs": "/host/sys",
    "web.listen-address": `:${SCRAPE_JOBS.node.port}`,
  };
  for (const [k, v] of Object.entries(expectedOriginal)) expect(synthesized.find(([f]) => f === k)?.[1], `--${k} as synthesized`).toBe(v);
  expect(synthesized.filter(([f]) => f === "collector.textfile.directory").map(([, v]) => v)).toEqual([
    "/backups/metrics",
    "/volume-usage",
    "/expected-services",
  ]);
  expect(mountAt("/volume-usage")?.read_only, "node-exporter mounts volume-usage's metrics volume read-only at /volume-usage").toBe(true);
  mkdirSync(join(backupsDir, "metrics"), { recursive: true, mode: 0o755 });
  writeUpload(join(backupsDir, "metrics", "expected-services.prom"), expectedServicesFile());
  const flags = [
    ...synthesized
      .filter(([k]) => k !== "collector.textfile.directory")
      .map(([k, v]): [string, string | undefined] => [k, k in rewrite ? rewrite[k] : v]),
    ["collector.textfile.directory", join(backupsDir, "metrics")] as [string, string],
  ];
  const exporter = new Proc("node-exporter", "prometheus-node-exporter", flagArgs(flags), {}, logDir, c.user);
  try {
    await waitFor(
      "node-exporter /metrics",
      async () => (await httpText(`http://127.0.0.1:${port}/metrics`)).includes("node_scrape_collector_success"),
      30,
      () => exporter.log(),
    );
  } catch (e) {
    await exporter.stop();
    throw e;
  }
  return { exporter, port, flags, stop: () => exporter.stop() };
}

/**
 * The mount points node-exporter's filesystem collector should report with our excludes: it reads
 * /proc/1/mounts (falling back to /proc/self/mounts), as node_exporter 1.5 does with
 * --path.procfs=/proc.
 */
function expectedMountPoints(flags: readonly [string, string | undefined][]): string[] {
  const mountsFile = existsSync("/proc/1/mounts") ? "/proc/1/mounts" : "/proc/self/mounts";
  const pointsExclude = new RegExp(flags.find(([k]) => k === "collector.filesystem.mount-points-exclude")![1]!);
  const typesExclude = new RegExp(flags.find(([k]) => k === "collector.filesystem.fs-types-exclude")![1]!);
  let text = "";
  try {
    text = readFileSync(mountsFile, "utf8");
  } catch {
    text = readFileSync("/proc/self/mounts", "utf8");
  }
  const points = text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => l.split(" "))
    .filter(([, point, type]) => !pointsExclude.test(point!.replace(/\\040/g, " ")) && !typesExclude.test(type!))
    .map(([, point]) => point!.replace(/\\040/g, " "));
  return [...new Set(points)].sort();
}

// =============================================================================================
// Requirements
// =============================================================================================

const bin = (name: string): Requirement => requireBinary(name);
const POSTGRES_REQS = [postgresRequirement(), peerAsPostgresRequirement(), bin("psql"), bin("prometheus-postgres-exporter")];
const REDIS_REQS = [bin("redis-server"), bin("redis-cli"), bin("prometheus-redis-exporter")];
const NODE_REQS = [bin("prometheus-node-exporter"), bin("sh")];
const ROOT_TOOLS: Requirement[] = AS_ROOT ? [bin("setpriv")] : [];

/**
 * The METRICS.postgres names Debian's postgres_exporter 0.11 does not produce on a primary.
 * pg_replication_lag_seconds and pg_replication_is_replica come from the `replication` collector
 * (collector/pg_replication.go) of newer exporters (we pin v0.20 in environments/images.ts); 0.11
 * has no such collector (its only replication metrics are the pg_stat_replication_* and
 * pg_replication_slots_* maps). So on 0.11 the PostgresReplicationLag alert can't be checked.
 */
const POSTGRES_NAMES_ABSENT_ON_0_11 = ["pg_replication_is_replica", "pg_replication_lag_seconds"];

// =============================================================================================
// 1. postgres_exporter on the cluster's first-boot SQL
// =============================================================================================

describeIf(
  [...POSTGRES_REQS, ...ROOT_TOOLS],
  "postgres_exporter 0.11 with the exporter container's env, on a primary built from the uploaded first-boot SQL",
  () => {
    const { fx, samples } = exporterFixture(startPostgresWithExporter);

    it("runs with the container's env (only host, port, paths and listen address rewritten) and every flag it has", () => {
      expectOnlyRewritten(fx(), ["DATA_SOURCE_PASS_FILE", "DATA_SOURCE_URI", "PG_EXPORTER_WEB_LISTEN_ADDRESS"]);
      expect(fx().synthesizedEnv.DATA_SOURCE_URI).toMatch(/\?sslmode=disable$/);
      expect(fx().droppedFlags).toEqual(PG_FLAGS_UNKNOWN_TO_0_11);
      expect(fx().exporter.running, fx().exporter.log()).toBe(true);
    });

    it("logs in as the monitor role created by the uploaded SQL, with the password from the file the seed uploads: pg_up 1", () => {
      expect(fx().monitorRole).toBe("updateio_monitor");
      expect(valuesOf(samples(), "pg_up").map((s) => s.value)).toEqual([1]);
      const sessions = fx()
        .server.psql(`SELECT count(*) FROM pg_stat_activity WHERE usename = '${fx().monitorRole}' AND datname = 'updateio'`)
        .trim();
      expect(Number(sessions), "the exporter holds a session as the monitor role").toBeGreaterThan(0);
    });

    it("scrapes with no errors: every collector succeeds and the last scrape reports no error (pg_monitor is enough on 0.11)", () => {
      const collectors = valuesOf(samples(), "pg_scrape_collector_success");
      expect(collectors.length).toBeGreaterThan(0);
      expect(collectors.filter((s) => s.value !== 1).map((s) => s.labels.collector)).toEqual([]);
      expect(valuesOf(samples(), "pg_exporter_last_scrape_error").map((s) => s.value)).toEqual([0]);
      expect(fx().exporter.log()).not.toMatch(/permission denied|pg_hba\.conf rejects|password authentication failed/);
    });

    it("serves every METRICS.postgres name 0.11 can produce; the absent ones are exactly the stated gap", () => {
      const names = namesOf(samples());
      const absent = METRICS.postgres.filter((n) => !names.has(n)).sort();
      expect(absent).toEqual(POSTGRES_NAMES_ABSENT_ON_0_11);
      const present = METRICS.postgres.filter((n) => names.has(n));
      expect(present.length).toBe(METRICS.postgres.length - POSTGRES_NAMES_ABSENT_ON_0_11.length);
      // The values are of the cluster as configured.
      const maxConnections = /^max_connections=(\d+)$/.exec(
        (container("postgres").command as string[]).find((a) => a.startsWith("max_connections="))!,
      )![1];
      expect(valuesOf(samples(), "pg_settings_max_connections").map((s) => s.value)).toEqual([Number(maxConnections)]);
      const sizes = valuesOf(samples(), "pg_database_size_bytes");
      expect(sizes.find((s) => s.labels.datname === "updateio")?.value ?? 0).toBeGreaterThan(0);
      expect(valuesOf(samples(), "pg_stat_database_numbackends").some((s) => s.labels.datname === "updateio" && s.value >= 1)).toBe(true);
    });
  },
);

// =============================================================================================
// 2. redis_exporter on the uploaded redis.conf and ACL
// =============================================================================================

describeIf(
  [...REDIS_REQS, ...ROOT_TOOLS],
  "redis_exporter 1.45 with the exporter container's env, on redis-server with the uploaded redis.conf and ACL",
  () => {
    const { fx, samples } = exporterFixture(startRedisWithExporter);

    it("runs with the container's env (address, password file path and listen address rewritten); the CONFIG step is off", () => {
      expectOnlyRewritten(fx(), ["REDIS_ADDR", "REDIS_EXPORTER_WEB_LISTEN_ADDRESS", "REDIS_PASSWORD_FILE"]);
      expect(fx().runEnv.REDIS_USER).toBe("monitor");
      expect(fx().runEnv.REDIS_EXPORTER_CONFIG_COMMAND).toBe("-");
      // The uploaded map has exactly one key, the exporter's REDIS_ADDR (redis_exporter looks it up by that string).
      expect(Object.keys(fx().passwordMap)).toEqual([fx().synthesizedEnv.REDIS_ADDR]);
      expect(fx().exporter.running, fx().exporter.log()).toBe(true);
    });

    it("logs in as the ACL's monitor user with the password from the JSON map: redis_up 1, and nothing refused", () => {
      expect(valuesOf(samples(), "redis_up").map((s) => s.value)).toEqual([1]);
      // CONFIG is never sent (the ACL would refuse it), and nothing else was refused either.
      expect(fx().exporter.log()).not.toMatch(/NOPERM|WRONGPASS|NOAUTH|CONFIG/i);
      expect(valuesOf(samples(), "redis_exporter_last_scrape_error").map((s) => s.value)).toEqual([0]);
      expect(namesOf(samples()).has("redis_config_maxclients"), "no CONFIG-derived metric: the CONFIG step is skipped").toBe(false);
    });

    it("serves every METRICS.redis name", () => {
      const names = namesOf(samples());
      expect(METRICS.redis.filter((n) => !names.has(n))).toEqual([]);
    });

    it("reports redis_memory_max_bytes equal to the rendered maxmemory (read from INFO, not CONFIG)", () => {
      expect(fx().maxmemoryBytes).toBe(96 * 1024 * 1024);
      expect(valuesOf(samples(), "redis_memory_max_bytes").map((s) => s.value)).toEqual([fx().maxmemoryBytes]);
    });
  },
);

// =============================================================================================
// 3. node-exporter with the backup script's textfile metrics
// =============================================================================================

describeIf(
  [...NODE_REQS, ...ROOT_TOOLS],
  "node-exporter 1.5 with the container's flags, serving the metrics the uploaded backup.sh writes",
  () => {
    let volume: BackupsVolume | undefined;
    let node: NodeFixture | undefined;
    let logDir = "";
    let run = { status: 0, output: "" };
    let samples: Sample[] = [];
    let startedAt = 0;

    beforeAll(async () => {
      logDir = tempDir("updateio-node-exporter-");
      volume = backupsVolume();
      // A failed run: nothing listens on the port, so pg_dump fails and the script records the failure.
      startedAt = Math.floor(Date.now() / 1000);
      run = volume.runOnce(await freePort());
      node = await startNodeExporter(volume.dir, logDir);
      samples = await scrape(node.port);
    }, 120_000);
    afterAll(async () => {
      await node?.stop();
      volume?.remove();
      if (logDir !== "") rmSync(logDir, { recursive: true, force: true });
    });

    it("the scheduler and node-exporter share the backups volume: the script's metrics dir is the textfile directory", () => {
      const volumeOf = (service: string, path: string) =>
        ((container(service).volumes ?? []) as Json[]).find((v) => v.container_path === path)?.volume_name as string | undefined;
      expect(volumeOf("postgres-backup", "/var/lib/postgresql")).toBeDefined();
      expect(volumeOf("node-exporter", "/backups")).toBe(volumeOf("postgres-backup", "/var/lib/postgresql"));
      expect(resolveTerraform(uploadOf(container("postgres-backup-seed"), "/etc/postgres-backup/backup.sh"))).toContain(
        ': "${METRICS_DIR:=$BACKUP_ROOT/metrics}"',
      );
    });

    it("the real backup.sh run failed (nothing listens on its Postgres port) and recorded that in its metrics file", () => {
      expect(run.status, run.output).not.toBe(0);
      expect(run.output).toMatch(/run FAILED/);
      expect(existsSync(volume!.metricsFile)).toBe(true);
      expect(readFileSync(volume!.metricsFile, "utf8")).toMatch(/^updateio_backup_last_run_success 0$/m);
    });

    it("accepts every flag and runs exactly the collectors we enable", () => {
      expect(node!.exporter.running, node!.exporter.log()).toBe(true);
      expect(
        valuesOf(samples, "node_scrape_collector_success")
          .map((s) => s.labels.collector)
          .sort(),
      ).toEqual(["cpu", "filesystem", "loadavg", "meminfo", "textfile"]);
      expect(
        valuesOf(samples, "node_scrape_collector_success")
          .filter((s) => s.value !== 1)
          .map((s) => s.labels.collector),
      ).toEqual([]);
    });

    it("serves the backup metrics the script wrote (last run failed, no success yet), read as the container's user with no textfile error", () => {
      const value = (name: string) => valuesOf(samples, name).map((s) => s.value);
      const written = METRICS.backup.filter((n) => n !== "updateio_backup_offsite_success");
      expect(written.filter((n) => !namesOf(samples).has(n))).toEqual([]);
      expect(value("updateio_backup_last_run_success")).toEqual([0]);
      expect(value("updateio_backup_last_run_timestamp_seconds")[0]).toBeGreaterThanOrEqual(startedAt);
      expect(value("updateio_backup_last_success_timestamp_seconds")).toEqual([0]);
      // Written by the off-site copy script, which the dev stack does not run (no off-site target).
      expect(namesOf(samples).has("updateio_backup_offsite_success")).toBe(false);
      expect(value("node_textfile_scrape_error")).toEqual([0]);
    });

    it("serves one updateio_expected_service series per service of the stack, from the live config's file", () => {
      const listed = valuesOf(samples, "updateio_expected_service");
      const services = listed.map((x) => x.labels.container_label_io_updateio_service!).sort();
      expect(listed.every((x) => x.value === 1 && x.labels.container_label_io_updateio_environment === ENV)).toBe(true);
      // Every long-running service of the stack, each once, whatever its replicas.
      expect(services).toEqual([...new Set(services)]);
      for (const s of ["api", "postgres", "redis", "rabbitmq", "edge", "loki"]) expect(services).toContain(s);
      expect(services).toHaveLength(
        expectedServicesFile()
          .split("\n")
          .filter((l) => l.startsWith("updateio_expected_service{")).length,
      );
    });

    it("serves node_filesystem_* for exactly the mount points our excludes leave (computed from this host's mount table)", () => {
      const expected = expectedMountPoints(node!.flags);
      const reported = (name: string) => [...new Set(valuesOf(samples, name).map((s) => s.labels.mountpoint!))].sort();
      expect(reported("node_filesystem_size_bytes")).toEqual(expected);
      expect(reported("node_filesystem_avail_bytes")).toEqual(expected);
      if (expected.length === 0)
        console.warn("[metrics-real] this host has only excluded filesystems (e.g. an overlay root): node_filesystem_* has no series here");
      else expect(METRICS.node.filter((n) => !namesOf(samples).has(n))).toEqual([]);
    });
  },
);

// =============================================================================================
// 4. Prometheus end to end: the rendered prometheus.yml and rules against the exporters above
// =============================================================================================

/** Jobs of the rendered prometheus.yml whose targets don't run in this test (nothing to scrape). */
const DROPPED_JOBS = [
  "alloy",
  // The app services' own /metrics (no app runs here; __tests__/observability/app-metrics.integration.test.ts scrapes a stand-in).
  "app-admin-panel",
  "app-api",
  "app-discord-bot",
  "app-mini-app",
  "app-telegram-bot",
  "cadvisor",
  "edge",
  "grafana",
  "loki",
  "rabbitmq",
];
const KEPT_JOBS = ["node", "postgres", "prometheus", "redis"];

interface PromConfig {
  global: Record<string, unknown>;
  rule_files: string[];
  scrape_configs: { job_name: string; static_configs: { targets: string[]; labels?: Record<string, string> }[] }[];
}
interface RulesFile {
  groups: {
    name: string;
    rules: { alert: string; expr: string; for: string; labels: Record<string, string>; annotations: Record<string, string> }[];
  }[];
}
interface ApiRule {
  name: string;
  type: string;
  health: string;
  duration: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  lastError?: string;
}
interface ApiGroup {
  name: string;
  rules: ApiRule[];
  lastEvaluation: string;
}

describeIf(
  [...POSTGRES_REQS, ...REDIS_REQS, ...NODE_REQS, ...ROOT_TOOLS, bin("prometheus")],
  "Prometheus 2.42 with the uploaded prometheus.yml and rules, scraping the real exporters",
  () => {
    let pg: PostgresFixture | undefined;
    let redis: RedisFixture | undefined;
    let volume: BackupsVolume | undefined;
    let node: NodeFixture | undefined;
    let prometheus: Proc | undefined;
    let dir = "";
    let base = "";
    let firstBackup = { status: -1, output: "" };
    const rendered = { config: "", rules: "" };

    const query = async (promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      const body = JSON.parse(await httpText(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`)) as {
        status: string;
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== "success") throw new Error(`query ${promql} failed: ${JSON.stringify(body)}`);
      return body.data.result;
    };
    const ruleGroups = async (): Promise<ApiGroup[]> =>
      (JSON.parse(await httpText(`${base}/api/v1/rules`)) as { data: { groups: ApiGroup[] } }).data.groups;

    beforeAll(async () => {
      dir = tempDir("updateio-prometheus-real-");
      pg = await startPostgresWithExporter();
      redis = await startRedisWithExporter();
      volume = backupsVolume();
      // A successful run first (the backup role from 20-updateio-backup.sql, dump + base backup).
      firstBackup = volume.runOnce(pg.pgPort);
      node = await startNodeExporter(volume.dir, dir);

      const promC = container("prometheus");
      const promSeed = container("prometheus-seed");
      const flags = flagsOf(promC.command as string[]);
      const configPath = flags.find(([k]) => k === "config.file")![1]!;
      rendered.config = resolveTerraform(uploadOf(promSeed, configPath));
      const config = parse(rendered.config) as PromConfig;
      expect(config.rule_files).toHaveLength(1);
      const rulesGlob = config.rule_files[0]!;
      const rulesUpload = uploadsOf(promSeed).filter((u) => u.file.startsWith(rulesGlob.slice(0, rulesGlob.lastIndexOf("/") + 1)));
      expect(rulesUpload).toHaveLength(1);
      rendered.rules = resolveTerraform(rulesUpload[0]!.content);

      // Rewrites: the rule glob's directory, the intervals, the targets of the kept jobs; the other jobs dropped.
      const promPort = await freePort();
      const rulesDir = join(dir, "rules");
      mkdirSync(rulesDir, { mode: 0o755 });
      writeUpload(join(rulesDir, rulesUpload[0]!.file.split("/").pop()!), rendered.rules);
      const loopback: Record<string, string> = {};
      const mapTarget = (service: string, port: number, local: number) => {
        for (const alias of aliasesOf(container(service))) loopback[`${alias}:${port}`] = `127.0.0.1:${local}`;
      };
      mapTarget("postgres-exporter", SCRAPE_JOBS.postgres.port, pg.exporterPort);
      mapTarget("redis-exporter", SCRAPE_JOBS.redis.port, redis.exporterPort);
      mapTarget("node-exporter", SCRAPE_JOBS.node.port, node.port);
      mapTarget("prometheus", SCRAPE_JOBS.prometheus.port, promPort);
      expect(
        config.scrape_configs
          .map((j) => j.job_name)
          .filter((j) => !KEPT_JOBS.includes(j))
          .sort(),
      ).toEqual(DROPPED_JOBS);
      const local: PromConfig = {
        ...config,
        global: { ...config.global, scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
        rule_files: [join(rulesDir, rulesGlob.slice(rulesGlob.lastIndexOf("/") + 1))],
        scrape_configs: config.scrape_configs
          .filter((j) => KEPT_JOBS.includes(j.job_name))
          .map((j) => ({
            ...j,
            static_configs: j.static_configs.map((sc) => ({
              ...sc,
              targets: sc.targets.map((t) => {
                const to = loopback[t];
                if (to === undefined)
                  throw new Error(`job ${j.job_name}: no loopback server for target ${t} (a new target? start it here)`);
                return to;
              }),
            })),
          })),
      };
      const localConfig = writeUpload(join(dir, "prometheus.yml"), stringify(local));
      const dataDir = join(dir, "data");
      mkdirSync(dataDir);
      giveTo(dataDir, promC.user);
      const rewrite: Record<string, string> = {
        "config.file": localConfig,
        "storage.tsdb.path": dataDir,
        "web.listen-address": `127.0.0.1:${promPort}`,
      };
      const args = flags.map(([k, v]): [string, string | undefined] => [k, k in rewrite ? rewrite[k] : v]);
      expect(
        args.filter(([, v]) => v?.startsWith("/") && !v.startsWith(dir)),
        "every container path in the flags is rewritten",
      ).toEqual([]);
      prometheus = new Proc("prometheus", "prometheus", flagArgs(args), {}, dir, promC.user);
      base = `http://127.0.0.1:${promPort}`;
      const started = prometheus;
      await waitFor(
        "prometheus /-/ready",
        async () => (await fetch(`${base}/-/ready`)).ok,
        30,
        () => started.log(),
      );
    }, 180_000);

    afterAll(async () => {
      await prometheus?.stop();
      await node?.stop();
      volume?.remove();
      await redis?.stop();
      await pg?.stop();
      if (dir !== "") rmSync(dir, { recursive: true, force: true });
    });

    it("scrapes the postgres, redis, node and prometheus jobs: up == 1 for each, with the rendered instance_role labels", async () => {
      await waitFor("up == 1 for every kept job", async () => {
        const up = await query("up");
        return KEPT_JOBS.every((job) => up.some((r) => r.metric.job === job && r.value[1] === "1"));
      });
      const up = await query("up");
      expect(up.map((r) => r.metric.job).sort()).toEqual(KEPT_JOBS);
      expect(up.filter((r) => r.value[1] !== "1")).toEqual([]);
      expect((await query('pg_up{job="postgres", instance_role="primary"}')).map((r) => r.value[1])).toEqual(["1"]);
      expect((await query('redis_up{job="redis", instance_role="primary"}')).map((r) => r.value[1])).toEqual(["1"]);
    }, 60_000);

    it("loads every group and rule of the uploaded rule file, each evaluated with health ok", async () => {
      const file = parse(rendered.rules) as RulesFile;
      await waitFor("every rule evaluated", async () => (await ruleGroups()).every((g) => g.rules.every((r) => r.health !== "unknown")));
      const groups = await ruleGroups();
      expect(groups.map((g) => g.name)).toEqual(file.groups.map((g) => g.name));
      for (const [i, g] of file.groups.entries()) {
        const api = groups[i]!;
        expect(
          api.rules.map((r) => r.name),
          g.name,
        ).toEqual(g.rules.map((r) => r.alert));
        for (const [j, r] of g.rules.entries()) {
          const loaded = api.rules[j]!;
          expect({ type: loaded.type, health: loaded.health, lastError: loaded.lastError ?? "" }, r.alert).toEqual({
            type: "alerting",
            health: "ok",
            lastError: "",
          });
          expect(loaded.duration, `${r.alert} for`).toBe(durationSeconds(r.for));
          expect(loaded.labels, `${r.alert} labels`).toEqual(r.labels);
          expect(loaded.annotations, `${r.alert} annotations`).toEqual(r.annotations);
        }
      }
      expect(groups.flatMap((g) => g.rules).length).toBe(file.groups.flatMap((g) => g.rules).length);
    }, 60_000);

    it("BackupFailed stays quiet after a successful run, and fires (for: 0s) once the metrics file says last_run_success 0", async () => {
      const file = parse(rendered.rules) as RulesFile;
      const rule = file.groups.flatMap((g) => g.rules).find((r) => r.alert === "BackupFailed")!;
      expect(rule.expr).toBe("updateio_backup_last_run_success == 0");
      expect(durationSeconds(rule.for)).toBe(0);

      // 1. The successful run (before Prometheus started): 1 is scraped, the backup group evaluates it, no alert.
      expect(firstBackup.status, firstBackup.output).toBe(0);
      await waitFor(
        "last_run_success 1 scraped",
        async () => (await query('updateio_backup_last_run_success{job="node"} == 1')).length === 1,
      );
      const seenAt = Date.now();
      await waitFor("the backup group evaluated after that", async () => {
        const group = (await ruleGroups()).find((g) => g.name === "updateio-backup");
        return group !== undefined && Date.parse(group.lastEvaluation) > seenAt + 1000;
      });
      expect(await query('ALERTS{alertname="BackupFailed"}')).toEqual([]);

      // 2. A failed run (nothing listens on the port): the file says 0, the alert fires without a pending stage.
      const failed = volume!.runOnce(await freePort());
      expect(failed.status, failed.output).not.toBe(0);
      expect(readFileSync(volume!.metricsFile, "utf8")).toMatch(/^updateio_backup_last_run_success 0$/m);
      await waitFor(
        "BackupFailed firing",
        async () => (await query('ALERTS{alertname="BackupFailed", alertstate="firing"}')).length === 1,
        30,
      );
      const [alert] = await query('ALERTS{alertname="BackupFailed"}');
      expect(alert!.metric).toMatchObject({
        alertstate: "firing",
        job: "node",
        instance: `127.0.0.1:${node!.port}`,
        service: "backup",
        severity: "critical",
      });
    }, 90_000);

    it("fires nothing else on the healthy exporters (pending: only alerts on what is not run here: cAdvisor, the restore drill, the volume-usage job)", async () => {
      const firing = (await query('ALERTS{alertstate="firing"}')).map((r) => r.metric.alertname).sort();
      expect(firing).toEqual(["BackupFailed"]);
      const pendingSeries = await query('ALERTS{alertstate="pending"}');
      const pending = [...new Set(pendingSeries.map((r) => r.metric.alertname))].sort();
      // Their metrics are absent because their jobs do not run in this test; each waits (for: >= 30m) before firing.
      const notRunHere = ["ContainerMissing", "RestoreDrillNotRun", "VolumeUsageStale"];
      // The disk trend alerts read this host's real disk over the seconds of samples this test has: any
      // other writer on the machine (a build, another test run) extrapolates past zero. Pending is right
      // then, and accepted only for a mount point whose free space really fell in those samples.
      const hostDisk = ["DockerDiskFillingUp", "DockerDiskFillingFast"];
      for (const alert of pendingSeries.filter((r) => hostDisk.includes(r.metric.alertname!))) {
        const mountpoint = alert.metric.mountpoint!;
        const falling = await query(`deriv(node_filesystem_avail_bytes{mountpoint=${JSON.stringify(mountpoint)}}[1h]) < 0`);
        expect(falling, `${alert.metric.alertname} is pending for ${mountpoint}, whose free space did not fall`).not.toEqual([]);
      }
      expect(pending.filter((a) => !notRunHere.includes(a) && !hostDisk.includes(a))).toEqual([]);
    });

    it("ContainerMissing reads the services node-exporter lists: pending for each of them, as no cAdvisor runs here", async () => {
      const listed = (await query("updateio_expected_service")).map((r) => r.metric.container_label_io_updateio_service!).sort();
      expect(listed.length).toBeGreaterThan(5);
      let missing: string[] = [];
      await waitFor(
        "ContainerMissing for every listed service",
        async () => {
          missing = (await query('ALERTS{alertname="ContainerMissing"}')).map((r) => r.metric.service!).sort();
          return missing.length === listed.length;
        },
        30,
        () => `ContainerMissing for ${missing.join(", ")}; listed ${listed.join(", ")}`,
      );
      expect(missing).toEqual(listed);
    });
  },
);
