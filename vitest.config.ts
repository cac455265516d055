import { defineConfig } from "vitest/config";

/**
 * Two tiers, both run by `npm test`: `unit` (pure: constructs, policy, config, review on in-memory
 * stacks; seconds) and `integration` (real servers, the Docker engine, terraform/caddy/promtool CLIs,
 * child processes). `npm run test:unit` runs the fast tier alone.
 */
const INTEGRATION = [
  "__tests__/engine/**/*.test.ts",
  "__tests__/renderers/**/*.test.ts",
  "__tests__/config/injection.test.ts",
  "__tests__/config/main-write-nothing.test.ts",
  "__tests__/constructs/prometheus-server.test.ts",
  "__tests__/docs/commands.test.ts",
  "__tests__/environments/edge-caddyfile.test.ts",
  "__tests__/environments/stacks.test.ts",
  "__tests__/environments/synth-app.test.ts",
  "__tests__/environments/terraform-templates.test.ts",
  "__tests__/policy/cli-synth.test.ts",
  "__tests__/review/cli.test.ts",
  "__tests__/review/dot.test.ts",
  "__tests__/scripts/staged-apply.test.ts",
  "__tests__/scripts/format.test.ts",
];

export default defineConfig({
  test: {
    setupFiles: ["__tests__/setup.ts"],
    reporters: ["default", "./__tests__/support/summary-reporter.ts"],
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["__tests__/**/*.test.ts"], exclude: INTEGRATION, testTimeout: 20_000, hookTimeout: 60_000 },
      },
      {
        extends: true,
        test: { name: "integration", include: INTEGRATION, testTimeout: 60_000, hookTimeout: 120_000 },
      },
    ],
  },
});
