/**
 * The real synth path (main.ts in a child process) with UPDATEIO_DEV_SOURCE_ROOT, run from a cwd
 * that is not the project: a relative root is resolved from the project root whatever the cwd, a
 * missing checkout stops synth with the variable, the folder and the fix, and nothing is written.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fakeSourceRoot, PROJECT_ROOT } from "../support/dev-sources";

const DIR = mkdtempSync(join(tmpdir(), "dev-source-main-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

function synthDev(vars: Record<string, string>, outdir: string): Promise<{ code: number | null; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("UPDATEIO_") && !k.startsWith("CDKTF_")) env[k] = v;
  Object.assign(env, vars, { CDKTF_OUTDIR: outdir, CHECKPOINT_DISABLE: "1" });
  return new Promise((done, fail) => {
    // cwd: a scratch folder outside the project, holding neither the sources nor main.ts.
    const child = spawn(join(PROJECT_ROOT, "node_modules/.bin/tsx"), [join(PROJECT_ROOT, "main.ts"), "dev"], {
      cwd: DIR,
      env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stderr }));
  });
}

describe("main.ts dev with UPDATEIO_DEV_SOURCE_ROOT, from another cwd", () => {
  it("a relative root that exists from the project root (not from the cwd) synthesizes", async () => {
    const root = fakeSourceRoot(join(DIR, "checkouts"));
    const rel = relative(PROJECT_ROOT, root);
    const outdir = join(DIR, "out-ok");
    const { code, stderr } = await synthDev({ UPDATEIO_DEV_SOURCE_ROOT: rel }, outdir);
    expect(code, stderr).toBe(0);
    const json = JSON.parse(readFileSync(join(outdir, "stacks/dev/cdk.tf.json"), "utf8"));
    const contexts = Object.values(json.resource.docker_image as Record<string, any>)
      .filter((i) => i.build)
      .map((i) => i.build.context);
    expect(contexts).toContain(`\${abspath(join("/", [path.root, "../../..", "${rel}/api"]))}`);
  }, 120_000);

  it("a root that exists from the cwd but not from the project root fails, naming the variable, the folder and the fix", async () => {
    // "checkouts" is DIR/checkouts from the cwd (it exists), <project>/checkouts from the project root (it does not).
    fakeSourceRoot(join(DIR, "checkouts"));
    expect(existsSync(join(PROJECT_ROOT, "checkouts"))).toBe(false);
    const outdir = join(DIR, "out-missing");
    const { code, stderr } = await synthDev({ UPDATEIO_DEV_SOURCE_ROOT: "checkouts" }, outdir);
    expect(code).not.toBe(0);
    expect(stderr).toContain(
      `UPDATEIO_DEV_SOURCE_ROOT (environment variable, services.api.image.context): folder "checkouts/api" (${join(PROJECT_ROOT, "checkouts/api")}) does not exist`,
    );
    expect(stderr).toMatch(/unset it to build every service from examples\/reference-service/);
    expect(existsSync(outdir) ? readdirSync(outdir) : []).toEqual([]);
  }, 120_000);
});
