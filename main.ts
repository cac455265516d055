import { App } from "cdktf";
import { EnvironmentStack } from "./environments/environment-stack";
import { ConfigError, ENVIRONMENTS, loadEnvironmentConfig } from "./environments/load";

/**
 * One independent stack per environment (dev, test, prod), so `cdktf deploy dev` touches dev
 * alone. Every config is validated before any construct is built: one bad environment stops the
 * whole synth with every problem listed, and nothing is written.
 */
function main(): void {
  // cdktf records a stack trace for every token; with tsx's source maps on, mapping them costs
  // about 140 ms per synth (scripts/bench.ts, section 4). Errors below are printed as messages.
  process.setSourceMapsEnabled(false);
  const configs = [];
  const errors: ConfigError[] = [];
  for (const name of ENVIRONMENTS) {
    try {
      configs.push(loadEnvironmentConfig(name));
    } catch (e) {
      if (e instanceof ConfigError) errors.push(e);
      else throw e;
    }
  }
  if (errors.length > 0) {
    process.stderr.write(`${errors.map((e) => e.message).join("\n\n")}\n`);
    process.exit(1);
  }
  const app = new App();
  try {
    for (const config of configs) new EnvironmentStack(app, config.name, config);
  } catch (e) {
    // A construct rejected its props: say which and why, without a stack trace, and write nothing.
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  }
  app.synth();
}

main();
