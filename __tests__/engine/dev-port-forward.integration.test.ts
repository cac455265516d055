/**
 * Dev's 127.0.0.1 ports on the real Docker engine, as the dev stack synthesizes them: the API (its
 * inspector port) and the Postgres primary stay on internal networks only, and each is reached from
 * the host through its DevPortForward (its own non-internal network plus the internal one it
 * forwards to). The local busybox image stands in for every image: httpd serves a probe page on the
 * target's port, and `nc -ll -e nc <target> <port>` stands in for socat's fork-per-connection.
 * Ports are published on 127.0.0.1 with a port Docker picks (the synthesized 9229/55432 may be taken here).
 *
 * "Cannot reach outside": this machine has no internet, so a network namespace on the host with a
 * TEST-NET-2 address plays the remote host (routed, so traffic to it crosses Docker's FORWARD
 * rules like traffic to the internet). The forwarder, on a non-internal network, reaching it is the
 * control. (The host's own addresses stay reachable from internal networks on Docker 20.10: see
 * engine.integration.test.ts.)
 */
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeIf, itIf, requireBinary, type Requirement } from "../support/binaries";
import type { ContainerPlan } from "./docker-cli";
import {
  docker,
  dockerDaemonRequirement,
  dockerOk,
  EngineSession,
  ensureTestImage,
  runPrefix,
  staticBusyboxRequirement,
  synthesizedStack,
} from "./fixtures";

const busybox = staticBusyboxRequirement();
const serve = (port: number) => ["sh", "-c", `echo ok > /tmp/probe && exec httpd -f -p ${port} -h /tmp`];
const forward = (host: string, port: number) => ["nc", "-ll", "-p", String(port), "-e", "nc", host, String(port)];

/** The forwarders of the dev stack and what each reaches: [target container, forwarder container, port, target alias]. */
const FORWARDS = [
  { target: "dev-api", forwarder: "dev-api-debug-9229", port: 9229, alias: "api" },
  { target: "dev-postgres", forwarder: "dev-postgres-host", port: 5432, alias: "postgres" },
] as const;

/** A routed "remote host" needs root and network namespaces (ip netns). */
function netnsRequirement(): Requirement {
  if (process.getuid?.() !== 0)
    return { available: false, reason: "not root: cannot create the network namespace that plays the remote host" };
  const ip = requireBinary("ip");
  if (!ip.available) return ip;
  const r = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  return r.status === 0
    ? { available: true, reason: "ip netns works" }
    : { available: false, reason: `ip netns list failed: ${(r.stderr || "").trim()}` };
}
const netns = netnsRequirement();

