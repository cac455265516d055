import { createHash } from "node:crypto";
import { Config } from "@cdktf/provider-docker/lib/config";
import { Secret } from "@cdktf/provider-docker/lib/secret";
import { Service, type ServiceConfig } from "@cdktf/provider-docker/lib/service";
import { Fn, TerraformLocal, Token } from "cdktf";
import { Construct } from "constructs";
import { envMap, escapeTemplateText, labelList, registerProcesses } from "./container-runtime";
import { durationSeconds, swarmDuration } from "./durations";
import { LABELS, PROJECT, SECURE_DEFAULTS } from "./secure-defaults";
import type { DeployedService, ServiceRuntime, ServiceSpec, Upstream } from "./service-spec";
import { throwIfProblems, ValidationError } from "../contract/errors";

const MIB = 1024 * 1024;
/** Swarm object names (services, secrets, configs) are at most 64 characters. */
const MAX_OBJECT_NAME = 64;
/** contentName's "-<12 hex of sha256>". */
const CONTENT_SUFFIX_LENGTH = 13;
/** The longest base of a secret or config name ("<env>-<service>-<file>"), before its content suffix. */
export const SWARM_OBJECT_BASE_MAX = MAX_OBJECT_NAME - CONTENT_SUFFIX_LENGTH;
/** 0400: only the service's own uid reads a secret (the engine's default is root 0444). */
export const SECRET_FILE_MODE = 0o400;
/** 0444 for plain config files, 0555 for scripts: nothing in them is secret. */
const CONFIG_FILE_MODE = 0o444;
const CONFIG_EXEC_MODE = 0o555;
/** A placement constraint such as node.labels.updateio.apps==true (the config schema uses the same rule). */
export const PLACEMENT_CONSTRAINT = /^(node|engine)\.[A-Za-z0-9_.-]+ *(==|!=) *[A-Za-z0-9_.:-]+$/;

export interface SwarmRuntimeProps {
  /**
   * Placement constraints for every service, e.g. ["node.labels.updateio.apps==true"]. A
   * constraint no node satisfies leaves tasks pending: label the nodes first.
   * @default [] (any node)
   */
  readonly placementConstraints?: readonly string[];
  /**
   * Pause between two tasks of a rolling update, in seconds.
   * @default 5
   */
  readonly updateDelaySeconds?: number;
  /**
   * Extra seconds the update watches a new task beyond the time its healthcheck needs to fail.
   * @default 20
   */
  readonly monitorMarginSeconds?: number;
}

/** Update and restart settings every Swarm service gets; only what the props above change differs. */
export const SWARM_DEFAULTS = {
  updateDelaySeconds: 5,
  monitorMarginSeconds: 20,
  /** Memory reserved for scheduling, as a fraction of the limit. */
  memoryReservationRatio: 0.25,
  restart: { condition: "any", delay: "5s", maxAttempts: 0, window: "2m" },
} as const;

/**
 * Runs a ServiceSpec as one docker_service on Docker Swarm: replicas spread over the nodes, rolling
 * updates one task at a time gated by the healthcheck, rolled back by the engine when a new task
 * fails. Secrets and config files become docker_secret / docker_config objects named after their
 * content, so a new value is a new object that the service rolls over to (no seed containers).
 *
 * What stays the same on a change matters more than usual here: provider 3.6.2 replaces the whole
 * service (downtime) when its name, labels, networks or aliases change, so those are derived only
 * from values that never change in everyday work (see docs/architecture.md).
 */
export class SwarmRuntime implements ServiceRuntime {
  readonly kind = "swarm";
  private readonly placement: readonly string[];
  private readonly updateDelay: number;
  private readonly monitorMargin: number;

  constructor(props: SwarmRuntimeProps = {}) {
    const problems: string[] = [];
    this.placement = props.placementConstraints ?? [];
    this.updateDelay = props.updateDelaySeconds ?? SWARM_DEFAULTS.updateDelaySeconds;
    this.monitorMargin = props.monitorMarginSeconds ?? SWARM_DEFAULTS.monitorMarginSeconds;
    for (const c of this.placement) {
      if (!PLACEMENT_CONSTRAINT.test(c)) {
        problems.push(`placementConstraints: "${c}" is not a constraint like node.labels.updateio.apps==true or node.role==worker`);
      }
    }
    if (!Number.isInteger(this.updateDelay) || this.updateDelay < 0 || this.updateDelay > 600)
      problems.push(`updateDelaySeconds: ${this.updateDelay} must be a whole number of seconds from 0 to 600`);
    if (!Number.isInteger(this.monitorMargin) || this.monitorMargin < 5 || this.monitorMargin > 600)
      problems.push(`monitorMarginSeconds: ${this.monitorMargin} must be a whole number of seconds from 5 to 600`);
    if (problems.length > 0) throw new ValidationError(`SwarmRuntime`, problems);
  }

  upstream(spec: ServiceSpec, port: number): Upstream {
    // tasks.<alias> lists the addresses of the running tasks; Swarm adds a task only once it is
    // healthy and removes it before stopping it.
    return { kind: "dns", name: `tasks.${spec.service}`, port };
  }

