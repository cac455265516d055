/**
 * Who can reach whom, on the real Docker engine, with the networks and aliases the dev stack
 * synthesizes (bridges; test and prod build the same topology from the same code as overlays).
 *
 * Every long-running container of the stack is created as synthesized (networks, aliases, user,
 * read-only rootfs) with the local busybox stand-in serving HTTP on one probe port. Then each
 * source container fetches from each target's alias. The expected answer for every pair is written
 * here as policy, not derived from the stack: a network change that opens or closes a path fails.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeIf, requireBinary } from "../support/binaries";
import { containersOf, type ContainerPlan } from "./docker-cli";
import {
  dockerDaemonRequirement,
  EngineSession,
  ensureTestImage,
  mapLimit,
  runPrefix,
  staticBusyboxRequirement,
  synthesizedStack,
} from "./fixtures";
import { containerAddresses, fetchesProbe, SERVE } from "./probe";

/** Paths that must work: the edge to what it routes, callers to the API, apps to their data, monitoring to its targets. */
const ALLOWED: Record<string, readonly string[]> = {
  edge: ["api", "admin-panel", "mini-app", "grafana"],
  api: ["postgres", "redis", "rabbitmq"],
  "discord-bot": ["api", "redis", "rabbitmq"],
  "telegram-bot": ["api", "redis", "rabbitmq"],
  "admin-panel": ["api"],
  "mini-app": ["api"],
  grafana: ["loki", "prometheus", "postgres"],
  prometheus: [
    "edge",
    "loki",
    "alloy",
    "grafana",
    "cadvisor",
    "node-exporter",
    "postgres-exporter",
    "redis-exporter",
    "rabbitmq",
    // The apps' own /metrics, each on its <service>-metrics network.
    "api",
    "discord-bot",
    "telegram-bot",
    "admin-panel",
    "mini-app",
  ],
  alloy: ["loki", "docker-socket-proxy"],
};

/** Paths that must not exist: the internet-facing edge into monitoring and data, services past the edge's allow-list, neighbours. */
const DENIED: Record<string, readonly string[]> = {
  edge: [
    "loki",
    "alloy",
    "cadvisor",
    "node-exporter",
    "docker-socket-proxy",
    "postgres",
    "redis",
    "rabbitmq",
    "discord-bot",
    "telegram-bot",
    "postgres-exporter",
  ],
  api: ["grafana", "loki", "docker-socket-proxy", "cadvisor"],
  "discord-bot": ["admin-panel", "mini-app", "grafana", "loki", "edge", "postgres"],
  "telegram-bot": ["admin-panel", "mini-app", "grafana", "loki", "edge", "postgres"],
  "admin-panel": ["mini-app", "grafana", "discord-bot", "telegram-bot", "loki", "postgres", "redis", "rabbitmq"],
  "mini-app": ["admin-panel", "grafana", "discord-bot", "telegram-bot", "loki", "postgres", "redis", "rabbitmq"],
  grafana: ["api", "admin-panel", "mini-app", "docker-socket-proxy", "redis", "rabbitmq"],
  prometheus: ["postgres", "redis", "docker-socket-proxy"],
  "postgres-exporter": ["redis", "loki"],
  "redis-exporter": ["loki", "postgres"],
  "node-exporter": ["loki"],
  cadvisor: ["loki", "postgres"],
};

/**
 * Paths a shared network opens both ways, which Docker cannot make one-way: the API and each of its
 * callers, the edge and each routed service (and Prometheus on edge-metrics), the clients of one
 * data service. Asserted open so that the list stays true; docs/architecture.md names them.
 */
const OPEN_BY_DESIGN: Record<string, readonly string[]> = {
  // Each app and Prometheus share its <service>-metrics network, so the app reaches Prometheus too.
  api: ["admin-panel", "mini-app", "discord-bot", "telegram-bot", "edge", "prometheus"],
  "admin-panel": ["edge", "prometheus"],
  "mini-app": ["edge", "prometheus"],
  "discord-bot": ["telegram-bot", "prometheus"],
  "telegram-bot": ["prometheus"],
  edge: ["prometheus"],
  grafana: ["edge"],
  "postgres-exporter": ["api"],
};

const busybox = staticBusyboxRequirement();

