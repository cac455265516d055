import { Container } from "@cdktf/provider-docker/lib/container";
import { Image } from "@cdktf/provider-docker/lib/image";
import { Network } from "@cdktf/provider-docker/lib/network";
import { Volume } from "@cdktf/provider-docker/lib/volume";
import { Password } from "@cdktf/provider-random/lib/password";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { describe, expect, it } from "vitest";
import { PACKS, rulesFor, severityOf } from "../../constructs/policy/packs";
import { RULES, RULE_IDS, ruleAppliesTo, type Environment } from "../../constructs/policy/rules";
import { CADDY_IMAGE, SOCKET_PROXY_IMAGE, check, container, findings, fixture, image, labels } from "./fixtures";

const ENVIRONMENTS: Environment[] = ["dev", "test", "prod"];

describe("rule table", () => {
  it("has unique kebab-case ids and complete texts", () => {
    expect(new Set(RULE_IDS).size).toBe(RULES.length);
    for (const rule of RULES) {
      expect(rule.id).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(rule.title.length).toBeGreaterThan(10);
      expect(rule.why.length).toBeGreaterThan(20);
      expect(rule.why).not.toMatch(/\.$/);
      expect(rule.fix.length).toBeGreaterThan(20);
    }
  });

  it("contains at least the rules of the design", () => {
    expect(RULE_IDS).toEqual(
      expect.arrayContaining([
        "memory-limit",
        "restart-policy",
        "healthcheck",
        "log-rotation",
        "not-privileged",
        "capabilities-dropped",
        "no-new-privileges",
        "published-ports",
        "read-only-rootfs",
        "non-root",
        "image-digest",
        "no-docker-socket",
        "no-secret-literal-env",
        "no-upload-on-read-only",
        "data-internal-networks",
        "prod-volume-protected",
        "no-host-namespaces",
        "no-unconfined-profiles",
        "required-labels",
        // Swarm and the hardening against bypasses
        "cpu-limit",
        "stop-grace-period",
        "update-config",
        "rollback-config",
        "secret-file-permissions",
        "swarm-object-data",
        "swarm-object-replace-first",
        "network-by-id",
        "network-driver",
        "no-host-paths",
        "plain-volumes",
        "no-volumes-from",
        "no-devices",
        "sysctls-allowed",
        "ulimits-bounded",
        "default-runtime",
        "no-storage-opts",
        "shm-size-bounded",
        "no-cgroup-parent",
        "no-extra-hosts",
        "no-unjudged-expressions",
        "no-provisioners",
        "known-resource-types",
        "declared-networks",
      ]),
    );
  });

  it("covers docker_service, docker_secret and docker_config", () => {
    const covering = (type: string) => RULES.filter((r) => ruleAppliesTo(r, type)).map((r) => r.id);
    expect(covering("docker_service")).toEqual(
      expect.arrayContaining([
        "non-root",
        "capabilities-dropped",
        "no-docker-socket",
        "no-host-paths",
        "memory-limit",
        "cpu-limit",
        "healthcheck",
        "published-ports",
        "image-digest",
        "read-only-rootfs",
        "log-rotation",
        "required-labels",
        "secret-file-permissions",
        "update-config",
        "rollback-config",
        "restart-policy",
        "stop-grace-period",
        "network-by-id",
        "not-privileged",
        "no-unjudged-expressions",
      ]),
    );
    expect(covering("docker_secret")).toEqual(
      expect.arrayContaining(["swarm-object-data", "swarm-object-replace-first", "no-unjudged-expressions"]),
    );
    expect(covering("docker_config")).toEqual(expect.arrayContaining(["swarm-object-data", "swarm-object-replace-first"]));
    expect(covering("data.external")).toContain("known-resource-types");
  });

  it("has a pack per environment", () => {
    expect(PACKS.prod.find((p) => p.rule.id === "image-digest")?.severity).toBe("error");
    expect(PACKS.dev.find((p) => p.rule.id === "image-digest")?.severity).toBe("warning");
    expect(PACKS.dev.map((p) => p.rule.id)).not.toContain("prod-volume-protected");
  });

  it("groups rules into packs per environment and severity", () => {
    expect(rulesFor("prod", "error").map((r) => r.id)).toContain("image-digest");
    expect(
      rulesFor("dev", "warning")
        .map((r) => r.id)
        .sort(),
    ).toEqual(["image-digest", "network-by-id"]);
    expect(rulesFor("prod", "warning").map((r) => r.id)).toEqual(["network-by-id"]);
    expect(rulesFor("dev").map((r) => r.id)).not.toContain("prod-volume-protected");
    expect(rulesFor("prod").map((r) => r.id)).toContain("prod-volume-protected");
  });
});

