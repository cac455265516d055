/**
 * The rule catalogue: every rule of the policy pack, one file each (`rules/<rule-id>.ts`, the
 * explanation beside the check; model: cdk-nag's rules/). Which rules an environment runs, and at
 * which level, is chosen by its pack (`../packs/`).
 *
 * Every rule is a pure function over ONE resource of the stack's synthesized Terraform JSON
 * (`TerraformStack.toTerraform()`: snake_case keys, references already rendered as plain
 * `${type.name.attr}` strings), so rules also catch raw provider resources that did not go through
 * the hardened-service kit. Rules shared by containers and Swarm services read both through one view
 * (`../workload.ts`); values an attacker can spell many ways are normalised first (`../normalize.ts`);
 * a value written as a Terraform expression is judged by `../expressions.ts` (accepted forms,
 * vouches) and is a finding otherwise. Exemptions rest on what a workload IS (its image repository,
 * and a suppression on the construct that made it), never on a label alone.
 *
 * A rule returns the problems it found ("what is wrong", one string each; none when the resource
 * complies); the aspect turns each into a finding: `[<rule-id>] <problem> — <why>. Fix: <fix>`.
 */
import { POLICY_RULE_IDS } from "../../contract/index";
import { judgeUser } from "../normalize";
import type { PolicyRule } from "../types";
import { capabilitiesDropped } from "./capabilities-dropped";
import { cpuCap } from "./cpu-cap";
import { createdbDevOnly } from "./createdb-dev-only";
import { cpuLimit } from "./cpu-limit";
import { dataInternalNetworks } from "./data-internal-networks";
import { declaredNetworks } from "./declared-networks";
import { defaultRuntime } from "./default-runtime";
import { healthcheck } from "./healthcheck";
import { hostBindsConfined } from "./host-binds-confined";
import { imageDigest } from "./image-digest";
import { knownResourceTypes } from "./known-resource-types";
import { logRotation } from "./log-rotation";
import { memoryLimit } from "./memory-limit";
import { networkById } from "./network-by-id";
import { networkDriver } from "./network-driver";
import { noCgroupParent } from "./no-cgroup-parent";
import { noDevices } from "./no-devices";
import { noDockerSocket } from "./no-docker-socket";
import { noExtraHosts } from "./no-extra-hosts";
import { noHostNamespaces } from "./no-host-namespaces";
import { noHostPaths } from "./no-host-paths";
import { noNewPrivileges } from "./no-new-privileges";
import { noProvisioners } from "./no-provisioners";
import { noSecretLiteralEnv } from "./no-secret-literal-env";
import { noStorageOpts } from "./no-storage-opts";
import { noUnconfinedProfiles } from "./no-unconfined-profiles";
import { noUnjudgedExpressions } from "./no-unjudged-expressions";
import { noUploadOnReadOnly } from "./no-upload-on-read-only";
import { noVolumesFrom } from "./no-volumes-from";
import { nonRoot } from "./non-root";
import { notPrivileged } from "./not-privileged";
import { plainVolumes } from "./plain-volumes";
import { processLimit } from "./process-limit";
import { prodVolumeProtected } from "./prod-volume-protected";
import { publishedPorts } from "./published-ports";
import { readOnlyRootfs } from "./read-only-rootfs";
import { requiredLabels } from "./required-labels";
import { restartPolicy } from "./restart-policy";
import { rollbackConfig } from "./rollback-config";
import { secretFilePermissions } from "./secret-file-permissions";
import { shmSizeBounded } from "./shm-size-bounded";
import { stopGracePeriod } from "./stop-grace-period";
import { swarmObjectData } from "./swarm-object-data";
import { swarmObjectReplaceFirst } from "./swarm-object-replace-first";
import { sysctlsAllowed } from "./sysctls-allowed";
import { tmpfsOptions } from "./tmpfs-options";
import { ulimitsBounded } from "./ulimits-bounded";
import { updateConfig } from "./update-config";
import { volumeSharing } from "./volume-sharing";

