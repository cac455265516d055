/**
 * The policy against an attacker: each case is a way a previous review got past it (or one of
 * their neighbours), written the way an attacker would write it, mostly through the escape hatch
 * (addOverride on the synthesized JSON) or raw provider resources, never through the kit. Every
 * case must produce an error finding of the named rule.
 */
import { Image } from "@cdktf/provider-docker/lib/image";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { TerraformResource, TerraformVariable } from "cdktf";
import { describe, expect, it } from "vitest";
import { blockingFindings } from "../../constructs/policy/policy-aspect";
import type { Environment } from "../../constructs/policy/rules";
import { attacked, CADDY_IMAGE, container, findings, fixture, image, labels, set, type Attack } from "./fixtures";
import { service, swarmFixture } from "./swarm-fixtures";

/** Error findings on the stack after `attack` on the compliant container. */
const attack = (fn: Attack, environment: Environment = "prod") => blockingFindings(findings(attacked(fn, environment)));
const ruleIds = (list: { ruleId: string }[]) => [...new Set(list.map((x) => x.ruleId))];

function expectCaught(fn: Attack, ruleId: string, environment: Environment = "prod") {
  const found = attack(fn, environment);
  expect(
    ruleIds(found),
    JSON.stringify(
      found.map((x) => x.message),
      null,
      1,
    ),
  ).toContain(ruleId);
}

describe("values hidden in Terraform expressions", () => {
  it.each([
    ['privileged = "${true}"', set("privileged", "${true}"), "not-privileged"],
    ['privileged = "true"', set("privileged", "true"), "not-privileged"],
    ['privileged = "${1 == 1}"', set("privileged", "${1 == 1}"), "not-privileged"],
    ['memory = "${0}"', set("memory", "${0}"), "memory-limit"],
    ['memory = "${var.m}" (no vouch)', set("memory", "${var.m}"), "memory-limit"],
    ["memory = 10 TB", set("memory", 10_000_000), "memory-limit"],
    ["memory_swap = -1", set("memory_swap", -1), "memory-limit"],
    ["user = '${\"0\"}'", set("user", '${"0"}'), "non-root"],
    ['user = "${local.u}"', set("user", "${local.u}"), "non-root"],
    ['read_only = "${false}"', set("read_only", "${false}"), "read-only-rootfs"],
    ['publish_all_ports = "${true}"', set("publish_all_ports", "${true}"), "published-ports"],
    ["image = '${\"nginx:latest\"}'", set("image", '${"nginx:latest"}'), "image-digest"],
    ["restart = '${\"always\"}' (a compliant value, still hidden)", set("restart", '${"always"}'), "no-unjudged-expressions"],
    ["sysctls key as an expression", set("sysctls", { "${var.k}": "1" }), "no-unjudged-expressions"],
    // Meta-arguments are skipped at the top of the resource only, not below a key named "".
    ['"" = { lifecycle = "${var.x}" }', set(".lifecycle", "${var.x}"), "no-unjudged-expressions"],
    [
      "a dynamic block",
      set("dynamic.devices", { for_each: "${var.d}", content: { host_path: "${devices.value}" } }),
      "no-unjudged-expressions",
    ],
    [
      "network by a reference to an undeclared network",
      set("networks_advanced", [{ name: "${docker_network.ghost.name}" }]),
      "no-unjudged-expressions",
    ],
  ] as const)("%s", (_name, fn, ruleId) => expectCaught(fn, ruleId));

  it("every wrapped literal is reported by the guard too, whatever the other rules think", () => {
    const found = attack(set("privileged", "${false}"));
    expect(ruleIds(found)).toEqual(["no-unjudged-expressions"]);
  });
});

