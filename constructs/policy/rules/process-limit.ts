import { blocks } from "../json";
import { numberOf, plain } from "../normalize";
import type { PolicyRule } from "../types";
import { onWorkload, valueAt } from "./helpers";

export const processLimit: PolicyRule = {
  id: "process-limit",
  level: "error",
  title: "Every container that runs has a process limit (ulimit nproc)",
  why: "provider 3.6.2 has no pids limit: without RLIMIT_NPROC a fork loop in one container can fill the host's process table and nothing else can start, sshd and the databases included",
  fix: 'add `ulimit { name = "nproc", soft = N, hard = N }` with N the budget of every container of the same user (the kit sums them); values are bounded by ulimits-bounded (at most 65536). Only seeds (never started) are exempt, not one-shot jobs (a fork loop in a migration fills the table as well); root is exempt in the kernel, so bound it on the daemon too (docs/runbooks/swarm.md).',
  appliesTo: "docker_container",
  check: onWorkload((w, ctx) => {
    if (w.seed) return [];
    const all = blocks(w.resource.ulimit).map((u, i) => ({ u, i, name: plain(u.name) }));
    // The engine looks names up as written: "NPROC" or " nproc" is refused at start, not a limit.
    const exact = all.filter((x) => x.name === "nproc");
    if (exact.length === 0) {
      const lookalike = all.find((x) => typeof x.name === "string" && x.name.trim().toLowerCase() === "nproc");
      return [
        lookalike
          ? `${w.name} names its process limit ${JSON.stringify(lookalike.name)}; the engine knows only "nproc"`
          : `${w.name} has no ulimit nproc (no process limit)`,
      ];
    }
    if (exact.length > 1) return [`${w.name} sets ulimit nproc ${exact.length} times`];
    const { u, i } = exact[0]!;
    const problems: string[] = [];
    for (const key of ["soft", "hard"]) {
      const v = valueAt(w.resourceType, `ulimit[${i}].${key}`, u[key], ctx, w.name);
      if (v.kind === "problem") problems.push(v.problem);
      if (v.kind !== "value") continue;
      const n = numberOf(v.value);
      // How high a limit may be is ulimits-bounded's finding (≤ ULIMIT_BOUNDS.nproc); here: is there one at all?
      if (n === undefined || !Number.isInteger(n) || n < 1)
        problems.push(`${w.name} has ulimit nproc ${key} = ${JSON.stringify(v.value)}, which is no process limit`);
    }
    return problems;
  }),
};
