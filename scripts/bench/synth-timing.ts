/**
 * Times the parts of app.synth() for the bench workloads (probe.ts, scaled-app.ts): prepareStack
 * (EnvironmentStack's: the backend check, no preparing resolve), the policy aspect (and the stack rendering it does), the final rendering,
 * child processes (CloudBackend's `terraform version` validation) and file writes. It wraps
 * prototype and module methods, so call it once, before synth, in a process of its own.
 */
import { TerraformStack } from "cdktf";
import { PolicyAspect } from "../../constructs/policy/policy-aspect";
import { EnvironmentStack } from "../../environments/environment-stack";

export interface SynthTimes {
  prepareMs: number;
  /** The policy aspect in all, its own rendering of the stack JSON included. */
  policyMs: number;
  /** The policy aspect's rendering of the stack JSON (TerraformStack.toTerraform inside it). */
  policyRenderMs: number;
  /** Renderings outside the policy aspect (the final one, when the policy's is not reused). */
  renderMs: number;
  childProcessMs: number;
  writeMs: number;
}

type Methods = Record<string, unknown>;

/** Wraps obj[name] so that its wall time accumulates via `add` (re-entrant calls counted once). */
function timeMethod(obj: Methods, name: string, add: (ms: number) => void): void {
  const original = obj[name] as (...args: unknown[]) => unknown;
  let depth = 0;
  obj[name] = function (this: unknown, ...args: unknown[]) {
    if (depth > 0) return original.apply(this, args);
    depth++;
    const start = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      depth--;
      add(performance.now() - start);
    }
  };
}

export function timeSynthPhases(): SynthTimes {
  const t: SynthTimes = { prepareMs: 0, policyMs: 0, policyRenderMs: 0, renderMs: 0, childProcessMs: 0, writeMs: 0 };
  let inPolicy = false;
  const policy = PolicyAspect.prototype as unknown as Methods;
  const annotate = policy.annotate as (...args: unknown[]) => unknown;
  policy.annotate = function (this: unknown, ...args: unknown[]) {
    const start = performance.now();
    inPolicy = true;
    try {
      return annotate.apply(this, args);
    } finally {
      inPolicy = false;
      t.policyMs += performance.now() - start;
    }
  };
  const stack = TerraformStack.prototype as unknown as Methods;
  timeMethod(stack, "toTerraform", (ms) => (inPolicy ? (t.policyRenderMs += ms) : (t.renderMs += ms)));
  // EnvironmentStack overrides prepareStack (no preparing resolve): time the override, not cdktf's.
  timeMethod(EnvironmentStack.prototype as unknown as Methods, "prepareStack", (ms) => (t.prepareMs += ms));
  // cdktf calls these through the module objects (child_process_1.execSync, fs.writeFileSync), so
  // patch those objects (require: an ES namespace import would be a copy).
  const cp = require("node:child_process") as Methods;
  for (const fn of ["execSync", "execFileSync", "spawnSync"]) timeMethod(cp, fn, (ms) => (t.childProcessMs += ms));
  timeMethod(require("node:fs") as Methods, "writeFileSync", (ms) => (t.writeMs += ms));
  return t;
}
