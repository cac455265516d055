/**
 * Checks of a deployed stack for scripts/e2e.ts: every container ready (healthy, running, or a
 * one-shot job exited 0), every Swarm service converged to its replica count of running tasks,
 * the edge answering over HTTPS, TCP reachability from inside a service.
 */
import * as https from "node:https";
import * as net from "node:net";
import { Docker, type ContainerState } from "./docker";
import type { ContainerRef, ServiceRef } from "./stack";
import { convergence } from "./swarm";

/** Ready: a job exited 0; a container with a healthcheck is healthy; any other is running. */
export function isReady(c: ContainerRef, s: ContainerState): boolean {
  if (!s.exists) return false;
  if (c.oneShot) return s.status === "exited" && s.exitCode === 0;
  if (s.status !== "running") return false;
  return c.hasHealthcheck ? s.health === "healthy" : true;
}

/** A job that exited non-zero or a container that stopped will not become ready by waiting. */
export function isHopeless(c: ContainerRef, s: ContainerState): boolean {
  if (!s.exists) return false;
  if (c.oneShot) return s.status === "exited" && s.exitCode !== 0;
  return s.status === "exited" || s.status === "dead";
}

export function describeState(c: ContainerRef, s: ContainerState): string {
  if (!s.exists) return `${c.name}: no such container`;
  const health = s.health ? `, health ${s.health}` : c.hasHealthcheck ? "" : ", no healthcheck";
  const exit = s.status === "exited" ? ` (exit ${s.exitCode})` : "";
  return `${c.name}: ${s.status}${exit}${health}${s.health && s.health !== "healthy" && s.lastHealthOutput ? ` — last check: ${s.lastHealthOutput}` : ""}`;
}

export interface WaitResult {
  readonly ok: boolean;
  readonly seconds: number;
  readonly notReady: readonly string[];
}

interface Progress {
  readonly ready: boolean;
  readonly hopeless: boolean;
  /** Short name for the progress line. */
  readonly name: string;
  /** Full state for the failure report. */
  readonly description: string;
}

/** Polls every item every 5 s until all are ready, one is hopeless, or the time is up; prints a line when the count changes. */
async function pollUntilReady<T>(
  items: readonly T[],
  probe: (item: T) => Promise<Progress>,
  readyWord: string,
  timeoutSeconds: number,
  interrupted: () => boolean,
): Promise<WaitResult> {
  const started = Date.now();
  let lastCount = -1;
  for (;;) {
    const notReady = (await Promise.all(items.map(probe))).filter((p) => !p.ready);
    const seconds = (Date.now() - started) / 1000;
    if (notReady.length === 0) return { ok: true, seconds, notReady: [] };
    if (notReady.some((p) => p.hopeless) || seconds > timeoutSeconds || interrupted()) {
      return { ok: false, seconds, notReady: notReady.map((p) => p.description) };
    }
    if (notReady.length !== lastCount) {
      process.stdout.write(
        `  waiting: ${items.length - notReady.length}/${items.length} ${readyWord}; not yet: ${notReady
          .slice(0, 6)
          .map((p) => p.name)
          .join(", ")}${notReady.length > 6 ? " ..." : ""}\n`,
      );
      lastCount = notReady.length;
    }
    await new Promise((r) => setTimeout(r, 5000));
  }
}

/** Polls every container until all are ready, one is hopeless, or the time is up. */
export function waitUntilReady(
  docker: Docker,
  containers: readonly ContainerRef[],
  timeoutSeconds: number,
  interrupted: () => boolean,
): Promise<WaitResult> {
  const probe = async (c: ContainerRef): Promise<Progress> => {
    const s = await docker.state(c.name);
    return { ready: isReady(c, s), hopeless: isHopeless(c, s), name: c.name, description: describeState(c, s) };
  };
  return pollUntilReady(containers, probe, "ready", timeoutSeconds, interrupted);
}

/** Polls every Swarm service until each runs its replica count of tasks, one is hopeless, or the time is up. */
export function waitUntilConverged(
  docker: Docker,
  services: readonly ServiceRef[],
  timeoutSeconds: number,
  interrupted: () => boolean,
): Promise<WaitResult> {
  const probe = async (s: ServiceRef): Promise<Progress> => {
    const { exists, tasks } = await docker.serviceTasks(s.name);
    const c = convergence(s, exists, tasks);
    return { ready: c.ready, hopeless: c.hopeless, name: c.description.split(";")[0]!, description: c.description };
  };
  return pollUntilReady(services, probe, "services converged", timeoutSeconds, interrupted);
}

export interface HttpsAnswer {
  readonly status?: number;
  readonly body?: string;
  readonly error?: string;
}

/**
 * GET https://<address>:<port><path> with the given Host and SNI name, trusting any certificate:
 * test's edge uses Caddy's internal CA, which this machine does not trust (that is not under test).
 */
export function httpsGet(address: string, port: number, hostname: string, urlPath: string, timeoutMs = 10_000): Promise<HttpsAnswer> {
  return new Promise((resolve) => {
    const req = https.request(
      {
        host: address,
        port,
        path: urlPath,
        method: "GET",
        servername: hostname,
        headers: { Host: port === 443 ? hostname : `${hostname}:${port}` },
        rejectUnauthorized: false,
        timeout: timeoutMs,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body = (body + chunk).slice(0, 2000)));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (e) => resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}

/** Whether a host port can still be bound (false: something already listens there). */
export function portFree(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (e: NodeJS.ErrnoException) => resolve(e.code !== "EADDRINUSE"));
    server.listen(port, ip, () => server.close(() => resolve(true)));
  });
}

/**
 * Node program run inside a service container (`docker exec <c> node -e <program> <json>`): a TCP
 * connect to each [host, port], printing [[target, "ok" | error], ...] as JSON.
 */
export const TCP_PROBE = [
  "const net=require('net');",
  "const targets=JSON.parse(process.argv[1]);",
  "Promise.all(targets.map(([h,p])=>new Promise((r)=>{const s=net.connect({host:h,port:Number(p)});",
  "const done=(e)=>{s.destroy();r([h+':'+p,e||'ok'])};s.setTimeout(5000,()=>done('timeout'));",
  "s.on('connect',()=>done());s.on('error',(e)=>done(e.code||e.message))})))",
  ".then((x)=>{console.log(JSON.stringify(x));process.exit(x.every(([,v])=>v==='ok')?0:1)});",
].join("");
