import { Token } from "cdktf";
import { Construct } from "constructs";
import { HardenedService } from "../kit/hardened-service";
import type { PlatformNetwork } from "../kit/platform-network";
import { SECURE_DEFAULTS } from "../kit/secure-defaults";
import { ServiceImage } from "../kit/service-image";
import { ServiceVolume } from "../kit/service-volume";
import {
  WIREGUARD_DEFAULTS,
  isWireguardKey,
  parseCidr,
  renderVpnEntrypoint,
  renderWireguardConfig,
  renderWireguardPeerConfig,
  serverAddressOf,
  wireguardConfigProblems,
  type WireguardRoute,
} from "./renderers/wireguard";
import { ValidationError } from "../contract/errors";
import { PolicySuppressions } from "../contract/index";

/*
 * VpnGateway: an optional WireGuard container that gives operators a private route to the admin
 * surfaces (admin panel and Grafana behind the edge, RabbitMQ management) instead of exposing them.
 *
 * Decisions (and why):
 *
 * - Image. WireGuard publishes no official image. Compared:
 *     linuxserver/wireguard     maintained by LinuxServer.io, rebuilt weekly on Alpine with
 *                               wireguard-tools, iproute2, iptables (nft and legacy) and bash; also
 *                               carries s6-overlay, CoreDNS and its own config generator, runs as
 *                               root and wants a writable /config. We use only its tools: our own
 *                               entrypoint replaces /init, so none of that machinery runs.
 *     procustodibus/wireguard   smaller (Alpine + wireguard-tools + iptables, rebuilt weekly), would
 *                               be the better fit, but no published digest for it could be found
 *                               and a digest is never invented; prod pins by digest.
 *     alpine + wireguard-tools  a local build is not pinned by digest (the image-digest rule fails
 *                               in prod) and adds a build step on every Docker host.
 *   So: linuxserver/wireguard by digest (VPN_GATEWAY_IMAGE). The construct needs only sh, wg,
 *   wg-quick, ip and iptables-nft, so switching to a smaller image later is a change of `image`.
 * - Keys. Terraform's random provider cannot make Curve25519 keys. Either the server's private key
 *   is supplied (`privateKey`: a sensitive Terraform variable's token), delivered as the secret file
 *   /run/secrets/wg_private_key; or, without it, the entrypoint runs `wg genkey` on first start into
 *   a small volume (mode 0600) and prints the public key to the log (`publicKeyCommand` reads it
 *   again). Either way the key never sits in wg0.conf nor in the environment: PostUp loads it with
 *   `wg set %i private-key <file>`. Pre-shared keys are secret files too.
 * - Routing. The gateway joins the networks of `routes` and forwards VPN traffic there, TCP only
 *   and only to each route's ports (e.g. 80/443 on the edge network, 15672 on the RabbitMQ
 *   network); everything else from the VPN is dropped, peers cannot reach each other, and nothing
 *   on those networks can open a connection into the VPN. Traffic is masqueraded: the routed
 *   containers have no route back to the VPN subnet (internal networks have no gateway), and Docker
 *   drops packets on an internal bridge whose source is outside the bridge's subnet.
 * - Admin allow-list. Because of the masquerade the edge sees the gateway's own address on the
 *   edge network, which Docker picks from its address pools when it creates the network; it is not
 *   known at synth time and the Caddyfile takes literal CIDRs only. `allowListCidrs` therefore
 *   defaults to Docker's default address pools: add them to the edge's adminAllowList. This admits
 *   any container of the host that can reach the edge (on the edge, egress or monitoring network) as
 *   an "admin" source; the containers on the edge network can reach the admin panel directly anyway.
 *   Narrow it to the edge network's subnet once PlatformNetwork can pin subnets.
 * - Operators' clients route only the VPN subnet and the routes' CIDRs (split tunnel, no DNS). The
 *   route CIDRs default to the networks' subnets as Docker reports them at apply time
 *   (tolist(ipam_config)[0].subnet), so the client templates are complete only after apply.
 * - Privileges. NET_ADMIN (create wg0, set its key, addresses and routes, install the forward and
 *   NAT rules) is the only capability; iptables-nft is used because iptables-legacy would need
 *   NET_RAW as well. Root, because Docker gives added capabilities to root only. The forwarding
 *   sysctl is set by Docker (net.* sysctls are per network namespace), not from inside. Rootfs
 *   read-only: wg-quick writes nothing without DNS/SaveConfig, iptables-nft takes no lock file.
 * - Published port. The UDP listen port is published on `bindAddress`, the only port besides the
 *   edge's; Docker publishes only for a container on a non-internal network, hence
 *   `publishNetwork`. The gateway joins no other network with a route out.
 */

