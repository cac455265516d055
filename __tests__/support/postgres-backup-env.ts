import { spawnSync } from "node:child_process";
import { appendFileSync, chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { postgresBinDir, TempPostgres } from "./postgres-server";

export interface ScriptResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A TempPostgres whose postgresql.conf gets extra settings before its first start (the WAL archive
 * settings under test), and that runs our rendered sh scripts as the server's user, returning the
 * exit status instead of throwing (the healthcheck's failures are what some tests look for).
 */
export class ArchivingPostgres extends TempPostgres {
  private readonly asRootUser = process.getuid?.() === 0;

  constructor(
    port: number,
    private readonly settings: Readonly<Record<string, string>>,
  ) {
    super(port);
  }

  override start(): void {
    this.run(this.tool("initdb"), ["-D", this.dataDir, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"]);
    const conf = Object.entries(this.settings)
      .map(([k, v]) => `${k} = '${v.replace(/'/g, "''")}'`)
      .join("\n");
    appendFileSync(join(this.dataDir, "postgresql.conf"), `\n# test settings\n${conf}\n`);
    this.run(this.tool("pg_ctl"), ["-D", this.dataDir, "-w", "-t", "30", "-l", this.logFile, "-o", this.serverOptions, "start"]);
  }

  get logFile(): string {
    return join(this.dir, "server.log");
  }

  /** pg_ctl -o options: our port, the socket in the temp dir, loopback only. */
  get serverOptions(): string {
    return `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`;
  }

  /** A directory in the temp dir owned by the server's user. */
  mkdir(name: string): string {
    const path = join(this.dir, name);
    this.run("mkdir", ["-p", path]);
    return path;
  }

  /** Writes a file readable by the server's user. */
  writeFile(name: string, content: string): string {
    const path = join(this.dir, name);
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(path, content);
    chmodSync(path, 0o644);
    return path;
  }

  /** `sh <script> args...` as the server's user with the server's bin dir first on PATH. */
  sh(script: string, args: readonly string[], env: Record<string, string> = {}): ScriptResult {
    const fullEnv = { PATH: `${postgresBinDir()}:${process.env.PATH ?? "/usr/bin:/bin"}`, ...env };
    const [cmd, argv] = this.asRootUser
      ? ["runuser", ["-u", "postgres", "--", "env", ...Object.entries(fullEnv).map(([k, v]) => `${k}=${v}`), "sh", script, ...args]]
      : ["sh", [script, ...args]];
    const r = spawnSync(cmd as string, argv as string[], {
      encoding: "utf8",
      env: { ...process.env, ...fullEnv },
      timeout: 60_000,
      cwd: this.dir,
    });
    return { status: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }
}

/** Blocks for ms milliseconds (the tests are synchronous around spawnSync). */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
