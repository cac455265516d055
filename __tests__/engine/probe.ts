/** Who reaches whom on the engine: containers serve a probe page, others fetch it (isolation tests). */
import type { ContainerPlan } from "./docker-cli";
import type { EngineSession } from "./fixtures";

export const PROBE_PORT = 7777;
/** Serves "ok" on the probe port from the container's /tmp tmpfs, as the container's own user. */
export const SERVE = ["sh", "-c", `echo ok > /tmp/probe && exec httpd -f -p ${PROBE_PORT} -h /tmp`];

/** true when `from` fetched the probe page from `host` (an alias or an address). */
export async function fetchesProbe(session: EngineSession, from: ContainerPlan, host: string, seconds = 3): Promise<boolean> {
  // busybox wget -T crashes here; timeout bounds a connect that would hang on a dropped packet.
  const r = await session.exec(from, ["timeout", String(seconds), "wget", "-q", "-O", "-", `http://${host}:${PROBE_PORT}/probe`]);
  return r.code === 0 && r.stdout.trim() === "ok";
}

/** The container's IPv4 address on each of its networks. */
export async function containerAddresses(session: EngineSession, plan: ContainerPlan): Promise<string[]> {
  const [c] = await session.inspect([plan.name]);
  const nets = (c as unknown as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }).NetworkSettings.Networks;
  return Object.values(nets)
    .map((n) => n.IPAddress)
    .filter((ip) => ip !== "");
}
