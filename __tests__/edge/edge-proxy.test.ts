import { Container } from "@cdktf/provider-docker/lib/container";
import { TerraformOutput, TerraformStack } from "cdktf";
import { describe, expect, it } from "vitest";
import { EdgeProxy, type EdgeProxyProps } from "../../constructs/edge/edge-proxy";
import { renderCaddyfile, type CaddyRoute } from "../../constructs/edge/renderers/caddyfile";
import { renderEdgeReloadScript } from "../../constructs/edge/renderers/edge-reload";
import { escapeTemplateText } from "../../constructs/kit/container-runtime";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import { suppressionsOf } from "../../constructs/policy/policy-aspect";
import { errorOf } from "../support/helpers";
import { synthConstruct } from "../support/construct-harness";
import { testOutdir, testStack, type Json } from "../support/test-stack";

const OUT = testOutdir("edge-proxy-test");

const IMAGE = `caddy:2.10.2-alpine@sha256:${"4c".repeat(32)}`;

const API: CaddyRoute = { host: "api.updateio.app", upstreams: ["api-1:3000", "api-2:3000"], healthPath: "/health" };
const ADMIN: CaddyRoute = { host: "admin.updateio.app", upstreams: ["admin-panel:3003"], adminOnly: true };

function build(
  overrides: (ctx: { stack: TerraformStack; edge: PlatformNetwork; egress: PlatformNetwork }) => Partial<EdgeProxyProps> = () => ({}),
  /** Runs after the EdgeProxy is built and before synth (late addRoute calls, other constructs). */
  after: (ctx: { stack: TerraformStack; proxy: EdgeProxy }) => void = () => {},
) {
  const stack = testStack(OUT, "prod");
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
    routes: [API, ADMIN],
    routeNetworks: [edge],
    egressNetwork: egress,
    ...overrides({ stack, edge, egress }),
  });
  after({ stack, proxy });
  // The edge has no kit seed (its Caddyfile is a live config), so `seed` is looked up here.
  const synth = synthConstruct(stack, "prod-edge", { optional: true });
  const seed = synth.named("prod-edge-caddyfile-seed");
  return {
    proxy,
    ...synth,
    server: synth.named("prod-edge"),
    /** The Caddyfile's live-config seed: the edge has no kit seed of its own. */
    seed,
    reload: synth.named("prod-edge-reload"),
    reloadSeed: synth.named("prod-edge-reload-seed"),
    /** The Caddyfile as synthesized (the seed's only upload). */
    uploaded: (seed.upload as Json[])[0]!.content as string,
  };
}

/** The Caddyfile the renderer makes of these routes with the build's edge settings. */
function expectedCaddyfile(routes: readonly CaddyRoute[]): string {
  return renderCaddyfile({
    tls: { mode: "acme", email: "ops@updateio.app" },
    httpPort: 80,
    httpsPort: 443,
    healthPort: 8099,
    adminAllowList: ["10.8.0.0/16"],
    hsts: true,
    adminSocket: "/run/caddy-admin/admin.sock",
    routes,
  });
}

