import { Container } from "@cdktf/provider-docker/lib/container";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { TerraformOutput, TerraformStack, TerraformVariable } from "cdktf";
import { describe, expect, it } from "vitest";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import { blockingFindings, evaluatePolicy, suppressionsOf } from "../../constructs/policy/policy-aspect";
import { isPinnedByDigest } from "../../constructs/policy/rules";
import { PEER_PLACEHOLDERS } from "../../constructs/vpn/renderers/wireguard";
import {
  DOCKER_DEFAULT_ADDRESS_POOLS,
  VPN_GATEWAY_IMAGE,
  VPN_ROUTE_PORTS,
  VpnGateway,
  type VpnGatewayProps,
} from "../../constructs/vpn/vpn-gateway";
import { EPHEMERAL_LABEL, SEED_CONTAINER } from "../support/synth-expectations";
import { synthConstruct } from "../support/construct-harness";
import { testOutdir, testStack, type Json } from "../support/test-stack";

const OUT = testOutdir("vpn-gateway-test");

// Fixed keys (wg genkey | wg pubkey) so the snapshot is stable.
const ALICE = "5A3YfVPRhK5v7Iotb37QQFfoafLcML2UEWlUA2gBois=";
const BOB = "HzpNMHQqCrkn8cnhlcqLeRO+PKV3+fYqQif44Jve+T4=";
const SERVER = "kFmFPEMfkwbzlYZM9ZpBxLnjpCNocT6XAPGqIAsBHmc=";

interface Ctx {
  readonly stack: TerraformStack;
  readonly edge: PlatformNetwork;
  readonly egress: PlatformNetwork;
  readonly rabbitmq: PlatformNetwork;
  readonly privateKey: string;
  readonly bobPsk: string;
}

/** prod stack with the edge, egress and rabbitmq networks; `supplied` adds the key variables. */
function build(overrides: (ctx: Ctx) => Partial<VpnGatewayProps> = () => ({}), opts: { supplied?: boolean; env?: "dev" | "prod" } = {}) {
  const env = opts.env ?? "prod";
  const stack = testStack(OUT, env, { random: false });
  const edge = new PlatformNetwork(stack, "edge-network", { environment: env, purpose: "edge" });
  const egress = new PlatformNetwork(stack, "egress-network", { environment: env, purpose: "egress", internal: false });
  const rabbitmq = new PlatformNetwork(stack, "rabbitmq-network", { environment: env, purpose: "rabbitmq" });
  const privateKey = new TerraformVariable(stack, "vpn_private_key", {
    type: "string",
    sensitive: true,
    description: "WireGuard server private key (wg genkey).",
  }).stringValue;
  const bobPsk = new TerraformVariable(stack, "vpn_psk_bob", { type: "string", sensitive: true }).stringValue;
  const ctx: Ctx = { stack, edge, egress, rabbitmq, privateKey, bobPsk };
  const supplied = opts.supplied ?? true;
  const vpn = new VpnGateway(stack, "vpn", {
    environment: env,
    ...(supplied ? { privateKey, publicKey: SERVER } : {}),
    endpoint: "vpn.updateio.app",
    peers: [
      { name: "bob", publicKey: BOB, allowedIps: "10.13.13.3/32", ...(supplied ? { presharedKey: bobPsk } : {}) },
      { name: "alice", publicKey: ALICE, allowedIps: "10.13.13.2/32" },
    ],
    routes: [
      { network: edge, tcpPorts: VPN_ROUTE_PORTS.edge, description: "edge: admin panel, Grafana" },
      { network: rabbitmq, tcpPorts: VPN_ROUTE_PORTS.rabbitmqManagement, description: "RabbitMQ management" },
    ],
    publishNetwork: egress,
    protectData: env === "prod",
    ...overrides(ctx),
  });
  new TerraformOutput(stack, "vpn_client_alice", { value: vpn.peerConfigs.alice });
  const { text, json, server: c, seed, key, ref } = synthConstruct(stack, `${env}-vpn`);
  const upload = (file: string) => (seed.upload as Json[]).find((u) => u.file === file)?.content as string | undefined;
  return { ...ctx, vpn, text, json, c, seed, key, ref, upload };
}

