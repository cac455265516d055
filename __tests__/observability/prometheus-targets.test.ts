import { TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { EdgeProxy } from "../../constructs/edge/edge-proxy";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import type { LokiStack } from "../../constructs/observability/loki-stack";
import type { MetricsExporters } from "../../constructs/observability/metrics-exporters";
import { PROMETHEUS_CONFIG_DIR, PROMETHEUS_RULES_DIR, PrometheusServer } from "../../constructs/observability/prometheus-server";
import {
  checkPrometheusConfig,
  renderPrometheusConfig,
  type IScrapeTarget,
  type PrometheusConfigInput,
  type ScrapeTarget,
} from "../../constructs/observability/renderers/prometheus";
import { errorOf } from "../support/helpers";
import { API_SCRAPE_CONFIG } from "../support/synth-expectations";
import { synthJson, testOutdir, testStack, type Json } from "../support/test-stack";
import { synthText } from "../support/synth-text";

const OUT = testOutdir("prometheus-targets-test");

const IMAGE = `prom/prometheus:v3.5.0@sha256:${"5e".repeat(32)}`;
const SELF: ScrapeTarget = { job: "prometheus", targets: ["prometheus:9090"] };

// The constructs that already describe their own targets are IScrapeTargets as they are.
const lokiIsATarget = (l: LokiStack): IScrapeTarget => l;
const exportersAreATarget = (m: MetricsExporters): IScrapeTarget => m;
void lokiIsATarget;
void exportersAreATarget;

/** A construct that describes its own targets and may gain instances after it was registered. */
class FakeExporter extends Construct implements IScrapeTarget {
  readonly hosts: string[];
  constructor(scope: Construct, id: string, hosts: string[]) {
    super(scope, id);
    this.hosts = [...hosts];
  }
  scrapeTargets(): ScrapeTarget[] {
    return this.hosts.length > 0 ? [{ job: "redis", targets: this.hosts.map((h) => `${h}:9121`) }] : [];
  }
}

function stackWithPrometheus(scrapeTargets?: readonly (IScrapeTarget | ScrapeTarget)[]) {
  const stack = testStack(OUT, "dev");
  const monitoring = new PlatformNetwork(stack, "monitoring-network", { environment: "dev", purpose: "monitoring" });
  const prometheus = new PrometheusServer(stack, "prometheus", {
    environment: "dev",
    image: IMAGE,
    networks: [{ network: monitoring }],
    ...(scrapeTargets ? { scrapeTargets } : {}),
  });
  return { stack, prometheus };
}

/** prometheus.yml as the synthesized seed uploads it. */
function uploadedConfig(stack: TerraformStack): string {
  const seed = synthJson(stack).named("dev-prometheus-seed");
  return (seed.upload as Json[]).find((u) => u.file === `${PROMETHEUS_CONFIG_DIR}/prometheus.yml`)!.content;
}

function expected(entries: readonly ScrapeTarget[]): string {
  return renderPrometheusConfig({ environment: "dev", scrapeTargets: entries, ruleFiles: [`${PROMETHEUS_RULES_DIR}/*.yml`] });
}

function jobs(config: string): Record<string, unknown[]> {
  const doc = parse(config) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
  return Object.fromEntries(doc.scrape_configs.map((c) => [c.job_name, c.static_configs.flatMap((s) => s.targets)]));
}

describe("PrometheusServer scrape targets", () => {
  it("scrapes itself when nothing else is registered", () => {
    const { stack, prometheus } = stackWithPrometheus();
    expect(prometheus.scrapeTargets).toEqual([SELF]);
    expect(uploadedConfig(stack)).toBe(expected([SELF]));
  });

  it("collects a target registered after Prometheus was built (the edge, built later)", () => {
    const { stack, prometheus } = stackWithPrometheus([{ job: "rabbitmq", targets: ["rabbitmq:15692"] }]);
    const egress = new PlatformNetwork(stack, "egress-network", { environment: "dev", purpose: "egress", internal: false });
    const route = new PlatformNetwork(stack, "edge-api-network", { environment: "dev", purpose: "edge-api" });
    const metrics = new PlatformNetwork(stack, "edge-metrics-network", { environment: "dev", purpose: "edge-metrics" });
    const edge = new EdgeProxy(stack, "edge", {
      environment: "dev",
      image: `caddy:2.10.2-alpine@sha256:${"4c".repeat(32)}`,
      memoryMb: 128,
      bindAddress: "127.0.0.1",
      httpPort: 8080,
      httpsPort: 8443,
      tls: { mode: "internal" },
      adminAllowList: [],
      hsts: false,
      routeNetworks: [route],
      egressNetwork: egress,
      metricsNetwork: metrics,
    });
    expect(prometheus.addScrapeTarget(edge)).toEqual([{ job: "edge", targets: ["edge:9180"] }]);
    const config = uploadedConfig(stack);
    expect(jobs(config)).toEqual({ edge: ["edge:9180"], prometheus: ["prometheus:9090"], rabbitmq: ["rabbitmq:15692"] });
    expect(config).toBe(prometheus.configText);
  });

  it("asks each registered construct again at synth: instances it gains after registration are scraped", () => {
    const { stack, prometheus } = stackWithPrometheus();
    const exporter = new FakeExporter(stack, "redis-exporters", ["redis-exporter"]);
    prometheus.addScrapeTarget(exporter);
    exporter.hosts.push("redis-exporter-replica-1");
    expect(jobs(uploadedConfig(stack)).redis).toEqual(["redis-exporter-replica-1:9121", "redis-exporter:9121"]);
  });

  it("renders the same bytes whatever the order and time of registration", () => {
    const entries: ScrapeTarget[] = [
      { job: "postgres", targets: ["postgres-exporter:9187"], labels: { instance_role: "primary" } },
      { job: "postgres", targets: ["postgres-exporter-replica-1:9187"], labels: { instance_role: "replica" } },
      { job: "grafana", targets: ["grafana:3000"] },
      { job: "cadvisor", targets: ["cadvisor:8080"] },
    ];
    const viaProps = stackWithPrometheus(entries);
    const late = stackWithPrometheus();
    for (const e of [...entries].reverse()) late.prometheus.addScrapeTarget(e);
    const config = uploadedConfig(late.stack);
    expect(config).toBe(uploadedConfig(viaProps.stack));
    expect(config).toBe(expected([...entries, SELF]));
  });

  it("does not add its own target twice when it is registered explicitly", () => {
    const { stack, prometheus } = stackWithPrometheus();
    prometheus.addScrapeTarget(SELF);
    expect(prometheus.scrapeTargets).toEqual([SELF]);
    expect(uploadedConfig(stack)).toBe(expected([SELF]));
  });

  it("refuses a bad entry in the call, naming the field and the fix, and registers nothing", () => {
    const { stack, prometheus } = stackWithPrometheus([{ job: "redis", targets: ["redis-exporter:9121"] }]);
    const scheme = errorOf(() => prometheus.addScrapeTarget({ job: "node", targets: ["http://node-exporter:9100"] }));
    expect(scheme).toMatch(/^PrometheusServer dev\/prometheus: addScrapeTarget job "node" \(.*\) is invalid:$/m);
    expect(scheme).toMatch(
      /^  - scrapeTargets\[1\]\.targets\[0\]: "http:\/\/node-exporter:9100" must not include a scheme: write "host:port"/m,
    );
    expect(errorOf(() => prometheus.addScrapeTarget({ job: "mysql" as never, targets: ["db:9104"] }))).toMatch(
      /scrapeTargets\[1\]\.job: "mysql" is not a catalogue job: use one of prometheus, postgres/,
    );
    expect(errorOf(() => prometheus.addScrapeTarget({ job: "redis", targets: ["redis-exporter:9121"] }))).toMatch(
      /scrapeTargets\[1\]\.targets\[0\]: "redis-exporter:9121" is already listed for job redis at scrapeTargets\[0\]\.targets\[0\]: list each instance once/,
    );
    const exporter = new FakeExporter(stack, "bad-exporter", ["bad host"]);
    expect(errorOf(() => prometheus.addScrapeTarget(exporter))).toMatch(/addScrapeTarget dev\/bad-exporter .* is invalid:/);
    expect(prometheus.scrapeTargets).toEqual([{ job: "redis", targets: ["redis-exporter:9121"] }, SELF]);
  });

  it("checks a target with the renderer's own rules, without rendering: the same refusals, word for word", () => {
    const base: PrometheusConfigInput = { environment: "dev", scrapeTargets: [SELF] };
    const inputs: PrometheusConfigInput[] = [
      base,
      { ...base, scrapeTargets: [SELF, { job: "redis", targets: ["redis-exporter:9121"] }] },
      { ...base, environment: "Prod" },
      { ...base, scrapeInterval: "1.5s" },
      { ...base, ruleFiles: ["rules/*.yml"] },
      { ...base, scrapeTargets: [] },
      { ...base, scrapeTargets: [SELF, { job: "node", targets: ["http://node-exporter:9100"] }] },
      { ...base, scrapeTargets: [SELF, { job: "mysql" as never, targets: ["db:9104"] }] },
      { ...base, scrapeTargets: [SELF, SELF] },
      { ...base, scrapeTargets: [SELF, { job: "app", targets: [], dns: { names: ["tasks.api"], port: 3000 } }] },
      { ...base, scrapeTargets: [SELF, { job: "redis", targets: ["r:9121"], labels: { job: "x", __a: "1" } }] },
    ];
    const outcome = (fn: () => unknown) => {
      try {
        fn();
        return "ok";
      } catch (e) {
        return (e as Error).message;
      }
    };
    const refused = inputs.filter((input) => {
      const checked = outcome(() => checkPrometheusConfig(input));
      expect(checked).toBe(outcome(() => renderPrometheusConfig(input)));
      return checked !== "ok";
    });
    expect(refused).toHaveLength(inputs.length - 2);
  });

  it("fails the synth, naming the server, when a registered construct turns invalid afterwards", () => {
    const { stack, prometheus } = stackWithPrometheus();
    const exporter = new FakeExporter(stack, "redis-exporters", ["redis-exporter"]);
    prometheus.addScrapeTarget(exporter);
    exporter.hosts.push("redis-exporter");
    expect(() => synthText(stack)).toThrow(
      /PrometheusServer dev\/prometheus: prometheus\.yml at synth is invalid:\n {2}- scrapeTargets\[0\]\.targets\[1\] "redis-exporter:9121" is already listed/,
    );
  });
});

describe("named and DNS-discovered entries (the app services)", () => {
  const api: ScrapeTarget = {
    job: "app",
    name: "api",
    targets: [],
    dns: { names: ["tasks.api"], port: 3000 },
    metricsPath: "/metrics",
    labels: { service: "api" },
  };
  const bot: ScrapeTarget = {
    job: "app",
    name: "bot",
    targets: ["bot-2:3001", "bot-1:3001"],
    metricsPath: "/internal/prom",
    labels: { service: "bot" },
  };

  it("renders one scrape config per name, relabelled to the job and the entry's labels", () => {
    const doc = parse(expected([api, bot, SELF])) as { scrape_configs: Json[] };
    expect(doc.scrape_configs.map((j) => j.job_name)).toEqual(["app-api", "app-bot", "prometheus"]);
    expect(doc.scrape_configs[0]).toEqual(API_SCRAPE_CONFIG);
    // Static instances are sorted; each named entry keeps its own path.
    expect(doc.scrape_configs[1]).toMatchObject({
      metrics_path: "/internal/prom",
      static_configs: [{ targets: ["bot-1:3001", "bot-2:3001"] }],
    });
  });

  it("refuses a DNS entry with targets, without a name, with a bad name or port, and a name used twice", () => {
    const message = errorOf(() =>
      expected([
        { ...api, targets: ["api:3000"] },
        { ...api, name: undefined },
        { ...api, name: "Api_1", dns: { names: ["tasks api"], port: 0 } },
        { ...bot, name: "api" },
        SELF,
      ]),
    );
    expect(message).toMatch(/scrapeTargets\[0\]\.targets and scrapeTargets\[0\]\.dns are both given/);
    expect(message).toMatch(/scrapeTargets\[1\]\.dns needs a name: a DNS-discovered entry gets a scrape config of its own/);
    expect(message).toMatch(/scrapeTargets\[2\]\.dns\.names\[0\] "tasks api" is not a DNS name/);
    expect(message).toMatch(/scrapeTargets\[2\]\.dns\.port 0 is not a port/);
    expect(message).toMatch(/scrapeTargets\[2\]\.name "Api_1" must be lowercase letters, digits and "-"/);
    expect(message).toMatch(/scrapeTargets\[3\]\.name "api" is already used for job app at scrapeTargets\[0\]/);
  });

  it("keeps the shared-path rule for unnamed entries of one job", () => {
    expect(
      errorOf(() => expected([{ job: "redis", targets: ["a:9121"] }, { job: "redis", targets: ["b:9121"], metricsPath: "/other" }, SELF])),
    ).toMatch(/scrapeTargets\[1\] \(job redis\) differs from scrapeTargets\[0\] in metricsPath or params/);
  });
});
