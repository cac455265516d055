/**
 * The policy against an attacker, on what reaches the host through the side doors of a stack: the
 * socket proxy's API filter (its environment), docker_image build options, and uploads read from
 * host files. Each attack must produce an error finding of the named rule; the legitimate form
 * (what our stacks synthesize) must still pass.
 */
import type { Container } from "@cdktf/provider-docker/lib/container";
import { Image } from "@cdktf/provider-docker/lib/image";
import { describe, expect, it } from "vitest";
import { socketProxyEnv } from "../../constructs/observability/renderers/docker-socket-proxy";
import { blockingMessages, container, fixture, image, labels, SOCKET_PROXY_IMAGE, type Fixture } from "./fixtures";

const SOCKET = { hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock", readOnly: true };

/** Our own proxy's environment, as the stacks synthesize it. */
const OUR_PROXY_ENV = (allowEngineInfo: boolean) => [
  ...Object.entries(socketProxyEnv({ allowEngineInfo })).map(([k, v]) => `${k}=${v}`),
  "DISABLE_IPV6=1",
];

/** The socket proxy (its image, its role label, the socket read-only) with `env`. */
function proxy(f: Fixture, env: string[] = OUR_PROXY_ENV(true)): Container {
  return container(
    f,
    {
      image: image(f, "proxy-image", SOCKET_PROXY_IMAGE).imageId,
      labels: labels(f.environment, "proxy", { "io.updateio.role": "docker-socket-proxy" }),
      volumes: [SOCKET],
      env,
      // Our proxy's probe: no-docker-socket refuses any other command next to the socket.
      healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:2375/_ping"] },
    },
    "docker-socket-proxy",
  );
}

describe("GAP 7: the socket proxy's API filter (no-docker-socket)", () => {
  it.each([true, false])("our own proxy's environment passes (allowEngineInfo %s)", (info) => {
    const f = fixture("prod");
    proxy(f, OUR_PROXY_ENV(info));
    expect(blockingMessages(f, "no-docker-socket")).toEqual([]);
  });

  it("a proxy on the image's defaults (no env) passes: EVENTS, PING and VERSION are read-only", () => {
    const f = fixture("prod");
    proxy(f, []);
    expect(blockingMessages(f, "no-docker-socket")).toEqual([]);
  });

  it("the reviewer's env: CONTAINERS, POST, EXEC, IMAGES, VOLUMES on", () => {
    const f = fixture("prod");
    proxy(f, ["CONTAINERS=1", "POST=1", "EXEC=1", "IMAGES=1", "VOLUMES=1"]);
    const found = blockingMessages(f, "no-docker-socket");
    for (const name of ["POST", "EXEC", "IMAGES", "VOLUMES"]) expect(found.join("\n")).toContain(`turns on ${name}`);
    expect(found.join("\n")).not.toContain("turns on CONTAINERS");
    expect(found[0]).toContain('container "prod-docker-socket-proxy"');
  });

  it.each([
    "POST=1",
    "POST=true",
    "POST=yes",
    "POST= 0",
    "post=1",
    "DELETE=1",
    "PUT=1",
    "PATCH=1",
    "EXEC=1",
    "BUILD=1",
    "COMMIT=1",
    "AUTH=1",
    "SECRETS=1",
    "IMAGES=1",
    "VOLUMES=1",
    "SERVICES=1",
    "SYSTEM=1",
    "SWARM=1",
    "PLUGINS=1",
    "ALLOW_START=1",
    "ALLOW_STOP=1",
    "ALLOW_RESTARTS=1",
    "ALLOW_ARCHIVE=1",
    "ALLOW_EXPORT=1",
    "ALLOW_ATTACH=1",
    "ALLOW_EXEC=1",
    "ALLOW_KILL=1",
    "ALLOW_SOMETHING_NEW=1",
    "SOCKET_PATH=tcp://10.0.0.5:2375",
    "BIND_CONFIG=:2375",
    "LOG_LEVEL=info\nglobal",
    "POST",
  ])("our proxy plus %j", (entry) => {
    const f = fixture("prod");
    proxy(f, [...OUR_PROXY_ENV(true).filter((e) => !e.startsWith(`${entry.split("=")[0]!.toUpperCase()}=`)), entry]);
    const found = blockingMessages(f, "no-docker-socket");
    expect(found.length, entry).toBeGreaterThan(0);
    expect(found[0]).toMatch(/docker socket proxy container "prod-docker-socket-proxy" .*env\[\d+\]/);
  });

  it.each([
    ["an env entry holding an expression", (c: Container) => c.addOverride("env", ["CONTAINERS=1", "POST=${var.post}"])],
    ["an env entry holding a wrapped literal", (c: Container) => c.addOverride("env", ["CONTAINERS=1", 'POST=${"0"}'])],
    ["the whole env as an expression", (c: Container) => c.addOverride("env", "${var.proxy_env}")],
    ["an env entry that is not a string", (c: Container) => c.addOverride("env", ["CONTAINERS=1", { POST: 1 }])],
    ["a command replacing the filtering configuration", (c: Container) => c.addOverride("command", ["haproxy", "-f", "/tmp/open.cfg"])],
    ["an entrypoint replacing the filtering configuration", (c: Container) => c.addOverride("entrypoint", ["sh", "-c", "socat ..."])],
  ] as const)("%s", (_name, fn) => {
    const f = fixture("prod");
    fn(proxy(f));
    expect(blockingMessages(f, "no-docker-socket").length).toBeGreaterThan(0);
  });
});

describe("GAP 13: docker_image build options (no-host-namespaces)", () => {
  const CONTEXT = '${abspath(join("/", [path.root, "../../..", "examples/reference-service"]))}';
  /** A locally built image the way ServiceImage writes it, in dev. */
  function built(f: Fixture): Image {
    return new Image(f.stack, "built", {
      name: "updateio-dev/api:dev",
      keepLocally: true,
      buildAttribute: {
        builder: "default",
        context: CONTEXT,
        dockerfile: '${abspath(join("/", [path.root, "../../..", "examples/reference-service/Dockerfile"]))}',
        tag: ["updateio-dev/api:dev"],
        target: "dev",
      },
    });
  }

  it("our own build block passes", () => {
    const f = fixture("dev");
    built(f);
    expect(blockingMessages(f, "no-host-namespaces")).toEqual([]);
  });

  it.each([
    ["network_mode", "host"],
    ["security_opt", ["seccomp=unconfined"]],
    ["cgroup_parent", "/"],
    ["extra_hosts", ["registry.internal:10.0.0.1"]],
    ["secrets", [{ id: "k", src: "/root/.ssh/id_rsa" }]],
    ["build_log_file", "/etc/cron.d/zz"],
    ["auth_config", [{ host_name: "ghcr.io", password: "x" }]],
    ["remote_context", "https://evil.example/ctx.tar"],
    ["isolation", "hyperv"],
    ["build_args", { HTTP_PROXY: "http://evil" }],
    ["a_future_option", "x"],
  ] as const)("dev build.%s is an error", (key, value) => {
    const f = fixture("dev");
    built(f).addOverride(`build.${key}`, value);
    const found = blockingMessages(f, "no-host-namespaces");
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(`image "updateio-dev/api:dev" sets build.${key}`);
  });

  it("a build written as a list with a forbidden option", () => {
    const f = fixture("dev");
    built(f).addOverride("build", [{ context: CONTEXT, network_mode: "host" }]);
    expect(blockingMessages(f, "no-host-namespaces")[0]).toContain("build[0].network_mode");
  });

  it("a build written as an expression cannot be read", () => {
    const f = fixture("dev");
    built(f).addOverride("build", "${var.build}");
    expect(blockingMessages(f, "no-host-namespaces")[0]).toContain("cannot read");
  });
});

describe("GAP U: uploads read from host files (no-upload-on-read-only)", () => {
  /** A seed container (start = false, writable): what takes uploads in our stacks. */
  function seed(f: Fixture, upload: Record<string, unknown>[]): void {
    const c = container(f, { readOnly: false, start: false, restart: "no" }, "seed");
    c.addOverride("upload", upload);
  }

  it("an upload with content passes", () => {
    const f = fixture("prod");
    seed(f, [{ file: "/seed/Caddyfile", content: "x", executable: false, permissions: "0444" }]);
    expect(blockingMessages(f, "no-upload-on-read-only")).toEqual([]);
  });

  it.each([
    ["source", { file: "/seed/config.json", source: "/root/.docker/config.json" }],
    ["source_hash", { file: "/seed/config.json", source: "/root/.docker/config.json", source_hash: "abc" }],
    ["content_from", { file: "/seed/x", content: "x", content_from: "/etc/shadow" }],
  ] as const)("upload[0].%s is an error", (key, upload) => {
    const f = fixture("prod");
    seed(f, [upload]);
    expect(blockingMessages(f, "no-upload-on-read-only").join("\n")).toContain(`container "prod-seed" sets upload[0].${key}`);
  });
});
