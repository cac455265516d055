import { Construct } from "constructs";
import { renderAlloyConfig } from "./renderers/alloy";
import { SOCKET_PROXY_PORT, socketProxyEnv } from "./renderers/docker-socket-proxy";
import { defaultLogPipeline } from "./renderers/log-pipeline";
import { LOKI_DEFAULTS, renderLokiConfig } from "./renderers/loki";
import { SCRAPE_JOBS } from "./renderers/observability-catalogue";
import type { ScrapeTarget } from "./renderers/prometheus";
import { PROMTAIL_DEFAULTS, renderPromtailConfig } from "./renderers/promtail";
import { HardenedService } from "../kit/hardened-service";
import { PlatformNetwork } from "../kit/platform-network";
import { ServiceImage } from "../kit/service-image";
import type { HealthcheckProps } from "../kit/service-spec";
import { ServiceVolume } from "../kit/service-volume";
import { ValidationError } from "../contract/errors";
import { DOCKER_SOCKET_PROXY_ROLE } from "../contract/index";

export type LogShipper = "alloy" | "promtail";

export interface LokiStackProps {
  readonly environment: string;
  /** grafana/loki reference (pinned; the 3.5 line: its image still has busybox wget for the healthcheck). */
  readonly lokiImage: string;
  /**
   * Which shipper reads the containers' logs. Promtail is end-of-life upstream (docs/architecture.md "Logs").
   * @default "alloy"
   */
  readonly shipper?: LogShipper;
  /** grafana/alloy or grafana/promtail reference (pinned), matching `shipper`. */
  readonly shipperImage: string;
  /** tecnativa/docker-socket-proxy reference (pinned). */
  readonly socketProxyImage: string;
  /** Days Loki keeps logs (whole days, 1 to 3650), e.g. 3 in dev and 30 in prod. */
  readonly retentionDays: number;
  /**
   * Size budget of Loki's data volume in MiB: caps the tenant's sustained ingestion rate so that the
   * retention fits (renderLokiConfig's budgetMb).
   * @default undefined (Loki's default rate, 4 MB/s; no size bound)
   */
  readonly lokiBudgetMb?: number;
  /** @default 512 */
  readonly lokiMemoryMb?: number;
  /** @default 256 */
  readonly shipperMemoryMb?: number;
  /** @default 64 */
  readonly proxyMemoryMb?: number;
  /** CPU weight of every container of the stack. @default 512 (the kit's default) */
  readonly cpuShares?: number;
  /**
   * The environment's internal `monitoring` network, where Prometheus scrapes the shipper. Loki
   * itself never joins it: it is reached only on the stack's own push, query and metrics networks.
   * Required unless `metrics` is false, refused then.
   */
  readonly network?: PlatformNetwork;
  /**
   * Whether Prometheus scrapes the stack. false (observability profile "logs"): no `logs-metrics`
   * network, the shipper joins no monitoring network, and scrapeTargets() is empty.
   * @default true
   */
  readonly metrics?: boolean;
  /** Protect the Loki data and shipper positions volumes from destroy (prod). @default false */
  readonly protectData?: boolean;
  /**
   * Let the socket proxy also answer GET /info and /version, for cAdvisor (which joins
   * `dockerApiNetwork` and reads the engine through the proxy). See socketProxyEnv.
   * @default false
   */
  readonly allowEngineInfo?: boolean;
}

export const LOKI_SERVICE = "loki";
export const SOCKET_PROXY_SERVICE = "docker-socket-proxy";
const LOKI_PORT = LOKI_DEFAULTS.httpPort;
const LOKI_CONFIG_DIR = "/etc/loki";
const LOKI_CONFIG_FILE = "loki.yaml";
const ALLOY_CONFIG_DIR = "/etc/alloy";
const ALLOY_CONFIG_FILE = "config.alloy";
/** The image creates /var/lib/alloy owned by the alloy user (uid 473); the volume mounts here. */
const ALLOY_STATE_DIR = "/var/lib/alloy";
const PROMTAIL_CONFIG_DIR = "/etc/promtail";
const PROMTAIL_CONFIG_FILE = "config.yml";
const PROMTAIL_STATE_DIR = PROMTAIL_DEFAULTS.positionsFile.slice(0, PROMTAIL_DEFAULTS.positionsFile.lastIndexOf("/"));

const MIN_MEMORY = { lokiMemoryMb: 256, shipperMemoryMb: 128, proxyMemoryMb: 32 } as const;

