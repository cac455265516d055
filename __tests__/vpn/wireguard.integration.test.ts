import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  PEER_PLACEHOLDERS,
  WIREGUARD_DEFAULTS,
  isWireguardKey,
  parseCidr,
  renderVpnEntrypoint,
  renderWireguardConfig,
  renderWireguardPeerConfig,
  serverAddressOf,
  wireguardConfigProblems,
  type WireguardPeerTemplateInput,
  type WireguardServerInput,
} from "../../constructs/vpn/renderers/wireguard";
import { describeIf, requireBinary, type Requirement } from "../support/binaries";

// ---------------------------------------------------------------------------------------------
// Keys: X25519 through Node's crypto, so the unit tests need no `wg`; the `wg` tests below check
// that wg derives the same public keys.
// ---------------------------------------------------------------------------------------------

interface KeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
}

function keyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  return {
    privateKey: privateKey.export({ format: "der", type: "pkcs8" }).subarray(-32).toString("base64"),
    publicKey: publicKey.export({ format: "der", type: "spki" }).subarray(-32).toString("base64"),
  };
}

/** RFC 7748 X25519 public key of a raw private key (what `wg pubkey` computes). */
function x25519PublicKey(privateKey: string): string {
  const der = Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), Buffer.from(privateKey, "base64")]);
  return createPublicKey(createPrivateKey({ key: der, format: "der", type: "pkcs8" }))
    .export({ format: "der", type: "spki" })
    .subarray(-32)
    .toString("base64");
}

const alice = keyPair();
const bob = keyPair();
const carol = keyPair();
const server = keyPair();
const bobPsk = randomBytes(32).toString("base64");

const input: WireguardServerInput = {
  subnet: "10.13.13.0/24",
  listenPort: 51820,
  privateKeyFile: "/run/secrets/wg_private_key",
  routes: [
    { cidr: "172.18.0.0/16", tcpPorts: [80, 443], description: "edge: admin panel, Grafana" },
    { cidr: "172.19.0.0/16", tcpPorts: [15672], description: "rabbitmq management" },
  ],
  // Deliberately not sorted by name.
  peers: [
    { name: "bob", publicKey: bob.publicKey, allowedIps: "10.13.13.3/32", presharedKeyFile: "/run/secrets/wg_psk_bob" },
    { name: "alice-laptop", publicKey: alice.publicKey, allowedIps: "10.13.13.2/32" },
  ],
};

/** The [Peer] lines `input` renders to (no comments or blanks): sorted by name, each with its /32. */
const INPUT_PEER_LINES = [
  "[Peer]",
  `PublicKey = ${alice.publicKey}`,
  "AllowedIPs = 10.13.13.2/32",
  "[Peer]",
  `PublicKey = ${bob.publicKey}`,
  "AllowedIPs = 10.13.13.3/32",
];

function templateInput(overrides: Partial<WireguardPeerTemplateInput> = {}): WireguardPeerTemplateInput {
  return {
    label: "prod",
    subnet: input.subnet,
    listenPort: input.listenPort,
    peer: { name: "bob", allowedIps: "10.13.13.3/32", publicKey: bob.publicKey, presharedKey: true },
    publicKeyCommand: "docker exec prod-vpn wg show wg0 public-key",
    routes: input.routes,
    ...overrides,
  };
}

/** Lines that mean something to wg / wg-quick (comments and blank lines dropped). */
function meaningful(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.replace(/#.*$/, "").trim())
    .filter((l) => l.length > 0);
}

function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: "utf8", timeout: opts.timeout ?? 30_000, input: opts.input, env: opts.env ?? process.env });
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