describe("root in every spelling", () => {
  it.each([
    "0",
    "00",
    "000",
    "0:0",
    "root",
    "ROOT",
    "root:root",
    "0000:1",
    "0:999",
    "+0",
    "-0",
    "  0",
    "0 ",
    "",
    "toor",
    "4294967296",
    "0:0:0",
  ])("user %j", (user) => expectCaught(set("user", user), "non-root"));
  it.each(["1000", "1000:1000", "999:0", "postgres", "nobody"])("user %j passes", (user) =>
    expect(ruleIds(attack(set("user", user)))).not.toContain("non-root"),
  );
  it.each([["docker"], ["0"], ["root"], ["disk"]])("group_add %j", (group) => expectCaught(set("group_add", [group]), "non-root"));
});

describe("host paths, normalised", () => {
  const bind = (hostPath: string, readOnly = false): Attack =>
    set("volumes", [{ host_path: hostPath, container_path: "/h", read_only: readOnly }]);
  it.each([
    "/var/./run",
    "/var//run/",
    "/var/run/../run/docker.sock",
    "/run/docker.sock",
    "/run",
    "/",
    "//",
    "/var/run/docker.sock/.",
    "/srv/../var/run",
  ])("socket: %j", (p) => expectCaught(bind(p, true), "no-docker-socket"));
  it.each([
    "/var/lib/docker",
    "/var/lib/docker/volumes",
    "/proc",
    "/proc/1/root",
    "/sys",
    "/sys/fs/cgroup",
    "/etc",
    "/etc/../etc/shadow",
    "/dev",
    "/root/.ssh",
    "/var/lib",
    "/var",
    "/boot",
  ])("sensitive: %j", (p) => expectCaught(bind(p, true), "no-host-paths"));
  it("a volume_name that is a path binds that path (the provider sends it as the bind source)", () =>
    expectCaught(set("volumes", [{ volume_name: "/var/run", container_path: "/h" }]), "no-docker-socket"));
  it("mounts type bind", () =>
    expectCaught(set("mounts", [{ type: "bind", source: "/proc", target: "/p", read_only: true }]), "no-host-paths"));
  it("mounts with rshared propagation", () =>
    expectCaught(
      set("mounts", [{ type: "bind", source: "/srv/x", target: "/x", bind_options: { propagation: "rshared" } }]),
      "no-host-paths",
    ));
  it("an inline volume whose driver options bind the socket directory", () =>
    expectCaught(
      set("mounts", [
        { type: "volume", target: "/x", volume_options: { driver_options: { type: "none", o: "bind", device: "/var/run" } } },
      ]),
      "no-docker-socket",
    ));
  it("a docker_volume with bind-like driver_opts", () => {
    const f = fixture("prod");
    const vol = new Volume(f.stack, "evil", {
      name: "evil",
      driverOpts: { type: "none", o: "bind", device: "/etc" },
      lifecycle: { preventDestroy: true },
    });
    container(f, { volumes: [{ volumeName: vol.name, containerPath: "/x" }] });
    expect(ruleIds(blockingFindings(findings(f)))).toEqual(expect.arrayContaining(["no-host-paths", "plain-volumes"]));
  });
  it("a docker_volume binding the socket directory", () => {
    const f = fixture("prod");
    new Volume(f.stack, "evil", { name: "evil", driverOpts: { device: "/var/run" }, lifecycle: { preventDestroy: true } });
    expect(ruleIds(blockingFindings(findings(f)))).toContain("no-docker-socket");
  });
  it("a volume this stack does not declare (created with bind options outside Terraform)", () =>
    expectCaught(set("volumes", [{ volume_name: "hostroot", container_path: "/h" }]), "plain-volumes"));
  it("volumes_from another container", () =>
    expectCaught(set("volumes", [{ from_container: "prod-docker-socket-proxy" }]), "no-volumes-from"));
  it.each([
    ['[path.root, "../../../../../../../../var/run"]', "no-host-paths"],
    ['[path.root, "../../../../.."]', "no-host-paths"],
  ])("a bind relative to the stack directory: %s", (parts, ruleId) =>
    expectCaught(bind(`\${abspath(join("/", ${parts}))}`), ruleId, "dev"),
  );
  it("a dev source bind next to the checkout passes in dev, not in prod", () => {
    const src = bind('${abspath(join("/", [path.root, "../../..", "../updateio/api"]))}');
    expect(ruleIds(attack(src, "dev"))).toEqual([]);
    expectCaught(src, "no-host-paths", "prod");
  });
});

