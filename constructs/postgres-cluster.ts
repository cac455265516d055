import { Fn } from "cdktf";
import { Construct } from "constructs";
import { postgresCommand, postgresSettings, renderPostgresInitSql } from "./renderers/postgres";
import type { Connectable, ServiceConnection } from "./kit/connection";
import { GeneratedSecret } from "./kit/generated-secret";
import { HardenedService } from "./kit/hardened-service";
import { PlatformNetwork } from "./kit/platform-network";
import { SECURE_DEFAULTS } from "./kit/secure-defaults";
import { ServiceImage } from "./kit/service-image";
import { ServiceVolume } from "./kit/service-volume";

export interface PostgresClusterProps {
  readonly environment: string;
  /** Official postgres image reference (pinned). */
  readonly image: string;
  /** Memory limit in MiB; the server settings are sized from it. */
  readonly memoryMb: number;
  /** @default 512 */
  readonly cpuShares?: number;
  /** @default "updateio" */
  readonly database?: string;
  /** Extra postgresql.conf settings, passed as server arguments. @default {} */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
  /**
   * Protect the data volume from destroy (prod).
   * @default false
   */
  readonly protectData?: boolean;
}

const PORT = 5432;
const DATA_DIR = "/var/lib/postgresql/data";

/**
 * PostgreSQL on its own internal network, with generated passwords for a superuser, a migration
 * owner (DDL, used by Prisma migrate) and the app role (data only).
 */
export class PostgresCluster extends Construct implements Connectable {
  /** DNS name on the postgres network. */
  readonly host = "postgres";
  readonly port = PORT;
  readonly database: string;
  readonly ownerRole: string;
  readonly appRole: string;
  readonly network: PlatformNetwork;
  readonly service: HardenedService;
  readonly dataVolume: ServiceVolume;
  readonly ownerPassword: GeneratedSecret;
  readonly appPassword: GeneratedSecret;

  constructor(scope: Construct, id: string, props: PostgresClusterProps) {
    super(scope, id);
    this.database = props.database ?? "updateio";
    if (!/^[a-z_][a-z0-9_]{0,50}$/.test(this.database)) {
      throw new Error(`PostgresCluster ${this.node.path}: database "${this.database}" must be a lowercase SQL identifier of at most 51 characters`);
    }
    this.ownerRole = `${this.database}_owner`;
    this.appRole = `${this.database}_app`;
    this.network = new PlatformNetwork(this, "network", { environment: props.environment, purpose: "postgres" });
    this.dataVolume = new ServiceVolume(this, "data", { environment: props.environment, service: "postgres", purpose: "data", protect: props.protectData ?? false });
    const superuserPassword = new GeneratedSecret(this, "superuser-password");
    this.ownerPassword = new GeneratedSecret(this, "owner-password");
    this.appPassword = new GeneratedSecret(this, "app-password");
    const secretPath = (name: string) => `${SECURE_DEFAULTS.secretsDir}/${name}`;

    this.service = new HardenedService(this, "server", {
      environment: props.environment,
      service: "postgres",
      component: "data",
      image: new ServiceImage(this, "image", { ref: props.image }),
      // The official image's postgres user owns PGDATA; the entrypoint works unprivileged.
      user: "postgres",
      memoryMb: props.memoryMb,
      cpuShares: props.cpuShares,
      shmSizeMb: Math.min(512, Math.max(64, Math.floor(props.memoryMb / 8))),
      command: postgresCommand(postgresSettings({ memoryMb: props.memoryMb, settings: props.settings })),
      env: { POSTGRES_USER: "postgres", PGDATA: DATA_DIR, POSTGRES_INITDB_ARGS: "--auth-host=scram-sha-256 --auth-local=peer" },
      secrets: [
        { name: "postgres_superuser_password", value: superuserPassword.value, envVar: "POSTGRES_PASSWORD_FILE" },
        { name: "postgres_owner_password", value: this.ownerPassword.value },
        { name: "postgres_app_password", value: this.appPassword.value },
      ],
      configDirs: [
        {
          path: "/docker-entrypoint-initdb.d",
          files: [
            {
              name: "10-updateio-roles.sql",
              content: renderPostgresInitSql({
                database: this.database,
                ownerRole: this.ownerRole,
                appRole: this.appRole,
                ownerPasswordFile: secretPath("postgres_owner_password"),
                appPasswordFile: secretPath("postgres_app_password"),
              }),
            },
          ],
        },
      ],
      tmpfs: { "/var/run/postgresql": 8 },
      volumes: [{ volume: this.dataVolume, containerPath: DATA_DIR }],
      networks: [{ network: this.network }],
      // TCP, not the socket: during initdb the entrypoint runs a socket-only server that must not count as ready.
      healthcheck: { test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", String(PORT), "-U", "postgres", "-d", "postgres"], interval: "10s", timeout: "5s", retries: 6, startPeriod: "1m0s" },
    });
  }

  /** "app" (default) for services, "migrations" for the schema owner. */
  connectionFor(role = "app"): ServiceConnection {
    if (role !== "app" && role !== "migrations") {
      throw new Error(`PostgresCluster ${this.node.path}: connection role "${role}" is unknown; use "app" or "migrations"`);
    }
    const [user, password] = role === "app" ? [this.appRole, this.appPassword] : [this.ownerRole, this.ownerPassword];
    return {
      network: this.network,
      ready: this.service.containers,
      env: { DATABASE_HOST: this.host, DATABASE_PORT: String(this.port), DATABASE_NAME: this.database, DATABASE_USER: user },
      secrets: [
        { name: "database_password", value: password.value, envVar: "DATABASE_PASSWORD_FILE" },
        // Prisma reads one URL; the service's entrypoint exports DATABASE_URL from this file.
        { name: "database_url", value: `postgresql://${user}:${Fn.urlencode(password.value)}@${this.host}:${this.port}/${this.database}?schema=public`, envVar: "DATABASE_URL_FILE" },
      ],
    };
  }
}
