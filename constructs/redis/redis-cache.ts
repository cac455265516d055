import type { Container } from "@cdktf/provider-docker/lib/container";
import { Fn, Lazy } from "cdktf";
import { Construct } from "constructs";
import {
  MONITOR_USER,
  REPLICATION_USER,
  SENTINEL_USER,
  redisAppUserProblem,
  renderAclReloadScript,
  renderRedisAcl,
  renderRedisConf,
  renderRedisReplicationAuth,
  type RedisRole,
} from "./renderers/redis";
import { REDIS_BACKUP_USER } from "./renderers/redis-backup";
import { renderSentinelConf } from "./renderers/redis-sentinel";
import type { Connectable, ServiceConnection } from "../kit/connection";
import { escapeTemplateText } from "../kit/container-runtime";
import { ConfigReloadJob } from "../kit/config-reload-job";
import { GeneratedSecret } from "../kit/generated-secret";
import { HardenedService } from "../kit/hardened-service";
import { LiveConfig } from "../kit/live-config";
import { PlatformNetwork } from "../kit/platform-network";
import { SECURE_DEFAULTS } from "../kit/secure-defaults";
import { ServiceImage } from "../kit/service-image";
import { ServiceVolume } from "../kit/service-volume";
import type { SecretFile } from "../kit/service-spec";
import { ValidationError } from "../contract/errors";

export type { RedisRole } from "./renderers/redis";

export interface RedisCacheProps {
  readonly environment: string;
  /** Official redis image reference (pinned). */
  readonly image: string;
  /** Memory limit in MiB (each data node); maxmemory is 75% of it. */
  readonly memoryMb: number;
  /** @default 512 */
  readonly cpuShares?: number;
  /** @default false */
  readonly protectData?: boolean;
  /**
   * "state" (sessions, rate limits: noeviction, AOF) or "cache" (recomputable entries:
   * allkeys-lru, no persistence). See RedisRole for why the split is by instance, not by TTL.
   * @default "state"
   */
  readonly role?: RedisRole;
  /**
   * Service name: DNS alias of the (initial) master, network and volume names. Give a second
   * instance (e.g. the "cache" role next to the "state" one) its own, e.g. "redis-cache".
   * @default "redis"
   */
  readonly name?: string;
  /**
   * Replicas of the master, each its own container <name>-replica-<n> with its own data volume.
   * @default 0
   */
  readonly replicas?: number;
  /**
   * Sentinels <name>-sentinel-<n> watching the master (0, or 3 or more: a failover needs a
   * majority of them alive). Needs replicas ≥ 1. Quorum is a majority.
   * @default 0
   */
  readonly sentinels?: number;
  /** Sentinel down-after-milliseconds. @default 5000 */
  readonly sentinelDownAfterMs?: number;
  /** Sentinel failover-timeout. @default 60000 */
  readonly sentinelFailoverTimeoutMs?: number;
  /** Memory limit of each Sentinel in MiB. @default 64 */
  readonly sentinelMemoryMb?: number;
  /**
   * Adds the ACL user "monitor" to every data node, with a generated password: server statistics
   * only (INFO, LATENCY, SLOWLOG LEN ...), no keys, no CONFIG (see MONITOR_ACL), for
   * redis_exporter (MetricsExporters). Sentinels get no such user.
   * @default false
   */
  readonly monitoring?: boolean;
  /**
   * Adds the ACL user "backup" to every data node, with a generated password: SYNC/PSYNC/REPLCONF,
   * INFO and PING only, no keys (see REDIS_BACKUP_ACL), for RedisBackup's `redis-cli --rdb`. Only
   * on the "state" instance: a "cache" instance persists nothing worth restoring.
   * @default false
   */
  readonly backup?: boolean;
  /**
   * App services known up front (their service names), each added as by addApp: its own ACL user
   * and password. Apps can also be added later with addApp.
   * @default []
   */
  readonly apps?: readonly string[];
}

