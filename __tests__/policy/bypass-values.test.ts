/**
 * The policy against an attacker, on how values are spelled and what an image IS: numbers in every
 * spelling Terraform reads (cty.ParseNumberVal: "-1e0" is -1), security_opts as the set the
 * provider sends (hash order, not as written), relative binds reaching sensitive host paths, data
 * images from mirrors, and images the stack builds under a trusted name. Each attack must produce
 * an error finding of the named rule; the legitimate form must still pass.
 */
import { Image } from "@cdktf/provider-docker/lib/image";
import { describe, expect, it } from "vitest";
import { numberOf } from "../../constructs/policy/normalize";
import { blockingFindings } from "../../constructs/policy/policy-aspect";
import type { Environment } from "../../constructs/policy/rules";
import {
  attacked,
  blockingMessages,
  CADDY_IMAGE,
  container,
  DIGEST,
  findings,
  fixture,
  image,
  labels,
  set,
  SOCKET_PROXY_IMAGE,
  type Attack,
  type Fixture,
} from "./fixtures";
import { service, swarmFixture } from "./swarm-fixtures";

/** Messages of the error findings of `ruleId` after `fn` attacked the compliant container. */
const blocking = (fn: Attack, ruleId: string, environment: Environment = "prod") => blockingMessages(attacked(fn, environment), ruleId);

describe("numbers as Terraform reads them (cty.ParseNumberVal = big.ParseFloat, base 10)", () => {
  it.each([
    [-1, "-1e0"],
    [2541, "2541e0"],
    [5432, "5432e0"],
    [-5, "-0.5e1"],
    [-1, "-.1E+1"],
    [8, "1p3"],
    [1, "1."],
    [0.5, ".5"],
    [3, "+3"],
    [512, 512],
    [512, "512"],
  ] as const)("%s from %j", (n, text) => expect(numberOf(text)).toBe(n));
  it.each([" 5", "5 ", "0x10", "1_000", "Inf", "-inf", "1e400", "", "e3", "1e", "abc", true])("%j is no number", (text) =>
    expect(numberOf(text)).toBeUndefined(),
  );
});

describe("GAP 3: no-new-privileges, whatever order the set is sent in", () => {
  it.each([
    [["no-new-privileges=False", "no-new-privileges:true"]],
    [["no-new-privileges:f", "no-new-privileges"]],
    [["no-new-privileges:true", "no-new-privileges:0"]],
    [["no-new-privileges", "no-new-privileges=F"]],
    [["no-new-privileges:true", "no-new-privileges:maybe"]],
    [["no-new-privileges:true", " no-new-privileges:false"]],
    [["No-New-Privileges:true"]],
    [["no-new-privileges", "no-new-privileges:true"]],
  ])("%j", (opts) => {
    const f = fixture("prod");
    container(f, { securityOpts: opts });
    const found = blockingFindings(findings(f, "no-new-privileges")).map((x) => x.message);
    expect(found).not.toEqual([]);
    expect(found[0]).toMatch(/container "prod-db" .*security_opts/);
  });
  it.each([
    [["no-new-privileges:true"]],
    [["no-new-privileges"]],
    [["no-new-privileges=TRUE"]],
    [["no-new-privileges:true", "apparmor=docker-default"]],
  ])("%j passes", (opts) => {
    const f = fixture("prod");
    container(f, { securityOpts: opts });
    expect(findings(f, "no-new-privileges")).toEqual([]);
  });
});

describe("GAP 4: memory_swap in number spellings (memory-limit)", () => {
  it.each(["-1e0", "-0.5e1", "-1E+0", "-.1e1", "-1p0", "unlimited"])("memory_swap = %j", (swap) => {
    const found = blocking(set("memory_swap", swap), "memory-limit");
    expect(found).not.toEqual([]);
    expect(found[0]).toMatch(/container "prod-db" has memory_swap/);
  });
  it.each([512, "512", "5.12e2"])("memory_swap = %j passes", (swap) =>
    expect(blocking(set("memory_swap", swap), "memory-limit")).toEqual([]),
  );
  it('memory = "5e2" is a limit', () => expect(blocking(set("memory", "5e2"), "memory-limit")).toEqual([]));
});

describe("GAP 5: config file_mode in number spellings (secret-file-permissions)", () => {
  const PATH = "task_spec.container_spec.configs.0.file_mode";
  const withMode = (mode: unknown) => {
    const f = swarmFixture("prod");
    service(f).addOverride(PATH, mode);
    return blockingFindings(findings(f, "secret-file-permissions")).map((x) => x.message);
  };
  it.each(["2541e0", "2541.0", "0.2541e4", "1p11", "0644", "rw-r--r--"])("file_mode = %j", (mode) => {
    const found = withMode(mode);
    expect(found).not.toEqual([]);
    expect(found[0]).toMatch(/service "prod-api" mounts config .*file_mode/);
  });
  it.each([292, "292", "2.92e2", 365])("file_mode = %j passes", (mode) => expect(withMode(mode)).toEqual([]));
  it('a secret with file_mode = "2.56e2" passes, "2541e0" does not', () => {
    const f = swarmFixture("prod");
    service(f).addOverride("task_spec.container_spec.secrets.0.file_mode", "2.56e2");
    expect(findings(f, "secret-file-permissions")).toEqual([]);
    const g = swarmFixture("prod");
    service(g).addOverride("task_spec.container_spec.secrets.0.file_mode", "2541e0");
    expect(findings(g, "secret-file-permissions").length).toBeGreaterThan(0);
  });
});

