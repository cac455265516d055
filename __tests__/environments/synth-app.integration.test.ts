import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");

it("the app command synthesizes all three stacks with default variables, silently", () => {
  const out = mkdtempSync(join(tmpdir(), "updateio-synth-"));
  try {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("UPDATEIO_")));
    const run = spawnSync("npx", ["tsx", "main.ts"], { cwd: ROOT, env: { ...env, CDKTF_OUTDIR: out }, encoding: "utf8", timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    // cdktf prints its own warnings (e.g. about escape sequences in function calls) on stderr: none expected.
    expect(run.stderr).toBe("");
    for (const stack of ["dev", "test", "prod"]) expect(existsSync(join(out, "stacks", stack, "cdk.tf.json")), stack).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
