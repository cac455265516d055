/**
 * A red-team pass over the provider's full schema (kreuzwerker/docker 3.6.2): routes past the policy
 * that the earlier bypass tests did not cover. Each attack must produce an error finding of the
 * named rule; where a fix narrowed a rule, our stacks' own form is shown to pass beside it.
 *
 * Routes that got through, and the rule that now refuses them:
 *   - DNS search domains / resolver options (dns_search, dns_opts; dns_config.search/options on
 *     services): redirect a short name such as `db` anywhere                     → no-extra-hosts
 *   - bridge driver options (bridge.name = a host bridge, gateway_mode_ipv4 nat-unprotected),
 *     an IPAM plugin, ipam_options                                                → network-driver
 *   - docker_image build.context / build.dockerfile: a literal host path ("/", "/etc/shadow") or a
 *     relative path climbing to / or into .ssh (the applier's files sent to the engine); a build
 *     outside dev                                                                 → no-host-paths
 *   - build.builder naming a builder set up outside the stack                     → no-host-namespaces
 *   - a bind of the checkout with rshared propagation (the relative form skipped the check) → no-host-paths
 *   - the socket proxy with another volume or mount (over its filter configuration), or a
 *     healthcheck command of our choosing (it runs next to the socket)            → no-docker-socket
 *   - a resource created inside a suppressed resource borrowing its suppression   → (aspect) any rule
 *   - a workload taking another image's network alias (its clients connect to it) → declared-networks
 *   - a tmpfs with exec, suid or dev (the engine appends them to its noexec,nosuid,nodev defaults,
 *     and the last word wins), size=0 (unlimited), or no size                   → tmpfs-options
 *
 * Routes that were already closed, kept here because no other test has the case: a Swarm volume
 * whose local driver options bind /, a Swarm "cluster" mount, Swarm groups ["0"], a Swarm service
 * on the "host" network, a host-mode port on a non-edge Swarm service, network_mode "Container:x"
 * (mixed case), uts_mode host, an "npipe" mount of the socket, security_opts "label=disable" and
 * "label:disable", and a docker_volume whose driver_opts say only o=bind.
 */
import { Image, type ImageBuild } from "@cdktf/provider-docker/lib/image";
import { Network } from "@cdktf/provider-docker/lib/network";
import { describe, expect, it } from "vitest";
import { blockingFindings, suppressPolicy } from "../../constructs/policy/policy-aspect";
import type { Environment } from "../../constructs/policy/rules";
import {
  attacked,
  blockingMessages,
  blockingRuleIds,
  container,
  DIGEST,
  expectCaught,
  findings,
  fixture,
  image,
  labels,
  set,
  SOCKET_PROXY_IMAGE,
  type Fixture,
} from "./fixtures";
import { attackedService } from "./swarm-fixtures";

const SPEC = "task_spec.container_spec";
/** A host path relative to the stack directory, the way the kit writes it. */
const rel = (...parts: string[]) => `\${abspath(join("/", [path.root${parts.map((p) => `, "${p}"`).join("")}]))}`;
const SOURCE_DIR = rel("../../..", "examples/reference-service");
const PROXY_PROBE = ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:2375/_ping"];

describe("DNS search domains and resolver options (no-extra-hosts)", () => {
  it.each([
    ["dns_search", ["evil.example"]],
    ["dns_opts", ["ndots:15"]],
  ])("a container setting %s", (key, value) => expectCaught(attacked(set(key, value)), "no-extra-hosts", key));
  it.each([
    ["search", { nameservers: [], search: ["evil.example"] }],
    ["options", { nameservers: [], options: ["ndots:15"] }],
  ])("a service setting dns_config.%s", (key, config) =>
    expectCaught(
      attackedService((s) => s.addOverride(`${SPEC}.dns_config`, config)),
      "no-extra-hosts",
      `dns_config.${key}`,
    ),
  );
  it("the compliant container and service set none and pass", () => {
    expect(
      blockingMessages(
        attacked(() => undefined),
        "no-extra-hosts",
      ),
    ).toEqual([]);
    expect(
      blockingMessages(
        attackedService(() => undefined),
        "no-extra-hosts",
      ),
    ).toEqual([]);
  });
});

