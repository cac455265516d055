import type { Reporter, TestModule } from "vitest/node";

/**
 * Prints one plain closing line, "tests: N passed, N failed, N skipped", after vitest's own
 * summary, so any CI log reader can count the run without knowing vitest's format.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
      // A suite whose hook failed reports its tests as skipped: the hook itself counts as a failure.
      const noFailedTest = (tests: Iterable<{ result(): { state: string } }>) => ![...tests].some((t) => t.result().state === "failed");
      for (const suite of mod.children.allSuites()) {
        if (suite.state() === "failed" && noFailedTest(suite.children.allTests())) failed++;
      }
      // A file that fails to load (or fails in a top-level hook) has no failed test but must still count.
      if (
        mod.state() === "failed" &&
        noFailedTest(mod.children.allTests()) &&
        ![...mod.children.allSuites()].some((s) => s.state() === "failed")
      )
        failed++;
    }
    failed += unhandledErrors.length;
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