describe("EdgeProxy", () => {
  const { proxy, text, json, server, seed, reload, reloadSeed, key, ref } = build();

  it("keeps the server, data volume and image under their construct paths (logical ids)", () => {
    // A changed path changes the logical id, and Terraform would destroy and recreate the resource.
    expect(Object.keys(json.resource.docker_container).sort()).toEqual([
      "edge_caddyfile_seed_E1B5E243",
      "edge_proxy_container_FD84CAF5",
      "edge_reload_container_B7F61F3A",
      "edge_reload_seed_DF12E03F",
    ]);
    expect(Object.keys(json.resource.docker_image)).toEqual(["edge_image_285FE466"]);
    expect(Object.keys(json.resource.docker_volume).sort()).toEqual([
      "edge_admin_volume_4C951C15",
      "edge_caddyfile_volume_6BE35569",
      "edge_data_volume_52C96B18",
      "edge_reload_config-volume-0_volume_5BF1446F",
    ]);
    expect(json.resource.docker_image.edge_image_285FE466.name).toBe(IMAGE);
    expect(server.image).toBe("${docker_image.edge_image_285FE466.image_id}");
    expect(seed.image).toBe(server.image);
    expect(reload.image).toBe(server.image);
    expect(server.hostname).toBe("edge");
    // The Caddyfile is in place before the first start; a new one replaces the seed and re-runs the
    // reload job, and nothing replaces the server.
    expect(server.depends_on).toEqual(["docker_container.edge_caddyfile_seed_E1B5E243"]);
    expect(server.lifecycle?.replace_triggered_by).toBeUndefined();
    expect(server).toMatchObject({ privileged: false, must_run: true, wait: true, wait_timeout: 180, stop_timeout: 30 });
    const labels = Object.fromEntries((server.labels as Json[]).map((l) => [l.label, l.value]));
    expect(labels).toMatchObject({
      "io.updateio.component": "edge",
      "io.updateio.environment": "prod",
      "io.updateio.project": "updateio",
      "io.updateio.service": "edge",
    });
  });

  it("uploads through a never-started seed with no network", () => {
    expect(seed).toMatchObject({ start: false, must_run: false, network_mode: "none", read_only: false, memory: 16 });
    expect(seed.volumes).toEqual([
      { volume_name: ref("docker_volume", "prod-edge-caddyfile"), container_path: "/etc/caddy", read_only: false },
    ]);
  });

  it("uploads exactly the renderer's Caddyfile of its routes", () => {
    expect(seed.upload).toEqual([{ file: "/etc/caddy/Caddyfile", content: expectedCaddyfile([API, ADMIN]), executable: false }]);
    expect(proxy.routes).toEqual([API, ADMIN]);
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
    expect(names).toEqual([ref("docker_network", "prod-egress"), ref("docker_network", "prod-edge")]);
    expect(server.networks_advanced.every((n: Json) => JSON.stringify(n.aliases) === '["edge"]')).toBe(true);
  });

  it("delivers the rendered Caddyfile through the seed, mounted read-only at /etc/caddy", () => {
    expect(seed.upload).toEqual([{ file: "/etc/caddy/Caddyfile", content: proxy.caddyfile, executable: false }]);
    expect(server.volumes).toContainEqual({
      volume_name: ref("docker_volume", "prod-edge-caddyfile"),
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
      volume_name: ref("docker_volume", "prod-edge-data"),
      container_path: "/data",
      read_only: false,
    });
    expect(json.resource.docker_volume[key("docker_volume", "prod-edge-data")].lifecycle).toBeUndefined();
    const p = build(() => ({ protectData: true }));
    expect(p.json.resource.docker_volume[p.key("docker_volume", "prod-edge-data")].lifecycle).toEqual({ prevent_destroy: true });
    expect(server.env).toEqual(["XDG_CONFIG_HOME=/config", "XDG_DATA_HOME=/data"]);
    expect(server.tmpfs["/config"]).toBe("rw,noexec,nosuid,size=16m");
  });

  it("serves its admin API on a unix socket in a volume that only the edge and its reload job mount", () => {
    expect(proxy.caddyfile).toMatch(/^\tadmin unix\/\/run\/caddy-admin\/admin\.sock$/m);
    expect(proxy.caddyfile).not.toMatch(/admin localhost|admin :|admin 0\.0\.0\.0/);
    const admin = ref("docker_volume", "prod-edge-admin");
    expect(server.volumes).toContainEqual({ volume_name: admin, container_path: "/run/caddy-admin", read_only: false });
    const mounters = Object.values(json.resource.docker_container as Record<string, Json>)
      .filter((c) => (c.volumes as Json[] | undefined)?.some((v) => v.volume_name === admin))
      .map((c) => c.name);
    expect(mounters.sort()).toEqual(["prod-edge", "prod-edge-reload"]);
    // The running edge writes the socket there, so the volume is protected like the data volume.
    const p = build(() => ({ protectData: true }));
    expect(p.json.resource.docker_volume[p.key("docker_volume", "prod-edge-admin")].lifecycle).toEqual({ prevent_destroy: true });
  });

  it("reloads a changed Caddyfile with a one-shot job that has no network, as root without capabilities", () => {
    expect(reload).toMatchObject({
      user: "0:0",
      network_mode: "none",
      read_only: true,
      restart: "no",
      must_run: false,
      capabilities: { drop: ["ALL"] },
      security_opts: ["no-new-privileges:true"],
      command: ["sh", "/etc/edge-reload/reload.sh"],
    });
    expect(reload.networks_advanced).toBeUndefined();
    expect(reload.ports).toEqual([]);
    expect(reload.volumes).toEqual([
      { volume_name: ref("docker_volume", "prod-edge-reload-config"), container_path: "/etc/edge-reload", read_only: true },
      { volume_name: ref("docker_volume", "prod-edge-caddyfile"), container_path: "/etc/caddy", read_only: true },
      { volume_name: ref("docker_volume", "prod-edge-admin"), container_path: "/run/caddy-admin", read_only: false },
    ]);
    // After the new file is uploaded and the edge is healthy; again whenever its own copy changes.
    expect(reload.depends_on).toEqual(
      expect.arrayContaining(["docker_container.edge_caddyfile_seed_E1B5E243", "docker_container.edge_proxy_container_FD84CAF5"]),
    );
    expect(reload.lifecycle.replace_triggered_by).toEqual(["docker_container.edge_reload_seed_DF12E03F"]);
    expect(reload.lifecycle.postcondition[0].condition).toBe("${self.exit_code == 0}");
    expect(reloadSeed.upload).toEqual([
      {
        file: "/etc/edge-reload/reload.sh",
        // The kit escapes Terraform's template sequences in uploads; the engine receives the script as rendered.
        content: escapeTemplateText(
          renderEdgeReloadScript({
            liveFile: "/etc/caddy/Caddyfile",
            expectedFile: "/etc/edge-reload/Caddyfile",
            adminSocket: "/run/caddy-admin/admin.sock",
            waitSeconds: 60,
          }),
        ),
        executable: false,
      },
      { file: "/etc/edge-reload/Caddyfile", content: proxy.caddyfile, executable: false },
    ]);
    expect(suppressionsOf(proxy.reloadJob).map((s) => s.ruleId)).toContain("non-root");
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

  it("reports bad props and bad prop routes in one error", () => {
    const message = errorOf(() =>
      build(() => ({
        routeNetworks: [],
        tls: { mode: "acme", email: "ops" },
        routes: [API, { ...API, upstreams: ["api-3:3000"] }],
      })),
    );
    expect(message).toMatch(/^EdgeProxy prod\/edge is invalid:$/m);
    expect(message).toMatch(/^  - routeNetworks: is empty/m);
    expect(message).toMatch(/^  - tls\.email "ops" is not an email address/m);
    expect(message).toMatch(
      /^  - routes\[1\] repeats host "api\.updateio\.app" with path \(none: catch-all\) already used by routes\[0\]/m,
    );
  });
});

describe("EdgeProxy.addRoute", () => {
  const { server, seed, reload, reloadSeed, uploaded: uploadedBefore } = build();
  const MINI: CaddyRoute = { host: "mini.updateio.app", upstreams: ["mini-app:3002"], frameAncestors: ["https://web.telegram.org"] };
  const WEBHOOK: CaddyRoute = { host: "api.updateio.app", path: "/telegram/webhook*", upstreams: ["telegram-bot:3001"] };

  it("adds a route after other constructs were built, and the synthesized Caddyfile has it", () => {
    let added: ReturnType<EdgeProxy["addRoute"]> | undefined;
    const { uploaded, proxy } = build(
      () => ({}),
      ({ stack, proxy }) => {
        new PlatformNetwork(stack, "late-network", { environment: "prod", purpose: "late" });
        added = proxy.addRoute(MINI);
      },
    );
    expect(added).toEqual({ route: MINI, index: 2, origin: "https://mini.updateio.app" });
    expect(uploaded).toContain("\nmini.updateio.app {\n");
    expect(uploaded).toContain('+Content-Security-Policy "frame-ancestors https://web.telegram.org"');
    expect(uploaded).toBe(expectedCaddyfile([API, ADMIN, MINI]));
    expect(proxy.caddyfile).toBe(uploaded);
  });

  it("a new route changes the Caddyfile's seed and the reload job's seed, and leaves the edge container as it was", () => {
    const more = build(
      () => ({}),
      ({ proxy }) => {
        proxy.addRoute(MINI);
      },
    );
    expect(more.uploaded).not.toBe(uploadedBefore);
    expect(more.seed.upload).not.toEqual(seed.upload);
    expect(more.reloadSeed.upload).not.toEqual(reloadSeed.upload);
    expect(more.server).toEqual(server);
    expect(more.reload).toEqual(reload);
  });

  it("renders the same bytes whatever the order and time routes are added", () => {
    const viaProps = build(() => ({ routes: [API, ADMIN, MINI, WEBHOOK] }));
    const late = build(
      () => ({ routes: [] }),
      ({ proxy }) => {
        proxy.addRoute(WEBHOOK);
        proxy.addRoute(MINI);
        proxy.addRoute(ADMIN);
        proxy.addRoute(API);
      },
    );
    expect(late.text).toBe(viaProps.text);
    // The path route is rendered before its host's catch-all, as Caddy evaluates them.
    expect(late.uploaded.indexOf("handle /telegram/webhook* {")).toBeLessThan(late.uploaded.indexOf("reverse_proxy api-1:3000"));
  });

  it("still renders a route added after an unrelated construct that comes later in the stack", () => {
    const { uploaded, json } = build(
      () => ({ routes: [] }),
      ({ stack, proxy }) => {
        new TerraformOutput(stack, "built-after-the-edge", { value: "x" });
        proxy.addRoute(API);
      },
    );
    expect(json.output["built-after-the-edge"]).toBeDefined();
    expect(uploaded).toBe(expectedCaddyfile([API]));
  });

  it("copies the route: changing the caller's object afterwards changes nothing", () => {
    const route = { host: "late.updateio.app", upstreams: ["late:3000"] };
    const { uploaded } = build(
      () => ({}),
      ({ proxy }) => {
        proxy.addRoute(route);
        route.upstreams.push("not a host");
        route.host = "CHANGED";
      },
    );
    expect(uploaded).toContain("\nlate.updateio.app {\n");
    expect(uploaded).toContain("reverse_proxy late:3000 {");
  });

  it("refuses a bad route in the call, naming the field and the fix, and keeps the others", () => {
    build(
      () => ({}),
      ({ proxy }) => {
        const host = errorOf(() => proxy.addRoute({ host: "API.updateio.app", upstreams: ["api:3000"] }));
        expect(host).toMatch(/^EdgeProxy prod\/edge: addRoute routes\[2\] is invalid:$/m);
        expect(host).toMatch(/^  - routes\[2\]\.host "API\.updateio\.app" must be lowercase/m);
        expect(errorOf(() => proxy.addRoute({ host: "x.updateio.app", upstreams: ["http://x:3000"] }))).toMatch(
          /routes\[2\]\.upstreams\[0\] "http:\/\/x:3000" is not "name:port" \(no scheme, port 1\.\.65535\), e\.g\. "api-1:3000"/,
        );
        expect(errorOf(() => proxy.addRoute({ host: "x.updateio.app", dnsUpstream: { name: "tasks.x", port: 0 } }))).toMatch(
          /routes\[2\]\.dnsUpstream\.port 0 is not a port: use an integer in 1\.\.65535/,
        );
        expect(errorOf(() => proxy.addRoute({ host: "x.updateio.app" }))).toMatch(/routes\[2\]\.upstreams is empty: list at least one/);
        expect(errorOf(() => proxy.addRoute({ ...API, upstreams: ["api-9:3000"] }))).toMatch(
          /routes\[2\] repeats host "api\.updateio\.app" with path \(none: catch-all\) already used by routes\[0\]: merge their upstreams/,
        );
        expect(proxy.routes).toEqual([API, ADMIN]);
      },
    );
  });

  it("gives the route's public origin, with the host port when it is not 443", () => {
    build(
      () => ({ bindAddress: "127.0.0.1", httpPort: 8080, httpsPort: 8443 }),
      ({ proxy }) => expect(proxy.addRoute(MINI).origin).toBe("https://mini.updateio.app:8443"),
    );
  });
});

describe("EdgeProxy as a scrape target", () => {
  it("offers job edge on its metrics port only when it has a metrics network", () => {
    const withMetrics = build(({ stack }) => ({
      metricsNetwork: new PlatformNetwork(stack, "edge-metrics", { environment: "prod", purpose: "edge-metrics" }),
    }));
    expect(withMetrics.proxy.scrapeTargets()).toEqual([{ job: "edge", targets: ["edge:9180"] }]);
    expect(withMetrics.uploaded).toContain("http://:9180 {");
    const without = build();
    expect(without.proxy.scrapeTargets()).toEqual([]);
    expect(without.uploaded).not.toContain("metrics");
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
