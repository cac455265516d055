/**
 * Bench workload for `npm run bench` (scripts/bench.ts), section 3: cdktf's own cost per resource,
 * with none of our code. One stack with the provider, one network and BENCH_FLOOR_N docker_container
 * resources with the attributes a typical app container of ours sets (user, read-only rootfs, limits,
 * ten env entries, labels, one network, a healthcheck, capabilities, tmpfs, log options, an upload, a
 * mount). The slope over two sizes is what cdktf and the provider bindings charge per such resource
 * (construct, prepare, render, JSON to disk): the floor under our per-service cost.
 *
 * Run like the app itself, process prepared as main.ts prepares it; writes its figures as JSON to
 * BENCH_REPORT and prints nothing.
 */
import { writeFileSync } from "node:fs";
import { Container } from "@cdktf/provider-docker/lib/container";
import { Network } from "@cdktf/provider-docker/lib/network";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { App, TerraformStack } from "cdktf";
import { prepareSynthProcess } from "../../environments/synth-process";

prepareSynthProcess();
const count = Number(process.env.BENCH_FLOOR_N ?? "100");
if (!Number.isInteger(count) || count < 1) throw new Error(`BENCH_FLOOR_N must be a whole number ≥ 1, got ${process.env.BENCH_FLOOR_N}`);

const cpuStart = process.cpuUsage();
const start = performance.now();
const app = new App();
const stack = new TerraformStack(app, "floor");
new DockerProvider(stack, "docker", {});
const network = new Network(stack, "net", { name: "floor", internal: true });
for (let i = 0; i < count; i++) {
  new Container(stack, `c${i}`, {
    name: `svc-${i}`,
    image: "nginx:1.27",
    user: "1000:1000",
    readOnly: true,
    memory: 256,
    cpuShares: 512,
    env: Array.from({ length: 10 }, (_, k) => `KEY_${k}=value-${k}`),
    labels: Array.from({ length: 5 }, (_, k) => ({ label: `l${k}`, value: `v${k}` })),
    networksAdvanced: [{ name: network.name, aliases: [`svc-${i}`] }],
    healthcheck: { test: ["CMD", "true"], interval: "10s", timeout: "5s", retries: 3, startPeriod: "10s" },
    capabilities: { drop: ["ALL"] },
    securityOpts: ["no-new-privileges:true"],
    tmpfs: { "/tmp": "size=64m" },
    logDriver: "json-file",
    logOpts: { "max-size": "10m", "max-file": "3" },
    upload: [{ file: "/etc/app.conf", content: `instance=${i}` }],
    mounts: [{ target: "/data", type: "volume", source: `data-${i}` }],
  });
}
app.synth();
const cpu = process.cpuUsage(cpuStart);

const report = process.env.BENCH_REPORT;
if (report)
  writeFileSync(
    report,
    JSON.stringify({ containers: count, inProcessMs: performance.now() - start, cpuMs: (cpu.user + cpu.system) / 1000 }),
  );
