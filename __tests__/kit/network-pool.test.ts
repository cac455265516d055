import { describe, expect, it } from "vitest";
import { ValidationError } from "../../constructs/contract/errors";
import { allocateSubnets, networkPoolProblem, poolCapacity } from "../../constructs/kit/network-pool";
import { PlatformNetwork, setNetworkDefaults } from "../../constructs/kit/platform-network";
import { PAYLOADS } from "../support/payloads";
import { loadProblems } from "../support/config-problems";
import { sharedEnvironment, synthEnvironment } from "../support/stacks";
import { testOutdir, testStack, type Json } from "../support/test-stack";
import { loadEnvironmentConfig } from "../../environments/load";
import { synthText } from "../support/synth-text";

const OUT = testOutdir("network-pool-test");
const NAMES = Array.from({ length: 40 }, (_, i) => `dev-net-${i}`);

/** The IPv4 address as a number. */
const num = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);

describe("allocateSubnets", () => {
  it("gives every name its own /24 inside the pool, with the first host as gateway", () => {
    const plan = allocateSubnets("172.16.0.0/16", NAMES);
    const subnets = [...plan.values()].map((p) => p.subnet);
    expect(new Set(subnets).size).toBe(NAMES.length);
    for (const { subnet, gateway } of plan.values()) {
      expect(subnet).toMatch(/^172\.16\.\d{1,3}\.0\/24$/);
      expect(num(gateway)).toBe(num(subnet.split("/")[0]!) + 1);
    }
  });

  it("does not depend on the order names arrive in", () => {
    const a = allocateSubnets("10.20.0.0/16", NAMES);
    const b = allocateSubnets("10.20.0.0/16", [...NAMES].reverse());
    expect([...b.entries()].sort()).toEqual([...a.entries()].sort());
  });

  it("moves no other network when one is added, unless the new one lands on its slot", () => {
    const before = allocateSubnets("172.16.0.0/16", NAMES);
    const after = allocateSubnets("172.16.0.0/16", [...NAMES, "dev-added"]);
    const moved = NAMES.filter((n) => before.get(n)!.subnet !== after.get(n)!.subnet);
    // With 256 slots and 41 names, a collision moves at most the names probing past the new slot.
    expect(moved.length).toBeLessThanOrEqual(1);
    if (moved.length === 1) expect(before.get(moved[0]!)!.subnet).toBe(after.get("dev-added")!.subnet);
  });

  it("fills a pool exactly and refuses one network more, naming both counts", () => {
    expect(poolCapacity("192.168.8.0/21")).toBe(8);
    const eight = allocateSubnets("192.168.8.0/21", NAMES.slice(0, 8));
    expect(new Set([...eight.values()].map((p) => p.subnet)).size).toBe(8);
    for (const p of eight.values()) expect(num(p.subnet.split("/")[0]!) >> 11).toBe(num("192.168.8.0") >> 11);
    expect(() => allocateSubnets("192.168.8.0/21", NAMES.slice(0, 9))).toThrow(/holds 8 \/24 networks; 9 needed/);
  });
});

describe("networkPoolProblem", () => {
  it.each(["172.16.0.0/16", "10.0.0.0/8", "10.200.0.0/20", "192.168.0.0/16", "172.31.254.0/23"])("accepts %s", (pool) => {
    expect(networkPoolProblem(pool)).toBeUndefined();
  });

  it.each([
    ["8.8.0.0/16", /not a private range/],
    ["172.32.0.0/16", /not a private range/],
    ["172.0.0.0/8", /not a private range/],
    ["11.0.0.0/8", /not a private range/],
    ["192.169.0.0/16", /not a private range/],
    ["172.16.1.0/16", /host bits set; the network is 172\.16\.0\.0\/16/],
    ["172.16.0.0/24", /must be a \/8 to \/23/],
    ["10.0.0.0/7", /must be a \/8 to \/23/],
    ["10.0.0.256/16", /not an IPv4 network/],
    ["fd00::/64", /not an IPv4 network/],
    ["172.16.0.0", /not an IPv4 network/],
    [" 172.16.0.0/16", /not an IPv4 network/],
    ["172.16.0.0/16\n", /not an IPv4 network/],
  ])("refuses %j", (pool, why) => {
    expect(networkPoolProblem(pool)).toMatch(why);
  });

  it("refuses every dangerous payload appended to a valid pool", () => {
    for (const payload of Object.values(PAYLOADS)) expect(networkPoolProblem(`172.16.0.0/16${payload}`)).toMatch(/not an IPv4 network/);
  });
});