  deploy(scope: Construct, spec: ServiceSpec): DeployedService {
    assertSwarmable(scope.node.path, spec);
    const [uid, gid] = spec.user.split(":") as [string, string];
    const objectLabels = [
      { label: LABELS.project, value: PROJECT },
      { label: LABELS.environment, value: spec.environment },
      { label: LABELS.service, value: spec.service },
    ];
    // The files belong to the service's user, which runs unprivileged: a 0400 secret is readable by its owner only.
    const ownedFile = (fileName: string, fileMode: number) => ({ fileName, fileUid: uid, fileGid: gid, fileMode });

    const secrets = spec.secrets.map((s) => {
      const value = asReference(scope, `secret-${s.name}-value`, s.value);
      const secret = new Secret(scope, `secret-${s.name}`, {
        name: contentName(`${spec.environment}-${spec.service}-${s.name}`, value),
        data: base64Of(value),
        labels: objectLabels,
        lifecycle: { createBeforeDestroy: true },
      });
      return {
        secretId: secret.id,
        secretName: secret.name,
        ...ownedFile(`${SECURE_DEFAULTS.secretsDir}/${s.name}`, SECRET_FILE_MODE),
      };
    });
    const configs = spec.configDirs.flatMap((dir, i) =>
      dir.files.map((f) => {
        const id = `config-${i}-${f.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
        const content = asReference(scope, `${id}-content`, f.content);
        const config = new Config(scope, id, {
          name: contentName(`${spec.environment}-${spec.service}-${f.name.replace(/[^A-Za-z0-9_.-]/g, "_")}`, content),
          data: base64Of(content),
          lifecycle: { createBeforeDestroy: true },
        });
        return {
          configId: config.id,
          configName: config.name,
          ...ownedFile(`${dir.path}/${f.name}`, f.executable ? CONFIG_EXEC_MODE : CONFIG_FILE_MODE),
        };
      }),
    );

    const hc = spec.healthcheck!;
    const monitor = swarmDuration(healthFailureSeconds(hc) + this.monitorMargin);
    const order = spec.updateOrder;
    const labels = labelList(spec, spec.component);
    const config: ServiceConfig = {
      name: `${spec.environment}-${spec.service}`,
      labels,
      mode: { replicated: { replicas: spec.replicas } },
      taskSpec: {
        containerSpec: {
          // No service `auth` block (changing it replaces the service): provider 3.6.2 sends the provider's
          // registry_auth for this image's registry host with every create and update, and the nodes pull with it.
          image: spec.image.ref,
          command: spec.entrypoint ? [...spec.entrypoint] : undefined,
          args: spec.command ? [...spec.command] : undefined,
          dir: spec.workingDir,
          env: envMap(spec),
          user: spec.user,
          readOnly: spec.readOnlyRootfs,
          capDrop: [...SECURE_DEFAULTS.capabilityDrop],
          capAdd: spec.capAdd.length > 0 ? [...spec.capAdd] : undefined,
          // No tmpfs_options: provider 3.6.2 crashes on them. A tmpfs without a size is still
          // charged to the task's memory limit.
          mounts: Object.keys(spec.tmpfs)
            .sort()
            .map((target) => ({ target, type: "tmpfs" })),
          secrets: secrets.length > 0 ? secrets : undefined,
          configs: configs.length > 0 ? configs : undefined,
          healthcheck: {
            test: [...hc.test],
            interval: swarmDuration(durationSeconds(hc.interval)),
            timeout: swarmDuration(durationSeconds(hc.timeout)),
            retries: hc.retries,
            startPeriod: swarmDuration(durationSeconds(hc.startPeriod)),
          },
          // Unset is sent as 0: tasks would be killed without a graceful stop.
          stopGracePeriod: swarmDuration(spec.stopTimeoutSeconds),
          labels,
        },
        // The CPU cap is nano_cpus. A service has no pids limit and no ulimits in provider 3.6.2
        // (API 1.41), so spec.processes has nowhere to go: a task's processes are bounded by its
        // node's daemon.json (default-ulimits nproc, cgroup-parent with pids.max), docs/runbooks/swarm.md.
        resources: {
          limits: { memoryBytes: spec.memoryMb * MIB, nanoCpus: Math.round(spec.cpus * 1e9) },
          reservation: { memoryBytes: Math.max(16, Math.floor(spec.memoryMb * SWARM_DEFAULTS.memoryReservationRatio)) * MIB },
        },
        // All four fields: the provider sends a left-out one as 0 and reads it back as "0s".
        restartPolicy: { ...SWARM_DEFAULTS.restart },
        networksAdvanced: spec.networks.map((n) => ({
          // By ID: the engine stores IDs, so a name would show a change in every plan.
          name: n.network.id,
          aliases: [...new Set([spec.service, ...(n.aliases ?? [])])].sort(),
        })),
        logDriver: {
          name: SECURE_DEFAULTS.logDriver,
          options: { "max-file": String(spec.log.maxFiles), "max-size": `${spec.log.maxSizeMb}m` },
        },
        placement: this.placement.length > 0 ? { constraints: [...this.placement] } : undefined,
      },
      updateConfig: {
        parallelism: 1,
        delay: swarmDuration(this.updateDelay),
        failureAction: "rollback",
        monitor,
        maxFailureRatio: "0.0",
        order,
      },
      rollbackConfig: { parallelism: 1, delay: "0s", failureAction: "pause", monitor, maxFailureRatio: "0.0", order },
      // DNS round robin, no virtual IP: the edge resolves tasks.<alias> itself (and VIPs need ip_vs).
      endpointSpec: { mode: "dnsrr" },
      dependsOn: spec.dependsOn.length > 0 ? [...spec.dependsOn] : undefined,
    };
    // Every task may land on the manager, next to the plain containers of the same uid (the migration job's 1000).
    registerProcesses(scope, spec.user, spec.replicas * spec.processes);
    const service = new Service(scope, "service", config);
    return { containers: [], service, ready: [service] };
  }
}

/** Seconds a task takes at most to be marked unhealthy: start period, then retries failed probes. */
export function healthFailureSeconds(hc: NonNullable<ServiceSpec["healthcheck"]>): number {
  return durationSeconds(hc.startPeriod) + hc.retries * (durationSeconds(hc.interval) + durationSeconds(hc.timeout));
}

/**
 * A value with generated parts embedded in text ("redis://u:<password>@host") cannot go into a
 * Terraform function call as is (cdktf mis-renders templates nested in function arguments): it
 * becomes a local, and functions take the local's reference. Plain text and a bare reference pass.
 */
function asReference(scope: Construct, id: string, value: string): string {
  if (!Token.isUnresolved(value) || /^\$\{TfToken\[[A-Z0-9_.]+\]\}$/.test(value)) return value;
  return new TerraformLocal(scope, id, escapeTemplateText(value)).asString;
}

/** Canonical base64 (the engine reads config data back re-encoded: anything else never settles). */
function base64Of(content: string): string {
  return Token.isUnresolved(content) ? Fn.base64encode(content) : Buffer.from(content, "utf8").toString("base64");
}

/**
 * "<base>-<first 12 hex of sha256(content)>": a new value gets a new name, so the object is created
 * next to the old one and the service rolls over to it (secrets and configs are immutable).
 */
function contentName(base: string, content: string): string {
  if (base.length > SWARM_OBJECT_BASE_MAX) {
    throw new ValidationError("Swarm object name", [
      `"${base}" is too long for a Swarm object name (${MAX_OBJECT_NAME} characters with the ${CONTENT_SUFFIX_LENGTH}-character content suffix); shorten the service or file name`,
    ]);
  }
  if (!Token.isUnresolved(content)) return `${base}-${createHash("sha256").update(content).digest("hex").slice(0, 12)}`;
  // Generated values are known only at apply: Terraform hashes them (the name is then sensitive too).
  return Fn.join("", [`${base}-`, Fn.substr(Fn.sha256(content), 0, 12)]);
}

/** What a Swarm service cannot do, or must not do here; each message says what to use instead. */
function assertSwarmable(path: string, spec: ServiceSpec): void {
  const problems: string[] = [];
  const fail = (key: string, message: string) => problems.push(`${key}: ${message}`);
  if (spec.oneShot) fail("oneShot", "Swarm has no one-shot jobs in provider 3.6.2; run the job with the container runtime");
  if (!spec.image.pinned)
    fail(
      "image",
      `"${spec.image.ref}" is not pinned by digest; a Swarm node pulls by reference and cannot use a local image ID: use name:tag@sha256:<digest>`,
    );
  if (!/^\d+:\d+$/.test(spec.user)) fail("user", `"${spec.user}" must be numeric uid:gid on Swarm (secret files are owned by it)`);
  if (!spec.healthcheck) fail("healthcheck", "is required on Swarm: rolling updates and rollbacks are gated by it");
  if (spec.volumes.length > 0)
    fail(
      "volumes",
      "volumes are per node, so a task moved to another node would start empty; run stateful services with the container runtime on the manager",
    );
  if (spec.binds.length > 0) fail("binds", "host paths differ per node; run the service with the container runtime");
  if (spec.ports.length > 0) fail("ports", "Swarm cannot bind a port to 127.0.0.1; route the service through the edge instead");
  if (Object.keys(spec.sysctls).length > 0)
    fail("sysctls", "force a replacement of the service on every change in provider 3.6.2; run the service with the container runtime");
  if (spec.shmSizeMb !== undefined) fail("shmSizeMb", "is not expressible for a Swarm service in provider 3.6.2");
  if (spec.restart === "no") fail("restart", "a Swarm service always restarts its tasks; use the container runtime for jobs");
  if (spec.networks.some((n) => n.network.driver !== "overlay"))
    fail("networks", "a Swarm service can only join overlay networks; set the stack's network defaults to overlay");
  if (!(spec.cpus > 0 && spec.cpus <= 64)) fail("cpus", `${spec.cpus} must be between 0 and 64 CPUs`);
  throwIfProblems(`Service ${path} on the Swarm runtime`, problems);
}
