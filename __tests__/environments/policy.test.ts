import { describe, expect, it } from "vitest";
import { blockingFindings, evaluatePolicy, type Finding } from "../../constructs/policy/policy-aspect";
import { ENVIRONMENTS, type EnvironmentName } from "../../environments/load";
import { sharedEnvironment } from "../support/stacks";

describe("policy pack over the real environments", () => {
  // Each environment is synthesized and evaluated once, on first use.
  const cache = new Map<EnvironmentName, Finding[]>();
  const findings = (name: EnvironmentName): Finding[] => {
    if (!cache.has(name)) cache.set(name, evaluatePolicy(sharedEnvironment(name).stack, { environment: name }));
    return cache.get(name)!;
  };

  for (const name of ENVIRONMENTS) {
    it(`${name} has zero unsuppressed policy errors`, () => {
      expect(blockingFindings(findings(name)).map((f) => f.message)).toEqual([]);
    });

    it(`${name}: every suppression carries a written reason`, () => {
      const suppressed = findings(name).filter((f) => f.suppressed);
      expect(suppressed.length).toBeGreaterThan(0);
      for (const f of suppressed) expect(f.suppressed!.reason.length).toBeGreaterThanOrEqual(10);
    });
  }

  it("prod pins every image by digest (no image-digest findings at all)", () => {
    expect(findings("prod").filter((f) => f.ruleId === "image-digest")).toEqual([]);
  });

  it("dev is told (as warnings) that its images are not pinned", () => {
    const warnings = findings("dev").filter((f) => f.ruleId === "image-digest");
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.every((f) => f.severity === "warning")).toBe(true);
  });
});
