import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Container } from "@cdktf/provider-docker/lib/container";
import { TerraformStack } from "cdktf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import { blockingFindings, evaluatePolicy } from "../../constructs/policy/policy-aspect";
import {
  PROMETHEUS_CONFIG_DIR,
  PROMETHEUS_DATA_DIR,
  PROMETHEUS_RULES_DIR,
  PrometheusServer,
  type PrometheusServerProps,
} from "../../constructs/observability/prometheus-server";
import { alertRules, renderPrometheusRules } from "../../constructs/observability/renderers/alert-rules";
import { renderPrometheusConfig, type ScrapeTarget } from "../../constructs/observability/renderers/prometheus";
import { describeIfBinary } from "../support/binaries";
import { errorOf } from "../support/helpers";
import { explain, promtool } from "../support/promtool";
import { EPHEMERAL_LABEL, HARDENED_CONTAINER, ROTATED_LOGS, SEED_CONTAINER } from "../support/synth-expectations";
import { synthConstruct } from "../support/construct-harness";
import { testOutdir, testStack, type Json } from "../support/test-stack";

const OUT = testOutdir("prometheus-server-test");

const IMAGE = `prom/prometheus:v3.5.0@sha256:${"5e".repeat(32)}`;

const TARGETS: ScrapeTarget[] = [
  { job: "postgres", targets: ["postgres-exporter:9187"], labels: { instance_role: "primary" } },
  { job: "redis", targets: ["redis-exporter:9121"] },
  { job: "rabbitmq", targets: ["rabbitmq:15692"] },
  { job: "cadvisor", targets: ["cadvisor:8080"] },
  { job: "edge", targets: ["edge:9180"] },
  { job: "grafana", targets: ["grafana:3000"] },
];

function build(
  env: "dev" | "prod",
  overrides: (ctx: {
    stack: TerraformStack;
    monitoring: PlatformNetwork;
    rabbitmq: PlatformNetwork;
  }) => Partial<PrometheusServerProps> = () => ({}),
) {
  const stack = testStack(OUT, env);
  const monitoring = new PlatformNetwork(stack, "monitoring-network", { environment: env, purpose: "monitoring" });
  const rabbitmq = new PlatformNetwork(stack, "rabbitmq-network", { environment: env, purpose: "rabbitmq" });
  const prometheus = new PrometheusServer(stack, "prometheus", {
    environment: env,
    image: IMAGE,
    scrapeTargets: TARGETS,
    networks: [{ network: monitoring }, { network: rabbitmq }],
    protectData: env === "prod",
    ...overrides({ stack, monitoring, rabbitmq }),
  });
  return { stack, prometheus, ...synthConstruct(stack, `${env}-prometheus`) };
}

/** The value of a `--flag=value` argument. */
function flag(command: readonly string[], name: string): string | undefined {
  const arg = command.find((a) => a.startsWith(`--${name}=`));
  return arg?.slice(name.length + 3);
}