describe("renderWireguardConfig: text", () => {
  const text = renderWireguardConfig(input);
  const lines = text.split("\n");

  it("writes [Interface] with the server's address, the port and no PrivateKey line", () => {
    const iface = meaningful(text.slice(0, text.indexOf("\n[Peer]")));
    expect(iface.slice(0, 3)).toEqual(["[Interface]", "Address = 10.13.13.1/24", "ListenPort = 51820"]);
    expect(iface.filter((l) => !/^Post(Up|Down) = /.test(l))).toEqual(["[Interface]", "Address = 10.13.13.1/24", "ListenPort = 51820"]);
    expect(text).not.toMatch(/^\s*(PrivateKey|PresharedKey)\s*=/m);
  });

  it("loads the pre-shared keys and then the private key from files in the last PostUps, after the filter", () => {
    // Without its private key the interface answers no handshake: no peer gets through before the filter is in.
    const up = lines.filter((l) => l.startsWith("PostUp = ")).map((l) => l.slice("PostUp = ".length));
    expect(up.slice(-2)).toEqual([
      `wg set %i peer ${bob.publicKey} preshared-key /run/secrets/wg_psk_bob`,
      "wg set %i private-key /run/secrets/wg_private_key",
    ]);
    expect(up.filter((c) => c.includes("preshared-key"))).toHaveLength(1);
  });

  it("forwards from the VPN only to the routes' TCP ports, masqueraded, and drops the rest both ways", () => {
    const up = lines
      .filter((l) => l.startsWith("PostUp = "))
      .map((l) => l.slice("PostUp = ".length))
      .slice(0, -2);
    expect(up).toEqual([
      "iptables-nft -N UPDATEIO-VPN",
      "iptables-nft -A UPDATEIO-VPN -d 172.18.0.0/16 -p tcp --dport 80 -j ACCEPT",
      "iptables-nft -A UPDATEIO-VPN -d 172.18.0.0/16 -p tcp --dport 443 -j ACCEPT",
      "iptables-nft -A UPDATEIO-VPN -d 172.19.0.0/16 -p tcp --dport 15672 -j ACCEPT",
      "iptables-nft -A UPDATEIO-VPN -j DROP",
      "iptables-nft -A FORWARD -i %i -j UPDATEIO-VPN",
      "iptables-nft -A FORWARD -o %i -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
      "iptables-nft -A FORWARD -o %i -j DROP",
      "iptables-nft -t nat -A POSTROUTING -s 10.13.13.0/24 -d 172.18.0.0/16 -j MASQUERADE",
      "iptables-nft -t nat -A POSTROUTING -s 10.13.13.0/24 -d 172.19.0.0/16 -j MASQUERADE",
    ]);
  });

  it("PostDown removes exactly what PostUp added, in reverse", () => {
    const up = lines.filter((l) => l.startsWith("PostUp = iptables-nft")).map((l) => l.slice("PostUp = ".length));
    const down = lines.filter((l) => l.startsWith("PostDown = ")).map((l) => l.slice("PostDown = ".length));
    // Every -A of a FORWARD or nat rule has its -D; the chain is flushed and deleted last.
    const appended = up.filter(
      (c) => !c.includes(" UPDATEIO-VPN -") && c.includes(" -A ") && !c.startsWith("iptables-nft -A UPDATEIO-VPN"),
    );
    expect(down.slice(0, -2).sort()).toEqual(appended.map((c) => c.replace(" -A ", " -D ")).sort());
    expect(down.slice(0, 2)).toEqual([
      "iptables-nft -t nat -D POSTROUTING -s 10.13.13.0/24 -d 172.19.0.0/16 -j MASQUERADE",
      "iptables-nft -t nat -D POSTROUTING -s 10.13.13.0/24 -d 172.18.0.0/16 -j MASQUERADE",
    ]);
    expect(down.slice(-2)).toEqual(["iptables-nft -F UPDATEIO-VPN", "iptables-nft -X UPDATEIO-VPN"]);
  });

  it("writes the [Peer] blocks sorted by name, each with its /32", () => {
    const peers = text.slice(text.indexOf("\n[Peer]") + 1);
    expect(meaningful(peers)).toEqual(INPUT_PEER_LINES);
    expect(peers).toContain("[Peer]\n# alice-laptop\n");
  });

  it("is independent of the order of the peers", () => {
    expect(renderWireguardConfig({ ...input, peers: [...input.peers].reverse() })).toBe(text);
    expect(text.endsWith("\n")).toBe(true);
    expect(text.endsWith("\n\n")).toBe(false);
  });

  it("never contains a private or pre-shared key, only the paths of their files", () => {
    for (const secret of [alice.privateKey, bob.privateKey, server.privateKey, bobPsk]) expect(text).not.toContain(secret);
    expect(text).toContain("/run/secrets/wg_private_key");
  });

  it("is safe inside a Terraform string: no ${ or %{ (Terraform would read them as templates)", () => {
    for (const t of [
      text,
      renderWireguardPeerConfig(templateInput()),
      renderVpnEntrypoint({
        configPath: "/etc/vpn-gateway/wg0.conf",
        keyMode: "generated",
        privateKeyFile: "/var/lib/wireguard/private.key",
        containerName: "prod-vpn",
      }),
    ]) {
      expect(t).not.toContain("${");
      expect(t).not.toContain("%{");
    }
  });

  it("passes a route CIDR that is a Terraform expression through verbatim (filled in at apply)", () => {
    const expr = "${tolist(docker_network.edge.ipam_config).0.subnet}";
    const t = renderWireguardConfig({ ...input, routes: [{ cidr: expr, tcpPorts: [443] }] });
    expect(t).toContain(`iptables-nft -A UPDATEIO-VPN -d ${expr} -p tcp --dport 443 -j ACCEPT`);
    expect(t).toContain(`-s 10.13.13.0/24 -d ${expr} -j MASQUERADE`);
  });

  it("renders a gateway without peers (generated key: read its public key first, add peers after)", () => {
    const t = renderWireguardConfig({ ...input, peers: [] });
    expect(t).not.toContain("[Peer]");
    expect(t).toContain("ListenPort = 51820");
  });
});

