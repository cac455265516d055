import { join } from "node:path";
import { Construct } from "constructs";
import { readAsset } from "../kit/assets";
import { HardenedService } from "../kit/hardened-service";
import { PlatformNetwork } from "../kit/platform-network";
import type { ServiceImage } from "../kit/service-image";
import { ServiceVolume } from "../kit/service-volume";
import { ValidationError } from "../contract/errors";
import { PolicySuppressions } from "../contract/index";

export interface WatchedVolume {
  readonly volume: ServiceVolume;
  /** The service it belongs to (the metric's `service` label), e.g. "postgres-replica-1". */
  readonly service: string;
  /** Its size budget in MiB (config `budgets.<key>`). */
  readonly budgetMb: number;
}

export interface VolumeUsageProps {
  readonly environment: string;
  /**
   * An image with a POSIX sh, du, find and date, already pulled on this host: the Postgres
   * cluster's (`cluster.service.spec.image`, Debian), so no new image is pinned for a few commands.
   */
  readonly image: ServiceImage;
  /**
   * Its own volume for the metrics file, one of node-exporter's textfile directories
   * (volumeUsageMetricsVolume), mounted read-write at VOLUME_USAGE_METRICS_MOUNT. It is the only
   * volume the job may write: a collector with write access to a backups volume could plant a
   * backup that a restore would load.
   */
  readonly metricsVolume: ServiceVolume;
  /** Every stateful volume to measure, each with its budget; mounted read-only. */
  readonly volumes: readonly WatchedVolume[];
  /** Seconds between two measurements. @default 300 */
  readonly intervalSeconds?: number;
  /** @default 64 */
  readonly memoryMb?: number;
  /** Below the data services: a `du` walk must never compete with them. @default 128 */
  readonly cpuShares?: number;
}

export const VOLUME_USAGE_SERVICE = "volume-usage";
export const VOLUME_USAGE_DEFAULTS = { intervalSeconds: 300, memoryMb: 64, cpuShares: 128 } as const;
/** Where its metrics volume is mounted, and the metrics file written (node-exporter mounts the same volume). */
export const VOLUME_USAGE_METRICS_MOUNT = "/metrics";
const METRICS_PURPOSE = "metrics";
const SCRIPTS_DIR = "/etc/volume-usage";
const VOLUMES_ROOT = "/volumes";
/** The script, read at synth (shellcheck runs on the file itself). */
export const VOLUME_USAGE_SCRIPT = readAsset(join(__dirname, "assets"), "volume-usage.sh");

/**
 * The job's own volume for its metrics file, `<env>-volume-usage-metrics`: made before the job
 * because node-exporter, built earlier, mounts it read-only as a textfile directory. It holds one
 * file rewritten every round, yet it is not ephemeral: the running job writes it (the policy keeps
 * that label for volumes only seeds and one-shot jobs write), so it is protected where data is,
 * like the edge's admin socket volume. It is not measured (not a store: one file of a few KiB).
 */
export function volumeUsageMetricsVolume(scope: Construct, environment: string, protect: boolean): ServiceVolume {
  return new ServiceVolume(scope, "volume-usage-metrics", {
    environment,
    service: VOLUME_USAGE_SERVICE,
    purpose: METRICS_PURPOSE,
    protect,
  });
}

/**
 * A small scheduled job that measures every stateful volume (`du`) and writes
 * `updateio_volume_used_bytes{volume,service}` and `updateio_volume_budget_bytes{volume,service}` for
 * node-exporter's textfile collector; alerts/capacity.ts alerts at 80% and 90% of a budget.
 * Docker's local volume driver has no size limit, so a budget that the server itself cannot enforce
 * is watched here.
 *
 * Hardening: read-only rootfs, every measured volume mounted read-only (it writes only its own
 * metrics volume), every capability dropped except SETUID and SETGID (the script measures each
 * volume as the user owning it, and writes the metrics file as the metrics directory's owner: no
 * DAC_* capability, so it never reads more than the volume's own service could), a memory limit,
 * and an internal network of its own that nothing else joins (the kit attaches at least one
 * network; this one reaches nothing).
 */
export class VolumeUsage extends Construct {
  readonly service: HardenedService;
  /** The rendered volume list, as mounted at /etc/volume-usage/volumes.txt. */
  readonly volumesFile: string;
  readonly script = VOLUME_USAGE_SCRIPT;
  readonly intervalSeconds: number;

