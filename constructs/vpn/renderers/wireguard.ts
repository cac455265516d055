/**
 * Pure renderers for the VPN gateway (see constructs/vpn/vpn-gateway.ts):
 *
 *   renderWireguardConfig(input)        → wg0.conf for the server, in wg-quick format
 *   renderWireguardPeerConfig(input)    → a client config template per peer, for operators
 *   renderVpnEntrypoint(input)          → the container's entrypoint (sh): key, wg-quick up, health
 *
 * No secret ever sits in this text: the server's private key and the pre-shared keys are files
 * (secret files, or the generated key on its volume) that PostUp loads with `wg set`, and the
 * client templates carry placeholders where the client's own keys go.
 *
 * The text is uploaded through Terraform, which reads `${` and `%{` inside any string as template
 * syntax. So nothing here writes either sequence, except a route CIDR that IS a Terraform expression
 * (a Docker network's subnet, known only at apply time), which Terraform then fills in. The
 * entrypoint (../assets/entrypoint.sh) therefore uses `$VAR`, never `${VAR}`.
 */
import { join } from "node:path";
import { fillAsset, readAsset } from "../../kit/assets";
import { ValidationError } from "../../contract/errors";

/** The entrypoint itself (a file, so shellcheck runs on it); renderVpnEntrypoint validates every value it fills in. */
const ENTRYPOINT_SH = readAsset(join(__dirname, "..", "assets"), "entrypoint.sh");
if (/\$\{|%\{/.test(ENTRYPOINT_SH))
  throw new Error("vpn/assets/entrypoint.sh must not contain ${ or %{ (Terraform template syntax): write $VAR");

/** Defaults shared by the renderer and the construct. */
export const WIREGUARD_DEFAULTS = {
  subnet: "10.13.13.0/24",
  listenPort: 51820,
  interfaceName: "wg0",
  /**
   * iptables-nft talks netlink and needs only NET_ADMIN; iptables-legacy opens a raw socket and
   * would need NET_RAW too (checked: `capsh --drop=cap_net_raw -- -c "iptables-legacy -t nat -L"`
   * fails with "Permission denied (you must be root)", iptables-nft works).
   */
  iptables: "iptables-nft",
  /** Our own filter chain, so PostDown removes exactly what PostUp added. */
  chain: "UPDATEIO-VPN",
} as const;

/** Placeholders in the client templates: the operator replaces them before importing the file. */
export const PEER_PLACEHOLDERS = {
  privateKey: "<CLIENT_PRIVATE_KEY>",
  serverPublicKey: "<SERVER_PUBLIC_KEY>",
  presharedKey: "<PRESHARED_KEY>",
  endpoint: "<SERVER_PUBLIC_ADDRESS>",
} as const;

export interface WireguardRoute {
  /**
   * Destination network: an IPv4 CIDR, or a Terraform expression resolved at apply time (e.g. a
   * docker_network's subnet, which Docker assigns when it creates the network).
   */
  readonly cidr: string;
  /** TCP ports VPN clients may open there; everything else coming from the VPN is dropped. */
  readonly tcpPorts: readonly number[];
  /** Shown in a comment, e.g. "edge: admin panel, Grafana". */
  readonly description?: string;
}

export interface WireguardPeer {
  /** Lowercase letters, digits and dashes, e.g. "alice-laptop". */
  readonly name: string;
  /** The peer's public key (`wg pubkey`): 44 base64 characters ending in "=". */
  readonly publicKey: string;
  /** The peer's one address in the VPN subnet, as a /32, e.g. "10.13.13.2/32". */
  readonly allowedIps: string;
  /** File holding the peer's pre-shared key, loaded by PostUp; none = no pre-shared key. */
  readonly presharedKeyFile?: string;
}

export interface WireguardServerInput {
  /** The VPN's IPv4 subnet; the server takes its first address. */
  readonly subnet: string;
  readonly listenPort: number;
  /** File holding the server's private key (a secret file, or the generated key on its volume). */
  readonly privateKeyFile: string;
  /** Networks the VPN clients may reach (masqueraded), each limited to some TCP ports. */
  readonly routes: readonly WireguardRoute[];
  readonly peers: readonly WireguardPeer[];
  /** @default "iptables-nft" (see WIREGUARD_DEFAULTS.iptables) */
  readonly iptables?: string;
}

export interface WireguardPeerTemplateInput {
  /** Shown in the header comment, e.g. "prod". */
  readonly label: string;
  readonly subnet: string;
  readonly listenPort: number;
  readonly peer: { readonly name: string; readonly allowedIps: string; readonly publicKey: string; readonly presharedKey: boolean };
  /** The server's public key when known; otherwise a placeholder plus how to read it. */
  readonly serverPublicKey?: string;
  /** How operators read the server's public key, e.g. "docker exec prod-vpn wg show wg0 public-key". */
  readonly publicKeyCommand: string;
  /** Host name or address clients dial; otherwise a placeholder. */
  readonly endpoint?: string;
  readonly routes: readonly Pick<WireguardRoute, "cidr" | "description">[];
}

export interface VpnEntrypointInput {
  /** Path of the rendered wg0.conf inside the container; its base name is the interface name. */
  readonly configPath: string;
  /** "supplied": the key file must exist; "generated": created with `wg genkey` on first start. */
  readonly keyMode: "supplied" | "generated";
  readonly privateKeyFile: string;
  /** When set, start fails unless the private key matches it (catches a wrong supplied key). */
  readonly expectedPublicKey?: string;
  /** Docker container name, for the operator hints in the log. */
  readonly containerName: string;
  /** @default "iptables-nft" */
  readonly iptables?: string;
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

/** A WireGuard key: 32 bytes in base64, so 43 characters (the last one carrying 4 bits) and "=". */
export const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
/** A peer's name (it names the secret file of its pre-shared key); the environment schema uses it too. */
export const PEER_NAME = /^[a-z][a-z0-9-]{0,30}$/;
const FILE_PATH = /^\/[A-Za-z0-9._/-]+$/;
const CONFIG_PATH = /^\/[A-Za-z0-9._/-]*\/[a-zA-Z0-9_=+.-]{1,15}\.conf$/;

export function isWireguardKey(value: string): boolean {
  return WG_KEY.test(value);
}

/** A Terraform expression or an unresolved cdktf token: filled in at apply time, not checkable now. */
export function isDeferred(value: string): boolean {
  return value.includes("${");
}

interface Cidr {
  readonly base: number;
  readonly prefix: number;
}

function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o, i) => o > 255 || (m[i + 1]!.length > 1 && m[i + 1]!.startsWith("0")))) return undefined;
  return ((octets[0]! << 24) >>> 0) + (octets[1]! << 16) + (octets[2]! << 8) + octets[3]!;
}