describe("renderWireguardConfig: validation", () => {
  it("reports every problem at once, each with its key and the fix", () => {
    const bad: WireguardServerInput = {
      subnet: "10.13.13.5/24",
      listenPort: 70000,
      privateKeyFile: "run/secrets/key",
      routes: [
        { cidr: "10.13.0.0/16", tcpPorts: [] },
        { cidr: "172.18.0.0/16", tcpPorts: [443, 443, 0] },
        { cidr: "172.18.5.0/24", tcpPorts: [80] },
      ],
      peers: [
        { name: "alice", publicKey: alice.publicKey, allowedIps: "10.13.13.2/32" },
        { name: "alice", publicKey: alice.publicKey, allowedIps: "10.13.13.2/32" },
        { name: "Bob", publicKey: "not-a-key", allowedIps: "10.13.14.2/32" },
        { name: "carol", publicKey: carol.publicKey, allowedIps: "10.13.13.1/32" },
        { name: "dave", publicKey: keyPair().publicKey, allowedIps: "10.13.13.9" },
        { name: "erin", publicKey: keyPair().publicKey, allowedIps: "10.13.13.255/32", presharedKeyFile: "relative/psk" },
      ],
    };
    const problems = wireguardConfigProblems(bad);
    const expected = [
      'subnet "10.13.13.5/24" has host bits set: write the network address, "10.13.13.0/24".',
      "listenPort 70000 is not a UDP port: use a whole number from 1 to 65535 (WireGuard's usual port is 51820).",
      'privateKeyFile "run/secrets/key" must be an absolute path',
      'routes[0].cidr "10.13.0.0/16" overlaps the VPN subnet 10.13.13.0/24',
      "routes[0].tcpPorts is empty: list the TCP ports operators need there",
      "routes[1].tcpPorts 443 is listed twice",
      "routes[1].tcpPorts 0 is not a TCP port",
      'routes[2].cidr "172.18.5.0/24" overlaps routes[1].cidr',
      'peers[1] ("alice").name is also peers[0]\'s name',
      'peers[1] ("alice").publicKey is also peers[0]\'s key: every device needs its own key pair',
      'peers[1] ("alice").allowedIps "10.13.13.2/32" is also peers[0]\'s address',
      'peers[2].name "Bob" must be lowercase letters, digits and dashes',
      'peers[2].publicKey "not-a-key" is not a WireGuard public key (44 base64 characters ending in "="): use the output of `wg pubkey < client.key`.',
      'peers[2].allowedIps "10.13.14.2/32" is outside the VPN subnet 10.13.13.0/24',
      'peers[3] ("carol").allowedIps "10.13.13.1/32" is the server\'s own address: peers start at "10.13.13.2/32".',
      'peers[4] ("dave").allowedIps "10.13.13.9" must be one address as a /32',
      'peers[5] ("erin").allowedIps "10.13.13.255/32" is the subnet\'s broadcast address',
      'peers[5] ("erin").presharedKeyFile "relative/psk" must be an absolute path',
    ];
    for (const e of expected)
      expect(
        problems.some((p) => p.startsWith(e)),
        `missing: ${e}\nin:\n${problems.join("\n")}`,
      ).toBe(true);
    expect(problems).toHaveLength(expected.length);
    expect(() => renderWireguardConfig(bad)).toThrow(/WireGuard server config is invalid:\n {2}- subnet /);
  });

  it("checks the subnet's shape and size", () => {
    expect(wireguardConfigProblems({ ...input, subnet: "10.13.13/24" })[0]).toMatch(
      /^subnet "10.13.13\/24" is not an IPv4 CIDR: write it like "10.13.13.0\/24"/,
    );
    expect(wireguardConfigProblems({ ...input, subnet: "10.0.0.0/8" })[0]).toMatch(/^subnet "10.0.0.0\/8" must be a \/16 to \/29/);
    expect(wireguardConfigProblems({ ...input, subnet: "10.13.13.0/30", peers: [] })[0]).toMatch(/must be a \/16 to \/29/);
  });

  it("rejects a key of the right length whose last character cannot end a 32-byte key", () => {
    // 43 base64 characters carry 258 bits; a 32-byte key leaves the last two bits zero.
    const almost = `${alice.publicKey.slice(0, 42)}B=`;
    expect(isWireguardKey(almost)).toBe(false);
    expect(isWireguardKey(alice.publicKey)).toBe(true);
    expect(isWireguardKey(`${alice.publicKey.slice(0, 43)}`)).toBe(false);
  });

  it("helpers: serverAddressOf, parseCidr", () => {
    expect(serverAddressOf("10.13.13.0/24")).toBe("10.13.13.1");
    expect(serverAddressOf("192.168.250.0/29")).toBe("192.168.250.1");
    expect(parseCidr("172.18.0.0/16")).toEqual({ base: ((172 << 24) >>> 0) + (18 << 16), prefix: 16, hostBitsSet: false });
    expect(parseCidr("010.1.1.0/24")).toBeUndefined();
    expect(parseCidr("10.1.1.0/33")).toBeUndefined();
    expect(parseCidr("256.1.1.0/24")).toBeUndefined();
  });
});

