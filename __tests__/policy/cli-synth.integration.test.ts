/**
 * End to end through the real `cdktf synth` CLI: the CLI runs the app with
 * CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS=true, so the app itself does not throw; the CLI reads the
 * annotations from manifest.json, prints them and then fails with exit code 1.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeIf, type Requirement } from "../support/binaries";

const ROOT = path.resolve(__dirname, "../..");
const CDKTF = path.join(ROOT, "node_modules", ".bin", "cdktf");
const TSX = path.join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const POLICY = path.join(ROOT, "constructs", "policy", "policy-aspect");

const CDKTF_CLI: Requirement = fs.existsSync(CDKTF)
  ? { available: true, reason: `cdktf CLI at ${CDKTF}` }
  : { available: false, reason: `the cdktf CLI is not installed (no ${CDKTF}); run npm ci (cdktf-cli is a devDependency)` };

describeIf(CDKTF_CLI, "cdktf synth (CLI) with the policy applied", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "policy-cli-"));
    fs.writeFileSync(
      path.join(dir, "cdktf.json"),
      JSON.stringify({
        language: "typescript",
        app: `node ${TSX} app.ts`,
        sendCrashReports: "false",
        terraformProviders: [],
        terraformModules: [],
      }),
    );
    fs.writeFileSync(
      path.join(dir, "app.ts"),
      `import { App, TerraformStack } from "cdktf";
import { Container } from "@cdktf/provider-docker/lib/container";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { applyPolicy } from ${JSON.stringify(POLICY)};
const app = new App();
const stack = new TerraformStack(app, "dev");
new DockerProvider(stack, "docker");
new Container(stack, "bad", { name: "bad", image: "nginx:latest" });
applyPolicy(stack, { environment: "dev" });
app.synth();
`,
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("fails with exit code 1, prints each finding without a stack trace, but still writes the stack", () => {
    const run = spawnSync(CDKTF, ["synth"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, NODE_PATH: path.join(ROOT, "node_modules"), CHECKPOINT_DISABLE: "1", CI: "1" },
    });
    const out = `${run.stdout}\n${run.stderr}`;
    expect(run.status, out).toBe(1);
    expect(out).toContain('ERROR [dev/bad]: [memory-limit] container "bad" has no memory limit');
    expect(out).toContain("WARN [dev/bad]: [image-digest]");
    expect(out).toContain("While synthesizing one or more error annotations have been encountered");
    expect(out).not.toContain("PolicyAspect.annotate");
    // unlike a bare app.synth(), the CLI path writes the stack and the manifest before failing
    expect(fs.existsSync(path.join(dir, "cdktf.out", "stacks", "dev", "cdk.tf.json"))).toBe(true);
  });
});
