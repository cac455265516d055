/**
 * Types shared by the rules (`rules/<rule-id>.ts`), the packs (`packs/`) and the aspect.
 */
import type { EnvironmentName } from "../contract/environments";
import type { PolicyRuleId, TerraformJson } from "../contract/index";

export type { TerraformJson } from "../contract/index";
export type Environment = EnvironmentName;
export type Severity = "error" | "warning";

export type ResourceType =
  "docker_container" | "docker_volume" | "docker_network" | "docker_image" | "docker_service" | "docker_secret" | "docker_config";

export interface RuleContext {
  readonly environment: Environment;
  readonly stackJson: TerraformJson;
  /**
   * Reason a construct gave for an expression at this attribute path of the resource being checked
   * (`vouchForExpression`), or undefined. Paths are written with `[]` for list indexes, e.g.
   * "volumes[].host_path" or "task_spec.container_spec.env.NODE_OPTIONS".
   */
  readonly vouchedFor?: (path: string) => string | undefined;
}

/**
 * One rule, in its own file with its explanation (title, why, fix) beside its check (model: cdk-nag's
 * rules/). Which environments run it, and at which level, is the packs' choice.
 */
export interface PolicyRule {
  /** kebab-case, stable: suppressions and docs refer to it (listed in the contract's POLICY_RULE_IDS). */
  readonly id: PolicyRuleId;
  /** The level a pack runs it at unless the pack says otherwise. */
  readonly level: Severity;
  /** One line, what the rule demands. */
  readonly title: string;
  /** Why it matters (no trailing period: the message adds it). */
  readonly why: string;
  /** How to fix it (a full sentence). */
  readonly fix: string;
  /**
   * Resource type(s) the rule checks; "*" = every resource of the stack, whatever its provider
   * (data sources are passed as "data.<type>").
   */
  readonly appliesTo: ResourceType | readonly ResourceType[] | "*";
  /** Problems found on one resource of a type in `appliesTo`; empty when compliant. */
  check(resource: Record<string, unknown>, ctx: RuleContext, resourceType: string): Problem[];
}

/**
 * What a rule found: its text, or its text and the subject it is about (a host path, a volume's
 * access: the contract's SUBJECT_RULES), which a suppression limited with `appliesTo` must name to cover it.
 */
export type Problem = string | { readonly message: string; readonly subject: string };

/** A problem's text and subject, whichever form the rule returned. */
export function problemParts(p: Problem): { message: string; subject?: string } {
  return typeof p === "string" ? { message: p } : { message: p.message, subject: p.subject };
}

/** A rule as an environment's pack runs it. */
export interface PackEntry {
  readonly rule: PolicyRule;
  readonly severity: Severity;
}

/** True when `rule` checks resources of `resourceType` ("data.<type>" for data sources). */
export function ruleAppliesTo(rule: PolicyRule, resourceType: string): boolean {
  if (rule.appliesTo === "*") return true;
  if (resourceType.startsWith("data.")) return false;
  return typeof rule.appliesTo === "string"
    ? rule.appliesTo === resourceType
    : (rule.appliesTo as readonly string[]).includes(resourceType);
}
