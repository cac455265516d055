/**
 * Volume size budgets: the config refuses missing or too-small budgets (naming the key and the fix),
 * Prometheus and Loki turn theirs into limits, and the volume-usage job is hardened and measures
 * every stateful volume of each stack.
 */
import { TerraformStack, Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ServiceImage } from "../../constructs/kit/service-image";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import { ServiceVolume } from "../../constructs/kit/service-volume";
import { PrometheusServer } from "../../constructs/observability/prometheus-server";
import { renderLokiConfig } from "../../constructs/observability/renderers/loki";
import {
  LOKI_BUDGET,
  VOLUME_BUDGET_KEYS,
  lokiIngestionRateMb,
  minBackupsBudgetMb,
  minLokiBudgetMb,
  prometheusRetentionSize,
} from "../../constructs/observability/volume-budgets";
import { VOLUME_USAGE_SCRIPT, VolumeUsage, volumeUsageMetricsVolume } from "../../constructs/observability/volume-usage";
import { loadEnvironmentConfig, validateEnvironmentConfig, type EnvironmentName } from "../../environments/load";
import type { EnvironmentConfig } from "../../environments/schema";
import { errorOf } from "../support/helpers";
import { sharedEnvironment, uploadedFile, type SynthesizedEnvironment } from "../support/stacks";
import { mutatedConfig, refusals } from "../support/config-problems";
import { testOutdir, testStack } from "../support/test-stack";
import { synthText } from "../support/synth-text";

const OUT = testOutdir("volume-budgets-test");

const VALID: Record<EnvironmentName, EnvironmentConfig> = {
  dev: loadEnvironmentConfig("dev", {}),
  test: loadEnvironmentConfig("test", {}),
  prod: loadEnvironmentConfig("prod", {}),
};

let devFull: SynthesizedEnvironment | undefined;
/** Each environment with everything that has a budget: dev's default profile (logs) has no Prometheus or volume-usage job. */
function withMetrics(env: EnvironmentName): SynthesizedEnvironment {
  if (env !== "dev") return sharedEnvironment(env);
  devFull ??= sharedEnvironment("dev", { UPDATEIO_DEV_OBSERVABILITY: "full" });
  return devFull;
}

const problemsOf = (env: EnvironmentName, mutate: (c: any) => void): string[] =>
  refusals(() => validateEnvironmentConfig(mutatedConfig(VALID[env], mutate), env));

