/** The log and fail functions the config-reload jobs' scripts share (kit/assets/job-log.sh). */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { jobLogFunctions } from "../../constructs/kit/job-log";
import { PAYLOADS } from "../support/payloads";
import { validationOf } from "../support/helpers";

describe("jobLogFunctions", () => {
  it("logs a UTC timestamp and the job's name; fail logs to stderr and exits 1", () => {
    const script = `${jobLogFunctions("edge-reload")}\nlog "loaded"\nfail "no socket"\necho unreachable\n`;
    const r = spawnSync("sh", ["-c", script], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ edge-reload: loaded\n$/);
    expect(r.stderr).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ edge-reload: FAILED: no socket\n$/);
  });

  it.each([...Object.values(PAYLOADS), "%s", "Edge", "a\\b", "", "x".repeat(42)])(
    "refuses the job name %j (it is inlined into a printf format)",
    (job) => {
      const { subject, problems } = validationOf(() => jobLogFunctions(job));
      expect(subject).toBe("jobLogFunctions input");
      expect(problems).toEqual([`job "${job}" must be lowercase letters, digits and dashes, starting with a letter`]);
    },
  );
});
