/**
 * The options of `npm run e2e` and `npm run test:terraform`, through the shared flag parser
 * (scripts/lib/argv.ts): --help prints the usage and exits 0; a bad value, a missing value or an
 * unknown argument exits 2 with the usage, before anything runs (no synth, no terraform, no engine).
 */
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");
const TSX = join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");

function cli(script: string, args: readonly string[]) {
  const r = spawnSync(process.execPath, [TSX, join(ROOT, "scripts", script), ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.each([
  ["e2e.ts", "usage: npm run e2e [-- --health-timeout <seconds>]"],
  ["test-terraform.ts", "usage: npm run test:terraform [-- --stack <name>]... [--no-plan] [--require-providers]"],
])("scripts/%s", (script, usage) => {
  it("--help prints the usage and exits 0", () => {
    const r = cli(script, ["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(usage);
  });

  it.each([
    [["--bogus"], "unknown option --bogus"],
    [script === "e2e.ts" ? ["--health-timeout", "30", "extra"] : ["--stack", "dev", "extra"], "unknown option extra"],
    [script === "e2e.ts" ? ["--health-timeout"] : ["--stack"], "needs a value"],
  ])("%j is refused with exit 2 and the usage", (args, says) => {
    const r = cli(script, args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(says);
    expect(r.stderr).toContain(usage);
    expect(r.stdout).toBe("");
  });
});

describe("scripts/e2e.ts --health-timeout", () => {
  it.each([["5"], ["abc"], ["1e3"], ["30.5"]])("%s is refused", (value) => {
    const r = cli("e2e.ts", [`--health-timeout=${value}`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--health-timeout needs a whole number of seconds >= 10");
  });
});
