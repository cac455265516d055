/**
 * Policy rules for the UpdateIO Docker platform: the rule table and the packs per environment.
 *
 * Every rule is a pure function over ONE resource of the stack's synthesized Terraform JSON
 * (`TerraformStack.toTerraform()`: snake_case keys, references already rendered as plain
 * `${type.name.attr}` strings). Rules therefore also catch raw provider resources that did not go
 * through the hardened-service kit. Each rule lives with its explanation in `rules/`:
 *
 *   rules/runtime.ts     limits, restarts, healthchecks, logs, Swarm rolling updates
 *   rules/privileges.ts  privileged, capabilities, users, namespaces, profiles, devices, sysctls ...
 *   rules/mounts.ts      Docker socket, host paths, volumes
 *   rules/network.ts     published ports, data networks, network drivers
 *   rules/image.ts       digests
 *   rules/secrets.ts     env secrets, secret files, Swarm secret/config objects
 *   rules/labels.ts      labels, protected volumes
 *   rules/guard.ts       expressions the policy cannot judge, provisioners, unknown types
 *
 * Rules shared by containers and Swarm services read both through one view (`workload.ts`);
 * values an attacker can spell many ways are normalised first (`normalize.ts`); a value written
 * as a Terraform expression is judged by `expressions.ts` (accepted forms, vouches) and is a
 * finding otherwise.
 *
 * A rule returns the list of problems it found ("what is wrong", one string each); an empty list
 * means the resource complies. The aspect in `policy-aspect.ts` turns problems into findings and
 * annotations:
 *
 *   [<rule-id>] <problem> — <why>. Fix: <fix>
 *
 * Exemptions rest on what a workload IS (its image repository, and a suppression on the construct
 * that made it), never on a label alone.
 */
import { judgeUser } from "./normalize";
import { GUARD_RULES } from "./rules/guard";
import { IMAGE_RULES } from "./rules/image";
import { LABEL_RULES } from "./rules/labels";
import { MOUNT_RULES } from "./rules/mounts";
import { NETWORK_RULES } from "./rules/network";
import { PRIVILEGE_RULES } from "./rules/privileges";
import { RUNTIME_RULES } from "./rules/runtime";
import { SECRET_RULES } from "./rules/secrets";
import type { Environment, PolicyRule, Severity } from "./types";

export type { Environment, PolicyRule, ResourceType, RuleContext, Severity, SeverityByEnvironment, TerraformJson } from "./types";
export { everywhere, ruleAppliesTo } from "./types";
export { blocks, isExpression, isSeedContainer, labelsOf, parseRef, type ResourceRef } from "./json";
export {
  ALLOWED_CAPABILITIES,
  effectiveNoNewPrivileges,
  exposesDockerSocket,
  imageRepository,
  isPinnedByDigest,
  judgeUser,
  normalizeCapability,
  normalizeHostPath,
  sensitiveHostPath,
  unwrapLiteral,
} from "./normalize";
export { judge, relativeHostPath } from "./expressions";
export {
  COMPONENTS,
  DATA_IMAGES,
  DOCKER_SOCKET_PROXY_ROLE,
  EDGE_IMAGES,
  LABELS,
  SOCKET_PROXY_IMAGES,
  type Component,
} from "./rules/common";
export {
  cpuLimit,
  healthcheck,
  logRotation,
  memoryLimit,
  restartPolicy,
  rollbackConfig,
  stopGracePeriod,
  updateConfig,
} from "./rules/runtime";
export {
  ALLOWED_SYSCTLS,
  capabilitiesDropped,
  defaultRuntime,
  noCgroupParent,
  noDevices,
  noExtraHosts,
  noHostNamespaces,
  noNewPrivileges,
  nonRoot,
  noStorageOpts,
  notPrivileged,
  noUnconfinedProfiles,
  readOnlyRootfs,
  shmSizeBounded,
  sysctlsAllowed,
  ulimitsBounded,
} from "./rules/privileges";
export { noDockerSocket, noHostPaths, noVolumesFrom, plainVolumes } from "./rules/mounts";
export { dataInternalNetworks, declaredNetworks, networkById, networkDriver, publishedPorts } from "./rules/network";
export { imageDigest } from "./rules/image";
export {
  isSecretEnvName,
  noSecretLiteralEnv,
  noUploadOnReadOnly,
  secretFilePermissions,
  swarmObjectData,
  swarmObjectReplaceFirst,
} from "./rules/secrets";
export { prodVolumeProtected, requiredLabels } from "./rules/labels";
export { ALLOWED_DATA_SOURCES, ALLOWED_RESOURCE_TYPES, knownResourceTypes, noProvisioners, noUnjudgedExpressions } from "./rules/guard";

/** True for every spelling of root ("0", "00", "0:0", "root", "root:root", "+0" ...) and an empty user. */
export function isRootUser(user: string): boolean {
  return judgeUser(user).kind === "root";
}

export const RULES: readonly PolicyRule[] = Object.freeze([
  ...RUNTIME_RULES,
  ...PRIVILEGE_RULES,
  ...MOUNT_RULES,
  ...NETWORK_RULES,
  ...IMAGE_RULES,
  ...SECRET_RULES,
  ...LABEL_RULES,
  ...GUARD_RULES,
]);

export const RULE_IDS: readonly string[] = RULES.map((r) => r.id);

export function ruleById(id: string): PolicyRule | undefined {
  return RULES.find((r) => r.id === id);
}

/** Severity of a rule in an environment, or undefined when the rule does not apply there. */
export function severityOf(rule: PolicyRule, environment: Environment): Severity | undefined {
  const s = rule.severity[environment];
  return s === "off" ? undefined : s;
}

/** The pack of rules active in an environment, optionally only one severity ("a pack per severity"). */
export function rulesFor(environment: Environment, severity?: Severity): PolicyRule[] {
  return RULES.filter((r) => {
    const s = severityOf(r, environment);
    return s !== undefined && (severity === undefined || s === severity);
  });
}

/** The pack each environment runs: every active rule with its severity there. */
export const PACKS: Readonly<Record<Environment, readonly { readonly rule: PolicyRule; readonly severity: Severity }[]>> = Object.freeze({
  dev: rulesFor("dev").map((rule) => ({ rule, severity: severityOf(rule, "dev")! })),
  test: rulesFor("test").map((rule) => ({ rule, severity: severityOf(rule, "test")! })),
  prod: rulesFor("prod").map((rule) => ({ rule, severity: severityOf(rule, "prod")! })),
});