/**
 * Logs for one environment: Loki (single binary, filesystem storage, compactor retention), a log
 * shipper (Grafana Alloy by default, Promtail on request) that discovers and tails our containers
 * through a read-only Docker socket proxy, and that proxy, alone with the shipper on its own
 * internal `<env>-docker-api` network (cAdvisor may join it later through `dockerApiNetwork`).
 * Nothing is published. Loki has no authentication of its own, so who may reach it is decided by
 * networks: the shipper pushes on `<env>-logs-push`, Grafana queries on `<env>-logs-query`
 * (queryNetwork) and Prometheus scrapes on `<env>-logs-metrics` (metricsNetwork); nothing else
 * shares a network with Loki.
 */
export class LokiStack extends Construct {
  readonly lokiHost = LOKI_SERVICE;
  readonly lokiPort = LOKI_PORT;
  /** Base URL for Grafana's Loki data source. */
  readonly lokiUrl = `http://${LOKI_SERVICE}:${LOKI_PORT}`;
  /** Where shippers push. */
  readonly pushUrl = `http://${LOKI_SERVICE}:${LOKI_PORT}/loki/api/v1/push`;
  /** Docker API address through the proxy (for cAdvisor's --docker flag too). */
  readonly dockerHost = `tcp://${SOCKET_PROXY_SERVICE}:${SOCKET_PROXY_PORT}`;
  /** The monitoring network the stack was given (none when `metrics` is false). */
  readonly network?: PlatformNetwork;
  /** Internal network of the socket proxy, shared only with its clients. */
  readonly dockerApiNetwork: PlatformNetwork;
  /** Loki and the shipper only: where logs are pushed. */
  readonly pushNetwork: PlatformNetwork;
  /** Loki and its reader: give it to Grafana (the Loki data source) and nothing else. */
  readonly queryNetwork: PlatformNetwork;
  /** Loki and Prometheus: where Loki's own metrics are scraped (none when `metrics` is false). */
  readonly metricsNetwork?: PlatformNetwork;
  readonly shipperKind: LogShipper;
  /** DNS name of the shipper on the monitoring network ("alloy" or "promtail"). */
  readonly shipperHost: string;
  /** The shipper's HTTP port (metrics, /-/ready or /ready). */
  readonly shipperPort: number;
  readonly loki: HardenedService;
  readonly shipper: HardenedService;
  readonly socketProxy: HardenedService;
  readonly volumes: { readonly lokiData: ServiceVolume; readonly shipperData: ServiceVolume };
  /** The rendered loki.yaml, as mounted at /etc/loki/loki.yaml. */
  readonly lokiConfig: string;
  /** The rendered shipper config (config.alloy or promtail's config.yml). */
  readonly shipperConfig: string;

