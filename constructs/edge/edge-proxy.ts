import { Lazy } from "cdktf";
import { Construct } from "constructs";
import {
  caddyRouteProblems,
  duplicateRouteProblem,
  renderCaddyfile,
  routeKey,
  type CaddyfileInput,
  type CaddyRoute,
} from "./renderers/caddyfile";
import { renderEdgeReloadScript } from "./renderers/edge-reload";
import { ConfigReloadJob } from "../kit/config-reload-job";
import { escapeTemplateText } from "../kit/container-runtime";
import { HardenedService } from "../kit/hardened-service";
import { LiveConfig } from "../kit/live-config";
import { SCRAPE_JOBS } from "../observability/renderers/observability-catalogue";
import type { IScrapeTarget, ScrapeTarget } from "../observability/renderers/prometheus";
import type { PlatformNetwork } from "../kit/platform-network";
import { ServiceImage } from "../kit/service-image";
import { ServiceVolume } from "../kit/service-volume";
import { throwIfProblems, ValidationError } from "../contract/errors";

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
  /**
   * Shortcut for calling addRoute once per route (validated together with the other props).
   * @default [] (add routes later with addRoute)
   */
  readonly routes?: readonly CaddyRoute[];
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
/** `caddy reload` adapts the Caddyfile in the job: it peaked at 31 MiB resident (Debian's caddy 2.6.2). */
const RELOAD_MEMORY_MB = 96;
/** sh and one Go client (a handful of threads), well under the job kit's default of 128. */
const RELOAD_PROCESSES = 32;
const CADDYFILE_DIR = "/etc/caddy";
const ADMIN_DIR = "/run/caddy-admin";
const ADMIN_SOCKET = `${ADMIN_DIR}/admin.sock`;
const RELOAD_DIR = "/etc/edge-reload";

/** What EdgeProxy.addRoute creates: the route as it will be rendered, and where it answers. */
export interface EdgeRoute {
  /** A copy of the route as given (later changes to the caller's object do not reach the Caddyfile). */
  readonly route: CaddyRoute;
  /** Position in EdgeProxy.routes, the index error messages use ("routes[3]"). */
  readonly index: number;
  /** Public origin of the route's host through this edge, e.g. "https://api.updateio.app" or "https://api.updateio.localhost:8443". */
  readonly origin: string;
}

/**
 * Caddy: the only container that publishes ports; TLS, routing, load balancing, security headers.
 *
 * Routes come from `addRoute` (or the `routes` prop, which calls it), in any order and at any time
 * before synth: the Caddyfile is rendered when the stack is synthesized, from every route added by
 * then, so the edge no longer has to be built after the services it routes to. The networks the edge
 * joins are still props: the kit attaches them when it creates the container.
 *
 * The Caddyfile lives in a LiveConfig volume and a reload job loads a changed one through Caddy's
 * admin socket, so a new route, a new replica or a new allow-list entry leaves the edge running.
 * A new network still replaces it: Docker attaches a container's networks when it creates it.
 */
