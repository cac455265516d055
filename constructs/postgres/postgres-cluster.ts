import { containerUploadToTerraform, type ContainerUpload } from "@cdktf/provider-docker/lib/container";
import { Fn, Lazy } from "cdktf";
import { Construct } from "constructs";
import { renderPgBouncerIni, renderPgBouncerUserlist } from "./renderers/pgbouncer";
import { postgresClusterSettings, postgresCommand, renderPostgresInitSql, renderReplicaBootstrapScript } from "./renderers/postgres";
import { renderPgHba } from "./renderers/postgres-hba";
import { renderReloadCheckSql, renderReloadJobScript, renderReloadRoleSql } from "./renderers/postgres-reload";
import { postgresSettingsProblems, renderPostgresSettingsFile, splitPostgresSettings } from "./renderers/postgres-settings";
import type { Connectable, ServiceConnection } from "../kit/connection";
import { escapeTemplateText, SECRET_FILE_PERMISSIONS } from "../kit/container-runtime";
import { ConfigReloadJob } from "../kit/config-reload-job";
import { GeneratedSecret } from "../kit/generated-secret";
import { HardenedService } from "../kit/hardened-service";
import { LiveConfig } from "../kit/live-config";
import { PlatformNetwork } from "../kit/platform-network";
import { SECURE_DEFAULTS } from "../kit/secure-defaults";
import { ServiceImage } from "../kit/service-image";
import { ServiceVolume } from "../kit/service-volume";
import type { VolumeMount } from "../kit/service-spec";
import { ValidationError } from "../contract/errors";

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
  /**
   * Extra server settings, by name (POSTGRES_SETTINGS lists the accepted ones). Restart-only ones
   * (pg_settings.context postmaster) become server arguments, so changing one replaces the
   * containers; the others reach a settings file that the reload job applies in place. @default {}
   */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
  /**
   * Protect the data volume from destroy (prod).
   * @default false
   */
  readonly protectData?: boolean;
  /**
   * Streaming replicas of the primary, each its own container postgres-replica-<n> with its own
   * data volume, all answering to the read-only alias postgres-ro. See renderReplicaBootstrapScript.
   * @default 0
   */
  readonly replicas?: number;
  /**
   * PgBouncer (transaction pooling) in front of the primary, as postgres-pooler:6432; the app
   * role's DATABASE_URL then goes through it. Migrations always connect to the primary directly.
   * @default false
   */
  readonly pooler?: boolean;
  /**
   * PgBouncer image. No official image exists; edoburu/pgbouncer is the most used maintained
   * one (Alpine, PgBouncer built from the release tarball, runs as postgres uid 70, ships
   * pg_isready). Pin it by digest in prod like every other image.
   * @default "edoburu/pgbouncer:v1.23.1-p3"
   */
  readonly poolerImage?: string;
  /** Server connections PgBouncer keeps to the primary (default_pool_size). @default 20 */
  readonly poolSize?: number;
  /** Client connections PgBouncer accepts. @default 500 */
  readonly poolerMaxClientConnections?: number;
  /** PgBouncer memory limit in MiB. @default 64 */
  readonly poolerMemoryMb?: number;
  /**
   * Further volumes mounted into the primary only (e.g. the backup volume that receives the WAL archive).
   * @default []
   */
  readonly extraVolumes?: readonly VolumeMount[];
  /**
   * Internal networks the read-only endpoint (the replicas, or the primary without replicas) also
   * joins, each shared with one read-only client (Grafana), so that client does not share the
   * postgres network with the app services. pg_hba's samenet covers them.
   * @default []
   */
  readonly readOnlyClientNetworks?: readonly PlatformNetwork[];
  /**
   * Dev only: the schema owner (the migrations role) gets CREATEDB and may connect to any database,
   * so `prisma migrate dev` can create, migrate and drop its shadow database. First boot only (an
   * existing data volume keeps its roles). The policy rule `createdb-dev-only` refuses it elsewhere.
   * @default false
   */
  readonly ownerCreatedb?: boolean;
}

/** Where a construct is created: its path is its Terraform address (logical ID). */
export interface ConstructLocation {
  readonly scope: Construct;
  readonly id: string;
}

/** What a role's first-boot SQL is rendered from (PostgresRoleOptions.initSql). */
export interface PostgresRoleSqlInput {
  readonly role: string;
  /** The role's database: its own (PostgresRoleOptions.database) or the cluster's. */
  readonly database: string;
  /** Where the cluster delivers the role's password, e.g. /run/secrets/postgres_updateio_backup_password. */
  readonly passwordFile: string;
}