  constructor(scope: Construct, id: string, props: LokiStackProps) {
    super(scope, id);
    const shipper = props.shipper ?? "alloy";
    const memory = {
      lokiMemoryMb: props.lokiMemoryMb ?? 512,
      shipperMemoryMb: props.shipperMemoryMb ?? 256,
      proxyMemoryMb: props.proxyMemoryMb ?? 64,
    };
    validate(this.node.path, props, shipper, memory);

    const env = props.environment;
    const protect = props.protectData ?? false;
    this.network = props.network;
    this.shipperKind = shipper;
    this.shipperHost = shipper;
    this.shipperPort = SCRAPE_JOBS[shipper].port;

    // Renderers validate their own input; an invalid retention was already reported above.
    this.lokiConfig = renderLokiConfig({
      retentionDays: props.retentionDays,
      dataDir: LOKI_DEFAULTS.dataDir,
      httpPort: LOKI_PORT,
      ...(props.lokiBudgetMb !== undefined ? { budgetMb: props.lokiBudgetMb } : {}),
    });
    const pipeline = defaultLogPipeline({ environment: env, lokiUrl: this.pushUrl, dockerHost: this.dockerHost });

    // --- Loki ---------------------------------------------------------------------------------
    this.pushNetwork = new PlatformNetwork(this, "logs-push", { environment: env, purpose: "logs-push" });
    this.queryNetwork = new PlatformNetwork(this, "logs-query", { environment: env, purpose: "logs-query" });
    if (props.metrics !== false)
      this.metricsNetwork = new PlatformNetwork(this, "logs-metrics", { environment: env, purpose: "logs-metrics" });
    const lokiData = new ServiceVolume(this, "loki-data", { environment: env, service: LOKI_SERVICE, purpose: "data", protect });
    this.loki = new HardenedService(this, "loki", {
      environment: env,
      service: LOKI_SERVICE,
      component: "observability",
      role: "loki",
      image: new ServiceImage(this, "loki-image", { ref: props.lokiImage }),
      // The image's own loki user (uid/gid 10001, its USER). Its Dockerfile creates /loki owned by
      // loki:loki, and Docker copies a mount point's ownership into an empty named volume on first
      // mount, so the new volume is writable by 10001 without a chown step.
      user: "10001:10001",
      memoryMb: memory.lokiMemoryMb,
      cpuShares: props.cpuShares,
      // The image's entrypoint is /usr/bin/loki: the command is only its flags.
      command: [`-config.file=${LOKI_CONFIG_DIR}/${LOKI_CONFIG_FILE}`],
      configDirs: [{ path: LOKI_CONFIG_DIR, files: [{ name: LOKI_CONFIG_FILE, content: this.lokiConfig }] }],
      // Chunks, TSDB index, compactor state and the ruler's rules-temp all live under /loki
      // (common.path_prefix), so nothing else needs to be writable.
      volumes: [{ volume: lokiData, containerPath: LOKI_DEFAULTS.dataDir }],
      networks: [
        { network: this.pushNetwork },
        { network: this.queryNetwork },
        ...(this.metricsNetwork ? [{ network: this.metricsNetwork }] : []),
      ],
      // /ready answers 200 once the in-process ring is ACTIVE (about 15s after start). The 3.5
      // image carries busybox (wget); 3.6+ images are distroless without it.
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${LOKI_PORT}/ready`],
        interval: "15s",
        timeout: "5s",
        retries: 5,
        startPeriod: "1m0s",
      },
    });

    // --- The read-only Docker socket proxy --------------------------------------------------------
    this.dockerApiNetwork = new PlatformNetwork(this, "docker-api", { environment: env, purpose: "docker-api" });
    this.socketProxy = new HardenedService(this, "socket-proxy", {
      environment: env,
      service: SOCKET_PROXY_SERVICE,
      component: "proxy",
      // The no-docker-socket rule admits a read-only bind of the socket itself only on a container
      // with this role. So that rule is deliberately NOT suppressed here: a suppression would also
      // hide a later read-write bind or a bind of /var/run, which the rule must keep catching.
      role: DOCKER_SOCKET_PROXY_ROLE,
      image: new ServiceImage(this, "socket-proxy-image", { ref: props.socketProxyImage }),
      // The image runs HAProxy as root (USER root) and the host socket is root-owned (srw-rw----
      // root:docker): uid 0 passes by the owner bits, so no capability is added back (not even
      // DAC_OVERRIDE), and 2375 is above 1024, so NET_BIND_SERVICE is not needed either.
      user: "0:0",
      relax: {
        "non-root":
          "HAProxy must connect to the root-owned Docker socket; it runs with every capability dropped, read-only rootfs and no-new-privileges, allows only GET/HEAD on the sections socketProxyEnv lists, and is never published",
      },
      memoryMb: memory.proxyMemoryMb,
      cpuShares: props.cpuShares,
      env: {
        ...proxySectionsEnv(props.allowEngineInfo ?? false),
        // Bind 0.0.0.0:2375 rather than [::]:2375 (the image's default): our networks are IPv4-only,
        // and a host booted without IPv6 makes the [::] bind fail at start. Older images ignore it.
        DISABLE_IPV6: "1",
      },
      // The entrypoint renders /tmp/haproxy.cfg from its template at every start, and the config's
      // `pidfile /run/haproxy.pid` needs a writable /run; both are tiny.
      tmpfs: { "/tmp": 1, "/run": 1 },
      // ":ro" keeps the socket file itself from being replaced; it does not limit the API (connect()
      // works on a read-only mount). What limits the API is the proxy's POST=0 and section list.
      binds: [{ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock", readOnly: true }],
      networks: [{ network: this.dockerApiNetwork }],
      // Alpine base: busybox wget. /_ping is open (PING=1) and answers "OK" once the socket works.
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${SOCKET_PROXY_PORT}/_ping`],
        interval: "15s",
        timeout: "3s",
        retries: 3,
        startPeriod: "10s",
      },
    });

    // --- The shipper --------------------------------------------------------------------------------
    const shipperData = new ServiceVolume(this, `${shipper}-data`, { environment: env, service: shipper, purpose: "data", protect });
    this.volumes = { lokiData, shipperData };
    const shipperCommon = {
      environment: env,
      service: shipper,
      component: "observability" as const,
      role: "log-shipper",
      image: new ServiceImage(this, `${shipper}-image`, { ref: props.shipperImage }),
      memoryMb: memory.shipperMemoryMb,
      cpuShares: props.cpuShares,
      networks: [...(props.network ? [{ network: props.network }] : []), { network: this.pushNetwork }, { network: this.dockerApiNetwork }],
      // Starts once Loki and the proxy report healthy (both wait), so the first pushes land.
      dependsOn: [...this.loki.containers, ...this.socketProxy.containers],
    };
    if (shipper === "alloy") {
      this.shipperConfig = renderAlloyConfig(pipeline);
      this.shipper = new HardenedService(this, "shipper", {
        ...shipperCommon,
        // The image creates user alloy (uid/gid 473) but keeps root as its default user; it owns
        // /var/lib/alloy (mode 770), which the volume's copy-up hands to the empty volume.
        user: "473:473",
        command: [
          "run",
          `${ALLOY_CONFIG_DIR}/${ALLOY_CONFIG_FILE}`,
          // Positions of loki.source.docker (how far each container was read) live here: on the
          // volume, so a restart neither re-sends nor skips lines.
          `--storage.path=${ALLOY_STATE_DIR}/data`,
          // All interfaces: Prometheus scrapes /metrics over the monitoring network (never published).
          `--server.http.listen-addr=0.0.0.0:${this.shipperPort}`,
          // No usage reports to stats.grafana.org (and the monitoring network has no route out).
          "--disable-reporting",
        ],
        configDirs: [{ path: ALLOY_CONFIG_DIR, files: [{ name: ALLOY_CONFIG_FILE, content: this.shipperConfig }] }],
        volumes: [{ volume: shipperData, containerPath: ALLOY_STATE_DIR }],
        // The image is Ubuntu with bash but neither curl nor wget: bash's /dev/tcp does the GET.
        healthcheck: bashHttpHealthcheck(this.shipperPort, "/-/ready"),
      });
    } else {
      this.shipperConfig = renderPromtailConfig(pipeline, { positionsFile: PROMTAIL_DEFAULTS.positionsFile, httpPort: this.shipperPort });
      this.shipper = new HardenedService(this, "shipper", {
        ...shipperCommon,
        // The image has no unprivileged user. Positions go on a volume (not tmpfs: a restart would
        // then re-send what Docker still holds, or skip what arrived meanwhile), and the image has no
        // /var/lib/promtail to copy ownership from, so the new volume is root-owned: root it is.
        user: "0:0",
        relax: {
          "non-root":
            "the promtail image ships no unprivileged user and its positions volume is root-owned; it runs with every capability dropped, read-only rootfs and no-new-privileges, and reads Docker only through the read-only socket proxy",
        },
        command: [`-config.file=${PROMTAIL_CONFIG_DIR}/${PROMTAIL_CONFIG_FILE}`],
        configDirs: [{ path: PROMTAIL_CONFIG_DIR, files: [{ name: PROMTAIL_CONFIG_FILE, content: this.shipperConfig }] }],
        volumes: [{ volume: shipperData, containerPath: PROMTAIL_STATE_DIR }],
        // Ubuntu base, bash but no curl/wget, as for Alloy.
        healthcheck: bashHttpHealthcheck(this.shipperPort, "/ready"),
      });
    }
  }

  /** Prometheus scrape targets of the stack (renderers/prometheus.ts). */
  scrapeTargets(): ScrapeTarget[] {
    if (!this.metricsNetwork) return [];
    return [
      { job: "loki", targets: [`${this.lokiHost}:${this.lokiPort}`] },
      { job: this.shipperKind, targets: [`${this.shipperHost}:${this.shipperPort}`] },
    ];
  }
}

