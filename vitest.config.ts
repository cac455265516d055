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
    reporters: ["default", "./__tests__/support/summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["__tests__/**/*.test.ts"], exclude: [INTEGRATION], testTimeout: 20_000, hookTimeout: 60_000 },
      },
      {
        extends: true,
        test: { name: "integration", include: [INTEGRATION], testTimeout: 60_000, hookTimeout: 120_000 },
      },
    ],
  },
});
