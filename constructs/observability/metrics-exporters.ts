import { Token } from "cdktf";
import { Construct } from "constructs";
import { EXPECTED_SERVICES_FILE, renderExpectedServices } from "./renderers/expected-services";
import { SCRAPE_JOBS } from "./renderers/observability-catalogue";
import type { ScrapeTarget } from "./renderers/prometheus";
import { HardenedService } from "../kit/hardened-service";
import { LiveConfig } from "../kit/live-config";
import type { PlatformNetwork } from "../kit/platform-network";
import { LABELS, SECURE_DEFAULTS } from "../kit/secure-defaults";
import { ServiceImage } from "../kit/service-image";
import type { HealthcheckProps } from "../kit/service-spec";
import type { ServiceVolume } from "../kit/service-volume";
import type { ConstructLocation, PostgresCluster, PostgresRole } from "../postgres/postgres-cluster";
import { renderMonitorRoleSql } from "../postgres/renderers/postgres-monitor";
import { ValidationError } from "../contract/errors";
import { PolicySuppressions } from "../contract/index";

/** What a scraped node is, as the `instance_role` label says. */
export type InstanceRole = "primary" | "replica";

export interface ExporterNode {
  /** DNS name of the node on its network, e.g. "postgres" or "redis-replica-1". */
  readonly host: string;
  /**
   * Its role when the stack was built. After a failover (Redis Sentinel) the label is stale until
   * the next apply; redis_instance_info{role} and pg_replication_is_replica say the live role.
   */
  readonly instanceRole: InstanceRole;
}

export interface PostgresExporterProps {
  /**
   * The cluster to watch: one exporter per node (the primary, then each replica), each on the
   * cluster's network and the monitoring network, connecting to the cluster's database as a
   * monitoring role it adds to the cluster (cluster.addRole with renderMonitorRoleSql: pg_monitor
   * and CONNECT only, no table data).
   */
  readonly cluster: PostgresCluster;
  /**
   * The monitoring role's name (a lowercase SQL identifier).
   * @default "<cluster.database>_monitor"
   */
  readonly role?: string;
  /**
   * Where the role's password is created; see PostgresRoleOptions.passwordAt.
   * @default inside the cluster
   */
  readonly passwordAt?: ConstructLocation;
  /** quay.io/prometheuscommunity/postgres-exporter, pinned. */
  readonly image: string;
}

export interface RedisExporterProps {
  /** The cache's network (`redis.network`). */
  readonly network: PlatformNetwork;
  /** One exporter per data node (`redis.nodeHosts`: the master first, then the replicas). */
  readonly hosts: readonly ExporterNode[];
  /** @default 6379 */
  readonly port?: number;
  /** ACL user (`redis.monitorUser`, i.e. "monitor"; RedisCache with `monitoring: true`). */
  readonly user: string;
  /** Its password: a Terraform token (`redis.monitorPassword`), delivered as a file. */
  readonly password: string;
  /** oliver006/redis_exporter, pinned. */
  readonly image: string;
  /**
   * redis_exporter's image is FROM scratch (no chown): the job that gives its password file to its
   * user runs this image instead, one already pulled on the same host (the Redis server's).
   */
  readonly secretsOwnerImage: ServiceImage;
}

export interface CadvisorProps {
  /** gcr.io/cadvisor/cadvisor, pinned. */
  readonly image: string;
  /**
   * Docker API through the read-only socket proxy, e.g. "tcp://docker-socket-proxy:2375". cAdvisor
   * calls GET /_ping, /version, /info and /containers/{id}/json there (its docker client): the
   * proxy must allow CADVISOR_DOCKER_API_SECTIONS.
   */
  readonly dockerHost: string;
  /** The internal network the socket proxy listens on. */
  readonly dockerApiNetwork: PlatformNetwork;
}