/** A login role another construct needs in the cluster (PostgresCluster.addRole). */
export interface PostgresRoleOptions {
  /** Lowercase SQL identifier of at most 41 characters, e.g. "updateio_backup". */
  readonly name: string;
  /**
   * First-boot SQL that creates the role and grants what it may do (renderBackupRoleSql,
   * renderMonitorRoleSql, renderGrafanaRoleSql). It runs after the cluster's own roles, in the
   * order the roles were added, and reads the password from `passwordFile` (never inlined).
   */
  readonly initSql: (input: PostgresRoleSqlInput) => string;
  /** Also allow physical replication connections (pg_basebackup). @default false */
  readonly replication?: boolean;
  /**
   * A database of the role's own (its initSql creates it): pg_hba lets the role into that one and
   * not into the cluster's. @default the cluster's database
   */
  readonly database?: string;
  /** Where the login sends clients: the primary, or readOnlyHost (the replicas when there are any). @default "primary" */
  readonly endpoint?: "primary" | "read-only";
  /**
   * Where the role's password (a GeneratedSecret) is created. Its construct path is its Terraform
   * address: a deployment whose password lives elsewhere passes that location, or apply would
   * generate a new password that the server (which stored it at first boot) refuses.
   * @default inside the cluster, id "role-<name>-password"
   */
  readonly passwordAt?: ConstructLocation;
}

/** What addRole created: the role, its generated password and how a client logs in. */
export interface PostgresRole {
  readonly name: string;
  /** The role's database (its own, or the cluster's). */
  readonly database: string;
  readonly passwordSecret: GeneratedSecret;
  /** Path of the password file inside the cluster's containers. */
  readonly passwordFile: string;
  /** Host (per `endpoint`), port, database, role and password token for a client. */
  readonly login: PostgresLogin;
}

interface AddedRole {
  readonly options: PostgresRoleOptions;
  readonly role: PostgresRole;
  /** The rendered first-boot SQL. */
  readonly sql: string;
}

/** The built-in roles a service connects as (connectionFor, databaseUrl). */
export type PostgresClientRole = "app" | "migrations" | "readonly";

/** Where and as whom a client of one role logs in (PostgresCluster.loginFor). */
export interface PostgresLogin {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly role: string;
  /** A Terraform token: deliver it as a secret file, never in the environment or a config file. */
  readonly password: string;
}

const PORT = 5432;
const POOLER_PORT = 6432;
const DATA_DIR = "/var/lib/postgresql/data";
const HBA_DIR = "/etc/postgresql";
const SOCKET_DIR = "/var/run/postgresql";
/** The live settings file (config_file): its own volume, so a change does not replace the servers. */
const SETTINGS_DIR = "/etc/postgresql-settings";
const SETTINGS_FILE = `${SETTINGS_DIR}/postgresql.conf`;
const RELOAD_DIR = "/etc/postgres-reload";
const INITDB_DIR = "/docker-entrypoint-initdb.d";
const RELOAD_ROLE_SQL = `${INITDB_DIR}/15-updateio-reload-role.sql`;
/** The replication passfile lives in the socket tmpfs (mode 1777, not on any volume). */
const REPLICA_PASSFILE = `${SOCKET_DIR}/replication.pgpass`;
const POOLER_CONFIG_DIR = "/etc/pgbouncer";
// PgBouncer has no official image; edoburu publishes v<version>-p<n> tags (there is no plain "1.23.1").
const DEFAULT_POOLER_IMAGE = "edoburu/pgbouncer:v1.23.1-p3";

/**
 * The n-th standby's replication slot and application_name (what synchronous_standby_names
 * matches, case-insensitively).
 */
export function postgresStandbyName(n: number): string {
  return `postgres_replica_${n}`;
}

/**
 * PostgreSQL on its own internal network, with generated passwords for a superuser, a migration
 * owner (DDL, used by Prisma migrate), the app role (data only), a read-only role (dashboards)
 * and a replication role; pg_hba from renderPgHba (scram-sha-256 on the postgres network only).
 * Optionally streaming replicas (postgres-replica-<n>, alias postgres-ro) and PgBouncer.
 *
 * Settings: restart-only ones are server arguments, so changing one replaces the servers; every
 * setting is also in a settings file (config_file) on a LiveConfig volume that no server is
 * replace_triggered_by, and the one-shot postgres-reload job applies a change with
 * pg_reload_conf() as the reload role (docs/runbooks/postgres-settings.md).
 *
 * Roles and slots are created by the first-boot SQL, which the image runs only on an empty data
 * volume: a cluster initialised before this version has no read-only, replication or reload role;
 * create them once with the rendered SQL's last sections (see renderPostgresInitSql) and
 * 15-updateio-reload-role.sql. Replicas create their slot themselves if it is missing.
 */
