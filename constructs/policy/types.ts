/**
 * Types shared by the rules (`rules/*.ts`), the rule table (`rules.ts`) and the aspect.
 */

export type Environment = "dev" | "test" | "prod";
export type Severity = "error" | "warning";
/** Severity of a rule per environment; "off" = the rule does not apply in that environment. */
export type SeverityByEnvironment = Readonly<Record<Environment, Severity | "off">>;

export type ResourceType =
  "docker_container" | "docker_volume" | "docker_network" | "docker_image" | "docker_service" | "docker_secret" | "docker_config";

/** Synthesized Terraform JSON of one stack (the shape `TerraformStack.toTerraform()` returns). */
export interface TerraformJson {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
  readonly [key: string]: unknown;
}

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

export interface PolicyRule {
  /** kebab-case, stable: suppressions and docs refer to it. */
  readonly id: string;
  readonly severity: SeverityByEnvironment;
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
  check(resource: Record<string, unknown>, ctx: RuleContext, resourceType: string): string[];
}

export const everywhere = (severity: Severity): SeverityByEnvironment => ({ dev: severity, test: severity, prod: severity });

/** True when `rule` checks resources of `resourceType` ("data.<type>" for data sources). */
export function ruleAppliesTo(rule: PolicyRule, resourceType: string): boolean {
  if (rule.appliesTo === "*") return true;
  if (resourceType.startsWith("data.")) return false;
  return typeof rule.appliesTo === "string"
    ? rule.appliesTo === resourceType
    : (rule.appliesTo as readonly string[]).includes(resourceType);
}
