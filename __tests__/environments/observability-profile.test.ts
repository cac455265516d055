/**
 * observability.profile: what each profile builds into dev (off / logs / full), the figures a laptop
 * pays for each (containers and memory limits, computed from the synthesized JSON and printed), and
 * the config rules around it (test and prod must be full; Grafana's backup, alerting and budgets of
 * volumes a profile does not create). Also the apps' `metrics` key: allow-listed, scraped on a
 * network of its own per service.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Testing } from "cdktf";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { EnvironmentStack } from "../../environments/environment-stack";
import { loadEnvironmentConfig, validateEnvironmentConfig, type EnvironmentName } from "../../environments/load";
import type { EnvironmentConfig, ObservabilityProfile } from "../../environments/schema";
import { sharedEnvironment, uploadedFile, type SynthesizedEnvironment, type TerraformJson } from "../support/stacks";
import { mutatedProblems } from "../support/config-problems";
import { API_SCRAPE_CONFIG } from "../support/synth-expectations";
import { synthText } from "../support/synth-text";

const OUT = mkdtempSync(join(tmpdir(), "observability-profile-test-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

type Json = Record<string, any>;
const PROFILES: readonly ObservabilityProfile[] = ["off", "logs", "full"];
/** Dev with UPDATEIO_DEV_OBSERVABILITY=<profile> (undefined: the variable unset). */
const dev = (profile?: ObservabilityProfile): SynthesizedEnvironment =>
  sharedEnvironment("dev", profile ? { UPDATEIO_DEV_OBSERVABILITY: profile } : {});

const containers = (json: TerraformJson): Json[] => Object.values(json.resource.docker_container ?? {});
const containerNames = (json: TerraformJson): string[] => containers(json).map((c) => c.name as string);
const networkNames = (json: TerraformJson): string[] => Object.values(json.resource.docker_network ?? {}).map((n: Json) => n.name);
/** A container's networks by name ("${docker_network.<id>.name}" resolved in the same JSON). */
const networksOf = (json: TerraformJson, c: Json): string[] =>
  (c.networks_advanced as Json[]).map((n) => {
    const id = /^\$\{docker_network\.([^.]+)\.name\}$/.exec(n.name as string)?.[1];
    return id ? (json.resource.docker_network![id]!.name as string) : (n.name as string);
  });

/** The figures the README quotes: every docker_container resource, and the sum of their memory limits (MiB). */
export function footprint(json: TerraformJson): { containers: number; memoryMb: number } {
  const all = containers(json);
  return { containers: all.length, memoryMb: all.reduce((sum, c) => sum + (typeof c.memory === "number" ? c.memory : 0), 0) };
}

// The observability containers by name (dev prefixes every name with "dev-").
const LOGS = ["dev-loki", "dev-alloy", "dev-docker-socket-proxy", "dev-grafana"];
const METRICS_ONLY = [
  "dev-prometheus",
  "dev-cadvisor",
  "dev-node-exporter",
  "dev-postgres-exporter",
  "dev-redis-exporter",
  "dev-volume-usage",
];

