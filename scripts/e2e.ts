/**
 * `npm run e2e`: the `test` stack for real, on the Docker engine its provider points at
 * (UPDATEIO_TEST_DOCKER_HOST at synth, default the local socket), then gone again.
 *
 *   preflight  terraform on PATH; the Docker engine answers; `npx cdktf synth`; state/test.tfstate
 *              holds no deployment (e2e destroys what it deploys and refuses to take over one);
 *              when the stack has Swarm services (test and prod run the app services as
 *              docker_service), the engine is a Swarm manager (docker info: Swarm.LocalNodeState
 *              active, ControlAvailable); no container, service, secret or config of another
 *              deployment has a name the stack's take; the published host ports are free;
 *              `terraform init` works (configuration valid, providers installable); every image
 *              (docker_image resources and every service's task_spec.container_spec.image) is
 *              present locally or can be pulled (placeholder digests in environments/releases.json
 *              cannot). A missing capability (terraform, engine, an engine that is not in a Swarm,
 *              providers, images) SKIPS the run with the reason and what to run; a problem in this
 *              project or on this machine (invalid configuration, a clash, a busy port, a Swarm
 *              worker, a locked or broken Swarm) FAILS it.
 *   deploy     terraform apply in cdktf.out/stacks/test (what `npx cdktf deploy test --auto-approve`
 *              runs after its synth). Variables without a default (the bot tokens) get a placeholder
 *              TF_VAR_ when unset: the bots then cannot log in to Discord/Telegram.
 *   checks     every container ready: healthy (healthcheck), running (none), or exited 0 (the
 *              migration job); every Swarm service converged: as many tasks running (so healthy:
 *              Swarm holds a task in "starting" until its healthcheck passes) as its replica count;
 *              the edge answers https://127.0.0.1:<edge port>/health for the API's host name
 *              (Caddy's internal CA: the certificate is not verified); from inside a running API
 *              task container on the manager (label com.docker.swarm.service.name=test-api; on the
 *              container runtime the first API container; the team's image: it must have `node`, as
 *              its healthcheck does) a TCP connect to Postgres, the pooler, Redis and its Sentinels,
 *              and RabbitMQ; a second plan (-detailed-exitcode) shows no changes.
 *   destroy    terraform destroy, always once apply has started: also after a failed check or Ctrl-C
 *              (a second Ctrl-C leaves without destroying and prints how to clean up).
 *
 * Exit 1 when a step FAILED, else 0; RESULT: SKIPPED means nothing was deployed (not a pass).
 * Options: --health-timeout <seconds> (default 600).
 */
