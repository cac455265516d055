/**
 * The policy pack as a cdktf Aspect.
 *
 *   applyPolicy(stack, { environment: "prod" });      // in EnvironmentStack, after everything else
 *   vouchForExpression(container, "env.NODE_OPTIONS", "heap size derived from the memory limit variable");
 *
 * Suppressions are construct metadata that constructs record through the contract
 * (`PolicySuppressions.addResourceSuppressions`, constructs/contract/suppressions.ts), so the kit
 * never imports the policy; this aspect reads them. The aspect runs the pack of the stack's
 * environment (`packs/`): the rules (`rules/<rule-id>.ts`) run on the stack's own synthesized Terraform JSON
 * (`TerraformStack.toTerraform()`, which resolves tokens: references come out as plain
 * `${docker_network.x.name}` strings), so they also see raw resources and escape-hatch overrides.
 * Findings become annotations on the construct of the offending resource (the same metadata entries
 * `Annotations.of(c).addError/addWarning/addInfo` write, without their stack trace):
 *   error      → "@cdktf/error"  (fails `app.synth()` with a thrown Error, and `cdktf synth` with exit 1)
 *   warning    → "@cdktf/warn"
 *   suppressed → "@cdktf/info", with the written reason.
 * A vouched-for expression is reported like a suppression of "no-unjudged-expressions" (info).
 *
 * Timing: cdktf invokes aspects top-down (a node, then its children), so an aspect that acts on the
 * stack node would run BEFORE other aspects visit the stack's resources. This aspect therefore
 * records the stack when it visits it and evaluates when it reaches the stack's last descendant,
 * i.e. after every aspect added before it has visited every node. Add the policy last.
 */
import { AnnotationMetadataEntryType, App, Aspects, IAspect, TerraformDataSource, TerraformResource, TerraformStack } from "cdktf";
import { IConstruct } from "constructs";
import { ENVIRONMENTS } from "../contract/environments";
import { MIN_REASON_LENGTH, PolicySuppressions, type PolicySuppression, type RecordedSuppression } from "../contract/index";
import { pattern } from "./expressions";
import { PACKS, severityOf } from "./packs/index";
import { knownResourceTypes, stackProblems } from "./rules/known-resource-types";
import { noUnjudgedExpressions, stackExpressionProblems, vouchedExpressions } from "./rules/no-unjudged-expressions";
import { problemParts, ruleAppliesTo, type Environment, type PolicyRule, type Severity, type TerraformJson } from "./types";
import { repositoryOf, workloadOf } from "./workload";

export type { Environment, PolicyRule, Severity } from "./types";
export { RULES, RULE_IDS } from "./rules/index";
export { PACKS, rulesFor, severityOf } from "./packs/index";
export { MIN_REASON_LENGTH } from "../contract/index";

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
  /** Image repository the suppression is limited to, when it is (see SuppressOptions). */
  readonly image?: string;
  /** The subjects (host paths, volume access) the suppression is limited to, when it is (see SuppressOptions). */
  readonly appliesTo?: readonly string[];
}