describe("budgets in the config", () => {
  it("gives every environment a budget for every kind of stateful volume", () => {
    for (const env of ["dev", "test", "prod"] as const)
      expect(Object.keys(VALID[env].budgets).sort()).toEqual([...VOLUME_BUDGET_KEYS].sort());
  });

  it("refuses a config without budgets, listing every key to add", () => {
    const problems = problemsOf("prod", (c) => delete c.budgets);
    const line = problems.find((p) => p.startsWith("budgets: "));
    expect(line, problems.join("\n")).toBeDefined();
    for (const key of VOLUME_BUDGET_KEYS) expect(line).toContain(key);
  });

  it.each(VOLUME_BUDGET_KEYS.map((k) => [k]))("refuses a missing budgets.%s, naming the key and the fix", (key) => {
    const problems = problemsOf("dev", (c) => delete c.budgets[key]);
    const line = problems.find((p) => p.startsWith(`budgets.${key}: `));
    expect(line, problems.join("\n")).toMatch(new RegExp(`is missing.*add budgets\\.${key}: <MiB>.*environments/<env>\\.ts`));
  });

  it("refuses a budget that is not a whole number of MiB, or below 16", () => {
    expect(problemsOf("dev", (c) => (c.budgets.redisData = 1.5))).toContainEqual(
      expect.stringMatching(/^budgets\.redisData: must be a whole number of MiB/),
    );
    expect(problemsOf("dev", (c) => (c.budgets.vpnKeys = 4))).toContainEqual(
      expect.stringMatching(/^budgets\.vpnKeys: must be at least 16/),
    );
    expect(problemsOf("dev", (c) => (c.budgets.unknownStore = 64))).toContainEqual(expect.stringMatching(/^budgets/));
  });

  it("refuses a backups budget that cannot hold keep + 1 base backups of a full database", () => {
    const problems = problemsOf("prod", (c) => (c.budgets.postgresBackups = 40960));
    expect(problems).toContainEqual(
      expect.stringMatching(/^budgets\.postgresBackups: 40960 MiB cannot hold 3 base backups .*raise it to at least 61440/),
    );
    expect(minBackupsBudgetMb(20480)).toBe(61440);
    // Exactly the minimum passes.
    const ok = structuredClone(VALID.prod) as any;
    ok.budgets.postgresBackups = 61440;
    expect(() => validateEnvironmentConfig(ok, "prod")).not.toThrow();
  });

  it("refuses a Loki budget too small for its retention, and says the smallest that works", () => {
    const problems = problemsOf("prod", (c) => (c.budgets.lokiData = 1024));
    expect(problems).toContainEqual(
      expect.stringMatching(
        new RegExp(`^budgets\\.lokiData: 1024 MiB cannot keep 30 day\\(s\\).*at least ${minLokiBudgetMb(30)}.*retentionDays`),
      ),
    );
    // The same budget is enough for a shorter retention.
    const shorter = structuredClone(VALID.prod) as any;
    shorter.budgets.lokiData = 1024;
    shorter.observability.loki.retentionDays = 3;
    expect(() => validateEnvironmentConfig(shorter, "prod")).not.toThrow();
  });

  it("refuses a Prometheus budget below 512 MiB", () => {
    expect(problemsOf("test", (c) => (c.budgets.prometheusData = 256))).toContainEqual(
      expect.stringMatching(/^budgets\.prometheusData: 256 MiB is too small.*at least 512/),
    );
  });
});

describe("limits derived from the budgets", () => {
  it("caps Prometheus' blocks at 80% of its budget (Prometheus' MB are MiB)", () => {
    expect(prometheusRetentionSize(10240)).toBe("8192MB");
    expect(prometheusRetentionSize(2048)).toBe("1638MB");
    const stack = testStack(OUT, "dev", { random: false });
    const monitoring = new PlatformNetwork(stack, "monitoring", { environment: "dev", purpose: "monitoring" });
    const base = { environment: "dev", image: "prom/prometheus:v3.5.0", networks: [{ network: monitoring }] };
    const prometheus = new PrometheusServer(stack, "prometheus", { ...base, budgetMb: 10240, retentionDays: 30 });
    expect(prometheus.args).toContain("--storage.tsdb.retention.size=8192MB");
    expect(prometheus.args).toContain("--storage.tsdb.retention.time=30d");
    expect(errorOf(() => new PrometheusServer(stack, "p2", { ...base, budgetMb: 100 }))).toMatch(
      /budgetMb: 100 must be a whole number of MiB ≥ 512/,
    );
    expect(errorOf(() => new PrometheusServer(stack, "p3", { ...base, budgetMb: 1024, retentionSize: "1GB" }))).toMatch(
      /budgetMb: is set together with retentionSize/,
    );
  });

  it("sets Loki's ingestion rate so that the retention fits the budget", () => {
    const rate = lokiIngestionRateMb(20480, 30);
    // rate x 30 days / 10 (assumed compression) stays within 80% of 20 GiB.
    expect((rate * 30 * 86400) / LOKI_BUDGET.assumedCompression).toBeLessThanOrEqual(20480 * 0.8);
    expect(rate).toBe(0.063);
    const config = parse(renderLokiConfig({ retentionDays: 30, budgetMb: 20480 }));
    expect(config.limits_config.ingestion_rate_mb).toBe(0.063);
    expect(config.limits_config.retention_period).toBe("720h");
    // Never above Loki's default with a huge budget; the burst still admits a 1 MiB push.
    expect(lokiIngestionRateMb(10_000_000, 1)).toBe(4);
    expect(config.limits_config.ingestion_burst_size_mb).toBeGreaterThanOrEqual(1);
    expect(errorOf(() => renderLokiConfig({ retentionDays: 30, budgetMb: 512 }))).toMatch(/budgetMb 512 keeps 30 day\(s\).*at least 6480/);
    expect(errorOf(() => renderLokiConfig({ retentionDays: 3, budgetMb: 2048, ingestionRateMb: 1 }))).toMatch(
      /budgetMb and ingestionRateMb/,
    );
  });

  it("renders each environment's limits into the stack", () => {
    for (const [env, size, rate] of [
      ["dev", "1638MB", 0.063],
      ["test", "1638MB", 0.054],
      ["prod", "8192MB", 0.063],
    ] as const) {
      const { json } = withMetrics(env);
      const prometheus = json.resource.docker_container!["prometheus_server_container_1DB7D62B"]!;
      expect(prometheus.command).toContain(`--storage.tsdb.retention.size=${size}`);
      expect(parse(uploadedFile(json, "/etc/loki/loki.yaml")!).limits_config.ingestion_rate_mb).toBe(rate);
    }
  });
});

