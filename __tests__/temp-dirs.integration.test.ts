import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const TMP = mkdtempSync(join(tmpdir(), "updateio-temp-dirs-"));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

describe("a test run leaves nothing in the temp directory", () => {
  it("apps, shared environments and store-backup stacks are made under a root removed at the end", () => {
    // A run of its own with TMPDIR pointed at an empty directory: these files make apps with and
    // without an outdir, the shared environments and the store-backup stacks.
    const files = ["__tests__/temp-dirs.test.ts", "__tests__/synth-text.test.ts", "__tests__/environments/store-backups.test.ts"];
    const run = spawnSync(process.execPath, ["node_modules/vitest/vitest.mjs", "run", "--project", "unit", ...files], {
      env: { ...process.env, TMPDIR: TMP, CI: "true", NO_COLOR: "1", FORCE_COLOR: "0" },
      encoding: "utf8",
      timeout: 180_000,
    });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/^tests: [1-9]\d* passed, 0 failed, 0 skipped$/m);
    expect(readdirSync(TMP)).toEqual([]);
  }, 200_000);
});