/** What addApp returns: the app's connection (network, REDIS_* settings, its password and URL as files) and its user. */
export interface RedisAppConnection extends ServiceConnection {
  /** The app's Redis ACL user (its name). */
  readonly user: string;
  readonly passwordSecret: GeneratedSecret;
}

const PORT = 6379;
const SENTINEL_PORT = 26379;
/**
 * The one user Sentinel-aware clients (every app) log in to the Sentinels with. Shared on purpose:
 * Sentinel hands out addresses only (master, replicas, peers), never data, and per-app users would
 * have to be in every sentinel.conf, replacing every Sentinel whenever an app is added. Per-app
 * users are on the data nodes, where the keys are. It keeps the old shared app user's name.
 */
const SENTINEL_CLIENT_USER = "updateio";
const SENTINEL_PEER_USER = "sentinel-peer";
const CONFIG_DIR = "/usr/local/etc/redis";
/** The ACL file's live volume (LiveConfig), mounted read-only by every data node and the reload job. */
const ACL_DIR = "/usr/local/etc/redis-acl";
const ACL_FILE = "users.acl";
const ACL_RELOAD_DIR = "/etc/redis-acl-reload";
/** tmpfs where each Sentinel keeps the copy of its config that it rewrites. */
const SENTINEL_DIR = "/sentinel";

/**
 * Redis with ACL users (default user off), a memory cap and a role ("state": noeviction + AOF, the
 * default; "cache": allkeys-lru, no persistence). Optionally replicas and Sentinels (prod): clients
 * then find the master through Sentinel (REDIS_SENTINELS / REDIS_SENTINEL_MASTER), because after a
 * failover the master is no longer the container behind the `<name>` alias.
 *
 * Each app service gets its own ACL user through addApp (or `apps`); the ACL file is rendered from
 * them at synth, so apps may be added after the cache is constructed. The file holds SHA-256
 * hashes, not passwords, and lives in a LiveConfig volume: adding an app or rotating a password
 * replaces the file's seed and re-runs the `<name>-acl-reload` job (ACL LOAD on every data node),
 * without restarting the nodes. Redis 7.2 and later disconnect only the clients of a removed user.
 */
export class RedisCache extends Construct implements Connectable {
  readonly host: string;
  readonly port = PORT;
  /** The user apps log in to the Sentinels with (REDIS_SENTINEL_USER), shared by every app. */
  readonly sentinelClientUser = SENTINEL_CLIENT_USER;
  readonly role: RedisRole;
  readonly network: PlatformNetwork;
  /** The initial master. */
  readonly service: HardenedService;
  readonly dataVolume: ServiceVolume;
  readonly replicaServices: readonly HardenedService[];
  readonly sentinelServices: readonly HardenedService[];
  /** Sentinel host:port list, empty without sentinels. */
  readonly sentinelAddresses: readonly string[];
  /** The master name clients ask Sentinel for. */
  readonly sentinelMasterName: string;
  readonly sentinelPort = SENTINEL_PORT;
  /**
   * DNS names of the data nodes, the initial master first, then the replicas
   * (<name>, <name>-replica-1, ...): an exporter scrapes each one.
   */
  readonly nodeHosts: readonly string[];
  /** The monitoring ACL user ("monitor"), when `monitoring` is on. */
  readonly monitorUser?: string;
  /** Its password, a Terraform token (deliver it as a file), when `monitoring` is on. */
  readonly monitorPassword?: string;
  /** The backup ACL user ("backup"), when `backup` is on. */
  readonly backupUser?: string;
  /** Its password, a Terraform token (deliver it as a file), when `backup` is on. */
  readonly backupPassword?: string;
  private readonly sentinelClientPassword?: GeneratedSecret;
  /** The ACL file's live volume and seed: a changed file reaches the nodes without replacing them. */
  readonly aclConfig: LiveConfig;
  /** Runs ACL LOAD on every data node whenever the ACL file changes (role config-reload). */
  readonly aclReloadJob: HardenedService;
  /** The apps added so far (props.apps, then addApp), in order; the ACL file lists their users in this order. */
  private readonly appList: { readonly name: string; readonly password: GeneratedSecret }[] = [];

