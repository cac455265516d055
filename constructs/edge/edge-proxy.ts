import { Construct } from "constructs";
import { renderCaddyfile, type CaddyfileInput, type CaddyRoute } from "./renderers/caddyfile";
import { HardenedService } from "../kit/hardened-service";
import { SCRAPE_JOBS } from "../observability/renderers/observability-catalogue";
import type { PlatformNetwork } from "../kit/platform-network";
import { ServiceImage } from "../kit/service-image";
import { ServiceVolume } from "../kit/service-volume";

export interface EdgeProxyProps {
  readonly environment: string;
  /** Official caddy image reference (pinned). */
  readonly image: string;
  readonly memoryMb: number;
  /** @default 512 */
  readonly cpuShares?: number;
  /** Host address for the published ports: 127.0.0.1 (dev, test) or 0.0.0.0 (prod). */
  readonly bindAddress: string;
  /** Host ports mapped to the container's 80 and 443. */
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly tls: CaddyfileInput["tls"];
  readonly adminAllowList: readonly string[];
  /** Strict-Transport-Security (prod). */
  readonly hsts: boolean;
  readonly routes: readonly CaddyRoute[];
  /**
   * One internal network per routed service (and per operator path such as the VPN), each shared
   * by the edge and that service only: a routed service reaches neither its neighbours nor the
   * admin surfaces except through the edge and its allow-list.
   */
  readonly routeNetworks: readonly PlatformNetwork[];
  /** Network with a route out (ACME) and the published ports. */
  readonly egressNetwork: PlatformNetwork;
  /**
   * Internal network shared with Prometheus only, which scrapes the edge's metrics there (port
   * 9180, never published). The internet-facing edge never joins the monitoring network, where Loki
   * and the exporters answer anyone.
   * @default undefined (no metrics listener)
   */
  readonly metricsNetwork?: PlatformNetwork;
  /** Keep certificates and the ACME account across destroys (prod). @default false */
  readonly protectData?: boolean;
}

const HEALTH_PORT = 8099;

/** Caddy: the only container that publishes ports; TLS, routing, load balancing, security headers. */
export class EdgeProxy extends Construct {
  readonly service: HardenedService;
  readonly caddyfile: string;
  /** Prometheus scrape target of the edge's metrics, when a monitoring network is given. */
  readonly metricsTarget?: string;

  constructor(scope: Construct, id: string, props: EdgeProxyProps) {
    super(scope, id);
    const problems: string[] = [];
    if (props.routeNetworks.length === 0) problems.push("routeNetworks: is empty; pass one internal network per routed service");
    for (const n of props.routeNetworks)
      if (!n.internal) problems.push(`routeNetworks: "${n.purpose}" is not internal; routed traffic must not have a route out`);
    if (new Set(props.routeNetworks).size !== props.routeNetworks.length) problems.push("routeNetworks: lists a network twice");
    if (props.metricsNetwork && !props.metricsNetwork.internal)
      problems.push(`metricsNetwork: "${props.metricsNetwork.purpose}" is not internal`);
    if (props.metricsNetwork && props.routeNetworks.includes(props.metricsNetwork))
      problems.push("metricsNetwork: is also a route network; give Prometheus its own network with the edge");
    if (problems.length > 0) throw new Error(`EdgeProxy ${this.node.path} is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.caddyfile = renderCaddyfile({
      tls: props.tls,
      httpPort: 80,
      httpsPort: 443,
      healthPort: HEALTH_PORT,
      metricsPort: props.metricsNetwork ? SCRAPE_JOBS.edge.port : undefined,
      adminAllowList: props.adminAllowList,
      hsts: props.hsts,
      routes: props.routes,
    });
    if (props.metricsNetwork) this.metricsTarget = `edge:${SCRAPE_JOBS.edge.port}`;
    const data = new ServiceVolume(this, "data", {
      environment: props.environment,
      service: "edge",
      purpose: "data",
      protect: props.protectData ?? false,
    });
    this.service = new HardenedService(this, "proxy", {
      environment: props.environment,
      service: "edge",
      component: "edge",
      image: new ServiceImage(this, "image", { ref: props.image }),
      // The official image has no unprivileged user and its /data is root-owned.
      user: "0:0",
      capabilities: { NET_BIND_SERVICE: "listens on 80 and 443 inside the container" },
      relax: {
        "non-root":
          "the caddy image ships no unprivileged user and owns /data as root; runs with every capability dropped except NET_BIND_SERVICE, read-only rootfs, no-new-privileges",
      },
      memoryMb: props.memoryMb,
      cpuShares: props.cpuShares,
      command: ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
      env: { XDG_CONFIG_HOME: "/config", XDG_DATA_HOME: "/data" },
      configDirs: [{ path: "/etc/caddy", files: [{ name: "Caddyfile", content: this.caddyfile }] }],
      tmpfs: { "/config": 16 },
      volumes: [{ volume: data, containerPath: "/data" }],
      networks: [
        { network: props.egressNetwork },
        ...props.routeNetworks.map((network) => ({ network })),
        ...(props.metricsNetwork ? [{ network: props.metricsNetwork }] : []),
      ],
      ports: [
        { internal: 80, external: props.httpPort, ip: props.bindAddress },
        { internal: 443, external: props.httpsPort, ip: props.bindAddress },
      ],
      healthcheck: {
        test: ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${HEALTH_PORT}/healthz`],
        interval: "15s",
        timeout: "3s",
        retries: 3,
        startPeriod: "10s",
      },
    });
  }
}
