import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** One directory per test run for the tests' scratch output (app outdirs), removed when the run ends. */
    testTempRoot: string;
  }
}

/**
 * Runs in vitest's main process, once per project. Each cdktf test app needs an outdir
 * (Testing.app() makes one in the system temp dir and never removes it), and a worker thread ends
 * without running exit handlers: a unit run left 1,013 directories behind. Everything made under
 * this root goes with it, whichever worker made it and however that worker ended.
 */
export default function setup(project: TestProject): () => void {
  const root = mkdtempSync(join(tmpdir(), "updateio-tests-"));
  project.provide("testTempRoot", root);
  return () => rmSync(root, { recursive: true, force: true });
}