describeIf(
  [requireBinary("docker"), dockerDaemonRequirement(), busybox],
  "network isolation of the dev stack on the real Docker engine",
  () => {
    const prefix = runPrefix();
    let session: EngineSession;
    const plans = new Map<string, ContainerPlan>();

    beforeAll(async () => {
      const image = await ensureTestImage(busybox.path!);
      const stack = synthesizedStack("dev");
      session = new EngineSession(stack, `${prefix}iso-`, image);
      const running = containersOf(stack).filter(([, c]) => c.start !== false && c.must_run !== false);
      const all = running.map(([key]) => session.planByKey(key, { command: SERVE, ports: "loopback-ephemeral" }));
      await session.prepare(all);
      await mapLimit(all, 4, async (p) => {
        await session.create(p);
        await session.start(p);
        plans.set(p.synthesizedName.replace(/^dev-/, ""), p);
      });
    }, 240_000);

    afterAll(async () => {
      await session?.cleanup();
    }, 120_000);

    const addresses = new Map<string, string[]>();
    async function addressesOf(name: string): Promise<string[]> {
      if (!addresses.has(name)) addresses.set(name, await containerAddresses(session, plans.get(name)!));
      return addresses.get(name)!;
    }

    const fetches = (from: ContainerPlan, host: string, seconds = 3) => fetchesProbe(session, from, host, seconds);

    /**
     * true when `from` fetched the probe page from `to` by its alias, or can resolve the alias at all
     * (Docker's DNS answers it only to a container that shares a network with `to`, so a slow machine
     * cannot turn an open path into a denied one), or fetched from any of `to`'s addresses (so that a
     * denial is not just a name that does not resolve).
     */
    async function reaches(from: string, to: string): Promise<boolean> {
      const source = plans.get(from);
      if (!source) throw new Error(`no container ${from}; have ${[...plans.keys()].join(", ")}`);
      if (await fetches(source, to)) return true;
      const resolved = await session.exec(source, ["timeout", "5", "nslookup", to]);
      if (resolved.code === 0 && /Address:?\s+\d+\.\d+\.\d+\.\d+/.test(resolved.stdout.split(/Name:/)[1] ?? "")) return true;
      // Between containers on one host a reachable address answers in milliseconds; a dropped packet would hang.
      for (const ip of await addressesOf(to)) if (await fetches(source, ip, 2)) return true;
      return false;
    }

    it("every container of the stack is up with the probe server", () => {
      const named = [ALLOWED, DENIED, OPEN_BY_DESIGN].flatMap((m) => [...Object.keys(m), ...Object.values(m).flat()]);
      for (const name of named) {
        expect(plans.has(name), name).toBe(true);
      }
    });

    it("allowed paths connect", async () => {
      const pairs = Object.entries(ALLOWED).flatMap(([from, tos]) => tos.map((to) => [from, to] as const));
      const results = await mapLimit(pairs, 4, async ([from, to]) => ({ pair: `${from} -> ${to}`, ok: await reaches(from, to) }));
      console.log(`isolation: ${results.filter((r) => r.ok).length}/${results.length} allowed paths connected`);
      expect(results.filter((r) => !r.ok).map((r) => r.pair)).toEqual([]);
    }, 180_000);

    it("paths a shared network opens both ways connect, as documented (API and callers, edge and routes, clients of one data service)", async () => {
      const pairs = Object.entries(OPEN_BY_DESIGN).flatMap(([from, tos]) => tos.map((to) => [from, to] as const));
      const results = await mapLimit(pairs, 4, async ([from, to]) => ({ pair: `${from} -> ${to}`, ok: await reaches(from, to) }));
      expect(results.filter((r) => !r.ok).map((r) => r.pair)).toEqual([]);
    }, 180_000);

    it("denied paths do not connect (the edge into monitoring or data, services past the allow-list, neighbours)", async () => {
      const pairs = Object.entries(DENIED).flatMap(([from, tos]) => tos.map((to) => [from, to] as const));
      const results = await mapLimit(pairs, 8, async ([from, to]) => ({ pair: `${from} -> ${to}`, ok: await reaches(from, to) }));
      console.log(
        `isolation: ${results.filter((r) => !r.ok).length}/${results.length} denied paths refused (by alias and by every address)`,
      );
      expect(results.filter((r) => r.ok).map((r) => r.pair)).toEqual([]);
    }, 300_000);
  },
);