/**
 * linuxserver/wireguard 1.0.20260223 (wireguard-tools 1.0.20260223), build ls124. Digest as pinned
 * in public Dockerfiles (`FROM lscr.io/linuxserver/wireguard:1.0.20260223-r0-ls124@sha256:216ca1…`
 * and an `ARG LSIO_WIREGUARD_TAG=1.0.20260223@sha256:216ca1…` of another project). Check a new
 * digest with `docker buildx imagetools inspect <image>:<tag>` before bumping.
 * The environments pass PINNED_IMAGES.wireguard (environments/images.ts, the same ref).
 */
export const VPN_GATEWAY_IMAGE =
  "lscr.io/linuxserver/wireguard:1.0.20260223-r0-ls124@sha256:216ca1ce9da7bfe26fb752111d952487804bd18933bbd4794970d424bf8adfe9";

/** Service name: container "<environment>-vpn", DNS alias "vpn". */
export const VPN_SERVICE = "vpn";
/** Rendered wg0.conf and entrypoint.sh, mounted read-only. */
export const VPN_CONFIG_DIR = "/etc/vpn-gateway";
/** The generated key's volume (generated mode only). */
export const VPN_KEY_DIR = "/var/lib/wireguard";
/** TCP ports operators need on the usual routes. */
export const VPN_ROUTE_PORTS = {
  /** The edge: admin panel and Grafana behind the admin allow-list (80 only redirects to 443). */
  edge: [80, 443] as readonly number[],
  /** RabbitMQ's management UI and API. */
  rabbitmqManagement: [15672] as readonly number[],
};
/** dockerd's default-address-pools: 172.17-31.x/16 and 192.168.x/20 networks. */
export const DOCKER_DEFAULT_ADDRESS_POOLS: readonly string[] = ["172.16.0.0/12", "192.168.0.0/16"];

const PRIVATE_KEY_SECRET = "wg_private_key";

export interface VpnGatewayPeer {
  /** Lowercase letters, digits and dashes, e.g. "alice-laptop" (names the secret file of its PSK). */
  readonly name: string;
  /** The device's public key (`wg pubkey < client.key`): 44 base64 characters ending in "=". */
  readonly publicKey: string;
  /** The device's one address in the VPN subnet, as a /32, e.g. "10.13.13.2/32". */
  readonly allowedIps: string;
  /**
   * Pre-shared key (`wg genpsk`): a sensitive Terraform variable's token, delivered as a secret file.
   * @default undefined (no pre-shared key)
   */
  readonly presharedKey?: string;
}

export interface VpnGatewayRoute {
  /** A network operators may reach; the gateway joins it. */
  readonly network: PlatformNetwork;
  /** TCP ports allowed there, e.g. VPN_ROUTE_PORTS.edge. */
  readonly tcpPorts: readonly number[];
  /** Shown in the rendered config, e.g. "edge: admin panel, Grafana". @default the network's purpose */
  readonly description?: string;
  /**
   * The network's IPv4 subnet, when pinned.
   * @default the subnet Docker reports at apply time (`tolist(ipam_config)[0].subnet`)
   */
  readonly cidr?: string;
}

