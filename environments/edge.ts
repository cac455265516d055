import { TerraformOutput } from "cdktf";
import { EdgeBackup, EdgeProxy } from "../constructs/edge";
import { VPN_ROUTE_PORTS, VpnGateway } from "../constructs/vpn";
import type { Apps } from "./apps";
import type { DataTier } from "./data-tier";
import type { Observability } from "./observability";
import { storeBackupSettings, type StackContext } from "./stack-context";

/**
 * The edge proxy (TLS, routes, the admin allow-list) and the optional operator VPN: a private
 * route to the admin surfaces (through the edge's allow-list) and RabbitMQ's management UI,
 * instead of opening them to the internet. Not a construct, for the same reason as DataTier.
 */
export class Edge {
  readonly proxy: EdgeProxy;
  readonly vpn?: VpnGateway;
  /** Tars of Caddy's data (ACME account, certificates), when backups.edge is on. */
  readonly backup?: EdgeBackup;

  constructor(ctx: StackContext, data: DataTier, apps: Apps, o11y: Observability) {
    const { scope, config, env } = ctx;
    const vpnCfg = config.vpn;
    const vpnRoute = vpnCfg.enabled ? ctx.routeNetwork("vpn") : undefined;
    if (vpnRoute) {
      this.vpn = new VpnGateway(scope, "vpn", {
        environment: env,
        image: vpnCfg.image,
        peers: vpnCfg.peers,
        privateKey:
          vpnCfg.keyMode === "supplied"
            ? ctx.sensitiveVariable(
                "vpn_private_key",
                "The VPN gateway's WireGuard private key (wg genkey). Set TF_VAR_vpn_private_key or the workspace variable.",
              )
            : undefined,
        subnet: vpnCfg.subnet,
        listenPort: vpnCfg.listenPort,
        bindAddress: config.edge.bindAddress,
        endpoint: vpnCfg.endpoint,
        routes: [
          { network: vpnRoute, tcpPorts: VPN_ROUTE_PORTS.edge, description: "admin panel and Grafana, through the edge" },
          { network: data.rabbitmq.network, tcpPorts: VPN_ROUTE_PORTS.rabbitmqManagement, description: "RabbitMQ management UI" },
        ],
        publishNetwork: ctx.egressNetwork("vpn"),
        protectData: config.protectData,
      });
      new TerraformOutput(scope, "vpn_access", {
        description: "VPN gateway: how to read its public key, and a client template per peer (fill in the device's private key).",
        value: { public_key_command: this.vpn.publicKeyCommand, listen_port: this.vpn.listenPort, peers: this.vpn.peerConfigs },
      });
    }

    this.proxy = new EdgeProxy(scope, "edge", {
      environment: env,
      image: config.edge.image,
      memoryMb: config.edge.memoryMb,
      cpuShares: config.edge.cpuShares,
      bindAddress: config.edge.bindAddress,
      httpPort: config.edge.httpPort,
      httpsPort: config.edge.httpsPort,
      tls: config.edge.tls,
      // The VPN masquerades: the edge sees the gateway's Docker address (see VpnGateway.allowListCidrs).
      adminAllowList: [...config.edge.adminAllowList, ...(this.vpn?.allowListCidrs ?? [])],
      hsts: env === "prod",
      routeNetworks: [...apps.edgeNetworks, ...(o11y.grafanaRoute ? [o11y.grafanaRoute] : []), ...(vpnRoute ? [vpnRoute] : [])],
      egressNetwork: ctx.egressNetwork("edge"),
      metricsNetwork: o11y.edgeMetricsNetwork,
      protectData: config.protectData,
    });
    // The Caddyfile is rendered at synth from every route added by then, in any order.
    for (const r of apps.routes) this.proxy.addRoute(r.route);
    // Grafana's route exists only with a Grafana behind the edge (not with observability.profile "off").
    if (o11y.grafanaRoute && o11y.grafana) this.proxy.addRoute(o11y.grafana.edgeRoute());
    if (o11y.backupVolumes.edge)
      this.backup = new EdgeBackup(scope, "edge-backup", {
        ...storeBackupSettings(ctx, "edge", config.backups.edge),
        volume: o11y.backupVolumes.edge,
        dataVolume: this.proxy.dataVolume,
        // The edge's own image resource: one pull, one docker_image.
        image: this.proxy.service.spec.image,
        network: ctx.network("backups"),
        dependsOn: this.proxy.service.containers,
      });
  }
}