describe("the compliant fixture", () => {
  it.each(ENVIRONMENTS)("has no findings in %s", (environment) => {
    const f = fixture(environment);
    container(f);
    expect(findings(f)).toEqual([]);
  });
});

describe("memory-limit", () => {
  it("passes with memory > 0", () => expect(check("memory-limit", { memory: 256 })).toEqual([]));
  it("fails without memory", () => {
    const [finding, ...rest] = check("memory-limit", { memory: undefined });
    expect(rest).toEqual([]);
    expect(finding).toMatchObject({ ruleId: "memory-limit", severity: "error", resourceType: "docker_container", constructPath: "dev/db" });
    expect(finding!.resourceName).toMatch(/^db/);
    expect(finding!.message).toMatch(/^\[memory-limit\] container "dev-db" has no memory limit .* — .*\. Fix: set `memory`/);
  });
  it("fails with memory 0", () => expect(check("memory-limit", { memory: 0 })).toHaveLength(1));
});

describe("restart-policy", () => {
  it.each(["unless-stopped", "always", "on-failure"])("passes with %s", (restart) =>
    expect(check("restart-policy", { restart })).toEqual([]),
  );
  it("fails with no", () => expect(check("restart-policy", { restart: "no" })).toHaveLength(1));
  it("fails when unset", () => expect(check("restart-policy", { restart: undefined })[0]!.message).toContain("Docker default: no"));
  it("exempts seed containers (start = false)", () => expect(check("restart-policy", { restart: undefined, start: false })).toEqual([]));
});

describe("healthcheck", () => {
  it("passes with a CMD test", () => expect(check("healthcheck")).toEqual([]));
  it("fails without a healthcheck", () => expect(check("healthcheck", { healthcheck: undefined })).toHaveLength(1));
  it('fails with test ["NONE"]', () => expect(check("healthcheck", { healthcheck: { test: ["NONE"] } })[0]!.message).toContain("disables"));
  it("exempts seed containers", () =>
    expect(check("healthcheck", { healthcheck: undefined, start: false, restart: undefined })).toEqual([]));
});

describe("log-rotation", () => {
  it("passes with local and both options", () =>
    expect(check("log-rotation", { logDriver: "local", logOpts: { "max-size": "10m", "max-file": "3" } })).toEqual([]));
  it("fails without a log driver", () => expect(check("log-rotation", { logDriver: undefined })).toHaveLength(1));
  it("fails with syslog", () => expect(check("log-rotation", { logDriver: "syslog" })).toHaveLength(1));
  it("fails without max-file", () => {
    const found = check("log-rotation", { logOpts: { "max-size": "10m" } });
    expect(found.map((x) => x.message)).toEqual([expect.stringContaining('log_opts["max-file"]')]);
  });
});

describe("not-privileged", () => {
  it("passes with privileged false", () => expect(check("not-privileged", { privileged: false })).toEqual([]));
  it("fails with privileged true", () => expect(check("not-privileged", { privileged: true })).toHaveLength(1));
  it("catches an escape-hatch override too (rules read the synthesized JSON)", () => {
    const f = fixture();
    container(f).addOverride("privileged", true);
    expect(findings(f, "not-privileged")).toHaveLength(1);
  });
});