import { existsSync, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { variableName } from "../environments/variables";
import { parseFlagsOrExit } from "./lib/argv";
import { httpsGet, portFree, TCP_PROBE, waitUntilConverged, waitUntilReady, type WaitResult } from "./lib/checks";
import { knownCauses } from "./lib/diagnose";
import { Docker, isPlaceholderDigest, registryOf } from "./lib/docker";
import { run, tail } from "./lib/process";
import { Report } from "./lib/report";
import {
  containersOf,
  dockerHostOf,
  envMap,
  listStacks,
  literalOutput,
  localStatePath,
  pulledImages,
  requiredProviders,
  ROOT,
  servicesOf,
  swarmClashes,
  swarmObjectsOf,
  synthesize,
  usesSwarm,
  variablesWithoutDefault,
  type ServiceRef,
  type StackInfo,
} from "./lib/stack";
import { advertiseAddressHint, dockerCommand, swarmVerdict } from "./lib/swarm";
import { classifyInit, cliConfig, findTerraform, mirrorInstructions, summarizeConfigErrors, type CliConfig } from "./lib/terraform";

const STACK = "test";
/** The variables that override the team's images (environments/variables.ts). */
const TEAM_IMAGES = ["API_IMAGE", "DISCORD_BOT_IMAGE", "TELEGRAM_BOT_IMAGE", "ADMIN_PANEL_IMAGE", "MINI_APP_IMAGE"] as const;
const SCOPE = "e2e";

let interrupts = 0;
const interrupted = () => interrupts > 0;

interface Blocker {
  readonly step: string;
  readonly reason: string;
}

interface Preflight {
  skip: Blocker[];
  fail: Blocker[];
}

interface Context {
  readonly report: Report;
  readonly cfg: CliConfig;
  readonly terraform: string;
  readonly stack: StackInfo;
  readonly docker: Docker;
  readonly env: NodeJS.ProcessEnv;
  /** The stack's Swarm services (empty on the container runtime). */
  readonly services: readonly ServiceRef[];
  /** The stack has services, secrets or configs: it needs a Swarm manager. */
  readonly swarm: boolean;
}

const USAGE = "usage: npm run e2e [-- --health-timeout <seconds>]";

function parseHealthTimeout(argv: readonly string[]): number {
  let seconds = 600;
  parseFlagsOrExit(argv, USAGE, (flag, value, arg) => {
    if (flag !== "--health-timeout") throw new Error(`unknown option ${arg}`);
    const v = value();
    seconds = /^[0-9]+$/.test(v) ? Number(v) : Number.NaN;
    if (!(seconds >= 10)) throw new Error("--health-timeout needs a whole number of seconds >= 10");
  });
  return seconds;
}

function tf(ctx: Context, args: readonly string[], timeoutSeconds: number, echo?: string) {
  return run(ctx.terraform, [...args, "-no-color"], { cwd: ctx.stack.dir, env: ctx.env, timeoutSeconds, echoPrefix: echo });
}

// ---------------------------------------------------------------------------------------------
// Preflight: every reason not to deploy, collected before anything is created
// ---------------------------------------------------------------------------------------------

function checkState(stack: StackInfo, pre: Preflight): void {
  const file = localStatePath(stack);
  if (!file || !existsSync(file)) return;
  try {
    const resources = (JSON.parse(readFileSync(file, "utf8")) as { resources?: unknown[] }).resources ?? [];
    if (resources.length > 0) {
      pre.fail.push({
        step: "preflight: state",
        reason: `${path.relative(ROOT, file)} already holds ${resources.length} resources: a test deployment exists and e2e would destroy it. Destroy it first (npx cdktf destroy test) or move that state file away`,
      });
    }
  } catch (e) {
    pre.fail.push({ step: "preflight: state", reason: `${path.relative(ROOT, file)} is not readable state: ${(e as Error).message}` });
  }
}

/** Whether the engine can take Swarm services: a manager (SKIP when not in a Swarm, FAIL when it is but cannot). */
async function checkSwarm(ctx: Context, pre: Preflight): Promise<boolean> {
  const { info, problem } = await ctx.docker.swarm();
  if (!info) {
    pre.fail.push({
      step: "preflight: swarm manager",
      reason: `could not read the engine's Swarm state at ${ctx.docker.host}: ${problem}`,
    });
    return false;
  }
  const local = Object.entries(os.networkInterfaces()).flatMap(([iface, addrs]) =>
    (addrs ?? []).filter((a) => a.family === "IPv4").map((a) => ({ iface, address: a.address })),
  );
  const verdict = swarmVerdict(info, ctx.docker.host, advertiseAddressHint(ctx.docker.host, local));
  if (verdict.kind === "ok") {
    ctx.report.passed(
      SCOPE,
      "preflight: swarm manager",
      `${verdict.detail} (${ctx.services.length} services, ${swarmObjectsOf(ctx.stack.json).filter((o) => o.kind !== "service").length} secrets/configs to create)`,
    );
    return true;
  }
  (verdict.kind === "skip" ? pre.skip : pre.fail).push({ step: "preflight: swarm manager", reason: verdict.reason });
  return false;
}

async function checkClashesAndPorts(ctx: Context, manager: boolean, pre: Preflight): Promise<void> {
  const { docker, stack } = ctx;
  const containers = containersOf(stack.json);
  const existing = new Set(await docker.containerNames([]));
  const clashes = containers.map((c) => c.name).filter((n) => existing.has(n));
  if (clashes.length > 0) {
    pre.fail.push({
      step: "preflight: container names",
      reason: `containers named like the stack's already exist (${clashes.slice(0, 5).join(", ")}${clashes.length > 5 ? " ..." : ""}), not in state/test.tfstate: remove them (docker rm -f ...) first`,
    });
  }
  // Only a manager lists services, secrets and configs; without one the Swarm check has already stopped the run.
  if (manager) {
    const lists = await Promise.all((["service", "secret", "config"] as const).map((k) => docker.swarmObjectNames(k)));
    const problems = lists.map((l) => l.problem).filter((p): p is string => p !== undefined);
    if (problems.length > 0)
      pre.fail.push({ step: "preflight: swarm object names", reason: `could not list services, secrets and configs: ${problems[0]}` });
    const found = swarmClashes(swarmObjectsOf(stack.json), { service: lists[0]!.names, secret: lists[1]!.names, config: lists[2]!.names });
    if (found.length > 0) {
      const rm = (kind: string) => found.filter((c) => c.kind === kind).map((c) => c.name);
      const commands = (["service", "secret", "config"] as const)
        .filter((k) => rm(k).length > 0)
        .map((k) => dockerCommand(docker.host, `${k} rm ${rm(k).slice(0, 5).join(" ")}${rm(k).length > 5 ? " ..." : ""}`));
      pre.fail.push({
        step: "preflight: swarm object names",
        reason: `Swarm objects named like the stack's already exist (${found
          .slice(0, 5)
          .map((c) => `${c.kind} ${c.name}`)
          .join(
            ", ",
          )}${found.length > 5 ? " ..." : ""}), not in state/test.tfstate: another test deployment; remove them first:\n${commands.map((c) => `  ${c}`).join("\n")}`,
      });
    }
  }
  for (const c of [...containers, ...ctx.services]) {
    for (const p of c.ports) {
      if (p.external !== undefined && !(await portFree(p.ip ?? "0.0.0.0", p.external))) {
        pre.fail.push({
          step: "preflight: host ports",
          reason: `${p.ip ?? "0.0.0.0"}:${p.external} (published by ${c.name}) is already in use: stop what listens there, or set ${variableName(STACK, "EDGE_HTTP_PORT")}/${variableName(STACK, "EDGE_HTTPS_PORT")}`,
        });
      }
    }
  }
}

async function checkInit(ctx: Context, pre: Preflight): Promise<boolean> {
  const init = await tf(ctx, ["init", "-input=false"], 600);
  const outcome = classifyInit(init, requiredProviders(ctx.stack.json));
  if (outcome.kind === "ok") return true;
  if (outcome.kind === "config") {
    pre.fail.push({
      step: "preflight: terraform init",
      reason: [
        `terraform rejects ${ctx.stack.relDir}/cdk.tf.json (${outcome.diagnostics.length} errors; npm run test:terraform shows them all):`,
        ...summarizeConfigErrors(outcome.diagnostics, 3),
        ...knownCauses(outcome.diagnostics),
      ].join("\n"),
    });
  } else if (outcome.kind === "providers") {
    pre.skip.push({
      step: "preflight: terraform init",
      reason: `terraform init could not install ${outcome.providers.join(", ")}: ${outcome.firstError}; provide a filesystem mirror (commands at the end)`,
    });
  } else {
    pre.fail.push({ step: "preflight: terraform init", reason: `terraform init failed: ${outcome.message}` });
  }
  return false;
}

/**
 * Images: placeholders can never be pulled; others must be present or pullable. They are pulled
 * only when nothing else blocks the run; otherwise the registry is asked (no download).
 */
async function checkImages(ctx: Context, pre: Preflight): Promise<string> {
  // Service images are strings in the task spec, not docker_image resources: each node pulls them itself.
  const refs = pulledImages(ctx.stack.json);
  const placeholders = refs.filter(isPlaceholderDigest);
  if (placeholders.length > 0) {
    pre.skip.push({
      step: "preflight: images",
      reason:
        `environments/releases.json holds placeholder digests (sha256:000...) for ${placeholders.map((r) => r.split("@")[0]).join(", ")}: ` +
        `these are the team's images; set ${TEAM_IMAGES.map((k) => variableName(STACK, k)).join(", ")} to released name:tag@sha256:<digest> references`,
    });
  }
  const candidates = refs.filter((r) => !isPlaceholderDigest(r));
  const missing: string[] = [];
  for (const ref of candidates) if (!(await ctx.docker.imagePresent(ref))) missing.push(ref);
  const present = candidates.length - missing.length;
  if (missing.length === 0) return `${present}/${refs.length} present locally`;

  const blocked = pre.skip.length > 0 || pre.fail.length > 0;
  // registry → why it failed and which images; one unreachable registry is asked only once.
  const failures = new Map<string, { reason: string; refs: string[] }>();
  const unreachable = /dial tcp|no such host|connection refused|i\/o timeout|TLS handshake|network is unreachable|error pinging/i;
  let unavailable = 0;
  for (const ref of missing) {
    const registry = registryOf(ref);
    const known = failures.get(registry);
    if (known && unreachable.test(known.reason)) {
      known.refs.push(ref);
      unavailable++;
      continue;
    }
    if (!blocked) process.stdout.write(`  pulling ${ref}\n`);
    const r = blocked ? await ctx.docker.pullable(ref) : await ctx.docker.pull(ref);
    if (r.ok) continue;
    unavailable++;
    const key = unreachable.test(r.error ?? "") ? registry : `${registry} ${ref}`;
    const entry = failures.get(key) ?? { reason: r.error ?? "unknown error", refs: [] };
    entry.refs.push(ref);
    failures.set(key, entry);
  }
  if (unavailable > 0) {
    const lines = [...failures.entries()].map(
      ([key, f]) => `  ${key.split(" ")[0]}: ${f.reason} — ${f.refs.map((r) => r.split("@")[0]).join(", ")}`,
    );
    pre.skip.push({
      step: "preflight: images",
      reason: `${unavailable} of ${refs.length} images are neither present locally nor pullable (${blocked ? "asked the registries, nothing downloaded" : "docker pull"}):\n${lines.join("\n")}`,
    });
  }
  const how = blocked ? "pullable (not pulled: the run is blocked anyway)" : "pulled";
  return `${present} present locally, ${missing.length - unavailable} ${how}, ${unavailable} unavailable, ${placeholders.length} placeholders`;
}

// ---------------------------------------------------------------------------------------------
// The checks on the deployed stack
// ---------------------------------------------------------------------------------------------

async function checkHealth(ctx: Context, timeoutSeconds: number): Promise<boolean> {
  const containers = containersOf(ctx.stack.json).filter((c) => !c.seed);
  // Containers and services are waited for together; one side giving up stops the other.
  let gaveUp = false;
  const stop = () => gaveUp || interrupted();
  const settle = (r: WaitResult) => {
    if (!r.ok) gaveUp = true;
    return r;
  };
  const [result, services] = await Promise.all([
    waitUntilReady(ctx.docker, containers, timeoutSeconds, stop).then(settle),
    ctx.services.length > 0 ? waitUntilConverged(ctx.docker, ctx.services, timeoutSeconds, stop).then(settle) : undefined,
  ]);
  if (result.ok) {
    ctx.report.passed(
      SCOPE,
      "containers ready",
      `${containers.length} containers healthy/running/completed after ${result.seconds.toFixed(0)} s`,
    );
  } else {
    const first = containers.find((c) => result.notReady.some((n) => n.startsWith(`${c.name}:`)));
    const logs = first ? `\nlast log lines of ${first.name}:\n${tail(await ctx.docker.logs(first.name), 10)}` : "";
    ctx.report.failed(
      SCOPE,
      "containers ready",
      `${result.notReady.length} not ready after ${result.seconds.toFixed(0)} s:\n${result.notReady.map((n) => `  ${n}`).join("\n")}${logs}`,
    );
  }
  if (!services) return result.ok;
  if (services.ok) {
    const tasks = ctx.services.reduce((n, s) => n + (s.replicas ?? 1), 0);
    ctx.report.passed(
      SCOPE,
      "services converged",
      `${ctx.services.length} services, ${tasks} tasks running (healthy) after ${services.seconds.toFixed(0)} s`,
    );
  } else {
    const first = ctx.services.find((s) => services.notReady.some((n) => n.startsWith(`${s.name}:`)));
    const logs = first
      ? `\nlast log lines of ${first.name} (docker service logs):\n${tail(await ctx.docker.serviceLogs(first.name), 10)}`
      : "";
    ctx.report.failed(
      SCOPE,
      "services converged",
      `${services.notReady.length} not converged after ${services.seconds.toFixed(0)} s:\n${services.notReady.map((n) => `  ${n}`).join("\n")}${logs}`,
    );
  }
  return result.ok && services.ok;
}

async function checkEdge(ctx: Context): Promise<void> {
  const urls = literalOutput(ctx.stack.json, "urls") as { api?: string } | undefined;
  if (!urls?.api) return ctx.report.failed(SCOPE, "edge answers", "the stack has no literal urls.api output to test");
  const url = new URL(urls.api);
  const port = Number(url.port || 443);
  const edge = containersOf(ctx.stack.json).find((c) => c.ports.some((p) => p.external === port));
  const address = edge?.ports.find((p) => p.external === port)?.ip ?? "127.0.0.1";
  const target = `https://${address === "0.0.0.0" ? "127.0.0.1" : address}:${port}/health (Host ${url.hostname})`;
  let last: { status?: number; body?: string; error?: string } = {};
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline && !interrupted()) {
    last = await httpsGet(address === "0.0.0.0" ? "127.0.0.1" : address, port, url.hostname, "/health");
    if (last.status !== undefined && last.status >= 200 && last.status < 300) {
      return ctx.report.passed(
        SCOPE,
        "edge answers",
        `${target}: HTTP ${last.status} (certificate from Caddy's internal CA, not verified)`,
      );
    }
    await new Promise((r) => setTimeout(r, 3000));
  }
  ctx.report.failed(SCOPE, "edge answers", `${target}: ${last.error ?? `HTTP ${last.status}: ${(last.body ?? "").slice(0, 200)}`}`);
}