describe("PrometheusServer", () => {
  const { stack, prometheus, text, json, key, ref, server, seed } = build("prod");

  it("uploads a prometheus.yml that scrapes every job's targets every 15s and loads the uploaded rule files", () => {
    const config = parse(prometheus.configText);
    expect(config.global).toEqual({
      scrape_interval: "15s",
      scrape_timeout: "10s",
      evaluation_interval: "15s",
      external_labels: { environment: "prod" },
    });
    expect(config.rule_files).toEqual([`${PROMETHEUS_RULES_DIR}/*.yml`]);
    const jobs = Object.fromEntries((config.scrape_configs as Json[]).map((s) => [s.job_name, s]));
    expect(Object.keys(jobs)).toEqual(["cadvisor", "edge", "grafana", "postgres", "prometheus", "rabbitmq", "redis"]);
    for (const t of [...TARGETS, { job: "prometheus", targets: ["prometheus:9090"] } as ScrapeTarget]) {
      expect(jobs[t.job].static_configs, t.job).toEqual([{ targets: t.targets, ...(t.labels ? { labels: t.labels } : {}) }]);
      // No per-job interval or timeout: every job inherits the global 15s/10s.
      expect(Object.keys(jobs[t.job]).sort(), t.job).toEqual(["job_name", "metrics_path", "static_configs"]);
      expect(jobs[t.job].metrics_path, t.job).toBe(t.job === "rabbitmq" ? "/metrics/per-object" : "/metrics");
    }
  });

  it("seeds the config volumes (ephemeral) from a container that never starts; the data volume is kept", () => {
    expect(seed).toMatchObject({ ...SEED_CONTAINER, name: "prod-prometheus-seed", memory: 16 });
    expect((seed.volumes as Json[]).map((v) => [v.container_path, v.read_only])).toEqual([
      [PROMETHEUS_CONFIG_DIR, false],
      [PROMETHEUS_RULES_DIR, false],
    ]);
    const seedKey = `docker_container.${key("docker_container", "prod-prometheus-seed")}`;
    expect(server.depends_on).toEqual([seedKey]);
    expect(server.lifecycle.replace_triggered_by).toEqual([seedKey]);
    for (const name of ["prod-prometheus-config", "prod-prometheus-config1"])
      expect(json.resource.docker_volume[key("docker_volume", name)].labels, name).toContainEqual(EPHEMERAL_LABEL);
    expect(json.resource.docker_volume[key("docker_volume", "prod-prometheus-data")].labels).not.toContainEqual(EPHEMERAL_LABEL);
  });

  it("runs hardened: read-only rootfs as nobody, every capability dropped, limits, log rotation, nothing published", () => {
    expect(text).toHaveResourceWithProperties(Container, {
      ...HARDENED_CONTAINER,
      ...ROTATED_LOGS,
      name: "prod-prometheus",
      user: "65534:65534",
      privileged: false,
      memory: 1024,
      memory_swap: 1024,
      cpu_shares: 512,
      restart: "unless-stopped",
    });
    expect(server.ports ?? []).toEqual([]);
    expect(server.entrypoint).toBeUndefined(); // the image's /bin/prometheus
    expect(server.env ?? []).toEqual([]);
    expect(server.tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,size=64m" });
  });

  it("uploads exactly the renderers' output: prometheus.yml (with the self-scrape) and the rule file", () => {
    const expectedConfig = renderPrometheusConfig({
      environment: "prod",
      scrapeTargets: [...TARGETS, { job: "prometheus", targets: ["prometheus:9090"] }],
      ruleFiles: [`${PROMETHEUS_RULES_DIR}/*.yml`],
    });
    const expectedRules = renderPrometheusRules(alertRules({ environment: "prod" }));
    expect(seed.upload).toEqual([
      { file: `${PROMETHEUS_CONFIG_DIR}/prometheus.yml`, content: expectedConfig, executable: false },
      { file: `${PROMETHEUS_RULES_DIR}/updateio.yml`, content: expectedRules, executable: false },
    ]);
    expect(prometheus.configText).toBe(expectedConfig);
    expect(prometheus.rulesText).toBe(expectedRules);
    expect(prometheus.rules).toEqual(alertRules({ environment: "prod" }));
    // Terraform would treat "${" and "%{" in the content as a template: the files carry neither.
    for (const u of seed.upload as Json[]) expect(u.content).not.toMatch(/[$%]\{/);
  });

  it("mounts each config dir read-only in a directory of its own, outside the image's /etc/prometheus", () => {
    const mounts = (server.volumes as Json[]).map((v) => [v.container_path, v.read_only]);
    expect(mounts).toEqual([
      [PROMETHEUS_CONFIG_DIR, true],
      [PROMETHEUS_RULES_DIR, true],
      [PROMETHEUS_DATA_DIR, false],
    ]);
    expect(PROMETHEUS_RULES_DIR.startsWith(`${PROMETHEUS_CONFIG_DIR}/`)).toBe(false);
    expect(mounts.map(([p]) => p)).not.toContain("/etc/prometheus");
    expect(server.volumes).toContainEqual({
      volume_name: ref("docker_volume", "prod-prometheus-data"),
      container_path: "/prometheus",
      read_only: false,
    });
  });

  it("points the command flags at the uploaded files and the data volume", () => {
    const command = server.command as string[];
    expect(command).toEqual([...prometheus.args]);
    const uploaded = (seed.upload as Json[]).map((u) => u.file as string);
    expect(uploaded).toContain(flag(command, "config.file"));
    expect(flag(command, "config.file")).toBe(prometheus.configPath);
    expect(flag(command, "storage.tsdb.path")).toBe(PROMETHEUS_DATA_DIR);
    expect(flag(command, "web.listen-address")).toBe("0.0.0.0:9090");
    // rule_files in the uploaded config match the uploaded rule file (and nothing else)
    const config = parse(prometheus.configText);
    expect(config.rule_files).toEqual([`${PROMETHEUS_RULES_DIR}/*.yml`]);
    const glob = new RegExp(`^${(config.rule_files[0] as string).replace(/[.]/g, "\\.").replace("*", "[^/]*")}$`);
    expect(uploaded.filter((f) => glob.test(f))).toEqual([prometheus.rulesPath]);
    // no lifecycle or admin API on the network
    expect(command.some((a) => /enable-lifecycle|enable-admin-api/.test(a))).toBe(false);
  });

  it("takes retention from props: 15 days by default, size cap when given", () => {
    expect(flag(server.command, "storage.tsdb.retention.time")).toBe("15d");
    expect(flag(server.command, "storage.tsdb.retention.size")).toBeUndefined();
    const b = build("dev", () => ({ retentionDays: 7, retentionSize: "5GB" }));
    expect(flag(b.server.command, "storage.tsdb.retention.time")).toBe("7d");
    expect(flag(b.server.command, "storage.tsdb.retention.size")).toBe("5GB");
  });

  it("adds its own scrape target once, and not when the caller lists it already", () => {
    const config = parse(prometheus.configText);
    const self = config.scrape_configs.find((s: Json) => s.job_name === "prometheus");
    expect(self.static_configs).toEqual([{ targets: ["prometheus:9090"] }]);
    const b = build("dev", () => ({ scrapeTargets: [{ job: "prometheus", targets: ["prometheus:9090"] }, ...TARGETS] }));
    expect(b.prometheus.scrapeTargets.filter((t) => t.job === "prometheus")).toHaveLength(1);
  });

  it("evaluates the alert catalogue for its own environment, with thresholds from props", () => {
    expect(prometheus.rulesText).toContain('container_label_io_updateio_environment="prod"');
    const b = build("dev", () => ({ alerts: { expectedServices: ["api"], redisMemoryRatio: 0.8 } }));
    expect(b.prometheus.rules.map((r) => r.name)).toContain("ContainerMissing");
    expect(b.prometheus.rulesText).toContain("> 0.8");
    expect(b.prometheus.rulesText).toContain('container_label_io_updateio_environment="dev"');
  });

  it("joins the given networks (monitoring and RabbitMQ's) as 'prometheus'", () => {
    expect(server.networks_advanced).toEqual([
      { name: ref("docker_network", "prod-monitoring"), aliases: ["prometheus"] },
      { name: ref("docker_network", "prod-rabbitmq"), aliases: ["prometheus"] },
    ]);
    expect(prometheus.host).toBe("prometheus");
    expect(prometheus.port).toBe(9090);
    expect(prometheus.url).toBe("http://prometheus:9090");
  });

  it("checks health with busybox wget on /-/healthy and waits for it on apply", () => {
    expect(server.healthcheck).toEqual({
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9090/-/healthy"],
      interval: "30s",
      timeout: "5s",
      retries: 3,
      start_period: "30s",
    });
    expect(server.wait).toBe(true);
  });

  it("protects the data volume when asked (prod), not otherwise", () => {
    expect(json.resource.docker_volume[key("docker_volume", "prod-prometheus-data")].lifecycle).toEqual({ prevent_destroy: true });
    const b = build("dev");
    expect(b.json.resource.docker_volume[b.key("docker_volume", "dev-prometheus-data")].lifecycle).toBeUndefined();
  });

  it("passes the policy pack for prod with zero blocking findings", () => {
    const findings = blockingFindings(evaluatePolicy(stack, { environment: "prod" })).filter((f) => f.constructPath.includes("prometheus"));
    expect(findings.map((f) => f.message)).toEqual([]);
  });

  it("rejects invalid props, naming each prop and the fix, all at once", () => {
    const message = errorOf(() =>
      build("dev", () => ({
        retentionDays: 0,
        retentionSize: "10G",
        scrapeTargets: [{ job: "redis", targets: ["http://redis-exporter:9121"] }],
        alerts: { redisMemoryRatio: 2 },
        memoryMb: 100,
        image: " ",
      })),
    );
    expect(message).toMatch(/^PrometheusServer dev\/prometheus is invalid:$/m);
    expect(message).toMatch(/^  - retentionDays: 0 must be a whole number of days in 1\.\.3650, e\.g\. 15\.$/m);
    expect(message).toMatch(/^  - retentionSize: "10G" is not a Prometheus size: write e\.g\. "512MB" or "10GB"\.$/m);
    expect(message).toMatch(/^  - scrapeTargets\[0\]\.targets\[0\]: "http:\/\/redis-exporter:9121" must not include a scheme/m);
    expect(message).toMatch(/^  - alerts\.redisMemoryRatio: 2 must be a ratio strictly between 0 and 1, e\.g\. 0\.9\.$/m);
    expect(message).toMatch(/^  - memoryMb: 100 must be a whole number of MiB ≥ 256 \(fix: /m);
    expect(message).toMatch(/^  - image: is empty \(fix: pass the pinned Prometheus image/m);
    expect(errorOf(() => build("dev", () => ({ networks: [] })))).toMatch(/^  - networks: is empty \(fix: attach the monitoring network/m);
  });
});

// The config and rules exactly as the construct uploads them, on Debian's promtool (Prometheus 2.42).
describeIfBinary("promtool", "PrometheusServer's uploaded files on promtool", () => {
  const { prometheus, seed, server } = build("prod");
  let root = "";
  let configFile = "";

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), "prometheus-server-promtool-"));
    // Mirror the container paths under root; only the rule_files path prefix is rewritten.
    for (const u of seed.upload as Json[]) {
      const path = join(root, u.file);
      mkdirSync(dirname(path), { recursive: true });
      const content =
        u.file === flag(server.command, "config.file")
          ? (u.content as string).split(`${PROMETHEUS_RULES_DIR}/`).join(`${root}${PROMETHEUS_RULES_DIR}/`)
          : (u.content as string);
      writeFileSync(path, content);
    }
    configFile = join(root, flag(server.command, "config.file")!);
  });
  afterAll(() => {
    if (root !== "") rmSync(root, { recursive: true, force: true });
  });

  it("promtool check config accepts the uploaded prometheus.yml and finds every rule of the uploaded rule file", () => {
    const r = promtool(["check", "config", configFile]);
    expect(r.status, explain(r)).toBe(0);
    expect(r.stdout).toContain(`SUCCESS: ${prometheus.rules.length} rules found`);
    expect(r.stdout).toContain(`${root}${prometheus.rulesPath}`);
  });

  it("checked the uploaded bytes: the rule file unchanged, the config changed only in the path prefix", () => {
    expect(readFileSync(join(root, prometheus.rulesPath), "utf8")).toBe(prometheus.rulesText);
    const written = readFileSync(configFile, "utf8");
    expect(written).not.toBe(prometheus.configText);
    expect(written.split(root).join("")).toBe(prometheus.configText);
  });
});
