/**
 * Service names joined with "-" can meet: a call network is `<callee>-<caller>`, so `a` called by
 * `b-c` and `a-b` called by `c` would share `a-b-c`, and `volume` called by `usage` would take the
 * volume-usage job's network. Either is refused at construction, naming both sides.
 */
import { Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { EnvironmentStack } from "../../environments/environment-stack";
import { loadEnvironmentConfig, validateEnvironmentConfig, type EnvironmentName } from "../../environments/load";
import { errorOf } from "../support/helpers";
import { statusPageEntry } from "../support/status-page";

/** The environment with extra services copied from the status page (no routes), each calling what `calls` says. */
function build(env: EnvironmentName, extra: Record<string, string[]>): () => EnvironmentStack {
  const base = loadEnvironmentConfig(env, {});
  const services: Record<string, unknown> = { ...base.services };
  for (const [name, calls] of Object.entries(extra)) services[name] = { ...statusPageEntry(env), routes: [], calls };
  const config = validateEnvironmentConfig({ ...base, services }, env);
  return () => new EnvironmentStack(Testing.app(), env, config);
}

describe("network names made from service names", () => {
  it("refuses two call pairs whose names meet in one network", () => {
    // The ValidationError lists one problem, after "EnvironmentStack dev is invalid:".
    expect(errorOf(build("dev", { a: [], "b-c": ["a"], "a-b": [], c: ["a-b"] }))).toMatch(
      /^EnvironmentStack dev is invalid:\n {2}- network "a-b-c" would serve both services\.(b-c calling services\.a|c calling services\.a-b) and services\.(b-c calling services\.a|c calling services\.a-b) .*rename one of the services$/,
    );
  });

  it("refuses a call network that takes a platform network's name", () => {
    expect(errorOf(build("prod", { volume: [], usage: ["volume"] }))).toMatch(
      /^EnvironmentStack prod is invalid:\n {2}- network "prod-volume-usage" is made 2 times \(prod\/.+, prod\/.+\); rename the service[^\n]*$/,
    );
  });

  it("accepts services whose names do not meet", () => {
    expect(() => build("dev", { billing: [], "billing-ui": ["billing"] })()).not.toThrow();
  });
});
