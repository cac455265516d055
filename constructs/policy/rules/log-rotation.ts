import { block, blocks, isRecord } from "../json";
import { logSizeBytes, numberOf } from "../normalize";
import type { PolicyRule, RuleContext } from "../types";
import type { Workload } from "../workload";
import { onWorkload, valueAt, WORKLOADS } from "./helpers";

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
    // log_opts is a map of strings that the engine reads with strconv.Atoi: "3e0" is no count there.
    else if (
      n === undefined ||
      !Number.isInteger(n) ||
      n < 1 ||
      n > 100 ||
      (typeof files.value === "string" && !/^\+?\d+$/.test(files.value))
    )
      problems.push(`${w.name} has ${optsPath}["max-file"] = ${JSON.stringify(files.value)} (expected a whole number from 1 to 100)`);
  }
  return problems;
}

export const logRotation: PolicyRule = {
  id: "log-rotation",
  level: "error",
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
