/**
 * Child processes for scripts/test-terraform.ts, scripts/e2e.ts and scripts/bench.ts: run a command,
 * capture what it printed, optionally echo it live, never throw for a non-zero exit (the caller decides).
 */
import { spawn } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Kill the command after this many seconds (SIGTERM, then SIGKILL 10 s later). @default no limit */
  readonly timeoutSeconds?: number;
  /** Echo every output line as it arrives, with this prefix (e.g. "  [test] "). @default silent */
  readonly echoPrefix?: string;
  /** Text written to the command's standard input. @default none (stdin closed) */
  readonly input?: string;
  /**
   * Run `command` through a shell (args must then be empty), as cdktf-cli runs an app command.
   * @default false
   */
  readonly shell?: boolean;
  /**
   * Its own process group (a shell, npx, tsx and node), stopped whole by stopProcessGroups().
   * @default false
   */
  readonly processGroup?: boolean;
}

export interface RunResult {
  /** Exit code; -1 when the command could not be started or was killed. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr interleaved as they arrived. */
  readonly output: string;
  readonly timedOut: boolean;
  /** Set when the command could not be started (e.g. not installed). */
  readonly spawnError?: string;
  readonly seconds: number;
  /** Wall time from spawn to close, in milliseconds (high resolution, for benchmarks). */
  readonly ms: number;
}

/** Process groups started with processGroup and still running. */
const groups = new Set<number>();

/** Sends `signal` to every process group started with processGroup (e.g. on Ctrl-C). */
export function stopProcessGroups(signal: NodeJS.Signals = "SIGTERM"): void {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, signal);
    } catch {
      // already gone
    }
  }
}

/** Runs `command args...` without a shell. Resolves when it exits; never rejects. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  if (options.shell && args.length > 0)
    throw new Error(`run: with shell, pass the whole command line as the command (got args ${args.join(" ")})`);
  const started = Date.now();
  const start = process.hrtime.bigint();
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let output = "";
    let timedOut = false;
    let settled = false;
    const finish = (code: number, spawnError?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killer);
      if (child.pid !== undefined) groups.delete(child.pid);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      resolve({ code, stdout, stderr, output, timedOut, spawnError, seconds: (Date.now() - started) / 1000, ms });
    };
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      shell: options.shell ?? false,
      detached: options.processGroup ?? false,
    });
    if (options.processGroup && child.pid !== undefined) groups.add(child.pid);
    let pending = "";
    const echo = (chunk: string) => {
      if (options.echoPrefix === undefined) return;
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) process.stdout.write(`${options.echoPrefix}${line}\n`);
    };
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      output += chunk;
      echo(chunk);
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      output += chunk;
      echo(chunk);
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    let killer: NodeJS.Timeout | undefined;
    const timer =
      options.timeoutSeconds === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGTERM");
            killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
          }, options.timeoutSeconds * 1000);
    child.on("error", (e) => finish(-1, e.message));
    child.on("close", (code) => {
      if (pending !== "" && options.echoPrefix !== undefined) process.stdout.write(`${options.echoPrefix}${pending}\n`);
      finish(code ?? -1);
    });
  });
}

/** Absolute path of an executable on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The last `count` non-empty lines of a command's output, indented, for error messages. */
export function tail(text: string, count = 20, indent = "    "): string {
  const lines = text
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "");
  return lines
    .slice(-count)
    .map((l) => `${indent}${l}`)
    .join("\n");
}

/** First non-empty line of a text (e.g. of an error message). */
export function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l !== "") ?? ""
  );
}
