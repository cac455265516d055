/**
 * The rule set over Swarm resources: docker_service (the same rules as containers where they
 * apply, plus rolling updates), docker_secret, docker_config and overlay networks. Each test
 * breaks the compliant fixture in one place, through the JSON (addOverride), as anyone could.
 */
import { Config } from "@cdktf/provider-docker/lib/config";
import { Network } from "@cdktf/provider-docker/lib/network";
import { Secret } from "@cdktf/provider-docker/lib/secret";
import { Service, type ServiceTaskSpecContainerSpec } from "@cdktf/provider-docker/lib/service";
import { describe, expect, it } from "vitest";
import type { Environment } from "../../constructs/policy/rules";
import { CADDY_IMAGE, findings } from "./fixtures";
import { compliantServiceConfig, service, serviceLabels, swarmFixture, type SwarmFixture } from "./swarm-fixtures";

const ENVIRONMENTS: Environment[] = ["dev", "test", "prod"];
const SPEC = "task_spec.container_spec";

/** Findings of `ruleId` (all rules when omitted) for the compliant service changed by `mutate`. */
function svc(mutate: (s: Service, f: SwarmFixture) => void, ruleId?: string, environment: Environment = "prod") {
  const f = swarmFixture(environment);
  mutate(service(f), f);
  return findings(f, ruleId);
}
/** The same, changing the config itself (overrides merge lists instead of replacing them). */
function svcConfig(spec: Partial<ServiceTaskSpecContainerSpec>, ruleId?: string, environment: Environment = "prod") {
  const f = swarmFixture(environment);
  const config = compliantServiceConfig(f);
  new Service(f.stack, "api", {
    ...config,
    taskSpec: { ...config.taskSpec, containerSpec: { ...config.taskSpec.containerSpec, ...spec } },
  });
  return findings(f, ruleId);
}
const ids = (list: { ruleId: string }[]) => [...new Set(list.map((x) => x.ruleId))].sort();

describe("the compliant Swarm fixture", () => {
  it.each(ENVIRONMENTS)("has no findings in %s", (environment) => {
    expect(svc(() => undefined, undefined, environment)).toEqual([]);
  });
});