function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join(".");
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses "a.b.c.d/p"; undefined when it is not an IPv4 CIDR. */
export function parseCidr(text: string): (Cidr & { hostBitsSet: boolean }) | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const ip = parseIpv4(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  const base = (ip & mask(prefix)) >>> 0;
  return { base, prefix, hostBitsSet: base !== ip };
}

function contains(outer: Cidr, ip: number): boolean {
  return (ip & mask(outer.prefix)) >>> 0 === outer.base;
}

function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.base & mask(p)) >>> 0 === (b.base & mask(p)) >>> 0;
}

/** Whether two IPv4 CIDRs share an address; undefined when either is not one. */
export function cidrsOverlap(a: string, b: string): boolean | undefined {
  const [x, y] = [parseCidr(a), parseCidr(b)];
  return x && y ? overlaps(x, y) : undefined;
}

/** The server's address: the subnet's first host, e.g. "10.13.13.1" for 10.13.13.0/24. */
export function serverAddressOf(subnet: string): string {
  const c = parseCidr(subnet);
  if (!c) throw new ValidationError("serverAddressOf input", [`${JSON.stringify(subnet)} is not an IPv4 CIDR`]);
  return formatIpv4(c.base + 1);
}

function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** The subnet parsed, with what is wrong with it (each text follows `subnet "<value>"`). */
function subnetOf(subnet: string): { vpn: Cidr | undefined; problems: string[] } {
  const c = parseCidr(subnet);
  if (!c) return { vpn: undefined, problems: ['is not an IPv4 CIDR: write it like "10.13.13.0/24".'] };
  const problems: string[] = [];
  if (c.hostBitsSet) problems.push(`has host bits set: write the network address, "${formatIpv4(c.base)}/${c.prefix}".`);
  if (c.prefix < 16 || c.prefix > 29)
    problems.push('must be a /16 to /29 (room for the server and its peers, not a whole private range): e.g. "10.13.13.0/24".');
  return { vpn: c, problems };
}

