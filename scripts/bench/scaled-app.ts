/**
 * Bench workload for `npm run bench` (scripts/bench.ts), section 3: the real app (dev, test and prod
 * EnvironmentStacks, built exactly as main.ts builds them) with every stack's app services
 * multiplied by BENCH_SCALE (1 = the real app, 10 = 50 app services per stack, 50 = 250).
 *
 * Each extra service is one more entry in `services`, a copy of one of the five real entries (round
 * robin) under its own name, so the stack wires it exactly as the original: its own image, secrets,
 * broker user, data-tier connections, network pairs and edge route (on an `x<n>-` host). Copies
 * publish no debug ports (two containers cannot bind the same host port).
 *
 * Run like the app itself (`npx tsx scripts/bench/scaled-app.ts` with CDKTF_OUTDIR set). When
 * BENCH_REPORT names a file, the in-process figures (synth broken down by scripts/bench/synth-timing.ts)
 * are written there as JSON; nothing is printed.
 * The process is prepared as main.ts prepares it (environments/synth-process.ts); BENCH_PLAIN_PROCESS=1
 * leaves node and cdktf as they are (for a what-if).
 */
import { writeFileSync } from "node:fs";
import { App, TerraformResource } from "cdktf";
import { EnvironmentStack } from "../../environments/environment-stack";
import { ENVIRONMENTS, loadEnvironmentConfig, validateEnvironmentConfig } from "../../environments/load";
import type { EnvironmentConfig } from "../../environments/schema";
import { prepareSynthProcess } from "../../environments/synth-process";
import { prefetchTerraformVersion } from "../../environments/terraform-version";
import { timeSynthPhases } from "./synth-timing";

/** The five real services, in config order. */
const KINDS = ["api", "discord-bot", "telegram-bot", "admin-panel", "mini-app"] as const;

/** Number of app services per stack at a multiplier (the five real ones included). */
export function appServicesPerStack(multiplier: number): number {
  return KINDS.length * multiplier;
}

/** The config with `multiplier - 1` copies of each real service entry, named `<service>-x<n>`. */
export function scaledConfig(config: EnvironmentConfig, multiplier: number): EnvironmentConfig {
  const services: Record<string, unknown> = { ...config.services };
  const extra = appServicesPerStack(multiplier) - KINDS.length;
  for (let i = 0; i < extra; i++) {
    const kind = KINDS[i % KINDS.length]!;
    const n = Math.floor(i / KINDS.length) + 2;
    const original = config.services[kind]!;
    services[`${kind}-x${n}`] = {
      ...original,
      debugPorts: [],
      routes: original.routes.map((r) => ({ ...r, host: `x${n}-${r.host}` })),
    };
  }
  return validateEnvironmentConfig({ ...config, services }, config.name);
}

async function main(): Promise<void> {
  const loaded = performance.now(); // process start → every module loaded (node + tsx boot, imports)
  // As main.ts does (BENCH_PLAIN_PROCESS=1 leaves node and cdktf as they are, to price these settings).
  if (process.env.BENCH_PLAIN_PROCESS !== "1") prepareSynthProcess();
  const multiplier = Number(process.env.BENCH_SCALE ?? "1");
  if (!Number.isInteger(multiplier) || multiplier < 1)
    throw new Error(`BENCH_SCALE must be a whole number ≥ 1, got ${process.env.BENCH_SCALE}`);

  const synthTimes = timeSynthPhases();
  let t = performance.now();
  // Dev's default network pool (a /16: 256 networks) is too small for 250 services' networks.
  const vars = { ...process.env, UPDATEIO_DEV_NETWORK_POOL: process.env.UPDATEIO_DEV_NETWORK_POOL ?? "10.0.0.0/8" };
  const configs = ENVIRONMENTS.map((name) => scaledConfig(loadEnvironmentConfig(name, vars), multiplier));
  const configMs = performance.now() - t;

  const cpuStart = process.cpuUsage();
  t = performance.now();
  const versionKnown = prefetchTerraformVersion(configs); // as main.ts: beside construction
  const app = new App();
  for (const config of configs) new EnvironmentStack(app, config.name, config);
  const constructMs = performance.now() - t;

  t = performance.now();
  await versionKnown;
  const versionWaitMs = performance.now() - t;
  t = performance.now();
  app.synth();
  const synthMs = performance.now() - t;
  // CPU time of construct + synth: steadier than wall time on a shared machine.
  const cpu = process.cpuUsage(cpuStart);

  const report = process.env.BENCH_REPORT;
  if (report) {
    const resources = app.node.findAll().filter((c): c is TerraformResource => TerraformResource.isTerraformResource(c));
    writeFileSync(
      report,
      JSON.stringify({
        multiplier,
        stacks: configs.length,
        appServicesPerStack: appServicesPerStack(multiplier),
        resources: resources.length,
        containers: resources.filter((r) => r.terraformResourceType === "docker_container").length,
        loadMs: loaded,
        configMs,
        constructMs,
        versionWaitMs,
        synthMs,
        ...synthTimes,
        cpuMs: (cpu.user + cpu.system) / 1000,
        maxRssMb: process.resourceUsage().maxRSS / 1024,
      }),
    );
  }
}

void main();
