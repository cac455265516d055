/**
 * Rules about how a workload runs: limits, restarts, health, logs, and Swarm's rolling updates.
 */
import { block, blocks, isRecord } from "../json";
import { goDurationSeconds, logSizeBytes, numberOf, plain } from "../normalize";
import { everywhere, type PolicyRule, type RuleContext } from "../types";
import { workloadOf, type Workload } from "../workload";
import { listItems, valueAt } from "./common";

const MIB = 1024 * 1024;
/** Above this a "limit" limits nothing on our hosts. */
const MAX_MEMORY_MB = 64 * 1024;
const MAX_NANO_CPUS = 64e9;

const WORKLOADS = ["docker_container", "docker_service"] as const;

/** Run `check` on containers and services alike. */
function onWorkload(fn: (w: Workload, ctx: RuleContext) => string[]): PolicyRule["check"] {
  return (resource, ctx, type) => {
    const w = workloadOf(resource, type);
    return w ? fn(w, ctx) : [];
  };
}

/** A positive number within bounds, or the problem with it. */
function positive(w: Workload, ctx: RuleContext, path: string, raw: unknown, what: string, max: number, unit: string): string[] {
  const v = valueAt(w.resourceType, path, raw, ctx, w.name);
  if (v.kind === "problem") return [v.problem];
  if (v.kind === "trusted") return [];
  const n = numberOf(v.value);
  if (n === undefined || n <= 0) return [`${w.name} has no ${what} (${path} = ${raw === undefined ? "unset" : JSON.stringify(raw)})`];
  if (n > max) return [`${w.name} has ${what} ${path} = ${n}${unit}, which is effectively unlimited (more than ${max}${unit})`];
  return [];
}

export const memoryLimit: PolicyRule = {
  id: "memory-limit",
  severity: everywhere("error"),
  title: "Every container and service has a memory limit (and no unlimited swap)",
  why: "without a limit one container can exhaust the host's memory and the kernel OOM killer then picks its victims, possibly the database",
  fix: "set `memory` (MB) on containers, or task_spec.resources.limits.memory_bytes on services, to a value sized for the service; leave memory_swap equal to memory.",
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    if (w.kind === "container") {
      const problems = positive(w, ctx, "memory", w.resource.memory, "memory limit", MAX_MEMORY_MB, " MB");
      if (w.resource.memory_swap !== undefined) {
        const swap = valueAt(w.resourceType, "memory_swap", w.resource.memory_swap, ctx, w.name);
        if (swap.kind === "problem") problems.push(swap.problem);
        else if (swap.kind === "value" && (numberOf(swap.value) ?? 0) < 0)
          problems.push(`${w.name} has memory_swap = ${JSON.stringify(swap.value)} (unlimited swap)`);
      }
      return problems;
    }
    const limits = block(block(block(w.resource.task_spec).resources).limits);
    return positive(w, ctx, "task_spec.resources.limits.memory_bytes", limits.memory_bytes, "memory limit", MAX_MEMORY_MB * MIB, " bytes");
  }),
};

export const cpuLimit: PolicyRule = {
  id: "cpu-limit",
  severity: everywhere("error"),
  title: "Every Swarm service has a CPU limit",
  why: "a task without a CPU cap can starve every other task on its node, including the edge and the databases on the manager",
  fix: "set task_spec.resources.limits.nano_cpus (1e9 = one CPU) sized for the service.",
  appliesTo: "docker_service",
  check: onWorkload((w, ctx) => {
    const limits = block(block(block(w.resource.task_spec).resources).limits);
    return positive(w, ctx, "task_spec.resources.limits.nano_cpus", limits.nano_cpus, "CPU limit", MAX_NANO_CPUS, " nano CPUs");
  }),
};

const RESTART_POLICIES = ["unless-stopped", "always", "on-failure"];
const SERVICE_RESTART_CONDITIONS = ["any", "on-failure"];
export const restartPolicy: PolicyRule = {
  id: "restart-policy",
  severity: everywhere("error"),
  title: "Running containers and services restart on failure",
  why: "with Docker's default (no) a crashed service or a host reboot leaves the service down until someone notices, and a service restart policy with fields left out is sent as zeros",
  fix: 'set `restart` to "unless-stopped" (or "always"/"on-failure") on containers, and task_spec.restart_policy with condition ("any"/"on-failure"), delay, max_attempts and window on services; seed containers (start = false) are exempt.',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    if (w.kind === "container") {
      if (w.seed) return [];
      const v = valueAt(w.resourceType, "restart", w.resource.restart, ctx, w.name);
      if (v.kind === "problem") return [v.problem];
      if (v.kind === "trusted") return [];
      if (typeof v.value === "string" && RESTART_POLICIES.includes(v.value)) return [];
      return [`${w.name} has restart = ${v.value === undefined ? "unset (Docker default: no)" : JSON.stringify(v.value)}`];
    }
    const rp = blocks(block(w.resource.task_spec).restart_policy)[0];
    if (!rp) return [`${w.name} has no task_spec.restart_policy`];
    const problems: string[] = [];
    const condition = valueAt(w.resourceType, "task_spec.restart_policy.condition", rp.condition, ctx, w.name);
    if (condition.kind === "problem") problems.push(condition.problem);
    else if (condition.kind === "value" && !SERVICE_RESTART_CONDITIONS.includes(String(condition.value))) {
      problems.push(`${w.name} has restart_policy.condition = ${JSON.stringify(condition.value)} (expected "any" or "on-failure")`);
    }
    for (const key of ["delay", "max_attempts", "window"]) {
      const v = valueAt(w.resourceType, `task_spec.restart_policy.${key}`, rp[key], ctx, w.name);
      if (v.kind === "problem") problems.push(v.problem);
      else if (v.kind === "value" && (v.value === undefined || v.value === ""))
        problems.push(`${w.name} leaves restart_policy.${key} unset (the provider sends it as 0)`);
    }
    return problems;
  }),
};

