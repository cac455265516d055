import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Requirement } from "./binaries";

/** Debian's PostgreSQL server binaries (any installed major version). */
export function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0]!, "bin") : undefined;
}

export function postgresRequirement(): Requirement {
  const bin = postgresBinDir();
  return bin
    ? { available: true, reason: `PostgreSQL server at ${bin}` }
    : { available: false, reason: "the PostgreSQL server (Debian package postgresql) is not installed: no /usr/lib/postgresql/<version>/bin/initdb" };
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

  /** Runs a command as the server's user; returns stdout, throws with stderr on failure. */
  run(command: string, args: string[], env: Record<string, string> = {}, input?: string): string {
    const [cmd, argv] = this.asRoot ? ["runuser", ["-u", "postgres", "--", "env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), command, ...args]] : [command, args];
    const result = spawnSync(cmd as string, argv as string[], { encoding: "utf8", env: { ...process.env, ...env }, input, timeout: 60_000, cwd: this.dir });
    if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status}): ${result.stderr}${result.stdout}`);
    return result.stdout;
  }

  tool(name: string): string {
    return join(this.bin, name);
  }

  start(): void {
    this.run(this.tool("initdb"), ["-D", this.dataDir, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"]);
    this.run(this.tool("pg_ctl"), ["-D", this.dataDir, "-w", "-t", "30", "-l", join(this.dir, "server.log"), "-o", `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`, "start"]);
  }

  /** psql as the superuser over the socket, or as another role over TCP with a password. */
  psql(sql: string, opts: { user?: string; password?: string; database?: string } = {}): string {
    const tcp = opts.password !== undefined;
    return this.run(
      "psql",
      ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", tcp ? "127.0.0.1" : this.dir, "-p", String(this.port), "-U", opts.user ?? "postgres", "-d", opts.database ?? "postgres", "-c", sql],
      tcp ? { PGPASSWORD: opts.password! } : {},
    );
  }

  stop(): void {
    try {
      this.run(this.tool("pg_ctl"), ["-D", this.dataDir, "-m", "fast", "-w", "stop"]);
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
