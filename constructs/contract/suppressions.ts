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
 * creates or is changed to run. Limited to subjects (`appliesTo`, cdk-nag's granular suppressions),
 * it covers only the findings about those subjects, such as the host paths its reason names: a
 * bind added later is judged on its own.
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

/**
 * The rules whose findings name a subject a suppression can be limited to (`appliesTo`), and what
 * that subject is. A host path is written absolute and normalized ("/proc", "/var/lib/docker/image"),
 * as the rule reports it; only plain binds carry one (a bind through volume driver options does not).
 * An access is how a workload mounts another service's volume, "read-only" or "read-write"; only
 * such mounts by a service's own container carry one (a seed's, a secrets owner's, a duplicate
 * name or a volume that does not say whose it is never do).
 */
export const SUBJECT_RULES: Readonly<Partial<Record<PolicyRuleId, SubjectKind>>> = {
  "no-host-paths": "host path",
  "no-docker-socket": "host path",
  "volume-sharing": "volume access",
};
type SubjectKind = "host path" | "volume access";

/** The subjects of volume-sharing's findings: how the foreign volume is mounted. */
export const VOLUME_ACCESS = ["read-only", "read-write"] as const;

/** An absolute host path with no empty, "." or ".." segment and no trailing slash ("/" itself allowed). */
const NORMAL_HOST_PATH = /^\/(?:(?!\.{1,2}(?:\/|$))[^/\0\n]+(?:\/(?!\.{1,2}(?:\/|$))[^/\0\n]+)*)?$/;
const MAX_SUBJECTS = 16;
const SUBJECT_FORMS: Readonly<Record<SubjectKind, RegExp>> = {
  "host path": NORMAL_HOST_PATH,
  "volume access": new RegExp(`^(?:${VOLUME_ACCESS.join("|")})$`),
};
const SUBJECT_PLURALS: Readonly<Record<SubjectKind, string>> = { "host path": "host paths", "volume access": "volume accesses" };
const SUBJECT_FIXES: Readonly<Record<SubjectKind, string>> = {
  "host path": `write absolute paths without "." or ".." segments, doubled or trailing slashes ("/proc", "/var/lib/docker/image")`,
  "volume access": `write ${VOLUME_ACCESS.map((a) => JSON.stringify(a)).join(" or ")}`,
};

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
  /**
   * The subjects whose findings it covers, for a rule in SUBJECT_RULES (host paths such as "/proc",
   * or "read-only" for volume-sharing); any other finding of the rule is still reported.
   * @default every finding of the rule
   */
  readonly appliesTo?: readonly string[];
}

/** A suppression as recorded on a construct: reason trimmed, image reduced to its repository. */
export interface RecordedSuppression {
  readonly rule: PolicyRuleId;
  readonly reason: string;
  readonly image?: string;
  readonly appliesTo?: readonly string[];
}

function isRuleId(id: unknown): id is PolicyRuleId {
  return typeof id === "string" && (POLICY_RULE_IDS as readonly string[]).includes(id);
}

/** Problems with one suppression on `scope`, given those already recorded there. */
function suppressionProblems(
  scope: IConstruct,
  s: { id: unknown; reason: unknown; image?: unknown; appliesTo?: unknown },
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
  return s.appliesTo === undefined ? [] : appliesToProblems(s.id, s.appliesTo);
}

function appliesToProblems(id: PolicyRuleId, appliesTo: unknown): string[] {
  const subject = SUBJECT_RULES[id];
  if (subject === undefined)
    return [
      `"${id}": appliesTo limits a suppression to the subjects a rule names, and this rule names none (rules that do: ${Object.keys(SUBJECT_RULES).join(", ")}); drop appliesTo.`,
    ];
  if (!Array.isArray(appliesTo) || appliesTo.length === 0 || appliesTo.length > MAX_SUBJECTS)
    return [`"${id}": appliesTo must list 1 to ${MAX_SUBJECTS} ${SUBJECT_PLURALS[subject]}; got ${JSON.stringify(appliesTo)}.`];
  const bad = appliesTo.filter((x) => typeof x !== "string" || !SUBJECT_FORMS[subject].test(x));
  if (bad.length > 0)
    return [
      `"${id}": appliesTo holds ${bad.map((x) => JSON.stringify(x)).join(", ")}, not ${SUBJECT_PLURALS[subject]} as the rule reports them: ${SUBJECT_FIXES[subject]}.`,
    ];
  const twice = appliesTo.filter((x, i) => appliesTo.indexOf(x) !== i);
  return twice.length > 0 ? [`"${id}": appliesTo lists ${JSON.stringify(twice[0])} more than once.`] : [];
}

/** A checked suppression as recorded: reason trimmed, image reduced to its repository, subjects frozen. */
function toRecorded(rule: PolicyRuleId, reason: string, image?: string, appliesTo?: readonly string[]): RecordedSuppression {
  return {
    rule,
    reason: reason.trim(),
    ...(image !== undefined ? { image: imageRepository(image) } : {}),
    ...(appliesTo !== undefined ? { appliesTo: Object.freeze([...appliesTo]) } : {}),
  };
}

function fail(scope: IConstruct, problems: readonly string[]): never {
  throw new ValidationError(`Policy suppression on ${scope.node.path || "<app>"}`, problems);
}

export const PolicySuppressions = {
  /**
   * Suppress each rule on `construct` and everything below it, with its written reason. Throws a
   * ValidationError for an unknown rule id, a reason shorter than MIN_REASON_LENGTH characters, an
   * app or stack (suppressions are per construct, never global), a rule already suppressed on this
   * construct, an image that is not an image reference, or an appliesTo on a rule that names no
   * subjects or with subjects not written as the rule reports them.
   */
  addResourceSuppressions(construct: IConstruct, suppressions: readonly PolicySuppression[]): void {
    // All or nothing: every entry is checked (against those recorded and those before it) first.
    const recorded = PolicySuppressions.of(construct);
    const entries: RecordedSuppression[] = [];
    const problems = suppressions.flatMap((s) => {
      const found = suppressionProblems(construct, s, [...recorded, ...entries]);
      if (found.length === 0) entries.push(toRecorded(s.id as PolicyRuleId, s.reason, s.image, s.appliesTo));
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
      const d = (typeof m.data === "object" && m.data !== null ? m.data : {}) as {
        rule?: unknown;
        reason?: unknown;
        image?: unknown;
        appliesTo?: unknown;
      };
      const problems = suppressionProblems(construct, { id: d.rule, reason: d.reason, image: d.image, appliesTo: d.appliesTo }, out);
      if (problems.length > 0) fail(construct, [...problems, "(recorded without PolicySuppressions.addResourceSuppressions)"]);
      out.push(toRecorded(d.rule as PolicyRuleId, d.reason as string, d.image as string | undefined, d.appliesTo as string[] | undefined));
    }
    return out;
  },
};
