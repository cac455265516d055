import { Container } from "@cdktf/provider-docker/lib/container";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { LokiStack, type LokiStackProps } from "../../constructs/observability/loki-stack";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import { blockingFindings, evaluatePolicy, suppressionsOf } from "../../constructs/policy/policy-aspect";
import { renderAlloyConfig } from "../../constructs/observability/renderers/alloy";
import { socketProxyEnv } from "../../constructs/observability/renderers/docker-socket-proxy";
import { defaultLogPipeline } from "../../constructs/observability/renderers/log-pipeline";
import { EPHEMERAL_LABEL, HARDENED_CONTAINER, ROTATED_LOGS, SEED_CONTAINER } from "../support/synth-expectations";
import { synthConstruct } from "../support/construct-harness";
import { testOutdir, testStack, type Json } from "../support/test-stack";

const OUT = testOutdir("loki-stack-test");

const digest = (byte: string) => `@sha256:${byte.repeat(32)}`;
const IMAGES = {
  lokiImage: `grafana/loki:3.5.3${digest("31")}`,
  alloy: `grafana/alloy:v1.19.2${digest("b8")}`,
  promtail: `grafana/promtail:3.5.0${digest("50")}`,
  socketProxyImage: `tecnativa/docker-socket-proxy:v0.5.0${digest("1f")}`,
};

interface BuildOptions {
  readonly env?: "dev" | "prod";
  /** Make the monitoring network non-internal (invalid). */
  readonly monitoringInternal?: boolean;
}

function build(overrides: Partial<LokiStackProps> = {}, opts: BuildOptions = {}) {
  const env = opts.env ?? "dev";
  const stack = testStack(OUT, env, { random: false });
  const monitoring = new PlatformNetwork(stack, "monitoring", {
    environment: env,
    purpose: "monitoring",
    internal: opts.monitoringInternal ?? true,
  });
  const shipper = overrides.shipper ?? "alloy";
  const logs = new LokiStack(stack, "logs", {
    environment: env,
    lokiImage: IMAGES.lokiImage,
    shipperImage: shipper === "promtail" ? IMAGES.promtail : IMAGES.alloy,
    socketProxyImage: IMAGES.socketProxyImage,
    retentionDays: env === "prod" ? 30 : 3,
    network: monitoring,
    protectData: env === "prod",
    ...overrides,
  });
  const { text, json, containers, named: byName, key, ref, upload } = synthConstruct(stack, `${env}-loki`);
  return { stack, logs, monitoring, text, json, containers, byName, key, ref, upload, env };
}

/** The containers of every variant but the shipper's, sorted: Loki, its config seed and the socket proxy. */
const LOKI_AND_PROXY = ["dev-docker-socket-proxy", "dev-loki", "dev-loki-seed"];

const HARDENED = { ...HARDENED_CONTAINER, ...ROTATED_LOGS, privileged: false, restart: "unless-stopped" };