describe("renderWireguardPeerConfig", () => {
  it("writes a split-tunnel client template with placeholders for what only the operator has", () => {
    const t = renderWireguardPeerConfig(templateInput());
    expect(meaningful(t)).toEqual([
      "[Interface]",
      `PrivateKey = ${PEER_PLACEHOLDERS.privateKey}`,
      "Address = 10.13.13.3/32",
      "[Peer]",
      `PublicKey = ${PEER_PLACEHOLDERS.serverPublicKey}`,
      `PresharedKey = ${PEER_PLACEHOLDERS.presharedKey}`,
      `Endpoint = ${PEER_PLACEHOLDERS.endpoint}:51820`,
      "AllowedIPs = 10.13.13.0/24, 172.18.0.0/16, 172.19.0.0/16",
    ]);
    expect(t).toContain("# PublicKey: the server's, printed by: docker exec prod-vpn wg show wg0 public-key");
    expect(t).not.toMatch(/^DNS/m);
    for (const secret of [bob.privateKey, bobPsk, server.privateKey]) expect(t).not.toContain(secret);
  });

  it("fills in the server's key and address when known, and has no PresharedKey without one", () => {
    const t = renderWireguardPeerConfig(
      templateInput({
        serverPublicKey: server.publicKey,
        endpoint: "vpn.updateio.app",
        peer: { name: "alice-laptop", allowedIps: "10.13.13.2/32", publicKey: alice.publicKey, presharedKey: false },
      }),
    );
    expect(meaningful(t)).toEqual([
      "[Interface]",
      `PrivateKey = ${PEER_PLACEHOLDERS.privateKey}`,
      "Address = 10.13.13.2/32",
      "[Peer]",
      `PublicKey = ${server.publicKey}`,
      "Endpoint = vpn.updateio.app:51820",
      "AllowedIPs = 10.13.13.0/24, 172.18.0.0/16, 172.19.0.0/16",
    ]);
    expect(t).not.toContain("<SERVER_PUBLIC_KEY>");
    expect(t).not.toContain("<SERVER_PUBLIC_ADDRESS>");
    expect(t).not.toContain("# PublicKey:");
    expect(t).not.toContain("# Endpoint:");
  });

  it("reports every problem at once", () => {
    expect(() =>
      renderWireguardPeerConfig(
        templateInput({
          serverPublicKey: "abc",
          endpoint: "https://vpn.example.com:51820",
          listenPort: 0,
          routes: [{ cidr: "10.13.13.0/25" }],
        }),
      ),
    ).toThrow(
      /listenPort 0 is not a UDP port[\s\S]*serverPublicKey "abc" is not a WireGuard public key[\s\S]*endpoint "https:\/\/vpn.example.com:51820" must be a host name[\s\S]*routes\[0\]\.cidr "10.13.13.0\/25" overlaps the VPN subnet/,
    );
  });
});

