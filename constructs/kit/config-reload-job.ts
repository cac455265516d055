/**
 * A one-shot job that applies a changed file to servers that keep running: PostgreSQL's settings
 * reload, Redis' ACL LOAD, RabbitMQ's users import.
 *
 *   new ConfigReloadJob(this, "reload", {
 *     environment, service: "prod-postgres-reload", image, user: "postgres", network,
 *     dir: "/etc/postgres-reload", script: { name: "reload.sh", content },
 *     files: [{ name: "check.sql", content: checkSql }], applies: "reloads the settings",
 *     secrets: [...], dependsOn: [settingsSeed, ...servers],
 *   });
 *
 * The job's own files carry what it applies (or its hash), so a change of the file replaces the
 * job's seed and, through the kit's replace_triggered_by, runs the job again once the new file is
 * uploaded. Its role (CONFIG_RELOAD_ROLE) tells the review that such a re-run changes the running
 * servers in place, with no restart.
 */
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { CONFIG_RELOAD_ROLE } from "../contract/index";
import { HardenedService } from "./hardened-service";
import { ROOT_USER } from "./secure-defaults";
import { PlatformNetwork } from "./platform-network";
import { ServiceImage } from "./service-image";
import type { ConfigFile, SecretFile, VolumeMount } from "./service-spec";
import { throwIfProblems } from "../contract/errors";

export interface ConfigReloadJobProps {
  readonly environment: string;
  /** The job's service name, e.g. "prod-postgres-reload". */
  readonly service: string;
  /** The servers' own image, whose client tools talk to them. */
  readonly image: ServiceImage;
  /** The image's unprivileged user the script runs as. */
  readonly user: string;
  /** @default 32 (a shell script and one client at a time) */
  readonly memoryMb?: number;
  /** @default the kit's default for jobs */
  readonly cpuShares?: number;
  /** Process budget (RLIMIT_NPROC pool of its user). @default the kit's default for jobs */
  readonly processes?: number;
  /** The read-only directory that holds the script and its files, e.g. "/etc/postgres-reload". */
  readonly dir: string;
  /** The POSIX shell script the job runs (`sh <dir>/<name>`). */
  readonly script: ConfigFile;
  /** Files beside the script: what it applies or checks the servers against. @default none */
  readonly files?: readonly ConfigFile[];
  /**
   * Run the script as the entrypoint rather than as the command, for images whose entrypoint would
   * start a server first. @default false
   */
  readonly asEntrypoint?: boolean;
  /** @default none */
  readonly env?: Readonly<Record<string, string>>;
  /** Writable scratch directories (path → MB). @default none */
  readonly tmpfs?: Readonly<Record<string, number>>;
  /** @default none */
  readonly secrets?: readonly SecretFile[];
  /** @default none */
  readonly volumes?: readonly VolumeMount[];
  /**
   * The network the servers listen on.
   * @default none (network_mode "none": the job reaches the server through a socket in `volumes`)
   */
  readonly network?: PlatformNetwork;
  /**
   * Why the job runs as root, when `user` is root (an image with no other user, a root-owned socket).
   * @default none: `user` must be unprivileged (the non-root policy rule)
   */
  readonly rootReason?: string;
  /** What one run does, for the restart-policy exemption: "loads the ACL file". */
  readonly applies: string;
  /** The upload of the new file and every server it talks to. */
  readonly dependsOn: readonly ITerraformDependable[];
}

/** The defaults of a config-reload job, in one place. */
const DEFAULT_MEMORY_MB = 32;

export class ConfigReloadJob extends HardenedService {
  constructor(scope: Construct, id: string, props: ConfigReloadJobProps) {
    const problems: string[] = [];
    if (props.applies.trim() === "") problems.push('applies is empty: say what one run does ("loads the ACL file").');
    if (ROOT_USER.test(props.user) && (props.rootReason ?? "").trim() === "")
      problems.push(`user "${props.user}" is root: run as the image's unprivileged user, or say why not in rootReason`);
    if (!ROOT_USER.test(props.user) && props.rootReason !== undefined)
      problems.push(`rootReason is set but user "${props.user}" is not root: drop rootReason`);
    throwIfProblems(`ConfigReloadJob ${scope.node.path}/${id}`, problems);
    const run = ["sh", `${props.dir}/${props.script.name}`];
    super(scope, id, {
      environment: props.environment,
      service: props.service,
      component: "job",
      role: CONFIG_RELOAD_ROLE,
      image: props.image,
      user: props.user,
      memoryMb: props.memoryMb ?? DEFAULT_MEMORY_MB,
      cpuShares: props.cpuShares,
      processes: props.processes,
      ...(props.asEntrypoint ? { entrypoint: run } : { command: run }),
      env: props.env,
      tmpfs: props.tmpfs,
      secrets: props.secrets,
      configDirs: [{ path: props.dir, files: [props.script, ...(props.files ?? [])] }],
      volumes: props.volumes,
      networks: props.network ? [{ network: props.network }] : [],
      oneShot: true,
      relax: {
        ...(props.rootReason !== undefined ? { "non-root": props.rootReason } : {}),
        healthcheck: "a one-shot job: apply waits for its exit code instead",
        "restart-policy": `a one-shot job: it ${props.applies} once per change and must not restart`,
      },
      dependsOn: props.dependsOn,
    });
  }
}