/** Where to exec: a running API task container (Swarm), or the first API container. */
async function apiContainer(ctx: Context): Promise<{ name?: string; env?: Record<string, string>; why?: string; skip?: boolean }> {
  const service = ctx.services.find((s) => s.env.SERVICE_NAME === "api");
  if (service) {
    const local = await ctx.docker.taskContainers(service.name);
    if (local.length > 0) return { name: local.sort()[0], env: { ...service.env } };
    // Task containers are visible only on their own node's engine.
    const { tasks } = await ctx.docker.serviceTasks(service.name);
    const elsewhere = tasks
      .filter((t) => t.DesiredState === "Running" && t.CurrentState.startsWith("Running"))
      .map((t) => t.Node)
      .filter((n): n is string => !!n);
    if (elsewhere.length > 0)
      return {
        skip: true,
        why: `no ${service.name} task runs on the engine the provider talks to (${ctx.docker.host}); they run on ${[...new Set(elsewhere)].join(", ")}: exec there`,
      };
    return { why: `no running task container of ${service.name} (label com.docker.swarm.service.name=${service.name})` };
  }
  const api = containersOf(ctx.stack.json).find((c) => !c.seed && !c.oneShot && envMap(c.env).SERVICE_NAME === "api");
  return api ? { name: api.name, env: envMap(api.env) } : { why: "no API container or service in the stack" };
}