export interface SuppressOptions {
  /**
   * Limit the suppression to resources running this image repository ("gcr.io/cadvisor/cadvisor",
   * tag and digest ignored): the exemption then rests on what the container IS, and does not
   * carry over to anything else the construct creates or is changed to run.
   */
  readonly image?: string;
  /** Limit it to the findings about these subjects (host paths, volume access: the contract's SUBJECT_RULES). */
  readonly appliesTo?: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Suppressions: construct metadata recorded through the contract (PolicySuppressions), read here
// ---------------------------------------------------------------------------------------------

/**
 * Suppress one rule on one construct and everything below it, with a written reason: the same as
 * `PolicySuppressions.addResourceSuppressions(scope, [{ id: ruleId, reason, image }])` from the
 * contract, which is what constructs call (they never import the policy).
 */
export function suppressPolicy(scope: IConstruct, ruleId: string, reason: string, options: SuppressOptions = {}): void {
  const s: PolicySuppression = {
    id: ruleId,
    reason,
    ...(options.image !== undefined ? { image: options.image } : {}),
    ...(options.appliesTo !== undefined ? { appliesTo: options.appliesTo } : {}),
  };
  PolicySuppressions.addResourceSuppressions(scope, [s]);
}

/** Suppressions declared on `scope` and on every construct below it (for the review report). */
export function suppressionsOf(scope: IConstruct): Suppression[] {
  const out: Suppression[] = [];
  for (const c of scope.node.findAll()) {
    for (const e of PolicySuppressions.of(c))
      out.push({
        ruleId: e.rule,
        reason: e.reason,
        constructPath: c.node.path,
        ...(e.image !== undefined ? { image: e.image } : {}),
        ...(e.appliesTo !== undefined ? { appliesTo: e.appliesTo } : {}),
      });
  }
  return out;
}

function isTerraformBlock(c: IConstruct | undefined): boolean {
  return TerraformResource.isTerraformResource(c) || TerraformDataSource.isTerraformDataSource(c);
}

/** The suppression of `ruleId` recorded on the nearest of `construct` and its parents (other resources excepted), with where. */
function nearestSuppression(construct: IConstruct, ruleId: string): { entry: RecordedSuppression; scope: IConstruct } | undefined {
  const scopes = construct.node.scopes; // root first
  for (let i = scopes.length - 1; i >= 0; i--) {
    // A suppression on a resource is about that resource: one created inside it must not borrow it.
    if (scopes[i] !== construct && isTerraformBlock(scopes[i])) continue;
    const entry = PolicySuppressions.of(scopes[i]!).find((e) => e.rule === ruleId);
    if (entry) return { entry, scope: scopes[i]! };
  }
  return undefined;
}

/**
 * The suppression that covers `ruleId` on `construct` (declared on it or on the nearest parent).
 * One limited to an image (SuppressOptions.image) covers only a resource running that image
 * repository: pass the resource's repository (undefined when unknown, which never matches).
 */
export function effectiveSuppression(
  construct: IConstruct,
  ruleId: string,
  imageRepo?: string,
  subject?: string,
): { reason: string; scopePath: string; image?: string } | undefined {
  const found = nearestSuppression(construct, ruleId);
  if (!found) return undefined;
  const e = found.entry;
  if (e.image !== undefined && e.image !== imageRepo) return undefined;
  // Limited to subjects, it covers only a finding that names one of them (never one without a subject).
  if (e.appliesTo !== undefined && (subject === undefined || !e.appliesTo.includes(subject))) return undefined;
  return { reason: e.reason, scopePath: found.scope.node.path, ...(e.image !== undefined ? { image: e.image } : {}) };
}

/** Why a suppression on the construct did not apply (an image or subject limit), for the finding's message. */
function missedSuppression(construct: IConstruct, ruleId: string): string | undefined {
  const found = nearestSuppression(construct, ruleId);
  if (!found) return undefined;
  const limits = [
    ...(found.entry.image !== undefined ? [`image ${found.entry.image}`] : []),
    ...(found.entry.appliesTo !== undefined ? [`${found.entry.appliesTo.map((x) => JSON.stringify(x)).join(", ")}`] : []),
  ];
  return limits.length > 0 ? ` (the suppression on ${found.scope.node.path} covers only ${limits.join(", and only ")})` : undefined;
}

// ---------------------------------------------------------------------------------------------
// Vouching for expressions
// ---------------------------------------------------------------------------------------------

const VOUCHES = new WeakMap<IConstruct, Map<string, string>>();

/**
 * Say why an expression at one attribute of one resource is safe, so the rules accept it instead of
 * reporting it as unjudgeable: e.g. a value computed from a variable that the configuration schema
 * validates. `attribute` is the path in the synthesized JSON with `[]` for list positions
 * ("volumes[].host_path", "task_spec.container_spec.env.NODE_OPTIONS"). It covers only that
 * attribute of that resource, never a literal wrapped in `${...}`, and shows up as an info
 * annotation with the reason. Throws for a non-resource scope, a vague path or a short reason.
 */
export function vouchForExpression(resource: IConstruct, attribute: string, reason: string): void {
  const where = resource.node.path || "<app>";
  if (!TerraformResource.isTerraformResource(resource)) {
    throw new Error(
      `vouchForExpression(${where}): vouch on the resource itself (a docker_container, docker_service ...), not on a ${App.isApp(resource) ? "app" : TerraformStack.isStack(resource) ? "stack" : "construct"}.`,
    );
  }
  const path = pattern(typeof attribute === "string" ? attribute.trim() : "");
  if (!/^[a-z_][a-z0-9_]*(\[\])?(\.[A-Za-z0-9_.-]+?(\[\])?)*$/.test(path) || /[*]/.test(path)) {
    throw new Error(`vouchForExpression(${where}): "${attribute}" is not an attribute path such as "volumes[].host_path" or "env.NAME".`);
  }
  const text = typeof reason === "string" ? reason.trim() : "";
  if (text.length < MIN_REASON_LENGTH) {
    throw new Error(
      `vouchForExpression(${where}, "${path}"): needs a written reason of at least ${MIN_REASON_LENGTH} characters (why the expression is safe); got ${JSON.stringify(reason)}.`,
    );
  }
  let own = VOUCHES.get(resource);
  if (!own) {
    own = new Map();
    VOUCHES.set(resource, own);
  }
  if (own.has(path)) throw new Error(`vouchForExpression(${where}, "${path}"): already vouched for (reason: ${own.get(path)}).`);
  own.set(path, text);
}

// ---------------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------------

function assertContext(ctx: PolicyContext): void {
  if (!ctx || !(ENVIRONMENTS as readonly string[]).includes(ctx.environment)) {
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

/** True when `c` is the resource (or data source) that renders as `resourceType.resourceName`. */
function rendersAs(c: IConstruct | undefined, resourceType: string, resourceName: string): boolean {
  if (TerraformResource.isTerraformResource(c)) return c.friendlyUniqueId === resourceName && c.terraformResourceType === resourceType;
  if (TerraformDataSource.isTerraformDataSource(c))
    return c.friendlyUniqueId === resourceName && `data.${c.terraformResourceType}` === resourceType;
  return false;
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
  for (const c of all)
    if (TerraformResource.isTerraformResource(c) || TerraformDataSource.isTerraformDataSource(c)) byLogicalId.set(c.friendlyUniqueId, c);

  const out: Located[] = [];
  // What the stack holds besides its resources and data sources (a module, a check block, a local
  // or output that reads a file ...), checked once per stack. These belong to the stack, so no
  // suppression covers them.
  for (const [rule, problems] of [
    [knownResourceTypes, stackProblems],
    [noUnjudgedExpressions, stackExpressionProblems],
  ] as const) {
    const severity = severityOf(rule, ctx.environment);
    if (!severity) continue;
    for (const p of problems(stackJson)) {
      const finding: Finding = {
        ruleId: rule.id,
        severity,
        resourceType: p.type,
        resourceName: p.name,
        constructPath: `${stack.node.path} (${p.name ? `${p.type}.${p.name}` : p.type}, not made by a construct the policy knows)`,
        message: formatFindingMessage(rule, p.problem),
      };
      out.push({ finding, construct: stack });
    }
  }
  // Data sources are checked as "data.<type>" (only rules for every type look at them).
  const groups: [string, Record<string, Record<string, unknown>>][] = [
    ...Object.entries(stackJson.resource ?? {}),
    ...Object.entries(stackJson.data ?? {}).map(([t, byName]): [string, Record<string, Record<string, unknown>>] => [`data.${t}`, byName]),
  ];
  for (const [resourceType, byName] of groups) {
    const rules = PACKS[ctx.environment].filter((e) => ruleAppliesTo(e.rule, resourceType));
    if (rules.length === 0) continue;
    for (const [resourceName, resource] of Object.entries(byName ?? {})) {
      // The resource's own construct, only when it really renders this block: the "//" metadata is
      // part of the JSON and can be written by an override, and pointing it at a construct with
      // suppressions would borrow them. Anything else belongs to the stack (never suppressible).
      const path = metadataPath(resource);
      const made = [path !== undefined ? byPath.get(path) : undefined, byLogicalId.get(resourceName)].find((c) =>
        rendersAs(c, resourceType, resourceName),
      );
      const construct: IConstruct = made ?? stack;
      const constructPath = made ? made.node.path : `${stack.node.path} (${resourceType}.${resourceName}, not made by a construct)`;
      const vouches = VOUCHES.get(construct);
      const w = workloadOf(resource, resourceType);
      const imageRepo = w ? repositoryOf(w, stackJson) : undefined;
      const ruleCtx = { environment: ctx.environment, stackJson, vouchedFor: (p: string) => vouches?.get(p) };
      const guardSeverity = severityOf(noUnjudgedExpressions, ctx.environment);
      if (vouches && guardSeverity && !resourceType.startsWith("data.")) {
        for (const v of vouchedExpressions(resourceType, resource, ruleCtx)) {
          const message = `[${noUnjudgedExpressions.id}] vouched: ${v.reason} (expression: ${v.path} = ${v.value}; vouched on ${construct.node.path})`;
          const finding: Finding = {
            ruleId: noUnjudgedExpressions.id,
            severity: guardSeverity,
            resourceType,
            resourceName,
            constructPath,
            message,
            suppressed: { reason: v.reason, scopePath: construct.node.path },
          };
          out.push({ finding, construct });
        }
      }
      for (const { rule, severity } of rules) {
        for (const p of rule.check(resource, ruleCtx, resourceType)) {
          const { message: problem, subject } = problemParts(p);
          const found = effectiveSuppression(construct, rule.id, imageRepo, subject);
          const suppressed = found ? { reason: found.reason, scopePath: found.scopePath } : undefined;
          const message = suppressed
            ? formatSuppressedMessage(rule, problem, suppressed.reason, suppressed.scopePath)
            : formatFindingMessage(rule, `${problem}${missedSuppression(construct, rule.id) ?? ""}`);
          const finding: Finding = {
            ruleId: rule.id,
            severity,
            resourceType,
            resourceName,
            constructPath,
            message,
            ...(suppressed ? { suppressed } : {}),
          };
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
    this.results.set(
      stack,
      located.map((l) => l.finding),
    );
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
      throw new Error(
        `applyPolicy(${stack.node.path}): the policy is already applied for "${existing.context.environment}", not "${ctx.environment}".`,
      );
    }
    return;
  }
  Aspects.of(stack).add(new PolicyAspect({ environment: ctx.environment }));
}