describe("GAP 6: published ports in number spellings (published-ports)", () => {
  const edge =
    (external: unknown): Attack =>
    (c, f) => {
      c.addOverride("image", image(f, "caddy", CADDY_IMAGE).imageId);
      c.addOverride("labels", labels("prod", "edge"));
      c.addOverride("ports", [{ internal: 443, external }]);
    };
  it.each(["5432e0", "5432.0", "1.0e4", "4.43e2x", "https"])("the prod edge publishes 443 as %j", (external) => {
    const found = blocking(edge(external), "published-ports");
    expect(found).not.toEqual([]);
    expect(found.join("\n")).toMatch(/container "prod-db" .*ports\[0\]|edge container "prod-db" publishes port 443/);
  });
  it.each([443, "443", "4.43e2"])("the prod edge publishes 443 as %j: passes", (external) =>
    expect(blocking(edge(external), "published-ports")).toEqual([]),
  );
  it('a Swarm edge publishing published_port = "5432e0"', () => {
    const f = swarmFixture("prod");
    const s = service(f, { labels: labels("prod", "edge") });
    s.addOverride("task_spec.container_spec.image", CADDY_IMAGE);
    s.addOverride("endpoint_spec", { mode: "vip", ports: [{ target_port: 443, published_port: "5432e0", publish_mode: "host" }] });
    expect(blockingFindings(findings(f, "published-ports")).map((x) => x.message)).toEqual([
      expect.stringMatching(/edge service "prod-api" publishes port 443 as 5432/),
    ]);
  });
});

describe("GAP 8: relative binds reaching sensitive host paths (no-host-paths, dev)", () => {
  const UP = "../../../../../../../../../../../../../..";
  const bind = (tail: string): Attack =>
    set("volumes", [{ host_path: `\${abspath(join("/", [path.root, "${UP}", "${tail}"]))}`, container_path: "/h", read_only: true }]);
  it.each(["lib64", "home", "lib32", "snap", "home/node", "libx32", "opt/containerd", "var/log", "run/systemd", "var/lib/kubelet"])(
    "climbing to / and binding %j",
    (tail) => {
      const found = blocking(bind(tail), "no-host-paths", "dev");
      expect(found).not.toEqual([]);
      expect(found[0]).toMatch(/container "dev-db" binds a path relative to the stack directory/);
    },
  );
  it("a dev source bind next to the checkout still passes", () =>
    expect(
      blocking(
        set("volumes", [{ host_path: '${abspath(join("/", [path.root, "../../..", "../updateio/api"]))}', container_path: "/app" }]),
        "no-host-paths",
        "dev",
      ),
    ).toEqual([]));
});

describe("GAP 12: data images from any registry or namespace (data-internal-networks)", () => {
  const onPublicNet =
    (name: string): Attack =>
    (c, f) => {
      c.addOverride("image", image(f, "mirror", name).imageId);
      c.addOverride("labels", labels("prod", "app"));
      c.addOverride("networks_advanced", [{ name: f.publicNet.name }]);
    };
  it.each([
    `public.ecr.aws/docker/library/postgres:17.2-bookworm@${DIGEST}`,
    `mirror.gcr.io/library/redis:7.4.6-alpine@${DIGEST}`,
    `registry.example:5000/cache/rabbitmq:4.1.4@${DIGEST}`,
    `ghcr.io/someone/postgresql:16@${DIGEST}`,
    `registry.example/mirror/pgbouncer:1.23@${DIGEST}`,
  ])("%s labelled app on a public network", (name) => {
    const found = blocking(onPublicNet(name), "data-internal-networks");
    expect(found).not.toEqual([]);
    expect(found[0]).toMatch(/data container "prod-db" attaches to network .*not internal/);
  });
  it.each([`quay.io/prometheuscommunity/postgres-exporter:v0.20.1@${DIGEST}`, `oliver006/redis_exporter:v1.84.0@${DIGEST}`])(
    "%s is not a data image",
    (name) => expect(blocking(onPublicNet(name), "data-internal-networks")).toEqual([]),
  );
});

