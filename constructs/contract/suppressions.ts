/**
 * Policy suppressions as construct metadata (model: cdk-nag's `NagSuppressions`). A construct that
 * needs an exception from a policy rule records it on itself with a written reason; the policy pack
 * reads it when it judges the resources at or below that construct. Constructs import this module,
 * never the policy pack.
 *
 *   PolicySuppressions.addResourceSuppressions(job, [
 *     { id: "non-root", reason: "chown needs root with CAP_CHOWN, its only capability", image: job.image },
 *   ]);
 *
 * A suppression covers one rule on one construct and everything below it, except that one recorded
 * on a resource covers that resource alone (a resource made inside it does not borrow it). Limited
 * to an image (`image`), it covers only resources that run that image repository: the exemption
 * then rests on what the container IS and does not carry over to anything else the construct
 * creates or is changed to run.
 */
import { App, TerraformStack } from "cdktf";
import type { IConstruct } from "constructs";
import { ValidationError } from "./errors";
import { imageRepository } from "./patterns";

/** The policy pack's rule ids, in the order it evaluates them: what a suppression may name. */
export const POLICY_RULE_IDS = [
  "memory-limit",
  "cpu-limit",
  "cpu-cap",
  "process-limit",
  "restart-policy",
  "healthcheck",
  "log-rotation",
  "stop-grace-period",
  "update-config",
  "rollback-config",
  "not-privileged",
  "capabilities-dropped",
  "no-new-privileges",
  "read-only-rootfs",
  "tmpfs-options",
  "non-root",
  "no-host-namespaces",
  "no-unconfined-profiles",
  "no-devices",
  "sysctls-allowed",
  "ulimits-bounded",
  "default-runtime",
  "no-storage-opts",
  "shm-size-bounded",
  "no-cgroup-parent",
  "no-extra-hosts",
  "no-docker-socket",
  "no-host-paths",
  "host-binds-confined",
  "no-volumes-from",
  "plain-volumes",
  "volume-sharing",
  "published-ports",
  "data-internal-networks",
  "declared-networks",
  "network-by-id",
  "network-driver",
  "image-digest",
  "no-secret-literal-env",
  "no-upload-on-read-only",
  "secret-file-permissions",
  "swarm-object-data",
  "swarm-object-replace-first",
  "required-labels",
  "prod-volume-protected",
  "createdb-dev-only",
  "no-unjudged-expressions",
  "no-provisioners",
  "known-resource-types",
] as const;
export type PolicyRuleId = (typeof POLICY_RULE_IDS)[number];

export const MIN_REASON_LENGTH = 10;

/** Type of the metadata entry a suppression is recorded as, on the construct's node. */
export const SUPPRESSION_METADATA_TYPE = "io.updateio/policy-suppression";

/** What a construct asks for (cdk-nag's `{ id, reason }`, plus an optional image limit). */
export interface PolicySuppression {
  /** The rule id, e.g. "non-root". */
  readonly id: string;
  /** Why the rule does not apply here, or what mitigates it (at least MIN_REASON_LENGTH characters). */
  readonly reason: string;
  /** Image reference whose repository the suppression is limited to ("gcr.io/cadvisor/cadvisor:v0.49", tag and digest ignored). */
  readonly image?: string;
}

/** A suppression as recorded on a construct: reason trimmed, image reduced to its repository. */
export interface RecordedSuppression {
  readonly rule: PolicyRuleId;
  readonly reason: string;
  readonly image?: string;
}

function isRuleId(id: unknown): id is PolicyRuleId {
  return typeof id === "string" && (POLICY_RULE_IDS as readonly string[]).includes(id);
}

/** Problems with one suppression on `scope`, given those already recorded there. */
function suppressionProblems(
  scope: IConstruct,
  s: { id: unknown; reason: unknown; image?: unknown },
  recorded: readonly RecordedSuppression[],
): string[] {
  if (!isRuleId(s.id)) return [`unknown rule id ${JSON.stringify(s.id)}. Known rule ids: ${POLICY_RULE_IDS.join(", ")}.`];
  const text = typeof s.reason === "string" ? s.reason.trim() : "";
  if (text.length < MIN_REASON_LENGTH) {
    return [
      `"${s.id}": a suppression needs a written reason of at least ${MIN_REASON_LENGTH} characters ` +
        `(why the rule does not apply here, or what mitigates it); got ${JSON.stringify(s.reason)}.`,
    ];
  }
  if (App.isApp(scope) || TerraformStack.isStack(scope)) {
    return [
      `"${s.id}": suppressions are per construct; suppressing a rule for a whole ${App.isApp(scope) ? "app" : "stack"} is not allowed. Suppress it on the construct that needs the exception.`,
    ];
  }
  const earlier = recorded.find((r) => r.rule === s.id);
  if (earlier) return [`"${s.id}": the rule is already suppressed on this construct (reason: ${earlier.reason}).`];
  if (s.image !== undefined && (typeof s.image !== "string" || imageRepository(s.image) === "")) {
    return [`"${s.id}": image must be an image repository such as "gcr.io/cadvisor/cadvisor"; got ${JSON.stringify(s.image)}.`];
  }
  return [];
}

function fail(scope: IConstruct, problems: readonly string[]): never {
  throw new ValidationError(`Policy suppression on ${scope.node.path || "<app>"}`, problems);
}

export const PolicySuppressions = {
  /**
   * Suppress each rule on `construct` and everything below it, with its written reason. Throws a
   * ValidationError for an unknown rule id, a reason shorter than MIN_REASON_LENGTH characters, an
   * app or stack (suppressions are per construct, never global), a rule already suppressed on this
   * construct, or an image that is not an image reference.
   */
  addResourceSuppressions(construct: IConstruct, suppressions: readonly PolicySuppression[]): void {
    // All or nothing: every entry is checked (against those recorded and those before it) first.
    const recorded = PolicySuppressions.of(construct);
    const entries: RecordedSuppression[] = [];
    const problems = suppressions.flatMap((s) => {
      const found = suppressionProblems(construct, s, [...recorded, ...entries]);
      if (found.length === 0)
        entries.push({
          rule: s.id as PolicyRuleId,
          reason: s.reason.trim(),
          ...(s.image !== undefined ? { image: imageRepository(s.image) } : {}),
        });
      return found;
    });
    if (problems.length > 0) fail(construct, problems);
    for (const entry of entries) construct.node.addMetadata(SUPPRESSION_METADATA_TYPE, Object.freeze(entry), { stackTrace: false });
  },

  /**
   * The suppressions recorded on `construct` itself (not its parents), in the order they were added.
   * Entries are checked again as they are read: metadata written past addResourceSuppressions
   * (node.addMetadata with this type) must meet the same rules, or reading throws.
   */
  of(construct: IConstruct): RecordedSuppression[] {
    const out: RecordedSuppression[] = [];
    for (const m of construct.node.metadata) {
      if (m.type !== SUPPRESSION_METADATA_TYPE) continue;
      const d = (typeof m.data === "object" && m.data !== null ? m.data : {}) as { rule?: unknown; reason?: unknown; image?: unknown };
      const problems = suppressionProblems(construct, { id: d.rule, reason: d.reason, image: d.image }, out);
      if (problems.length > 0) fail(construct, [...problems, "(recorded without PolicySuppressions.addResourceSuppressions)"]);
      out.push({
        rule: d.rule as PolicyRuleId,
        reason: (d.reason as string).trim(),
        ...(d.image !== undefined ? { image: imageRepository(d.image as string) } : {}),
      });
    }
    return out;
  },
};