/** Every rule, in the order they are evaluated (and findings reported): the contract's POLICY_RULE_IDS. */
export const RULES: readonly PolicyRule[] = Object.freeze([
  // How a workload runs: limits, restarts, health, logs, Swarm rolling updates.
  memoryLimit,
  cpuLimit,
  cpuCap,
  processLimit,
  restartPolicy,
  healthcheck,
  logRotation,
  stopGracePeriod,
  updateConfig,
  rollbackConfig,
  // What a workload may do to its host.
  notPrivileged,
  capabilitiesDropped,
  noNewPrivileges,
  readOnlyRootfs,
  tmpfsOptions,
  nonRoot,
  noHostNamespaces,
  noUnconfinedProfiles,
  noDevices,
  sysctlsAllowed,
  ulimitsBounded,
  defaultRuntime,
  noStorageOpts,
  shmSizeBounded,
  noCgroupParent,
  noExtraHosts,
  // What it mounts.
  noDockerSocket,
  noHostPaths,
  hostBindsConfined,
  noVolumesFrom,
  plainVolumes,
  volumeSharing,
  // What it exposes and joins (network-by-id is a warning: a name works, it is only fragile).
  publishedPorts,
  dataInternalNetworks,
  declaredNetworks,
  networkById,
  networkDriver,
  // Images pinned by digest (per environment: a warning in dev).
  imageDigest,
  // Secrets.
  noSecretLiteralEnv,
  noUploadOnReadOnly,
  secretFilePermissions,
  swarmObjectData,
  swarmObjectReplaceFirst,
  // Bookkeeping other rules rely on.
  requiredLabels,
  // Prod only: volumes that hold data are protected against destroy.
  prodVolumeProtected,
  // Dev only: the schema owner's CREATEDB (prisma migrate dev's shadow database).
  createdbDevOnly,
  // What keeps the policy from being stepped around.
  noUnjudgedExpressions,
  noProvisioners,
  knownResourceTypes,
]);

export const RULE_IDS: readonly string[] = RULES.map((r) => r.id);

// A rule missing from the contract's list could not be suppressed, a stale id there could.
if (RULE_IDS.join() !== POLICY_RULE_IDS.join()) {
  throw new Error(
    `policy: the rule files (${RULE_IDS.join(", ")}) and the contract's POLICY_RULE_IDS (${POLICY_RULE_IDS.join(", ")}) differ.`,
  );
}

export function ruleById(id: string): PolicyRule | undefined {
  return RULES.find((r) => r.id === id);
}

/** True for every spelling of root ("0", "00", "0:0", "root", "root:root", "+0" ...) and an empty user. */
export function isRootUser(user: string): boolean {
  return judgeUser(user).kind === "root";
}

export {
  capabilitiesDropped,
  cpuCap,
  cpuLimit,
  dataInternalNetworks,
  declaredNetworks,
  defaultRuntime,
  healthcheck,
  hostBindsConfined,
  imageDigest,
  knownResourceTypes,
  logRotation,
  memoryLimit,
  networkById,
  networkDriver,
  noCgroupParent,
  noDevices,
  noDockerSocket,
  noExtraHosts,
  noHostNamespaces,
  noHostPaths,
  noNewPrivileges,
  nonRoot,
  noProvisioners,
  processLimit,
  noSecretLiteralEnv,
  noStorageOpts,
  notPrivileged,
  noUnconfinedProfiles,
  noUnjudgedExpressions,
  noUploadOnReadOnly,
  noVolumesFrom,
  plainVolumes,
  volumeSharing,
  prodVolumeProtected,
  publishedPorts,
  readOnlyRootfs,
  requiredLabels,
  restartPolicy,
  rollbackConfig,
  secretFilePermissions,
  shmSizeBounded,
  stopGracePeriod,
  swarmObjectData,
  swarmObjectReplaceFirst,
  sysctlsAllowed,
  tmpfsOptions,
  ulimitsBounded,
  updateConfig,
};

// What the rule table exported before the rules had a file each (tests and scripts read these here).
export type { Environment, PolicyRule, ResourceType, RuleContext, Severity, TerraformJson } from "../types";
export { ruleAppliesTo } from "../types";
export { blocks, isExpression, isSeedContainer, labelsOf, parseRef, type ResourceRef } from "../json";
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
} from "../normalize";
export { judge, relativeHostPath } from "../expressions";
export { COMPONENTS, DATA_IMAGES, DOCKER_SOCKET_PROXY_ROLE, EDGE_IMAGES, LABELS, SOCKET_PROXY_IMAGES, type Component } from "./helpers";
export { isSecretEnvName } from "../../contract/index";
export { ALLOWED_SYSCTLS } from "./sysctls-allowed";
export { SECRET_FILE_MODE } from "./secret-file-permissions";
export { ALLOWED_DATA_SOURCES, ALLOWED_RESOURCE_TYPES } from "./known-resource-types";
