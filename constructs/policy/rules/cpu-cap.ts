import { numberOf, plain } from "../normalize";
import type { PolicyRule } from "../types";
import { onWorkload, valueAt } from "./helpers";

/** The kernel's CFS bounds: a period from 1 ms to 1 s, a quota of at least 1 ms. */
const MIN_PERIOD_US = 1000;
const MAX_PERIOD_US = 1_000_000;
const MIN_QUOTA_US = 1000;
/** Above this many CPUs a cap caps nothing on our hosts. */
const MAX_CPUS = 64;

export const cpuCap: PolicyRule = {
  id: "cpu-cap",
  level: "error",
  title: "Every container that runs has a hard CPU cap",
  why: "cpu_shares only weighs CPU under contention: without a CFS quota one busy or runaway container can take every core of the host, the databases and the edge included",
  fix: "set `cpu_period` (100000) and `cpu_quota` (CPUs × cpu_period, e.g. 50000 for half a CPU); never `cpus`, which panics provider 3.6.2. Only seeds (start = false, never started) are exempt: a one-shot job (a migration in the app's image) can spin as hard as a service.",
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    if (w.seed) return [];
    const problems: string[] = [];
    if (w.resource.cpus !== undefined)
      problems.push(`${w.name} sets cpus = ${JSON.stringify(w.resource.cpus)}, which panics provider 3.6.2 (and overrides cpu_quota)`);
    if (w.resource.cpu_period === undefined && w.resource.cpu_quota === undefined)
      return [...problems, `${w.name} has no CPU cap (cpu_period and cpu_quota unset)`];
    const period = valueAt(w.resourceType, "cpu_period", w.resource.cpu_period, ctx, w.name);
    const quota = valueAt(w.resourceType, "cpu_quota", w.resource.cpu_quota, ctx, w.name);
    for (const v of [period, quota]) if (v.kind === "problem") problems.push(v.problem);
    let periodUs: number | undefined;
    if (period.kind === "value") {
      periodUs = integer(period.value);
      if (periodUs === undefined || periodUs < MIN_PERIOD_US || periodUs > MAX_PERIOD_US) {
        problems.push(
          `${w.name} has cpu_period = ${shown(w.resource.cpu_period)} (expected ${MIN_PERIOD_US} to ${MAX_PERIOD_US} µs; without it the quota is read against the engine's default)`,
        );
        periodUs = undefined;
      }
    }
    if (quota.kind === "value") {
      const quotaUs = integer(quota.value);
      if (quotaUs === undefined || quotaUs <= 0) problems.push(`${w.name} has no CPU cap (cpu_quota = ${shown(w.resource.cpu_quota)})`);
      else if (quotaUs < MIN_QUOTA_US)
        problems.push(`${w.name} has cpu_quota = ${quotaUs} µs, below the kernel's minimum of ${MIN_QUOTA_US}`);
      else if (periodUs !== undefined && quotaUs / periodUs > MAX_CPUS)
        problems.push(
          `${w.name} has cpu_quota / cpu_period = ${quotaUs / periodUs} CPUs, which is effectively unlimited (more than ${MAX_CPUS})`,
        );
    }
    return problems;
  }),
};

function integer(raw: unknown): number | undefined {
  const n = numberOf(raw);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
}

function shown(raw: unknown): string {
  return raw === undefined ? "unset" : JSON.stringify(plain(raw));
}
