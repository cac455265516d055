/** The log and fail functions of a job's script (assets/job-log.sh), for its @@LOG_FUNCTIONS@@. */
import { join } from "node:path";
import { readAsset } from "./assets";
import { fillFragment } from "./scheduled-backup-script";
import { ValidationError } from "../contract/errors";

const JOB_LOG_SH = readAsset(join(__dirname, "assets"), "job-log.sh");
/** Inlined unquoted into a printf format: letters, digits and dashes only (no %, quote or backslash). */
const JOB = /^[a-z][a-z0-9-]{0,40}$/;

/** `log` (a timestamped line naming `job`) and `fail` (log to stderr, exit 1). */
export function jobLogFunctions(job: string): string {
  if (!JOB.test(job))
    throw new ValidationError("jobLogFunctions input", [
      `job "${job}" must be lowercase letters, digits and dashes, starting with a letter`,
    ]);
  return fillFragment(JOB_LOG_SH, { JOB: job }, "jobLogFunctions");
}
