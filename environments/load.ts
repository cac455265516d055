import type { z } from "zod";
import { devConfig } from "./dev";
import { prodConfig } from "./prod";
import { environmentConfigSchema, type EnvironmentConfig, type EnvironmentConfigInput } from "./schema";
import { testConfig } from "./test";
import { Variables } from "./variables";

export const ENVIRONMENTS = ["dev", "test", "prod"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

const BUILDERS: Record<EnvironmentName, (vars: Variables) => EnvironmentConfigInput> = {
  dev: devConfig,
  test: testConfig,
  prod: prodConfig,
};

/** Every problem in one environment's configuration, each naming its key path (or variable) and the fix. */
export class ConfigError extends Error {
  constructor(
    readonly environment: string,
    readonly problems: readonly string[],
  ) {
    super(`Invalid configuration for environment "${environment}" (${problems.length} problem${problems.length === 1 ? "" : "s"}); nothing was synthesized:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Turns zod issues into "key.path: message" lines. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = issue.path.map(String).join(".") || "(root)";
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const at = issue.path.length > 0 ? `${path}.${key}` : key;
        lines.push(`${at}: unknown key; remove it or fix its spelling`);
      }
    } else if ((issue.code === "invalid_key" || issue.code === "invalid_element") && issue.issues.length > 0) {
      // A bad record key or map element: the useful message is the nested one.
      const key = issue.code === "invalid_key" ? [] : [String(issue.key)];
      lines.push(...describeIssues(issue.issues.map((inner) => ({ ...inner, path: [...issue.path, ...key, ...inner.path] })) as z.core.$ZodIssue[]));
    } else if (issue.code === "invalid_union" && issue.errors.length > 0) {
      // A discriminated union reports the branch errors: show the most specific ones.
      const nested = issue.errors.flat().map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] }));
      lines.push(...(nested.length > 0 ? describeIssues(nested as z.core.$ZodIssue[]) : [`${path}: ${issue.message}`]));
    } else {
      lines.push(`${path}: ${issue.message}`);
    }
  }
  return lines;
}

/** Validates a whole environment object (used by tests and by loadEnvironmentConfig). */
export function validateEnvironmentConfig(input: unknown, label = "config"): EnvironmentConfig {
  const result = environmentConfigSchema.safeParse(input);
  if (!result.success) throw new ConfigError(label, describeIssues(result.error.issues));
  return result.data;
}

/** Builds and validates one environment from its file and the process environment. */
export function loadEnvironmentConfig(name: string, env: Readonly<Record<string, string | undefined>> = process.env): EnvironmentConfig {
  if (!(ENVIRONMENTS as readonly string[]).includes(name)) {
    throw new ConfigError(name, [`environment: "${name}" is not one of ${ENVIRONMENTS.join(", ")}`]);
  }
  const vars = new Variables(env);
  const input = BUILDERS[name as EnvironmentName](vars);
  const result = environmentConfigSchema.safeParse(input);
  const problems = [
    ...vars.problems.map((p) => `${p.variable} (environment variable): ${p.message}`),
    ...(result.success ? [] : describeIssues(result.error.issues)),
  ];
  if (problems.length > 0 || !result.success) throw new ConfigError(name, problems);
  return result.data;
}