describe("capabilities-dropped", () => {
  it("passes with drop ALL and a narrow add", () =>
    expect(check("capabilities-dropped", { capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } })).toEqual([]));
  it("fails without capabilities", () => expect(check("capabilities-dropped", { capabilities: undefined })).toHaveLength(1));
  it("fails when dropping only some", () => expect(check("capabilities-dropped", { capabilities: { drop: ["NET_RAW"] } })).toHaveLength(1));
  it("fails when adding SYS_ADMIN back", () =>
    expect(check("capabilities-dropped", { capabilities: { drop: ["ALL"], add: ["CAP_SYS_ADMIN"] } })[0]!.message).toContain("SYS_ADMIN"));
});

describe("no-new-privileges", () => {
  it.each(["no-new-privileges:true", "no-new-privileges", "no-new-privileges=true"])("passes with %s", (opt) =>
    expect(check("no-new-privileges", { securityOpts: [opt] })).toEqual([]),
  );
  it("fails without it", () => expect(check("no-new-privileges", { securityOpts: undefined })).toHaveLength(1));
  it("fails with no-new-privileges:false", () =>
    expect(check("no-new-privileges", { securityOpts: ["no-new-privileges:false"] })).toHaveLength(1));
});

describe("published-ports", () => {
  it("dev: passes for a port on 127.0.0.1", () =>
    expect(check("published-ports", { ports: [{ internal: 5432, external: 5432, ip: "127.0.0.1" }] })).toEqual([]));
  it("dev: fails for a port without ip (0.0.0.0)", () =>
    expect(check("published-ports", { ports: [{ internal: 5432, external: 5432 }] })[0]!.message).toContain("all interfaces"));
  it("test: fails for a port on 0.0.0.0", () =>
    expect(check("published-ports", { ports: [{ internal: 5432, external: 5432, ip: "0.0.0.0" }] }, "test")).toHaveLength(1));
  /** The edge: a Caddy image labelled edge. */
  function edge(environment: Environment, ports: { internal: number; external?: number; ip?: string }[], name = CADDY_IMAGE) {
    const f = fixture(environment);
    container(f, { image: image(f, "caddy", name).imageId, labels: labels(environment, "edge"), ports });
    return findings(f, "published-ports");
  }
  it("dev: the edge may publish on all interfaces", () => expect(edge("dev", [{ internal: 8443, external: 8443 }])).toEqual([]));
  it("a postgres image labelled edge is not the edge", () => {
    const found = check("published-ports", { labels: labels("dev", "edge"), ports: [{ internal: 5432, external: 5432 }] });
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain("its image is not an edge image");
  });
  it("prod: fails for a non-edge container even on loopback", () =>
    expect(check("published-ports", { ports: [{ internal: 5432, external: 5432, ip: "127.0.0.1" }] }, "prod")).toHaveLength(1));
  it("prod: passes for the edge on 80 and 443", () =>
    expect(
      edge("prod", [
        { internal: 80, external: 80 },
        { internal: 443, external: 443 },
      ]),
    ).toEqual([]));
  it("prod: fails for the edge on another port", () => expect(edge("prod", [{ internal: 2019, external: 2019 }])).toHaveLength(1));
  it("prod: fails for the edge publishing 80 as another host port", () =>
    expect(edge("prod", [{ internal: 80, external: 8080 }])).toHaveLength(1));
  it("fails with publish_all_ports", () => expect(check("published-ports", { publishAllPorts: true })).toHaveLength(1));
});

describe("read-only-rootfs", () => {
  it("passes with read_only true", () => expect(check("read-only-rootfs")).toEqual([]));
  it("fails with read_only false", () => expect(check("read-only-rootfs", { readOnly: false })).toHaveLength(1));
  it("fails when unset", () => expect(check("read-only-rootfs", { readOnly: undefined })).toHaveLength(1));
  it("exempts seed containers", () => expect(check("read-only-rootfs", { readOnly: false, start: false, restart: undefined })).toEqual([]));
  it("does not exempt a never-started container that the engine restarts (restart always)", () =>
    expect(check("read-only-rootfs", { readOnly: false, start: false, restart: "always" })).toHaveLength(1));
});