describe("renderVpnEntrypoint: text", () => {
  const generated = renderVpnEntrypoint({
    configPath: "/etc/vpn-gateway/wg0.conf",
    keyMode: "generated",
    privateKeyFile: "/var/lib/wireguard/private.key",
    containerName: "prod-vpn",
  });

  it("is valid sh (sh -n)", () => {
    const dir = mkdtempSync(join(tmpdir(), "updateio-vpn-sh-"));
    try {
      const file = join(dir, "entrypoint.sh");
      writeFileSync(file, generated);
      const r = run("sh", ["-n", file]);
      expect(r.status, r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bakes in the paths, the key mode and the interface named after the config file", () => {
    expect(generated).toContain("VPN_CONFIG=/etc/vpn-gateway/wg0.conf\n");
    expect(generated).toContain("VPN_INTERFACE=wg0\n");
    expect(generated).toContain("VPN_PRIVATE_KEY_FILE=/var/lib/wireguard/private.key\n");
    expect(generated).toContain("VPN_KEY_MODE=generated\n");
    expect(generated).toContain("docker exec prod-vpn wg show $VPN_INTERFACE public-key");
    expect(generated).toContain(`for tool in wg wg-quick ip ${WIREGUARD_DEFAULTS.iptables}; do`);
  });

  it("rejects a config path wg-quick could not name an interface after, and a bad expected key", () => {
    expect(() =>
      renderVpnEntrypoint({
        configPath: "/etc/vpn/wireguard-gateway-0.conf",
        keyMode: "supplied",
        privateKeyFile: "/run/secrets/k",
        containerName: "x",
        expectedPublicKey: "nope",
      }),
    ).toThrow(
      /configPath .* must be an absolute path ending in "<interface>.conf"[\s\S]*expectedPublicKey "nope" is not a WireGuard public key/,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Real tools
// ---------------------------------------------------------------------------------------------

const isRoot: Requirement = {
  available: process.getuid?.() === 0,
  reason: "wg-quick and network namespaces need root (wg-quick re-runs itself through sudo otherwise)",
};

describeIf(requireBinary("wg"), "wg (wireguard-tools): keys", () => {
  it("wg pubkey derives the same public key as RFC 7748 X25519 for a supplied private key", () => {
    for (const pair of [server, alice, keyPair()]) {
      const r = run("wg", ["pubkey"], { input: `${pair.privateKey}\n` });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(pair.publicKey);
      expect(x25519PublicKey(pair.privateKey)).toBe(pair.publicKey);
    }
  });

  it("keys from wg genkey / wg pubkey pass the renderer's key check; wg rejects what the check rejects", () => {
    const priv = run("wg", ["genkey"]).stdout.trim();
    const pub = run("wg", ["pubkey"], { input: `${priv}\n` }).stdout.trim();
    expect(isWireguardKey(priv)).toBe(true);
    expect(isWireguardKey(pub)).toBe(true);
    expect(x25519PublicKey(priv)).toBe(pub);
    expect(run("wg", ["pubkey"], { input: `${pub.slice(0, 42)}B=\n` }).status).not.toBe(0);
  });
});

describeIf(requireBinary("wg"), "the entrypoint's key step, run with sh and the real wg", () => {
  const dir = mkdtempSync(join(tmpdir(), "updateio-vpn-key-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const script = (name: string, body: string) => {
    const file = join(dir, name);
    writeFileSync(file, body);
    return file;
  };

  it("generated mode: creates a 0600 key on first start, prints its public key, keeps it afterwards", () => {
    mkdirSync(join(dir, "keys"));
    const keyFile = join(dir, "keys", "private.key");
    const file = script(
      "generated.sh",
      renderVpnEntrypoint({
        configPath: "/etc/vpn-gateway/wg0.conf",
        keyMode: "generated",
        privateKeyFile: keyFile,
        containerName: "dev-vpn",
      }),
    );
    const first = run("sh", [file, "ensure-key"]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain(`first start: generating the server private key into ${keyFile}`);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(existsSync(`${keyFile}.new`)).toBe(false);
    const key = readFileSync(keyFile, "utf8").trim();
    expect(isWireguardKey(key)).toBe(true);
    const pub = x25519PublicKey(key);
    expect(first.stdout).toBe(
      `vpn-gateway: server public key: ${pub} (give it to the peers; read it again with: docker exec dev-vpn wg show wg0 public-key)\n`,
    );
    const second = run("sh", [file, "ensure-key"]);
    expect(second.status).toBe(0);
    expect(second.stderr).not.toContain("generating");
    expect(readFileSync(keyFile, "utf8").trim()).toBe(key);
    expect(run("sh", [file, "public-key"]).stdout.trim()).toBe(pub);
  });

  it("supplied mode: refuses to start without the key, with a wrong key, or with one of another server", () => {
    const keyFile = join(dir, "wg_private_key");
    const file = script(
      "supplied.sh",
      renderVpnEntrypoint({
        configPath: "/etc/vpn-gateway/wg0.conf",
        keyMode: "supplied",
        privateKeyFile: keyFile,
        expectedPublicKey: server.publicKey,
        containerName: "prod-vpn",
      }),
    );
    const missing = run("sh", [file, "ensure-key"]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`no private key in ${keyFile}: set the Terraform variable that holds the server private key`);
    writeFileSync(keyFile, "not a key\n");
    const garbage = run("sh", [file, "ensure-key"]);
    expect(garbage.status).toBe(1);
    expect(garbage.stderr).toContain("does not hold a WireGuard private key");
    writeFileSync(keyFile, `${alice.privateKey}\n`);
    const other = run("sh", [file, "ensure-key"]);
    expect(other.status).toBe(1);
    expect(other.stderr).toContain(`the private key belongs to public key ${alice.publicKey}, not to the configured ${server.publicKey}`);
    writeFileSync(keyFile, `${server.privateKey}\n`);
    const ok = run("sh", [file, "ensure-key"]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`server public key: ${server.publicKey}`);
  });

  it("health fails while the interface is down", () => {
    const keyFile = join(dir, "health.key");
    writeFileSync(keyFile, `${server.privateKey}\n`);
    const file = script(
      "health.sh",
      renderVpnEntrypoint({
        configPath: "/etc/vpn-gateway/wgabsent0.conf",
        keyMode: "supplied",
        privateKeyFile: keyFile,
        containerName: "prod-vpn",
      }),
    );
    const r = run("sh", [file, "health"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("wgabsent0 is not up");
  });
});

describeIf([requireBinary("wg-quick"), isRoot], "wg-quick strip: the rendered files parse as wg-quick configs", () => {
  const dir = mkdtempSync(join(tmpdir(), "updateio-vpn-strip-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const strip = (name: string, text: string) => {
    const file = join(dir, `${name}.conf`);
    writeFileSync(file, text, { mode: 0o600 });
    return run("wg-quick", ["strip", file]);
  };

  it("server: only the wg(8) keys remain: ListenPort, then PublicKey/AllowedIPs per peer", () => {
    const r = strip("wg0", renderWireguardConfig(input));
    expect(r.status, r.stderr).toBe(0);
    expect(meaningful(r.stdout)).toEqual(["[Interface]", "ListenPort = 51820", ...INPUT_PEER_LINES]);
  });

  it("client template: parses the same way once the placeholders hold real keys", () => {
    const client = keyPair();
    const t = renderWireguardPeerConfig(templateInput({ endpoint: "192.0.2.1" }))
      .replace(PEER_PLACEHOLDERS.privateKey, client.privateKey)
      .replace(PEER_PLACEHOLDERS.serverPublicKey, server.publicKey)
      .replace(PEER_PLACEHOLDERS.presharedKey, bobPsk);
    expect(t).not.toMatch(/<[A-Z_]+>/);
    const r = strip("wgc0", t);
    expect(r.status, r.stderr).toBe(0);
    expect(meaningful(r.stdout)).toEqual([
      "[Interface]",
      `PrivateKey = ${client.privateKey}`,
      "[Peer]",
      `PublicKey = ${server.publicKey}`,
      `PresharedKey = ${bobPsk}`,
      "Endpoint = 192.0.2.1:51820",
      "AllowedIPs = 10.13.13.0/24, 172.18.0.0/16, 172.19.0.0/16",
    ]);
  });
});

describeIf(requireBinary("terraform"), "Terraform leaves the rendered text alone", () => {
  it("round-trips the config, a client template and the entrypoint through a Terraform string unchanged", () => {
    const dir = mkdtempSync(join(tmpdir(), "updateio-vpn-tf-"));
    try {
      const texts = {
        server: renderWireguardConfig(input),
        client: renderWireguardPeerConfig(templateInput()),
        entrypoint: renderVpnEntrypoint({
          configPath: "/etc/vpn-gateway/wg0.conf",
          keyMode: "supplied",
          privateKeyFile: "/run/secrets/wg_private_key",
          expectedPublicKey: server.publicKey,
          containerName: "prod-vpn",
        }),
      };
      writeFileSync(
        join(dir, "main.tf.json"),
        JSON.stringify({ output: Object.fromEntries(Object.entries(texts).map(([k, v]) => [k, { value: v }])) }),
      );
      const env = { ...process.env, CHECKPOINT_DISABLE: "1", TF_IN_AUTOMATION: "1", TF_CLI_CONFIG_FILE: "/dev/null" };
      const opts = { env, timeout: 60_000 };
      const init = spawnSync("terraform", ["init", "-input=false", "-no-color"], { cwd: dir, encoding: "utf8", ...opts });
      expect(init.status, init.stderr).toBe(0);
      const apply = spawnSync("terraform", ["apply", "-auto-approve", "-input=false", "-no-color"], {
        cwd: dir,
        encoding: "utf8",
        ...opts,
      });
      expect(apply.status, apply.stderr).toBe(0);
      const out = spawnSync("terraform", ["output", "-json"], { cwd: dir, encoding: "utf8", ...opts });
      const values = JSON.parse(out.stdout) as Record<string, { value: string }>;
      for (const [k, v] of Object.entries(texts)) expect(values[k]!.value, k).toBe(v);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// A real WireGuard interface: the kernel module, or wireguard-go (userspace) where the kernel has
// none. Everything runs in throw-away network namespaces.
// ---------------------------------------------------------------------------------------------

type WireguardImpl = { readonly kind: "kernel" | "userspace"; readonly env: NodeJS.ProcessEnv };

function probeWireguard(): Requirement & { impl?: WireguardImpl } {
  if (!isRoot.available) return { available: false, reason: isRoot.reason };
  for (const tool of ["ip", "wg", "wg-quick", "iptables-nft", "node"]) {
    const r = requireBinary(tool);
    if (!r.available) return r;
  }
  const ns = `uvpn-probe-${process.pid}`;
  if (run("ip", ["netns", "add", ns]).status !== 0)
    return { available: false, reason: "`ip netns add` failed: network namespaces are not available here" };
  try {
    if (run("ip", ["-n", ns, "link", "add", "wgprobe", "type", "wireguard"]).status === 0) {
      return { available: true, reason: "kernel WireGuard", impl: { kind: "kernel", env: process.env } };
    }
  } finally {
    run("ip", ["netns", "del", ns]);
  }
  const goImpl = requireBinary("wireguard-go");
  if (goImpl.available && existsSync("/dev/net/tun")) {
    return {
      available: true,
      reason: "wireguard-go (userspace)",
      impl: {
        kind: "userspace",
        env: { ...process.env, WG_QUICK_USERSPACE_IMPLEMENTATION: "wireguard-go", WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: "1" },
      },
    };
  }
  return {
    available: false,
    reason:
      "no WireGuard interface can be made here: the kernel has no wireguard module and wireguard-go (Debian package wireguard-go) is not installed or /dev/net/tun is missing",
  };
}

const wireguard = probeWireguard();

/** Named network namespaces joined by veth pairs; everything started in them is ended by pid. */
class Lab {
  readonly id = randomBytes(2).toString("hex");
  private readonly namespaces: string[] = [];
  private links = 0;
  /** WireGuard interfaces made here: wireguard-go leaves /var/run/wireguard/<name>.sock behind when killed. */
  readonly interfaces: string[] = [];
  private readonly children: ChildProcess[] = [];

  ns(name: string): string {
    const full = `uvpn-${this.id}-${name}`;
    if (!this.namespaces.includes(full)) {
      expect(run("ip", ["netns", "add", full]).status).toBe(0);
      run("ip", ["-n", full, "link", "set", "lo", "up"]);
      this.namespaces.push(full);
    }
    return full;
  }

  link(a: string, addrA: string, b: string, addrB: string): void {
    const n = this.links++;
    const [ia, ib] = [`uv${this.id}${n}a`, `uv${this.id}${n}b`];
    for (const args of [
      ["link", "add", ia, "type", "veth", "peer", "name", ib],
      ["link", "set", ia, "netns", a],
      ["link", "set", ib, "netns", b],
      ["-n", a, "addr", "add", addrA, "dev", ia],
      ["-n", b, "addr", "add", addrB, "dev", ib],
      ["-n", a, "link", "set", ia, "up"],
      ["-n", b, "link", "set", ib, "up"],
    ]) {
      const r = run("ip", args);
      expect(r.status, `ip ${args.join(" ")}: ${r.stderr}`).toBe(0);
    }
  }

  exec(
    ns: string,
    cmd: string,
    args: readonly string[],
    opts: { input?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {},
  ): SpawnSyncReturns<string> {
    return run("ip", ["netns", "exec", ns, cmd, ...args], opts);
  }

  start(ns: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): ChildProcess & { output: () => string } {
    const child = spawn("ip", ["netns", "exec", ns, cmd, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (d) => (output += String(d)));
    child.stderr!.on("data", (d) => (output += String(d)));
    this.children.push(child);
    return Object.assign(child, { output: () => output });
  }

  /** Ends what this lab started (by pid), then what still runs in its namespaces, then the namespaces. */
  cleanup(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    for (const ns of this.namespaces) {
      for (const pid of run("ip", ["netns", "pids", ns]).stdout.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
      run("ip", ["netns", "del", ns]);
    }
    for (const name of this.interfaces) rmSync(`/var/run/wireguard/${name}.sock`, { force: true });
  }
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Parses wg(8) config text (showconf / strip output) into [section, key, value] triples. */
function wgEntries(text: string): string[] {
  let section = "";
  const out: string[] = [];
  for (const line of meaningful(text)) {
    if (line.startsWith("[")) section = line;
    else {
      const [k, v] = [line.slice(0, line.indexOf("=")).trim(), line.slice(line.indexOf("=") + 1).trim()];
      for (const part of k === "AllowedIPs" ? v.split(/\s*,\s*/).sort() : [v]) out.push(`${section} ${k} = ${part}`);
    }
  }
  return out.sort();
}

describeIf(wireguard, `a real WireGuard interface (${wireguard.reason})`, () => {
  const impl = wireguard.impl!;
  const lab = new Lab();
  const dir = mkdtempSync(join(tmpdir(), "updateio-vpn-wg-"));
  afterAll(() => {
    lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const makeInterface = (ns: string, name: string) => {
    lab.interfaces.push(name);
    const r =
      impl.kind === "kernel"
        ? lab.exec(ns, "ip", ["link", "add", name, "type", "wireguard"])
        : lab.exec(ns, "wireguard-go", [name], { env: impl.env });
    expect(r.status, r.stderr).toBe(0);
  };

  it("wg setconf takes the stripped server config (plus the key PostUp loads); wg showconf gives it back", () => {
    const ns = lab.ns("setconf");
    const name = `vs${lab.id}`;
    const file = join(dir, `${name}.conf`);
    writeFileSync(file, renderWireguardConfig(input), { mode: 0o600 });
    const stripped = run("wg-quick", ["strip", file]);
    expect(stripped.status, stripped.stderr).toBe(0);
    makeInterface(ns, name);
    const strippedFile = join(dir, "stripped.conf");
    writeFileSync(strippedFile, stripped.stdout, { mode: 0o600 });
    const set = lab.exec(ns, "wg", ["setconf", name, strippedFile]);
    expect(set.status, set.stderr).toBe(0);
    // What the last PostUp does:
    const keyFile = join(dir, "server.key");
    writeFileSync(keyFile, `${server.privateKey}\n`, { mode: 0o600 });
    expect(lab.exec(ns, "wg", ["set", name, "private-key", keyFile]).status).toBe(0);
    const shown = lab.exec(ns, "wg", ["showconf", name]);
    expect(shown.status, shown.stderr).toBe(0);
    expect(wgEntries(shown.stdout)).toEqual(wgEntries(`${stripped.stdout}\n[Interface]\nPrivateKey = ${server.privateKey}\n`));
    expect(lab.exec(ns, "wg", ["show", name, "public-key"]).stdout.trim()).toBe(server.publicKey);
    expect(lab.exec(ns, "ip", ["link", "del", name]).status).toBe(0);
  });

  it("end to end: the entrypoint brings the gateway up (generated key), a client connects with its template, only the routed ports pass, masqueraded", async () => {
    // srv = the gateway's namespace; cli = an operator's laptop on the "internet" 192.0.2.0/24;
    // up = a routed network 198.18.0.0/24 (stands for the edge network) with a container on .2.
    const [srv, cli, up] = [lab.ns("srv"), lab.ns("cli"), lab.ns("up")];
    lab.link(srv, "192.0.2.1/24", cli, "192.0.2.2/24");
    lab.link(srv, "198.18.0.1/24", up, "198.18.0.2/24");
    // What Docker's sysctls setting does for the container.
    expect(lab.exec(srv, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]).status).toBe(0);

    const upstream = lab.start(up, process.execPath, [
      "-e",
      "const net=require('net');net.createServer(s=>s.end(s.remoteAddress+'\\n')).listen(8080,'0.0.0.0',()=>{net.createServer(s=>s.end('open\\n')).listen(9090,'0.0.0.0',()=>console.log('listening'))})",
    ]);
    await until("the upstream listeners", () => (upstream.output().includes("listening") ? true : undefined));

    const client = keyPair();
    const psk = randomBytes(32).toString("base64");
    const iface = `vg${lab.id}`;
    lab.interfaces.push(iface, `vc${lab.id}`);
    for (const sub of ["etc", "keys", "secrets", "client"]) mkdirSync(join(dir, sub), { recursive: true });
    const keyFile = join(dir, "keys", "private.key");
    const pskFile = join(dir, "secrets", "wg_psk_operator");
    writeFileSync(pskFile, `${psk}\n`, { mode: 0o600 });
    const route = { cidr: "198.18.0.0/24", tcpPorts: [8080], description: "stands for the edge network" };
    const configPath = join(dir, "etc", `${iface}.conf`);
    writeFileSync(
      configPath,
      renderWireguardConfig({
        subnet: "10.13.13.0/24",
        listenPort: 51820,
        privateKeyFile: keyFile,
        routes: [route],
        peers: [{ name: "operator", publicKey: client.publicKey, allowedIps: "10.13.13.2/32", presharedKeyFile: pskFile }],
      }),
      { mode: 0o644 },
    );
    const entrypoint = join(dir, "etc", "entrypoint.sh");
    writeFileSync(
      entrypoint,
      renderVpnEntrypoint({ configPath, keyMode: "generated", privateKeyFile: keyFile, containerName: "test-vpn" }),
    );

    const gateway = lab.start(srv, "sh", [entrypoint, "run"], impl.env);
    // Healthy means the server key is live, which the last PostUp loads: the filter is in place by then.
    await until("the gateway's healthcheck", () => (lab.exec(srv, "sh", [entrypoint, "health"]).status === 0 ? true : undefined));
    const serverPublicKey = /server public key: (\S+)/.exec(gateway.output())?.[1];
    expect(serverPublicKey, gateway.output()).toBeDefined();
    expect(serverPublicKey).toBe(x25519PublicKey(readFileSync(keyFile, "utf8").trim()));
    expect(lab.exec(srv, "iptables-nft", ["-S", "UPDATEIO-VPN"]).stdout).toContain(
      "-A UPDATEIO-VPN -d 198.18.0.0/24 -p tcp -m tcp --dport 8080 -j ACCEPT",
    );

    const clientConfig = renderWireguardPeerConfig({
      label: "test",
      subnet: "10.13.13.0/24",
      listenPort: 51820,
      peer: { name: "operator", allowedIps: "10.13.13.2/32", publicKey: client.publicKey, presharedKey: true },
      serverPublicKey,
      publicKeyCommand: "docker exec test-vpn wg show wg0 public-key",
      endpoint: "192.0.2.1",
      routes: [route],
    })
      .replace(PEER_PLACEHOLDERS.privateKey, client.privateKey)
      .replace(PEER_PLACEHOLDERS.presharedKey, psk);
    const clientFile = join(dir, "client", `vc${lab.id}.conf`);
    writeFileSync(clientFile, clientConfig, { mode: 0o600 });
    const clientUp = lab.exec(cli, "wg-quick", ["up", clientFile], { env: impl.env });
    expect(clientUp.status, clientUp.stderr).toBe(0);

    const connect = (port: number) =>
      lab
        .exec(cli, process.execPath, [
          "-e",
          `const s=require('net').connect({host:'198.18.0.2',port:${port}});let d='';s.setTimeout(2500,()=>{console.log('timeout');process.exit(0)});s.on('data',x=>d+=x);s.on('end',()=>{console.log(d.trim());process.exit(0)});s.on('error',e=>{console.log('error '+e.code);process.exit(0)})`,
        ])
        .stdout.trim();
    // The routed port answers, and the container sees the gateway's address (masquerade).
    expect(connect(8080)).toBe("198.18.0.1");
    // Another port on the same network: dropped by the gateway.
    expect(connect(9090)).toBe("timeout");
    expect(Number(lab.exec(srv, "wg", ["show", iface, "latest-handshakes"]).stdout.trim().split(/\s+/)[1])).toBeGreaterThan(0);
    // Nothing on the routed network can open a connection into the VPN.
    const inward = lab
      .exec(up, process.execPath, [
        "-e",
        "const s=require('net').connect({host:'10.13.13.2',port:22});s.setTimeout(1500,()=>{console.log('timeout');process.exit(0)});s.on('error',e=>{console.log('error '+e.code);process.exit(0)});s.on('connect',()=>{console.log('connected');process.exit(0)})",
      ])
      .stdout.trim();
    expect(inward).not.toBe("connected");

    expect(lab.exec(cli, "wg-quick", ["down", clientFile], { env: impl.env }).status).toBe(0);
    // docker stop: SIGTERM → wg-quick down → PostDown removes the rules; exit 0.
    const exited = new Promise<number | null>((resolve) => gateway.on("exit", (code) => resolve(code)));
    gateway.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(gateway.output()).toContain("vpn-gateway: stopping");
    expect(lab.exec(srv, "ip", ["link", "show", iface]).status).not.toBe(0);
    expect(lab.exec(srv, "iptables-nft", ["-S"]).stdout).not.toContain("UPDATEIO-VPN");
    expect(lab.exec(srv, "iptables-nft", ["-t", "nat", "-S"]).stdout).not.toContain("MASQUERADE");
    upstream.kill("SIGTERM");
  });
});
