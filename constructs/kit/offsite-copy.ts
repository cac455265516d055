import type { ITerraformDependable } from "cdktf";
import type { Construct } from "constructs";
import { HardenedService, type Relaxation } from "./hardened-service";
import type { BackupOffsiteProps } from "./scheduled-backup";
import { OFFSITE_INTERVAL_SECONDS, type OffsiteCopyScriptInput } from "./scheduled-backup-script";
import { SECURE_DEFAULTS } from "./secure-defaults";
import { ServiceImage } from "./service-image";
import type { VolumeMount } from "./service-spec";

/**
 * The off-host copy beside a backup scheduler, ScheduledBackup's and PostgresBackup's alike: one
 * place for the checks of its props, the settings its script gets and its rclone container, so the
 * credentials' secret names and the files the script reads cannot drift apart.
 */

const ACCESS_KEY_ID_SECRET = "offsite_access_key_id";
const SECRET_ACCESS_KEY_SECRET = "offsite_secret_access_key";
/** The copy's memory limit when the props do not say. */
const OFFSITE_MEMORY_MB = 128;

/** The copy's service name for a store, e.g. "postgres-offsite". */
export function offsiteServiceName(store: string): string {
  return `${store}-offsite`;
}

/** What the props must hold beyond the script's settings (those are offsiteCopyProblems'). */
export function offsitePropsProblems(offsite: BackupOffsiteProps): string[] {
  const p: string[] = [];
  if (offsite.accessKeyId === "" || offsite.secretAccessKey === "")
    p.push("offsite.accessKeyId/secretAccessKey: must be set (fix: pass the Terraform variables), never empty");
  if (offsite.image.trim() === "") p.push("offsite.image: is empty (fix: pass the pinned rclone image, PINNED_IMAGES.rclone)");
  if (offsite.network.internal)
    p.push(
      `offsite.network: the "${offsite.network.purpose}" network is internal, so the copy could never leave the host (fix: pass the egress network)`,
    );
  const memoryMb = offsite.memoryMb ?? OFFSITE_MEMORY_MB;
  if (!Number.isInteger(memoryMb) || memoryMb < 64) p.push(`offsite.memoryMb: ${memoryMb} must be a whole number ≥ 64`);
  return p;
}

/** The script's settings from the props, the credentials read from the copy's secret files. */
export function offsiteCopySettings(
  offsite: BackupOffsiteProps,
  defaultPrefix: string,
): Omit<OffsiteCopyScriptInput, "store" | "backupRoot" | "stateDir" | "copy" | "storeLabel" | "generator"> {
  return {
    endpoint: offsite.endpoint,
    bucket: offsite.bucket,
    prefix: offsite.prefix ?? defaultPrefix,
    region: offsite.region,
    provider: offsite.provider,
    accessKeyIdFile: `${SECURE_DEFAULTS.secretsDir}/${ACCESS_KEY_ID_SECRET}`,
    secretAccessKeyFile: `${SECURE_DEFAULTS.secretsDir}/${SECRET_ACCESS_KEY_SECRET}`,
    intervalSeconds: offsite.intervalSeconds,
  };
}

export interface OffsiteCopyServiceProps {
  readonly environment: string;
  /** Name part: the service is `<store>-offsite`, its script in /etc/<store>-offsite. */
  readonly store: string;
  readonly offsite: BackupOffsiteProps;
  /** The rendered offsite.sh. */
  readonly script: string;
  /** uid:gid owning the snapshots. */
  readonly user: string;
  readonly relax?: Readonly<Partial<Record<Relaxation, string>>>;
  /** @default 256 */
  readonly cpuShares?: number;
  /** The backups volume, read-write only for the copy's metrics file. */
  readonly backupsMount: VolumeMount;
  /** The scheduler's container, created first. */
  readonly scheduler: ITerraformDependable;
}

/** The rclone container (`<scope>/offsite`, its image `<scope>/offsite-image`) that copies the backups off the host. */
export function offsiteCopyService(scope: Construct, props: OffsiteCopyServiceProps): HardenedService {
  const offsite = props.offsite;
  const service = offsiteServiceName(props.store);
  const dir = `/etc/${service}`;
  const interval = offsite.intervalSeconds ?? OFFSITE_INTERVAL_SECONDS;
  return new HardenedService(scope, "offsite", {
    environment: props.environment,
    service,
    component: "job",
    role: "backup-offsite",
    image: new ServiceImage(scope, "offsite-image", { ref: offsite.image }),
    user: props.user,
    relax: props.relax,
    memoryMb: offsite.memoryMb ?? OFFSITE_MEMORY_MB,
    cpuShares: props.cpuShares ?? 256,
    entrypoint: ["sh", `${dir}/offsite.sh`],
    command: ["loop"],
    secrets: [
      { name: ACCESS_KEY_ID_SECRET, value: offsite.accessKeyId },
      { name: SECRET_ACCESS_KEY_SECRET, value: offsite.secretAccessKey },
    ],
    configDirs: [{ path: dir, files: [{ name: "offsite.sh", content: props.script }] }],
    // It never deletes (rclone copy, not sync).
    volumes: [props.backupsMount],
    networks: [{ network: offsite.network }],
    healthcheck: {
      test: ["CMD", "sh", `${dir}/offsite.sh`, "health"],
      interval: "60s",
      timeout: "10s",
      retries: 1,
      startPeriod: `${Math.max(600, interval)}s`,
    },
    waitHealthy: false,
    dependsOn: [props.scheduler],
  });
}
