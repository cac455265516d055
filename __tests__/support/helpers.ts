/** Small helpers shared by test files. */
import { createServer, type AddressInfo, type Server } from "node:net";

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
