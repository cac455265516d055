import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { postgresClusterSettings, postgresCommand, renderPostgresInitSql } from "../../constructs/postgres/renderers/postgres";
import { renderPgHba } from "../../constructs/postgres/renderers/postgres-hba";
import type { Requirement } from "./binaries";

/** Debian's PostgreSQL server binaries (any installed major version). */
export function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0]!, "bin") : undefined;
}

export function postgresRequirement(): Requirement {
  const bin = postgresBinDir();
  return bin
    ? { available: true, reason: `PostgreSQL server at ${bin}` }
    : {
        available: false,
        reason: "the PostgreSQL server (Debian package postgresql) is not installed: no /usr/lib/postgresql/<version>/bin/initdb",
      };
}

/**
 * Our pg_hba gives the superuser `local ... peer` only, so the process that connects must run as
 * the OS user named postgres: true as root (commands go through runuser) or as postgres itself.
 */
export function peerAsPostgresRequirement(): Requirement {
  const uid = process.getuid?.();
  let name = "";
  try {
    name = execFileSync("id", ["-un"], { encoding: "utf8" }).trim();
  } catch {
    // unknown
  }
  return uid === 0 || name === "postgres"
    ? { available: true, reason: "running as root (runuser postgres) or as postgres: peer authentication works" }
    : {
        available: false,
        reason: `running as "${name}": the rendered pg_hba allows the superuser only by peer authentication as the OS user postgres; run the tests as root or as postgres`,
      };
}

/** Sleeps without blocking the event loop. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface PsqlOptions {
  /** @default "postgres" */
  readonly user?: string;
  /** Connects over TCP with it; without one, over the socket (peer or trust). */
  readonly password?: string;
  /** @default "postgres" */
  readonly database?: string;
  /** @default 127.0.0.1 with a password, the socket directory without */
  readonly host?: string;
  /** @default the server's port (another for a pooler in front of it) */
  readonly port?: number;
  /** A header row and "|"-separated columns (e.g. PgBouncer's SHOW), instead of bare tuples. */
  readonly table?: boolean;
}

/**
 * A throwaway server on a loopback port, in a temp directory. PostgreSQL refuses to run as root,
 * so as root every command runs as the postgres user (runuser).
 */
export class TempPostgres {
  readonly dir: string;
  readonly dataDir: string;
  readonly port: number;
  private readonly bin: string;
  private readonly asRoot = process.getuid?.() === 0;
  private readonly children: ChildProcess[] = [];