describe("VolumeUsage", () => {
  function build() {
    const stack = testStack(OUT, "dev");
    const backups = new ServiceVolume(stack, "backups", { environment: "dev", service: "postgres", purpose: "backups" });
    const data = new ServiceVolume(stack, "data", { environment: "dev", service: "postgres", purpose: "data" });
    const usage = new VolumeUsage(stack, "volume-usage", {
      environment: "dev",
      image: new ServiceImage(stack, "image", { ref: "postgres:17.6-bookworm" }),
      metricsVolume: volumeUsageMetricsVolume(stack, "dev", false),
      volumes: [
        { volume: data, service: "postgres", budgetMb: 2048 },
        { volume: backups, service: "postgres-backup", budgetMb: 8192 },
      ],
    });
    return { stack, usage, backups, data };
  }

  it("runs hardened: read-only rootfs, SETUID/SETGID only, no-new-privileges, memory limit, every volume read-only but its own", () => {
    const { stack } = build();
    const json = JSON.parse(synthText(stack));
    const job = json.resource.docker_container["volume-usage_job_container_E770382F"];
    expect(job.read_only).toBe(true);
    expect(job.capabilities).toEqual({ add: ["SETGID", "SETUID"], drop: ["ALL"] });
    expect(job.security_opts).toContain("no-new-privileges:true");
    expect(job.memory).toBe(64);
    expect(job.privileged ?? false).toBe(false);
    expect(job.ports ?? []).toEqual([]);
    const mounts = Object.fromEntries((job.volumes as any[]).map((v) => [v.container_path, v.read_only]));
    // It writes only its own metrics volume: a backups volume it could write, a restore would trust.
    expect(mounts).toEqual({
      "/etc/volume-usage": true,
      "/metrics": false,
      "/volumes/dev-postgres-data": true,
      "/volumes/dev-postgres-backups": true,
    });
    const rw = (job.volumes as any[]).filter((v) => !v.read_only).map((v) => v.volume_name);
    expect(rw).toEqual(["${docker_volume.volume-usage-metrics_volume_8CCCE964.name}"]);
    expect(job.env).toContain("METRICS_DIR=/metrics");
    // Its only network is its own internal one: it reaches nothing.
    expect(job.networks_advanced).toHaveLength(1);
    const network = Object.values(json.resource.docker_network as Record<string, any>)[0];
    expect(network.internal).toBe(true);
    expect(job.healthcheck.test).toEqual(["CMD", "sh", "/etc/volume-usage/volume-usage.sh", "health"]);
  });

  it("lists each volume with its literal name, service, budget in bytes and mount path", () => {
    const { usage } = build();
    expect(usage.volumesFile).toBe(
      "dev-postgres-data postgres 2147483648 /volumes/dev-postgres-data\ndev-postgres-backups postgres-backup 8589934592 /volumes/dev-postgres-backups\n",
    );
    expect(usage.script).toBe(VOLUME_USAGE_SCRIPT);
    expect(usage.script).toContain("updateio_volume_used_bytes{volume=");
    expect(usage.script).toContain("updateio_volume_budget_bytes{volume=");
  });

  it("refuses an empty list, an ephemeral volume, a volume listed twice and a bad interval, naming each prop", () => {
    const stack = new TerraformStack(Testing.app({ outdir: OUT }), "dev");
    const image = new ServiceImage(stack, "image", { ref: "postgres:17.6-bookworm" });
    const backups = new ServiceVolume(stack, "backups", { environment: "dev", service: "postgres", purpose: "backups" });
    const config = new ServiceVolume(stack, "config", { environment: "dev", service: "x", purpose: "config", ephemeral: true });
    const metricsVolume = volumeUsageMetricsVolume(stack, "dev", false);
    expect(errorOf(() => new VolumeUsage(stack, "a", { environment: "dev", image, metricsVolume, volumes: [] }))).toMatch(
      /volumes: is empty/,
    );
    // Its metrics go to its own volume only, and that volume is not a store to measure.
    const watched = [{ volume: backups, service: "postgres-backup", budgetMb: 64 }];
    expect(errorOf(() => new VolumeUsage(stack, "c", { environment: "dev", image, metricsVolume: backups, volumes: watched }))).toMatch(
      /metricsVolume: dev-postgres-backups is not the job's own metrics volume \(fix: pass volumeUsageMetricsVolume/,
    );
    expect(
      errorOf(
        () =>
          new VolumeUsage(stack, "d", {
            environment: "dev",
            image,
            metricsVolume,
            volumes: [{ volume: metricsVolume, service: "volume-usage", budgetMb: 16 }],
          }),
      ),
    ).toMatch(/volumes\.0: dev-volume-usage-metrics is the job's own metrics volume, not a store/);
    const message = errorOf(
      () =>
        new VolumeUsage(stack, "b", {
          environment: "dev",
          image,
          metricsVolume,
          intervalSeconds: 5,
          volumes: [
            { volume: config, service: "x", budgetMb: 16 },
            { volume: backups, service: "postgres-backup", budgetMb: 0 },
            { volume: backups, service: "postgres-backup", budgetMb: 64 },
          ],
        }),
    );
    expect(message).toMatch(/volumes\.0: dev-x-config|volumes\.0: .* is ephemeral/);
    expect(message).toMatch(/volumes\.1\.budgetMb: 0 must be a whole number of MiB/);
    expect(message).toMatch(/volumes\.2: .* is listed twice/);
    expect(message).toMatch(/intervalSeconds: 5 must be/);
  });

  it("measures every stateful volume of each stack, each with its environment's budget", () => {
    for (const env of ["dev", "test", "prod"] as const) {
      const { json } = withMetrics(env);
      const listed = uploadedFile(json, "/etc/volume-usage/volumes.txt")!
        .trim()
        .split("\n")
        .map((l) => l.split(" ")[0]);
      // Every volume but the ephemeral ones and the job's own metrics file.
      const stateful = Object.values(json.resource.docker_volume as Record<string, any>)
        .filter((v) => !(v.labels as { label: string }[]).some((l) => l.label === "io.updateio.ephemeral"))
        .map((v) => v.name as string)
        .filter((n) => n !== `${env}-volume-usage-metrics`);
      expect(listed.sort(), env).toEqual(stateful.sort());
      expect(listed).toContain(`${env}-postgres-backups`);
    }
  });
});
