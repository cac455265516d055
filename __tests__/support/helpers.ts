/** Small helpers shared by test files. */
import { spawn } from "node:child_process";
import { createServer, type AddressInfo, type Server } from "node:net";
import { ValidationError } from "../../constructs/contract/errors";

/** Distinct loopback ports free right now (held open together so they differ; the kernel picks them). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const probe = createServer();
          probe.once("error", reject);
          probe.listen(0, "127.0.0.1", () => resolve(probe));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** A loopback port free right now, so a stray server on a fixed port cannot answer for ours. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/** The message of the error fn throws (fails the test when nothing is thrown). */
export function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected an error, got none");
}

/** What the ValidationError fn throws names: its subject and every problem (fails the test on any other outcome). */
export function validationOf(fn: () => unknown): { readonly subject: string; readonly problems: readonly string[] } {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return { subject: e.subject, problems: e.problems };
    throw e;
  }
  throw new Error("expected a ValidationError, got none");
}

export interface ExecResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A child process, awaited. The S3 server runs in this process: anything that talks to it must be
 * spawned asynchronously, never with spawnSync (that would block the server it waits for).
 */
export function execAsync(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 120_000,
  cwd?: string,
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], { env, timeout: timeoutMs, ...(cwd ? { cwd } : {}) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