describe("capabilities by allow-list", () => {
  it.each([
    ["DAC_OVERRIDE"],
    ["MKNOD"],
    ["SETFCAP"],
    ["FOWNER"],
    ["NET_RAW"],
    [" ALL"],
    ["all"],
    ["CAP_SYS_ADMIN"],
    ["cap_sys_admin "],
    ["Sys_Ptrace"],
    ["BPF"],
    ["NET_ADMIN"],
  ])("add %j", (cap) => expectCaught(set("capabilities.add", [cap]), "capabilities-dropped"));
  it.each([["NET_BIND_SERVICE"], ["cap_chown"]])("add %j passes", (cap) =>
    expect(ruleIds(attack(set("capabilities.add", [cap])))).not.toContain("capabilities-dropped"),
  );
  it('drop [" ALL"] is not a drop', () => {
    const f = fixture("prod");
    container(f, { capabilities: { drop: [" ALL"] } });
    expect(ruleIds(blockingFindings(findings(f)))).toContain("capabilities-dropped");
  });
  it('drop ["all"] is (the engine upper-cases it)', () => {
    const f = fixture("prod");
    container(f, { capabilities: { drop: ["all"] } });
    expect(findings(f, "capabilities-dropped")).toEqual([]);
  });
});

describe("security options", () => {
  it.each([
    [["no-new-privileges:true", "no-new-privileges:false"]],
    [["no-new-privileges", "no-new-privileges=false"]],
    [["no-new-privileges:0"]],
    [["no-new-privileges:yes"]],
    [["NO-NEW-PRIVILEGES:FALSE"]],
  ])("no-new-privileges %j (the last entry wins)", (opts) => {
    const f = fixture("prod");
    container(f, { securityOpts: opts });
    expect(ruleIds(blockingFindings(findings(f)))).toContain("no-new-privileges");
  });
  it.each([[["no-new-privileges"]], [["no-new-privileges=1"]]])("%j passes", (opts) => {
    const f = fixture("prod");
    container(f, { securityOpts: opts });
    expect(findings(f, "no-new-privileges")).toEqual([]);
  });
  // security_opts is a set: the provider sends it in hash order, not as written, so the ":false"
  // written first may still be the entry the engine receives (and applies) last.
  it('["no-new-privileges:false","no-new-privileges:true"] (a set: the order is not as written)', () => {
    const f = fixture("prod");
    container(f, { securityOpts: ["no-new-privileges:false", "no-new-privileges:true"] });
    expect(ruleIds(blockingFindings(findings(f)))).toContain("no-new-privileges");
  });
  it("appending :false after the kit's :true through the escape hatch", () =>
    expectCaught(set("security_opts", ["no-new-privileges:false"]), "no-new-privileges"));
  it.each([
    "seccomp=/tmp/allow-everything.json",
    "seccomp:unconfined",
    "apparmor=docker-unconfined",
    "label=type:spc_t",
    "label:disable",
    "systempaths=unconfined",
    "writable-cgroups=true",
  ])("%j", (opt) => expectCaught(set("security_opts", [opt]), "no-unconfined-profiles"));
});

describe("namespaces", () => {
  it.each([
    ["pid_mode", "host"],
    ["pid_mode", "container:prod-postgres"],
    ["ipc_mode", "host"],
    ["ipc_mode", "container:prod-postgres"],
    ["network_mode", "container:prod-postgres"],
    ["network_mode", " HOST"],
    ["userns_mode", "host"],
    ["cgroupns_mode", "host"],
  ])("%s = %j", (key, value) => expectCaught(set(key, value), "no-host-namespaces"));
});

