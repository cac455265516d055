import { Construct } from "constructs";
import type { AppServiceConfig } from "../../environments/schema";
import type { PostgresCluster } from "../postgres/postgres-cluster";
import type { ServiceImage } from "../kit/service-image";
import { UpdateioService } from "./updateio-service";

export interface MigrationJobProps {
  readonly environment: string;
  /** The API's image: migrations ship with the code that needs them. */
  readonly image: ServiceImage;
  /** The API's config (env, features) so the job sees what the API sees. */
  readonly apiConfig: AppServiceConfig;
  readonly postgres: PostgresCluster;
  /** e.g. ["npx", "prisma", "migrate", "deploy"]. */
  readonly command: readonly string[];
  readonly memoryMb: number;
  readonly logLevel: string;
}

/**
 * Prisma migrations as a one-shot container, connected as the schema owner. It is replaced (so
 * re-run) whenever the API image changes; apply waits for it, fails unless it exits 0, and only
 * then creates the API containers that depend on it.
 */
export class MigrationJob extends Construct {
  readonly job: UpdateioService;

  constructor(scope: Construct, id: string, props: MigrationJobProps) {
    super(scope, id);
    this.job = new UpdateioService(this, "job", {
      environment: props.environment,
      service: "api-migrate",
      config: { ...props.apiConfig, replicas: 1, memoryMb: props.memoryMb, debugPorts: [] },
      image: props.image,
      command: props.command,
      oneShot: true,
      uses: [{ target: props.postgres, role: "migrations" }],
      logLevel: props.logLevel,
    });
  }

  /** The container(s) the API must wait for. */
  get containers() {
    return this.job.service.containers;
  }
}