export interface NodeExporterProps {
  /** prom/node-exporter, pinned. */
  readonly image: string;
  /**
   * The backups volume: mounted read-only at NODE_EXPORTER_BACKUPS_MOUNT; the textfile collector
   * reads "<mount>/metrics" (where the backup and off-site scripts write their status metrics).
   * node-exporter runs as nobody, so those files must be readable by others (0644 in a 0755
   * directory).
   * @default none (no textfile metrics)
   */
  readonly backupsVolume?: ServiceVolume;
  /**
   * The other stores' backups volumes (ScheduledBackup: Redis, RabbitMQ, Grafana, the edge), each
   * mounted read-only at "<NODE_EXPORTER_BACKUPS_MOUNT>-<store>" with its "metrics" directory as one
   * more textfile directory (node-exporter ≥ 1.9 takes the flag more than once). Their metrics carry
   * a `store` label, so they never collide with each other or with the Postgres backup's.
   * @default []
   */
  readonly extraBackupVolumes?: readonly StoreBackupsVolume[];
  /**
   * The volume-usage job's own metrics volume (volumeUsageMetricsVolume), mounted read-only at
   * NODE_EXPORTER_VOLUME_USAGE_MOUNT, one more textfile directory.
   * @default none (no volume usage metrics)
   */
  readonly volumeUsageVolume?: ServiceVolume;
  /**
   * The long-running services of the stack (io.updateio.service values), published as one
   * `updateio_expected_service` series each (renderExpectedServices) from a live config mounted at
   * NODE_EXPORTER_EXPECTED_MOUNT, one more textfile directory: ContainerMissing's list when its
   * rules take it from the metric (expectedServicesFrom "metric"). A changed list replaces only
   * the live config's seed; the textfile collector reads the new file at the next scrape.
   * @default none (no list published)
   */
  readonly expectedServices?: readonly string[];
}

/** One store's backups volume, for node-exporter's textfile collector. */
export interface StoreBackupsVolume {
  /** The store label and mount suffix, e.g. "redis" (lowercase letters, digits, dashes). */
  readonly store: string;
  readonly volume: ServiceVolume;
}

export type ExporterKind = "postgres" | "redis" | "cadvisor" | "node";

export interface MetricsExportersProps {
  readonly environment: string;
  /** Internal network Prometheus scrapes through; every exporter joins it. */
  readonly monitoringNetwork: PlatformNetwork;
  /** @default none (no Postgres exporters) */
  readonly postgres?: PostgresExporterProps;
  /** @default none (no Redis exporters) */
  readonly redis?: RedisExporterProps;
  /** @default none (no container metrics) */
  readonly cadvisor?: CadvisorProps;
  /** @default none (no host metrics) */
  readonly node?: NodeExporterProps;
  /**
   * Memory limit per container in MiB, by exporter.
   * @default { postgres: 64, redis: 48, cadvisor: 192, node: 48 }
   */
  readonly memoryMb?: Readonly<Partial<Record<ExporterKind, number>>>;
  /**
   * CPU weight of every exporter (1024 = one CPU's share under contention): below the services
   * they watch, so a busy host serves its users first.
   * @default 256
   */
  readonly cpuShares?: number;
}

export const METRICS_EXPORTER_DEFAULTS = {
  memoryMb: { postgres: 64, redis: 48, cadvisor: 192, node: 48 } as Readonly<Record<ExporterKind, number>>,
  cpuShares: 256,
  postgresPort: 5432,
  redisPort: 6379,
} as const;

/** Socket proxy sections cAdvisor's Docker client needs (read-only, with POST=0). */
export const CADVISOR_DOCKER_API_SECTIONS = ["CONTAINERS", "INFO", "PING", "VERSION"] as const;

/** Where node-exporter sees the host's root, and the backups volume. */
export const NODE_EXPORTER_HOST_ROOT = "/host";
export const NODE_EXPORTER_BACKUPS_MOUNT = "/backups";
export const NODE_EXPORTER_EXPECTED_MOUNT = "/expected-services";
export const NODE_EXPORTER_VOLUME_USAGE_MOUNT = "/volume-usage";

/** cAdvisor's read-only host paths (why each: where they are bound, below); its no-host-paths suppression covers these only. */
const CADVISOR_BINDS = [
  { hostPath: "/proc", containerPath: "/rootfs/proc" },
  { hostPath: "/var/lib/docker/image", containerPath: "/rootfs/var/lib/docker/image" },
  { hostPath: "/sys", containerPath: "/sys" },
] as const;

