import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Container } from "@cdktf/provider-docker/lib/container";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TerraformStack, Testing } from "cdktf";
import { afterAll, describe, expect, it } from "vitest";
import { EdgeProxy, type EdgeProxyProps } from "../../constructs/edge/edge-proxy";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import { suppressionsOf } from "../../constructs/policy/policy-aspect";

const OUT = mkdtempSync(join(tmpdir(), "edge-proxy-test-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

const IMAGE = `caddy:2.10.2-alpine@sha256:${"4c".repeat(32)}`;
type Json = Record<string, any>;

function build(
  overrides: (ctx: { stack: TerraformStack; edge: PlatformNetwork; egress: PlatformNetwork }) => Partial<EdgeProxyProps> = () => ({}),
) {
  const stack = new TerraformStack(Testing.app({ outdir: OUT }), "prod");
  new DockerProvider(stack, "docker", { host: "unix:///var/run/docker.sock" });
  new RandomProvider(stack, "random");
  const edge = new PlatformNetwork(stack, "edge-network", { environment: "prod", purpose: "edge" });
  const egress = new PlatformNetwork(stack, "egress-network", { environment: "prod", purpose: "egress", internal: false });
  const proxy = new EdgeProxy(stack, "edge", {
    environment: "prod",
    image: IMAGE,
    memoryMb: 256,
    cpuShares: 1024,
    bindAddress: "0.0.0.0",
    httpPort: 80,
    httpsPort: 443,
    tls: { mode: "acme", email: "ops@updateio.app" },
    adminAllowList: ["10.8.0.0/16"],
    hsts: true,
    routes: [
      { host: "api.updateio.app", upstreams: ["api-1:3000", "api-2:3000"], healthPath: "/health" },
      { host: "admin.updateio.app", upstreams: ["admin-panel:3003"], adminOnly: true },
    ],
    routeNetworks: [edge],
    egressNetwork: egress,
    ...overrides({ stack, edge, egress }),
  });
  const text = Testing.synth(stack);
  const json: Json = JSON.parse(text);
  const containers = Object.values(json.resource.docker_container) as Json[];
  const key = (type: string, name: string) => Object.entries(json.resource[type]).find(([, v]) => (v as Json).name === name)![0];
  return {
    proxy,
    text,
    json,
    server: containers.find((c) => c.name === "prod-edge")!,
    seed: containers.find((c) => c.name === "prod-edge-seed")!,
    key,
  };
}

describe("EdgeProxy", () => {
  const { proxy, text, json, server, seed, key } = build();

  it("matches its snapshot", () => {
    expect(text).toMatchSnapshot();
  });

  it("runs caddy read-only with every capability dropped except NET_BIND_SERVICE", () => {
    expect(text).toHaveResourceWithProperties(Container, {
      name: "prod-edge",
      read_only: true,
      capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
      security_opts: ["no-new-privileges:true"],
      memory: 256,
      memory_swap: 256,
      cpu_shares: 1024,
      restart: "unless-stopped",
      log_driver: "json-file",
      log_opts: { "max-size": "10m", "max-file": "3" },
      command: ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
    });
  });

  it("runs as root only with the written relaxation recorded as a policy suppression", () => {
    expect(server.user).toBe("0:0");
    expect(suppressionsOf(proxy.service).map((s) => s.ruleId)).toContain("non-root");
  });

  it("publishes exactly 80 and 443 on the bind address, sorted ascending", () => {
    expect(server.ports).toEqual([
      { internal: 80, external: 80, ip: "0.0.0.0", protocol: "tcp" },
      { internal: 443, external: 443, ip: "0.0.0.0", protocol: "tcp" },
    ]);
  });

  it("maps other host ports to the container's 80 and 443, still sorted", () => {
    const b = build(() => ({ bindAddress: "127.0.0.1", httpPort: 8444, httpsPort: 8081 }));
    expect(b.server.ports).toEqual([
      { internal: 80, external: 8444, ip: "127.0.0.1", protocol: "tcp" },
      { internal: 443, external: 8081, ip: "127.0.0.1", protocol: "tcp" },
    ]);
  });

  it("joins the egress network (ACME, published ports) and the internal edge network", () => {
    const names = server.networks_advanced.map((n: Json) => n.name);
    expect(names).toEqual([
      `\${docker_network.${key("docker_network", "prod-egress")}.name}`,
      `\${docker_network.${key("docker_network", "prod-edge")}.name}`,
    ]);
    expect(server.networks_advanced.every((n: Json) => JSON.stringify(n.aliases) === '["edge"]')).toBe(true);
  });

  it("delivers the rendered Caddyfile through the seed, mounted read-only at /etc/caddy", () => {
    expect(seed.upload).toEqual([{ file: "/etc/caddy/Caddyfile", content: proxy.caddyfile, executable: false }]);
    expect(server.volumes).toContainEqual({
      volume_name: `\${docker_volume.${key("docker_volume", "prod-edge-config")}.name}`,
      container_path: "/etc/caddy",
      read_only: true,
    });
    expect(proxy.caddyfile).toContain("\temail ops@updateio.app\n");
    expect(proxy.caddyfile).toContain("\napi.updateio.app {\n");
    expect(proxy.caddyfile).toContain("reverse_proxy api-1:3000 api-2:3000 {");
    expect(proxy.caddyfile).toContain("not remote_ip 10.8.0.0/16");
    expect(proxy.caddyfile).toContain("Strict-Transport-Security");
    // Caddy listens on 80/443 inside the container whatever the host ports
    expect(proxy.caddyfile).toContain("\thttp_port 80\n\thttps_port 443\n");
  });

  it("keeps certificates on a data volume (protected when asked) and XDG paths off the rootfs", () => {
    expect(server.volumes).toContainEqual({
      volume_name: `\${docker_volume.${key("docker_volume", "prod-edge-data")}.name}`,
      container_path: "/data",
      read_only: false,
    });
    expect(json.resource.docker_volume[key("docker_volume", "prod-edge-data")].lifecycle).toBeUndefined();
    const p = build(() => ({ protectData: true }));
    expect(p.json.resource.docker_volume[p.key("docker_volume", "prod-edge-data")].lifecycle).toEqual({ prevent_destroy: true });
    expect(server.env).toEqual(["XDG_CONFIG_HOME=/config", "XDG_DATA_HOME=/data"]);
    expect(server.tmpfs["/config"]).toBe("rw,noexec,nosuid,size=16m");
  });

  it("checks health on the internal-only health port", () => {
    expect(server.healthcheck).toEqual({
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8099/healthz"],
      interval: "15s",
      timeout: "3s",
      retries: 3,
      start_period: "10s",
    });
    expect(proxy.caddyfile).toContain("http://:8099 {");
  });

  it("fails when the 'egress' network is internal (Docker would publish nothing)", () => {
    const internalEgress = ({ stack }: { stack: TerraformStack }) => ({
      egressNetwork: new PlatformNetwork(stack, "closed", { environment: "prod", purpose: "closed" }),
    });
    expect(() => build(internalEgress)).toThrow(/ports: Docker publishes no ports for a container that is only on internal networks/);
  });

  it("fails on an invalid route, through the Caddyfile renderer", () => {
    expect(() => build(() => ({ routes: [{ host: "https://api.updateio.app", upstreams: ["api:3000"] }] }))).toThrow(
      /routes\[0\]\.host .* must not include a scheme/,
    );
  });
});

describe("EdgeProxy networks", () => {
  it("joins one network per routed service plus egress, and a metrics network shared with Prometheus only", () => {
    const { json, server } = build(({ stack }) => ({
      routeNetworks: [
        new PlatformNetwork(stack, "edge-api", { environment: "prod", purpose: "edge-api" }),
        new PlatformNetwork(stack, "edge-admin", { environment: "prod", purpose: "edge-admin-panel" }),
      ],
      metricsNetwork: new PlatformNetwork(stack, "edge-metrics", { environment: "prod", purpose: "edge-metrics" }),
    }));
    const names = new Map(
      Object.entries(json.resource.docker_network as Json).map(([k, v]) => [`\${docker_network.${k}.name}`, (v as Json).name]),
    );
    expect(server.networks_advanced.map((n: Json) => names.get(n.name)).sort()).toEqual([
      "prod-edge-admin-panel",
      "prod-edge-api",
      "prod-edge-metrics",
      "prod-egress",
    ]);
  });

  it("refuses a route network with a route out, a repeated one, and metrics on a route network", () => {
    expect(() => build(({ egress }) => ({ routeNetworks: [egress] }))).toThrow(/routeNetworks: "egress" is not internal/);
    expect(() => build(({ edge }) => ({ routeNetworks: [edge, edge] }))).toThrow(/routeNetworks: lists a network twice/);
    expect(() => build(({ edge }) => ({ routeNetworks: [edge], metricsNetwork: edge }))).toThrow(/metricsNetwork: is also a route network/);
    expect(() => build(() => ({ routeNetworks: [] }))).toThrow(/routeNetworks: is empty/);
  });
});
