/**
 * The shared networks on the real Docker engine, with the dev stack's networks as synthesized. The API
 * on `inbound: "shared"`: each caller reaches the API over dev-api-callers, callers now reach each
 * other there (the documented price), and what never called the API still cannot reach it. The edge
 * on `appNetwork: "shared"`: it reaches every routed service over dev-edge-apps, routed services
 * reach each other there (the price), and nothing else reaches them through it.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeIf, requireBinary } from "../support/binaries";
import { loadEnvironmentConfig } from "../../environments/load";
import { synthWithStatusPage } from "../support/status-page";
import type { ContainerPlan, StackJson } from "../engine/docker-cli";
import { dockerDaemonRequirement, EngineSession, ensureTestImage, mapLimit, runPrefix, staticBusyboxRequirement } from "../engine/fixtures";
import { containerAddresses, fetchesProbe, SERVE } from "../engine/probe";

const CALLERS = ["admin-panel", "mini-app", "discord-bot", "telegram-bot"];
/** Share no network with the API in dev, with either inbound. */
const STRANGERS = ["loki", "grafana"];

const busybox = staticBusyboxRequirement();
const FULL = { UPDATEIO_DEV_OBSERVABILITY: "full" };

/**
 * Starts dev's `names` (synthesized by `synth`) as probe servers before the describe block's tests
 * and removes them after; returns who fetches whose probe page.
 */
function probeServers(prefix: string, synth: () => { readonly json: unknown; readonly names: readonly string[] }) {
  const plans = new Map<string, ContainerPlan>();
  let session: EngineSession | undefined;
  beforeAll(async () => {
    const image = await ensureTestImage(busybox.path!);
    const { json, names } = synth();
    const s = new EngineSession(json as StackJson, `${runPrefix()}${prefix}`, image);
    session = s;
    const all = names.map((name) => {
      const plan = s.plan(`dev-${name}`, { command: SERVE, ports: "loopback-ephemeral" });
      plans.set(name, plan);
      return plan;
    });
    await s.prepare(all);
    await mapLimit(all, 4, async (p) => {
      await s.create(p);
      await s.start(p);
    });
  }, 240_000);
  afterAll(async () => {
    await session?.cleanup();
  }, 120_000);
  const fetches = (from: string, to: string) => fetchesProbe(session!, plans.get(from)!, to);
  return {
    fetches,
    /** Each pair, "from -> to", and whether `from` fetched `to`'s probe page by its alias. */
    results: (pairs: readonly (readonly [string, string])[]) =>
      mapLimit(pairs, 4, async ([from, to]) => ({ pair: `${from} -> ${to}`, ok: await fetches(from, to) })),
    /** A denial must not be just a name that does not resolve: every address of the target is tried too. */
    reachesAnyAddress: async (from: string, to: string) => {
      for (const ip of await containerAddresses(session!, plans.get(to)!)) if (await fetches(from, ip)) return true;
      return false;
    },
  };
}

describeIf([requireBinary("docker"), dockerDaemonRequirement(), busybox], "the API's shared caller network on the Docker engine", () => {
  const { fetches, reachesAnyAddress, results } = probeServers("inb-", () => ({
    json: synthWithStatusPage("dev", { statusPage: false, apiInbound: "shared", variables: FULL }).json,
    names: ["api", ...CALLERS, ...STRANGERS],
  }));

  it("every caller reaches the API by its alias, and the API reaches them back", async () => {
    const r = await results(CALLERS.flatMap((c) => [[c, "api"] as const, ["api", c] as const]));
    expect(r.filter((x) => !x.ok).map((x) => x.pair)).toEqual([]);
  }, 120_000);

  it("callers reach each other on dev-api-callers (closed with a network per caller)", async () => {
    const r = await results([
      ["admin-panel", "mini-app"],
      ["mini-app", "discord-bot"],
      ["telegram-bot", "admin-panel"],
    ]);
    expect(r.filter((x) => !x.ok).map((x) => x.pair)).toEqual([]);
  }, 120_000);

  it("services that do not call the API still cannot reach it, nor it them", async () => {
    const pairs = STRANGERS.flatMap((s) => [[s, "api"] as const, ["api", s] as const, [s, "admin-panel"] as const]);
    const r = await mapLimit(pairs, 4, async ([from, to]) => ({
      pair: `${from} -> ${to}`,
      ok: (await fetches(from, to)) || (await reachesAnyAddress(from, to)),
    }));
    expect(r.filter((x) => x.ok).map((x) => x.pair)).toEqual([]);
  }, 120_000);
});

/** edge.appNetwork "shared": the edge and the routed app services on one dev-edge-apps network. */
describeIf([requireBinary("docker"), dockerDaemonRequirement(), busybox], "the edge's shared app network on the Docker engine", () => {
  const base = loadEnvironmentConfig("dev", FULL);
  const routed = Object.entries(base.services)
    .filter(([, svc]) => svc.routes.length > 0)
    .map(([name]) => name);
  const { results } = probeServers("edg-", () => ({
    json: synthWithStatusPage("dev", { statusPage: false, edgeAppNetwork: "shared", variables: FULL }).json,
    names: ["edge", ...routed, "discord-bot", ...STRANGERS],
  }));

  it("the edge reaches every routed app service by its alias", async () => {
    expect(routed.length).toBeGreaterThan(2);
    const r = await results(routed.map((svc) => ["edge", svc] as const));
    expect(r.filter((x) => !x.ok).map((x) => x.pair)).toEqual([]);
  }, 120_000);

  it("routed services reach each other on dev-edge-apps (the price; closed with a network per service)", async () => {
    const pairs = routed.slice(1).map((to) => [routed[0]!, to] as const);
    const r = await results(pairs);
    expect(r.filter((x) => !x.ok).map((x) => x.pair)).toEqual([]);
  }, 120_000);

  it("a service that is not routed, and the observability services, reach no routed service through it", async () => {
    // The Discord bot calls the API over their own network, so that pair is left out.
    const pairs = ["discord-bot", ...STRANGERS].flatMap((from) =>
      routed.filter((to) => !(from === "discord-bot" && to === "api")).map((to) => [from, to] as const),
    );
    const r = await results(pairs);
    expect(r.filter((x) => x.ok).map((x) => x.pair)).toEqual([]);
  }, 120_000);
});