describe("PlatformNetwork in a pool", () => {
  const networksOf = (json: Json) => Object.values(json.resource.docker_network) as Json[];

  it("pins each bridge to its allocated subnet and gateway, whatever order the networks are built in", () => {
    const build = (names: string[]) => {
      const s = testStack(OUT, "dev", { random: false });
      setNetworkDefaults(s, { driver: "bridge", pool: "172.16.0.0/16" });
      for (const n of names) new PlatformNetwork(s, n, { environment: "dev", purpose: n });
      return networksOf(JSON.parse(synthText(s)));
    };
    const purposes = ["postgres", "redis", "edge-api", "egress-edge"];
    const plan = allocateSubnets(
      "172.16.0.0/16",
      purposes.map((p) => `dev-${p}`),
    );
    for (const nets of [build(purposes), build([...purposes].reverse())]) {
      for (const n of nets) expect(n.ipam_config).toEqual([plan.get(n.name)]);
    }
  });

  it("leaves subnets to Docker without a pool", () => {
    const s = testStack(OUT, "dev", { random: false });
    setNetworkDefaults(s, { driver: "bridge" });
    new PlatformNetwork(s, "n", { environment: "dev", purpose: "postgres" });
    expect(networksOf(JSON.parse(synthText(s)))[0]!.ipam_config).toBeUndefined();
  });

  it("refuses a network more than the pool holds, naming the setting and the fix", () => {
    const s = testStack(OUT, "dev", { random: false });
    setNetworkDefaults(s, { driver: "bridge", pool: "172.16.0.0/23" });
    new PlatformNetwork(s, "a", { environment: "dev", purpose: "a" });
    new PlatformNetwork(s, "b", { environment: "dev", purpose: "b" });
    expect(() => new PlatformNetwork(s, "c", { environment: "dev", purpose: "c" })).toThrow(
      /runtime\.networkPool: "172\.16\.0\.0\/23" holds 2 \/24 networks .* use a larger range/,
    );
  });

  it("refuses a pool on overlays (the swarm has its own) and a bad pool", () => {
    const s = testStack(OUT, "test", { random: false });
    expect(() => setNetworkDefaults(s, { driver: "overlay", pool: "10.1.0.0/16" })).toThrow(ValidationError);
    expect(() => setNetworkDefaults(s, { driver: "bridge", pool: "8.8.0.0/16" })).toThrow(/pool: "8\.8\.0\.0\/16" is not a private range/);
  });
});

describe("dev's network pool (UPDATEIO_DEV_NETWORK_POOL)", () => {
  it("pins every dev network to its own /24 of 172.16.0.0/16 by default, in every observability profile", () => {
    for (const profile of ["off", "logs", "full"]) {
      const json = sharedEnvironment("dev", profile === "logs" ? {} : { UPDATEIO_DEV_OBSERVABILITY: profile }).json;
      const nets = Object.values(json.resource.docker_network) as Json[];
      const subnets = nets.map((n) => n.ipam_config?.[0]?.subnet as string);
      expect(subnets.every((s) => /^172\.16\.\d{1,3}\.0\/24$/.test(s))).toBe(true);
      expect(new Set(subnets).size).toBe(nets.length);
    }
  });

  it("takes another range, or none with 'docker'", () => {
    expect(loadEnvironmentConfig("dev", { UPDATEIO_DEV_NETWORK_POOL: "10.77.0.0/16" }).runtime).toMatchObject({
      networkPool: "10.77.0.0/16",
    });
    expect(
      (loadEnvironmentConfig("dev", { UPDATEIO_DEV_NETWORK_POOL: "docker" }).runtime as { networkPool?: string }).networkPool,
    ).toBeUndefined();
    const json = synthEnvironment("dev", { UPDATEIO_DEV_NETWORK_POOL: "docker" }, OUT).json;
    for (const n of Object.values(json.resource.docker_network) as Json[]) expect(n.ipam_config).toBeUndefined();
  });

  it("refuses a bad range naming the variable, and a pool on the swarm runtime", () => {
    for (const bad of ["8.8.0.0/16", "172.16.0.0/24", "172.16.0.0/16,10.0.0.0/8", '172.16.0.0/16"}']) {
      const problems = loadProblems("dev", { UPDATEIO_DEV_NETWORK_POOL: bad }).join("\n");
      expect(problems).toMatch(/UPDATEIO_DEV_NETWORK_POOL/);
    }
    const test = loadEnvironmentConfig("test", {}) as any;
    expect(test.runtime.kind).toBe("swarm");
    expect(loadProblems("test", { UPDATEIO_TEST_NETWORK_POOL: "10.1.0.0/16" }).join("\n")).toMatch(/UPDATEIO_TEST_NETWORK_POOL.*dev only/);
  });
});
