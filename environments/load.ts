import { consoleText } from "../constructs/contract/console-text";
import { ENVIRONMENTS, type EnvironmentName } from "../constructs/contract/environments";
import { posix } from "node:path";
import type { z } from "zod";
import { devConfig } from "./dev";
import { prodConfig } from "./prod";
import { type EnvironmentConfig, type EnvironmentConfigInput, environmentConfigSchema } from "./schema";
import { testConfig } from "./test";
import { globalVariableProblems, variableForPath, type VariableKey, variableName, Variables } from "./variables";

export { ENVIRONMENTS, type EnvironmentName };

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
    super(
      // Problems quote the values they refuse: printed, those must not act on the terminal or add lines.
      `Invalid configuration for environment "${consoleText(environment)}" (${problems.length} problem${problems.length === 1 ? "" : "s"}); nothing was synthesized:\n${problems.map((p) => `  - ${consoleText(p)}`).join("\n")}`,
    );
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
      lines.push(
        ...describeIssues(issue.issues.map((inner) => ({ ...inner, path: [...issue.path, ...key, ...inner.path] })) as z.core.$ZodIssue[]),
      );
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

/** "unix:///x" → the path; "ssh://u@host:22", "tcp://host:2375" → the host: what identifies the engine. */
function dockerEngine(url: string): string {
  const m = /^(unix|ssh|tcp):\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/]*)(.*)$/.exec(url);
  if (!m) return url;
  return m[1] === "unix" ? `unix:${posix.normalize(`/${m[2]}${m[3]}`)}` : `host:${m[2]!.toLowerCase()}`;
}

/** Problems of one environment's own variables and config, without the global ones. */
function environmentProblems(
  name: EnvironmentName,
  env: Readonly<Record<string, string | undefined>>,
): { config?: EnvironmentConfig; problems: string[] } {
  const vars = new Variables(name, env);
  const input = BUILDERS[name](vars);
  // The prod engine is never a dev target, whatever the variables say (a dev deploy there would
  // create dev containers next to prod's and could take its ports).
  if (name === "dev") {
    const prodHost = env[variableName("prod", "DOCKER_HOST")]?.trim();
    if (prodHost && dockerEngine(prodHost) === dockerEngine(input.dockerHost)) {
      const devVar = vars.name("DOCKER_HOST");
      vars.report(
        devVar,
        `${vars.isSet("DOCKER_HOST") ? `"${input.dockerHost}"` : `the default "${input.dockerHost}"`} is prod's Docker engine (${variableName("prod", "DOCKER_HOST")}); dev never deploys there: set ${devVar} to your own engine`,
      );
    }
  }
  const result = environmentConfigSchema.safeParse(input);
  const problems = [
    ...vars.problems.map((p) => `${p.variable} (environment variable): ${p.message}`),
    ...(result.success ? [] : attributeIssues(name, vars, result.error.issues)),
  ];
  return problems.length === 0 && result.success ? { config: result.data, problems } : { problems };
}

/** Key-path problems, each led by the variable the user set when one feeds that path (or a path its message names). */
function attributeIssues(name: EnvironmentName, vars: Variables, issues: readonly z.core.$ZodIssue[]): string[] {
  return describeIssues(issues).map((line) => {
    const colon = line.indexOf(": ");
    const path = line.slice(0, colon);
    const mentioned = [path, ...(line.slice(colon).match(/\b[a-z][A-Za-z]*(?:\.[A-Za-z0-9]+)+\b/g) ?? [])];
    const keys = [
      ...new Set(
        mentioned.map((p) => variableForPath(name, p.split("."))).filter((k): k is VariableKey => k !== undefined && vars.isSet(k)),
      ),
    ];
    return keys.length === 0 ? line : `${keys.map((k) => vars.name(k)).join(", ")} (environment variable, ${path})${line.slice(colon)}`;
  });
}

/** Builds and validates one environment from its file and its UPDATEIO_<ENV>_* variables (global problems included). */
export function loadEnvironmentConfig(name: string, env: Readonly<Record<string, string | undefined>> = process.env): EnvironmentConfig {
  if (!(ENVIRONMENTS as readonly string[]).includes(name)) {
    throw new ConfigError(name, [`environment: "${name}" is not one of ${ENVIRONMENTS.join(", ")}`]);
  }
  const global = globalVariableProblems(env).map((p) => `${p.variable} (environment variable): ${p.message}`);
  const { config, problems } = environmentProblems(name as EnvironmentName, env);
  if (global.length > 0 || !config) throw new ConfigError(name, [...global, ...problems]);
  return config;
}

export interface LoadedEnvironments {
  readonly configs: EnvironmentConfig[];
  /** Problems that block every environment (old global names, unknown UPDATEIO_* variables). */
  readonly global: string[];
  /** One error per invalid environment, without the global problems. */
  readonly errors: ConfigError[];
}

/** Loads the named environments, each validated on its own: one invalid environment does not hide another's problems. */
export function loadEnvironments(
  names: readonly EnvironmentName[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): LoadedEnvironments {
  const configs: EnvironmentConfig[] = [];
  const errors: ConfigError[] = [];
  for (const name of names) {
    const { config, problems } = environmentProblems(name, env);
    if (config) configs.push(config);
    else errors.push(new ConfigError(name, problems));
  }
  return { configs, global: globalVariableProblems(env).map((p) => `${p.variable} (environment variable): ${p.message}`), errors };
}