function checkSubnet(subnet: string, problems: string[]): Cidr | undefined {
  const { vpn, problems: own } = subnetOf(subnet);
  problems.push(...own.map((p) => `subnet ${JSON.stringify(subnet)} ${p}`));
  return vpn;
}

/** What is wrong with a file path (the text follows the key), or undefined. */
function fileProblem(path: string): string | undefined {
  if (!FILE_PATH.test(path) || path.includes("//"))
    return ` ${JSON.stringify(path)} must be an absolute path of letters, digits, ".", "_", "-" and "/": e.g. "/run/secrets/wg_private_key".`;
  return undefined;
}

function checkFile(key: string, path: string, problems: string[]): void {
  const problem = fileProblem(path);
  if (problem !== undefined) problems.push(`${key}${problem}`);
}

function checkIptables(command: string, problems: string[]): void {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(command))
    problems.push(`iptables ${JSON.stringify(command)} must be a command name such as "iptables-nft".`);
}

function checkRoutes(
  routes: readonly Pick<WireguardRoute, "cidr" | "description" | "tcpPorts">[],
  vpn: Cidr | undefined,
  problems: string[],
  withPorts = true,
): void {
  const literal: { cidr: Cidr; at: string }[] = [];
  const seen = new Set<string>();
  routes.forEach((route, i) => {
    const at = `routes[${i}]`;
    if (isDeferred(route.cidr)) {
      if (/\s/.test(route.cidr))
        problems.push(`${at}.cidr ${JSON.stringify(route.cidr)} must be one Terraform expression without spaces or line breaks.`);
    } else {
      const c = parseCidr(route.cidr);
      if (!c)
        problems.push(
          `${at}.cidr ${JSON.stringify(route.cidr)} is not an IPv4 CIDR: write it like "172.18.0.0/16", or leave it to the network's subnet.`,
        );
      else {
        if (c.hostBitsSet)
          problems.push(`${at}.cidr ${JSON.stringify(route.cidr)} has host bits set: write "${formatIpv4(c.base)}/${c.prefix}".`);
        if (c.prefix < 8)
          problems.push(`${at}.cidr ${JSON.stringify(route.cidr)} is wider than a /8: route the networks operators need, not everything.`);
        if (vpn && overlaps(c, vpn))
          problems.push(
            `${at}.cidr ${JSON.stringify(route.cidr)} overlaps the VPN subnet ${formatIpv4(vpn.base)}/${vpn.prefix}: move the VPN subnet (e.g. "10.13.13.0/24") or fix the route.`,
          );
        for (const other of literal) {
          if (overlaps(c, other.cidr))
            problems.push(`${at}.cidr ${JSON.stringify(route.cidr)} overlaps ${other.at}.cidr: list each network once.`);
        }
        literal.push({ cidr: c, at });
      }
    }
    if (seen.has(route.cidr)) problems.push(`${at}.cidr ${JSON.stringify(route.cidr)} is listed twice: merge the two routes' ports.`);
    seen.add(route.cidr);
    if (withPorts && route.tcpPorts.length === 0)
      problems.push(
        `${at}.tcpPorts is empty: list the TCP ports operators need there (e.g. [443] for the edge, [15672] for RabbitMQ management).`,
      );
    const ports = new Set<number>();
    for (const port of route.tcpPorts) {
      if (!isPort(port)) problems.push(`${at}.tcpPorts ${port} is not a TCP port: use a whole number from 1 to 65535.`);
      if (ports.has(port)) problems.push(`${at}.tcpPorts ${port} is listed twice: list it once.`);
      ports.add(port);
    }
    if (route.description !== undefined && /[\n#]|\$\{|%\{/.test(route.description)) {
      problems.push(`${at}.description must be one line without "#", "\${" or "%{".`);
    }
  });
}

/** What is wrong with one peer's field: `text` follows `peers[i].<field>` (it starts with a space or "is also"). */
export interface PeerProblem {
  readonly peer: number;
  readonly field: "name" | "publicKey" | "allowedIps" | "presharedKeyFile";
  readonly text: string;
}

/** The peers checked on their own and against each other and the subnet (`vpn`, when it parses). */
function peerProblems(vpn: Cidr | undefined, peers: readonly WireguardPeer[]): PeerProblem[] {
  const out: PeerProblem[] = [];
  const names = new Map<string, number>();
  const keys = new Map<string, number>();
  const addresses = new Map<number, number>();
  const server = vpn ? vpn.base + 1 : undefined;
  peers.forEach((peer, i) => {
    const add = (field: PeerProblem["field"], text: string) => out.push({ peer: i, field, text });
    if (!PEER_NAME.test(peer.name))
      add(
        "name",
        ` ${JSON.stringify(peer.name)} must be lowercase letters, digits and dashes, starting with a letter (at most 31): e.g. "alice-laptop".`,
      );
    else if (names.has(peer.name)) add("name", ` is also peers[${names.get(peer.name)}]'s name: give each peer its own name.`);
    else names.set(peer.name, i);

    if (!isWireguardKey(peer.publicKey))
      add(
        "publicKey",
        ` ${JSON.stringify(peer.publicKey)} is not a WireGuard public key (44 base64 characters ending in "="): use the output of \`wg pubkey < client.key\`.`,
      );
    else if (keys.has(peer.publicKey))
      add(
        "publicKey",
        ` is also peers[${keys.get(peer.publicKey)}]'s key: every device needs its own key pair (wg genkey | tee client.key | wg pubkey).`,
      );
    else keys.set(peer.publicKey, i);

    const m = /^(.+)\/32$/.exec(peer.allowedIps);
    const ip = m ? parseIpv4(m[1]!) : undefined;
    const value = JSON.stringify(peer.allowedIps);
    if (ip === undefined) {
      add("allowedIps", ` ${value} must be one address as a /32, e.g. "${vpn ? formatIpv4(vpn.base + 2) : "10.13.13.2"}/32".`);
    } else if (vpn) {
      const last = (vpn.base | (~mask(vpn.prefix) >>> 0)) >>> 0;
      if (!contains(vpn, ip))
        add(
          "allowedIps",
          ` ${value} is outside the VPN subnet ${formatIpv4(vpn.base)}/${vpn.prefix}: give the peer a free address inside it.`,
        );
      else if (ip === vpn.base || ip === last)
        add(
          "allowedIps",
          ` ${value} is the subnet's ${ip === vpn.base ? "network" : "broadcast"} address: pick a host address, e.g. "${formatIpv4(vpn.base + 2)}/32".`,
        );
      else if (ip === server) add("allowedIps", ` ${value} is the server's own address: peers start at "${formatIpv4(vpn.base + 2)}/32".`);
      else if (addresses.has(ip)) add("allowedIps", ` ${value} is also peers[${addresses.get(ip)}]'s address: give each peer its own.`);
      else addresses.set(ip, i);
    }
    const file = peer.presharedKeyFile === undefined ? undefined : fileProblem(peer.presharedKeyFile);
    if (file !== undefined) add("presharedKeyFile", file);
  });
  return out;
}

/**
 * The VPN settings an environment's configuration gives (its subnet and peers), checked as the
 * gateway checks them, so the config check can name the key: each subnet text follows
 * `subnet "<value>"`, each peer problem names its peer and field.
 */
export function vpnSettingsProblems(
  subnet: string,
  peers: readonly WireguardPeer[],
): { subnet: readonly string[]; peers: readonly PeerProblem[] } {
  const { vpn, problems } = subnetOf(subnet);
  return { subnet: problems, peers: peerProblems(vpn, peers) };
}

/** Every problem of a server input at once, each naming its key and the fix. Empty = valid. */
export function wireguardConfigProblems(input: WireguardServerInput): string[] {
  const problems: string[] = [];
  const vpn = checkSubnet(input.subnet, problems);
  if (!isPort(input.listenPort))
    problems.push(
      `listenPort ${input.listenPort} is not a UDP port: use a whole number from 1 to 65535 (WireGuard's usual port is 51820).`,
    );
  checkFile("privateKeyFile", input.privateKeyFile, problems);
  checkIptables(input.iptables ?? WIREGUARD_DEFAULTS.iptables, problems);
  checkRoutes(input.routes, vpn, problems);

  for (const p of peerProblems(vpn, input.peers)) {
    const peer = input.peers[p.peer]!;
    const at = `peers[${p.peer}]${PEER_NAME.test(peer.name) ? ` ("${peer.name}")` : ""}`;
    problems.push(`${at}.${p.field}${p.text}`);
  }
  return problems;
}

function fail(what: string, problems: readonly string[]): never {
  throw new ValidationError(what, problems);
}

// ---------------------------------------------------------------------------------------------
// Server config
// ---------------------------------------------------------------------------------------------

function byName<T extends { name: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * wg0.conf in wg-quick format. The private key is not in it: the last PostUp loads it from
 * `privateKeyFile`, after the filter rules and the pre-shared keys. Traffic from the VPN may only reach the
 * routes' CIDRs on their TCP ports (masqueraded, so the other side answers the gateway); peers
 * cannot reach each other, and nothing on the routed networks can open a connection into the VPN.
 * [Peer] blocks are sorted by name, so the text does not depend on the order of the input.
 */
export function renderWireguardConfig(input: WireguardServerInput): string {
  const problems = wireguardConfigProblems(input);
  if (problems.length > 0) fail("WireGuard server config", problems);
  const ipt = input.iptables ?? WIREGUARD_DEFAULTS.iptables;
  const chain = WIREGUARD_DEFAULTS.chain;
  const vpn = parseCidr(input.subnet)!;
  const peers = byName(input.peers);

  // The filter first, the keys last: without its private key the interface answers no handshake,
  // so no peer gets a packet through before the filter is in place, and the healthcheck (the live
  // key is the server's) passes only once everything is up.
  const up: string[] = [`${ipt} -N ${chain}`];
  for (const r of input.routes) for (const port of r.tcpPorts) up.push(`${ipt} -A ${chain} -d ${r.cidr} -p tcp --dport ${port} -j ACCEPT`);
  up.push(`${ipt} -A ${chain} -j DROP`);
  up.push(`${ipt} -A FORWARD -i %i -j ${chain}`);
  up.push(`${ipt} -A FORWARD -o %i -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`);
  up.push(`${ipt} -A FORWARD -o %i -j DROP`);
  for (const r of input.routes) up.push(`${ipt} -t nat -A POSTROUTING -s ${input.subnet} -d ${r.cidr} -j MASQUERADE`);
  for (const p of peers) if (p.presharedKeyFile) up.push(`wg set %i peer ${p.publicKey} preshared-key ${p.presharedKeyFile}`);
  up.push(`wg set %i private-key ${input.privateKeyFile}`);

  const down: string[] = [];
  for (const r of [...input.routes].reverse()) down.push(`${ipt} -t nat -D POSTROUTING -s ${input.subnet} -d ${r.cidr} -j MASQUERADE`);
  down.push(`${ipt} -D FORWARD -o %i -j DROP`);
  down.push(`${ipt} -D FORWARD -o %i -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`);
  down.push(`${ipt} -D FORWARD -i %i -j ${chain}`);
  down.push(`${ipt} -F ${chain}`);
  down.push(`${ipt} -X ${chain}`);

  const out = [
    "# UpdateIO VPN gateway: rendered by constructs/vpn/renderers/wireguard.ts, do not edit.",
    `# The private key is not in this file: the last PostUp loads it from ${input.privateKeyFile}.`,
    "# Reachable through the VPN (TCP only, masqueraded):",
    ...(input.routes.length === 0
      ? ["#   nothing (no routes)"]
      : input.routes.map((r) => `#   ${r.cidr} ports ${r.tcpPorts.join(", ")}${r.description ? ` (${r.description})` : ""}`)),
    "[Interface]",
    `Address = ${serverAddressOf(input.subnet)}/${vpn.prefix}`,
    `ListenPort = ${input.listenPort}`,
    ...up.map((c) => `PostUp = ${c}`),
    ...down.map((c) => `PostDown = ${c}`),
  ];
  for (const p of peers) {
    out.push("", "[Peer]", `# ${p.name}`, `PublicKey = ${p.publicKey}`, `AllowedIPs = ${p.allowedIps}`);
  }
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// Client templates
// ---------------------------------------------------------------------------------------------

/**
 * A client config for one peer, with placeholders for what only the operator has (the client's
 * private key, the pre-shared key) and, until known, the server's public key and address. Split
 * tunnel: only the VPN subnet and the routed networks go through the tunnel, and no DNS is set.
 */
export function renderWireguardPeerConfig(input: WireguardPeerTemplateInput): string {
  const problems: string[] = [];
  checkSubnet(input.subnet, problems);
  if (!isPort(input.listenPort)) problems.push(`listenPort ${input.listenPort} is not a UDP port: use a whole number from 1 to 65535.`);
  if (input.serverPublicKey !== undefined && !isWireguardKey(input.serverPublicKey)) {
    problems.push(
      `serverPublicKey ${JSON.stringify(input.serverPublicKey)} is not a WireGuard public key: use the output of \`${input.publicKeyCommand}\`.`,
    );
  }
  if (input.endpoint !== undefined && !/^[A-Za-z0-9.-]+$|^\[[0-9a-fA-F:]+\]$/.test(input.endpoint)) {
    problems.push(
      `endpoint ${JSON.stringify(input.endpoint)} must be a host name or address without port or scheme, e.g. "vpn.updateio.app".`,
    );
  }
  if (!/^[a-z0-9][a-z0-9 ._-]*$/.test(input.label))
    problems.push(`label ${JSON.stringify(input.label)} must be lowercase letters, digits, spaces, ".", "_" or "-".`);
  checkRoutes(
    input.routes.map((r) => ({ ...r, tcpPorts: [] })),
    parseCidr(input.subnet),
    problems,
    false,
  );
  if (!PEER_NAME.test(input.peer.name))
    problems.push(`peer.name ${JSON.stringify(input.peer.name)} must be lowercase letters, digits and dashes.`);
  if (!/^[0-9.]+\/32$/.test(input.peer.allowedIps))
    problems.push(`peer.allowedIps ${JSON.stringify(input.peer.allowedIps)} must be one address as a /32.`);
  if (/[\n#]|\$\{|%\{/.test(input.publicKeyCommand)) problems.push('publicKeyCommand must be one line without "#", "${" or "%{".');
  if (problems.length > 0) fail(`WireGuard client template for "${input.peer.name}"`, problems);

  const server = input.serverPublicKey ?? PEER_PLACEHOLDERS.serverPublicKey;
  const lines = [
    `# UpdateIO VPN (${input.label}): client config for peer "${input.peer.name}".`,
    `# Fill in the placeholders in <...>. PrivateKey: the device's private key, whose public key is`,
    `# ${input.peer.publicKey} (the one the server knows). Keep the finished file private (chmod 600).`,
  ];
  if (input.serverPublicKey === undefined) lines.push(`# PublicKey: the server's, printed by: ${input.publicKeyCommand}`);
  if (input.peer.presharedKey) lines.push("# PresharedKey: this peer's pre-shared key (the Terraform variable it came from).");
  if (input.endpoint === undefined) lines.push("# Endpoint: the Docker host's public name or address.");
  lines.push(
    "# Only the VPN subnet and the networks below go through the tunnel; no DNS is set.",
    "[Interface]",
    `PrivateKey = ${PEER_PLACEHOLDERS.privateKey}`,
    `Address = ${input.peer.allowedIps}`,
    "",
    "[Peer]",
    `PublicKey = ${server}`,
  );
  if (input.peer.presharedKey) lines.push(`PresharedKey = ${PEER_PLACEHOLDERS.presharedKey}`);
  lines.push(
    `Endpoint = ${input.endpoint ?? PEER_PLACEHOLDERS.endpoint}:${input.listenPort}`,
    `AllowedIPs = ${[input.subnet, ...input.routes.map((r) => r.cidr)].join(", ")}`,
  );
  return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// Entrypoint
// ---------------------------------------------------------------------------------------------

/**
 * The gateway's entrypoint, run with `sh` (uploaded files are not executable for sure):
 *
 *   run          key check (and first-start generation), wg-quick up, wait; wg-quick down on stop
 *   health       exit 0 when the interface is up with this server's private key loaded
 *   public-key   print the server's public key
 *   ensure-key   only the key step (generate when missing, check, print the public key)
 *
 * Paths come from VPN_* environment variables when set (tests), else from the rendered values.
 */
export function renderVpnEntrypoint(input: VpnEntrypointInput): string {
  const problems: string[] = [];
  if (!CONFIG_PATH.test(input.configPath))
    problems.push(
      `configPath ${JSON.stringify(input.configPath)} must be an absolute path ending in "<interface>.conf" (wg-quick names the interface after the file), e.g. "/etc/vpn-gateway/wg0.conf".`,
    );
  checkFile("privateKeyFile", input.privateKeyFile, problems);
  if (input.expectedPublicKey !== undefined && !isWireguardKey(input.expectedPublicKey))
    problems.push(
      `expectedPublicKey ${JSON.stringify(input.expectedPublicKey)} is not a WireGuard public key (44 base64 characters ending in "=").`,
    );
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(input.containerName))
    problems.push(`containerName ${JSON.stringify(input.containerName)} must be a Docker container name.`);
  checkIptables(input.iptables ?? WIREGUARD_DEFAULTS.iptables, problems);
  if (problems.length > 0) fail("VPN entrypoint", problems);
  const iface = /([^/]+)\.conf$/.exec(input.configPath)![1]!;
  const ipt = input.iptables ?? WIREGUARD_DEFAULTS.iptables;
  const missingKey =
    input.keyMode === "supplied"
      ? "set the Terraform variable that holds the server private key (wg genkey output)"
      : "the key volume should hold it; was the volume replaced?";
  return fillAsset(
    ENTRYPOINT_SH,
    {
      CONFIG_PATH: input.configPath,
      INTERFACE: iface,
      PRIVATE_KEY_FILE: input.privateKeyFile,
      KEY_MODE: input.keyMode,
      EXPECTED_PUBLIC_KEY: input.expectedPublicKey ?? "",
      IPTABLES: ipt,
      MISSING_KEY_HINT: missingKey,
      CONTAINER_NAME: input.containerName,
    },
    "renderVpnEntrypoint",
  );
}
