/**
 * Process settings for a synth: main.ts applies them first thing, and the bench workloads
 * (scripts/bench/) that stand in for main.ts apply the same, so they measure what main.ts does.
 * None of them changes the synthesized output; they drop work whose result nobody reads.
 */
import { installFastResolve } from "./fast-resolve";
import { installVersionCheckCache } from "./terraform-version";

/** cdktf's capture of a stack trace for every token it creates (cdktf/lib/tokens/private/stack-trace). */
interface StackTraceModule {
  captureStackTrace?: (below?: Function) => string[];
}

export function prepareSynthProcess(): void {
  // cdktf records a stack trace for every token; with tsx's source maps on, mapping them costs
  // about half a second per synth (scripts/bench.ts, section 4). main.ts prints errors as messages.
  process.setSourceMapsEnabled(false);
  // The traces cdktf records for its tokens (Error.captureStackTrace on a plain object, no depth
  // limit) appear only in its resolution error messages. Give them no frames: real errors keep theirs.
  const format = Error.prepareStackTrace;
  Error.prepareStackTrace = (error, frames) => {
    if (!(error instanceof Error)) return "";
    return format ? format(error, frames) : `${String(error)}${frames.map((f) => `\n    at ${String(f)}`).join("")}`;
  };
  // With no frames formatted the traces are empty anyway, but V8 still walks the whole stack to
  // collect them: a quarter to a third of the CPU per added app service (scripts/bench.ts,
  // section 3). Skip the walk. cdktf 0.21 is the last release, so this module path is final; if it
  // ever moves, the hook above still leaves the traces empty.
  const traces = require("cdktf/lib/tokens/private/stack-trace") as StackTraceModule;
  if (typeof traces.captureStackTrace === "function") traces.captureStackTrace = () => [];
  // Plain values skip cdktf's per-value resolution machinery; the output is the same (fast-resolve.ts).
  installFastResolve();
  // One `terraform version` per process, not one per stack (terraform-version.ts).
  installVersionCheckCache();
}