describe("what a container IS, not what its labels say", () => {
  it("a postgres image labelled edge publishing 5432 in prod", () =>
    expectCaught((c) => {
      c.addOverride("labels", labels("prod", "edge"));
      c.addOverride("ports", [{ internal: 5432, external: 5432 }]);
    }, "published-ports"));
  it("a postgres image labelled app on a public network is still data", () =>
    expectCaught((c, f) => {
      c.addOverride("labels", labels("prod", "app"));
      c.addOverride("networks_advanced", [{ name: f.publicNet.name }]);
    }, "data-internal-networks"));
  it("another image with the socket proxy's role label mounting the socket", () =>
    expectCaught((c) => {
      c.addOverride("labels", labels("prod", "proxy", { "io.updateio.role": "docker-socket-proxy" }));
      c.addOverride("volumes", [{ host_path: "/var/run/docker.sock", container_path: "/s", read_only: true }]);
    }, "no-docker-socket"));
  it("the real edge (caddy) still may publish 443", () => {
    const f = fixture("prod");
    container(f, {
      image: image(f, "caddy", CADDY_IMAGE).imageId,
      labels: labels("prod", "edge"),
      ports: [{ internal: 443, external: 443 }],
    });
    expect(findings(f, "published-ports")).toEqual([]);
  });
});

describe("host resources and kernel settings", () => {
  it.each([
    ["privileged", set("privileged", true), "not-privileged"],
    ["devices", set("devices", [{ host_path: "/dev/sda", container_path: "/dev/sda", permissions: "rwm" }]), "no-devices"],
    ["gpus", set("gpus", "all"), "no-devices"],
    ["sysctl kernel.core_pattern", set("sysctls", { "kernel.core_pattern": "|/tmp/x" }), "sysctls-allowed"],
    ["sysctl net.ipv4.conf.all.route_localnet", set("sysctls", { "net/ipv4/conf/all/route_localnet": "1" }), "sysctls-allowed"],
    ["ulimit memlock", set("ulimit", [{ name: "memlock", soft: -1, hard: -1 }]), "ulimits-bounded"],
    ["ulimit nofile unlimited", set("ulimit", [{ name: "nofile", soft: -1, hard: -1 }]), "ulimits-bounded"],
    ["runtime nvidia", set("runtime", "nvidia"), "default-runtime"],
    ["storage_opts", set("storage_opts", { "dm.basesize": "1T", size: "10G" }), "no-storage-opts"],
    ["shm_size absurd", set("shm_size", 1_000_000), "shm-size-bounded"],
    ["shm_size as large as memory", set("shm_size", 512), "shm-size-bounded"],
    ["cgroup_parent", set("cgroup_parent", "/"), "no-cgroup-parent"],
    ["extra hosts (host-gateway)", set("host", [{ host: "registry.example", ip: "host-gateway" }]), "no-extra-hosts"],
    ["log max-size -1", set("log_opts", { "max-size": "-1", "max-file": "3" }), "log-rotation"],
    ["log driver none", set("log_driver", "none"), "log-rotation"],
  ] as const)("%s", (_name, fn, ruleId) => expectCaught(fn, ruleId));

  it('healthcheck test ["none"] (lower case) disables the check', () => {
    const f = fixture("prod");
    container(f, { healthcheck: { test: ["none"] } });
    expect(ruleIds(blockingFindings(findings(f)))).toContain("healthcheck");
  });

  it("allowed sysctls and ulimits pass", () => {
    const found = attack((c) => {
      c.addOverride("sysctls", { "net.ipv4.ip_unprivileged_port_start": "0" });
      c.addOverride("ulimit", [{ name: "nofile", soft: 65536, hard: 65536 }]);
    });
    expect(found).toEqual([]);
  });
});

describe("networks outside the stack", () => {
  it("a network this stack does not declare (e.g. a macvlan made by hand)", () =>
    expectCaught(set("networks_advanced", [{ name: "lan-macvlan" }]), "declared-networks"));
  it("network_mode naming such a network", () => expectCaught(set("network_mode", "lan-macvlan"), "declared-networks"));
  it("a bind whose source smuggles bind syntax", () =>
    expectCaught(set("volumes", [{ host_path: "/srv/x:/etc", container_path: "/h" }]), "no-host-paths"));
});

