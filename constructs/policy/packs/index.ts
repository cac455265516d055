/**
 * The packs: which rules each environment runs, and at which level (model: cdk-nag's packs/).
 * The aspect runs the pack of the stack's environment.
 */
import type { Environment, PackEntry, PolicyRule, Severity } from "../types";
import { DEV_PACK } from "./dev";
import { PROD_PACK } from "./prod";
import { TEST_PACK } from "./test";

export { BASELINE } from "./baseline";
export { definePack, type PackChoice } from "./pack";
export { DEV_PACK, PROD_PACK, TEST_PACK };

/** The pack each environment runs: its rules with their severity there, in evaluation order. */
export const PACKS: Readonly<Record<Environment, readonly PackEntry[]>> = Object.freeze({
  dev: DEV_PACK,
  test: TEST_PACK,
  prod: PROD_PACK,
});

/** Severity of a rule in an environment, or undefined when that environment's pack does not run it. */
export function severityOf(rule: PolicyRule, environment: Environment): Severity | undefined {
  return PACKS[environment].find((e) => e.rule.id === rule.id)?.severity;
}

/** The rules an environment runs, optionally only one severity. */
export function rulesFor(environment: Environment, severity?: Severity): PolicyRule[] {
  return PACKS[environment].filter((e) => severity === undefined || e.severity === severity).map((e) => e.rule);
}