  constructor(scope: Construct, id: string, props: RedisCacheProps) {
    super(scope, id);
    const name = props.name ?? "redis";
    const replicas = props.replicas ?? 0;
    const sentinels = props.sentinels ?? 0;
    const downAfterMs = props.sentinelDownAfterMs ?? 5000;
    const failoverTimeoutMs = props.sentinelFailoverTimeoutMs ?? 60000;
    validate(this.node.path, props, { name, replicas, sentinels, downAfterMs, failoverTimeoutMs });

    this.host = name;
    this.role = props.role ?? "state";
    this.sentinelMasterName = name;
    const image = new ServiceImage(this, "image", { ref: props.image });
    this.network = new PlatformNetwork(this, "network", { environment: props.environment, purpose: name });
    const healthPassword = new GeneratedSecret(this, "healthcheck-password");
    const replicationPassword = replicas > 0 ? new GeneratedSecret(this, "replication-password") : undefined;
    const sentinelPassword = sentinels > 0 ? new GeneratedSecret(this, "sentinel-password") : undefined;
    if (props.monitoring) {
      this.monitorUser = MONITOR_USER;
      this.monitorPassword = new GeneratedSecret(this, "monitor-password").value;
    }
    if (props.backup) {
      this.backupUser = REDIS_BACKUP_USER;
      this.backupPassword = new GeneratedSecret(this, "backup-password").value;
    }
    const reloadPassword = new GeneratedSecret(this, "acl-reload-password");
    const hash = (secret: string | undefined) => (secret === undefined ? undefined : Fn.sha256(secret));
    // Rendered at synth (Lazy): apps added after this constructor get their users too. The file and
    // the reload job's copy are one token, resolved twice per rendering: render once per app list
    // (apps are only ever added, so its length names it).
    let rendered: { readonly apps: number; readonly text: string } | undefined;
    const aclContent = Lazy.stringValue({
      produce: () => {
        if (rendered?.apps === this.appList.length) return rendered.text;
        const text = escapeTemplateText(
          renderRedisAcl({
            hashed: true,
            apps: this.appList.map((a) => ({ user: a.name, password: Fn.sha256(a.password.value) })),
            healthPassword: Fn.sha256(healthPassword.value),
            replicationPassword: hash(replicationPassword?.value),
            sentinelPassword: hash(sentinelPassword?.value),
            monitorPassword: hash(this.monitorPassword),
            backupPassword: hash(this.backupPassword),
            reloadPassword: Fn.sha256(reloadPassword.value),
          }),
        );
        rendered = { apps: this.appList.length, text };
        return text;
      },
    });
    this.aclConfig = new LiveConfig(this, "acl", {
      environment: props.environment,
      service: name,
      purpose: "acl",
      image,
      path: ACL_DIR,
      files: [{ name: ACL_FILE, content: aclContent }],
    });
    const healthSecret = { name: "redis_healthcheck_password", value: healthPassword.value };
    const replicationSecret = replicationPassword
      ? [
          {
            name: "redis_replication_conf",
            value: renderRedisReplicationAuth({ user: REPLICATION_USER, password: replicationPassword.value }),
          },
        ]
      : [];

    const dataNode = (nodeId: string, service: string, volume: ServiceVolume, replicaOf: boolean, dependsOn: Container[]) =>
      new HardenedService(this, nodeId, {
        environment: props.environment,
        service,
        component: "data",
        image,
        user: "redis",
        memoryMb: props.memoryMb,
        cpuShares: props.cpuShares,
        command: ["redis-server", `${CONFIG_DIR}/redis.conf`],
        secrets: [healthSecret, ...replicationSecret],
        configDirs: [
          {
            path: CONFIG_DIR,
            files: [
              {
                name: "redis.conf",
                content: renderRedisConf({
                  memoryMb: props.memoryMb,
                  aclFile: `${ACL_DIR}/${ACL_FILE}`,
                  port: PORT,
                  role: this.role,
                  replication: replicationPassword
                    ? {
                        authFile: `${SECURE_DEFAULTS.secretsDir}/redis_replication_conf`,
                        announceHostname: service,
                        replicaOf: replicaOf ? { host: name, port: PORT } : undefined,
                      }
                    : undefined,
                }),
              },
            ],
          },
        ],
        volumes: [{ volume, containerPath: "/data" }, this.aclConfig.mount],
        networks: [{ network: this.network }],
        healthcheck: pingHealthcheck(PORT),
        dependsOn: [this.aclConfig.seed, ...dependsOn],
      });

    this.dataVolume = new ServiceVolume(this, "data", {
      environment: props.environment,
      service: name,
      purpose: "data",
      protect: props.protectData ?? false,
    });
    this.service = dataNode("server", name, this.dataVolume, false, []);
    const master = this.service.containers;
    this.replicaServices = Array.from({ length: replicas }, (_, i) => {
      const service = `${name}-replica-${i + 1}`;
      const volume = new ServiceVolume(this, `replica-${i + 1}-data`, {
        environment: props.environment,
        service,
        purpose: "data",
        protect: props.protectData ?? false,
      });
      return dataNode(`replica-${i + 1}`, service, volume, true, [...master]);
    });

    this.nodeHosts = [name, ...this.replicaServices.map((r) => r.spec.service)];

    // Its own copy of the file (expected.acl) changes with it, which replaces the job's seed and,
    // through the kit's replace_triggered_by, runs the job again after the acl seed uploaded it.
    const reloadPasswordFile = `${SECURE_DEFAULTS.secretsDir}/redis_acl_reload_password`;
    this.aclReloadJob = new ConfigReloadJob(this, "acl-reload", {
      environment: props.environment,
      service: `${name}-acl-reload`,
      image,
      user: "redis",
      cpuShares: props.cpuShares,
      dir: ACL_RELOAD_DIR,
      script: {
        name: "acl-reload.sh",
        content: renderAclReloadScript({
          hosts: this.nodeHosts,
          port: PORT,
          liveFile: `${ACL_DIR}/${ACL_FILE}`,
          expectedFile: `${ACL_RELOAD_DIR}/expected.acl`,
          passwordFile: reloadPasswordFile,
          waitSeconds: 120,
        }),
      },
      files: [{ name: "expected.acl", content: aclContent }],
      secrets: [{ name: "redis_acl_reload_password", value: reloadPassword.value }],
      volumes: [this.aclConfig.mount],
      network: this.network,
      applies: "loads the ACL file",
      dependsOn: [this.aclConfig.seed, ...master, ...this.replicaServices.flatMap((r) => r.containers)],
    });

    const sentinelHosts = Array.from({ length: sentinels }, (_, i) => `${name}-sentinel-${i + 1}`);
    this.sentinelAddresses = sentinelHosts.map((h) => `${h}:${SENTINEL_PORT}`);
    let sentinelServices: HardenedService[] = [];
    if (sentinelPassword) {
      const peerPassword = new GeneratedSecret(this, "sentinel-peer-password");
      this.sentinelClientPassword = new GeneratedSecret(this, "sentinel-client-password");
      const clientPassword = this.sentinelClientPassword.value;
      const dataContainers = [...master, ...this.replicaServices.flatMap((r) => r.containers)];
      sentinelServices = sentinelHosts.map(
        (host, i) =>
          new HardenedService(this, `sentinel-${i + 1}`, {
            environment: props.environment,
            service: host,
            component: "data",
            role: "sentinel",
            image,
            user: "redis",
            memoryMb: props.sentinelMemoryMb ?? 64,
            cpuShares: props.cpuShares,
            // Sentinel rewrites its config file at start and on every state change (epochs, peers,
            // the new master after a failover) and refuses to start if it cannot. The kit mounts
            // files read-only, so the rendered file (a secret: it holds passwords) is copied to a
            // small tmpfs each start and Sentinel runs from the copy. The state in the copy is lost
            // when the container restarts; a restarted Sentinel learns the current master and
            // epoch again from its peers' hello messages (higher config epoch wins).
            command: [
              "sh",
              "-c",
              `cp ${SECURE_DEFAULTS.secretsDir}/sentinel_conf ${SENTINEL_DIR}/sentinel.conf && exec redis-sentinel ${SENTINEL_DIR}/sentinel.conf`,
            ],
            tmpfs: { [SENTINEL_DIR]: 1 },
            secrets: [
              {
                name: "sentinel_conf",
                value: renderSentinelConf({
                  port: SENTINEL_PORT,
                  dir: SENTINEL_DIR,
                  announceHostname: host,
                  masterName: this.sentinelMasterName,
                  masterHost: name,
                  masterPort: PORT,
                  quorum: Math.floor(sentinels / 2) + 1,
                  downAfterMs,
                  failoverTimeoutMs,
                  authUser: SENTINEL_USER,
                  authPassword: sentinelPassword.value,
                  peerUser: SENTINEL_PEER_USER,
                  peerPassword: peerPassword.value,
                  clientUser: SENTINEL_CLIENT_USER,
                  clientPassword,
                  healthPassword: healthPassword.value,
                }),
              },
              healthSecret,
            ],
            networks: [{ network: this.network }],
            healthcheck: pingHealthcheck(SENTINEL_PORT),
            dependsOn: dataContainers,
          }),
      );
    }
    this.sentinelServices = sentinelServices;
    for (const app of props.apps ?? []) this.addApp(app);
  }