describe("non-root", () => {
  it.each(["999:999", "postgres", "1000:0", "nobody"])("passes for user %s", (user) => expect(check("non-root", { user })).toEqual([]));
  it.each(["root", "0", "0:0", "0:999", "root:root"])("fails for user %s", (user) => expect(check("non-root", { user })).toHaveLength(1));
  it("fails when unset", () => expect(check("non-root", { user: undefined })).toHaveLength(1));
});

describe("image-digest", () => {
  it("passes for a docker_image pinned by digest", () => expect(check("image-digest", {}, "prod")).toEqual([]));
  it("passes for a literal image pinned by digest", () =>
    expect(check("image-digest", { image: `redis:7.4@${"sha256:" + "a".repeat(64)}` }, "prod")).toEqual([]));
  it("fails for a literal tag", () => expect(check("image-digest", { image: "redis:7.4" }, "prod")).toHaveLength(1));
  it("fails for a digest that is not 64 hex characters", () =>
    expect(check("image-digest", { image: "redis@sha256:abc" }, "prod")).toHaveLength(1));

  it.each([
    ["dev", "warning"],
    ["test", "error"],
    ["prod", "error"],
  ] as const)("a docker_image pinned by tag is a %s %s", (environment, severity) => {
    const f = fixture(environment);
    const tagged = new Image(f.stack, "tagged", { name: "postgres:17.2" });
    container(f, { image: tagged.imageId });
    const found = findings(f, "image-digest");
    expect(found).toHaveLength(1);
    expect(found[0]!.severity).toBe(severity);
    expect(found[0]!.message).toContain('"postgres:17.2"');
  });

  it("a locally built docker_image counts as not pinned", () => {
    const f = fixture("dev");
    const built = new Image(f.stack, "built", { name: `api:dev@${"sha256:" + "b".repeat(64)}`, buildAttribute: { context: "../api" } });
    container(f, { image: built.imageId });
    expect(findings(f, "image-digest")[0]!.message).toContain("built locally");
  });

  it("has the environment-dependent severity in the rule table", () => {
    const rule = RULES.find((r) => r.id === "image-digest")!;
    expect(ENVIRONMENTS.map((e) => severityOf(rule, e))).toEqual(["warning", "error", "error"]);
  });
});