describe("network driver options and IPAM (network-driver)", () => {
  const withNetwork = (props: Record<string, unknown>) => {
    const f = fixture("prod");
    container(f);
    new Network(f.stack, "lan", { name: "prod-lan", ...props });
    return f;
  };
  it.each([
    ["a bridge enslaved to the host's LAN bridge", { options: { "com.docker.network.bridge.name": "br0" } }, "bridge.name"],
    [
      "ports reachable without publishing",
      { options: { "com.docker.network.bridge.gateway_mode_ipv4": "nat-unprotected" } },
      "gateway_mode_ipv4",
    ],
    [
      "published ports bound to every interface",
      { options: { "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0" } },
      "host_binding_ipv4",
    ],
    ["an option key with a trailing space", { options: { "encrypted ": "" } }, '"encrypted "'],
    ["an IPAM plugin", { ipamDriver: "evil-ipam" }, "ipam_driver"],
    ["IPAM options", { ipamOptions: { "com.docker.network.ipam.serial": "x" } }, "ipam_options"],
  ])("%s", (_name, props, part) => expectCaught(withNetwork(props), "network-driver", part));
  it("our networks pass: an encrypted internal overlay, a plain bridge, the default IPAM", () => {
    const f = withNetwork({ driver: "overlay", internal: true, attachable: true, options: { encrypted: "" }, ipamDriver: "default" });
    expect(blockingMessages(f, "network-driver")).toEqual([]);
  });
});

describe("docker_image builds read the applier's files (no-host-paths, no-host-namespaces)", () => {
  const build = (environment: Environment, buildAttribute: ImageBuild) => {
    const f = fixture(environment);
    container(f);
    new Image(f.stack, "built", { name: "updateio-dev/api:dev", keepLocally: true, buildAttribute });
    return f;
  };
  const OURS = {
    builder: "default",
    context: SOURCE_DIR,
    dockerfile: rel("../../..", "examples/reference-service/Dockerfile"),
    tag: ["updateio-dev/api:dev"],
    target: "dev",
  };

  it.each([
    ["a literal context of /", { context: "/" }, 'build.context = "/"'],
    ["a literal context of the applier's home", { context: "/root" }, "build.context"],
    ["a relative context that climbs to /", { context: rel("../../../../../../../..") }, "build.context"],
    ["a relative context into the .ssh next to the checkout", { context: rel("../../../..", ".ssh") }, '".ssh"'],
    [
      "a Dockerfile that is a host file (a parse error prints its first line)",
      { context: SOURCE_DIR, dockerfile: "/etc/shadow" },
      "build.dockerfile",
    ],
    ["a Dockerfile climbing out of the context", { context: SOURCE_DIR, dockerfile: "../../../etc/shadow" }, "build.dockerfile"],
    [
      "a relative Dockerfile under /etc",
      { context: SOURCE_DIR, dockerfile: rel("../../../../../../../..", "etc/shadow") },
      "build.dockerfile",
    ],
  ])("%s", (_name, attr, part) => expectCaught(build("dev", attr), "no-host-paths", part));

  it("a build outside dev, even one no container runs (apply builds it all the same)", () =>
    expectCaught(build("prod", OURS), "no-host-paths", "outside dev"));
  it("a builder set up outside the stack", () =>
    expectCaught(build("dev", { ...OURS, builder: "remote-insecure" }), "no-host-namespaces", 'builder = "remote-insecure"'));
  it("our own build passes in dev", () => {
    expect(blockingRuleIds(build("dev", OURS)).filter((id) => id === "no-host-paths" || id === "no-host-namespaces")).toEqual([]);
  });
  it("a plain Dockerfile name, which the provider reads from Terraform's working directory (state, .terraform)", () =>
    expectCaught(build("dev", { context: SOURCE_DIR, dockerfile: "terraform.tfstate" }), "no-host-paths", "build.dockerfile"));
});

describe("a bind of the checkout with shared propagation (no-host-paths)", () => {
  it("rshared on the dev source bind", () =>
    expectCaught(
      attacked(set("mounts", [{ type: "bind", source: SOURCE_DIR, target: "/app", bind_options: { propagation: "rshared" } }]), "dev"),
      "no-host-paths",
      "rshared propagation",
    ));
  it("the dev source bind without propagation still passes in dev", () =>
    expect(
      blockingMessages(attacked(set("mounts", [{ type: "bind", source: SOURCE_DIR, target: "/app" }]), "dev"), "no-host-paths"),
    ).toEqual([]));
});