describe("GAP 9: an image the stack builds is never a trusted image (dev)", () => {
  const CONTEXT = '${abspath(join("/", [path.root, "../../..", "../updateio/proxy"]))}';
  const built = (f: Fixture, name: string) => new Image(f.stack, "built", { name, buildAttribute: { context: CONTEXT } });
  const SOCKET = [{ host_path: "/var/run/docker.sock", container_path: "/var/run/docker.sock", read_only: true }];

  it("a built tecnativa/docker-socket-proxy:dev with the role label mounting the socket (no-docker-socket)", () => {
    const found = blocking(
      (c, f) => {
        c.addOverride("image", built(f, "tecnativa/docker-socket-proxy:dev").imageId);
        c.addOverride("labels", labels("dev", "proxy", { "io.updateio.role": "docker-socket-proxy" }));
        c.addOverride("volumes", SOCKET);
      },
      "no-docker-socket",
      "dev",
    );
    expect(found).not.toEqual([]);
    expect(found[0]).toContain('container "dev-db"');
  });
  it("a pulled name that the stack also builds (the engine resolves it to the local build)", () => {
    const found = blocking(
      (c, f) => {
        built(f, "tecnativa/docker-socket-proxy:dev");
        c.addOverride("image", "tecnativa/docker-socket-proxy:dev");
        c.addOverride("labels", labels("dev", "proxy", { "io.updateio.role": "docker-socket-proxy" }));
        c.addOverride("volumes", SOCKET);
      },
      "no-docker-socket",
      "dev",
    );
    expect(found).not.toEqual([]);
  });
  it("the pulled socket proxy image still may mount the socket read-only", () =>
    expect(
      blocking(
        (c, f) => {
          c.addOverride("image", image(f, "proxy-image", SOCKET_PROXY_IMAGE).imageId);
          c.addOverride("labels", labels("dev", "proxy", { "io.updateio.role": "docker-socket-proxy" }));
          // Replaced, not merged (an override appends to a list): the proxy mounts the socket only and
          // runs our proxy's probe, as no-docker-socket demands.
          c.putVolumes([{ hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock", readOnly: true }]);
          c.putHealthcheck({ test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:2375/_ping"] });
          c.addOverride("env", []);
        },
        "no-docker-socket",
        "dev",
      ),
    ).toEqual([]));
  it("a built caddy:dev labelled edge publishing 5432 on 0.0.0.0 (published-ports)", () => {
    const found = blocking(
      (c, f) => {
        c.addOverride("image", built(f, "caddy:dev").imageId);
        c.addOverride("labels", labels("dev", "edge"));
        c.addOverride("ports", [{ internal: 5432, external: 5432 }]);
      },
      "published-ports",
      "dev",
    );
    expect(found).toEqual([expect.stringMatching(/container "dev-db" publishes port 5432 as 5432 on all interfaces/)]);
  });
  it("the pulled caddy image labelled edge still publishes in dev", () =>
    expect(
      blocking(
        (c, f) => {
          c.addOverride("image", image(f, "caddy", CADDY_IMAGE).imageId);
          c.addOverride("labels", labels("dev", "edge"));
          c.addOverride("ports", [{ internal: 443, external: 8443 }]);
        },
        "published-ports",
        "dev",
      ),
    ).toEqual([]));
});

describe("ALSO: every number reader reads Terraform's spellings, and an unreadable value is a finding", () => {
  it.each([
    ["memory", "1e8", "memory-limit"],
    ["memory", "lots", "memory-limit"],
    ["cpu_quota", "1e9", "cpu-cap"],
    ["cpu_quota", "-1e0", "cpu-cap"],
    ["shm_size", "1e6", "shm-size-bounded"],
    ["shm_size", "big", "shm-size-bounded"],
    ["log_opts", { "max-size": "10m", "max-file": "3e0" }, "log-rotation"],
  ] as const)("container %s = %j", (key, value, ruleId) => expect(blocking(set(key, value), ruleId)).not.toEqual([]));
  it.each([
    [{ name: "nofile", soft: "1e9", hard: "1e9" }, "ulimits-bounded"],
    [{ name: "nproc", soft: "-1e0", hard: "-1e0" }, "process-limit"],
  ] as const)("ulimit %j", (ulimit, ruleId) => {
    const f = fixture("prod");
    container(f, { ulimit: [ulimit as never] });
    expect(blockingFindings(findings(f, ruleId))).not.toEqual([]);
  });
  it.each([
    ["task_spec.resources.limits.nano_cpus", "1e11", "cpu-limit"],
    ["task_spec.resources.limits.memory_bytes", "1e20", "memory-limit"],
    ["update_config.parallelism", "0e0", "update-config"],
    ["rollback_config.parallelism", "one", "rollback-config"],
    ["task_spec.restart_policy.max_attempts", "many", "restart-policy"],
  ] as const)("service %s = %j", (path, value, ruleId) => {
    const f = swarmFixture("prod");
    service(f).addOverride(path, value);
    const found = blockingFindings(findings(f, ruleId)).map((x) => x.message);
    expect(found).not.toEqual([]);
    expect(found[0]).toContain('service "prod-api"');
  });
  it("the compliant container and service pass with numbers written as strings in exponent form", () => {
    const f = fixture("prod");
    container(f, { memory: "5.12e2" as never, cpuPeriod: "1e5" as never, cpuQuota: "5e4" as never });
    expect(blockingFindings(findings(f))).toEqual([]);
  });
});