describe("LokiStack (default: Alloy)", () => {
  const { logs, text, json, containers, byName, key, ref, upload } = build();
  const loki = byName("dev-loki");
  const proxy = byName("dev-docker-socket-proxy");
  const alloy = byName("dev-alloy");

  it("keeps every network internal (nothing here talks to the internet) and pins the images it was given", () => {
    const networks = Object.values(json.resource.docker_network) as Json[];
    expect(networks.map((n) => n.name).sort()).toEqual([
      "dev-docker-api",
      "dev-logs-metrics",
      "dev-logs-push",
      "dev-logs-query",
      "dev-monitoring",
    ]);
    for (const n of networks) expect(n, n.name).toMatchObject({ driver: "bridge", internal: true });
    expect((Object.values(json.resource.docker_image) as Json[]).map((i) => [i.name, i.keep_locally]).sort()).toEqual(
      [IMAGES.alloy, IMAGES.lokiImage, IMAGES.socketProxyImage].sort().map((name) => [name, true]),
    );
    for (const c of [loki, proxy, alloy]) expect(c.stop_timeout, c.name).toBe(30);
  });

  it("seeds the configs from containers that never start, have no network and run as nobody", () => {
    for (const name of ["dev-loki-seed", "dev-alloy-seed"]) expect(byName(name), name).toMatchObject(SEED_CONTAINER);
    for (const name of ["dev-loki-config", "dev-alloy-config"])
      expect(json.resource.docker_volume[key("docker_volume", name)].labels, name).toContainEqual(EPHEMERAL_LABEL);
  });

  it("configures Loki single-binary on its filesystem with bounded ingestion and queries, and no usage reporting", () => {
    const cfg = parse(upload("dev-loki-seed", "/etc/loki/loki.yaml"));
    expect(cfg).toMatchObject({
      target: "all",
      auth_enabled: false,
      server: { http_listen_port: 3100, grpc_listen_port: 9095, log_format: "json" },
      common: {
        replication_factor: 1,
        ring: { kvstore: { store: "inmemory" } },
        storage: { filesystem: { chunks_directory: "/loki/chunks" } },
      },
      compactor: { working_directory: "/loki/compactor", retention_enabled: true, delete_request_store: "filesystem" },
      analytics: { reporting_enabled: false },
    });
    expect(cfg.schema_config.configs).toEqual([
      { from: "2024-01-01", store: "tsdb", object_store: "filesystem", schema: "v13", index: { prefix: "index_", period: "24h" } },
    ]);
    expect(cfg.limits_config).toMatchObject({
      ingestion_rate_mb: 4,
      ingestion_burst_size_mb: 8,
      max_line_size: 262144,
      max_line_size_truncate: true,
      reject_old_samples: true,
      reject_old_samples_max_age: "72h",
      max_query_lookback: "72h",
      query_timeout: "1m",
    });
  });

  it("runs three hardened containers (plus their never-started config seeds), none publishing a port", () => {
    expect(containers.map((c) => c.name).sort()).toEqual(["dev-alloy", "dev-alloy-seed", ...LOKI_AND_PROXY]);
    for (const c of [loki, proxy, alloy]) {
      expect(c, c.name).toMatchObject(HARDENED);
      expect(c.capabilities.add, c.name).toBeUndefined();
      expect(c.ports, c.name).toEqual([]);
      expect(c.memory_swap, c.name).toBe(c.memory);
      expect(c.wait, c.name).toBe(true);
      expect(c.healthcheck.test[0], c.name).toBe("CMD");
    }
    expect([loki.memory, alloy.memory, proxy.memory]).toEqual([512, 256, 64]);
    expect([loki.cpu_shares, alloy.cpu_shares, proxy.cpu_shares]).toEqual([512, 512, 512]);
  });

  it("runs Loki as its image's loki user with the rendered config, data on <env>-loki-data at /loki", () => {
    expect(text).toHaveResourceWithProperties(Container, {
      name: "dev-loki",
      user: "10001:10001",
      command: ["-config.file=/etc/loki/loki.yaml"],
      memory: 512,
      read_only: true,
    });
    expect(loki.volumes).toEqual([
      { volume_name: ref("docker_volume", "dev-loki-config"), container_path: "/etc/loki", read_only: true },
      { volume_name: ref("docker_volume", "dev-loki-data"), container_path: "/loki", read_only: false },
    ]);
    expect(loki.healthcheck).toEqual({
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:3100/ready"],
      interval: "15s",
      timeout: "5s",
      retries: 5,
      start_period: "1m0s",
    });
    expect(loki.tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,size=64m" });
  });

  it("attaches Loki only to its push, query and metrics networks, never to the monitoring network", () => {
    expect(loki.networks_advanced).toEqual([
      { name: ref("docker_network", "dev-logs-push"), aliases: ["loki"] },
      { name: ref("docker_network", "dev-logs-query"), aliases: ["loki"] },
      { name: ref("docker_network", "dev-logs-metrics"), aliases: ["loki"] },
    ]);
  });

  it("uploads a Loki config that carries the retention (3 days = 72h, compactor retention on)", () => {
    const content = upload("dev-loki-seed", "/etc/loki/loki.yaml");
    expect(content).toBe(logs.lokiConfig);
    const cfg = parse(content);
    expect(cfg.limits_config.retention_period).toBe("72h");
    expect(cfg.compactor.retention_enabled).toBe(true);
    expect(cfg.common.path_prefix).toBe("/loki");
    expect(cfg.server.http_listen_port).toBe(3100);
  });

  it("mounts the Docker socket read-only in the proxy only, which runs as root with no capability added back", () => {
    expect(proxy.user).toBe("0:0");
    expect(proxy.volumes).toEqual([{ host_path: "/var/run/docker.sock", container_path: "/var/run/docker.sock", read_only: true }]);
    for (const c of containers.filter((x) => x !== proxy)) {
      expect(JSON.stringify(c.volumes ?? []), c.name).not.toContain("docker.sock");
    }
    expect(proxy.labels).toEqual(
      expect.arrayContaining([
        { label: "io.updateio.role", value: "docker-socket-proxy" },
        { label: "io.updateio.component", value: "proxy" },
      ]),
    );
    // The entrypoint renders /tmp/haproxy.cfg; haproxy writes its pidfile to /run.
    expect(proxy.tmpfs).toEqual({ "/run": "rw,noexec,nosuid,size=1m", "/tmp": "rw,noexec,nosuid,size=1m" });
    expect(proxy.healthcheck.test).toEqual(["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:2375/_ping"]);
  });

  it("opens only the read-only sections the shipper needs (no /info, /version by default), IPv4 bind", () => {
    const env = Object.fromEntries((proxy.env as string[]).map((e) => e.split("=") as [string, string]));
    const open = Object.entries(env)
      .filter(([k, v]) => v === "1" && !["DISABLE_IPV6"].includes(k))
      .map(([k]) => k)
      .sort();
    expect(open).toEqual(["ALLOW_LOGS", "CONTAINERS", "NETWORKS", "PING"]);
    expect(env).toMatchObject({ POST: "0", INFO: "0", VERSION: "0", EXEC: "0", LOG_LEVEL: "notice", DISABLE_IPV6: "1" });
    // Every switch of the renderer except SECRETS (a secret-looking name to the kit and the policy;
    // the image's own default is 0), so nothing else is left to the image's defaults.
    const { SECRETS, ...rest } = socketProxyEnv();
    expect(SECRETS).toBe("0");
    expect(env).not.toHaveProperty("SECRETS");
    expect(env).toEqual({ ...rest, DISABLE_IPV6: "1" });
  });

  it("puts the proxy only on its own internal <env>-docker-api network, shared with the shipper", () => {
    const net = json.resource.docker_network;
    const apiKey = Object.keys(net).find((k) => net[k].name === "dev-docker-api")!;
    expect(net[apiKey]).toMatchObject({ name: "dev-docker-api", internal: true, driver: "bridge" });
    expect(proxy.networks_advanced).toEqual([{ name: ref("docker_network", "dev-docker-api"), aliases: ["docker-socket-proxy"] }]);
    expect(logs.dockerApiNetwork.internal).toBe(true);
    const onApi = containers
      .filter((c) => (c.networks_advanced ?? []).some((n: Json) => n.name === ref("docker_network", "dev-docker-api")))
      .map((c) => c.name);
    expect(onApi.sort()).toEqual(["dev-alloy", "dev-docker-socket-proxy"]);
  });

  it("runs Alloy as the image's alloy user (473) on monitoring + docker-api, positions on <env>-alloy-data", () => {
    expect(alloy.user).toBe("473:473");
    expect(alloy.command).toEqual([
      "run",
      "/etc/alloy/config.alloy",
      "--storage.path=/var/lib/alloy/data",
      "--server.http.listen-addr=0.0.0.0:12345",
      "--disable-reporting",
    ]);
    expect(alloy.networks_advanced).toEqual([
      { name: ref("docker_network", "dev-monitoring"), aliases: ["alloy"] },
      { name: ref("docker_network", "dev-logs-push"), aliases: ["alloy"] },
      { name: ref("docker_network", "dev-docker-api"), aliases: ["alloy"] },
    ]);
    expect(alloy.volumes).toEqual([
      { volume_name: ref("docker_volume", "dev-alloy-config"), container_path: "/etc/alloy", read_only: true },
      { volume_name: ref("docker_volume", "dev-alloy-data"), container_path: "/var/lib/alloy", read_only: false },
    ]);
    expect(alloy.depends_on).toEqual(
      expect.arrayContaining([
        `docker_container.${key("docker_container", "dev-loki")}`,
        `docker_container.${key("docker_container", "dev-docker-socket-proxy")}`,
      ]),
    );
  });

  it("checks Alloy's /-/ready with bash's /dev/tcp (the image has no curl or wget)", () => {
    expect(alloy.healthcheck.test.slice(0, 3)).toEqual(["CMD", "bash", "-c"]);
    expect(alloy.healthcheck.test[3]).toBe(
      "exec 3<>/dev/tcp/127.0.0.1/12345 && printf 'GET /-/ready HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && IFS= read -r status <&3 && [[ $status == *' 200 '* ]]",
    );
    expect(alloy.healthcheck).toMatchObject({ interval: "15s", timeout: "5s", retries: 3, start_period: "30s" });
  });

  it("uploads the Alloy config rendered from the default pipeline: proxy as Docker host, Loki's push URL", () => {
    const content = upload("dev-alloy-seed", "/etc/alloy/config.alloy");
    expect(content).toBe(logs.shipperConfig);
    expect(content).toBe(
      renderAlloyConfig(
        defaultLogPipeline({
          environment: "dev",
          lokiUrl: "http://loki:3100/loki/api/v1/push",
          dockerHost: "tcp://docker-socket-proxy:2375",
        }),
      ),
    );
    expect(content).toContain('host             = "tcp://docker-socket-proxy:2375"');
    expect(content).toContain('url = "http://loki:3100/loki/api/v1/push"');
    expect(content).not.toContain("docker.sock");
  });

  it("exposes typed attributes and scrape targets", () => {
    expect({ host: logs.lokiHost, port: logs.lokiPort, url: logs.lokiUrl, push: logs.pushUrl, docker: logs.dockerHost }).toEqual({
      host: "loki",
      port: 3100,
      url: "http://loki:3100",
      push: "http://loki:3100/loki/api/v1/push",
      docker: "tcp://docker-socket-proxy:2375",
    });
    expect([logs.shipperKind, logs.shipperHost, logs.shipperPort]).toEqual(["alloy", "alloy", 12345]);
    expect(logs.scrapeTargets()).toEqual([
      { job: "loki", targets: ["loki:3100"] },
      { job: "alloy", targets: ["alloy:12345"] },
    ]);
    expect(logs.volumes.lokiData.resource.friendlyUniqueId).toBe(key("docker_volume", "dev-loki-data"));
    expect(logs.volumes.shipperData.resource.friendlyUniqueId).toBe(key("docker_volume", "dev-alloy-data"));
    expect(logs.loki.containers).toHaveLength(1);
    expect(logs.shipper.spec.service).toBe("alloy");
    expect(logs.socketProxy.spec.role).toBe("docker-socket-proxy");
  });

  it("leaves the volumes unprotected in dev and protects both when asked", () => {
    expect(
      json.resource.docker_volume[
        Object.keys(json.resource.docker_volume).find((k) => json.resource.docker_volume[k].name === "dev-loki-data")!
      ].lifecycle,
    ).toBeUndefined();
    const p = build({ protectData: true });
    for (const name of ["dev-loki-data", "dev-alloy-data"])
      expect(p.json.resource.docker_volume[p.key("docker_volume", name)].lifecycle, name).toEqual({ prevent_destroy: true });
    for (const name of ["dev-loki-config", "dev-alloy-config"])
      expect(p.json.resource.docker_volume[p.key("docker_volume", name)].lifecycle, name).toBeUndefined();
  });
});

describe("LokiStack props", () => {
  it("allowEngineInfo opens /info and /version on the proxy (for cAdvisor), nothing else", () => {
    const { byName } = build({ allowEngineInfo: true });
    const env = Object.fromEntries((byName("dev-docker-socket-proxy").env as string[]).map((e) => e.split("=") as [string, string]));
    expect(env).toMatchObject({ INFO: "1", VERSION: "1", POST: "0", CONTAINERS: "1" });
  });

  it("passes memory, CPU weight and retention through", () => {
    const { byName, upload } = build({ lokiMemoryMb: 1024, shipperMemoryMb: 192, proxyMemoryMb: 48, cpuShares: 256, retentionDays: 30 });
    expect([byName("dev-loki").memory, byName("dev-alloy").memory, byName("dev-docker-socket-proxy").memory]).toEqual([1024, 192, 48]);
    expect(byName("dev-alloy").cpu_shares).toBe(256);
    expect(parse(upload("dev-loki-seed", "/etc/loki/loki.yaml")).limits_config.retention_period).toBe("720h");
  });
});

describe("LokiStack with Promtail", () => {
  const { logs, containers, byName, ref, upload } = build({ shipper: "promtail" });
  const promtail = byName("dev-promtail");

  it("runs Promtail instead of Alloy, hardened, on monitoring + docker-api", () => {
    expect(containers.map((c) => c.name).sort()).toEqual([...LOKI_AND_PROXY, "dev-promtail", "dev-promtail-seed"]);
    expect(promtail).toMatchObject({ ...HARDENED, user: "0:0", memory: 256, command: ["-config.file=/etc/promtail/config.yml"] });
    expect(promtail.networks_advanced).toEqual([
      { name: ref("docker_network", "dev-monitoring"), aliases: ["promtail"] },
      { name: ref("docker_network", "dev-logs-push"), aliases: ["promtail"] },
      { name: ref("docker_network", "dev-docker-api"), aliases: ["promtail"] },
    ]);
    expect(suppressionsOf(logs.shipper).map((s) => [s.constructPath, s.ruleId])).toEqual([["dev/logs/shipper", "non-root"]]);
  });

  it("keeps positions on the <env>-promtail-data volume, not tmpfs", () => {
    expect(promtail.volumes).toEqual([
      { volume_name: ref("docker_volume", "dev-promtail-config"), container_path: "/etc/promtail", read_only: true },
      { volume_name: ref("docker_volume", "dev-promtail-data"), container_path: "/var/lib/promtail", read_only: false },
    ]);
    const cfg = parse(upload("dev-promtail-seed", "/etc/promtail/config.yml"));
    expect(cfg.positions.filename).toBe("/var/lib/promtail/positions.yaml");
    expect(cfg.clients).toEqual([{ url: "http://loki:3100/loki/api/v1/push" }]);
    expect(cfg.scrape_configs[0].docker_sd_configs[0].host).toBe("tcp://docker-socket-proxy:2375");
    expect(cfg.server.http_listen_port).toBe(9080);
    expect(upload("dev-promtail-seed", "/etc/promtail/config.yml")).toBe(logs.shipperConfig);
  });

  it("checks /ready on 9080 through bash and scrapes promtail:9080", () => {
    expect(promtail.healthcheck.test.slice(0, 3)).toEqual(["CMD", "bash", "-c"]);
    expect(promtail.healthcheck.test[3]).toContain("/dev/tcp/127.0.0.1/9080");
    expect(promtail.healthcheck.test[3]).toContain("GET /ready HTTP/1.0");
    expect(logs.scrapeTargets()).toEqual([
      { job: "loki", targets: ["loki:3100"] },
      { job: "promtail", targets: ["promtail:9080"] },
    ]);
  });
});

describe("LokiStack policy (prod)", () => {
  for (const shipper of ["alloy", "promtail"] as const) {
    it(`has zero blocking findings with ${shipper}, and only the written non-root suppressions`, () => {
      const { stack, logs } = build({ shipper }, { env: "prod" });
      const findings = evaluatePolicy(stack, { environment: "prod" });
      expect(blockingFindings(findings).map((f) => f.message)).toEqual([]);
      const suppressed = findings.filter((f) => f.suppressed);
      const expected =
        shipper === "promtail" ? ["prod/logs/shipper/container", "prod/logs/socket-proxy/container"] : ["prod/logs/socket-proxy/container"];
      expect(suppressed.map((f) => f.constructPath).sort()).toEqual(expected);
      for (const f of suppressed) {
        expect(f.ruleId).toBe("non-root");
        expect(f.suppressed!.reason.length).toBeGreaterThanOrEqual(10);
      }
      expect(suppressionsOf(logs.socketProxy)).toEqual([
        // Limited to the proxy's image: the exemption rests on what the container is.
        {
          ruleId: "non-root",
          constructPath: "prod/logs/socket-proxy",
          reason: expect.stringContaining("root-owned Docker socket"),
          image: "tecnativa/docker-socket-proxy",
        },
      ]);
      // The socket bind passes no-docker-socket on its own merits (proxy role, read-only, the
      // socket itself): no suppression hides that rule, so a read-write or directory bind would fail.
      expect(findings.filter((f) => f.ruleId === "no-docker-socket")).toEqual([]);
      expect(suppressionsOf(stack).some((s) => s.ruleId === "no-docker-socket")).toBe(false);
      // Loki needs none, nor does its never-started config seed (read-only-rootfs exempts seeds).
      expect(suppressionsOf(logs.loki).map((s) => [s.constructPath, s.ruleId])).toEqual([]);
    });
  }

  it("needs protectData in prod: unprotected data volumes are blocking there", () => {
    const { stack } = build({ protectData: false }, { env: "prod" });
    const blocking = blockingFindings(evaluatePolicy(stack, { environment: "prod" }));
    expect(blocking.map((f) => f.ruleId)).toEqual(["prod-volume-protected", "prod-volume-protected"]);
    expect(blocking.map((f) => f.message).join("\n")).toMatch(
      /"prod-loki-data"[\s\S]*"prod-alloy-data"|"prod-alloy-data"[\s\S]*"prod-loki-data"/,
    );
  });
});

describe("LokiStack validation", () => {
  it("reports every problem at once, each naming the prop and the fix", () => {
    let message = "";
    try {
      build(
        {
          lokiImage: " ",
          socketProxyImage: "",
          retentionDays: 0.5,
          lokiMemoryMb: 128,
          shipperMemoryMb: 64,
          proxyMemoryMb: 8,
          cpuShares: 1,
        },
        { monitoringInternal: false },
      );
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^LokiStack dev\/logs is invalid:/);
    for (const expected of [
      /lokiImage: is empty; pass the pinned image reference \(PINNED_IMAGES\.loki\)/,
      /socketProxyImage: is empty; pass the pinned image reference \(PINNED_IMAGES\.dockerSocketProxy\)/,
      /retentionDays: 0\.5 must be a whole number of days from 1 to 3650/,
      /lokiMemoryMb: 128 must be a whole number of MiB ≥ 256/,
      /shipperMemoryMb: 64 must be a whole number of MiB ≥ 128/,
      /proxyMemoryMb: 8 must be a whole number of MiB ≥ 32/,
      /cpuShares: 1 must be a whole number ≥ 2/,
      /network: the "monitoring" network is not internal; pass the environment's internal monitoring network/,
    ]) {
      expect(message).toMatch(expected);
    }
  });

  it("rejects an unknown shipper and a shipper image of the other kind", () => {
    expect(() => build({ shipper: "fluentd" as never, shipperImage: IMAGES.alloy })).toThrow(
      /shipper: "fluentd" must be "alloy" \(the default\) or "promtail"/,
    );
    expect(() => build({ shipperImage: IMAGES.promtail })).toThrow(
      /shipperImage: "grafana\/promtail:3\.5\.0@sha256:[0-9a-f]+" is a promtail image but shipper is "alloy"; pass the alloy image or set shipper to "promtail"/,
    );
    expect(() => build({ shipper: "promtail", shipperImage: IMAGES.alloy })).toThrow(/is an alloy image but shipper is "promtail"/);
    expect(() => build({ shipperImage: "" })).toThrow(/shipperImage: is empty; pass the pinned image reference \(PINNED_IMAGES\.alloy\)/);
  });

  it("rejects retention outside 1..3650 days", () => {
    expect(() => build({ retentionDays: 3651 })).toThrow(/retentionDays: 3651 must be a whole number of days from 1 to 3650/);
    expect(() => build({ retentionDays: 0 })).toThrow(/retentionDays: 0/);
  });
});