export interface VpnGatewayProps {
  readonly environment: string;
  /** @default VPN_GATEWAY_IMAGE */
  readonly image?: string;
  /** Operators' devices. @default [] (e.g. to read the generated public key first) */
  readonly peers?: readonly VpnGatewayPeer[];
  /**
   * The server's private key (`wg genkey`): a sensitive Terraform variable's token, delivered as a
   * secret file. Without it the container generates one on first start and keeps it on a volume.
   * @default undefined (generated)
   */
  readonly privateKey?: string;
  /**
   * The server's public key, when known (supplied, or read once from a generated key): written into
   * the client templates, and the container refuses to start with a private key that does not match.
   * @default undefined (a placeholder in the templates)
   */
  readonly publicKey?: string;
  /** The VPN's IPv4 subnet; the server is its first address. @default "10.13.13.0/24" */
  readonly subnet?: string;
  /** UDP port, inside the container and on the host. @default 51820 */
  readonly listenPort?: number;
  /** Host address the UDP port is published on: "0.0.0.0" (public) or "127.0.0.1". @default "0.0.0.0" */
  readonly bindAddress?: string;
  /** Public name or address of the Docker host, for the client templates. @default a placeholder */
  readonly endpoint?: string;
  /** What operators may reach, e.g. the edge network (VPN_ROUTE_PORTS.edge) and the RabbitMQ network. */
  readonly routes: readonly VpnGatewayRoute[];
  /** A non-internal network (egress): Docker publishes ports only for containers on one. */
  readonly publishNetwork: PlatformNetwork;
  /**
   * CIDRs the edge sees VPN traffic come from, for its adminAllowList (see the notes above).
   * @default DOCKER_DEFAULT_ADDRESS_POOLS
   */
  readonly allowListCidrs?: readonly string[];
  /** @default 64 */
  readonly memoryMb?: number;
  /** @default 256 */
  readonly cpuShares?: number;
  /** Protect the generated key's volume from destroy (prod): losing it re-keys every client. @default false */
  readonly protectData?: boolean;
}

/** The WireGuard gateway for operators; see the notes at the top of this file. */
export class VpnGateway extends Construct {
  readonly service: HardenedService;
  /** "supplied" (privateKey given) or "generated" (on first start, kept on `keyVolume`). */
  readonly keyMode: "supplied" | "generated";
  /** The generated key's volume, in generated mode. */
  readonly keyVolume?: ServiceVolume;
  /** The gateway's address in the VPN, e.g. "10.13.13.1". */
  readonly serverAddress: string;
  readonly subnet: string;
  readonly listenPort: number;
  /** Add these to the edge's adminAllowList so VPN traffic passes it (masqueraded, see above). */
  readonly allowListCidrs: readonly string[];
  /** The routes' CIDRs (Terraform expressions until apply when not pinned). */
  readonly routeCidrs: readonly string[];
  /** Client config template per peer name (placeholders instead of keys: safe to print). */
  readonly peerConfigs: Readonly<Record<string, string>>;
  /** Prints the server's public key. */
  readonly publicKeyCommand: string;
  /** The rendered wg0.conf and entrypoint, as mounted under VPN_CONFIG_DIR. */
  readonly serverConfig: string;
  readonly entrypointScript: string;
  readonly containerName: string;