describe("dev's observability profile", () => {
  it("defaults to logs, and UPDATEIO_DEV_OBSERVABILITY chooses another", () => {
    expect(loadEnvironmentConfig("dev", {}).observability.profile).toBe("logs");
    for (const p of PROFILES) expect(loadEnvironmentConfig("dev", { UPDATEIO_DEV_OBSERVABILITY: p }).observability.profile).toBe(p);
    expect(dev().text).toBe(dev("logs").text);
  });

  it("refuses any other value of UPDATEIO_DEV_OBSERVABILITY, naming the variable and the choices", () => {
    expect(() => loadEnvironmentConfig("dev", { UPDATEIO_DEV_OBSERVABILITY: "metrics" })).toThrow(
      /UPDATEIO_DEV_OBSERVABILITY.*"metrics" is not one of "off", "logs", "full"/,
    );
    // Test and prod have no such variable: their profile is full.
    expect(() => loadEnvironmentConfig("test", { UPDATEIO_TEST_OBSERVABILITY: "logs" })).toThrow(/UPDATEIO_TEST_OBSERVABILITY/);
  });

  it("full runs every observability container; logs Loki, the shipper, its proxy and Grafana; off none", () => {
    const names = Object.fromEntries(PROFILES.map((p) => [p, containerNames(dev(p).json)]));
    for (const n of [...LOGS, ...METRICS_ONLY]) expect(names.full, n).toContain(n);
    for (const n of LOGS) expect(names.logs, n).toContain(n);
    for (const n of METRICS_ONLY) expect(names.logs, n).not.toContain(n);
    for (const n of [...LOGS, ...METRICS_ONLY]) expect(names.off, n).not.toContain(n);
    // The app services and the data tier are the same in every profile.
    const rest = (list: string[]) =>
      list.filter((n) => !n.startsWith("dev-grafana") && ![...LOGS, ...METRICS_ONLY].some((o) => n.startsWith(o)));
    expect(rest(names.off!).sort()).toEqual(rest(names.full!).sort());
    expect(rest(names.logs!).sort()).toEqual(rest(names.full!).sort());
  });

  it("prints and checks the footprint of each profile (containers, sum of memory limits)", () => {
    const figures = Object.fromEntries(PROFILES.map((p) => [p, footprint(dev(p).json)]));
    process.stdout.write(
      `dev observability profiles: ${PROFILES.map((p) => `${p} ${figures[p]!.containers} containers / ${figures[p]!.memoryMb} MiB`).join(", ")}\n`,
    );
    expect(figures.off!.containers).toBeLessThan(figures.logs!.containers);
    expect(figures.logs!.containers).toBeLessThan(figures.full!.containers);
    expect(figures.off!.memoryMb).toBeLessThan(figures.logs!.memoryMb);
    expect(figures.logs!.memoryMb).toBeLessThan(figures.full!.memoryMb);
  });

  it("off and logs drop the networks only the missing parts use; off has no Grafana route, output or URL", () => {
    const nets = Object.fromEntries(PROFILES.map((p) => [p, networkNames(dev(p).json)]));
    const metricsNets = [
      "dev-monitoring",
      "dev-edge-metrics",
      "dev-logs-metrics",
      "dev-volume-usage",
      "dev-api-metrics",
      "dev-rabbitmq-metrics",
    ];
    for (const n of metricsNets) expect(nets.full, n).toContain(n);
    for (const n of metricsNets) expect(nets.logs, n).not.toContain(n);
    // The data tier follows: no Redis monitor user below full, no Grafana network to Postgres with off.
    const acl = (p: ObservabilityProfile) => uploadedFile(dev(p).json, "/usr/local/etc/redis-acl/users.acl")!;
    expect(acl("full")).toMatch(/^user monitor on /m);
    expect(acl("logs")).not.toMatch(/^user monitor /m);
    for (const n of ["dev-logs-push", "dev-logs-query", "dev-docker-api", "dev-edge-grafana", "dev-postgres-grafana"]) {
      expect(nets.logs, n).toContain(n);
      expect(nets.off, n).not.toContain(n);
    }
    const off = dev("off").json;
    expect(Object.keys(off.output).sort()).not.toContain("grafana_admin_password");
    expect(Object.keys(off.output.urls.value).sort()).toEqual(["admin", "api", "mini_app"]);
    expect(uploadedFile(off, "/etc/caddy/Caddyfile")).not.toContain("grafana.updateio.localhost");
    expect(uploadedFile(dev("logs").json, "/etc/caddy/Caddyfile")).toContain("grafana.updateio.localhost {");
    expect(dev("logs").json.output.urls.value.grafana).toBe("https://grafana.updateio.localhost/");
  });

  it("logs: Grafana reads Loki (the default source) and Postgres, with no Prometheus, dashboards or alerting", () => {
    const { json } = dev("logs");
    const sources = parse(uploadedFile(json, "/etc/grafana/provisioning/datasources/datasources.yaml")!).datasources as Json[];
    expect(sources.map((s) => [s.name, s.isDefault])).toEqual([
      ["Loki", true],
      ["PostgreSQL (read-only)", false],
    ]);
    const grafanaSeed = containers(json).find((c) => c.name === "dev-grafana-seed")!;
    expect((grafanaSeed.upload as Json[]).map((u) => u.file).filter((f) => !f.startsWith("/run/secrets/"))).toEqual([
      "/etc/grafana/provisioning/datasources/datasources.yaml",
    ]);
    const grafana = containers(json).find((c) => c.name === "dev-grafana")!;
    expect(networksOf(json, grafana).sort()).toEqual(["dev-edge-grafana", "dev-logs-query", "dev-postgres-grafana"]);
  });

  it("logs: the socket proxy opens only what the shipper reads (no engine info or version without cAdvisor)", () => {
    const env = (p: ObservabilityProfile) => containers(dev(p).json).find((c) => c.name === "dev-docker-socket-proxy")!.env as string[];
    expect(env("logs")).toEqual(expect.arrayContaining(["INFO=0", "VERSION=0", "CONTAINERS=1"]));
    expect(env("full")).toEqual(expect.arrayContaining(["INFO=1", "VERSION=1", "CONTAINERS=1"]));
    // Loki and the shipper join no metrics network: nothing scrapes them.
    const { json } = dev("logs");
    const of = (name: string) =>
      networksOf(
        json,
        containers(json).find((c) => c.name === name)!,
      ).sort();
    expect(of("dev-alloy")).toEqual(["dev-docker-api", "dev-logs-push"]);
    expect(of("dev-loki")).toEqual(["dev-logs-push", "dev-logs-query"]);
  });

  it("off: the containers still rotate their json-file logs", () => {
    for (const c of containers(dev("off").json).filter((c) => c.must_run !== false)) {
      expect(c.log_driver, c.name).toBe("json-file");
      expect(c.log_opts, c.name).toMatchObject({ "max-size": expect.any(String), "max-file": expect.any(String) });
    }
  });

  it("full: every app service is scraped on a network of its own with Prometheus (job app, its own path)", () => {
    const { json } = dev("full");
    const yaml = parse(uploadedFile(json, "/etc/updateio-prometheus/prometheus.yml")!) as { scrape_configs: Json[] };
    const apps = yaml.scrape_configs.filter((j) => (j.job_name as string).startsWith("app-"));
    expect(apps.map((j) => [j.job_name, j.metrics_path, j.static_configs[0].targets])).toEqual([
      ["app-admin-panel", "/metrics", ["admin-panel:3003"]],
      ["app-api", "/metrics", ["api:3000"]],
      ["app-discord-bot", "/metrics", ["discord-bot:3001"]],
      ["app-mini-app", "/metrics", ["mini-app:3004"]],
      ["app-telegram-bot", "/metrics", ["telegram-bot:3002"]],
    ]);
    for (const j of apps) expect(j.relabel_configs).toContainEqual({ target_label: "job", replacement: "app" });
    const prom = containers(json).find((c) => c.name === "dev-prometheus")!;
    const api = containers(json).find((c) => c.name === "dev-api")!;
    const shared = networksOf(json, api).filter((n) => networksOf(json, prom).includes(n));
    expect(shared).toEqual(["dev-api-metrics"]);
  });
});

