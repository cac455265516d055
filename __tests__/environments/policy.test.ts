import { describe, expect, it } from "vitest";
import { blockingFindings, evaluatePolicy } from "../../constructs/policy/policy-aspect";
import { ENVIRONMENTS } from "../../environments/load";
import { synthEnvironment } from "../support/stacks";

describe("policy pack over the real environments", () => {
  for (const name of ENVIRONMENTS) {
    it(`${name} has zero unsuppressed policy errors`, () => {
      const { stack } = synthEnvironment(name);
      const findings = evaluatePolicy(stack, { environment: name });
      expect(blockingFindings(findings).map((f) => f.message)).toEqual([]);
    });

    it(`${name}: every suppression carries a written reason`, () => {
      const { stack } = synthEnvironment(name);
      const suppressed = evaluatePolicy(stack, { environment: name }).filter((f) => f.suppressed);
      expect(suppressed.length).toBeGreaterThan(0);
      for (const f of suppressed) expect(f.suppressed!.reason.length).toBeGreaterThanOrEqual(10);
    });
  }

  it("prod pins every image by digest (no image-digest findings at all)", () => {
    const { stack } = synthEnvironment("prod");
    expect(evaluatePolicy(stack, { environment: "prod" }).filter((f) => f.ruleId === "image-digest")).toEqual([]);
  });

  it("dev is told (as warnings) that its images are not pinned", () => {
    const { stack } = synthEnvironment("dev");
    const warnings = evaluatePolicy(stack, { environment: "dev" }).filter((f) => f.ruleId === "image-digest");
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings.every((f) => f.severity === "warning")).toBe(true);
  });
});
