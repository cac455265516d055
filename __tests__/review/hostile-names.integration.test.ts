/**
 * `npm run review` as a child process on synth output whose service names carry terminal escape
 * sequences (OSC 8 hyperlinks, ESC [, bidi overrides): the console output (reports, summaries, the
 * staged-apply lines) stays inert, and a stack name that is a path writes nothing outside --out.
 * The renderers themselves are attacked in hostile-names.test.ts.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LABELS, type Body } from "../../scripts/review/terraform-json";
import { baseStack, type Stack } from "./fixtures";
import { editConfig, storeStack } from "./store-fixtures";

const ROOT = resolve(__dirname, "../..");
const TSX = join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const TMP = mkdtempSync(join(tmpdir(), "hostile-cli-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

function synthDir(name: string, stack: Stack, manifest?: unknown): string {
  const dir = join(TMP, name);
  mkdirSync(join(dir, "stacks", "t"), { recursive: true });
  writeFileSync(join(dir, "stacks", "t", "cdk.tf.json"), JSON.stringify(stack));
  if (manifest) writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
  return dir;
}

function review(args: readonly string[]) {
  return spawnSync(process.execPath, [TSX, join(ROOT, "scripts", "review.ts"), ...args], { cwd: ROOT, encoding: "utf8" });
}

/** Postgres renamed: its primary and replica keep their roles ("<name>", "<name>-replica-1"). */
const HOSTILE = "pg\u001b]8;;https://evil.example\u0007ok\u001b]8;;\u0007\u001b[2K\u202E";
function renamed(s: Stack): Stack {
  for (const byName of Object.values(s.resource))
    for (const body of Object.values(byName) as Body[])
      for (const l of (Array.isArray(body.labels) ? body.labels : []) as { label: string; value: string }[])
        if (l.label === LABELS.service && l.value.startsWith("postgres")) l.value = l.value.replace(/^postgres/, HOSTILE);
  return s;
}

describe("npm run review with hostile service names", () => {
  it("prints reports, summaries and the staged-apply lines without escape sequences or bidi overrides", () => {
    const before = synthDir("before", renamed(storeStack()));
    const after = renamed(storeStack());
    editConfig(after, "postgres_server");
    editConfig(after, "postgres_replica-1");
    const r = review(["--from", synthDir("after", after), "--against", before, "--out", join(TMP, "out")]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(4);
    expect(r.stdout).toContain("STAGED APPLY REQUIRED");
    expect(r.stdout).toContain("pg\\u{001B}]8;;https://evil.example\\u{0007}ok");
    expect(r.stdout).not.toMatch(/[\u001b\u0007\u202E\r]/);
    expect(readFileSync(join(TMP, "out", "t.md"), "utf8")).not.toMatch(/[\u001b\u0007\u202E\r]/);
  });

  it("refuses a stack name that is a path: exit 1, nothing written outside --out", () => {
    const escape = join(TMP, "escaped");
    mkdirSync(escape, { recursive: true });
    const name = "../escaped/x";
    const dir = synthDir("path-stack", baseStack(), { stacks: { [name]: { synthesizedStackPath: "stacks/t/cdk.tf.json" } } });
    const r = review(["--from", dir, "--out", join(TMP, "out-path"), "--quiet"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('stack name "../escaped/x" does not match');
    expect(existsSync(join(escape, "x.md"))).toBe(false);
  });
});
