/**
 * The policy pack as a cdktf Aspect, plus the suppression API.
 *
 *   applyPolicy(stack, { environment: "prod" });      // in EnvironmentStack, after everything else
 *   suppressPolicy(someConstruct, "image-digest", "built from source in dev on purpose: hot reload");
 *
 * The rules (`rules.ts`) run on the stack's own synthesized Terraform JSON
 * (`TerraformStack.toTerraform()`, which resolves tokens: references come out as plain
 * `${docker_network.x.name}` strings), so they also see raw resources and escape-hatch overrides.
 * Findings become annotations on the construct of the offending resource (the same metadata entries
 * `Annotations.of(c).addError/addWarning/addInfo` write, without their stack trace):
 *   error      → "@cdktf/error"  (fails `app.synth()` with a thrown Error, and `cdktf synth` with exit 1)
 *   warning    → "@cdktf/warn"
 *   suppressed → "@cdktf/info", with the written reason.
 *
 * Timing: cdktf invokes aspects top-down (a node, then its children), so an aspect that acts on the
 * stack node would run BEFORE other aspects visit the stack's resources. This aspect therefore
 * records the stack when it visits it and evaluates when it reaches the stack's last descendant,
 * i.e. after every aspect added before it has visited every node. Add the policy last.
 */
import { AnnotationMetadataEntryType, App, Aspects, IAspect, TerraformResource, TerraformStack } from "cdktf";
import { IConstruct } from "constructs";
import { Environment, PolicyRule, RULE_IDS, RULES, Severity, TerraformJson, ruleById, severityOf } from "./rules";

export type { Environment, PolicyRule, Severity } from "./rules";
export { RULES, RULE_IDS, rulesFor, severityOf } from "./rules";

export interface PolicyContext {
  readonly environment: Environment;
}

export interface Finding {
  readonly ruleId: string;
  readonly severity: Severity;
  /** Terraform resource type, e.g. "docker_container". */
  readonly resourceType: string;
  /** Terraform resource id in the JSON (the construct's friendlyUniqueId), e.g. "api_container_1A2B3C4D". */
  readonly resourceName: string;
  /** Construct path of the resource, e.g. "prod/api/container". */
  readonly constructPath: string;
  /** The full annotation text: `[rule-id] what — why. Fix: how` (or `[rule-id] suppressed: reason ...`). */
  readonly message: string;
  /** Present when a suppression on the construct or one of its parents covers this finding. */
  readonly suppressed?: { readonly reason: string; readonly scopePath: string };
}

export interface Suppression {
  readonly ruleId: string;
  readonly reason: string;
  /** Path of the construct the suppression was declared on (it covers everything below it). */
  readonly constructPath: string;
}

export const MIN_REASON_LENGTH = 10;

// ---------------------------------------------------------------------------------------------
// Suppressions
// ---------------------------------------------------------------------------------------------

const SUPPRESSIONS = new WeakMap<IConstruct, Map<string, string>>();

/**
 * Suppress one rule on one construct and everything below it, with a written reason.
 * Throws for an unknown rule id, a reason shorter than MIN_REASON_LENGTH characters, a stack or
 * app scope (suppressions are per construct, never global) or a second suppression of the same
 * rule on the same construct.
 */
export function suppressPolicy(scope: IConstruct, ruleId: string, reason: string): void {
  if (!ruleById(ruleId)) {
    throw new Error(`suppressPolicy(${scope.node.path || "<app>"}): unknown rule id "${ruleId}". Known rule ids: ${RULE_IDS.join(", ")}.`);
  }
  const text = typeof reason === "string" ? reason.trim() : "";
  if (text.length < MIN_REASON_LENGTH) {
    throw new Error(
      `suppressPolicy(${scope.node.path || "<app>"}, "${ruleId}"): a suppression needs a written reason of at least ${MIN_REASON_LENGTH} characters ` +
        `(why the rule does not apply here, or what mitigates it); got ${JSON.stringify(reason)}.`,
    );
  }
  if (App.isApp(scope) || TerraformStack.isStack(scope)) {
    throw new Error(
      `suppressPolicy(${scope.node.path || "<app>"}, "${ruleId}"): suppressions are per construct; suppressing a rule for a whole ${App.isApp(scope) ? "app" : "stack"} is not allowed. Suppress it on the construct that needs the exception.`,
    );
  }
  let own = SUPPRESSIONS.get(scope);
  if (!own) {
    own = new Map();
    SUPPRESSIONS.set(scope, own);
  }
  if (own.has(ruleId)) {
    throw new Error(`suppressPolicy(${scope.node.path}, "${ruleId}"): the rule is already suppressed on this construct (reason: ${own.get(ruleId)}).`);
  }
  own.set(ruleId, text);
}