  /**
   * Adds an app service's own ACL user (every key, no admin command: see renderRedisAcl) with a
   * generated password (construct id "<name>-password" in the cache). Returns the app's connection
   * for its service (`uses` with role = the name gives the same).
   */
  addApp(name: string): RedisAppConnection {
    const problem = redisAppUserProblem(name);
    const problems = problem ? [`app: ${problem}`] : [];
    if (!problem && this.appList.some((a) => a.name === name))
      problems.push(`app: "${name}" was already added; use the connection the first addApp returned (or connectionFor("${name}"))`);
    if (problems.length > 0) throw new ValidationError(`RedisCache ${this.node.path}: addApp(${JSON.stringify(name)})`, problems);
    const password = new GeneratedSecret(this, `${name}-password`);
    this.appList.push({ name, password });
    return { ...this.connectionAs(name, password.value), user: name, passwordSecret: password };
  }

  /** The apps added so far, in order. */
  get apps(): readonly string[] {
    return this.appList.map((a) => a.name);
  }

  /**
   * Settings for an app: role = the name of an added app (addApp returns the same connection).
   * There is no shared app user any more, so a role is required.
   */
  connectionFor(role?: string): ServiceConnection {
    const added = this.appList.find((a) => a.name === role);
    if (role === undefined || !added)
      throw new ValidationError(`RedisCache ${this.node.path}`, [
        `${role === undefined ? "connectionFor() needs the app's name (each app has its own Redis user)" : `no app "${role}"`}; added apps: ${this.apps.join(", ") || "(none)"} (add it with apps or redis.addApp, then pass role: "<app>")`,
      ]);
    return this.connectionAs(role, added.password.value);
  }