  constructor(scope: Construct, id: string, props: VpnGatewayProps) {
    super(scope, id);
    const env = props.environment;
    const subnet = props.subnet ?? WIREGUARD_DEFAULTS.subnet;
    const listenPort = props.listenPort ?? WIREGUARD_DEFAULTS.listenPort;
    const bindAddress = props.bindAddress ?? "0.0.0.0";
    const memoryMb = props.memoryMb ?? 64;
    const image = props.image ?? VPN_GATEWAY_IMAGE;
    const peers = props.peers ?? [];
    const allowListCidrs = props.allowListCidrs ?? DOCKER_DEFAULT_ADDRESS_POOLS;
    this.keyMode = props.privateKey === undefined ? "generated" : "supplied";
    this.containerName = `${env}-${VPN_SERVICE}`;
    this.publicKeyCommand = `docker exec ${this.containerName} wg show ${WIREGUARD_DEFAULTS.interfaceName} public-key`;

    // Every problem at once, each naming its prop and the fix.
    const problems: string[] = [];
    const secretToken = (key: string, value: string | undefined, what: string) => {
      if (value === undefined) return;
      if (value.trim() === "") problems.push(`${key}: is empty; pass ${what}`);
      else if (!Token.isUnresolved(value)) problems.push(`${key}: is a literal, which would land in the synthesized JSON; pass ${what}`);
    };
    secretToken(
      "privateKey",
      props.privateKey,
      "a sensitive Terraform variable's value (TF_VAR_..., holding `wg genkey` output), or leave it unset to generate the key in the container",
    );
    peers.forEach((p, i) =>
      secretToken(
        `peers[${i}].presharedKey`,
        p.presharedKey,
        "a sensitive Terraform variable's value (holding `wg genpsk` output), or leave it unset",
      ),
    );
    if (props.publicKey !== undefined && !isWireguardKey(props.publicKey)) {
      problems.push(
        `publicKey: ${JSON.stringify(props.publicKey)} is not a WireGuard public key (44 base64 characters ending in "="); use the output of \`${this.publicKeyCommand}\` or \`wg pubkey < server.key\``,
      );
    }
    if (image.trim() === "") problems.push("image: is empty; leave it unset for VPN_GATEWAY_IMAGE or pass a pinned reference");
    if (!["0.0.0.0", "127.0.0.1"].includes(bindAddress))
      problems.push(`bindAddress: "${bindAddress}" must be "0.0.0.0" (reachable by operators) or "127.0.0.1" (this host only)`);
    if (!Number.isInteger(memoryMb) || memoryMb < 32) problems.push(`memoryMb: ${memoryMb} must be a whole number ≥ 32`);
    if (props.publishNetwork.internal) {
      problems.push(
        `publishNetwork: the "${props.publishNetwork.purpose}" network is internal, and Docker publishes no ports for a container on internal networks only; pass the egress network`,
      );
    }
    if (props.routes.length === 0)
      problems.push("routes: is empty; list what operators may reach, e.g. { network: edgeNetwork, tcpPorts: VPN_ROUTE_PORTS.edge }");
    const networks = new Set<PlatformNetwork>();
    props.routes.forEach((r, i) => {
      if (r.network === props.publishNetwork)
        problems.push(`routes[${i}].network: is the publish network (the way out); route only internal networks`);
      if (networks.has(r.network))
        problems.push(`routes[${i}].network: the "${r.network.purpose}" network is routed twice; merge the two routes' ports`);
      networks.add(r.network);
    });
    allowListCidrs.forEach((cidr, i) => {
      const c = parseCidr(cidr);
      if (!c || c.hostBitsSet)
        problems.push(`allowListCidrs[${i}]: ${JSON.stringify(cidr)} is not an IPv4 CIDR with a network address, e.g. "172.16.0.0/12"`);
    });

    const privateKeyFile =
      this.keyMode === "supplied" ? `${SECURE_DEFAULTS.secretsDir}/${PRIVATE_KEY_SECRET}` : `${VPN_KEY_DIR}/private.key`;
    const pskSecret = (name: string) => `wg_psk_${name.replace(/-/g, "_")}`;
    const routes: WireguardRoute[] = props.routes.map((r) => ({
      cidr: r.cidr ?? r.network.resource.ipamConfig.get(0).subnet,
      tcpPorts: r.tcpPorts,
      description: r.description ?? `${r.network.purpose} network`,
    }));
    const serverInput = {
      subnet,
      listenPort,
      privateKeyFile,
      routes,
      peers: peers.map((p) => ({
        name: p.name,
        publicKey: p.publicKey,
        allowedIps: p.allowedIps,
        presharedKeyFile: p.presharedKey !== undefined ? `${SECURE_DEFAULTS.secretsDir}/${pskSecret(p.name)}` : undefined,
      })),
    };
    // The renderer's keys (subnet, listenPort, routes[i], peers[i]) are this construct's prop names.
    problems.push(...wireguardConfigProblems(serverInput));
    if (props.endpoint !== undefined && !/^[A-Za-z0-9.-]+$/.test(props.endpoint)) {
      problems.push(
        `endpoint: ${JSON.stringify(props.endpoint)} must be a host name or IPv4 address without port or scheme, e.g. "vpn.updateio.app"`,
      );
    }
    if (problems.length > 0) {
      throw new ValidationError(`VpnGateway ${this.node.path}`, problems);
    }

    this.subnet = subnet;
    this.listenPort = listenPort;
    this.serverAddress = serverAddressOf(subnet);
    this.allowListCidrs = [...allowListCidrs];
    this.routeCidrs = routes.map((r) => r.cidr);
    this.serverConfig = renderWireguardConfig(serverInput);
    this.entrypointScript = renderVpnEntrypoint({
      configPath: `${VPN_CONFIG_DIR}/${WIREGUARD_DEFAULTS.interfaceName}.conf`,
      keyMode: this.keyMode,
      privateKeyFile,
      expectedPublicKey: props.publicKey,
      containerName: this.containerName,
    });
    const configs: Record<string, string> = {};
    for (const p of [...peers].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      configs[p.name] = renderWireguardPeerConfig({
        label: env,
        subnet,
        listenPort,
        peer: { name: p.name, allowedIps: p.allowedIps, publicKey: p.publicKey, presharedKey: p.presharedKey !== undefined },
        serverPublicKey: props.publicKey,
        publicKeyCommand: this.publicKeyCommand,
        endpoint: props.endpoint,
        routes,
      });
    }
    this.peerConfigs = configs;

    if (this.keyMode === "generated") {
      this.keyVolume = new ServiceVolume(this, "keys", {
        environment: env,
        service: VPN_SERVICE,
        purpose: "keys",
        protect: props.protectData ?? false,
      });
    }
    const secrets = [
      ...(props.privateKey !== undefined ? [{ name: PRIVATE_KEY_SECRET, value: props.privateKey }] : []),
      ...peers.filter((p) => p.presharedKey !== undefined).map((p) => ({ name: pskSecret(p.name), value: p.presharedKey! })),
    ];
    const entrypoint = `${VPN_CONFIG_DIR}/entrypoint.sh`;
    this.service = new HardenedService(this, "gateway", {
      environment: env,
      service: VPN_SERVICE,
      component: "proxy",
      role: "vpn-gateway",
      image: new ServiceImage(this, "image", { ref: image }),
      user: "0:0",
      relax: {
        "non-root":
          "creating wg0 and installing its forward/NAT rules need NET_ADMIN in effect, which Docker grants to root only (no ambient capabilities); every other capability is dropped, rootfs read-only, no-new-privileges",
      },
      capabilities: {
        NET_ADMIN:
          "creates wg0, sets its key, addresses and routes, and installs the forward and NAT rules, all in the container's own network namespace",
      },
      memoryMb,
      cpuShares: props.cpuShares ?? 256,
      // Our entrypoint replaces the image's /init (s6-overlay and its config generator never run).
      entrypoint: ["sh", entrypoint],
      command: ["run"],
      secrets,
      configDirs: [
        {
          path: VPN_CONFIG_DIR,
          files: [
            { name: "entrypoint.sh", content: this.entrypointScript },
            { name: `${WIREGUARD_DEFAULTS.interfaceName}.conf`, content: this.serverConfig },
          ],
        },
      ],
      // The image's own config home: a tiny tmpfs keeps Docker from creating an anonymous volume
      // there should the image declare one.
      tmpfs: { "/config": 1 },
      volumes: this.keyVolume ? [{ volume: this.keyVolume, containerPath: VPN_KEY_DIR }] : [],
      networks: [{ network: props.publishNetwork }, ...props.routes.map((r) => ({ network: r.network }))],
      ports: [{ internal: listenPort, external: listenPort, ip: bindAddress, protocol: "udp" }],
      // Per network namespace, so Docker may set it for this container alone; wg-quick needs no other.
      sysctls: { "net.ipv4.ip_forward": "1" },
      healthcheck: { test: ["CMD", "sh", entrypoint, "health"], interval: "30s", timeout: "5s", retries: 3, startPeriod: "10s" },
    });
    PolicySuppressions.addResourceSuppressions(this.service, [
      {
        id: "capabilities-dropped",
        reason:
          "NET_ADMIN only, for wg0 and its forward/NAT rules inside the gateway's own network namespace (nothing on the host); every other capability dropped, no-new-privileges, read-only rootfs",
        // Only the gateway's image: nothing else made under the service (a seed, a job) inherits it.
        image,
      },
      {
        id: "published-ports",
        reason:
          "the WireGuard UDP port is the VPN's only way in and replaces publishing the admin surfaces; WireGuard answers no packet that lacks a configured peer's key, so the port shows nothing to scanners",
        image,
      },
    ]);
  }
}