describe("VpnGateway (supplied key)", () => {
  const b = build();
  const { vpn, text, json, c, seed, key, ref, upload, stack } = b;

  it("mounts its secrets and config read-only, bounds CPU, logs and shutdown, and is replaced with its seed", () => {
    expect(c.volumes).toEqual([
      { volume_name: ref("docker_volume", "prod-vpn-secrets"), container_path: "/run/secrets", read_only: true },
      { volume_name: ref("docker_volume", "prod-vpn-config"), container_path: "/etc/vpn-gateway", read_only: true },
    ]);
    expect(c).toMatchObject({
      cpu_shares: 256,
      stop_timeout: 30,
      must_run: true,
      hostname: "vpn",
      log_driver: "json-file",
      log_opts: { "max-file": "3", "max-size": "10m" },
    });
    expect(c.lifecycle.replace_triggered_by).toEqual([`docker_container.${key("docker_container", "prod-vpn-seed")}`]);
    expect(json.resource.docker_image).toEqual({
      [key("docker_image", VPN_GATEWAY_IMAGE)]: { name: VPN_GATEWAY_IMAGE, keep_locally: true },
    });
    for (const name of ["prod-vpn-config", "prod-vpn-secrets"])
      expect(json.resource.docker_volume[key("docker_volume", name)].labels).toContainEqual(EPHEMERAL_LABEL);
  });

  it("seeds from a container that never starts, has no network and runs as nobody; key files 0400", () => {
    expect(seed).toMatchObject(SEED_CONTAINER);
    expect((seed.upload as Json[]).map((u) => [u.file, u.permissions])).toEqual([
      ["/run/secrets/wg_private_key", "0400"],
      ["/run/secrets/wg_psk_bob", "0400"],
      ["/etc/vpn-gateway/entrypoint.sh", undefined],
      ["/etc/vpn-gateway/wg0.conf", undefined],
    ]);
  });

  it("firewalls the tunnel: only the routed TCP ports forward, everything else is dropped, and PostDown undoes PostUp", () => {
    const conf = upload("/etc/vpn-gateway/wg0.conf")!;
    const lines = conf.split("\n");
    expect(lines).toContain("Address = 10.13.13.1/24");
    expect(lines).toContain("ListenPort = 51820");
    const up = lines.filter((l) => l.startsWith("PostUp = iptables-nft")).map((l) => l.slice("PostUp = iptables-nft ".length));
    const accepts = up.filter((l) => l.startsWith("-A UPDATEIO-VPN ")).map((l) => l.replace(/-d \S+ /, "-d <net> "));
    expect(accepts).toEqual([
      "-A UPDATEIO-VPN -d <net> -p tcp --dport 80 -j ACCEPT",
      "-A UPDATEIO-VPN -d <net> -p tcp --dport 443 -j ACCEPT",
      "-A UPDATEIO-VPN -d <net> -p tcp --dport 15672 -j ACCEPT",
      "-A UPDATEIO-VPN -j DROP",
    ]);
    expect(up).toContain("-A FORWARD -i %i -j UPDATEIO-VPN");
    expect(up).toContain("-A FORWARD -o %i -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT");
    expect(up).toContain("-A FORWARD -o %i -j DROP");
    const down = lines.filter((l) => l.startsWith("PostDown = iptables-nft")).map((l) => l.slice("PostDown = iptables-nft ".length));
    const undone = up
      .filter((l) => / -A /.test(` ${l}`) && !l.startsWith("-A UPDATEIO-VPN"))
      .map((l) => l.replace(" -A ", " -D ").replace(/^-A /, "-D "))
      .reverse();
    expect(down).toEqual([...undone, "-F UPDATEIO-VPN", "-X UPDATEIO-VPN"]);
    // peers sorted by name, each with its own /32 only
    expect(conf.slice(conf.indexOf("[Peer]"))).toBe(
      `[Peer]\n# alice\nPublicKey = ${ALICE}\nAllowedIPs = 10.13.13.2/32\n\n[Peer]\n# bob\nPublicKey = ${BOB}\nAllowedIPs = 10.13.13.3/32\n`,
    );
  });

  it("runs an entrypoint that checks its tools and that the key matches the configured public key", () => {
    const script = upload("/etc/vpn-gateway/entrypoint.sh")!;
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    expect(script).toContain("\nset -e\n");
    expect(script).toContain('[ -n "$VPN_PRIVATE_KEY_FILE" ] || VPN_PRIVATE_KEY_FILE=/run/secrets/wg_private_key\n');
    expect(script).toContain(`VPN_EXPECTED_PUBLIC_KEY=${SERVER}\n`);
    expect(script).toContain("for tool in wg wg-quick ip iptables-nft; do");
    expect(script).toContain('[ "$pub" != "$VPN_EXPECTED_PUBLIC_KEY" ]');
    // health: the live interface runs with the key on disk
    expect(script).toContain('[ "$live" = "$want" ] || die');
    expect(script).toBe(vpn.entrypointScript);
  });

  it("runs hardened: read-only rootfs, only NET_ADMIN, no-new-privileges, 64 MiB, our entrypoint instead of /init", () => {
    expect(text).toHaveResourceWithProperties(Container, {
      name: "prod-vpn",
      read_only: true,
      user: "0:0",
      privileged: false,
      capabilities: { drop: ["ALL"], add: ["NET_ADMIN"] },
      security_opts: ["no-new-privileges:true"],
      memory: 64,
      memory_swap: 64,
      restart: "unless-stopped",
      entrypoint: ["sh", "/etc/vpn-gateway/entrypoint.sh"],
      command: ["run"],
      sysctls: { "net.ipv4.ip_forward": "1" },
    });
    expect(c.labels).toContainEqual({ label: "io.updateio.component", value: "proxy" });
    expect(c.labels).toContainEqual({ label: "io.updateio.role", value: "vpn-gateway" });
    expect(c.healthcheck).toEqual({
      test: ["CMD", "sh", "/etc/vpn-gateway/entrypoint.sh", "health"],
      interval: "30s",
      timeout: "5s",
      retries: 3,
      start_period: "10s",
    });
    expect(c.tmpfs).toEqual({ "/config": "rw,noexec,nosuid,size=1m", "/tmp": "rw,noexec,nosuid,size=64m" });
  });

  it("publishes exactly the WireGuard UDP port", () => {
    expect(c.ports).toEqual([{ internal: 51820, external: 51820, ip: "0.0.0.0", protocol: "udp" }]);
  });

  it("joins the publish network and the routed networks, nothing else", () => {
    expect(c.networks_advanced.map((n: Json) => n.name)).toEqual([
      ref("docker_network", "prod-egress"),
      ref("docker_network", "prod-edge"),
      ref("docker_network", "prod-rabbitmq"),
    ]);
  });

  it("records each weakened default as a policy suppression with its written reason", () => {
    const own = Object.fromEntries(
      suppressionsOf(vpn.service)
        .filter((s) => s.constructPath === vpn.service.node.path)
        .map((s) => [s.ruleId, s.reason]),
    );
    expect(Object.keys(own).sort()).toEqual(["capabilities-dropped", "non-root", "published-ports"]);
    for (const reason of Object.values(own)) expect(reason.length).toBeGreaterThan(60);
    expect(own["capabilities-dropped"]).toMatch(/NET_ADMIN only/);
    expect(own["published-ports"]).toMatch(/WireGuard UDP port/);
    expect(own["non-root"]).toMatch(/Docker grants to root only/);
    // Each holds for the gateway's image only, so nothing else made under the service borrows it.
    const images = suppressionsOf(vpn.service)
      .filter((s) => s.constructPath === vpn.service.node.path)
      .map((s) => [s.ruleId, s.image]);
    expect(
      images.every(([, image]) => image === "lscr.io/linuxserver/wireguard"),
      JSON.stringify(images),
    ).toBe(true);
  });

  it("passes the prod policy pack: no blocking finding, and the three rules it trips are suppressed", () => {
    const findings = evaluatePolicy(stack, { environment: "prod" }).filter((f) => f.constructPath.startsWith("prod/vpn"));
    expect(blockingFindings(findings).map((f) => f.message)).toEqual([]);
    const suppressed = findings
      .filter((f) => f.suppressed && f.resourceName === key("docker_container", "prod-vpn"))
      .map((f) => f.ruleId)
      .sort();
    expect(suppressed).toEqual(["capabilities-dropped", "non-root", "published-ports"]);
    expect(findings.find((f) => f.ruleId === "capabilities-dropped")!.message).toContain('adds back "NET_ADMIN"');
  });

  it("delivers the private key and the pre-shared key as secret files only, never in env or config", () => {
    expect(upload("/run/secrets/wg_private_key")).toBe("${var.vpn_private_key}");
    expect(upload("/run/secrets/wg_psk_bob")).toBe("${var.vpn_psk_bob}");
    expect(c.env ?? []).toEqual([]);
    expect(text.match(/var\.vpn_private_key/g)).toHaveLength(1);
    expect(text.match(/var\.vpn_psk_bob/g)).toHaveLength(1);
    const conf = upload("/etc/vpn-gateway/wg0.conf")!;
    expect(conf).toContain("PostUp = wg set %i private-key /run/secrets/wg_private_key\n");
    expect(conf).toContain(`PostUp = wg set %i peer ${BOB} preshared-key /run/secrets/wg_psk_bob\n`);
    expect(conf).not.toMatch(/^\s*(PrivateKey|PresharedKey)\s*=/m);
    expect(c.volumes).toContainEqual({
      volume_name: ref("docker_volume", "prod-vpn-secrets"),
      container_path: "/run/secrets",
      read_only: true,
    });
    expect(vpn.keyMode).toBe("supplied");
    expect(vpn.keyVolume).toBeUndefined();
    expect(vpn.entrypointScript).toContain("VPN_KEY_MODE=supplied\n");
    expect(vpn.entrypointScript).toContain(`VPN_EXPECTED_PUBLIC_KEY=${SERVER}\n`);
  });

  it("routes to the networks' subnets as Docker reports them at apply time", () => {
    const conf = upload("/etc/vpn-gateway/wg0.conf")!;
    const edgeSubnet = `\${tolist(docker_network.${key("docker_network", "prod-edge")}.ipam_config).0.subnet}`;
    const rabbitSubnet = `\${tolist(docker_network.${key("docker_network", "prod-rabbitmq")}.ipam_config).0.subnet}`;
    expect(conf).toContain(`PostUp = iptables-nft -A UPDATEIO-VPN -d ${edgeSubnet} -p tcp --dport 443 -j ACCEPT\n`);
    expect(conf).toContain(`PostUp = iptables-nft -A UPDATEIO-VPN -d ${rabbitSubnet} -p tcp --dport 15672 -j ACCEPT\n`);
    expect(conf).toContain(`PostUp = iptables-nft -t nat -A POSTROUTING -s 10.13.13.0/24 -d ${edgeSubnet} -j MASQUERADE\n`);
    // The only Terraform expressions in the uploaded text are those subnets (Terraform would read any
    // other "${" as a template and fail).
    for (const u of seed.upload as Json[]) {
      if (u.file.startsWith("/run/secrets/")) continue;
      for (const expr of (u.content as string).match(/\$\{[^}]*\}/g) ?? []) expect([edgeSubnet, rabbitSubnet]).toContain(expr);
      expect(u.content).not.toContain("%{");
    }
    // The client template, output through Terraform, gets the same subnets.
    const out = json.output.vpn_client_alice.value as string;
    expect(out).toContain(`AllowedIPs = 10.13.13.0/24, ${edgeSubnet}, ${rabbitSubnet}\n`);
  });

  it("exposes the attributes operators and the environment need", () => {
    expect(vpn.serverAddress).toBe("10.13.13.1");
    expect(vpn.subnet).toBe("10.13.13.0/24");
    expect(vpn.listenPort).toBe(51820);
    expect(vpn.allowListCidrs).toEqual(DOCKER_DEFAULT_ADDRESS_POOLS);
    expect(vpn.publicKeyCommand).toBe("docker exec prod-vpn wg show wg0 public-key");
    expect(vpn.containerName).toBe("prod-vpn");
    expect(Object.keys(vpn.peerConfigs)).toEqual(["alice", "bob"]);
    const bob = vpn.peerConfigs.bob!;
    expect(bob).toContain(`PrivateKey = ${PEER_PLACEHOLDERS.privateKey}\n`);
    expect(bob).toContain(`PresharedKey = ${PEER_PLACEHOLDERS.presharedKey}\n`);
    expect(bob).toContain(`PublicKey = ${SERVER}\n`);
    expect(bob).toContain("Endpoint = vpn.updateio.app:51820\n");
    expect(bob).toContain("Address = 10.13.13.3/32\n");
    expect(vpn.peerConfigs.alice).not.toContain("PresharedKey");
  });

  it("pins its default image by digest", () => {
    expect(isPinnedByDigest(VPN_GATEWAY_IMAGE)).toBe(true);
    expect(Object.values(json.resource.docker_image).map((i) => (i as Json).name)).toEqual([VPN_GATEWAY_IMAGE]);
  });
});