  constructor(scope: Construct, id: string, props: VolumeUsageProps) {
    super(scope, id);
    this.intervalSeconds = props.intervalSeconds ?? VOLUME_USAGE_DEFAULTS.intervalSeconds;
    const memoryMb = props.memoryMb ?? VOLUME_USAGE_DEFAULTS.memoryMb;
    validate(this.node.path, props, this.intervalSeconds, memoryMb);

    // Literal names (the Volume's own input), not the resource's token: mount paths and the volume
    // list are plain text the policy can judge.
    const pathOf = (v: ServiceVolume) => `${VOLUMES_ROOT}/${volumeName(v)}`;
    this.volumesFile = props.volumes
      .map((w) => `${volumeName(w.volume)} ${w.service} ${w.budgetMb * 1024 * 1024} ${pathOf(w.volume)}`)
      .join("\n")
      .concat("\n");
    const network = new PlatformNetwork(this, "network", { environment: props.environment, purpose: VOLUME_USAGE_SERVICE });
    this.service = new HardenedService(this, "job", {
      environment: props.environment,
      service: VOLUME_USAGE_SERVICE,
      component: "observability",
      role: "volume-usage",
      image: props.image,
      user: "0:0",
      relax: {
        "non-root":
          "measures volumes owned by six different users, several of them 0700 (Postgres, Caddy, the VPN keys): it switches to each volume's owner (setpriv) to run du there, which needs SETUID/SETGID in effect, and Docker grants capabilities to root only (no ambient capabilities); every other capability is dropped, rootfs read-only, no-new-privileges",
      },
      capabilities: {
        SETUID: "setpriv runs du as the user owning each volume, and writes the metrics file as the metrics directory's owner",
        SETGID: "setpriv takes the group owning each volume (and clears the supplementary groups) before du runs",
      },
      memoryMb,
      cpuShares: props.cpuShares ?? VOLUME_USAGE_DEFAULTS.cpuShares,
      // Uploaded root-owned 0644: always run through sh.
      entrypoint: ["sh", `${SCRIPTS_DIR}/volume-usage.sh`],
      command: ["run"],
      env: { INTERVAL_SECONDS: String(this.intervalSeconds), METRICS_DIR: VOLUME_USAGE_METRICS_MOUNT },
      configDirs: [
        {
          path: SCRIPTS_DIR,
          files: [
            { name: "volume-usage.sh", content: this.script },
            { name: "volumes.txt", content: this.volumesFile },
          ],
        },
      ],
      // The postgres image declares VOLUME /var/lib/postgresql/data: a tiny tmpfs there stops Docker
      // from creating an anonymous volume on every replacement.
      tmpfs: { "/var/lib/postgresql/data": 1 },
      volumes: [
        { volume: props.metricsVolume, containerPath: VOLUME_USAGE_METRICS_MOUNT },
        ...props.volumes.map((w) => ({ volume: w.volume, containerPath: pathOf(w.volume), readOnly: true })),
      ],
      networks: [{ network }],
      healthcheck: {
        test: ["CMD", "sh", `${SCRIPTS_DIR}/volume-usage.sh`, "health"],
        interval: "60s",
        timeout: "10s",
        retries: 1,
        startPeriod: `${Math.max(600, this.intervalSeconds * 3)}s`,
      },
      // The capacity alerts watch it; a slow first measurement must not block deploys.
      waitHealthy: false,
    });
    PolicySuppressions.addResourceSuppressions(this.service, [
      {
        id: "volume-sharing",
        reason:
          "measures the size of every stateful volume (du, as each volume's owner), so it mounts every service's volumes, read-only; the only volume it writes is its own (the metrics file)",
        image: props.image.ref,
        // Read-only mounts only: a read-write mount of any other service's volume is judged by the rule.
        appliesTo: ["read-only"],
      },
    ]);
  }
}

/** The Docker volume's name as written in its props ("<env>-<service>-<purpose>"). */
export function volumeName(v: ServiceVolume): string {
  const name = v.resource.nameInput;
  if (name === undefined || name.includes("${")) throw new Error(`VolumeUsage: volume ${v.node.path} has no literal name`);
  return name;
}

function validate(path: string, props: VolumeUsageProps, intervalSeconds: number, memoryMb: number): void {
  const problems: string[] = [];
  if (props.volumes.length === 0) problems.push("volumes: is empty (fix: list every stateful volume with its budget)");
  const metrics = volumeName(props.metricsVolume);
  if (metrics !== `${props.environment}-${VOLUME_USAGE_SERVICE}-${METRICS_PURPOSE}`)
    problems.push(
      `metricsVolume: ${metrics} is not the job's own metrics volume (fix: pass volumeUsageMetricsVolume(scope, "${props.environment}", protect); the job writes no other service's volume)`,
    );
  const seen = new Set<string>();
  props.volumes.forEach((w, i) => {
    if (w.volume.ephemeral)
      problems.push(`volumes.${i}: ${w.volume.name} is ephemeral (rebuilt from config) (fix: measure stateful volumes only)`);
    if (w.volume === props.metricsVolume)
      problems.push(`volumes.${i}: ${metrics} is the job's own metrics volume, not a store (fix: measure the stores' volumes only)`);
    else if (seen.has(w.volume.node.path))
      problems.push(`volumes.${i}: ${w.volume.node.path} is listed twice (fix: list each volume once)`);
    seen.add(w.volume.node.path);
    if (!/^[a-z0-9][a-z0-9_.-]*$/.test(w.service))
      problems.push(`volumes.${i}.service: "${w.service}" must be an io.updateio.service value (lowercase letters, digits, - _ .)`);
    if (!Number.isInteger(w.budgetMb) || w.budgetMb < 1)
      problems.push(
        `volumes.${i}.budgetMb: ${w.budgetMb} must be a whole number of MiB ≥ 1 (fix: set budgets.<key> in environments/<env>.ts)`,
      );
  });
  if (!Number.isInteger(intervalSeconds) || intervalSeconds < 60 || intervalSeconds > 3600)
    problems.push(`intervalSeconds: ${intervalSeconds} must be a whole number of seconds from 60 to 3600 (a du walk is not free)`);
  if (!Number.isInteger(memoryMb) || memoryMb < 16) problems.push(`memoryMb: ${memoryMb} must be a whole number of MiB ≥ 16`);
  if (problems.length > 0) throw new ValidationError(`VolumeUsage ${path}`, problems);
}