/**
 * cAdvisor metric groups switched off: per-CPU, disk usage (a `du` of every container layer every
 * minute) and disk I/O, TCP/UDP socket tables, process and scheduler stats, NUMA, hugetlb,
 * referenced memory, CPU topology, cpuset and resctrl. Left on: cpu, memory, network, oom_event
 * (and cpuLoad/pressure where present), which is what METRICS.cadvisor and the dashboards use. Every
 * name here is in cAdvisor's ignorable list (cmd/cadvisor.go, ignoreWhitelist) in the v0.4x-v0.52
 * sources; an unknown name makes cAdvisor exit at start, so add names only after checking them
 * against the pinned version ("accelerator", still in older guides, is gone by v0.49).
 */
export const CADVISOR_DISABLED_METRICS = [
  "advtcp",
  "cpu_topology",
  "cpuset",
  "disk",
  "diskIO",
  "hugetlb",
  "memory_numa",
  "percpu",
  "process",
  "referenced_memory",
  "resctrl",
  "sched",
  "tcp",
  "udp",
] as const;

/**
 * node-exporter's filesystem collector: mount points and filesystem types that say nothing about
 * disk space (virtual filesystems, tmpfs, container layers under /var/lib/docker/<...>, /run,
 * /dev, /proc, /sys). The Docker data root itself stays in (its own filesystem, or "/").
 */
export const NODE_EXPORTER_MOUNT_POINTS_EXCLUDE = "^/(dev|proc|run|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
export const NODE_EXPORTER_FS_TYPES_EXCLUDE =
  "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|erofs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tmpfs|tracefs)$";

const HOST = /^[a-z][a-z0-9-]{0,62}$/;
const SQL_IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const REDIS_USER = /^[a-z][a-z0-9_-]{0,62}$/;
const DOCKER_TCP = /^tcp:\/\/[a-z0-9][a-z0-9.-]{0,62}:\d{1,5}$/;
const MAX_NODES = 9;