describe("VpnGateway (generated key)", () => {
  it("keeps the generated key on its own volume (protected in prod), with no secret files", () => {
    const { vpn, c, seed, ref, json, text, stack } = build(() => ({}), { supplied: false });
    expect(vpn.keyMode).toBe("generated");
    expect(text).toHaveResourceWithProperties(Volume, { name: "prod-vpn-keys", lifecycle: { prevent_destroy: true } });
    expect(c.volumes).toContainEqual({
      volume_name: ref("docker_volume", "prod-vpn-keys"),
      container_path: "/var/lib/wireguard",
      read_only: false,
    });
    expect(Object.values(json.resource.docker_volume).some((v) => (v as Json).name === "prod-vpn-secrets")).toBe(false);
    expect((seed.upload as Json[]).map((u) => u.file)).toEqual(["/etc/vpn-gateway/entrypoint.sh", "/etc/vpn-gateway/wg0.conf"]);
    expect(vpn.serverConfig).toContain("PostUp = wg set %i private-key /var/lib/wireguard/private.key\n");
    expect(vpn.entrypointScript).toContain("VPN_KEY_MODE=generated\n");
    expect(vpn.peerConfigs.alice).toContain(`PublicKey = ${PEER_PLACEHOLDERS.serverPublicKey}\n`);
    expect(vpn.peerConfigs.alice).toContain("# PublicKey: the server's, printed by: docker exec prod-vpn wg show wg0 public-key");
    expect(blockingFindings(evaluatePolicy(stack, { environment: "prod" }).filter((f) => f.constructPath.startsWith("prod/vpn")))).toEqual(
      [],
    );
  });

  it("without protection in prod the policy blocks the key volume (losing it re-keys every client)", () => {
    const { stack } = build(() => ({ protectData: false }), { supplied: false });
    const blocking = blockingFindings(evaluatePolicy(stack, { environment: "prod" }).filter((f) => f.constructPath.startsWith("prod/vpn")));
    expect(blocking.map((f) => f.ruleId)).toEqual(["prod-volume-protected"]);
  });

  it("dev: bound to 127.0.0.1 on request, other port and subnet, no prevent_destroy", () => {
    const { c, vpn, text, json, key } = build(
      () => ({
        bindAddress: "127.0.0.1",
        listenPort: 51999,
        subnet: "10.99.0.0/24",
        peers: [{ name: "dev", publicKey: ALICE, allowedIps: "10.99.0.2/32" }],
      }),
      { supplied: false, env: "dev" },
    );
    expect(c.ports).toEqual([{ internal: 51999, external: 51999, ip: "127.0.0.1", protocol: "udp" }]);
    expect(vpn.serverConfig).toContain("Address = 10.99.0.1/24\nListenPort = 51999\n");
    expect(vpn.serverAddress).toBe("10.99.0.1");
    expect(text).toHaveResourceWithProperties(Volume, { name: "dev-vpn-keys" });
    expect(json.resource.docker_volume[key("docker_volume", "dev-vpn-keys")].lifecycle).toBeUndefined();
  });
});