describe("the socket proxy's other doors (no-docker-socket)", () => {
  const SOCKET = { hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock", readOnly: true };
  const proxy = (f: Fixture, overrides: Record<string, unknown>) =>
    container(
      f,
      {
        image: image(f, "proxy-image", SOCKET_PROXY_IMAGE).imageId,
        labels: labels(f.environment, "proxy", { "io.updateio.role": "docker-socket-proxy" }),
        volumes: [SOCKET],
        env: [],
        healthcheck: { test: PROXY_PROBE },
        ...overrides,
      },
      "docker-socket-proxy",
    );
  it.each([
    [
      "a seeded volume over its filter configuration",
      (f: Fixture) => ({ volumes: [SOCKET, { volumeName: f.volume.name, containerPath: "/usr/local/etc/haproxy", readOnly: true }] }),
      "volumes[1]",
    ],
    [
      "a mount over its filter configuration",
      (f: Fixture) => ({ mounts: [{ type: "volume", target: "/usr/local/etc/haproxy", source: f.volume.name }] }),
      "mounts[0]",
    ],
    [
      "a healthcheck that relays the socket to a TCP port",
      () => ({ healthcheck: { test: ["CMD-SHELL", "socat TCP-LISTEN:2376,fork UNIX-CONNECT:/var/run/docker.sock &"] } }),
      "healthcheck.test",
    ],
    [
      "a healthcheck in exec form that listens with a shell",
      () => ({ healthcheck: { test: ["CMD", "nc", "-lk", "-p", "2376", "-e", "sh"] } }),
      "healthcheck.test",
    ],
    [
      "a wget probe of another host",
      () => ({ healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://evil.example/"] } }),
      "healthcheck.test",
    ],
  ])("%s", (_name, overrides, part) => {
    const f = fixture("prod");
    proxy(f, overrides(f));
    expectCaught(f, "no-docker-socket", part);
  });
  it("our proxy (the socket read-only, its wget probe) passes", () => {
    const f = fixture("prod");
    proxy(f, {});
    expect(blockingMessages(f, "no-docker-socket")).toEqual([]);
  });
});

describe("suppressions are not borrowed by a resource made inside a suppressed resource (policy aspect)", () => {
  const REASON = "seed container never starts; Docker accepts uploads only into a writable rootfs";
  it("a container created inside a container whose read-only-rootfs is suppressed", () => {
    const f = fixture("prod");
    const seed = container(f, { readOnly: false }, "seed");
    suppressPolicy(seed, "read-only-rootfs", REASON);
    container(f, { readOnly: false, name: "prod-evil" }, "evil", seed);
    const found = blockingFindings(findings(f, "read-only-rootfs"));
    expect(found.map((x) => x.constructPath)).toEqual(["prod/seed/evil"]);
  });
  it("the suppressed resource itself, and a resource below a suppressed construct, stay covered", () => {
    const f = fixture("prod");
    const seed = container(f, { readOnly: false }, "seed");
    suppressPolicy(seed, "read-only-rootfs", REASON);
    expect(blockingFindings(findings(f, "read-only-rootfs"))).toEqual([]);
    expect(findings(f, "read-only-rootfs").map((x) => x.suppressed?.scopePath)).toEqual(["prod/seed"]);
  });
});

describe("a workload taking another image's network alias (declared-networks)", () => {
  const OTHER = `registry.example/updateio/api:1.2.3@${DIGEST}`;
  it("an app container answering to the database's alias on the database network", () => {
    const f = fixture("prod");
    container(f); // the database, alias "db"
    const other = image(f, "api-image", OTHER);
    container(
      f,
      {
        name: "prod-api",
        image: other.imageId,
        labels: labels("prod", "app"),
        networksAdvanced: [{ name: f.internalNet.name, aliases: ["DB"] }],
      },
      "api",
    );
    expectCaught(f, "declared-networks", 'answers to "db"');
  });
  it("a container named like another's alias", () => {
    const f = fixture("prod");
    container(f);
    const other = image(f, "api-image", OTHER);
    container(
      f,
      { name: "db", image: other.imageId, labels: labels("prod", "app"), networksAdvanced: [{ name: f.internalNet.name }] },
      "api",
    );
    expectCaught(f, "declared-networks", 'answers to "db"');
  });
  it("replicas of one image sharing an alias (the RabbitMQ cluster) pass", () => {
    const f = fixture("prod");
    container(f, { name: "prod-db-1", networksAdvanced: [{ name: f.internalNet.name, aliases: ["db"] }] }, "db1");
    container(f, { name: "prod-db-2", networksAdvanced: [{ name: f.internalNet.name, aliases: ["db"] }] }, "db2");
    expect(blockingMessages(f, "declared-networks")).toEqual([]);
  });
});

describe("routes already closed (new cases)", () => {
  it.each([
    [
      "a Swarm volume whose local driver options bind /",
      () =>
        attackedService((s) =>
          s.addOverride(`${SPEC}.mounts`, [
            {
              target: "/h",
              type: "volume",
              volume_options: { driver_name: "local", driver_options: { type: "none", o: "bind", device: "/" } },
            },
          ]),
        ),
      "no-host-paths",
    ],
    [
      "a Swarm cluster mount",
      () => attackedService((s) => s.addOverride(`${SPEC}.mounts`, [{ target: "/h", type: "cluster", source: "vol" }])),
      "no-host-paths",
    ],
    ['Swarm groups ["0"]', () => attackedService((s) => s.addOverride(`${SPEC}.groups`, ["0"])), "non-root"],
    [
      "a Swarm service on the host network",
      () => attackedService((s) => s.addOverride("task_spec.networks_advanced", [{ name: "host" }])),
      "declared-networks",
    ],
    [
      "a host-mode port on a non-edge Swarm service",
      () =>
        attackedService((s) =>
          s.addOverride("endpoint_spec", { ports: [{ target_port: 22, published_port: 2222, publish_mode: "host" }] }),
        ),
      "published-ports",
    ],
    ['network_mode "Container:x"', () => attacked(set("network_mode", "Container:prod-x")), "no-host-namespaces"],
    ["uts_mode host", () => attacked(set("uts_mode", "host")), "no-host-namespaces"],
    [
      "an npipe mount of the socket",
      () => attacked(set("mounts", [{ type: "npipe", source: "/var/run/docker.sock", target: "/s" }])),
      "no-docker-socket",
    ],
    ['security_opts "label=disable"', () => attacked(set("security_opts", ["label=disable"])), "no-unconfined-profiles"],
    ['security_opts "label:disable"', () => attacked(set("security_opts", ["label:disable"])), "no-unconfined-profiles"],
    [
      "a docker_volume whose driver_opts say only o=bind",
      () => {
        const f = fixture("prod");
        container(f);
        f.stack.addOverride("resource.docker_volume.db-data.driver_opts", { o: "bind", device: "etc" });
        return f;
      },
      "plain-volumes",
    ],
  ] as const)("%s", (_name, mk, ruleId) => expectCaught(mk(), ruleId));
});

describe("tmpfs options (tmpfs-options)", () => {
  const tmpfs = (options: unknown, path = "/tmp") => set("tmpfs", { [path]: options });

  it.each([
    ["exec after our options (the engine applies the last word)", "rw,noexec,nosuid,size=64m,exec", "exec"],
    ["suid", "rw,noexec,suid,size=64m", "suid"],
    ["dev", "rw,noexec,nosuid,dev,size=64m", "dev"],
    ["exec with a space before it", "rw,noexec,nosuid,size=64m, exec", " exec"],
    ["EXEC in capitals", "rw,noexec,nosuid,size=64m,EXEC", "EXEC"],
    ["size=0, which tmpfs reads as unlimited", "rw,noexec,nosuid,size=0", "size=0"],
    ["a size in percent of the host's memory", "rw,noexec,nosuid,size=50%", "size=50%"],
    ["an option the list does not have", "rw,noexec,nosuid,size=64m,mpol=bind", "mpol=bind"],
  ])("%s", (_what, options, refused) => expectCaught(attacked(tmpfs(options)), "tmpfs-options", `with ${JSON.stringify(refused)}`));

  it.each([
    ["no options at all (no size)", "", "without noexec, nosuid, size="],
    ["no noexec", "rw,nosuid,size=64m", "without noexec"],
    ["no size", "rw,noexec,nosuid", "without size="],
  ])("%s", (_what, options, says) => expectCaught(attacked(tmpfs(options)), "tmpfs-options", says));

  it.each([
    ["a relative path", tmpfs("rw,noexec,nosuid,size=64m", "tmp")],
    ["an expression as the path", tmpfs("rw,noexec,nosuid,size=64m", "${var.path}")],
    ["an expression as the options", tmpfs("${var.tmpfs_options}")],
    ["a number as the options", tmpfs(64)],
    ["the whole map as an expression", set("tmpfs", "${var.tmpfs}")],
  ])("%s", (_what, attack) => expectCaught(attacked(attack), "tmpfs-options"));

  it("our form passes, with or without mode, uid, gid and nodev", () => {
    for (const options of ["rw,noexec,nosuid,size=64m", "rw,noexec,nosuid,nodev,size=1m,mode=1777,uid=1000,gid=1000"])
      expect(blockingMessages(attacked(tmpfs(options)), "tmpfs-options")).toEqual([]);
  });
});
