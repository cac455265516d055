/**
 * Bench workload for `npm run bench` (scripts/bench.ts), section 5: one environment (BENCH_ENV,
 * default test) built as main.ts builds it, on the runtime its file chooses (BENCH_RUNTIME=swarm
 * for test and prod) or switched to plain containers (BENCH_RUNTIME=containers; the config is
 * validated again with that runtime). One stack per process, so the two runs differ only in the
 * runtime of the five app services.
 *
 * Run like the app itself (`npx tsx scripts/bench/runtime-app.ts` with CDKTF_OUTDIR set). When
 * BENCH_REPORT names a file, the in-process figures are written there as JSON; nothing is printed.
 */
import { writeFileSync } from "node:fs";
import { App } from "cdktf";
import { EnvironmentStack } from "../../environments/environment-stack";
import { loadEnvironmentConfig } from "../../environments/load";
import { prepareSynthProcess } from "../../environments/synth-process";
import { onContainers } from "./runtime";

function main(): void {
  const loaded = performance.now();
  prepareSynthProcess(); // as main.ts does
  const runtime = process.env.BENCH_RUNTIME ?? "swarm";
  const name = process.env.BENCH_ENV ?? "test";
  if (runtime !== "swarm" && runtime !== "containers") throw new Error(`BENCH_RUNTIME must be swarm or containers, got ${runtime}`);

  let t = performance.now();
  const configured = loadEnvironmentConfig(name);
  if (runtime === "swarm" && configured.runtime.kind !== "swarm")
    throw new Error(`environment ${name} does not run on Swarm (runtime.kind ${configured.runtime.kind})`);
  const config = runtime === "containers" ? onContainers(configured) : configured;
  const configMs = performance.now() - t;

  t = performance.now();
  const app = new App();
  new EnvironmentStack(app, config.name, config);
  const constructMs = performance.now() - t;

  t = performance.now();
  app.synth();
  const synthMs = performance.now() - t;

  const report = process.env.BENCH_REPORT;
  if (report)
    writeFileSync(
      report,
      JSON.stringify({
        runtime,
        environment: name,
        loadMs: loaded,
        configMs,
        constructMs,
        synthMs,
        maxRssMb: process.resourceUsage().maxRSS / 1024,
      }),
    );
}

main();