describe("VpnGateway: invalid props", () => {
  it("reports every problem at once, each naming its prop and the fix", () => {
    let message = "";
    try {
      build(({ egress, edge }) => ({
        privateKey: "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
        publicKey: "not-a-key",
        bindAddress: "10.0.0.5",
        memoryMb: 16,
        publishNetwork: edge,
        routes: [
          { network: edge, tcpPorts: [443] },
          { network: egress, tcpPorts: [] },
          { network: egress, tcpPorts: [80] },
        ],
        peers: [
          { name: "alice", publicKey: ALICE, allowedIps: "10.13.14.2/32", presharedKey: "literal-psk" },
          { name: "alice", publicKey: ALICE, allowedIps: "10.13.13.1/32" },
        ],
        allowListCidrs: ["172.16.0.1/12"],
      }));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^VpnGateway prod\/vpn is invalid:\n/);
    for (const expected of [
      "privateKey: is a literal, which would land in the synthesized JSON; pass a sensitive Terraform variable's value",
      "peers[0].presharedKey: is a literal",
      'publicKey: "not-a-key" is not a WireGuard public key',
      'bindAddress: "10.0.0.5" must be "0.0.0.0" (reachable by operators) or "127.0.0.1" (this host only)',
      "memoryMb: 16 must be a whole number ≥ 32",
      'publishNetwork: the "edge" network is internal, and Docker publishes no ports for a container on internal networks only; pass the egress network',
      "routes[0].network: is the publish network (the way out); route only internal networks",
      'routes[2].network: the "egress" network is routed twice; merge the two routes\' ports',
      'allowListCidrs[0]: "172.16.0.1/12" is not an IPv4 CIDR with a network address',
      "routes[1].tcpPorts is empty",
      'peers[0] ("alice").allowedIps "10.13.14.2/32" is outside the VPN subnet 10.13.13.0/24',
      'peers[1] ("alice").name is also peers[0]\'s name',
      'peers[1] ("alice").publicKey is also peers[0]\'s key',
      'peers[1] ("alice").allowedIps "10.13.13.1/32" is the server\'s own address',
    ]) {
      expect(message).toContain(`  - ${expected}`);
    }
  });

  it("needs at least one route and a key token that is not empty", () => {
    expect(() => build(({ privateKey }) => ({ routes: [], privateKey: `${privateKey}`.slice(0, 0) }))).toThrow(
      /privateKey: is empty[\s\S]*routes: is empty; list what operators may reach/,
    );
  });
});