export class PostgresCluster extends Construct implements Connectable {
  /** DNS name on the postgres network. */
  readonly host = "postgres";
  readonly port = PORT;
  readonly database: string;
  readonly ownerRole: string;
  /** The owner has CREATEDB (dev's prisma migrate dev). */
  readonly ownerCreatedb: boolean;
  readonly appRole: string;
  readonly network: PlatformNetwork;
  readonly service: HardenedService;
  readonly dataVolume: ServiceVolume;
  readonly ownerPassword: GeneratedSecret;
  readonly appPassword: GeneratedSecret;
  readonly readonlyRole: string;
  readonly replicationRole: string;
  readonly readonlyPassword: GeneratedSecret;
  readonly replicationPassword: GeneratedSecret;
  /** DNS alias of all replicas (read-only queries); the primary when there are none. */
  readonly readOnlyHost: string;
  readonly replicaServices: readonly HardenedService[];
  readonly replicaVolumes: readonly ServiceVolume[];
  /** PgBouncer, when pooler is on. */
  readonly poolerService?: HardenedService;
  readonly poolerHost = "postgres-pooler";
  readonly poolerPort = POOLER_PORT;
  /** Logs in only to run pg_reload_conf() (renderReloadRoleSql). */
  readonly reloadRole: string;
  /** The settings file's volume and seed: a change replaces the seed, never the servers. */
  readonly settingsConfig: LiveConfig;
  /** Re-runs when the settings change and reloads the primary and every replica (one-shot). */
  readonly reloadJob: HardenedService;
  /** The internal networks the read-only endpoint also joins (readOnlyClientNetworks). */
  readonly readOnlyClientNetworks: readonly PlatformNetwork[];
  private readonly poolSize: number;
  /** Roles other constructs added (addRole), in order: the files they need are rendered from this at synth. */
  private readonly roles: AddedRole[] = [];

  constructor(scope: Construct, id: string, props: PostgresClusterProps) {
    super(scope, id);
    this.database = props.database ?? "updateio";
    if (!/^[a-z_][a-z0-9_]{0,50}$/.test(this.database)) {
      throw new ValidationError(`PostgresCluster ${this.node.path}`, [
        `database "${this.database}" must be a lowercase SQL identifier of at most 51 characters`,
      ]);
    }
    const replicas = props.replicas ?? 0;
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > 9) {
      throw new ValidationError(`PostgresCluster ${this.node.path}`, [`replicas ${replicas} must be a whole number from 0 to 9`]);
    }
    this.poolSize = props.poolSize ?? 20;
    if (!Number.isInteger(this.poolSize) || this.poolSize < 1 || this.poolSize > 1000) {
      throw new ValidationError(`PostgresCluster ${this.node.path}`, [`poolSize ${this.poolSize} must be a whole number from 1 to 1000`]);
    }
    this.ownerRole = `${this.database}_owner`;
    this.ownerCreatedb = props.ownerCreatedb ?? false;
    this.appRole = `${this.database}_app`;
    this.readonlyRole = `${this.database}_readonly`;
    this.replicationRole = `${this.database}_replication`;
    this.reloadRole = `${this.database}_reload`;
    const settingProblems = postgresSettingsProblems(props.settings ?? {}, "settings.");
    if (settingProblems.length > 0) throw new ValidationError(`PostgresCluster ${this.node.path}: settings`, settingProblems);
    this.readOnlyHost = replicas > 0 ? "postgres-ro" : this.host;
    this.network = new PlatformNetwork(this, "network", { environment: props.environment, purpose: "postgres" });
    this.dataVolume = new ServiceVolume(this, "data", {
      environment: props.environment,
      service: "postgres",
      purpose: "data",
      protect: props.protectData ?? false,
    });
    const superuserPassword = new GeneratedSecret(this, "superuser-password");
    this.ownerPassword = new GeneratedSecret(this, "owner-password");
    this.appPassword = new GeneratedSecret(this, "app-password");
    this.readonlyPassword = new GeneratedSecret(this, "readonly-password");
    // Always generated (and the role always created), so replicas can be added to a running cluster.
    this.replicationPassword = new GeneratedSecret(this, "replication-password");
    const reloadPassword = new GeneratedSecret(this, "reload-password");
    const secretPath = (name: string) => `${SECURE_DEFAULTS.secretsDir}/${name}`;
    const slots = Array.from({ length: replicas }, (_, i) => postgresStandbyName(i + 1));
    this.readOnlyClientNetworks = [...(props.readOnlyClientNetworks ?? [])];
    const settings = postgresClusterSettings({
      memoryMb: props.memoryMb,
      settings: props.settings,
      hbaFile: `${HBA_DIR}/pg_hba.conf`,
      replicas,
    });
    // Restart-only settings are server arguments (a change replaces the servers); the file holds
    // every setting and is shared by the primary and the replicas, which run the primary's settings.
    const split = splitPostgresSettings(settings);
    const serverArgs = { ...split.restart, config_file: SETTINGS_FILE };
    const hbaDir = {
      path: HBA_DIR,
      files: [
        {
          name: "pg_hba.conf",
          // Lazy: roles added after this point (addRole) still get their lines.
          content: Lazy.stringValue({ produce: () => escapeTemplateText(this.renderHba()) }),
        },
      ],
    };
    const image = new ServiceImage(this, "image", { ref: props.image });
    const settingsFile = renderPostgresSettingsFile({ ...split, includeFile: `${DATA_DIR}/postgresql.conf` });
    this.settingsConfig = new LiveConfig(this, "settings", {
      environment: props.environment,
      service: "postgres",
      purpose: "settings",
      image,
      path: SETTINGS_DIR,
      files: [{ name: "postgresql.conf", content: settingsFile }],
    });
    const healthcheck = {
      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", String(PORT), "-U", "postgres", "-d", "postgres"],
      interval: "10s",
      timeout: "5s",
      retries: 6,
      startPeriod: "1m0s",
    };