  private connectionAs(user: string, password: string): ServiceConnection {
    const sentinelEnv: Record<string, string> =
      this.sentinelAddresses.length > 0
        ? {
            REDIS_SENTINELS: this.sentinelAddresses.join(","),
            REDIS_SENTINEL_MASTER: this.sentinelMasterName,
            REDIS_SENTINEL_USER: this.sentinelClientUser,
          }
        : {};
    const sentinelSecrets: SecretFile[] = this.sentinelClientPassword
      ? [{ name: "redis_sentinel_password", value: this.sentinelClientPassword.value, envVar: "REDIS_SENTINEL_PASSWORD_FILE" }]
      : [];
    return {
      network: this.network,
      ready: [
        ...this.service.containers,
        ...this.replicaServices.flatMap((s) => s.containers),
        ...this.sentinelServices.flatMap((s) => s.containers),
      ],
      env: { REDIS_HOST: this.host, REDIS_PORT: String(this.port), REDIS_USER: user, ...sentinelEnv },
      secrets: [
        { name: "redis_password", value: password, envVar: "REDIS_PASSWORD_FILE" },
        {
          name: "redis_url",
          value: `redis://${user}:${password}@${this.host}:${this.port}/0`,
          envVar: "REDIS_URL_FILE",
        },
        ...sentinelSecrets,
      ],
    };
  }
}