describe("test and prod: the full profile, and every task of a Swarm service scraped", () => {
  it.each(["test", "prod"] as const)("%s: tasks.<service> by DNS (A records), one scrape config per service", (env) => {
    const { json } = sharedEnvironment(env);
    const yaml = parse(uploadedFile(json, "/etc/updateio-prometheus/prometheus.yml")!) as { scrape_configs: Json[] };
    const api = yaml.scrape_configs.find((j) => j.job_name === "app-api")!;
    expect(api).toEqual(API_SCRAPE_CONFIG);
    expect(containerNames(json)).toContain(`${env}-prometheus`);
  });
});

// ---------------------------------------------------------------------------------------------
// The config rules

const VALID: Record<EnvironmentName, EnvironmentConfig> = {
  dev: loadEnvironmentConfig("dev", {}),
  test: loadEnvironmentConfig("test", {}),
  prod: loadEnvironmentConfig("prod", {}),
};

const problemsOf = (env: EnvironmentName, mutate: (c: any) => void): string[] => mutatedProblems(env, VALID[env], mutate);

describe("the profile in the config", () => {
  it.each(["test", "prod"] as const)("%s must be full: the message names the key and the fix", (env) => {
    const message = `observability.profile: must be "full" in ${env}: its alerts, dashboards and volume budgets rely on Prometheus; lighter profiles are for dev (set "full", or remove the key)`;
    expect(problemsOf(env, (c) => (c.observability.profile = "logs"))).toEqual([message]);
    // Off also leaves Grafana's backup (on in test and prod) without a Grafana.
    expect(problemsOf(env, (c) => (c.observability.profile = "off"))).toEqual([
      message,
      'backups.grafana.enabled: has no Grafana to back up while observability.profile is "off"; set it to false, or pick profile "logs" or "full"',
    ]);
    expect(problemsOf(env, (c) => (c.observability.profile = "full"))).toEqual([]);
    expect(VALID[env].observability.profile).toBe("full");
  });

  it("refuses an unknown profile", () => {
    expect(problemsOf("dev", (c) => (c.observability.profile = "minimal"))).toEqual([
      'observability.profile: must be "off", "logs" (Loki + shipper + Grafana) or "full" (adds Prometheus, exporters, alerting)',
    ]);
  });

  it("refuses Grafana's backup when there is no Grafana (off), and allows it with logs", () => {
    const on = (c: any) => (c.backups.grafana = { ...c.backups.grafana, enabled: true });
    expect(
      problemsOf("dev", (c) => {
        c.observability.profile = "off";
        on(c);
      }),
    ).toEqual([
      'backups.grafana.enabled: has no Grafana to back up while observability.profile is "off"; set it to false, or pick profile "logs" or "full"',
    ]);
    expect(
      problemsOf("dev", (c) => {
        c.observability.profile = "logs";
        on(c);
      }),
    ).toEqual([]);
  });

  it("refuses alerting channels without Prometheus", () => {
    for (const p of ["off", "logs"] as const)
      expect(
        problemsOf("dev", (c) => {
          c.observability.profile = p;
          c.observability.alerting = { discord: true };
        }),
      ).toEqual([
        `observability.alerting: has no effect while observability.profile is "${p}": alerts are evaluated on Prometheus' metrics; set profile "full", or unset the alerting channels`,
      ]);
    expect(() => loadEnvironmentConfig("dev", { UPDATEIO_DEV_ALERT_DISCORD: "on" })).toThrow(/observability\.alerting: has no effect/);
    expect(
      loadEnvironmentConfig("dev", { UPDATEIO_DEV_ALERT_DISCORD: "on", UPDATEIO_DEV_OBSERVABILITY: "full" }).observability.alerting,
    ).toEqual({
      discord: true,
    });
  });

  it("does not check the budget of a volume the profile does not create (and still checks the others)", () => {
    const tiny = (c: any) => {
      c.budgets.prometheusData = 100;
      c.budgets.lokiData = 16;
    };
    expect(
      problemsOf("dev", (c) => {
        c.observability.profile = "off";
        tiny(c);
      }),
    ).toEqual([]);
    expect(
      problemsOf("dev", (c) => {
        c.observability.profile = "logs";
        tiny(c);
      }).map((p) => p.split(":")[0]),
    ).toEqual(["budgets.lokiData"]);
    expect(
      problemsOf("dev", (c) => {
        c.observability.profile = "full";
        tiny(c);
      }).map((p) => p.split(":")[0]),
    ).toEqual(["budgets.prometheusData", "budgets.lokiData"]);
  });
});

