/**
 * How a pack is written: the rules an environment runs, each at its own level or at the level the
 * pack chooses (model: cdk-nag's packs/).
 */
import { RULES } from "../rules/index";
import type { Environment, PackEntry, PolicyRule, Severity } from "../types";

/** A rule at its own level, or at the level this pack runs it at. */
export type PackChoice = PolicyRule | { readonly rule: PolicyRule; readonly level: Severity };

/**
 * The pack of `environment`: its rules with their levels, in the catalogue's order (the order the
 * aspect evaluates them, so findings come out in the same order in every environment). Throws for a
 * rule chosen twice or one that is not in the catalogue.
 */
export function definePack(environment: Environment, choices: readonly PackChoice[]): readonly PackEntry[] {
  const levels = new Map<PolicyRule, Severity>();
  for (const choice of choices) {
    const [rule, level] = "rule" in choice ? [choice.rule, choice.level] : [choice, choice.level];
    if (!RULES.includes(rule)) throw new Error(`policy pack ${environment}: "${rule.id}" is not in the rule catalogue (rules/index.ts).`);
    if (levels.has(rule)) throw new Error(`policy pack ${environment}: "${rule.id}" is chosen twice.`);
    levels.set(rule, level);
  }
  return Object.freeze(RULES.filter((r) => levels.has(r)).map((rule) => Object.freeze({ rule, severity: levels.get(rule)! })));
}
