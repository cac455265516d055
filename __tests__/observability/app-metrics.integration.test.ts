/**
 * The app services' /metrics on real Prometheus tooling (Debian's promtool and prometheus 2.42):
 * the prometheus.yml that test and prod upload (every Swarm task through `tasks.<svc>` DNS) and dev's
 * full profile (every replica by name) pass `promtool check config` with the rule file uploaded
 * beside them; a real Prometheus scrapes a stand-in app through the same kind of entry, and its series
 * carry job="app" and the service's name. Swarm's `tasks.<svc>` DNS is not run here (no Swarm DNS):
 * the DNS entries are checked by promtool only.
 */
import type { ChildProcess } from "node:child_process";
import { createServer, type Server } from "node:http";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parse } from "yaml";
import { alertRules } from "../../constructs/observability/renderers/alert-rules";
import { renderPrometheusConfig } from "../../constructs/observability/renderers/prometheus";
import { appScrapeTarget } from "../../environments/observability";
import { describeIfBinary } from "../support/binaries";
import { freePort } from "../support/helpers";
import { pollUntil, promAlerts, promQuery, startPrometheus, stopProcess, writeFastPrometheusConfig } from "../support/promql";
import { explain, promtool } from "../support/promtool";
import { synthEnvironment, type TerraformJson } from "../support/stacks";

const OUT = mkdtempSync(join(tmpdir(), "app-metrics-test-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

type Json = Record<string, any>;

/** The uploads of a stack's Prometheus seed: prometheus.yml and the rule file, as written to disk. */
function prometheusFiles(json: TerraformJson, env: string): { config: string; rules: string } {
  const seed = Object.values(json.resource.docker_container!).find((c: Json) => c.name === `${env}-prometheus-seed`)!;
  const upload = (suffix: string) => {
    const content = (seed.upload as Json[]).find((u) => (u.file as string).endsWith(suffix))!.content as string;
    // The kit escapes "${" for Terraform; nothing else in these files is a Terraform expression.
    expect(/(?<!\$)\$\{/.test(content), suffix).toBe(false);
    return content.replace(/\$\$\{/g, "${");
  };
  return { config: upload("/prometheus.yml"), rules: upload("/updateio.yml") };
}

describeIfBinary("promtool", "promtool check config on the uploaded prometheus.yml", () => {
  for (const [env, vars] of [
    ["test", {}],
    ["prod", {}],
    ["dev", { UPDATEIO_DEV_OBSERVABILITY: "full" }],
  ] as const) {
    it(`${env}: accepts it with its rule file, and lists one app-<service> job per service`, () => {
      const { json } = synthEnvironment(env, vars, join(OUT, env));
      const { config, rules } = prometheusFiles(json, env);
      const dir = mkdtempSync(join(OUT, `${env}-check-`));
      mkdirSync(join(dir, "rules"));
      writeFileSync(join(dir, "rules", "updateio.yml"), rules);
      // The rule glob points into the container; point it at the copy.
      const doc = parse(config) as { rule_files: string[]; scrape_configs: Json[] };
      expect(doc.rule_files).toEqual(["/etc/updateio-prometheus-rules/*.yml"]);
      writeFileSync(join(dir, "prometheus.yml"), config.replace("/etc/updateio-prometheus-rules/*.yml", join(dir, "rules", "*.yml")));
      const r = promtool(["check", "config", join(dir, "prometheus.yml")]);
      expect(r.status, explain(r)).toBe(0);
      expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
      const apps = doc.scrape_configs.filter((j) => (j.job_name as string).startsWith("app-"));
      expect(apps.map((j) => j.job_name)).toEqual(["app-admin-panel", "app-api", "app-discord-bot", "app-mini-app", "app-telegram-bot"]);
      for (const j of apps) expect(env === "dev" ? j.static_configs : j.dns_sd_configs, j.job_name).toHaveLength(1);
    });
  }

  it("refuses a broken variant (the check can fail): a DNS entry without a port", () => {
    const dir = mkdtempSync(join(OUT, "broken-"));
    const config = renderPrometheusConfig({
      environment: "test",
      ruleFiles: [join(dir, "*.yml")],
      scrapeTargets: [appScrapeTarget("api", { kind: "dns", name: "tasks.api", port: 3000 }, "/metrics")],
    }).replace(/\n\s+port: 3000/, "");
    writeFileSync(join(dir, "prometheus.yml"), config);
    const r = promtool(["check", "config", join(dir, "prometheus.yml")]);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/port/i);
  });
});

describeIfBinary("prometheus", "Prometheus scraping a stand-in app service through its app-<service> entry", () => {
  let dir = "";
  let base = "";
  let prometheus: ChildProcess | undefined;
  let app: Server | undefined;

  const query = (promql: string) => promQuery(base, promql);

  beforeAll(async () => {
    const [promPort, appPort, closedPort] = [await freePort(), await freePort(), await freePort()];
    base = `http://127.0.0.1:${promPort}`;
    dir = mkdtempSync(join(tmpdir(), "updateio-app-metrics-"));
    // prom-client's text format, on a path of the service's choosing; anything else is a 404.
    app = createServer((req, res) => {
      if (req.url !== "/internal/metrics") {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      res.end('# TYPE http_requests_total counter\nhttp_requests_total{route="/health"} 7\n');
    });
    await new Promise<void>((resolve) => app!.listen(appPort, "127.0.0.1", resolve));
    const configPath = writeFastPrometheusConfig(dir, alertRules({ environment: "test" }), [
      { job: "prometheus", targets: [`127.0.0.1:${promPort}`] },
      appScrapeTarget("api", { kind: "static", addresses: [`127.0.0.1:${appPort}`] }, "/internal/metrics"),
      // Nothing listens: up == 0, for AppTargetDown.
      appScrapeTarget("discord-bot", { kind: "static", addresses: [`127.0.0.1:${closedPort}`] }, "/metrics"),
    ]);
    prometheus = await startPrometheus({ configPath, storagePath: join(dir, "data"), port: promPort, retentionDays: 1 });
  }, 60_000);

  afterAll(async () => {
    await stopProcess(prometheus);
    await new Promise((r) => (app ? app.close(r) : r(undefined)));
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("scrapes the service's own path; its series carry job=app and service=<name>", async () => {
    await pollUntil("the app's counter", async () => (await query("http_requests_total")).length === 1);
    const [series] = await query("http_requests_total");
    expect(series!.metric).toMatchObject({ job: "app", service: "api", route: "/health" });
    expect(series!.value[1]).toBe("7");
    expect((await query('up{job="app",service="api"}')).map((s) => s.value[1])).toEqual(["1"]);
  }, 60_000);

  it("reports an unreachable replica as up == 0 with its service, which AppTargetDown watches (not ScrapeTargetDown)", async () => {
    await pollUntil("up == 0 for discord-bot", async () => (await query('up{job="app",service="discord-bot"} == 0')).length === 1);
    await pollUntil("AppTargetDown pending", async () =>
      (await promAlerts(base)).some(
        (a) => a.labels.alertname === "AppTargetDown" && a.labels.service === "discord-bot" && a.state === "pending",
      ),
    );
    const alerts = await promAlerts(base);
    expect(alerts.filter((a) => a.labels.alertname === "ScrapeTargetDown")).toEqual([]);
  }, 60_000);
});
