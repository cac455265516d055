/** The problems a configuration check reports, for tests that assert what is refused and why. */
import { expect } from "vitest";
import { ConfigError, loadEnvironmentConfig, validateEnvironmentConfig, type EnvironmentName } from "../../environments/load";

/** The ConfigError's problems from fn; empty when fn accepts. Any other error is rethrown. */
export function configProblems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

/** Like configProblems, but an accepted configuration fails the test: for cases that must be refused. */
export function refusals(fn: () => unknown): string[] {
  const problems = configProblems(fn);
  if (problems.length === 0) throw new Error("expected a ConfigError, but the configuration was accepted");
  return problems;
}

/** Problems of loading `env` from these variables (the path main.ts takes). */
export function loadProblems(env: string, vars: Record<string, string>): string[] {
  return configProblems(() => loadEnvironmentConfig(env, vars));
}

/** A copy of `base` (a valid config) changed by `mutate`; `base` stays as it was. */
export function mutatedConfig(base: unknown, mutate: (c: any) => void): unknown {
  const changed = structuredClone(base) as any;
  mutate(changed);
  return changed;
}

/** Problems of `base` (a valid config of `env`) after `mutate` changed a copy of it. */
export function mutatedProblems(env: EnvironmentName, base: unknown, mutate: (c: any) => void): string[] {
  return configProblems(() => validateEnvironmentConfig(mutatedConfig(base, mutate), env));
}

/** The problem line that names `key` (a key path, or a variable "KEY (environment variable)"), which must exist. */
export function problemAt(lines: readonly string[], key: string): string {
  const line = lines.find((l) => l.startsWith(`${key}: `) || l.startsWith(`${key} (environment variable`));
  expect(line, `no problem names ${key}:\n${lines.join("\n")}`).toBeDefined();
  return line!;
}