/**
 * The proxy's section switches from socketProxyEnv, minus SECRETS. The variable's NAME looks like a
 * secret to the kit (HardenedService rejects it) and to the no-secret-literal-env policy rule, although
 * its value only says "Swarm secrets API closed". The image's own ENV sets SECRETS=0 (its Dockerfile,
 * in every version we read), so leaving it out changes nothing; should the renderer ever open that
 * section, this fails instead of silently dropping it.
 */
function proxySectionsEnv(allowEngineInfo: boolean): Record<string, string> {
  const { SECRETS: secrets, ...env } = socketProxyEnv({ allowEngineInfo });
  if (secrets !== undefined && secrets !== "0") {
    throw new Error(
      `LokiStack: socketProxyEnv opens SECRETS (${secrets}); the stack can only rely on the image's default SECRETS=0. Close the section in renderers/docker-socket-proxy.ts.`,
    );
  }
  return env;
}

/**
 * GET <path> over bash's /dev/tcp with builtins only (no curl, wget, head or grep needed): healthy
 * when the status line says 200. HTTP/1.0, so the server closes the connection after answering.
 */
function bashHttpHealthcheck(port: number, path: string): HealthcheckProps {
  return {
    test: [
      "CMD",
      "bash",
      "-c",
      `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET ${path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && IFS= read -r status <&3 && [[ $status == *' 200 '* ]]`,
    ],
    interval: "15s",
    timeout: "5s",
    retries: 3,
    startPeriod: "30s",
  };
}