export class EdgeProxy extends Construct implements IScrapeTarget {
  readonly service: HardenedService;
  /** Caddy's /data (ACME account, certificates, internal CA): EdgeBackup reads it. */
  readonly dataVolume: ServiceVolume;
  /** The Caddyfile, delivered without replacing the edge. */
  readonly caddyfileConfig: LiveConfig;
  /** Holds the admin API's unix socket: mounted by the edge and its reload job only. */
  readonly adminVolume: ServiceVolume;
  /** Loads a changed Caddyfile into the running edge (`caddy reload` through the admin socket). */
  readonly reloadJob: ConfigReloadJob;
  /** Prometheus scrape target of the edge's metrics, when a monitoring network is given. */
  readonly metricsTarget?: string;
  /** Public HTTPS port (the host port mapped to 443); origins carry it when it is not 443. */
  readonly httpsPort: number;
  private readonly input: Omit<CaddyfileInput, "routes">;
  private readonly added: CaddyRoute[] = [];

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
    this.httpsPort = props.httpsPort;
    this.input = {
      tls: props.tls,
      httpPort: 80,
      httpsPort: 443,
      healthPort: HEALTH_PORT,
      adminSocket: ADMIN_SOCKET,
      metricsPort: props.metricsNetwork ? SCRAPE_JOBS.edge.port : undefined,
      adminAllowList: props.adminAllowList,
      hsts: props.hsts,
    };
    // The file-wide settings (TLS, allow-list, ports) and the props' routes are checked now, all at
    // once, so a bad prop fails here and not at synth; later routes are checked by addRoute.
    try {
      renderCaddyfile({ ...this.input, routes: props.routes ?? [] });
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      problems.push(...e.problems);
    }
    if (problems.length > 0) throw new ValidationError(`EdgeProxy ${this.node.path}`, problems);
    for (const route of props.routes ?? []) this.addRoute(route);
    if (props.metricsNetwork) this.metricsTarget = `edge:${SCRAPE_JOBS.edge.port}`;
    // Rendered at synth: cdktf 0.21's Lazy.stringValue calls its producer whenever the stack is
    // resolved (prepareStack, the policy aspect's render, the final toTerraform; nothing is cached),
    // so the upload holds every route added before synth. The upload's `content` is a plain string
    // attribute, so a string token is all it takes; an aspect could only patch the container after
    // the fact, and node.addValidation cannot produce a value. The kit escapes "${" and "%{" in plain
    // file contents but leaves a token alone, and cdktf inserts a produced string verbatim, so the
    // producer escapes (same bytes as the kit's escaping of a plain string).
    const caddyfile = Lazy.stringValue({ produce: () => escapeTemplateText(this.caddyfile) });
    const image = new ServiceImage(this, "image", { ref: props.image });
    // Both the edge's volumes are protected in prod. The admin volume is not ephemeral although it
    // holds nothing but the socket: the running edge writes it (prod-volume-protected keeps that
    // label for volumes only seeds and jobs write).
    const edgeVolume = (purpose: "data" | "admin") =>
      new ServiceVolume(this, purpose, { environment: props.environment, service: "edge", purpose, protect: props.protectData ?? false });
    this.dataVolume = edgeVolume("data");
    this.caddyfileConfig = new LiveConfig(this, "caddyfile", {
      environment: props.environment,
      service: "edge",
      purpose: "caddyfile",
      image,
      path: CADDYFILE_DIR,
      files: [{ name: "Caddyfile", content: caddyfile }],
    });
    this.adminVolume = edgeVolume("admin");
    this.service = new HardenedService(this, "proxy", {
      environment: props.environment,
      service: "edge",
      component: "edge",
      image,
      // The official image has no unprivileged user and its /data is root-owned.
      user: "0:0",
      capabilities: { NET_BIND_SERVICE: "listens on 80 and 443 inside the container" },
      relax: {
        "non-root":
          "the caddy image ships no unprivileged user and owns /data as root; runs with every capability dropped except NET_BIND_SERVICE, read-only rootfs, no-new-privileges",
      },
      memoryMb: props.memoryMb,
      cpuShares: props.cpuShares,
      command: ["caddy", "run", "--config", `${CADDYFILE_DIR}/Caddyfile`, "--adapter", "caddyfile"],
      env: { XDG_CONFIG_HOME: "/config", XDG_DATA_HOME: "/data" },
      tmpfs: { "/config": 16 },
      volumes: [
        { volume: this.dataVolume, containerPath: "/data" },
        this.caddyfileConfig.mount,
        { volume: this.adminVolume, containerPath: ADMIN_DIR },
      ],
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
      dependsOn: [this.caddyfileConfig.seed],
    });
    this.reloadJob = new ConfigReloadJob(this, "reload", {
      environment: props.environment,
      service: "edge-reload",
      image,
      user: "0:0",
      rootReason:
        "the caddy image ships no unprivileged user and the edge (root) creates the admin socket; runs with every capability dropped, no network, read-only rootfs",
      memoryMb: RELOAD_MEMORY_MB,
      processes: RELOAD_PROCESSES,
      dir: RELOAD_DIR,
      script: {
        name: "reload.sh",
        content: renderEdgeReloadScript({
          liveFile: `${CADDYFILE_DIR}/Caddyfile`,
          expectedFile: `${RELOAD_DIR}/Caddyfile`,
          adminSocket: ADMIN_SOCKET,
          waitSeconds: 60,
        }),
      },
      files: [{ name: "Caddyfile", content: caddyfile }],
      volumes: [this.caddyfileConfig.mount, { volume: this.adminVolume, containerPath: ADMIN_DIR }],
      applies: "loads the Caddyfile into the running edge",
      dependsOn: [this.caddyfileConfig.seed, ...this.service.containers],
    });
  }

  /**
   * Routes `route.host` (and `route.path`, when set) to the route's upstreams. Checked in the call,
   * alone and against the routes added before (one route per host and path); throws naming the field
   * and the fix. Order does not matter: hosts and paths are sorted when the Caddyfile is rendered.
   */
  addRoute(route: CaddyRoute): EdgeRoute {
    const index = this.added.length;
    const at = `routes[${index}]`;
    const problems = caddyRouteProblems(route, at);
    const first = this.added.findIndex((r) => routeKey(r) === routeKey(route));
    if (first !== -1) problems.push(duplicateRouteProblem(route, at, first));
    throwIfProblems(`EdgeProxy ${this.node.path}: addRoute ${at}`, problems);
    const copy = copyRoute(route);
    this.added.push(copy);
    const origin = this.httpsPort === 443 ? `https://${copy.host}` : `https://${copy.host}:${this.httpsPort}`;
    return { route: copy, index, origin };
  }

  /** Every route added so far, in the order added. */
  get routes(): readonly CaddyRoute[] {
    return [...this.added];
  }

  /** The Caddyfile of the routes added so far: what synth uploads, once every route is in. */
  get caddyfile(): string {
    return renderCaddyfile({ ...this.input, routes: this.added });
  }

  /** Job "edge" on the metrics listener, when the edge has a metrics network (IScrapeTarget). */
  scrapeTargets(): ScrapeTarget[] {
    return this.metricsTarget ? [{ job: "edge", targets: [this.metricsTarget] }] : [];
  }
}

/** A deep copy, so the caller changing its object after addRoute cannot change (or break) the Caddyfile. */
function copyRoute(route: CaddyRoute): CaddyRoute {
  return {
    ...route,
    ...(route.upstreams ? { upstreams: [...route.upstreams] } : {}),
    ...(route.dnsUpstream ? { dnsUpstream: { ...route.dnsUpstream } } : {}),
    ...(route.frameAncestors ? { frameAncestors: [...route.frameAncestors] } : {}),
  };
}
