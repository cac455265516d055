/** Pure renderer for the edge's reload job (assets/caddy-reload.sh). */
import { join } from "node:path";
import { absolutePathProblems, fillAsset, readAsset, waitSecondsProblems } from "../../kit/assets";
import { jobLogFunctions } from "../../kit/job-log";
import { throwIfProblems } from "../../contract/errors";

const RELOAD_SH = readAsset(join(__dirname, "..", "assets"), "caddy-reload.sh");

export interface EdgeReloadScriptInput {
  /** The Caddyfile the edge reads (the live config volume, mounted in this job too). */
  readonly liveFile: string;
  /** This job's own copy of the Caddyfile: its seed changes with the file, which re-runs the job. */
  readonly expectedFile: string;
  /** The admin API's unix socket, in the volume the edge and this job share. */
  readonly adminSocket: string;
  /** How long the socket may stay unreachable (the edge starting) before the job fails. */
  readonly waitSeconds: number;
}

/** `caddy-reload.sh`: `caddy reload` of the live Caddyfile through the admin socket, once it is the expected one. */
export function renderEdgeReloadScript(input: EdgeReloadScriptInput): string {
  throwIfProblems("renderEdgeReloadScript input", [
    ...absolutePathProblems(input, ["liveFile", "expectedFile", "adminSocket"]),
    ...waitSecondsProblems(input.waitSeconds),
  ]);
  return fillAsset(
    RELOAD_SH,
    {
      LIVE_FILE: input.liveFile,
      EXPECTED_FILE: input.expectedFile,
      ADMIN_SOCKET: input.adminSocket,
      WAIT_SECONDS: input.waitSeconds,
      LOG_FUNCTIONS: jobLogFunctions("edge-reload"),
    },
    "renderEdgeReloadScript",
  );
}