/** Repository name of an image reference: "grafana/alloy:v1.19.2@sha256:..." gives "alloy". */
function repositoryName(ref: string): string {
  const withoutDigest = ref.trim().replace(/@.*$/, "");
  const lastSlash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.indexOf(":", lastSlash + 1);
  return (colon === -1 ? withoutDigest : withoutDigest.slice(0, colon)).slice(lastSlash + 1);
}

/** Every problem at once, each naming its prop and the fix. */
function validate(path: string, props: LokiStackProps, shipper: string, memory: Record<keyof typeof MIN_MEMORY, number>): void {
  const problems: string[] = [];
  if (typeof props.environment !== "string" || !/^[a-z][a-z0-9]*$/.test(props.environment)) {
    problems.push(`environment: ${JSON.stringify(props.environment)} must be lowercase letters and digits, e.g. "dev" or "prod"`);
  }
  const shipperOk = shipper === "alloy" || shipper === "promtail";
  if (!shipperOk) problems.push(`shipper: ${JSON.stringify(shipper)} must be "alloy" (the default) or "promtail"`);
  const images = [
    ["lokiImage", props.lokiImage, "PINNED_IMAGES.loki"],
    ["shipperImage", props.shipperImage, shipper === "promtail" ? "PINNED_IMAGES.promtail" : "PINNED_IMAGES.alloy"],
    ["socketProxyImage", props.socketProxyImage, "PINNED_IMAGES.dockerSocketProxy"],
  ] as const;
  for (const [key, ref, fix] of images) {
    if (typeof ref !== "string" || ref.trim() === "") problems.push(`${key}: is empty; pass the pinned image reference (${fix})`);
  }
  if (shipperOk && typeof props.shipperImage === "string" && props.shipperImage.trim() !== "") {
    const repo = repositoryName(props.shipperImage);
    const other = shipper === "alloy" ? "promtail" : "alloy";
    if (repo === other)
      problems.push(
        `shipperImage: "${props.shipperImage}" is ${other === "alloy" ? "an" : "a"} ${other} image but shipper is "${shipper}"; pass the ${shipper} image or set shipper to "${other}"`,
      );
  }
  const days = props.retentionDays;
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    problems.push(
      `retentionDays: ${days} must be a whole number of days from 1 to 3650 (Loki's minimum retention is 24h), e.g. 3 for dev or 30 for prod`,
    );
  }
  for (const key of Object.keys(MIN_MEMORY) as (keyof typeof MIN_MEMORY)[]) {
    const mb = memory[key];
    if (!Number.isInteger(mb) || mb < MIN_MEMORY[key]) problems.push(`${key}: ${mb} must be a whole number of MiB ≥ ${MIN_MEMORY[key]}`);
  }
  if (props.cpuShares !== undefined && (!Number.isInteger(props.cpuShares) || props.cpuShares < 2)) {
    problems.push(`cpuShares: ${props.cpuShares} must be a whole number ≥ 2 (1024 is one CPU's fair share)`);
  }
  if (props.metrics === false) {
    if (props.network)
      problems.push("network: is given but metrics is false, so nothing would scrape the shipper there; drop it, or set metrics to true");
  } else if (!props.network) {
    problems.push("network: is missing; pass the environment's internal monitoring network (or set metrics to false)");
  } else if (!props.network.internal) {
    problems.push(
      `network: the "${props.network.purpose}" network is not internal; pass the environment's internal monitoring network (Loki must not be reachable from, or reach, outside the host)`,
    );
  }
  if (problems.length > 0) throw new ValidationError(`LokiStack ${path}`, problems);
}