describe("exemptions that could be claimed", () => {
  it("a 'seed' (start = false) with restart always: the engine starts it on its next restart", () => {
    const f = fixture("prod");
    container(f, { start: false, restart: "always", readOnly: false, healthcheck: undefined });
    expect(ruleIds(blockingFindings(findings(f)))).toEqual(expect.arrayContaining(["read-only-rootfs", "healthcheck"]));
  });
  it("a real seed (start = false, no restart) stays exempt", () => {
    const f = fixture("prod");
    container(f, { start: false, restart: undefined, readOnly: false, healthcheck: undefined });
    expect(blockingFindings(findings(f))).toEqual([]);
  });
  it("a label set twice (component data, then edge)", () =>
    expectCaught((c) => c.addOverride("labels", [{ label: "io.updateio.component", value: "edge" }]), "required-labels"));
  it("its own DNS servers", () => expectCaught(set("dns", ["203.0.113.53"]), "no-extra-hosts"));
  it("a Swarm secret whose base64encode() reads a literal local", () => {
    const f = swarmFixture("prod");
    f.stack.addOverride("locals", { leaked: "hunter2" });
    f.secret.addOverride("data", "${base64encode(local.leaked)}");
    expect(findings(f, "swarm-object-data").map((x) => x.message)).toEqual([expect.stringContaining("literal in the JSON")]);
  });
  it("a Swarm secret whose base64encode() reads a variable with a default", () => {
    const f = swarmFixture("prod");
    new TerraformVariable(f.stack, "token", { type: "string", default: "hunter2", sensitive: true });
    f.secret.addOverride("data", "${base64encode(var.token)}");
    expect(findings(f, "swarm-object-data").map((x) => x.message)).toEqual([expect.stringContaining("default")]);
  });
});

describe("around the policy itself", () => {
  it("a local-exec provisioner", () =>
    expectCaught(set("provisioner", [{ "local-exec": { command: "docker run --privileged -v /:/h alpine" } }]), "no-provisioners"));
  it("a docker_plugin, a null_resource and an external data source", () => {
    const f = fixture("prod");
    class Raw extends TerraformResource {
      constructor(
        type: string,
        id: string,
        private readonly body: Record<string, unknown>,
      ) {
        super(f.stack, id, { terraformResourceType: type });
      }
      protected synthesizeAttributes() {
        return this.body;
      }
    }
    new Raw("docker_plugin", "plugin", { name: "evil/plugin", grant_all_permissions: true });
    new Raw("null_resource", "null", {});
    f.stack.addOverride("data.external.x", { program: ["sh", "-c", "cat ~/.docker/config.json"] });
    const found = findings(f, "known-resource-types");
    expect(found.map((x) => x.resourceType).sort()).toEqual(["data.external", "docker_plugin", "null_resource"]);
  });
  it("a docker_service is checked (it used to be skipped)", () => {
    const f = swarmFixture("prod");
    service(f).addOverride("task_spec.container_spec.user", "0");
    expect(ruleIds(blockingFindings(findings(f)))).toEqual(["non-root"]);
  });
  it("an image built from a local Dockerfile in prod", () => {
    const f = fixture("prod");
    const built = new Image(f.stack, "built", { name: `api@sha256:${"e".repeat(64)}`, buildAttribute: { context: "/tmp/x" } });
    container(f, { image: built.imageId });
    expect(ruleIds(blockingFindings(findings(f)))).toContain("image-digest");
  });
  it("a variable passed through as a value is only accepted when vouched for (see expressions.test.ts)", () => {
    const f = fixture("prod");
    const v = new TerraformVariable(f.stack, "memory", { type: "number" });
    container(f, { memory: v.numberValue });
    expect(ruleIds(blockingFindings(findings(f)))).toEqual(expect.arrayContaining(["memory-limit", "no-unjudged-expressions"]));
  });
});
