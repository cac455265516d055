import { Construct } from "constructs";
import type { Container } from "@cdktf/provider-docker/lib/container";
import { HardenedService } from "../kit/hardened-service";
import type { ServiceImage } from "../kit/service-image";
import type { PostgresCluster } from "../postgres/postgres-cluster";
import { APP_TMPFS, APP_USER, appEnvironment, type AppServiceSettings } from "./app-settings";
import { ValidationError } from "../contract/errors";

export interface MigrationJobProps {
  readonly environment: string;
  /** The API's image: migrations ship with the code that needs them. */
  readonly image: ServiceImage;
  /**
   * The API's settings, so the job sees what the API sees: its PORT, env and feature flags, and
   * its CPU shares. Its image, replicas, memory and debug ports are not used.
   */
  readonly apiConfig: Pick<AppServiceSettings, "port" | "env" | "features" | "cpuShares">;
  /** The cluster to migrate: the job connects as the schema owner (connectionFor("migrations")), directly to the primary. */
  readonly postgres: PostgresCluster;
  /** e.g. ["npx", "prisma", "migrate", "deploy"]. */
  readonly command: readonly string[];
  /** Memory limit in MiB (Prisma's engines need a few hundred). */
  readonly memoryMb: number;
  /** LOG_LEVEL of the job. */
  readonly logLevel: string;
  /**
   * DNS name and container name suffix.
   * @default "api-migrate"
   */
  readonly service?: string;
}

/**
 * Prisma migrations as a one-shot container, connected as the schema owner. It is replaced (so
 * re-run) whenever the API image changes; apply waits for it, fails unless it exits 0, and only
 * then creates the API containers that depend on it.
 */
export class MigrationJob extends Construct {
  readonly service: HardenedService;

  constructor(scope: Construct, id: string, props: MigrationJobProps) {
    super(scope, id);
    const problems: string[] = [];
    if (props.command.length === 0)
      problems.push('command: is empty; pass the migrate command, e.g. ["npx", "prisma", "migrate", "deploy"]');
    if (!Number.isInteger(props.memoryMb) || props.memoryMb < 64)
      problems.push(`memoryMb: ${props.memoryMb} must be a whole number of MiB ≥ 64 (Prisma's engines need room; 512 is a good start)`);
    const port = props.apiConfig.port;
    if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`apiConfig.port: ${port} must be the API's port (1 to 65535)`);
    if (problems.length > 0) throw new ValidationError(`MigrationJob ${this.node.path}`, problems);

    const service = props.service ?? "api-migrate";
    const database = props.postgres.connectionFor("migrations");
    // An intermediate scope "job": the job's resources keep the construct paths (Terraform
    // addresses) they had when the job was an UpdateioService in this construct.
    const scope_ = new Construct(this, "job");
    this.service = new HardenedService(scope_, "service", {
      environment: props.environment,
      service,
      component: "job",
      image: props.image,
      replicas: 1,
      user: APP_USER,
      memoryMb: props.memoryMb,
      cpuShares: props.apiConfig.cpuShares,
      command: props.command,
      env: appEnvironment({
        service,
        environment: props.environment,
        port,
        logLevel: props.logLevel,
        features: props.apiConfig.features,
        connections: [database],
        env: [props.apiConfig.env],
      }),
      secrets: database.secrets,
      tmpfs: { ...APP_TMPFS },
      volumes: [],
      binds: [],
      ports: [],
      networks: [{ network: database.network }],
      oneShot: true,
      relax: {
        healthcheck: "one-shot job: success is its exit code, which a Terraform postcondition checks",
        "restart-policy": "one-shot job: a failed migration must stop the apply, not loop",
      },
      dependsOn: database.ready,
      waitTimeoutSeconds: 180,
      updateOrder: "start-first",
    });
  }

  /** The container(s) the API must wait for. */
  get containers(): readonly Container[] {
    return this.service.containers;
  }
}