    this.service = new HardenedService(this, "server", {
      environment: props.environment,
      service: "postgres",
      component: "data",
      image,
      // The official image's postgres user owns PGDATA; the entrypoint works unprivileged.
      user: "postgres",
      memoryMb: props.memoryMb,
      cpuShares: props.cpuShares,
      shmSizeMb: Math.min(512, Math.max(64, Math.floor(props.memoryMb / 8))),
      command: postgresCommand(serverArgs),
      env: { POSTGRES_USER: "postgres", PGDATA: DATA_DIR, POSTGRES_INITDB_ARGS: "--auth-host=scram-sha-256 --auth-local=peer" },
      secrets: [
        { name: "postgres_superuser_password", value: superuserPassword.value, envVar: "POSTGRES_PASSWORD_FILE" },
        { name: "postgres_owner_password", value: this.ownerPassword.value },
        { name: "postgres_app_password", value: this.appPassword.value },
        { name: "postgres_readonly_password", value: this.readonlyPassword.value },
        { name: "postgres_replication_password", value: this.replicationPassword.value },
        { name: "postgres_reload_password", value: reloadPassword.value },
      ],
      configDirs: [
        {
          path: INITDB_DIR,
          files: [
            {
              name: "10-updateio-roles.sql",
              content: renderPostgresInitSql({
                database: this.database,
                ownerRole: this.ownerRole,
                appRole: this.appRole,
                ...(props.ownerCreatedb === true ? { ownerCreatedb: true } : {}),
                ownerPasswordFile: secretPath("postgres_owner_password"),
                appPasswordFile: secretPath("postgres_app_password"),
                readonly: { role: this.readonlyRole, passwordFile: secretPath("postgres_readonly_password") },
                replication: { role: this.replicationRole, passwordFile: secretPath("postgres_replication_password"), slots },
              }),
            },
            {
              name: RELOAD_ROLE_SQL.split("/").pop()!,
              content: renderReloadRoleSql({
                role: this.reloadRole,
                database: this.database,
                passwordFile: secretPath("postgres_reload_password"),
              }),
            },
          ],
        },
        hbaDir,
      ],
      tmpfs: { [SOCKET_DIR]: 8 },
      volumes: [{ volume: this.dataVolume, containerPath: DATA_DIR }, this.settingsConfig.mount, ...(props.extraVolumes ?? [])],
      networks: [{ network: this.network }, ...(replicas > 0 ? [] : (props.readOnlyClientNetworks ?? []).map((network) => ({ network })))],
      // TCP, not the socket: during initdb the entrypoint runs a socket-only server that must not count as ready.
      healthcheck,
      // The file must be there at first boot; later changes reach it without touching this container.
      dependsOn: [this.settingsConfig.seed],
    });
    this.deliverRoleFiles();

