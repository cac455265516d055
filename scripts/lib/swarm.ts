/**
 * Swarm decisions for scripts/e2e.ts, kept pure so they can be unit-tested: whether the engine can
 * take a stack with Swarm services (and, if not, what to run), and whether a service has converged.
 */
import type { ServiceRef } from "./stack";

/** `docker info --format '{{json .Swarm}}'`, the fields used here. */
export interface SwarmInfo {
  readonly LocalNodeState?: string;
  readonly ControlAvailable?: boolean;
  readonly NodeAddr?: string;
  readonly Error?: string;
}

export type SwarmVerdict =
  | { readonly kind: "ok"; readonly detail: string }
  /** A capability is missing (the engine is not in a Swarm): the run is skipped, with the command to run. */
  | { readonly kind: "skip"; readonly reason: string }
  /** The engine is in a Swarm but cannot take the stack (worker, locked, broken): a problem on this machine. */
  | { readonly kind: "fail"; readonly reason: string };

export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/** `docker` with -H only when the stack's engine is not the CLI's default. */
export function dockerCommand(host: string, args: string): string {
  return host === DEFAULT_DOCKER_HOST ? `docker ${args}` : `docker -H ${host} ${args}`;
}

/**
 * The address to suggest for `docker swarm init --advertise-addr`: the host of a remote engine URL
 * when it is an IP address; for the local engine, this machine's first private IPv4 address on a
 * real interface (else any non-loopback one). Undefined when it cannot be told.
 */
export function advertiseAddressHint(
  host: string,
  localIPv4: ReadonlyArray<{ readonly iface: string; readonly address: string }>,
): string | undefined {
  const remote = /^(?:tcp|ssh):\/\/(?:[^@/]*@)?([^:/]+)/.exec(host);
  if (remote) return /^\d{1,3}(\.\d{1,3}){3}$/.test(remote[1]!) ? remote[1] : undefined;
  // Docker's and other virtual bridges reach no other node.
  const usable = localIPv4.filter(
    (a) => !a.address.startsWith("127.") && !/^(lo|docker|br-|veth|virbr|cni|flannel|cali|vxlan|tun|wg)/.test(a.iface),
  );
  const isPrivate = (a: string) => /^10\./.test(a) || /^192\.168\./.test(a) || /^172\.(1[6-9]|2\d|3[01])\./.test(a);
  return (usable.find((a) => isPrivate(a.address)) ?? usable[0])?.address;
}

/**
 * Can the engine take a stack with Swarm services, secrets and configs? Only a manager can create
 * them. Not being in a Swarm at all is a missing capability (like a missing engine: SKIP, saying
 * what to run); a worker, a locked manager or a Swarm in error is this machine's problem (FAIL).
 */
export function swarmVerdict(info: SwarmInfo, host: string, advertiseAddr: string | undefined): SwarmVerdict {
  const state = info.LocalNodeState ?? "";
  const init = dockerCommand(
    host,
    `swarm init --advertise-addr ${advertiseAddr ?? "<an address of the engine's host that other nodes can reach>"}`,
  );
  if (state === "active" && info.ControlAvailable === true)
    return { kind: "ok", detail: `Swarm manager${info.NodeAddr ? ` at ${info.NodeAddr}` : ""}` };
  if (state === "inactive" || state === "") {
    return {
      kind: "skip",
      reason: `the engine at ${host} is not in a Swarm (Swarm.LocalNodeState ${state || "unknown"}), and the stack runs its app services as docker_service: make it a Swarm manager (a one-node Swarm is enough; docs/runbooks/swarm.md, section 1):\n  ${init}`,
    };
  }
  if (state === "active") {
    return {
      kind: "fail",
      reason: `the engine at ${host} is a Swarm worker (ControlAvailable false): only a manager creates services, secrets and configs. Point UPDATEIO_<ENV>_DOCKER_HOST at a manager and synth again, or promote this node on a manager: ${dockerCommand(host, "node promote <this node>")} (run it against a manager)`,
    };
  }
  if (state === "locked") {
    return {
      kind: "fail",
      reason: `the Swarm manager at ${host} is locked (autolock after a restart): unlock it with the unlock key: ${dockerCommand(host, "swarm unlock")}`,
    };
  }
  return {
    kind: "fail",
    reason: `the engine at ${host} is in Swarm state "${state}"${info.Error ? ` (${info.Error})` : ""}: wait for a pending join to finish, or repair the node (docs/runbooks/swarm.md) before deploying`,
  };
}

/** One row of `docker service ps --no-trunc --format '{{json .}}' <service>`. */
export interface TaskRow {
  readonly Name: string;
  readonly Node?: string;
  readonly DesiredState: string;
  /** e.g. "Running 2 minutes ago", "Starting 5 seconds ago", "Failed 1 minute ago". */
  readonly CurrentState: string;
  readonly Error?: string;
}

export interface Convergence {
  readonly ready: boolean;
  /** Tasks keep failing and none runs: waiting longer will not help. */
  readonly hopeless: boolean;
  readonly running: number;
  readonly expected: number;
  readonly description: string;
}

/** A service with no running task and this many failed or rejected ones is crash-looping. */
export const HOPELESS_FAILURES = 3;

const stateWord = (t: TaskRow) => t.CurrentState.split(" ")[0] ?? "";

/**
 * Converged: as many tasks running as the service's replica count (a global service: every task it
 * wants running is running). With a healthcheck, Swarm reports a task "Starting" until it is
 * healthy, so "Running" already means healthy.
 */
export function convergence(service: ServiceRef, exists: boolean, tasks: readonly TaskRow[]): Convergence {
  if (!exists)
    return { ready: false, hopeless: false, running: 0, expected: service.replicas ?? 1, description: `${service.name}: no such service` };
  const wanted = tasks.filter((t) => t.DesiredState === "Running");
  const running = wanted.filter((t) => stateWord(t) === "Running").length;
  const expected = service.replicas ?? Math.max(wanted.length, 1);
  const failed = tasks.filter((t) => ["Failed", "Rejected"].includes(stateWord(t)));
  const ready = running === expected;
  const pending = wanted
    .filter((t) => stateWord(t) !== "Running")
    .map((t) => `${t.Name} ${t.CurrentState.toLowerCase()}${t.Node ? ` on ${t.Node}` : ""}`);
  const lastError = failed.find((t) => t.Error)?.Error;
  const parts = [`${running}/${expected} tasks running`, ...pending.slice(0, 3)];
  if (failed.length > 0)
    parts.push(`${failed.length} failed task${failed.length === 1 ? "" : "s"}${lastError ? `, latest: ${lastError.slice(0, 200)}` : ""}`);
  return {
    ready,
    hopeless: running === 0 && failed.length >= HOPELESS_FAILURES,
    running,
    expected,
    description: `${service.name}: ${parts.join("; ")}`,
  };
}

/** Parses `docker service ps --format '{{json .}}'` output (one JSON object a line). */
export function parseTaskRows(stdout: string): TaskRow[] {
  return stdout
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("{"))
    .map((l) => {
      const row = JSON.parse(l) as TaskRow;
      // The CLI prints a task's error quoted: "\"task: non-zero exit (3)\"".
      return row.Error ? { ...row, Error: row.Error.replace(/^"(.*)"$/s, "$1") } : row;
    });
}
