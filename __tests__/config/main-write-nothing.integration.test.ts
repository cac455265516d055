/**
 * main.ts as the cdktf CLI runs it (a child process with CDKTF_OUTDIR): a failing synth writes
 * nothing at all (no outdir, no stack file, no temporary directory left), an existing outdir is left
 * as it was, and a selected stack is synthesized even when another environment is invalid.
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../environments/load";

const ROOT = resolve(__dirname, "../..");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Run {
  code: number | null;
  stderr: string;
  /** Where CDKTF_OUTDIR points (parent/cdktf.out); parent holds nothing else. */
  outdir: string;
  parent: string;
  /** The child's TMPDIR: main.ts stages its synth there and must leave nothing behind. */
  tmp: string;
}

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

function runMain(extraEnv: Record<string, string>, args: string[] = [], prepare?: (outdir: string, bin: string) => void): Promise<Run> {
  const base = mkdtempSync(join(tmpdir(), "main-write-nothing-"));
  dirs.push(base);
  const [parent, tmp, bin] = ["out", "tmp", "bin"].map((d) => join(base, d)) as [string, string, string];
  for (const d of [parent, tmp, bin]) mkdirSync(d);
  const outdir = join(parent, "cdktf.out");
  prepare?.(outdir, bin);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("UPDATEIO_") && !k.startsWith("CDKTF_")) env[k] = v;
  Object.assign(env, { CDKTF_OUTDIR: outdir, CHECKPOINT_DISABLE: "1", TMPDIR: tmp, PATH: `${bin}:${process.env.PATH}` }, extraEnv);
  return new Promise((done, fail) => {
    const child = spawn("npx", ["tsx", "main.ts", ...args], { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", fail);
    child.on("close", (code) => done({ code, stderr, outdir, parent, tmp }));
  });
}

/** Nothing written: the outdir's parent is as empty as before and no staging directory is left. */
function expectNothingWritten(run: Run): void {
  expect(run.code, run.stderr).not.toBe(0);
  expect(run.stderr).not.toMatch(/^\s+at /m); // a message, not a stack trace
  expect(readdirSync(run.parent)).toEqual([]);
  expect(files(run.tmp).filter((f) => !f.startsWith("tsx-"))).toEqual([]);
  expect(readdirSync(run.tmp).filter((d) => d.startsWith("updateio-synth-"))).toEqual([]);
}

describe("main.ts writes nothing when synth fails", () => {
  it("invalid variables in every environment: each is listed, nothing is written", async () => {
    const run = await runMain({
      UPDATEIO_DEV_EDGE_HTTP_PORT: "abc",
      UPDATEIO_TEST_ACME_CA: "https://x.example/dir",
      UPDATEIO_PROD_ACME_CA: "https://acme.example/dir\nx",
    });
    expectNothingWritten(run);
    expect(run.stderr).toContain(
      'UPDATEIO_DEV_EDGE_HTTP_PORT (environment variable): "abc" is not a port; set a whole number between 1 and 65535',
    );
    expect(run.stderr).toMatch(/UPDATEIO_TEST_ACME_CA \(environment variable\): applies to prod only/);
    expect(run.stderr).toMatch(
      /UPDATEIO_PROD_ACME_CA \(environment variable\): "https:\/\/acme\.example\/dir\\nx" is refused; write an https URL/,
    );
    for (const env of ENVIRONMENTS) expect(run.stderr).toContain(`Invalid configuration for environment "${env}"`);
  }, 120_000);

  it("an old global name blocks every environment, even a selected one, and names its replacements", async () => {
    const run = await runMain({ UPDATEIO_DOCKER_HOST: "ssh://deploy@prod-host" }, ["dev"]);
    expectNothingWritten(run);
    expect(run.stderr).toMatch(
      /UPDATEIO_DOCKER_HOST \(environment variable\): is no longer read: .*UPDATEIO_DEV_DOCKER_HOST, UPDATEIO_TEST_DOCKER_HOST and\/or UPDATEIO_PROD_DOCKER_HOST/,
    );
  }, 120_000);

  it("a failure after the stacks are built (prod's Terraform version check) writes nothing", async () => {
    const run = await runMain({}, ["prod"], (_out, bin) => {
      writeFileSync(join(bin, "terraform"), "#!/bin/sh\necho 'Terraform v1.0.0'\n");
      chmodSync(join(bin, "terraform"), 0o755);
    });
    expectNothingWritten(run);
    expect(run.stderr).toMatch(/terraform version 1\.0\.0 is lower than the required version/);
    expect(run.stderr).toContain("Nothing was written.");
  }, 120_000);

  it("an existing outdir is left exactly as it was", async () => {
    const run = await runMain({ UPDATEIO_PROD_DOMAIN: "Not A Domain" }, [], (out) => {
      mkdirSync(join(out, "stacks", "prod"), { recursive: true });
      writeFileSync(join(out, "stacks", "prod", "cdk.tf.json"), '{"previous":true}');
      writeFileSync(join(out, "manifest.json"), '{"previous":true}');
    });
    expect(run.code, run.stderr).not.toBe(0);
    expect(files(run.outdir)).toEqual(["manifest.json", "stacks/prod/cdk.tf.json"]);
    expect(readFileSync(join(run.outdir, "manifest.json"), "utf8")).toBe('{"previous":true}');
    expect(run.stderr).toMatch(/UPDATEIO_PROD_DOMAIN \(environment variable\): "Not A Domain" is refused; write a lowercase domain/);
    expect(run.stderr).toContain('npx cdktf deploy dev --app "npx tsx main.ts dev"');
  }, 120_000);

  it("an unknown stack name is refused before anything is built", async () => {
    const run = await runMain({ CDKTF_TARGET_STACK_ID: "staging" });
    expectNothingWritten(run);
    expect(run.stderr).toMatch(/unknown stack "staging" .*the stacks are dev, test, prod/);
  }, 120_000);

  it("a stack name from the command line is printed inert (no escape sequence, no extra line)", async () => {
    // A terminal title and clear-screen sequence, a bidi override and a newline that would fake a
    // problem line. (npx drops environment variables with such names, so the config check's own
    // refusals of them are tested in terminal-text.test.ts.)
    const run = await runMain({}, ["dev\u001b]0;pwned\u0007\u001b[2J\u202e\n  - all good"]);
    expectNothingWritten(run);
    expect(run.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f\u202e]/);
    expect(run.stderr).toContain('unknown stack "dev\\u{001B}]0;pwned\\u{0007}\\u{001B}[2J\\u{202E}\\u{000A}  - all good"');
    expect(run.stderr).not.toMatch(/^ {2}- all good/m);
  }, 120_000);
});

describe("a selected stack is not blocked by another environment", () => {
  // prod is invalid here; dev alone is synthesized (as `cdktf deploy dev --app "npx tsx main.ts dev"` runs it).
  const prodBroken = { UPDATEIO_PROD_GRAFANA_EXPOSE: "localhost", UPDATEIO_PROD_ADMIN_ALLOW: "0.0.0.0/0" };
  for (const [how, args, env] of [
    ["as an argument", ["dev"], {}],
    ["through CDKTF_TARGET_STACK_ID", [], { CDKTF_TARGET_STACK_ID: "dev" }],
  ] as const) {
    it(
      how,
      async () => {
        const run = await runMain({ ...prodBroken, ...env }, [...args]);
        expect(run.stderr).not.toMatch(/UPDATEIO_PROD/);
        expect(run.code, run.stderr).toBe(0);
        expect(files(run.outdir)).toEqual(["manifest.json", "stacks/dev/cdk.tf.json"]);
        expect(Object.keys(JSON.parse(readFileSync(join(run.outdir, "manifest.json"), "utf8")).stacks)).toEqual(["dev"]);
        expect(readdirSync(run.tmp).filter((d) => d.startsWith("updateio-synth-"))).toEqual([]);
      },
      120_000,
    );
  }
});
