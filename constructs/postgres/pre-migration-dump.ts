import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import type { PostgresBackup } from "./postgres-backup";
import type { PostgresCluster } from "./postgres-cluster";
import { BACKUP_ROOT } from "./renderers/backup-scripts";
import {
  DEFAULT_PRE_MIGRATION_KEEP,
  PRE_MIGRATION_DIR,
  preMigrationDumpPath,
  preMigrationDumpProblems,
  preMigrationRestoreCommands,
  RELEASE_ID,
  renderPreMigrationDumpScript,
  type PreMigrationDumpScriptInput,
} from "./renderers/pre-migration-dump";
import { ValidationError } from "../contract/errors";
import { HardenedService } from "../kit/hardened-service";
import { SECURE_DEFAULTS } from "../kit/secure-defaults";

export interface PreMigrationDumpProps {
  readonly environment: string;
  /** The cluster to dump (its image, so pg_dump matches the server's major version; its network). */
  readonly cluster: PostgresCluster;
  /** Whose role (reads all data) and backups volume the dump uses; the dump lands in `<volume>/pre-migration/`. */
  readonly backup: PostgresBackup;
  /**
   * Names the dump (`<release>.dump`) and, through the command, replaces (re-runs) the job for each
   * new release: e.g. the API image digest's first 12 hex (`releaseIdOf`). a-z 0-9 . _ -, at most 64.
   */
  readonly release: string;
  /**
   * Pre-migration dumps kept, newest first; each is about the size of one scheduled dump.
   * @default 3
   */
  readonly keep?: number;
  /**
   * The backups volume's size budget (budgets.postgresBackups), MiB: the job refuses to start a dump
   * that would take the volume over it (used + the size of the last dump), so the apply stops
   * before the migrations instead of filling the disk that also holds the WAL archive.
   * @default 0 (not checked)
   */
  readonly budgetMb?: number;
  /** @default 256 */
  readonly memoryMb?: number;
  /** @default 256 */
  readonly cpuShares?: number;
  /** Created after these. @default the cluster's primary, once healthy */
  readonly dependsOn?: readonly ITerraformDependable[];
}

const SCRIPTS_DIR = "/etc/postgres-pre-migration-dump";
export const PRE_MIGRATION_DUMP_SERVICE = "postgres-pre-migration-dump";

/**
 * A one-shot `pg_dump -Fc` of the cluster's database right before the migrations of a release,
 * as the backup role, into the backups volume (`pre-migration/<release>.dump` + `.sha256`). Apply
 * waits for its exit code (a postcondition, as for MigrationJob); make the migration job depend on
 * `containers`, so a failed dump stops the apply before anything is migrated. It runs as a plain
 * container on the host the provider talks to, like the migration job, on Swarm too.
 */
export class PreMigrationDump extends Construct {
  readonly service: HardenedService;
  readonly release: string;
  readonly keep: number;
  /** Where the dump is written, inside containers mounting the backups volume at BACKUP_ROOT. */
  readonly path: string;
  /** `<backups volume name>:pre-migration/<release>.dump`, for the apply's output. */
  readonly file: string;
  /** The commands that check the dump and restore it over the live database (see the runbook). */
  readonly commands: { readonly check: string; readonly restore: string };
  readonly script: string;
  readonly containerName: string;

  constructor(scope: Construct, id: string, props: PreMigrationDumpProps) {
    super(scope, id);
    const cluster = props.cluster;
    const keep = props.keep ?? DEFAULT_PRE_MIGRATION_KEEP;
    const memoryMb = props.memoryMb ?? 256;
    const input: PreMigrationDumpScriptInput = {
      host: cluster.host,
      port: cluster.port,
      database: cluster.database,
      role: props.backup.role,
      passwordFile: `${SECURE_DEFAULTS.secretsDir}/postgres_backup_password`,
      keep,
      budgetMb: props.budgetMb ?? 0,
    };
    const fixes: Record<string, string> = {
      keep: "keep a few (the default is 3); older ones are the scheduled dumps' job",
      budgetMb: "pass budgets.postgresBackups",
    };
    const problems = preMigrationDumpProblems(input).map((p) => {
      const key = p.split(" ")[0]!;
      return `${key}: ${p.slice(key.length + 1)}${fixes[key] ? ` (fix: ${fixes[key]})` : ""}`;
    });
    if (!RELEASE_ID.test(props.release))
      problems.push(
        `release: "${props.release}" must be 1-64 of a-z 0-9 . _ - starting with a letter or digit (fix: the API image digest's first 12 hex, releaseIdOf(ref))`,
      );
    if (!Number.isInteger(memoryMb) || memoryMb < 64)
      problems.push(`memoryMb: ${memoryMb} must be a whole number ≥ 64 (pg_dump needs room)`);
    if (problems.length > 0) throw new ValidationError(`PreMigrationDump ${this.node.path}`, problems);

    this.release = props.release;
    this.keep = keep;
    this.path = preMigrationDumpPath(props.release);
    this.file = `${props.backup.volume.name}:${PRE_MIGRATION_DIR}/${props.release}.dump`;
    this.commands = preMigrationRestoreCommands(props.environment, props.release);
    this.script = renderPreMigrationDumpScript(input);
    this.containerName = `${props.environment}-${PRE_MIGRATION_DUMP_SERVICE}`;

    this.service = new HardenedService(this, "job", {
      environment: props.environment,
      service: PRE_MIGRATION_DUMP_SERVICE,
      component: "job",
      role: "pre-migration-dump",
      image: cluster.service.spec.image,
      // The official image's unprivileged user, who owns the backups volume (as for PostgresBackup).
      user: "postgres",
      memoryMb,
      cpuShares: props.cpuShares ?? 256,
      // Scripts are uploaded root-owned (0644): always run through sh. The release in the command
      // makes each release a new container, so a new run.
      entrypoint: ["sh", `${SCRIPTS_DIR}/pre-migration-dump.sh`],
      command: [props.release],
      secrets: [{ name: "postgres_backup_password", value: props.backup.clusterRole.passwordSecret.value }],
      configDirs: [{ path: SCRIPTS_DIR, files: [{ name: "pre-migration-dump.sh", content: this.script }] }],
      // The image declares VOLUME /var/lib/postgresql/data; a tiny tmpfs there stops Docker from
      // creating an anonymous volume for it on every run.
      tmpfs: { "/var/lib/postgresql/data": 1 },
      volumes: [{ volume: props.backup.volume, containerPath: BACKUP_ROOT }],
      networks: [{ network: cluster.network }],
      oneShot: true,
      relax: {
        healthcheck: "one-shot job: success is its exit code, which a Terraform postcondition checks",
        "restart-policy": "one-shot job: a failed dump must stop the apply before the migrations, not loop",
      },
      dependsOn: props.dependsOn ?? cluster.service.ready,
    });
  }

  /** What the migration job must wait for. */
  get containers(): HardenedService["containers"] {
    return this.service.containers;
  }
}
