/**
 * main.ts starts `terraform version` beside construction and answers cdktf's version checks from that
 * one run (environments/terraform-version.ts). Checked on main.ts itself with a stand-in terraform
 * (TERRAFORM_BINARY_NAME, which cdktf reads) that records each run: one run for any number of stacks
 * with a Terraform Cloud backend, none for dev alone, and cdktf's own refusals when the version is too
 * old or the command fails.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");
const DIR = mkdtempSync(join(tmpdir(), "terraform-version-test-"));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

/** Test's state goes to Terraform Cloud too when these are set, so two stacks carry the check. */
const TEST_IN_CLOUD = {
  UPDATEIO_TEST_TFC_ORGANIZATION: "updateio",
  UPDATEIO_TEST_TFC_WORKSPACE: "updateio-test",
};

function fakeTerraform(name: string, body: string): { bin: string; runs: () => number } {
  const bin = join(DIR, name);
  const log = join(DIR, `${name}.runs`);
  writeFileSync(bin, `#!/bin/sh\necho "$*" >> '${log}'\n${body}\n`);
  chmodSync(bin, 0o755);
  return { bin, runs: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").length : 0) };
}

function synth(bin: string, stacks: string[], extra: Record<string, string> = {}) {
  const outdir = mkdtempSync(join(DIR, "out-"));
  const run = spawnSync(process.execPath, ["--import", "tsx", "main.ts", ...stacks], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, ...extra, TERRAFORM_BINARY_NAME: bin, CDKTF_OUTDIR: outdir },
  });
  return { status: run.status, stderr: run.stderr, outdir };
}

describe("terraform version at synth", () => {
  it("runs once for two stacks with a Terraform Cloud backend, and the synth succeeds", () => {
    const tf = fakeTerraform("tf-ok", 'echo "Terraform v1.9.8"');
    const run = synth(tf.bin, ["test", "prod"], TEST_IN_CLOUD);
    expect(run.status, run.stderr).toBe(0);
    const testBackend = JSON.parse(readFileSync(join(run.outdir, "stacks/test/cdk.tf.json"), "utf8")).terraform.cloud;
    expect(testBackend, "test is not on a cloud backend: the case would not count two checks").toBeDefined();
    expect(tf.runs()).toBe(1);
  });

  it("does not run it for dev alone (no cloud backend)", () => {
    const tf = fakeTerraform("tf-dev", 'echo "Terraform v1.9.8"');
    const run = synth(tf.bin, ["dev"]);
    expect(run.status, run.stderr).toBe(0);
    expect(tf.runs()).toBe(0);
  });

  it("refuses a Terraform older than the cloud block needs, in cdktf's words, and writes nothing", () => {
    const tf = fakeTerraform("tf-old", 'echo "Terraform v1.0.11"');
    const run = synth(tf.bin, ["prod"]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`[prod/backend] ${tf.bin} version 1.0.11 is lower than the required version >=1.1 for this construct.`);
    expect(run.stderr).toContain("Nothing was written.");
    expect(existsSync(join(run.outdir, "stacks"))).toBe(false);
  });

  it("reports a failing command as cdktf does (the check runs it again and says why)", () => {
    const tf = fakeTerraform("tf-broken", 'echo "no licence" >&2; exit 3');
    const run = synth(tf.bin, ["prod"]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(
      `Could not determine version of ${tf.bin}, ${tf.bin} version failed: Error: Command failed: ${tf.bin} version`,
    );
    // The prefetch and the check: a failure is not cached as an answer.
    expect(tf.runs()).toBe(2);
  });

  it("reports output without a version as cdktf does", () => {
    const tf = fakeTerraform("tf-mute", 'echo "Terraform (development build)"');
    const run = synth(tf.bin, ["prod"]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`Could not determine version of ${tf.bin} (running ${tf.bin} version)`);
  });
});
