/**
 * Every test that synthesizes a stack goes through synthText (support/synth-text.ts) instead of
 * cdktf's Testing.synth. Here both render each environment, in its default and its widest
 * configuration, and must agree to the byte (synth-text.test.ts has the awkward cases).
 */
import { Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { EnvironmentStack } from "../../environments/environment-stack";
import { loadEnvironmentConfig, type EnvironmentName } from "../../environments/load";
import { RENDER_CASES } from "../support/stacks";
import { synthText } from "../support/synth-text";
import { testOutdir } from "../support/test-stack";

const OUT = testOutdir("synth-text-test");
const build = (name: EnvironmentName, env: Readonly<Record<string, string>>) =>
  new EnvironmentStack(Testing.app({ outdir: OUT }), name, loadEnvironmentConfig(name, env));

describe("synthText", () => {
  it.each(RENDER_CASES)("renders %s %j to the same text as Testing.synth", (name, env) => {
    const expected = Testing.synth(build(name, env));
    expect(expected.length).toBeGreaterThan(10_000);
    expect(synthText(build(name, env)) === expected, "synthText and Testing.synth differ").toBe(true);
  });
});
