/** Debian's promtool (Prometheus 2.42), as the tests run it. */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";

/** Runs promtool with `args` (and `input` on stdin), for 60 s at most. */
export function promtool(args: readonly string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync("promtool", [...args], { encoding: "utf8", timeout: 60_000, input });
}

/** A promtool run as a failure message: its exit status and both outputs. */
export function explain(r: SpawnSyncReturns<string>): string {
  return `exit ${String(r.status)}\n${r.stdout}\n${r.stderr}`;
}