  constructor(port: number) {
    const bin = postgresBinDir();
    if (!bin) throw new Error("PostgreSQL server binaries not found");
    this.bin = bin;
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), "updateio-pg-"));
    chmodSync(this.dir, 0o755);
    this.dataDir = join(this.dir, "data");
    if (this.asRoot) {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
      const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
      chownSync(this.dir, uid, gid);
    }
  }

  /** The command line that runs `command` as the server's user (through runuser as root, env passed on). */
  private asUser(command: string, args: readonly string[], env: Record<string, string>): [string, string[]] {
    return this.asRoot
      ? ["runuser", ["-u", "postgres", "--", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), command, ...args]]
      : [command, [...args]];
  }

  /** Runs a command as the server's user; returns stdout, throws with stderr on failure. */
  run(command: string, args: string[], env: Record<string, string> = {}, input?: string): string {
    const [cmd, argv] = this.asUser(command, args, env);
    const result = spawnSync(cmd, argv, {
      encoding: "utf8",
      env: { ...process.env, ...env },
      input,
      timeout: 60_000,
      cwd: this.dir,
    });
    if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status}): ${result.stderr}${result.stdout}`);
    return result.stdout;
  }

  tool(name: string): string {
    return join(this.bin, name);
  }

  /** initdb, then the server on this port; `settings` go on its command line as `-c name=value`. */
  start(settings: Readonly<Record<string, string>> = {}): void {
    this.run(this.tool("initdb"), ["-D", this.dataDir, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"]);
    this.run(this.tool("pg_ctl"), [
      "-D",
      this.dataDir,
      "-w",
      "-t",
      "30",
      "-l",
      join(this.dir, "server.log"),
      "-o",
      [`-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(
        " ",
      ),
      "start",
    ]);
  }

  /** psql's arguments and environment for one command (unaligned, tuples only unless `table`). */
  private psqlArgs(sql: string, opts: PsqlOptions): { args: string[]; env: Record<string, string> } {
    const tcp = opts.password !== undefined;
    return {
      args: [
        "-X",
        "-q",
        "-A",
        ...(opts.table ? ["-F", "|"] : ["-t"]),
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        opts.host ?? (tcp ? "127.0.0.1" : this.dir),
        "-p",
        String(opts.port ?? this.port),
        "-U",
        opts.user ?? "postgres",
        "-d",
        opts.database ?? "postgres",
        "-c",
        sql,
      ],
      env: tcp ? { PGPASSWORD: opts.password! } : {},
    };
  }

  /** psql as the superuser over the socket, or as another role over TCP with a password. */
  psql(sql: string, opts: PsqlOptions = {}): string {
    const { args, env } = this.psqlArgs(sql, opts);
    return this.run("psql", args, env);
  }

  /** psql without blocking the event loop (clients at once); resolves its output, rejects unless it exits 0. */
  psqlAsync(sql: string, opts: PsqlOptions = {}): Promise<string> {
    const { args, env } = this.psqlArgs(sql, opts);
    const [cmd, argv] = this.asUser("psql", args, env);
    return new Promise((resolve, reject) => {
      const p = spawn(cmd, argv, { env: { ...process.env, ...env }, cwd: this.dir });
      let out = "";
      let err = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (err += d));
      p.on("error", reject);
      p.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`psql exited ${code}: ${err}`))));
    });
  }

  /** A psql session left running (e.g. on pg_sleep), output to <dir>/<logName>; kill it, or stop() ends it. */
  session(sql: string, opts: PsqlOptions, logName: string): ChildProcess {
    const { args, env } = this.psqlArgs(sql, opts);
    return this.spawnAsUser("psql", args, env, logName);
  }

  /** Runs .sql files in order the way the image's entrypoint does (docker_process_sql: psql on the socket as postgres). */
  runSqlFiles(...files: string[]): void {
    for (const file of files) {
      this.run(
        "psql",
        ["-v", "ON_ERROR_STOP=1", "--username", "postgres", "--no-password", "--no-psqlrc", "--dbname", "postgres", "-f", file],
        { PGHOST: this.dir, PGPORT: String(this.port) },
      );
    }
  }

  /**
   * Runs postgres in the foreground as the PostgresCluster runs it: the cluster's settings as
   * arguments, with only this server's paths, listen address and port rewritten; waits until ready.
   */
  async startLikeCluster(hbaFile: string, replicas: number, memoryMb = 256): Promise<Record<string, string>> {
    const settings = {
      ...postgresClusterSettings({ memoryMb, hbaFile, replicas }),
      listen_addresses: "127.0.0.1",
      port: String(this.port),
      unix_socket_directories: this.dir,
    };
    const child = this.spawnAsUser("postgres", ["-D", this.dataDir, ...postgresCommand(settings).slice(1)]);
    await this.waitReady(30_000, child);
    return settings;
  }

  stop(): void {
    try {
      this.run(this.tool("pg_ctl"), ["-D", this.dataDir, "-m", "fast", "-w", "stop"]);
    } catch {
      // already stopped
    }
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** PATH with this server's binaries (postgres, pg_basebackup ...) first, as in the official image. */
  get path(): string {
    return `${this.bin}:${process.env.PATH ?? "/usr/bin:/bin"}`;
  }

  /** initdb the way the official image does with POSTGRES_INITDB_ARGS="--auth-host=scram-sha-256 --auth-local=peer". */
  initdbLikeImage(): void {
    this.run(this.tool("initdb"), ["-D", this.dataDir, "-U", "postgres", "--auth-local=peer", "--auth-host=scram-sha-256"]);
  }

  /** Writes a file the way an upload lands: owned by root (when root), mode 0644. */
  writeFile(name: string, content: string, mode = 0o644): string {
    const file = join(this.dir, name);
    writeFileSync(file, content);
    chmodSync(file, mode);
    return file;
  }

  /** An empty directory owned by the server's user (a fresh Docker volume). */
  makeOwnedDir(name: string): string {
    const dir = join(this.dir, name);
    mkdirSync(dir, { mode: 0o700 });
    if (this.asRoot) execFileSync("chown", ["postgres:postgres", dir]);
    return dir;
  }

  /**
   * Runs a long-lived process (a server in the foreground, as in a container) as the server's
   * user, output appended to <dir>/<logName>; stop() ends it.
   */
  spawnAsUser(command: string, args: string[], env: Record<string, string> = {}, logName = "server.log"): ChildProcess {
    const fd = openSync(join(this.dir, logName), "a");
    const fullEnv = { PATH: this.path, ...env };
    const [cmd, argv] = this.asUser(command, args, fullEnv);
    const child = spawn(cmd, argv, { env: { ...process.env, ...fullEnv }, cwd: this.dir, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    this.children.push(child);
    return child;
  }

  log(name = "server.log"): string {
    try {
      return readFileSync(join(this.dir, name), "utf8");
    } catch {
      return "";
    }
  }

  /** Waits until the server answers on its TCP port (pg_isready), or throws with the log. */
  async waitReady(timeoutMs = 30_000, child?: ChildProcess): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = spawnSync(this.tool("pg_isready"), ["-h", "127.0.0.1", "-p", String(this.port), "-U", "postgres", "-d", "postgres"], {
        encoding: "utf8",
      });
      if (r.status === 0) return;
      if (child && child.exitCode !== null) break;
      await sleep(200);
    }
    throw new Error(`server on port ${this.port} did not become ready:\n${this.log()}`);
  }
}

