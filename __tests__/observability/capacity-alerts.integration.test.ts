/**
 * The capacity alerts on the real promtool, against the rule file prod's stack uploads: each fires
 * on synthetic series at the time worked out below (before the service it protects stops) and stays
 * quiet below its threshold. Then the real Prometheus starts with the budget's
 * --storage.tsdb.retention.size, and the volume-usage script measures a 0700 directory with only
 * SETUID/SETGID in effect.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parse } from "yaml";
import { toYaml } from "../../constructs/observability/renderers/alert-rules";
import { renderPrometheusConfig } from "../../constructs/observability/renderers/prometheus";
import { VOLUME_USAGE_SCRIPT } from "../../constructs/observability/volume-usage";
import { describeIf, requireBinary, type Requirement } from "../support/binaries";
import { freePort } from "../support/helpers";
import { synthEnvironment, uploadedFile } from "../support/stacks";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
/** RabbitMQ blocks publishers below disk_free_limit.absolute = 1GB (10^9 bytes, constructs/rabbitmq/renderers/rabbitmq.ts). */
const RABBITMQ_DISK_FREE_LIMIT = 1e9;

interface Rule {
  readonly alert: string;
  readonly labels: Record<string, string>;
  readonly annotations: { summary: string; description: string };
}

const expand = (text: string, labels: Readonly<Record<string, string>>) =>
  text.replace(/\{\{ \$labels\.([a-zA-Z_][a-zA-Z0-9_]*) \}\}/g, (_, name: string) => labels[name] ?? "<no value>");

const series = (metric: string, labels: Readonly<Record<string, string>>, values: string) => ({
  series: `${metric}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(", ")}}`,
  values,
});

const NODE = { instance: "node-exporter:9100", job: "node" };
const DOCKER_DISK = { ...NODE, device: "/dev/sdb1", fstype: "ext4", mountpoint: "/var/lib/docker" };
/** 6 GiB free, 10 MiB more used every minute (600 MiB/h): full after 614.4 minutes. */
const FILL_START = 6 * GiB;
const FILL_RATE = 10 * MiB;
const availAt = (minute: number) => FILL_START - FILL_RATE * minute;