function pingHealthcheck(port: number) {
  return {
    test: [
      "CMD-SHELL",
      `redis-cli --no-auth-warning${port === PORT ? "" : ` -p ${port}`} --user healthcheck --pass "$(cat ${SECURE_DEFAULTS.secretsDir}/redis_healthcheck_password)" ping | grep -q PONG`,
    ],
    interval: "10s",
    timeout: "3s",
    retries: 5,
    startPeriod: "10s",
  };
}

function validate(
  path: string,
  props: RedisCacheProps,
  v: { name: string; replicas: number; sentinels: number; downAfterMs: number; failoverTimeoutMs: number },
): void {
  const problems: string[] = [];
  if (!/^[a-z][a-z0-9-]{0,20}$/.test(v.name))
    problems.push(`name: "${v.name}" must be lowercase letters, digits and dashes, starting with a letter (at most 21 characters)`);
  if (props.role !== undefined && props.role !== "state" && props.role !== "cache")
    problems.push(`role: "${String(props.role)}" must be "state" or "cache"`);
  if (!Number.isInteger(v.replicas) || v.replicas < 0 || v.replicas > 5)
    problems.push(`replicas: ${v.replicas} must be a whole number from 0 to 5`);
  if (!Number.isInteger(v.sentinels) || v.sentinels < 0 || v.sentinels > 7 || (v.sentinels > 0 && v.sentinels < 3)) {
    problems.push(
      `sentinels: ${v.sentinels} must be 0 or a whole number from 3 to 7 (a failover needs a majority of Sentinels alive; use 3)`,
    );
  }
  if (v.sentinels > 0 && v.replicas < 1) problems.push("sentinels: need replicas ≥ 1 (Sentinel can only promote a replica)");
  if (!Number.isInteger(v.downAfterMs) || v.downAfterMs < 100)
    problems.push(`sentinelDownAfterMs: ${v.downAfterMs} must be a whole number of milliseconds ≥ 100`);
  if (props.backup !== undefined && typeof props.backup !== "boolean")
    problems.push(`backup: ${JSON.stringify(props.backup)} must be true or false`);
  if (props.backup === true && props.role === "cache")
    problems.push('backup: a "cache" instance persists nothing worth restoring (fix: turn backup on for the "state" instance only)');
  if (props.apps !== undefined && !Array.isArray(props.apps))
    problems.push(`apps: ${JSON.stringify(props.apps)} must be a list of app service names`);
  const apps = new Set<string>();
  for (const [i, app] of (Array.isArray(props.apps) ? props.apps : []).entries()) {
    const problem = redisAppUserProblem(app);
    if (problem) problems.push(`apps.${i}: ${problem}`);
    else if (apps.has(app)) problems.push(`apps.${i}: "${app}" is listed twice (fix: list each app once)`);
    apps.add(app);
  }
  if (props.monitoring !== undefined && typeof props.monitoring !== "boolean")
    problems.push(`monitoring: ${JSON.stringify(props.monitoring)} must be true or false`);
  if (!Number.isInteger(v.failoverTimeoutMs) || v.failoverTimeoutMs < 1000)
    problems.push(`sentinelFailoverTimeoutMs: ${v.failoverTimeoutMs} must be a whole number of milliseconds ≥ 1000`);
  if (problems.length > 0) throw new ValidationError(`RedisCache ${path}`, problems);
}