describe("no-docker-socket", () => {
  const socket = { hostPath: "/var/run/docker.sock", containerPath: "/var/run/docker.sock" };
  it("passes with named volumes only", () => expect(check("no-docker-socket")).toEqual([]));
  it("fails for a socket bind", () => expect(check("no-docker-socket", { volumes: [{ ...socket, readOnly: true }] })).toHaveLength(1));
  it("fails for a bind mount of /run/docker.sock", () =>
    expect(
      check("no-docker-socket", { mounts: [{ type: "bind", source: "/run/docker.sock", target: "/var/run/docker.sock", readOnly: true }] }),
    ).toHaveLength(1));
  it("fails for a bind of the directory holding the socket", () =>
    expect(check("no-docker-socket", { volumes: [{ hostPath: "/var/run/", containerPath: "/host-run", readOnly: true }] })).toHaveLength(
      1,
    ));

  const proxyLabels = labels("dev", "proxy", { "io.updateio.role": "docker-socket-proxy" });
  function proxy(volumes: { hostPath: string; containerPath: string; readOnly?: boolean }[], name = SOCKET_PROXY_IMAGE) {
    const f = fixture("dev");
    // Our proxy's probe: no-docker-socket refuses any other command next to the socket.
    const healthcheck = { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:2375/_ping"] };
    container(f, { image: image(f, "proxy", name).imageId, labels: proxyLabels, volumes, healthcheck });
    return findings(f, "no-docker-socket");
  }
  it("passes for the socket proxy mounting it read-only", () => expect(proxy([{ ...socket, readOnly: true }])).toEqual([]));
  it("fails for the socket proxy mounting it read-write", () => expect(proxy([socket])[0]!.message).toContain("read-write"));
  it("fails for the socket proxy mounting the directory", () =>
    expect(proxy([{ hostPath: "/var/run", containerPath: "/var/run", readOnly: true }])[0]!.message).toContain("whole directory"));
  it("fails for another image carrying the socket proxy's role label", () =>
    expect(proxy([{ ...socket, readOnly: true }], `alpine:3.20@sha256:${"c".repeat(64)}`)[0]!.message).toContain(
      "exposes the Docker socket",
    ));
});

describe("no-secret-literal-env", () => {
  it("passes for *_FILE variables and plain settings", () =>
    expect(
      check("no-secret-literal-env", { env: ["DB_PASSWORD_FILE=/run/secrets/db", "API_URL=https://api.example.com/v1", "LOG_LEVEL=info"] }),
    ).toEqual([]));
  it.each(["POSTGRES_PASSWORD=hunter2hunter2", "discord_bot_token=abc", "OPENAI_API_KEY=sk-1", "SESSION_COOKIE=x", "JWT_SECRET=x"])(
    "fails for %s",
    (entry) => expect(check("no-secret-literal-env", { env: [entry] })).toHaveLength(1),
  );
  // The same test as the config schema and the kit (hasUrlCredentials): any userinfo, a "/" in the password, a token as the user.
  it.each([
    "DATABASE_URL=postgres://app:s3cr3t@db:5432/app",
    "DATABASE_URL=postgresql://admin:s3cr/et@db/x",
    "REPO=https://ghp_abc123@github.com/o/r",
  ])("fails for credentials inside a URL: %s", (entry) =>
    expect(check("no-secret-literal-env", { env: [entry] })[0]!.message).toContain(entry.slice(0, entry.indexOf("="))),
  );
  it("fails for a random_password reference in a value", () => {
    const f = fixture();
    new RandomProvider(f.stack, "random");
    const pw = new Password(f.stack, "pw", { length: 32 });
    container(f, { env: [`PGPASSFILE_CONTENT=${pw.result}`] });
    expect(findings(f, "no-secret-literal-env")[0]!.message).toContain("random_password");
  });
});

describe("no-upload-on-read-only", () => {
  const upload = [{ file: "/run/secrets/db", content: "x" }];
  it("passes for uploads into a writable seed container", () =>
    expect(check("no-upload-on-read-only", { readOnly: false, start: false, upload })).toEqual([]));
  it("fails for uploads into a read-only container", () =>
    expect(check("no-upload-on-read-only", { upload })[0]!.message).toContain("/run/secrets/db"));
});

describe("data-internal-networks", () => {
  it("passes for a data container on an internal network", () => expect(check("data-internal-networks")).toEqual([]));
  it("passes for a literal name of an internal network of the stack", () =>
    expect(check("data-internal-networks", { networksAdvanced: [{ name: "dev-backend" }] })).toEqual([]));

  it("fails on a non-internal network (resolved through the reference)", () => {
    const f = fixture();
    container(f, { networksAdvanced: [{ name: f.internalNet.name }, { name: f.publicNet.name }] });
    const found = findings(f, "data-internal-networks");
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toContain('"dev-frontend"');
  });
  it("fails on a network not declared in the stack", () =>
    expect(check("data-internal-networks", { networksAdvanced: [{ name: "somewhere" }] })).toHaveLength(1));
  it("fails with network_mode host", () =>
    expect(check("data-internal-networks", { networksAdvanced: undefined, networkMode: "host" })).toHaveLength(1));
  it("fails with no network at all (default bridge)", () =>
    expect(check("data-internal-networks", { networksAdvanced: undefined })).toHaveLength(1));
  it("does not apply to app containers", () => {
    const f = fixture();
    const app = image(f, "app", `registry.example/updateio/api:1@sha256:${"d".repeat(64)}`);
    container(f, { image: app.imageId, labels: labels("dev", "app"), networksAdvanced: [{ name: f.publicNet.name }] });
    expect(findings(f, "data-internal-networks")).toEqual([]);
  });
  it("applies to a postgres image whatever its label says", () => {
    const f = fixture();
    container(f, { labels: labels("dev", "app"), networksAdvanced: [{ name: f.publicNet.name }] });
    expect(findings(f, "data-internal-networks")).toHaveLength(1);
  });
});

describe("prod-volume-protected", () => {
  function volumes(environment: Environment, props: ConstructorParameters<typeof Volume>[2]) {
    const f = fixture(environment);
    new Volume(f.stack, "data", props);
    return findings(f, "prod-volume-protected");
  }
  it("passes in prod with prevent_destroy", () => expect(volumes("prod", { name: "pg", lifecycle: { preventDestroy: true } })).toEqual([]));
  it("fails in prod without prevent_destroy", () => {
    const [finding] = volumes("prod", { name: "pg" });
    expect(finding).toMatchObject({
      ruleId: "prod-volume-protected",
      severity: "error",
      resourceType: "docker_volume",
      constructPath: "prod/data",
    });
  });
  it("passes in prod for a volume labelled ephemeral", () =>
    expect(volumes("prod", { name: "tmp", labels: [{ label: "io.updateio.ephemeral", value: "true" }] })).toEqual([]));
  it.each(["dev", "test"] as const)("does not apply in %s", (environment) => expect(volumes(environment, { name: "pg" })).toEqual([]));
});

describe("no-host-namespaces", () => {
  it("passes without host namespaces", () => expect(check("no-host-namespaces")).toEqual([]));
  it("fails with pid_mode host", () => expect(check("no-host-namespaces", { pidMode: "host" })).toHaveLength(1));
  it("fails with network_mode host", () =>
    expect(check("no-host-namespaces", { networkMode: "host", networksAdvanced: undefined })).toHaveLength(1));
});

describe("no-unconfined-profiles", () => {
  it("passes with the default profiles", () => expect(check("no-unconfined-profiles")).toEqual([]));
  it("fails with seccomp=unconfined", () =>
    expect(check("no-unconfined-profiles", { securityOpts: ["no-new-privileges:true", "seccomp=unconfined"] })).toHaveLength(1));
});

describe("required-labels", () => {
  it("passes with the kit's labels", () => expect(check("required-labels")).toEqual([]));
  it("fails without labels (a raw container cannot dodge label-based rules)", () =>
    expect(check("required-labels", { labels: undefined }).length).toBeGreaterThanOrEqual(4));
  it("fails when the environment label does not match the stack", () =>
    expect(check("required-labels", { labels: labels("dev", "app") }, "prod")[0]!.message).toContain("prod stack"));
  it("fails for an unknown component", () => expect(check("required-labels", { labels: labels("dev", "database") })).toHaveLength(1));
});

describe("raw resources outside any kit", () => {
  it("are checked like any other (a bare container breaks most rules)", () => {
    const f = fixture("prod");
    const net = new Network(f.stack, "raw-net", { name: "raw" });
    container(f, {}, "ok");
    new Container(f.stack, "raw", { name: "raw", image: "nginx:latest", networksAdvanced: [{ name: net.name }] });
    const all = findings(f);
    const ids = new Set(all.filter((x) => x.constructPath === "prod/raw").map((x) => x.ruleId));
    for (const id of [
      "memory-limit",
      "restart-policy",
      "healthcheck",
      "log-rotation",
      "capabilities-dropped",
      "no-new-privileges",
      "read-only-rootfs",
      "non-root",
      "image-digest",
      "required-labels",
    ]) {
      expect(ids).toContain(id);
    }
    expect(all.filter((x) => x.constructPath !== "prod/raw")).toEqual([]);
  });
});
