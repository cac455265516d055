import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

/**
 * Two tiers, both run by `npm test`: `unit` (pure: constructs, policy, config, review on in-memory
 * stacks; seconds) and `integration` (real servers, the Docker engine, terraform/caddy/promtool CLIs,
 * child processes), named `*.integration.test.ts` beside the unit tests of the same module.
 * `npm run test:unit` runs the fast tier alone.
 */
const INTEGRATION = "__tests__/**/*.integration.test.ts";

export default defineConfig({
  test: {
    setupFiles: ["__tests__/setup.ts"],
    globalSetup: ["__tests__/global-setup.ts"],
    // Transformed modules are kept on disk (node_modules/.experimental-vitest-cache, keyed by each
    // file's content) between runs: about 2 s less per unit run, where transforming took ~3.4 s of
    // the workers' time. Vitest 4.1 marks it experimental; the version is pinned.
    experimental: { fsModuleCache: true },
    reporters: ["default", "./__tests__/support/summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["__tests__/**/*.test.ts"],
          setupFiles: ["__tests__/setup-unit.ts"],
          exclude: [INTEGRATION],
          // One module graph per worker instead of one per file: every unit file imports cdktf and the
          // provider bindings (about half a second each), and the default environments are synthesized
          // once per worker (sharedEnvironment in __tests__/support/stacks.ts, deep-frozen). Unit tests
          // keep no global state between files: no env mutation, no fake timers left on, no module mocks.
          isolate: false,
          // One worker per core, up to four: vitest's default leaves one core to its main process,
          // which here mostly waits. On two cores two workers finish about 2 s sooner (each imports
          // the modules and builds the shared environments once). The tiers run one after the other
          // (groupOrder), each with its own worker count: the real-server tier keeps the default.
          maxWorkers: Math.min(4, Math.max(1, availableParallelism())),
          sequence: { groupOrder: 0 },
          testTimeout: 20_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: { name: "integration", include: [INTEGRATION], sequence: { groupOrder: 1 }, testTimeout: 60_000, hookTimeout: 120_000 },
      },
    ],
  },
});
