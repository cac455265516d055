/**
 * The pieces of dev's debug and database ports that need no server: DevPortForward's validation and
 * what it synthesizes under the policy pack, and the config checks on the ports and the image.
 */
import { describe, expect, it } from "vitest";
import { DevPortForward, PlatformNetwork, ServiceImage } from "../../constructs/kit";
import { evaluatePolicy } from "../../constructs/policy/policy-aspect";
import { loadEnvironmentConfig, validateEnvironmentConfig } from "../../environments/load";
import { synthJson, testOutdir, testStack, type Json } from "../support/test-stack";
import { refusals } from "../support/config-problems";

const OUT = testOutdir("dev-debug");
const SOCAT = "alpine/socat:1.8.0.3";

function build(overrides: Partial<ConstructorParameters<typeof DevPortForward>[2]> = {}, internal = true) {
  const stack = testStack(OUT, "dev");
  const target = new PlatformNetwork(stack, "net", { environment: "dev", purpose: "api-debug", internal });
  const fwd = new DevPortForward(stack, "fwd", {
    environment: "dev",
    name: "api-debug-9229",
    image: new ServiceImage(stack, "socat", { ref: SOCAT }),
    target: { host: "api", port: 9229, network: target },
    hostPort: 9229,
    ...overrides,
  });
  return { stack, fwd };
}

const problemsOf = refusals;

describe("DevPortForward", () => {
  it("is a hardened socat container on its own non-internal network and the target's, publishing 127.0.0.1 only, and passes the dev pack", () => {
    const { stack } = build();
    const { json } = synthJson(stack);
    const c = Object.values(json.resource.docker_container).find((x: any) => x.name === "dev-api-debug-9229") as Json;
    expect(c.entrypoint).toEqual(["socat"]);
    expect(c.command).toEqual(["TCP-LISTEN:9229,fork,reuseaddr", "TCP:api:9229"]);
    expect(c.ports).toEqual([{ internal: 9229, external: 9229, ip: "127.0.0.1", protocol: "tcp" }]);
    expect(c.user).toBe("65534:65534");
    expect(c.read_only).toBe(true);
    expect(c.capabilities).toEqual({ drop: ["ALL"] });
    expect(c.memory).toBe(32);
    expect(c.ulimit).toEqual([{ name: "nproc", soft: 32, hard: 32 }]);
    const nets = Object.values(json.resource.docker_network) as Json[];
    expect(nets.map((n) => [n.name, n.internal]).sort()).toEqual([
      ["dev-api-debug", true],
      ["dev-api-debug-9229", false],
    ]);
    expect(evaluatePolicy(stack, { environment: "dev" }).filter((f) => f.severity === "error")).toEqual([]);
  });

  it("refuses bad props, naming each and the fix", () => {
    expect(() =>
      build({ name: "Api Debug", target: { host: "api;rm", port: 80, network: undefined as never }, hostPort: 70000 } as never),
    ).toThrow();
    const err = (() => {
      try {
        build({ name: "Api Debug", hostPort: 70000 });
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    })();
    expect(err).toMatch(/name: "Api Debug" must be lowercase/);
    expect(err).toMatch(/hostPort: 70000 must be a whole number from 1 to 65535/);
    expect(() => build({}, false)).toThrow(/target\.network: api-debug is not internal/);
    const stack = testStack(OUT, "dev");
    const net = new PlatformNetwork(stack, "n", { environment: "dev", purpose: "x" });
    expect(
      () =>
        new DevPortForward(stack, "f", {
          environment: "dev",
          name: "x-forward",
          image: new ServiceImage(stack, "i", { ref: SOCAT }),
          target: { host: "x$(id)", port: 80, network: net },
          hostPort: 8080,
        }),
    ).toThrow(/target\.host: "x\$\(id\)" must be a service's DNS name[\s\S]*target\.port: 80 must be a whole number from 1024/);
  });
});

describe("dev's ports in the config", () => {
  const dev = () => structuredClone(loadEnvironmentConfig("dev", {})) as any;

  it("defaults: the API's inspector on 9229, Postgres on 55432, the socat image by tag", () => {
    const cfg = loadEnvironmentConfig("dev", {});
    expect(cfg.services.api!.debugPorts).toEqual([9229]);
    expect(cfg.postgres.hostPort).toBe(55432);
    expect(cfg.postgres.ownerCreatedb).toBe(true);
    expect(cfg.portForwardImage).toBe(SOCAT);
    expect(loadEnvironmentConfig("dev", { UPDATEIO_DEV_POSTGRES_PORT: "55433" }).postgres.hostPort).toBe(55433);
  });

  it("UPDATEIO_DEV_POSTGRES_PORT takes a port number only", () => {
    for (const bad of ["0", "70000", "5432; rm -rf /", '${file("/etc/passwd")}'])
      expect(problemsOf(() => loadEnvironmentConfig("dev", { UPDATEIO_DEV_POSTGRES_PORT: bad })).join("\n")).toMatch(
        /UPDATEIO_DEV_POSTGRES_PORT/,
      );
  });

  it("refuses a host port that collides with the edge or a debug port, and forwarded ports without the image", () => {
    const edge = dev();
    edge.postgres.hostPort = edge.edge.httpsPort;
    expect(problemsOf(() => validateEnvironmentConfig(edge, "dev"))).toContainEqual(
      expect.stringMatching(/^postgres\.hostPort: port \d+ is the edge's/),
    );
    const debug = dev();
    debug.postgres.hostPort = 9229;
    expect(problemsOf(() => validateEnvironmentConfig(debug, "dev"))).toContainEqual(
      expect.stringMatching(/^postgres\.hostPort: port 9229 is already published by services\.api/),
    );
    const noImage = dev();
    delete noImage.portForwardImage;
    expect(problemsOf(() => validateEnvironmentConfig(noImage, "dev"))).toContainEqual(
      expect.stringMatching(/^portForwardImage: is required to publish debug ports or postgres\.hostPort/),
    );
  });
});