/** Role names and test passwords of a cluster primary (same names as the PostgresCluster's defaults). */
export const CLUSTER = {
  database: "updateio",
  owner: { user: "updateio_owner", password: "OwnerPw0123456789abcdefABCDEF0123", database: "updateio" },
  app: { user: "updateio_app", password: "AppPw0123456789abcdefABCDEF012345", database: "updateio" },
  readonly: { user: "updateio_readonly", password: "ReadPw0123456789abcdefABCDEF01234", database: "updateio" },
  replication: { user: "updateio_replication", password: "ReplPw0123456789abcdefABCDEF01234" },
} as const;

/** The backup role (BACKUP_SCRIPT_INPUT's) and its test password. */
export const BACKUP = { user: "updateio_backup", password: "BackupPw0123456789abcdefABCDEF01" } as const;

/**
 * Writes our pg_hba.conf for the cluster's database into the server's directory: scram-sha-256 for
 * `databaseRoles` (the cluster's three, plus the roles other constructs add) and the replication role.
 */
export function writeClusterHba(
  server: TempPostgres,
  databaseRoles: readonly string[] = [CLUSTER.owner.user, CLUSTER.app.user, CLUSTER.readonly.user],
): string {
  return server.writeFile(
    "pg_hba.conf",
    renderPgHba({
      superuser: "postgres",
      database: CLUSTER.database,
      databaseRoles: [...databaseRoles],
      replicationRoles: [CLUSTER.replication.user],
    }),
  );
}

export interface ClusterPrimary {
  readonly server: TempPostgres;
  /** The settings the server runs with (the cluster's, with paths, address and port rewritten). */
  readonly settings: Record<string, string>;
  readonly replicationPasswordFile: string;
  readonly hbaFile: string;
}

/**
 * A primary as the PostgresCluster runs it: initdb like the image, our settings as server
 * arguments, our pg_hba (hba_file), then our first-boot SQL run the way the entrypoint runs it
 * (psql on the socket as postgres: peer). Only paths, the listen address and the port differ.
 */
export async function startClusterPrimary(port: number, replicas: number, memoryMb = 256): Promise<ClusterPrimary> {
  const server = new TempPostgres(port);
  server.initdbLikeImage();
  const hbaFile = writeClusterHba(server);
  const file = (name: string, value: string) => server.writeFile(name, value);
  const ownerFile = file("postgres_owner_password", CLUSTER.owner.password);
  const appFile = file("postgres_app_password", CLUSTER.app.password);
  const readonlyFile = file("postgres_readonly_password", CLUSTER.readonly.password);
  const replicationPasswordFile = file("postgres_replication_password", CLUSTER.replication.password);
  const settings = await server.startLikeCluster(hbaFile, replicas, memoryMb);
  const script = server.writeFile(
    "10-updateio-roles.sql",
    renderPostgresInitSql({
      database: CLUSTER.database,
      ownerRole: CLUSTER.owner.user,
      appRole: CLUSTER.app.user,
      ownerPasswordFile: ownerFile,
      appPasswordFile: appFile,
      readonly: { role: CLUSTER.readonly.user, passwordFile: readonlyFile },
      replication: {
        role: CLUSTER.replication.user,
        passwordFile: replicationPasswordFile,
        slots: Array.from({ length: replicas }, (_, i) => `postgres_replica_${i + 1}`),
      },
    }),
  );
  server.runSqlFiles(script);
  return { server, settings, replicationPasswordFile, hbaFile };
}