    const primary = this.service.containers;
    const replicaVolumes: ServiceVolume[] = [];
    this.replicaServices = slots.map((slot, i) => {
      const service = `postgres-replica-${i + 1}`;
      const volume = new ServiceVolume(this, `replica-${i + 1}-data`, {
        environment: props.environment,
        service,
        purpose: "data",
        protect: props.protectData ?? false,
      });
      replicaVolumes.push(volume);
      return new HardenedService(this, `replica-${i + 1}`, {
        environment: props.environment,
        service,
        component: "data",
        role: "replica",
        image,
        user: "postgres",
        memoryMb: props.memoryMb,
        cpuShares: props.cpuShares,
        shmSizeMb: Math.min(512, Math.max(64, Math.floor(props.memoryMb / 8))),
        // Clone on an empty volume, then follow the primary: see renderReplicaBootstrapScript.
        command: [
          "sh",
          "-c",
          renderReplicaBootstrapScript({
            dataDir: DATA_DIR,
            primaryHost: this.host,
            primaryPort: PORT,
            port: PORT,
            replicationRole: this.replicationRole,
            passwordFile: secretPath("postgres_replication_password"),
            passfile: REPLICA_PASSFILE,
            slot,
            applicationName: slot,
            settings: split.restart,
            configFile: SETTINGS_FILE,
          }),
        ],
        env: { PGDATA: DATA_DIR },
        secrets: [{ name: "postgres_replication_password", value: this.replicationPassword.value }],
        configDirs: [hbaDir],
        tmpfs: { [SOCKET_DIR]: 8 },
        volumes: [{ volume, containerPath: DATA_DIR }, this.settingsConfig.mount],
        networks: [
          { network: this.network, aliases: ["postgres-ro"] },
          ...(props.readOnlyClientNetworks ?? []).map((network) => ({ network, aliases: ["postgres-ro"] })),
        ],
        healthcheck,
        // The first start copies the whole database before it reports healthy.
        waitTimeoutSeconds: 900,
        dependsOn: [...primary, this.settingsConfig.seed],
      });
    });
    this.replicaVolumes = replicaVolumes;

    // Applies the settings file in place. Its own files carry the expected values and the file's
    // hash, so any change of the file replaces its seed and, through the kit's replace_triggered_by,
    // re-runs it (no kit change needed); it starts only after the new file is uploaded (settings
    // seed) and every server is up.
    const reloadPasswordFile = secretPath("postgres_reload_password");
    this.reloadJob = new ConfigReloadJob(this, "reload", {
      environment: props.environment,
      service: "postgres-reload",
      image,
      user: "postgres",
      cpuShares: props.cpuShares,
      dir: RELOAD_DIR,
      script: {
        name: "reload.sh",
        content: renderReloadJobScript({
          role: this.reloadRole,
          database: this.database,
          port: PORT,
          hosts: [this.host, ...this.replicaServices.map((r) => r.spec.service)],
          passwordFile: reloadPasswordFile,
          passfile: "/tmp/reload.pgpass",
          checkFile: `${RELOAD_DIR}/check.sql`,
          primaryContainer: `${props.environment}-postgres`,
          roleSqlFile: RELOAD_ROLE_SQL,
        }),
      },
      files: [{ name: "check.sql", content: renderReloadCheckSql(settings, settingsFile) }],
      secrets: [{ name: "postgres_reload_password", value: reloadPassword.value }],
      network: this.network,
      applies: "reloads the settings",
      dependsOn: [this.settingsConfig.seed, ...primary, ...this.replicaServices.flatMap((r) => r.containers)],
    });