/** Busybox/Alpine wget: exits non-zero unless the endpoint answers 2xx. */
function wgetHealthcheck(port: number, path: string): HealthcheckProps {
  return { test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}${path}`], timeout: "10s", startPeriod: "30s" };
}

/**
 * Prometheus exporters for the data tier, the containers and the host, each hardened through the
 * kit, on the internal monitoring network (Prometheus scrapes them there; nothing is published):
 *
 * - one postgres_exporter per Postgres node ("postgres-exporter" for the primary,
 *   "postgres-exporter-replica-<n>" for the replicas, in the order given), logging in as the
 *   monitoring role (renderMonitorRoleSql) with its password in a file (DATA_SOURCE_PASS_FILE);
 *   pg_monitor covers every default collector, so all stay on;
 * - one redis_exporter per Redis data node ("redis-exporter", "redis-exporter-replica-<n>"),
 *   logging in as the ACL user "monitor" (MONITOR_ACL) with the CONFIG step off;
 * - cAdvisor ("cadvisor"), reading Docker metadata through the socket proxy, never the socket;
 * - node-exporter ("node-exporter"): host filesystems and the backup status textfiles.
 *
 * Every weakened default is a policy suppression with its written reason (see each service).
 */
export class MetricsExporters extends Construct {
  readonly postgresExporters: readonly HardenedService[];
  /** The monitoring role in the cluster (cluster.addRole), when postgres is set. */
  readonly postgresRole?: PostgresRole;
  readonly redisExporters: readonly HardenedService[];
  readonly cadvisor?: HardenedService;
  readonly nodeExporter?: HardenedService;
  /** The list of expected services node-exporter publishes, when NodeExporterProps.expectedServices is set. */
  readonly expectedServices?: LiveConfig;
  /** Every exporter service, in the order above. */
  readonly services: readonly HardenedService[];
  private readonly targets: ScrapeTarget[] = [];

  constructor(scope: Construct, id: string, props: MetricsExportersProps) {
    super(scope, id);
    validate(this.node.path, props);
    const memory = { ...METRICS_EXPORTER_DEFAULTS.memoryMb, ...(props.memoryMb ?? {}) };
    const cpuShares = props.cpuShares ?? METRICS_EXPORTER_DEFAULTS.cpuShares;
    const monitoring = { network: props.monitoringNetwork };
    const common = { environment: props.environment, component: "observability" as const, cpuShares };

    // --- Postgres ---------------------------------------------------------------------------
    const pg = props.postgres;
    const pgPort = SCRAPE_JOBS.postgres.port;
    const pgHosts = pg ? postgresNodes(pg.cluster) : [];
    if (pg) {
      const cluster = pg.cluster;
      const role = pg.role ?? `${cluster.database}_monitor`;
      this.postgresRole = cluster.addRole({
        name: role,
        initSql: ({ database, passwordFile }) => renderMonitorRoleSql({ role, database, passwordFile }),
        passwordAt: pg.passwordAt,
      });
    }
    const pgRole = this.postgresRole;
    this.postgresExporters =
      pg && pgRole
        ? (() => {
            const image = new ServiceImage(this, "postgres-exporter-image", { ref: pg.image });
            const port = pg.cluster.port;
            return exporterNames("postgres-exporter", pgHosts).map(
              ({ node, service }) =>
                new HardenedService(this, service, {
                  ...common,
                  service,
                  role: "postgres-exporter",
                  image,
                  // The image's own user (USER nobody); it writes nothing.
                  user: SECURE_DEFAULTS.user,
                  memoryMb: memory.postgres,
                  // The password never enters the environment: the exporter reads the file itself.
                  env: {
                    DATA_SOURCE_URI: `${node.host}:${port}/${pgRole.database}?sslmode=disable`,
                    DATA_SOURCE_USER: pgRole.name,
                    PG_EXPORTER_WEB_LISTEN_ADDRESS: `:${pgPort}`,
                  },
                  secrets: [{ name: "postgres_monitor_password", value: pgRole.passwordSecret.value, envVar: "DATA_SOURCE_PASS_FILE" }],
                  // The image is built on Prometheus' busybox base, which has wget. /metrics answers
                  // 200 (pg_up 0) while Postgres is down: the check says the exporter serves; the
                  // Postgres alerts say whether the database does.
                  healthcheck: wgetHealthcheck(pgPort, SCRAPE_JOBS.postgres.path),
                  networks: [{ network: pg.cluster.network }, monitoring],
                }),
            );
          })()
        : [];
    this.addTargets("postgres", pgHosts, this.postgresExporters, pgPort);

    // --- Redis --------------------------------------------------------------------------------
    const rd = props.redis;
    const redisPort = SCRAPE_JOBS.redis.port;
    this.redisExporters = rd
      ? (() => {
          const image = new ServiceImage(this, "redis-exporter-image", { ref: rd.image });
          const port = rd.port ?? METRICS_EXPORTER_DEFAULTS.redisPort;
          return exporterNames("redis-exporter", rd.hosts).map(({ node, service }) => {
            const address = `redis://${node.host}:${port}`;
            const exporter = new HardenedService(this, service, {
              ...common,
              service,
              role: "redis-exporter",
              image,
              secretsOwnerImage: rd.secretsOwnerImage,
              // The image's USER (FROM scratch, uid 59000); it writes nothing.
              user: "59000:59000",
              memoryMb: memory.redis,
              env: {
                REDIS_ADDR: address,
                REDIS_USER: rd.user,
                // Skip CONFIG GET *: it would read masterauth (see MONITOR_ACL); maxmemory comes from INFO.
                REDIS_EXPORTER_CONFIG_COMMAND: "-",
                REDIS_EXPORTER_WEB_LISTEN_ADDRESS: `0.0.0.0:${redisPort}`,
              },
              // redis_exporter's password file is a JSON map from address to password
              // (exporter/pwd_file.go LoadPwdFile; looked up by the exact REDIS_ADDR), not a bare password.
              secrets: [{ name: "redis_password_map", value: renderRedisPasswordMap(address, rd.password), envVar: "REDIS_PASSWORD_FILE" }],
              networks: [{ network: rd.network }, monitoring],
              relax: {
                healthcheck:
                  "redis_exporter's image is FROM scratch: no shell, wget or curl to run a check with, and the binary has no health subcommand; Prometheus' up{job=\"redis\"} alert covers a dead exporter",
              },
            });
            return exporter;
          });
        })()
      : [];
    this.addTargets("redis", rd?.hosts ?? [], this.redisExporters, redisPort);

    // --- cAdvisor -----------------------------------------------------------------------------
    const ca = props.cadvisor;
    if (ca) {
      const port = SCRAPE_JOBS.cadvisor.port;
      this.cadvisor = new HardenedService(this, "cadvisor", {
        ...common,
        service: "cadvisor",
        role: "cadvisor",
        image: new ServiceImage(this, "cadvisor-image", { ref: ca.image }),
        user: "0:0",
        memoryMb: memory.cadvisor,
        // The image's entrypoint is `cadvisor -logtostderr`; these are its arguments.
        command: [
          // Docker metadata (names, labels) through the read-only socket proxy. cAdvisor's documented
          // `docker run` mounts /var/run (the socket) and / (which holds the socket too, at
          // /rootfs/run/docker.sock); neither is mounted here.
          `--docker=${ca.dockerHost}`,
          "--docker_only=true",
          `--port=${port}`,
          "--housekeeping_interval=30s",
          `--disable_metrics=${CADVISOR_DISABLED_METRICS.join(",")}`,
          // Only our three labels become metric labels (CADVISOR_LABELS), not every label and the
          // healthcheck hash: fewer, stabler series. `restartcount` (cAdvisor's own, from inspect)
          // starts a new series on each restart, which is what ContainerRestarting counts.
          "--store_container_labels=false",
          `--whitelisted_container_labels=${[LABELS.environment, LABELS.service, LABELS.component, "restartcount"].join(",")}`,
        ],
        // Read-only host paths, instead of the documented "/" → /rootfs (which would hand a root
        // process the Docker socket):
        // - /proc at /rootfs/proc: its presence tells cAdvisor it runs in a container, and it reads
        //   each container's network counters from /rootfs/proc/<pid>/net/dev;
        // - /var/lib/docker/image at /rootfs/var/lib/docker/image: cAdvisor finds a container's
        //   layer (image/overlay2/layerdb/mounts/<id>/mount-id) under /rootfs + Docker's root dir,
        //   and does not register a container whose layer it cannot find. Only image/, not all of
        //   /var/lib/docker: as root, cAdvisor could read every volume there, i.e. every secret
        //   file the seed containers upload (root-owned 0644). With the disk metrics off it reads
        //   nothing else under the root dir. Assumes Docker's root dir is /var/lib/docker and the
        //   classic overlay2 layer store (an engine on the containerd image store keeps no
        //   layerdb there: check cAdvisor's container metrics after such an upgrade);
        // - /sys: the cgroup hierarchy (CPU and memory of every container);
        // No /dev/disk (in cAdvisor's documented run line): the disk metrics are disabled above, and
        // hosts without udev links have no /dev/disk, where Docker refuses to create the container.
        binds: CADVISOR_BINDS,
        // No capability is added back. As uid 0 cAdvisor owns /var/lib/docker/image (root 0700), so
        // it needs no CAP_DAC_*; cgroup files and /proc/<pid>/net/dev are world-readable; du on layers
        // (DAC_READ_SEARCH) is off with the disk metrics; OOM events from /dev/kmsg are not used
        // (no device given). The read-only /proc bind refuses writes (EROFS), /proc/kcore needs
        // CAP_SYS_RAWIO and other processes' environ/root need CAP_SYS_PTRACE against anything
        // holding capabilities or another uid. Not privileged. (Checked on a real engine with a
        // cap-less uid-0 container and these binds: mount-id and net/dev readable; a uid-999
        // container's environ and root, /proc/kcore and volumes refused; /proc writes EROFS.)
        healthcheck: wgetHealthcheck(port, "/healthz"),
        networks: [monitoring, { network: ca.dockerApiNetwork }],
        relax: {
          "non-root":
            "cAdvisor reads Docker's layer database (/var/lib/docker/image, root-only 0700) to register containers; it runs as uid 0 with every capability dropped, no-new-privileges, read-only binds of /proc, /sys and that directory only (no volumes) and no Docker socket",
        },
      });
      PolicySuppressions.addResourceSuppressions(this.cadvisor, [
        {
          id: "no-host-paths",
          reason:
            "cAdvisor needs host /proc (per-container network counters), /sys (the cgroup hierarchy) and /var/lib/docker/image (the layer database, to register containers), all bound read-only: as uid 0 with every capability dropped it cannot write them, read /proc/kcore (SYS_RAWIO) or other processes' environ and root (SYS_PTRACE), and no volume or socket directory is reachable",
          image: ca.image,
          // Those three paths only: any other host path bound here is judged by the rule.
          appliesTo: CADVISOR_BINDS.map((b) => b.hostPath),
        },
      ]);
      this.targets.push({ job: "cadvisor", targets: [`cadvisor:${port}`] });
    }

    // --- node-exporter ------------------------------------------------------------------------
    const ne = props.node;
    if (ne) {
      const port = SCRAPE_JOBS.node.port;
      const textfileDir = `${NODE_EXPORTER_BACKUPS_MOUNT}/metrics`;
      const extra = (ne.extraBackupVolumes ?? []).map(({ store, volume }) => ({
        volume,
        containerPath: `${NODE_EXPORTER_BACKUPS_MOUNT}-${store}`,
        readOnly: true,
      }));
      const image = new ServiceImage(this, "node-exporter-image", { ref: ne.image });
      this.expectedServices =
        ne.expectedServices === undefined
          ? undefined
          : new LiveConfig(this, "expected-services", {
              environment: props.environment,
              service: "node-exporter",
              purpose: "expected-services",
              image,
              path: NODE_EXPORTER_EXPECTED_MOUNT,
              files: [{ name: EXPECTED_SERVICES_FILE, content: renderExpectedServices(props.environment, ne.expectedServices) }],
            });
      const textfileDirs = [
        ...(ne.backupsVolume ? [textfileDir] : []),
        ...extra.map((m) => `${m.containerPath}/metrics`),
        ...(ne.volumeUsageVolume ? [NODE_EXPORTER_VOLUME_USAGE_MOUNT] : []),
        ...(this.expectedServices ? [NODE_EXPORTER_EXPECTED_MOUNT] : []),
      ];
      this.nodeExporter = new HardenedService(this, "node-exporter", {
        ...common,
        service: "node-exporter",
        role: "node-exporter",
        image,
        // The image's USER nobody.
        user: SECURE_DEFAULTS.user,
        memoryMb: memory.node,
        // The image's entrypoint is node_exporter; these are its arguments.
        command: [
          `--path.rootfs=${NODE_EXPORTER_HOST_ROOT}`,
          // Host /proc and /sys through the same bind: /host/proc/1/mountinfo lists the host's
          // mounts (not this container's), without sharing the host's PID namespace.
          `--path.procfs=${NODE_EXPORTER_HOST_ROOT}/proc`,
          `--path.sysfs=${NODE_EXPORTER_HOST_ROOT}/sys`,
          `--web.listen-address=:${port}`,
          "--collector.disable-defaults",
          "--collector.filesystem",
          `--collector.filesystem.mount-points-exclude=${NODE_EXPORTER_MOUNT_POINTS_EXCLUDE}`,
          `--collector.filesystem.fs-types-exclude=${NODE_EXPORTER_FS_TYPES_EXCLUDE}`,
          // The host basics, a few dozen series: is the host itself full or busy.
          "--collector.cpu",
          "--collector.meminfo",
          "--collector.loadavg",
          ...(textfileDirs.length > 0 ? ["--collector.textfile", ...textfileDirs.map((d) => `--collector.textfile.directory=${d}`)] : []),
        ],
        binds: [{ hostPath: "/", containerPath: NODE_EXPORTER_HOST_ROOT }],
        volumes: [
          ...(ne.backupsVolume ? [{ volume: ne.backupsVolume, containerPath: NODE_EXPORTER_BACKUPS_MOUNT, readOnly: true }] : []),
          ...extra,
          ...(ne.volumeUsageVolume
            ? [{ volume: ne.volumeUsageVolume, containerPath: NODE_EXPORTER_VOLUME_USAGE_MOUNT, readOnly: true }]
            : []),
          ...(this.expectedServices ? [this.expectedServices.mount] : []),
        ],
        healthcheck: wgetHealthcheck(port, SCRAPE_JOBS.node.path),
        networks: [monitoring],
        // The list is in place before its first start.
        ...(this.expectedServices ? { dependsOn: [this.expectedServices.seed] } : {}),
      });
      PolicySuppressions.addResourceSuppressions(this.nodeExporter, [
        {
          id: "no-docker-socket",
          reason:
            "node-exporter's filesystem collector must statfs every host mount point under --path.rootfs, so host / is bind-mounted read-only at /host; it runs as nobody (65534) with every capability dropped and no-new-privileges, so the socket inside (root:docker 0660) refuses its connect(), and it never talks to Docker",
          image: ne.image,
          // Host / only: a bind of the socket itself, or of /var/run, is judged by the rule.
          appliesTo: ["/"],
        },
        {
          id: "volume-sharing",
          reason:
            "its textfile collector reads the metrics files the backup schedulers write into each store's backups volume and volume-usage into its own, so it mounts those volumes, read-only",
          image: ne.image,
          // Read-only mounts only: a read-write mount of any of them is judged by the rule.
          appliesTo: ["read-only"],
        },
      ]);
      this.targets.push({ job: "node", targets: [`node-exporter:${port}`] });
    }

    this.services = [
      ...this.postgresExporters,
      ...this.redisExporters,
      ...(this.cadvisor ? [this.cadvisor] : []),
      ...(this.nodeExporter ? [this.nodeExporter] : []),
    ];
  }

  /**
   * Scrape targets for the Prometheus renderer: job postgres and job redis with an
   * `instance_role` label per role, job cadvisor, job node (catalogue ports and paths).
   */
  scrapeTargets(): ScrapeTarget[] {
    return this.targets.map((t) => ({ ...t, targets: [...t.targets], ...(t.labels ? { labels: { ...t.labels } } : {}) }));
  }

  private addTargets(job: "postgres" | "redis", nodes: readonly ExporterNode[], services: readonly HardenedService[], port: number): void {
    for (const role of ["primary", "replica"] as const) {
      const targets = services.filter((_, i) => nodes[i]!.instanceRole === role).map((s) => `${s.spec.service}:${port}`);
      if (targets.length > 0) this.targets.push({ job, targets, labels: { instance_role: role } });
    }
  }
}

