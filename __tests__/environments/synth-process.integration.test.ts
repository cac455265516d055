/**
 * environments/synth-process.ts changes process-wide state (Error.prepareStackTrace, cdktf's module),
 * so it is checked in a child process: the unit tier shares one process between files.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");

const SCRIPT = `
const { Lazy } = require("cdktf");
const { prepareSynthProcess } = require("./environments/synth-process");
const before = Lazy.anyValue({ produce: () => 1 }).creationStack.length;
prepareSynthProcess();
const after = Lazy.anyValue({ produce: () => 1 }).creationStack.length;
const errorStack = new Error("boom").stack;
process.stdout.write(JSON.stringify({ before, after, errorStack }));
`;

it("drops cdktf's per-token stack traces and keeps real errors' stacks", () => {
  const run = spawnSync(process.execPath, ["--import", "tsx", "-e", SCRIPT], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  expect(run.status, run.stderr).toBe(0);
  const out = JSON.parse(run.stdout) as { before: number; after: number; errorStack: string };
  // cdktf records a trace for every token it creates; after the call, none.
  expect(out.before).toBeGreaterThan(0);
  expect(out.after).toBe(0);
  expect(out.errorStack).toMatch(/^Error: boom\n\s+at /);
});