describeIf(requireBinary("promtool"), "capacity alerts on promtool (prod's rendered rule file)", () => {
  let dir = "";
  let rulesFile = "";
  let rules: Map<string, Rule>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "updateio-capacity-"));
    const { json } = synthEnvironment("prod", {}, join(dir, "synth"));
    const text = uploadedFile(json, "/etc/updateio-prometheus-rules/updateio.yml")!;
    rulesFile = join(dir, "updateio.yml");
    writeFileSync(rulesFile, text);
    const groups = parse(text).groups as { name: string; rules: Rule[] }[];
    rules = new Map(groups.flatMap((g) => g.rules.map((r) => [r.alert, r] as const)));
  }, 60_000);
  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  /** The alert as promtool must see it: the series' labels plus the rule's, annotations expanded. */
  const expected = (name: string, labels: Record<string, string>) => {
    const rule = rules.get(name)!;
    expect(rule, name).toBeDefined();
    const all = { ...labels, ...rule.labels };
    return {
      exp_labels: all,
      exp_annotations: { summary: expand(rule.annotations.summary, all), description: expand(rule.annotations.description, all) },
    };
  };

  const runPromtool = (name: string, tests: object[]) => {
    const file = join(dir, `${name}.test.yml`);
    writeFileSync(file, toYaml({ rule_files: [rulesFile], evaluation_interval: "1m", tests }));
    return spawnSync("promtool", ["test", "rules", file], { encoding: "utf8", timeout: 60_000 });
  };
  const explain = (r: ReturnType<typeof runPromtool>) => `exit ${String(r.status)}\n${r.stdout}\n${r.stderr}`;

  it("the critical disk alerts fire while room is left: hours before RabbitMQ blocks publishers and Postgres stops", () => {
    // DockerDiskFillingFast: predict_linear(avail[1h], 4h) < 2 GiB, for 10m. On an exact line the
    // prediction is avail(t) - 4h x rate: true from minute 170 (6144 - 10t - 2400 < 2048 MiB), firing at 180.
    // DockerDiskLow: avail < 2 GiB, for 5m: true from minute 410, firing at 415.
    // DockerDiskFillingUp: predict_linear(avail[6h], 24h) < 0 holds from the second sample (24h x 600 MiB > 6 GiB): firing at 31.
    const fastAt = 180;
    const lowAt = 415;
    const rabbitBlocksAt = (FILL_START - RABBITMQ_DISK_FREE_LIMIT) / FILL_RATE;
    const postgresStopsAt = FILL_START / FILL_RATE;
    // The evidence in numbers: room left when each fires, and the time before the services stop.
    expect(availAt(fastAt) / GiB).toBeCloseTo(4.24, 2);
    expect(availAt(lowAt) / GiB).toBeCloseTo(1.95, 2);
    expect(availAt(lowAt)).toBeGreaterThan(RABBITMQ_DISK_FREE_LIMIT);
    expect(Math.floor(rabbitBlocksAt - lowAt)).toBe(104);
    expect(Math.floor(rabbitBlocksAt - fastAt)).toBe(339);
    expect(Math.floor(postgresStopsAt - lowAt)).toBe(199);

    const input = [
      series("node_filesystem_avail_bytes", DOCKER_DISK, `${FILL_START}-${FILL_RATE}x620`),
      // Not the data root's filesystem, nearly full: none of these alerts is about it.
      series("node_filesystem_avail_bytes", { ...NODE, device: "/dev/sdc1", fstype: "ext4", mountpoint: "/srv" }, `${GiB / 2}+0x620`),
      // The root filesystem, roomy and steady.
      series("node_filesystem_avail_bytes", { ...NODE, device: "/dev/sda1", fstype: "ext4", mountpoint: "/" }, `${50 * GiB}+0x620`),
    ];
    const at = (minute: number, name: string, firing: boolean) => ({
      eval_time: `${minute}m`,
      alertname: name,
      exp_alerts: firing ? [expected(name, DOCKER_DISK)] : [],
    });
    const r = runPromtool("disk-fill", [
      {
        name: "a disk filling at 600 MiB/h from 6 GiB free",
        interval: "1m",
        input_series: input,
        alert_rule_test: [
          at(29, "DockerDiskFillingUp", false),
          at(31, "DockerDiskFillingUp", true),
          at(fastAt - 2, "DockerDiskFillingFast", false),
          at(fastAt, "DockerDiskFillingFast", true),
          at(lowAt - 2, "DockerDiskLow", false),
          at(lowAt, "DockerDiskLow", true),
          at(lowAt - 2, "DockerDiskFillingFast", true),
        ],
      },
    ]);
    expect(r.status, explain(r)).toBe(0);
  });

  it("the disk alerts stay quiet below their thresholds", () => {
    const quiet = (minute: number) =>
      ["DockerDiskFillingUp", "DockerDiskFillingFast", "DockerDiskLow"].map((name) => ({
        eval_time: `${minute}m`,
        alertname: name,
        exp_alerts: [],
      }));
    const r = runPromtool("disk-quiet", [
      {
        // 2.1 GiB free and steady: above the 2 GiB floor, no trend.
        name: "steady just above the floor",
        interval: "1m",
        input_series: [series("node_filesystem_avail_bytes", DOCKER_DISK, `${2.1 * GiB}+0x400`)],
        alert_rule_test: [...quiet(60), ...quiet(400)],
      },
      {
        // 500 GiB free, 10 MiB/min used: full in 35 days, far beyond 24h.
        name: "a big disk growing slowly",
        interval: "1m",
        input_series: [series("node_filesystem_avail_bytes", DOCKER_DISK, `${500 * GiB}-${FILL_RATE}x400`)],
        alert_rule_test: [...quiet(60), ...quiet(400)],
      },
      {
        // A nearly full tmpfs at the data root's path is memory, not the disk.
        name: "a tmpfs is ignored",
        interval: "1m",
        input_series: [series("node_filesystem_avail_bytes", { ...DOCKER_DISK, fstype: "tmpfs" }, `${GiB / 4}-1000x400`)],
        alert_rule_test: quiet(400),
      },
    ]);
    expect(r.status, explain(r)).toBe(0);
  });

  it("volume budgets: 80% warns, 90% is critical, 79% is quiet, each after 15 minutes", () => {
    const vol = (volume: string, service: string) => ({ ...NODE, volume, service });
    const budget = 1000 * MiB;
    const volumes = [
      [vol("prod-redis-data", "redis"), 0.79],
      [vol("prod-loki-data", "loki"), 0.85],
      [vol("prod-postgres-data", "postgres"), 0.95],
    ] as const;
    const input = [
      ...volumes.flatMap(([labels, ratio]) => [
        series("updateio_volume_used_bytes", labels, `${Math.round(budget * ratio)}+0x60`),
        series("updateio_volume_budget_bytes", labels, `${budget}+0x60`),
      ]),
      // Fresh measurements every 5 minutes: VolumeUsageStale stays quiet.
      series("updateio_volume_usage_last_run_timestamp_seconds", NODE, "0+60x60"),
      series("updateio_volume_usage_last_run_success", NODE, "1+0x60"),
    ];
    const r = runPromtool("volumes", [
      {
        name: "three volumes at 79%, 85% and 95% of their budgets",
        interval: "1m",
        input_series: input,
        alert_rule_test: [
          { eval_time: "14m", alertname: "VolumeNearBudget", exp_alerts: [] },
          { eval_time: "14m", alertname: "VolumeOverBudget", exp_alerts: [] },
          { eval_time: "16m", alertname: "VolumeNearBudget", exp_alerts: [expected("VolumeNearBudget", volumes[1][0])] },
          { eval_time: "16m", alertname: "VolumeOverBudget", exp_alerts: [expected("VolumeOverBudget", volumes[2][0])] },
          { eval_time: "60m", alertname: "VolumeUsageStale", exp_alerts: [] },
        ],
      },
      {
        name: "measurements that stop, or that failed",
        interval: "1m",
        input_series: [
          // Last measured at t=0: older than 30 minutes from minute 31, firing 30 minutes later.
          series("updateio_volume_usage_last_run_timestamp_seconds", NODE, "0+0x70"),
          series("updateio_volume_usage_last_run_success", NODE, "1+0x70"),
          series("updateio_volume_usage_last_run_timestamp_seconds", { ...NODE, instance: "other:9100" }, "0+60x70"),
          series("updateio_volume_usage_last_run_success", { ...NODE, instance: "other:9100" }, "0+0x70"),
        ],
        alert_rule_test: [
          {
            eval_time: "59m",
            alertname: "VolumeUsageStale",
            exp_alerts: [expected("VolumeUsageStale", { ...NODE, instance: "other:9100" })],
          },
          {
            eval_time: "62m",
            alertname: "VolumeUsageStale",
            exp_alerts: [expected("VolumeUsageStale", NODE), expected("VolumeUsageStale", { ...NODE, instance: "other:9100" })],
          },
        ],
      },
    ]);
    expect(r.status, explain(r)).toBe(0);
  });

  it("the harness can fail: a wrong expectation is reported", () => {
    const r = runPromtool("wrong", [
      {
        name: "DockerDiskLow expected too early",
        interval: "1m",
        input_series: [series("node_filesystem_avail_bytes", DOCKER_DISK, `${FILL_START}-${FILL_RATE}x620`)],
        alert_rule_test: [{ eval_time: "400m", alertname: "DockerDiskLow", exp_alerts: [expected("DockerDiskLow", DOCKER_DISK)] }],
      },
    ]);
    expect(r.status).not.toBe(0);
  });
});

