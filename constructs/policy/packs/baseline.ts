/**
 * The rules every environment runs at their own level: what makes a workload safe to run at all.
 * The environment packs add what differs between them (image pinning, protected volumes).
 */
import { capabilitiesDropped } from "../rules/capabilities-dropped";
import { cpuLimit } from "../rules/cpu-limit";
import { dataInternalNetworks } from "../rules/data-internal-networks";
import { declaredNetworks } from "../rules/declared-networks";
import { defaultRuntime } from "../rules/default-runtime";
import { healthcheck } from "../rules/healthcheck";
import { knownResourceTypes } from "../rules/known-resource-types";
import { logRotation } from "../rules/log-rotation";
import { memoryLimit } from "../rules/memory-limit";
import { networkById } from "../rules/network-by-id";
import { networkDriver } from "../rules/network-driver";
import { noCgroupParent } from "../rules/no-cgroup-parent";
import { noDevices } from "../rules/no-devices";
import { noDockerSocket } from "../rules/no-docker-socket";
import { noExtraHosts } from "../rules/no-extra-hosts";
import { noHostNamespaces } from "../rules/no-host-namespaces";
import { noHostPaths } from "../rules/no-host-paths";
import { noNewPrivileges } from "../rules/no-new-privileges";
import { noProvisioners } from "../rules/no-provisioners";
import { noSecretLiteralEnv } from "../rules/no-secret-literal-env";
import { noStorageOpts } from "../rules/no-storage-opts";
import { noUnconfinedProfiles } from "../rules/no-unconfined-profiles";
import { noUnjudgedExpressions } from "../rules/no-unjudged-expressions";
import { noUploadOnReadOnly } from "../rules/no-upload-on-read-only";
import { noVolumesFrom } from "../rules/no-volumes-from";
import { nonRoot } from "../rules/non-root";
import { notPrivileged } from "../rules/not-privileged";
import { plainVolumes } from "../rules/plain-volumes";
import { publishedPorts } from "../rules/published-ports";
import { readOnlyRootfs } from "../rules/read-only-rootfs";
import { requiredLabels } from "../rules/required-labels";
import { restartPolicy } from "../rules/restart-policy";
import { rollbackConfig } from "../rules/rollback-config";
import { secretFilePermissions } from "../rules/secret-file-permissions";
import { shmSizeBounded } from "../rules/shm-size-bounded";
import { stopGracePeriod } from "../rules/stop-grace-period";
import { swarmObjectData } from "../rules/swarm-object-data";
import { swarmObjectReplaceFirst } from "../rules/swarm-object-replace-first";
import { sysctlsAllowed } from "../rules/sysctls-allowed";
import { ulimitsBounded } from "../rules/ulimits-bounded";
import { updateConfig } from "../rules/update-config";
import type { PolicyRule } from "../types";

export const BASELINE: readonly PolicyRule[] = [
  // How a workload runs: limits, restarts, health, logs, Swarm rolling updates.
  memoryLimit,
  cpuLimit,
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
  noVolumesFrom,
  plainVolumes,
  // What it exposes and joins (network-by-id is a warning: a name works, it is only fragile).
  publishedPorts,
  dataInternalNetworks,
  declaredNetworks,
  networkById,
  networkDriver,
  // Secrets.
  noSecretLiteralEnv,
  noUploadOnReadOnly,
  secretFilePermissions,
  swarmObjectData,
  swarmObjectReplaceFirst,
  // Bookkeeping other rules rely on.
  requiredLabels,
  // What keeps the policy from being stepped around.
  noUnjudgedExpressions,
  noProvisioners,
  knownResourceTypes,
];