export const healthcheck: PolicyRule = {
  id: "healthcheck",
  severity: everywhere("error"),
  title: "Running containers and services have a healthcheck",
  why: "without one Docker reports a hung service as running, `wait = true` cannot work, dependants start against a dead upstream and a Swarm update cannot tell a bad release from a good one",
  fix: 'add `healthcheck.test` (["CMD", ...] or ["CMD-SHELL", ...]) with Go-form durations such as "30s" (task_spec.container_spec.healthcheck on services).',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    if (w.seed) return [];
    const hc = blocks(w.healthcheck.value)[0];
    if (!hc) return [`${w.name} has no healthcheck`];
    const { values, problems } = listItems(w.resourceType, `${w.healthcheck.path}.test`, hc.test, ctx, w.name);
    if (problems.length > 0) return problems;
    if (values.length === 0) return [`${w.name} has a healthcheck with an empty test`];
    const kind = values[0]!.trim().toUpperCase();
    if (kind === "NONE") return [`${w.name} disables the image's healthcheck (test = ["NONE"])`];
    if (values[0] !== "CMD" && values[0] !== "CMD-SHELL")
      return [`${w.name} has a healthcheck test starting with ${JSON.stringify(values[0])} (expected "CMD" or "CMD-SHELL")`];
    if (values.length < 2) return [`${w.name} has a healthcheck ${JSON.stringify(values[0])} without a command`];
    return [];
  }),
};

const ROTATING_LOG_DRIVERS = ["json-file", "local"];
function logProblems(w: Workload, ctx: RuleContext, driverPath: string, driver: unknown, optsPath: string, opts: unknown): string[] {
  const d = valueAt(w.resourceType, driverPath, driver, ctx, w.name);
  if (d.kind === "problem") return [d.problem];
  if (d.kind === "value" && (typeof d.value !== "string" || !ROTATING_LOG_DRIVERS.includes(d.value))) {
    return [`${w.name} has ${driverPath} = ${d.value === undefined ? "unset (daemon default)" : JSON.stringify(d.value)}`];
  }
  const o = valueAt(w.resourceType, optsPath, opts, ctx, w.name);
  if (o.kind === "problem") return [o.problem];
  if (o.kind === "trusted") return [];
  const map = isRecord(o.value) ? o.value : {};
  const problems: string[] = [];
  const size = valueAt(w.resourceType, `${optsPath}.max-size`, map["max-size"], ctx, w.name);
  if (size.kind === "problem") problems.push(size.problem);
  else if (size.kind === "value") {
    const bytes = logSizeBytes(size.value);
    if (size.value === undefined || size.value === "") problems.push(`${w.name} does not set ${optsPath}["max-size"]`);
    else if (bytes === undefined || bytes <= 0)
      problems.push(`${w.name} has ${optsPath}["max-size"] = ${JSON.stringify(size.value)}, which does not bound the log`);
  }
  const files = valueAt(w.resourceType, `${optsPath}.max-file`, map["max-file"], ctx, w.name);
  if (files.kind === "problem") problems.push(files.problem);
  else if (files.kind === "value") {
    const n = numberOf(files.value);
    if (files.value === undefined || files.value === "") problems.push(`${w.name} does not set ${optsPath}["max-file"]`);
    else if (n === undefined || !Number.isInteger(n) || n < 1 || n > 100)
      problems.push(`${w.name} has ${optsPath}["max-file"] = ${JSON.stringify(files.value)} (expected a whole number from 1 to 100)`);
  }
  return problems;
}