describeIf(requireBinary("prometheus"), "the real Prometheus accepts the budget's size retention", () => {
  it("starts with prod's flags (--storage.tsdb.retention.size=8192MB) and reports the limit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "updateio-prometheus-size-"));
    try {
      const { json } = synthEnvironment("prod", {}, join(dir, "synth"));
      const flags = json.resource.docker_container!["prometheus_server_container_1DB7D62B"]!.command as string[];
      const size = flags.find((f) => f.startsWith("--storage.tsdb.retention.size="));
      expect(size).toBe("--storage.tsdb.retention.size=8192MB");
      const port = await freePort();
      const config = join(dir, "prometheus.yml");
      writeFileSync(
        config,
        renderPrometheusConfig({
          environment: "prod",
          scrapeTargets: [{ job: "prometheus", targets: [`127.0.0.1:${port}`] }],
          ruleFiles: [],
        }),
      );
      // The container's flags, with local paths for the config, the data and the port.
      const args = flags.map((f) =>
        f.startsWith("--config.file=")
          ? `--config.file=${config}`
          : f.startsWith("--storage.tsdb.path=")
            ? `--storage.tsdb.path=${join(dir, "data")}`
            : f.startsWith("--web.listen-address=")
              ? `--web.listen-address=127.0.0.1:${port}`
              : f,
      );
      const server = spawn("prometheus", args, { stdio: ["ignore", "ignore", "pipe"] });
      let log = "";
      server.stderr.on("data", (d) => (log += String(d)));
      try {
        let limit: string | undefined;
        for (let i = 0; i < 60 && limit === undefined; i++) {
          await new Promise((r) => setTimeout(r, 500));
          const res = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
          const text = res?.ok ? await res.text() : "";
          limit = /^prometheus_tsdb_retention_limit_bytes (\S+)$/m.exec(text)?.[1];
        }
        expect(limit, log).toBeDefined();
        expect(Number(limit)).toBe(8192 * MiB);
        expect(log).not.toMatch(/level=error/);
      } finally {
        server.kill("SIGTERM");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

const rootWithSetpriv: Requirement[] = [
  requireBinary("setpriv"),
  {
    available: process.getuid?.() === 0,
    reason: process.getuid?.() === 0 ? "running as root" : "needs root to drop to SETUID/SETGID only and own test directories as uid 999",
  },
];

describeIf(rootWithSetpriv, "volume-usage.sh with SETUID/SETGID only (as in its container)", () => {
  it("measures 0700 directories of another user that root itself cannot read, and writes the metrics into its own root-owned volume", () => {
    const dir = mkdtempSync(join(tmpdir(), "updateio-volume-usage-"));
    try {
      const data = join(dir, "volumes", "prod-postgres-data");
      const backups = join(dir, "volumes", "prod-postgres-backups");
      // Its own volume, as Docker creates a new one: root-owned 0755.
      const metricsDir = join(dir, "metrics");
      mkdirSync(data, { recursive: true });
      mkdirSync(join(backups, "dumps"), { recursive: true });
      mkdirSync(metricsDir);
      writeFileSync(join(data, "base"), Buffer.alloc(300 * 1024, 1));
      writeFileSync(join(backups, "dumps", "app.dump"), Buffer.alloc(200 * 1024, 1));
      for (const d of [data, join(data, "base"), backups, join(backups, "dumps"), join(backups, "dumps", "app.dump")])
        chownSync(d, 999, 999);
      chmodSync(data, 0o700);
      chmodSync(join(backups, "dumps"), 0o700);
      chmodSync(metricsDir, 0o755);
      chmodSync(dir, 0o755);
      const script = join(dir, "volume-usage.sh");
      writeFileSync(script, VOLUME_USAGE_SCRIPT);
      writeFileSync(
        join(dir, "volumes.txt"),
        `prod-postgres-data postgres ${2048 * MiB} ${data}\nprod-postgres-backups postgres-backup ${8192 * MiB} ${backups}\n`,
      );
      // Root with only SETUID and SETGID, as the container runs it (capabilities: drop ALL, add those two).
      const r = spawnSync(
        "setpriv",
        [
          "--bounding-set=-all,+setuid,+setgid",
          "--inh-caps=-all",
          "sh",
          "-c",
          `cat ${data}/base >/dev/null 2>&1 && echo readable || echo unreadable; sh ${script} once`,
        ],
        { encoding: "utf8", env: { ...process.env, VOLUMES_FILE: join(dir, "volumes.txt"), METRICS_DIR: metricsDir } },
      );
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout.trim()).toBe("unreadable");
      const metrics = readFileSync(join(metricsDir, "volume_usage.prom"), "utf8");
      const usedBy = (volume: string, service: string) =>
        Number(new RegExp(`^updateio_volume_used_bytes\\{volume="${volume}",service="${service}"\\} (\\d+)$`, "m").exec(metrics)?.[1]);
      expect(usedBy("prod-postgres-data", "postgres")).toBeGreaterThanOrEqual(300 * 1024);
      expect(usedBy("prod-postgres-backups", "postgres-backup")).toBeGreaterThanOrEqual(200 * 1024);
      expect(metrics).toMatch(
        new RegExp(`^updateio_volume_budget_bytes\\{volume="prod-postgres-data",service="postgres"\\} ${2048 * MiB}$`, "m"),
      );
      expect(metrics).toMatch(/^updateio_volume_usage_last_run_success 1$/m);
      // Written as the metrics directory's owner (root, for its own volume), readable by node-exporter (nobody).
      const stat = spawnSync("stat", ["-c", "%u %a", join(metricsDir, "volume_usage.prom")], { encoding: "utf8" });
      expect(stat.stdout.trim()).toBe("0 644");
      // Nothing written into the volumes it measures.
      expect(readdirSync(backups).sort()).toEqual(["dumps"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