    if (props.pooler ?? false) {
      const userlistFile = secretPath("pgbouncer_userlist");
      this.poolerService = new HardenedService(this, "pooler", {
        environment: props.environment,
        service: this.poolerHost,
        component: "data",
        role: "pgbouncer",
        image: new ServiceImage(this, "pooler-image", { ref: props.poolerImage ?? DEFAULT_POOLER_IMAGE }),
        // The image's unprivileged user (uid 70). Its entrypoint script only writes a config from
        // environment variables when none is mounted; bypass it and run PgBouncer on ours.
        user: "postgres",
        entrypoint: ["/usr/bin/pgbouncer"],
        command: [`${POOLER_CONFIG_DIR}/pgbouncer.ini`],
        memoryMb: props.poolerMemoryMb ?? 64,
        cpuShares: props.cpuShares,
        secrets: [
          { name: "pgbouncer_userlist", value: renderPgBouncerUserlist([{ name: this.appRole, password: this.appPassword.value }]) },
        ],
        configDirs: [
          {
            path: POOLER_CONFIG_DIR,
            files: [
              {
                name: "pgbouncer.ini",
                content: renderPgBouncerIni({
                  database: this.database,
                  serverHost: this.host,
                  serverPort: PORT,
                  listenAddr: "*",
                  listenPort: POOLER_PORT,
                  authFile: userlistFile,
                  poolSize: this.poolSize,
                  maxClientConnections: props.poolerMaxClientConnections ?? 500,
                }),
              },
            ],
          },
        ],
        networks: [{ network: this.network }],
        // pg_isready counts any answer (even "no such user") as up: it checks that PgBouncer listens.
        healthcheck: {
          test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", String(POOLER_PORT)],
          interval: "10s",
          timeout: "5s",
          retries: 3,
          startPeriod: "10s",
        },
        dependsOn: [...primary],
      });
    }
  }

  /**
   * Adds a login role for another construct (PostgresBackup's backup role, the exporters' monitoring
   * role, Grafana's role): a generated password delivered as /run/secrets/postgres_<name>_password,
   * its first-boot SQL (`initSql`, run after the cluster's own roles in the order roles are added),
   * and pg_hba lines for its database (and replication when `replication` is set). Callable any
   * time before synthesis: the files are rendered from the added roles when the stack is
   * synthesized, so the construction order of the cluster and its clients does not matter.
   */
  addRole(options: PostgresRoleOptions): PostgresRole {
    const where = `PostgresCluster ${this.node.path}: addRole`;
    const { name } = options;
    if (typeof name !== "string" || !/^[a-z_][a-z0-9_]{0,40}$/.test(name))
      throw new ValidationError(where, [
        `name "${String(name)}" must be a lowercase SQL identifier of at most 41 characters, e.g. "${this.database}_backup"`,
      ]);
    const taken = [
      ...BUILT_IN_SECRET_ROLES,
      "postgres",
      this.ownerRole,
      this.appRole,
      this.readonlyRole,
      this.replicationRole,
      this.reloadRole,
    ];
    if (taken.includes(name))
      throw new ValidationError(where, [
        `name "${name}" is a built-in role (or its password file's name); pick another, e.g. "${this.database}_${name}_client"`,
      ]);
    if (this.roles.some((r) => r.role.name === name))
      throw new ValidationError(where, [`name "${name}" was already added; use the PostgresRole the first addRole returned`]);
    const database = options.database;
    if (
      database !== undefined &&
      (!/^[a-z_][a-z0-9_]{0,62}$/.test(database) || ["postgres", "template0", "template1", this.database].includes(database))
    ) {
      throw new ValidationError(where, [
        `database "${database}" must be a lowercase SQL identifier naming a database of the role's own; leave it out for "${this.database}"`,
      ]);
    }
    if (options.endpoint !== undefined && options.endpoint !== "primary" && options.endpoint !== "read-only")
      throw new ValidationError(where, [
        `endpoint "${String(options.endpoint)}" must be "primary" or "read-only" (or left out for the primary)`,
      ]);
    if (typeof options.initSql !== "function")
      throw new ValidationError(where, [`initSql is required: a function rendering the role's first-boot SQL (e.g. renderBackupRoleSql)`]);
    // Two digits keep the files in order after 10- and 15- (the entrypoint sorts them by name).
    if (this.roles.length >= MAX_ADDED_ROLES) throw new ValidationError(where, [`at most ${MAX_ADDED_ROLES} roles can be added`]);
    const at = options.passwordAt ?? { scope: this, id: `role-${name}-password` };
    const passwordSecret = new GeneratedSecret(at.scope, at.id);
    const passwordFile = `${SECURE_DEFAULTS.secretsDir}/${roleSecretName(name)}`;
    const roleDatabase = database ?? this.database;
    // Rendered now, so a renderer's refusal surfaces at this call rather than at synth.
    const sql = options.initSql({ role: name, database: roleDatabase, passwordFile });
    const role: PostgresRole = {
      name,
      database: roleDatabase,
      passwordSecret,
      passwordFile,
      login: {
        host: options.endpoint === "read-only" ? this.readOnlyHost : this.host,
        port: this.port,
        database: roleDatabase,
        role: name,
        password: passwordSecret.value,
      },
    };
    this.roles.push({ options, role, sql });
    return role;
  }

  /** The roles added so far (addRole), in order. */
  get addedRoles(): readonly PostgresRole[] {
    return this.roles.map((r) => r.role);
  }

  /** Host, database, role and password for a client of an added role (addRole returns the same as `.login`). */
  loginFor(role: string): PostgresLogin {
    const added = this.roles.find((r) => r.role.name === role);
    if (!added) {
      const declared = this.roles.map((r) => r.role.name).join(", ") || "none";
      throw new ValidationError(`PostgresCluster ${this.node.path}`, [
        `loginFor("${role}"): no such role (added: ${declared}); add it with cluster.addRole`,
      ]);
    }
    return added.role.login;
  }

  /**
   * The connection URL of a built-in role (the one connectionFor delivers as the database_url
   * secret): a Terraform token, for a sensitive output or a client that takes one URL.
   */
  databaseUrl(role: PostgresClientRole = "app"): string {
    return this.clientOf(role).url;
  }

  /**
   * The schema owner's URL through another address of the primary (dev's 127.0.0.1 forwarder), for
   * `prisma migrate dev` / `prisma studio` on the host. A Terraform token with the password URL-encoded.
   */
  ownerUrlAt(host: string, port: number): string {
    if (!/^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\d{1,3}(?:\.\d{1,3}){3})$/.test(host) || !Number.isInteger(port) || port < 1 || port > 65535)
      throw new ValidationError(`PostgresCluster ${this.node.path}`, [
        `ownerUrlAt("${host}", ${port}) needs a host name or IPv4 address and a port from 1 to 65535`,
      ]);
    return `postgresql://${this.ownerRole}:${Fn.urlencode(this.ownerPassword.value)}@${host}:${port}/${this.database}?schema=public`;
  }

  /**
   * "app" (default) for services, "migrations" for the schema owner, "readonly" for dashboards
   * (served by the replicas through postgres-ro when there are any).
   * With the pooler, "app" goes through PgBouncer: DATABASE_URL carries pgbouncer=true (Prisma
   * then avoids named prepared statements, which transaction pooling cannot keep) and
   * connection_limit (Prisma's own pool per process); DATABASE_DIRECT_URL_FILE still points at
   * the primary for anything that needs a session. "migrations" always connects directly:
   * Prisma migrate takes session-level advisory locks.
   */
  connectionFor(role = "app"): ServiceConnection {
    const client = this.clientOf(role);
    const { user, password } = client;
    if (client.pooled) {
      return {
        network: this.network,
        ready: [...this.service.containers, ...this.poolerService!.containers],
        env: { DATABASE_HOST: this.poolerHost, DATABASE_PORT: String(this.poolerPort), DATABASE_NAME: this.database, DATABASE_USER: user },
        secrets: [
          { name: "database_password", value: password.value, envVar: "DATABASE_PASSWORD_FILE" },
          { name: "database_url", value: client.url, envVar: "DATABASE_URL_FILE" },
          { name: "database_direct_url", value: client.directUrl, envVar: "DATABASE_DIRECT_URL_FILE" },
        ],
      };
    }
    return {
      network: this.network,
      ready:
        role === "readonly" ? [...this.service.containers, ...this.replicaServices.flatMap((r) => r.containers)] : this.service.containers,
      env: { DATABASE_HOST: client.host, DATABASE_PORT: String(this.port), DATABASE_NAME: this.database, DATABASE_USER: user },
      secrets: [
        { name: "database_password", value: password.value, envVar: "DATABASE_PASSWORD_FILE" },
        // Prisma reads one URL; the service's entrypoint exports DATABASE_URL from this file.
        { name: "database_url", value: client.url, envVar: "DATABASE_URL_FILE" },
      ],
    };
  }

  /** Credentials and URLs of a built-in client role (connectionFor, databaseUrl). */
  private clientOf(role: string): {
    user: string;
    password: GeneratedSecret;
    host: string;
    pooled: boolean;
    url: string;
    directUrl: string;
  } {
    if (role !== "app" && role !== "migrations" && role !== "readonly") {
      throw new ValidationError(`PostgresCluster ${this.node.path}`, [
        `connection role "${role}" is unknown; use "app", "migrations" or "readonly"`,
      ]);
    }
    const [user, password] =
      role === "app"
        ? [this.appRole, this.appPassword]
        : role === "migrations"
          ? [this.ownerRole, this.ownerPassword]
          : [this.readonlyRole, this.readonlyPassword];
    const host = role === "readonly" ? this.readOnlyHost : this.host;
    const url = (h: string, port: number, extra = "") =>
      `postgresql://${user}:${Fn.urlencode(password.value)}@${h}:${port}/${this.database}?schema=public${extra}`;
    const pooled = role === "app" && this.poolerService !== undefined;
    const directUrl = url(host, this.port);
    return {
      user,
      password,
      host,
      pooled,
      url: pooled ? url(this.poolerHost, this.poolerPort, `&pgbouncer=true&connection_limit=${this.poolSize}`) : directUrl,
      directUrl,
    };
  }

  /** pg_hba.conf for the built-in roles and every added one (rendered at synth: see addRole). */
  private renderHba(): string {
    const added = this.roles.map((r) => r.options);
    // Roles with a database of their own get a pg_hba line for it alone (see renderPgHba).
    const ownDatabases = [...new Set(added.flatMap((r) => (r.database ? [r.database] : [])))].map((db) => ({
      database: db,
      roles: added.filter((r) => r.database === db).map((r) => r.name),
    }));
    return renderPgHba({
      superuser: "postgres",
      database: this.database,
      databaseRoles: [
        this.ownerRole,
        this.appRole,
        this.readonlyRole,
        this.reloadRole,
        ...added.filter((r) => r.database === undefined).map((r) => r.name),
      ],
      replicationRoles: [this.replicationRole, ...added.filter((r) => r.replication).map((r) => r.name)],
      otherDatabases: ownDatabases,
      ...(this.ownerCreatedb ? { anyDatabaseRoles: [this.ownerRole] } : {}),
    });
  }

  /**
   * The primary's seed takes the uploads the kit built from the cluster's own secrets and files,
   * plus, at synth, each added role's password file (after the other secrets) and first-boot SQL
   * (after the other init files): a Lazy list, because roles may be added after this constructor.
   */
  private deliverRoleFiles(): void {
    const seed = this.service.seed;
    const base = seed?.uploadInput;
    if (!seed || !Array.isArray(base))
      throw new ValidationError(`PostgresCluster ${this.node.path}`, [`the server has no seed container to deliver role files`]);
    const kitUploads: readonly ContainerUpload[] = [...base];
    const after = (dir: string) => {
      let last = -1;
      kitUploads.forEach((u, i) => {
        if (u.file.startsWith(`${dir}/`)) last = i;
      });
      if (last < 0) throw new ValidationError(`PostgresCluster ${this.node.path}`, [`no upload under ${dir} to add role files after`]);
      return last + 1;
    };
    const secretsEnd = after(SECURE_DEFAULTS.secretsDir);
    const initEnd = after(INITDB_DIR);
    seed.putUpload(
      Lazy.anyValue({
        produce: () => {
          const secrets: ContainerUpload[] = this.roles.map(({ role }) => ({
            file: role.passwordFile,
            content: escapeTemplateText(role.passwordSecret.value),
            executable: false,
            permissions: SECRET_FILE_PERMISSIONS,
          }));
          // Runs after 10-updateio-roles.sql (the entrypoint sorts the files): the database exists.
          const sql: ContainerUpload[] = this.roles.map(({ role, sql }, i) => ({
            file: `${INITDB_DIR}/${20 + i}-${role.name.replace(/_/g, "-")}.sql`,
            content: escapeTemplateText(sql),
            executable: false,
          }));
          const all = [
            ...kitUploads.slice(0, secretsEnd),
            ...secrets,
            ...kitUploads.slice(secretsEnd, initEnd),
            ...sql,
            ...kitUploads.slice(initEnd),
          ];
          return all.map((u) => containerUploadToTerraform(u));
        },
      }),
    );
  }
}

/** The secret file of an added role's password. */
function roleSecretName(role: string): string {
  return `postgres_${role}_password`;
}

/** Bare names whose password file would be a built-in one (postgres_<name>_password). */
const BUILT_IN_SECRET_ROLES = ["superuser", "owner", "app", "readonly", "replication", "reload"];
const MAX_ADDED_ROLES = 70;