describe("docker_service: the container rules apply", () => {
  it.each(["0", "0:0", "root", "00:1000", "nobody-knows"])("non-root: user %j", (user) => {
    expect(ids(svc((s) => s.addOverride(`${SPEC}.user`, user), "non-root"))).toEqual(["non-root"]);
  });
  it("non-root: the docker group", () => expect(svc((s) => s.addOverride(`${SPEC}.groups`, ["docker"]), "non-root")).toHaveLength(1));
  it("capabilities-dropped: no cap_drop", () =>
    expect(svc((s) => s.addOverride(`${SPEC}.cap_drop`, undefined), "capabilities-dropped")).toHaveLength(1));
  it('capabilities-dropped: cap_drop [" ALL"] (the engine refuses it; not a drop)', () =>
    expect(svcConfig({ capDrop: [" ALL"] }, "capabilities-dropped")).toHaveLength(1));
  it("capabilities-dropped: cap_add SYS_ADMIN", () =>
    expect(svc((s) => s.addOverride(`${SPEC}.cap_add`, ["sys_admin"]), "capabilities-dropped")).toHaveLength(1));
  it("read-only-rootfs", () => expect(svc((s) => s.addOverride(`${SPEC}.read_only`, false), "read-only-rootfs")).toHaveLength(1));
  it("healthcheck: none", () => expect(svc((s) => s.addOverride(`${SPEC}.healthcheck`, undefined), "healthcheck")).toHaveLength(1));
  it("healthcheck: NONE", () => expect(svcConfig({ healthcheck: { test: ["none"] } }, "healthcheck")[0]!.message).toContain("disables"));
  it("memory-limit: none", () =>
    expect(svc((s) => s.addOverride("task_spec.resources.limits.memory_bytes", undefined), "memory-limit")).toHaveLength(1));
  it("memory-limit: 1 TiB is no limit", () =>
    expect(svc((s) => s.addOverride("task_spec.resources.limits.memory_bytes", 2 ** 40), "memory-limit")).toHaveLength(1));
  it("cpu-limit: none", () => expect(svc((s) => s.addOverride("task_spec.resources.limits.nano_cpus", 0), "cpu-limit")).toHaveLength(1));
  it("log-rotation: no log_driver", () =>
    expect(svc((s) => s.addOverride("task_spec.log_driver", undefined), "log-rotation")).toHaveLength(1));
  it("log-rotation: max-size -1 (unlimited)", () =>
    expect(svc((s) => s.addOverride("task_spec.log_driver.options.max-size", "-1"), "log-rotation")).toHaveLength(1));
  it("required-labels", () => expect(svc((s) => s.addOverride("labels", undefined), "required-labels").length).toBeGreaterThanOrEqual(4));
  it("no-secret-literal-env: a secret in the env map", () =>
    expect(svc((s) => s.addOverride(`${SPEC}.env.SESSION_SECRET`, "hunter2"), "no-secret-literal-env")).toHaveLength(1));
  it("not-privileged: privileges (se_linux_context / credential_spec)", () =>
    expect(svc((s) => s.addOverride(`${SPEC}.privileges`, { se_linux_context: { disable: true } }), "not-privileged")).toHaveLength(1));
  it("sysctls-allowed", () =>
    expect(svc((s) => s.addOverride(`${SPEC}.sysctl`, { "kernel.shm_rmid_forced": "0" }), "sysctls-allowed")).toHaveLength(1));
  it("no-extra-hosts", () =>
    expect(svc((s) => s.addOverride(`${SPEC}.hosts`, [{ host: "registry.example", ip: "203.0.113.9" }]), "no-extra-hosts")).toHaveLength(
      1,
    ));
  it("default-runtime: a plugin task", () =>
    expect(svc((s) => s.addOverride("task_spec.runtime", "plugin"), "default-runtime")).toHaveLength(1));
  it("no-devices: generic resources (GPUs)", () =>
    expect(
      svc((s) => s.addOverride("task_spec.resources.reservation.generic_resources", { discrete_resources_spec: ["gpu=1"] }), "no-devices"),
    ).toHaveLength(1));

  describe("mounts", () => {
    it("no-docker-socket: a bind of the socket", () =>
      expect(
        svc(
          (s) => s.addOverride(`${SPEC}.mounts`, [{ type: "bind", source: "/var/run/docker.sock", target: "/s", read_only: true }]),
          "no-docker-socket",
        ),
      ).toHaveLength(1));
    it("no-docker-socket: a volume whose driver options bind /var/run", () =>
      expect(
        svc(
          (s) =>
            s.addOverride(`${SPEC}.mounts`, [
              { type: "volume", target: "/x", volume_options: { driver_options: { type: "none", o: "bind", device: "/var/run" } } },
            ]),
          "no-docker-socket",
        ),
      ).toHaveLength(1));
    it("no-host-paths: any bind into a Swarm service", () =>
      expect(
        svc((s) => s.addOverride(`${SPEC}.mounts`, [{ type: "bind", source: "/srv/data", target: "/data" }]), "no-host-paths"),
      ).toHaveLength(1));
    it("plain-volumes: a named volume (per node) in a Swarm service", () =>
      expect(
        svc((s) => s.addOverride(`${SPEC}.mounts`, [{ type: "volume", source: "data", target: "/data" }]), "plain-volumes"),
      ).toHaveLength(1));
  });

  describe("image-digest", () => {
    it.each([
      ["dev", "warning"],
      ["test", "error"],
      ["prod", "error"],
    ] as const)("a tag is a %s %s", (environment, severity) => {
      const found = svc((s) => s.addOverride(`${SPEC}.image`, "registry.example/updateio/api:1.2.3"), "image-digest", environment);
      expect(found.map((x) => x.severity)).toEqual([severity]);
    });
  });

  describe("published-ports", () => {
    const port = (mode?: string) => ({ target_port: 3000, published_port: 3000, ...(mode ? { publish_mode: mode } : {}) });
    it.each(ENVIRONMENTS)("an app service publishes nothing (%s)", (environment) =>
      expect(
        svc((s) => s.addOverride("endpoint_spec", { mode: "vip", ports: [port("host")] }), "published-ports", environment),
      ).toHaveLength(1),
    );
    it("an edge service must publish in host mode (ingress hides client IPs)", () => {
      const found = svc((s) => {
        s.addOverride(`${SPEC}.image`, CADDY_IMAGE);
        s.addOverride("labels", serviceLabels("prod", "edge"));
        s.addOverride("endpoint_spec", { mode: "vip", ports: [{ target_port: 443, published_port: 443 }] });
      }, "published-ports");
      expect(found.map((x) => x.message)).toEqual([expect.stringContaining("ingress mode")]);
    });
    it("an edge service in host mode on 80/443 passes", () =>
      expect(
        svc((s) => {
          s.addOverride(`${SPEC}.image`, CADDY_IMAGE);
          s.addOverride("labels", serviceLabels("prod", "edge"));
          s.addOverride("endpoint_spec", { mode: "vip", ports: [{ target_port: 443, published_port: 443, publish_mode: "host" }] });
        }, "published-ports"),
      ).toEqual([]));
  });
});