describe("an app service's metrics key", () => {
  it("is declared by the catalogue's five services, with the contract's /metrics", () => {
    for (const env of ["dev", "test", "prod"] as const)
      for (const [name, svc] of Object.entries(VALID[env].services)) expect(svc.metrics, `${env} ${name}`).toEqual({ path: "/metrics" });
  });

  it("allow-lists the path: no query, no spaces, quotes, template or YAML characters", () => {
    for (const path of ["metrics", "/metrics?x=1", "/a b", '/x"y', "/${x}", "/%{x}", "/a\nb", "/a:b", "/A", "/", "/a//b"]) {
      expect(
        problemsOf("dev", (c) => (c.services.api.metrics = { path })),
        JSON.stringify(path),
      ).toEqual(["services.api.metrics.path: must be a URL path of at most 256 lowercase letters, digits, /, _ and -, such as /metrics"]);
    }
    expect(problemsOf("dev", (c) => (c.services.api.metrics = { path: "/internal/prom_metrics-v1" }))).toEqual([]);
    expect(problemsOf("dev", (c) => (c.services.api.metrics = { path: "/metrics", port: 9100 }))[0]).toMatch(
      /^services\.api\.metrics\.port: /,
    );
  });

  it("absent: the service is not scraped and gets no metrics network", () => {
    const config = structuredClone(loadEnvironmentConfig("dev", { UPDATEIO_DEV_OBSERVABILITY: "full" })) as any;
    delete config.services["mini-app"].metrics;
    const stack = new EnvironmentStack(Testing.app({ outdir: OUT }), "dev", validateEnvironmentConfig(config, "dev"));
    const json = JSON.parse(synthText(stack)) as TerraformJson;
    expect(networkNames(json)).not.toContain("dev-mini-app-metrics");
    expect(networkNames(json)).toContain("dev-admin-panel-metrics");
    const jobs = (parse(uploadedFile(json, "/etc/updateio-prometheus/prometheus.yml")!).scrape_configs as Json[]).map((j) => j.job_name);
    expect(jobs).not.toContain("app-mini-app");
    expect(jobs).toContain("app-admin-panel");
  });

  it('refuses a service named "metrics": its networks would be Prometheus\'', () => {
    expect(
      problemsOf("dev", (c) => {
        c.services.metrics = structuredClone(c.services["mini-app"]);
        c.services.metrics.routes = [{ host: "metrics.updateio.localhost", adminOnly: false }];
      }),
    ).toContain('services.metrics: is a reserved name: "<service>-metrics" names the networks Prometheus scrapes on; rename the service');
  });
});