export const logRotation: PolicyRule = {
  id: "log-rotation",
  severity: everywhere("error"),
  title: "Logs rotate (json-file/local with max-size and max-file)",
  why: "unrotated logs grow until the host disk is full, which stops every service on it, and the log shipper reads json-file logs",
  fix: 'set `log_driver` = "json-file" and `log_opts` { "max-size": "10m", "max-file": "3" } (task_spec.log_driver { name, options } on services).',
  appliesTo: WORKLOADS,
  check: onWorkload((w, ctx) => {
    if (w.kind === "container") return logProblems(w, ctx, "log_driver", w.resource.log_driver, "log_opts", w.resource.log_opts);
    const ld = blocks(block(w.resource.task_spec).log_driver)[0];
    if (!ld) return [`${w.name} has no task_spec.log_driver (daemon default)`];
    return logProblems(w, ctx, "task_spec.log_driver.name", ld.name, "task_spec.log_driver.options", ld.options);
  }),
};

export const stopGracePeriod: PolicyRule = {
  id: "stop-grace-period",
  severity: everywhere("error"),
  title: "Swarm services give their tasks a graceful stop",
  why: "an unset stop_grace_period is sent as 0, so every update or rollback kills tasks at once, mid-request",
  fix: 'set task_spec.container_spec.stop_grace_period (e.g. "30s") long enough to drain requests.',
  appliesTo: "docker_service",
  check: onWorkload((w, ctx) => {
    const path = `${w.specPath}stop_grace_period`;
    const v = valueAt(w.resourceType, path, w.spec.stop_grace_period, ctx, w.name);
    if (v.kind === "problem") return [v.problem];
    if (v.kind === "trusted") return [];
    const s = goDurationSeconds(v.value);
    return s !== undefined && s > 0
      ? []
      : [`${w.name} has ${path} = ${v.value === undefined ? "unset (tasks are killed at once)" : JSON.stringify(v.value)}`];
  }),
};

function rolloutProblems(w: Workload, ctx: RuleContext, key: "update_config" | "rollback_config"): string[] {
  const cfg = blocks(w.resource[key])[0];
  if (!cfg) return [`${w.name} has no ${key}`];
  const problems: string[] = [];
  const field = (name: string) => valueAt(w.resourceType, `${key}.${name}`, cfg[name], ctx, w.name);
  const parallelism = field("parallelism");
  if (parallelism.kind === "problem") problems.push(parallelism.problem);
  else if (parallelism.kind === "value") {
    const n = numberOf(parallelism.value);
    if (n === undefined || n < 1)
      problems.push(`${w.name} has ${key}.parallelism = ${JSON.stringify(parallelism.value)} (0 or unset updates every task at once)`);
  }
  const monitor = field("monitor");
  if (monitor.kind === "problem") problems.push(monitor.problem);
  else if (monitor.kind === "value") {
    const s = goDurationSeconds(monitor.value);
    if (s === undefined || s <= 0)
      problems.push(
        `${w.name} has ${key}.monitor = ${JSON.stringify(monitor.value)} (a failing task must be watched for some time to be noticed)`,
      );
  }
  const order = field("order");
  if (order.kind === "problem") problems.push(order.problem);
  else if (order.kind === "value" && order.value !== "start-first" && order.value !== "stop-first") {
    problems.push(`${w.name} has ${key}.order = ${JSON.stringify(order.value)} (expected "start-first" or "stop-first")`);
  }
  if (key === "update_config") {
    const action = field("failure_action");
    if (action.kind === "problem") problems.push(action.problem);
    else if (action.kind === "value" && plain(action.value) !== "rollback") {
      problems.push(`${w.name} has update_config.failure_action = ${JSON.stringify(action.value)} (a failed update must roll back)`);
    }
  }
  return problems;
}

export const updateConfig: PolicyRule = {
  id: "update-config",
  severity: everywhere("error"),
  title: "Swarm services roll out one task at a time and roll back on failure",
  why: "without it Swarm replaces every task at once (parallelism 0), watches nothing (monitor 0) and pauses half-updated on failure, so a bad release takes the service down",
  fix: 'set update_config { parallelism = 1, failure_action = "rollback", monitor = "<longer than the healthcheck needs to fail>", order = "start-first" }.',
  appliesTo: "docker_service",
  check: onWorkload((w, ctx) => rolloutProblems(w, ctx, "update_config")),
};

export const rollbackConfig: PolicyRule = {
  id: "rollback-config",
  severity: everywhere("error"),
  title: "Swarm services say how to roll back",
  why: "without rollback_config a rollback replaces every task at once with the engine's defaults, which is an outage of its own",
  fix: 'set rollback_config { parallelism = 1, monitor = "<same as update_config>", order = "start-first" }.',
  appliesTo: "docker_service",
  check: onWorkload((w, ctx) => rolloutProblems(w, ctx, "rollback_config")),
};

export const RUNTIME_RULES: readonly PolicyRule[] = [
  memoryLimit,
  cpuLimit,
  restartPolicy,
  healthcheck,
  logRotation,
  stopGracePeriod,
  updateConfig,
  rollbackConfig,
];
export { onWorkload, WORKLOADS };