/** Suppressions declared on `scope` and on every construct below it (for the review report). */
export function suppressionsOf(scope: IConstruct): Suppression[] {
  const out: Suppression[] = [];
  for (const c of scope.node.findAll()) {
    for (const [ruleId, reason] of SUPPRESSIONS.get(c) ?? []) out.push({ ruleId, reason, constructPath: c.node.path });
  }
  return out;
}

/** The suppression that covers `ruleId` on `construct` (declared on it or on the nearest parent). */
export function effectiveSuppression(construct: IConstruct, ruleId: string): { reason: string; scopePath: string } | undefined {
  const scopes = construct.node.scopes; // root first
  for (let i = scopes.length - 1; i >= 0; i--) {
    const reason = SUPPRESSIONS.get(scopes[i]!)?.get(ruleId);
    if (reason !== undefined) return { reason, scopePath: scopes[i]!.node.path };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

const ENVIRONMENTS: readonly Environment[] = ["dev", "test", "prod"];

function assertContext(ctx: PolicyContext): void {
  if (!ctx || !ENVIRONMENTS.includes(ctx.environment)) {
    throw new Error(`policy: environment must be one of ${ENVIRONMENTS.join(", ")}; got ${JSON.stringify(ctx?.environment)}.`);
  }
}

export function formatFindingMessage(rule: PolicyRule, problem: string): string {
  return `[${rule.id}] ${problem} — ${rule.why.replace(/\.\s*$/, "")}. Fix: ${rule.fix}`;
}

export function formatSuppressedMessage(rule: PolicyRule, problem: string, reason: string, scopePath: string): string {
  return `[${rule.id}] suppressed: ${reason} (finding: ${problem}; suppressed on ${scopePath})`;
}

function metadataPath(resource: Record<string, unknown>): string | undefined {
  const meta = resource["//"];
  if (typeof meta !== "object" || meta === null) return undefined;
  const inner = (meta as Record<string, unknown>).metadata;
  if (typeof inner !== "object" || inner === null) return undefined;
  const path = (inner as Record<string, unknown>).path;
  return typeof path === "string" ? path : undefined;
}

interface Located {
  readonly finding: Finding;
  readonly construct: IConstruct;
}

/** What the aspect rendered, per stack, until the stack's final render takes it (see takePolicyRendering). */
const renderedDuringSynth = new WeakMap<TerraformStack, unknown>();

/**
 * The stack's Terraform JSON as the policy aspect rendered it during this synth, once: cdktf renders
 * the stack again right after the aspects, and nothing between the two changes it, so a stack may
 * return this from its toTerraform() instead of rendering twice. Undefined outside that window.
 */
export function takePolicyRendering(stack: TerraformStack): unknown {
  const json = renderedDuringSynth.get(stack);
  renderedDuringSynth.delete(stack);
  return json;
}

function evaluate(stack: TerraformStack, ctx: PolicyContext, keepRendering = false): Located[] {
  assertContext(ctx);
  const stackJson = stack.toTerraform() as TerraformJson;
  if (keepRendering) renderedDuringSynth.set(stack, stackJson);
  const all = stack.node.findAll();
  const byPath = new Map<string, IConstruct>(all.map((c) => [c.node.path, c]));
  const byLogicalId = new Map<string, IConstruct>();
  for (const c of all) if (TerraformResource.isTerraformResource(c)) byLogicalId.set(c.friendlyUniqueId, c);

  const out: Located[] = [];
  const resources = stackJson.resource ?? {};
  for (const [resourceType, byName] of Object.entries(resources)) {
    const rules = RULES.filter((r) => r.appliesTo === resourceType);
    if (rules.length === 0) continue;
    for (const [resourceName, resource] of Object.entries(byName ?? {})) {
      const path = metadataPath(resource);
      const construct = (path !== undefined ? byPath.get(path) : undefined) ?? byLogicalId.get(resourceName) ?? stack;
      const constructPath = path ?? construct.node.path;
      for (const rule of rules) {
        const severity = severityOf(rule, ctx.environment);
        if (!severity) continue;
        for (const problem of rule.check(resource, { environment: ctx.environment, stackJson })) {
          const suppressed = effectiveSuppression(construct, rule.id);
          const message = suppressed
            ? formatSuppressedMessage(rule, problem, suppressed.reason, suppressed.scopePath)
            : formatFindingMessage(rule, problem);
          const finding: Finding = { ruleId: rule.id, severity, resourceType, resourceName, constructPath, message, ...(suppressed ? { suppressed } : {}) };
          out.push({ finding, construct });
        }
      }
    }
  }
  return out;
}

/**
 * Evaluate every rule on the stack's current synthesized JSON. Does not add annotations and does
 * not run aspects (call it after the tree is complete; `Testing.synth` ignores annotations, so tests
 * assert on this).
 */
export function evaluatePolicy(stack: TerraformStack, ctx: PolicyContext): Finding[] {
  return evaluate(stack, ctx).map((l) => l.finding);
}

/** Unsuppressed findings of severity "error" (what would fail synth). */
export function blockingFindings(findings: readonly Finding[]): Finding[] {
  return findings.filter((f) => f.severity === "error" && !f.suppressed);
}

// ---------------------------------------------------------------------------------------------
// The aspect
// ---------------------------------------------------------------------------------------------

export class PolicyAspect implements IAspect {
  /** Stacks already annotated (aspects are invoked again on every synth / Testing.synth). */
  private readonly done = new WeakSet<TerraformStack>();
  /** Last descendant (pre-order) of a stack → that stack: evaluate when we get there. */
  private readonly evaluateAt = new WeakMap<IConstruct, TerraformStack>();
  /** Findings of the last evaluation per stack (for callers that want them after synth). */
  private readonly results = new WeakMap<TerraformStack, Finding[]>();

  constructor(public readonly context: PolicyContext) {
    assertContext(context);
  }

  visit(node: IConstruct): void {
    if (TerraformStack.isStack(node)) {
      const all = node.node.findAll(); // pre-order, same order cdktf visits aspects in
      this.evaluateAt.set(all[all.length - 1]!, node);
    }
    const stack = this.evaluateAt.get(node);
    if (stack && !this.done.has(stack)) {
      this.done.add(stack);
      this.annotate(stack);
    }
  }

  findingsOf(stack: TerraformStack): Finding[] | undefined {
    return this.results.get(stack);
  }

  private annotate(stack: TerraformStack): void {
    const located = evaluate(stack, this.context, true);
    this.results.set(stack, located.map((l) => l.finding));
    for (const { finding, construct } of located) {
      const level = finding.suppressed
        ? AnnotationMetadataEntryType.INFO
        : finding.severity === "error"
          ? AnnotationMetadataEntryType.ERROR
          : AnnotationMetadataEntryType.WARN;
      // Same entry as Annotations.of(construct).addInfo/addWarning/addError, minus the stack trace:
      // that trace would point into this aspect (useless), and `cdktf synth` prints ~20 trace lines
      // under every error annotation.
      construct.node.addMetadata(level, finding.message, { stackTrace: false });
    }
  }
}

/** Add the policy aspect to a stack (once). Add it after any other aspect that changes resources. */
export function applyPolicy(stack: TerraformStack, ctx: PolicyContext): void {
  assertContext(ctx);
  const existing = Aspects.of(stack).all.find((a): a is PolicyAspect => a instanceof PolicyAspect);
  if (existing) {
    if (existing.context.environment !== ctx.environment) {
      throw new Error(`applyPolicy(${stack.node.path}): the policy is already applied for "${existing.context.environment}", not "${ctx.environment}".`);
    }
    return;
  }
  Aspects.of(stack).add(new PolicyAspect({ environment: ctx.environment }));
}
