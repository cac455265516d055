import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { inject } from "vitest";

/** The run's scratch root (made and removed by __tests__/global-setup.ts). */
export function testTempRoot(): string {
  const root = inject("testTempRoot");
  if (typeof root !== "string" || root === "") {
    throw new Error("testTempRoot is not provided: run the tests through vitest.config.ts, whose globalSetup makes it");
  }
  return root;
}

/** A fresh directory under the run's scratch root, removed with the root when the run ends. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(testTempRoot(), prefix));
}