async function checkBackends(ctx: Context): Promise<void> {
  const step = "api reaches postgres, redis, rabbitmq";
  const found = await apiContainer(ctx);
  if (!found.name || !found.env)
    return found.skip ? ctx.report.skipped(SCOPE, step, found.why!) : ctx.report.failed(SCOPE, step, found.why!);
  const { name: container, env } = found;
  const endpoints = (literalOutput(ctx.stack.json, "internal_endpoints") ?? {}) as Record<string, string>;
  const targets = new Map<string, [string, string]>();
  const add = (hostPort: string | undefined) => {
    if (!hostPort) return;
    const i = hostPort.lastIndexOf(":");
    if (i > 0) targets.set(hostPort, [hostPort.slice(0, i), hostPort.slice(i + 1)]);
  };
  add(endpoints.postgres);
  add(env.DATABASE_HOST && `${env.DATABASE_HOST}:${env.DATABASE_PORT}`);
  add(endpoints.redis);
  for (const s of (env.REDIS_SENTINELS ?? "").split(",")) add(s.trim() || undefined);
  add(endpoints.rabbitmq);
  add(env.AMQP_HOST && `${env.AMQP_HOST}:${env.AMQP_PORT}`);
  const r = await ctx.docker.exec(container, ["node", "-e", TCP_PROBE, JSON.stringify([...targets.values()])], 60);
  let results: Array<[string, string]> = [];
  try {
    results = JSON.parse(r.stdout.trim().split("\n").pop() ?? "[]") as Array<[string, string]>;
  } catch {
    // handled below
  }
  if (results.length === 0) {
    return ctx.report.failed(
      SCOPE,
      step,
      `docker exec ${container} node -e ... printed no result (the API image is the team's and must have node, as its healthcheck does): ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
    );
  }
  const bad = results.filter(([, v]) => v !== "ok");
  const line = results.map(([t, v]) => `${t} ${v}`).join(", ");
  if (bad.length === 0) ctx.report.passed(SCOPE, step, `from ${container} (TCP connect): ${line}`);
  else ctx.report.failed(SCOPE, step, `from ${container} (TCP connect): ${line}`);
}

async function checkNoDrift(ctx: Context): Promise<void> {
  const plan = await tf(ctx, ["plan", "-detailed-exitcode", "-input=false"], 900);
  if (plan.code === 0) return ctx.report.passed(SCOPE, "second plan: no changes", "terraform plan -detailed-exitcode = 0");
  if (plan.code === 2) {
    const changes = plan.output
      .split("\n")
      .filter((l) => /^\s*# \S+ (will be|must be)/.test(l))
      .map((l) => `  ${l.trim()}`);
    return ctx.report.failed(
      SCOPE,
      "second plan: no changes",
      `the plan right after apply is not empty (the provider reads something back differently):\n${changes.slice(0, 15).join("\n")}${changes.length > 15 ? `\n  ... ${changes.length - 15} more` : ""}`,
    );
  }
  ctx.report.failed(SCOPE, "second plan: no changes", tail(plan.output, 15));
}

async function destroy(ctx: Context): Promise<void> {
  process.stdout.write("\ndestroying the test stack (terraform destroy)\n");
  const r = await tf(ctx, ["destroy", "-auto-approve", "-input=false"], 1800, "  [destroy] ");
  if (r.code === 0) return ctx.report.passed(SCOPE, "destroy", `${r.seconds.toFixed(0)} s`);
  ctx.report.failed(
    SCOPE,
    "destroy",
    `terraform destroy failed; clean up by hand:\n  terraform -chdir=${ctx.stack.relDir} destroy -auto-approve\n  docker ps -a --filter label=io.updateio.environment=${STACK}\n${ctx.swarm ? `  docker service ls --filter label=io.updateio.environment=${STACK}; docker secret ls --filter label=io.updateio.environment=${STACK}\n` : ""}${tail(r.output, 10)}`,
  );
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const healthTimeout = parseHealthTimeout(process.argv.slice(2));
  const report = new Report("e2e");
  // Known once the stack is read: a stack with Swarm services has one more step.
  let withServices = false;
  const skipRest = (reason: string) => {
    const health = withServices ? ["containers ready", "services converged"] : ["containers ready"];
    for (const step of ["deploy", ...health, "edge answers", "api reaches postgres, redis, rabbitmq", "second plan: no changes", "destroy"])
      report.skipped(SCOPE, step, reason);
  };
  process.stdout.write(`e2e: deploy the ${STACK} stack to Docker, check it, destroy it\n`);
  const cfg = cliConfig(process.env);
  for (const note of cfg.notes) process.stdout.write(`note: ${note}\n`);

  const terraformBin = await findTerraform(cfg.env);
  if (!terraformBin.path || terraformBin.problem) {
    report.skipped(SCOPE, "preflight", terraformBin.problem ?? "terraform not found");
    skipRest("preflight did not pass");
    return report.finish();
  }
  const synth = await synthesize(cfg.env);
  if (!synth.ok) {
    report.failed(SCOPE, "synth", synth.message);
    skipRest("synth failed");
    return report.finish();
  }
  report.passed(SCOPE, "synth", synth.message);
  const stack = listStacks().find((s) => s.name === STACK);
  if (!stack) {
    report.failed(SCOPE, "preflight", `the app has no "${STACK}" stack`);
    skipRest("no test stack");
    return report.finish();
  }

  const env: NodeJS.ProcessEnv = { ...cfg.env };
  const placeholders = variablesWithoutDefault(stack.json).filter((v) => !env[`TF_VAR_${v}`]);
  for (const v of placeholders) env[`TF_VAR_${v}`] = "e2e-placeholder-not-a-real-token";
  const ctx: Context = {
    report,
    cfg,
    terraform: terraformBin.path,
    stack,
    docker: new Docker(dockerHostOf(stack.json)),
    env,
    services: servicesOf(stack.json),
    swarm: usesSwarm(stack.json),
  };
  withServices = ctx.services.length > 0;

  const pre: Preflight = { skip: [], fail: [] };
  const engine = await ctx.docker.engine();
  if (engine.ok) report.passed(SCOPE, "preflight: docker engine", `${ctx.docker.host} (Docker ${engine.version})`);
  else pre.skip.push({ step: "preflight: docker engine", reason: engine.problem! });
  checkState(stack, pre);
  const manager = engine.ok && ctx.swarm && (await checkSwarm(ctx, pre));
  if (engine.ok) await checkClashesAndPorts(ctx, manager, pre);
  const initOk = await checkInit(ctx, pre);
  if (initOk)
    report.passed(SCOPE, "preflight: terraform init", `${stack.relDir} (local state ${path.relative(ROOT, localStatePath(stack) ?? "")})`);
  if (engine.ok) {
    const images = await checkImages(ctx, pre);
    process.stdout.write(`  images: ${images}\n`);
  }
  for (const b of pre.fail) report.failed(SCOPE, b.step, b.reason);
  for (const b of pre.skip) report.skipped(SCOPE, b.step, b.reason);
  if (pre.fail.length > 0 || pre.skip.length > 0) {
    skipRest(pre.fail.length > 0 ? "preflight failed" : "preflight: a requirement is missing (above)");
    const code = report.finish();
    if (pre.skip.some((b) => b.reason.startsWith("terraform init could not install")))
      process.stdout.write(`\n${mirrorInstructions(requiredProviders(stack.json)).join("\n")}\n`);
    return code;
  }
  if (placeholders.length > 0)
    process.stdout.write(
      `note: ${placeholders.map((v) => `TF_VAR_${v}`).join(", ")} unset: using a placeholder (the bots cannot log in with it)\n`,
    );

  process.on("SIGINT", () => {
    interrupts++;
    if (interrupts === 1) {
      process.stdout.write(
        "\ninterrupted: finishing the current terraform step, then destroying (Ctrl-C again to leave without destroying)\n",
      );
      return;
    }
    process.stdout.write(`\nleaving without destroy; clean up with: terraform -chdir=${stack.relDir} destroy -auto-approve\n`);
    process.exit(130);
  });

  process.stdout.write(`\ndeploying (terraform apply in ${stack.relDir})\n`);
  try {
    const apply = await tf(ctx, ["apply", "-auto-approve", "-input=false"], 2700, "  [apply] ");
    if (apply.code !== 0) {
      report.failed(
        SCOPE,
        "deploy",
        `terraform apply failed (exit ${apply.code}${apply.timedOut ? ", timed out" : ""}):\n${tail(apply.output, 15)}`,
      );
    } else {
      report.passed(SCOPE, "deploy", `terraform apply in ${apply.seconds.toFixed(0)} s`);
      const ready = !interrupted() && (await checkHealth(ctx, healthTimeout));
      const checks: Array<[string, () => Promise<void>]> = [
        ["edge answers", () => checkEdge(ctx)],
        ["api reaches postgres, redis, rabbitmq", () => checkBackends(ctx)],
        ["second plan: no changes", () => checkNoDrift(ctx)],
      ];
      for (const [step, check] of checks) {
        if (interrupted()) report.skipped(SCOPE, step, "interrupted");
        else if (!ready) report.skipped(SCOPE, step, ctx.swarm ? "containers or services not ready" : "containers not ready");
        else await check();
      }
    }
  } finally {
    await destroy(ctx);
  }
  return report.finish();
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(
      `e2e crashed: ${(e as Error).stack ?? String(e)}\nif anything was deployed: terraform -chdir=cdktf.out/stacks/${STACK} destroy -auto-approve\n`,
    );
    process.exit(1);
  },
);