describeIf([requireBinary("docker"), dockerDaemonRequirement(), busybox], "dev's port forwarders on the real Docker engine", () => {
  const prefix = `${runPrefix()}fwd-`;
  let session: EngineSession;
  const plans = new Map<string, ContainerPlan>();
  /** The remote host: a namespace with one veth end at 198.51.100.<n+1>, the other on the host. */
  const slot = (process.pid % 60) * 4;
  const ns = `uioeng-${process.pid}-out`;
  const hostVeth = `uio${process.pid % 100000}o`;
  const remote = `198.51.100.${slot + 2}`;
  const REMOTE_PORT = 47124;
  let nsReady = false;

  const ip = (...args: string[]) => {
    const r = spawnSync("ip", args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
  };

  beforeAll(async () => {
    const image = await ensureTestImage(busybox.path!);
    session = new EngineSession(synthesizedStack("dev"), prefix, image);
    for (const f of FORWARDS) {
      plans.set(f.target, session.plan(f.target, { command: serve(f.port) }));
      plans.set(f.forwarder, session.plan(f.forwarder, { command: forward(f.alias, f.port), ports: "loopback-ephemeral" }));
    }
    await session.prepare([...plans.values()]);
    for (const p of plans.values()) {
      await session.create(p);
      await session.start(p);
    }
    if (netns.available) {
      ip("netns", "add", ns);
      nsReady = true;
      ip("link", "add", hostVeth, "type", "veth", "peer", "name", `${hostVeth}p`);
      ip("link", "set", `${hostVeth}p`, "netns", ns);
      ip("addr", "add", `198.51.100.${slot + 1}/30`, "dev", hostVeth);
      ip("link", "set", hostVeth, "up");
      ip("netns", "exec", ns, "ip", "addr", "add", `${remote}/30`, "dev", `${hostVeth}p`);
      ip("netns", "exec", ns, "ip", "link", "set", `${hostVeth}p`, "up");
      ip("netns", "exec", ns, "ip", "route", "add", "default", "via", `198.51.100.${slot + 1}`);
      spawnSync("sh", ["-c", `ip netns exec ${ns} busybox nc -ll -p ${REMOTE_PORT} -e echo remote-host >/dev/null 2>&1 &`]);
    }
  }, 240_000);

  afterAll(async () => {
    await session?.cleanup();
    if (nsReady) {
      // Deleting the namespace kills its listener and the veth pair with it.
      spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" })
        .stdout.split("\n")
        .filter(Boolean)
        .forEach((pid) => spawnSync("kill", [pid]));
      spawnSync("ip", ["link", "del", hostVeth]);
      spawnSync("ip", ["netns", "del", ns]);
    }
  }, 120_000);

  async function hostPort(forwarder: string, port: number): Promise<string> {
    const out = (await dockerOk(["port", plans.get(forwarder)!.name, `${port}/tcp`])).trim().split("\n")[0]!;
    expect(out).toMatch(/^127\.0\.0\.1:\d+$/);
    return out;
  }

  async function networksOf(name: string): Promise<{ name: string; internal: boolean }[]> {
    const [c] = JSON.parse(await dockerOk(["inspect", plans.get(name)!.name])) as {
      NetworkSettings: { Networks: Record<string, unknown> };
    }[];
    const names = Object.keys(c!.NetworkSettings.Networks);
    return Promise.all(
      names.map(async (n) => ({
        name: n,
        internal: (await dockerOk(["network", "inspect", "--format", "{{.Internal}}", n])).trim() === "true",
      })),
    );
  }

  for (const f of FORWARDS) {
    it(`${f.target} answers on 127.0.0.1 through ${f.forwarder}, and on no port of its own`, async () => {
      const address = await hostPort(f.forwarder, f.port);
      const body = await (await fetch(`http://${address}/probe`)).text();
      expect(body.trim()).toBe("ok");
      // Twice: the forwarder serves one connection after another.
      expect((await (await fetch(`http://${address}/probe`)).text()).trim()).toBe("ok");
      const [target] = JSON.parse(await dockerOk(["inspect", plans.get(f.target)!.name])) as { HostConfig: { PortBindings: unknown } }[];
      expect(Object.keys((target!.HostConfig.PortBindings as Record<string, unknown> | null) ?? {})).toEqual([]);
    });

    it(`${f.target} is on internal networks only; ${f.forwarder} on its own non-internal network plus one of ${f.target}'s`, async () => {
      const targetNets = await networksOf(f.target);
      expect(targetNets.length).toBeGreaterThan(0);
      expect(targetNets.filter((n) => !n.internal)).toEqual([]);
      const fwdNets = await networksOf(f.forwarder);
      expect(fwdNets.filter((n) => !n.internal).map((n) => n.name)).toEqual([`${prefix}${f.forwarder}`]);
      const shared = fwdNets.filter((n) => n.internal).map((n) => n.name);
      expect(shared).toHaveLength(1);
      expect(targetNets.map((n) => n.name)).toContain(shared[0]);
    });

    itIf(netns, `${f.target} cannot reach a routed host outside; ${f.forwarder} (non-internal) can`, async () => {
      const probe = (name: string) =>
        docker(["exec", plans.get(name)!.name, "sh", "-c", `timeout 3 nc ${remote} ${REMOTE_PORT} </dev/null`], { timeoutMs: 20_000 });
      const control = await probe(f.forwarder);
      expect(control.stdout).toContain("remote-host");
      const blocked = await probe(f.target);
      expect(blocked.stdout).not.toContain("remote-host");
      expect(blocked.code).not.toBe(0);
    });
  }
});