describe("docker_service: Swarm-only rules", () => {
  it("secret-file-permissions: world-readable 0444", () =>
    expect(svc((s) => s.addOverride(`${SPEC}.secrets.0.file_mode`, 292), "secret-file-permissions")[0]!.message).toContain(
      "world-readable",
    ));
  it("secret-file-permissions: file_mode unset (engine default 0444)", () =>
    expect(svc((s) => s.addOverride(`${SPEC}.secrets.0.file_mode`, undefined), "secret-file-permissions")[0]!.message).toContain("0444"));
  it("secret-file-permissions: uid by name", () =>
    expect(svc((s) => s.addOverride(`${SPEC}.secrets.0.file_uid`, "node"), "secret-file-permissions")).toHaveLength(1));
  it("secret-file-permissions: a setuid config", () =>
    expect(svc((s) => s.addOverride(`${SPEC}.configs.0.file_mode`, 0o4555), "secret-file-permissions")).toHaveLength(1));

  it("update-config: missing", () => expect(svc((s) => s.addOverride("update_config", undefined), "update-config")).toHaveLength(1));
  it.each([
    ["failure_action", "pause"],
    ["parallelism", 0],
    ["monitor", "0s"],
    ["order", undefined],
  ])("update-config: %s = %j", (key, value) =>
    expect(svc((s) => s.addOverride(`update_config.${key}`, value), "update-config")).toHaveLength(1),
  );
  it("rollback-config: missing", () => expect(svc((s) => s.addOverride("rollback_config", undefined), "rollback-config")).toHaveLength(1));
  it.each(["condition", "delay", "max_attempts", "window"])("restart-policy: %s left out", (key) =>
    expect(svc((s) => s.addOverride(`task_spec.restart_policy.${key}`, undefined), "restart-policy")).toHaveLength(1),
  );
  it("restart-policy: condition none", () =>
    expect(svc((s) => s.addOverride("task_spec.restart_policy.condition", "none"), "restart-policy")).toHaveLength(1));
  it("stop-grace-period: unset", () =>
    expect(svc((s) => s.addOverride(`${SPEC}.stop_grace_period`, undefined), "stop-grace-period")).toHaveLength(1));
  it("network-by-id: a network by name is a warning", () => {
    const found = svc(
      (s, f) => s.addOverride("task_spec.networks_advanced", [{ name: f.overlay.name, aliases: ["api"] }]),
      "network-by-id",
    );
    expect(found.map((x) => x.severity)).toEqual(["warning"]);
  });
});

describe("docker_secret and docker_config", () => {
  it("a secret written as a literal is a finding", () => {
    const f = swarmFixture();
    new Secret(f.stack, "literal", {
      name: "prod-x-0123456789ab",
      data: Buffer.from("hunter2").toString("base64"),
      lifecycle: { createBeforeDestroy: true },
    });
    expect(findings(f, "swarm-object-data").map((x) => x.message)).toEqual([expect.stringContaining("literal")]);
  });
  it("base64encode of a literal is not generated data", () => {
    const f = swarmFixture();
    new Secret(f.stack, "wrapped", {
      name: "prod-x-0123456789ab",
      data: '${base64encode("hunter2")}',
      lifecycle: { createBeforeDestroy: true },
    });
    expect(findings(f, "swarm-object-data")).toHaveLength(1);
    expect(findings(f, "no-unjudged-expressions")).toHaveLength(1);
  });
  it("a secret without create_before_destroy", () => {
    const f = swarmFixture();
    f.secret.addOverride("lifecycle.create_before_destroy", false);
    expect(findings(f, "swarm-object-replace-first")).toHaveLength(1);
  });
  it("a config with data that is not base64, and without create_before_destroy", () => {
    const f = swarmFixture();
    new Config(f.stack, "bad", { name: "prod-api-x-0123456789ab", data: "{not base64}" });
    expect(ids(findings(f))).toEqual(["swarm-object-data", "swarm-object-replace-first"]);
  });
});

describe("docker_network (overlay)", () => {
  it("prod: an internal overlay without encryption", () => {
    const f = swarmFixture("prod");
    new Network(f.stack, "plain", { name: "prod-postgres", driver: "overlay", attachable: true, internal: true });
    expect(findings(f, "network-driver")).toHaveLength(1);
  });
  it("test: an internal overlay without encryption is fine", () => {
    const f = swarmFixture("test");
    new Network(f.stack, "plain", { name: "test-postgres", driver: "overlay", attachable: true, internal: true });
    expect(findings(f, "network-driver")).toEqual([]);
  });
  it.each([
    ["macvlan", { driver: "macvlan" }],
    ["ipvlan", { driver: "IPVLAN" }],
    ["the ingress network", { driver: "overlay", ingress: true }],
  ])("%s", (_name, props) => {
    const f = swarmFixture("test");
    new Network(f.stack, "odd", { name: "odd", ...props });
    expect(findings(f, "network-driver")).toHaveLength(1);
  });
});