/** redis_exporter's REDIS_PASSWORD_FILE: {"<REDIS_ADDR>": "<password>"} (the password may be a token). */
export function renderRedisPasswordMap(address: string, password: string): string {
  return `${JSON.stringify({ [address]: password })}\n`;
}

/** The cluster's nodes as the exporters see them: the primary, then each replica. */
function postgresNodes(cluster: PostgresCluster): ExporterNode[] {
  return [
    { host: cluster.host, instanceRole: "primary" },
    ...cluster.replicaServices.map((r) => ({ host: r.spec.service, instanceRole: "replica" as const })),
  ];
}

/** Service names: "<base>" for the primary, "<base>-replica-<n>" for the replicas in order. */
function exporterNames(base: string, nodes: readonly ExporterNode[]): { node: ExporterNode; service: string }[] {
  let replica = 0;
  return nodes.map((node) => ({ node, service: node.instanceRole === "primary" ? base : `${base}-replica-${++replica}` }));
}

function validate(path: string, props: MetricsExportersProps): void {
  const problems: string[] = [];
  const fail = (key: string, message: string) => problems.push(`${key}: ${message}`);

  if (!/^[a-z][a-z0-9]*$/.test(props.environment)) fail("environment", `"${props.environment}" must be lowercase letters and digits`);
  if (!props.monitoringNetwork.internal)
    fail(
      "monitoringNetwork",
      `"${props.monitoringNetwork.purpose}" is not internal; exporters answer anyone who reaches them, so give them an internal network (internal: true) that only Prometheus shares`,
    );
  if (!props.postgres && !props.redis && !props.cadvisor && !props.node)
    fail("postgres/redis/cadvisor/node", "none is set; set at least one exporter (or drop MetricsExporters)");

  const checkNodes = (key: string, nodes: readonly ExporterNode[]) => {
    if (nodes.length === 0) fail(`${key}.hosts`, "is empty; list every node (the primary and each replica) to scrape");
    if (nodes.length > MAX_NODES) fail(`${key}.hosts`, `has ${nodes.length} nodes; at most ${MAX_NODES}`);
    const seen = new Set<string>();
    nodes.forEach((n, i) => {
      if (!HOST.test(n.host))
        fail(`${key}.hosts.${i}.host`, `"${n.host}" must be a DNS name: lowercase letters, digits and dashes, starting with a letter`);
      if (seen.has(n.host)) fail(`${key}.hosts.${i}.host`, `"${n.host}" is listed twice`);
      seen.add(n.host);
      if (n.instanceRole !== "primary" && n.instanceRole !== "replica")
        fail(`${key}.hosts.${i}.instanceRole`, `${JSON.stringify(n.instanceRole)} must be "primary" or "replica"`);
    });
    const primaries = nodes.filter((n) => n.instanceRole === "primary").length;
    if (primaries > 1) fail(`${key}.hosts`, `has ${primaries} primaries; mark one "primary" and the others "replica"`);
  };
  const checkPort = (key: string, port: number | undefined) => {
    if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535))
      fail(key, `${port} must be a port number from 1 to 65535`);
  };
  const checkSecret = (key: string, value: string) => {
    if (typeof value !== "string" || value.length === 0) fail(key, "is empty; pass the generated secret's token");
    else if (!Token.isUnresolved(value))
      fail(key, "is a literal; pass a generated secret (a Terraform token such as GeneratedSecret.value), never a password in code");
  };
  const checkImage = (key: string, image: string) => {
    if (typeof image !== "string" || image.trim() === "") fail(key, "is empty; pass the pinned image reference (environments/images.ts)");
  };
  const checkNetwork = (key: string, network: PlatformNetwork) => {
    if (network === props.monitoringNetwork)
      fail(key, "is the monitoring network; pass the data service's own network (the exporter joins both)");
  };

  const pg = props.postgres;
  if (pg) {
    checkNetwork("postgres.cluster", pg.cluster.network);
    if (pg.role !== undefined && !SQL_IDENT.test(pg.role))
      fail("postgres.role", `"${pg.role}" must be a lowercase SQL identifier, e.g. "updateio_monitor" (or leave it out)`);
    if (pg.role === "postgres")
      fail("postgres.role", '"postgres" is the superuser; leave role out for a monitoring role with pg_monitor only');
    checkImage("postgres.image", pg.image);
  }
  const rd = props.redis;
  if (rd) {
    checkNetwork("redis.network", rd.network);
    checkNodes("redis", rd.hosts);
    checkPort("redis.port", rd.port);
    if (!REDIS_USER.test(rd.user)) fail("redis.user", `"${rd.user}" must be an ACL user name (lowercase letters, digits, - and _)`);
    if (rd.user === "default")
      fail("redis.user", '"default" is switched off on our nodes; pass redis.monitorUser (RedisCache with monitoring: true)');
    checkSecret("redis.password", rd.password);
    checkImage("redis.image", rd.image);
  }
  const ca = props.cadvisor;
  if (ca) {
    checkImage("cadvisor.image", ca.image);
    if (!DOCKER_TCP.test(ca.dockerHost)) {
      fail(
        "cadvisor.dockerHost",
        `"${ca.dockerHost}" must be tcp://<socket-proxy>:<port> (e.g. tcp://docker-socket-proxy:2375); a unix socket would need the Docker socket mounted, which the policy forbids`,
      );
    }
    if (!ca.dockerApiNetwork.internal)
      fail(
        "cadvisor.dockerApiNetwork",
        `"${ca.dockerApiNetwork.purpose}" is not internal; the Docker API must stay on an internal network`,
      );
    if (ca.dockerApiNetwork === props.monitoringNetwork)
      fail(
        "cadvisor.dockerApiNetwork",
        "is the monitoring network; keep the socket proxy on its own network so that Prometheus and Grafana cannot reach the Docker API",
      );
  }
  if (props.node) {
    checkImage("node.image", props.node.image);
    const stores = (props.node.extraBackupVolumes ?? []).map((v) => v.store);
    stores.forEach((store, i) => {
      if (!/^[a-z][a-z0-9-]{0,30}$/.test(store))
        fail(`node.extraBackupVolumes[${i}].store`, `"${store}" must be lowercase letters, digits and dashes (e.g. "redis")`);
      else if (stores.indexOf(store) !== i)
        fail(`node.extraBackupVolumes[${i}].store`, `"${store}" is listed twice; mount each store once`);
    });
  }

  for (const [kind, mb] of Object.entries(props.memoryMb ?? {})) {
    if (!["postgres", "redis", "cadvisor", "node"].includes(kind))
      fail(`memoryMb.${kind}`, "is not an exporter (postgres, redis, cadvisor, node)");
    else if (mb !== undefined && (!Number.isInteger(mb) || mb < 16)) fail(`memoryMb.${kind}`, `${mb} must be a whole number of MiB ≥ 16`);
  }
  if (props.cpuShares !== undefined && (!Number.isInteger(props.cpuShares) || props.cpuShares < 2))
    fail("cpuShares", `${props.cpuShares} must be a whole number ≥ 2`);

  if (problems.length > 0) throw new ValidationError(`MetricsExporters ${path}`, problems);
}
