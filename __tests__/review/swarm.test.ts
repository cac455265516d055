/**
 * The change classifier and the report on Swarm resources (docker_service, docker_secret,
 * docker_config, overlay networks), on hand-made before/after pairs in the shape the swarm runtime
 * synthesizes. Each describe block names what kreuzwerker/docker 3.6.2 does (read in its source:
 * which attributes are ForceNew) or what the engine does (which changes restart tasks).
 */
import { describe, expect, it } from "vitest";
import { diffStacks, hasDataLoss, type StackDiff } from "../../scripts/review/classify";
import { buildInventory } from "../../scripts/review/inventory";
import { renderReport } from "../../scripts/review/markdown";
import { isSwarmDuration, networkProblems, serviceChangedPaths, serviceProblems, swarmObjectProblems } from "../../scripts/review/swarm";
import { attributePath, referencesByPath, type Body } from "../../scripts/review/terraform-json";
import { buildTopology } from "../../scripts/review/topology";
import { addresses, baseStack, change, type Stack } from "./fixtures";
import { CONFIG_CONTENT, containerSpec, labels, SECRET_NAME_EXPRESSION, services, swarmPair, swarmStack, taskSpec } from "./swarm-fixtures";

function diff(edit: (after: Stack) => void): StackDiff {
  const { before, after } = swarmPair(edit);
  return diffStacks("t", before, after);
}

const API = "docker_service.api";
const BOT = "docker_service.bot";

/** The change planned for `address`, checked: its action, its kind and each text its consequence must contain. */
function expectChange(d: StackDiff, address: string, expected: { action: string; kind: string; says: readonly string[] }): void {
  const c = change(d, address);
  expect(c.action).toBe(expected.action);
  expect(c.kind).toBe(expected.kind);
  for (const text of expected.says) expect(c.consequence).toContain(text);
}

describe("no change", () => {
  it("identical Swarm stacks give an empty diff", () => {
    const d = diffStacks("t", swarmStack(), swarmStack());
    expect(addresses(d)).toEqual([]);
    expect(d.downtime).toEqual([]);
    expect(d.warnings).toEqual([]);
  });

  it("set-typed attributes may be reordered (labels, networks_advanced, aliases, secrets, mounts)", () => {
    const d = diff((s) => {
      const api = services(s).api!;
      api.labels = [...(api.labels as Body[])].reverse();
      const task = taskSpec(s, "api");
      task.networks_advanced = [...(task.networks_advanced as Body[])].reverse();
      const spec = containerSpec(s, "api");
      spec.labels = [...(spec.labels as Body[])].reverse();
      spec.mounts = [...(spec.mounts as Body[])].reverse();
    });
    expect(addresses(d)).toEqual([]);
  });

  it("a one-item block written as a list reads the same as the object cdktf writes", () => {
    const d = diff((s) => {
      const api = services(s).api!;
      api.update_config = [api.update_config];
      api.mode = [{ replicated: [{ replicas: 2 }] }];
    });
    expect(addresses(d)).toEqual([]);
  });
});

describe("engine: a task_spec change is a ROLLING UPDATE (in place, tasks replaced one batch at a time)", () => {
  it.each<[string, (s: Stack) => void]>([
    ["image", (s) => (containerSpec(s, "api").image = `registry.example/updateio/api:1.2.4@sha256:${"d".repeat(64)}`)],
    ["env", (s) => ((containerSpec(s, "api").env as Body).LOG_LEVEL = "debug")],
    ["secrets list", (s) => (containerSpec(s, "api").secrets = [])],
    ["configs list", (s) => (containerSpec(s, "api").configs = [])],
    ["user", (s) => (containerSpec(s, "api").user = "1001:1001")],
    ["read_only", (s) => (containerSpec(s, "api").read_only = false)],
    ["cap_add", (s) => (containerSpec(s, "api").cap_add = ["NET_BIND_SERVICE"])],
    ["healthcheck", (s) => ((containerSpec(s, "api").healthcheck as Body).retries = 5)],
    ["stop_grace_period", (s) => (containerSpec(s, "api").stop_grace_period = "1m")],
    ["mounts (tmpfs)", (s) => (containerSpec(s, "api").mounts = [{ target: "/tmp", type: "tmpfs" }])],
    ["resources", (s) => (((taskSpec(s, "api").resources as Body).limits as Body).memory_bytes = 1073741824)],
    ["restart_policy", (s) => ((taskSpec(s, "api").restart_policy as Body).max_attempts = 3)],
    ["log_driver", (s) => (((taskSpec(s, "api").log_driver as Body).options as Body)["max-size"] = "20m")],
    ["endpoint_spec", (s) => (services(s).api!.endpoint_spec = { mode: "vip" })],
  ])("%s: rolling update, api (2 replicas, start-first) stays up", (_what, edit) => {
    const d = diff(edit);
    expectChange(d, API, {
      action: "update",
      kind: "service-rolling-update",
      says: ["ROLLING UPDATE", "all 2 tasks replaced 1 at a time, start-first", "a failed task → rollback"],
    });
    expect(d.downtime).toEqual([]);
    expect(hasDataLoss([d])).toBe(false);
  });

  it("names the env variables and the image that changed, never secret values", () => {
    const d = diff((s) => {
      (containerSpec(s, "api").env as Body).LOG_LEVEL = "s3cr3t-value";
      containerSpec(s, "api").image = `registry.example/updateio/api:1.2.4@sha256:${"d".repeat(64)}`;
    });
    const c = change(d, API);
    expect(c.consequence).toContain("env (LOG_LEVEL)");
    expect(c.consequence).toContain("image (api:1.2.3@sha256:bbbbbbbbbbbb… → api:1.2.4@sha256:dddddddddddd…)");
    expect(JSON.stringify(c)).not.toContain("s3cr3t-value");
  });

  it("the only task of a stop-first service: the update stops it before the new one starts (downtime)", () => {
    const d = diff((s) => ((containerSpec(s, "bot").env as Body).LOG_LEVEL = "debug"));
    expect(change(d, BOT).kind).toBe("service-rolling-update");
    expect(change(d, BOT).consequence).toContain("its only task replaced 1 at a time, stop-first");
    expect(d.downtime.map((x) => x.text)).toEqual(["bot: its only task is stopped before the new one starts (update order stop-first)"]);
  });

  it("the only task, start-first: no downtime", () => {
    const d = diff((s) => {
      (containerSpec(s, "bot").env as Body).LOG_LEVEL = "debug";
      (services(s).bot!.update_config as Body).order = "start-first";
    });
    expect(d.downtime).toEqual([]);
  });
});

describe("engine: changes that restart no task", () => {
  it("replicas: scaled in place, running tasks untouched", () => {
    const d = diff((s) => (services(s).api!.mode = { replicated: { replicas: 4 } }));
    expectChange(d, API, { action: "update", kind: "service-scaled", says: ["replicas (2 → 4)"] });
    expect(d.downtime).toEqual([]);
  });

  it.each(["update_config", "rollback_config"])("%s: in place, no task restarts", (key) => {
    const d = diff((s) => ((services(s).api![key] as Body).monitor = "2m"));
    const c = change(d, API);
    expect(c.kind).toBe("service-settings");
    expect(c.consequence).toContain("no task restarts");
  });

  it("placement alone: only tasks on nodes that no longer match move", () => {
    const d = diff((s) => (taskSpec(s, "api").placement = { constraints: ["node.labels.updateio.apps==true"] }));
    const c = change(d, API);
    expect(c.kind).toBe("service-placement");
    expect(c.consequence).toContain("only tasks on nodes that no longer match move");
  });
});

describe("kreuzwerker/docker 3.6.2: ForceNew attributes REPLACE the service = DOWNTIME", () => {
  it.each<[string, string, (s: Stack) => void]>([
    ["name", "name", (s) => (services(s).api!.name = "t-api-v2")],
    ["service labels", "labels", (s) => (services(s).api!.labels = [...labels("api", "app"), { label: "io.updateio.role", value: "web" }])],
    ["container labels", "container_spec.labels", (s) => (containerSpec(s, "api").labels = labels("api", "web"))],
    [
      "a network added",
      "networks_advanced",
      (s) =>
        (taskSpec(s, "api").networks_advanced = [
          ...(taskSpec(s, "api").networks_advanced as Body[]),
          { name: "${docker_network.egress.id}", aliases: ["api"] },
        ]),
    ],
    ["an alias added", "networks_advanced", (s) => ((taskSpec(s, "api").networks_advanced as Body[])[0]!.aliases = ["api", "backend"])],
    [
      "driver_opts",
      "networks_advanced",
      (s) => ((taskSpec(s, "api").networks_advanced as Body[])[0]!.driver_opts = ["com.docker.network.driver.mtu=1400"]),
    ],
    ["hosts", "container_spec.hosts", (s) => (containerSpec(s, "api").hosts = [{ host: "metadata", ip: "10.0.0.1" }])],
    ["sysctl", "container_spec.sysctl", (s) => (containerSpec(s, "api").sysctl = { "net.core.somaxconn": "1024" })],
    ["registry auth", "auth", (s) => (services(s).api!.auth = { server_address: "registry.example" })],
  ])("%s: service replaced, all its tasks stop", (_what, forcing, edit) => {
    const d = diff(edit);
    expectChange(d, API, {
      action: "replace",
      kind: "service-replaced",
      says: ["REPLACED = DOWNTIME", `ForceNew in 3.6.2: ${forcing}`, "all 2 tasks stop"],
    });
    expect(d.downtime.map((x) => x.text)).toContain("api: its Swarm service is replaced (destroyed, then created), all 2 tasks stop");
  });

  it("a mount whose volume labels change forces replacement; a tmpfs mount does not", () => {
    const withLabels = (value: string) => (s: Stack) =>
      (containerSpec(s, "api").mounts = [
        { target: "/cache", type: "volume", source: "cache", volume_options: { labels: [{ label: "x", value }] } },
      ]);
    const { before, after } = swarmPair(withLabels("2"));
    withLabels("1")(before);
    expect(change(diffStacks("t", before, after), API).kind).toBe("service-replaced");
    const tmpfs = swarmStack();
    containerSpec(tmpfs, "api").mounts = [{ target: "/run", type: "tmpfs" }];
    const paths = serviceChangedPaths(swarmStack().resource.docker_service!.api!, tmpfs.resource.docker_service!.api!);
    expect(paths).toEqual(["task_spec.container_spec.mounts"]);
  });

  it("create_before_destroy on a service cannot help: the note says the name conflicts", () => {
    const d = diff((s) => {
      services(s).api!.name = "t-api-v2";
      services(s).api!.lifecycle = { create_before_destroy: true };
    });
    expect(change(d, API).notes.join(" ")).toContain("name conflicts with an existing object");
  });

  it("replicated → global: planned in place, refused by the engine (the apply fails); replacing it is downtime", () => {
    const d = diff((s) => (services(s).api!.mode = { global: true }));
    expectChange(d, API, {
      action: "update",
      kind: "service-mode-refused",
      says: ["APPLY FAILS", "service mode change is not allowed", "terraform apply -replace=docker_service.api"],
    });
    expect(d.warnings.join("\n")).toContain("t-api: the apply fails");
    expect(d.downtime.map((x) => x.service)).toEqual(["api"]);
  });

  it("a service removed is no downtime risk (it is meant to go), nor data loss", () => {
    const d = diff((s) => delete services(s).bot);
    expect(change(d, BOT).action).toBe("remove");
    expect(d.downtime).toEqual([]);
    expect(hasDataLoss([d])).toBe(false);
  });
});

describe("a changed network replaces every service and container on it", () => {
  it("app overlay renamed: network replaced → api, bot (Swarm) and db (container) replaced; the migration job runs again", () => {
    const d = diff((s) => (s.resource.docker_network!.app!.name = "t-app-v2"));
    const net = change(d, "docker_network.app");
    expect(net.kind).toBe("network-replaced");
    expect(net.swarmServices).toEqual(["api", "bot"]);
    expect(net.replaces).toEqual(["api-migrate", "db"]);
    expect(net.consequence).toContain("Swarm services replaced (downtime): api, bot");
    expect(net.notes.join(" ")).toContain("every Swarm service and container attached to it is replaced");
    for (const a of [API, BOT]) {
      expect(change(d, a).kind).toBe("service-replaced");
      expect(change(d, a).consequence).toContain("attached to network t-app-v2, which is replaced");
    }
    expect(change(d, "docker_container.db").kind).toBe("container-replaced");
    expect(d.downtime.map((x) => x.service).sort()).toEqual(["api", "bot", "db"]);
    expect(d.warnings).toContain("t-api-migrate (one-shot job) runs again");
    // The volume stays: a replaced network is downtime, not data loss.
    expect(hasDataLoss([d])).toBe(false);
  });

  it("a service that names the network (${docker_network.x.name}) is replaced the same way, and told it never settles", () => {
    const d = diff((s) => {
      (taskSpec(s, "bot").networks_advanced as Body[])[1]!.name = "${docker_network.app.name}";
      s.resource.docker_network!.app!.internal = false;
    });
    // The reference text changed too (id → name): replaced by its own ForceNew change and through the network.
    expect(change(d, BOT).kind).toBe("service-replaced");
    expect(change(d, BOT).notes.join(" ")).toContain("the engine stores the ID, so the plan never settles");
  });

  it("an ignored attribute (overlay options under ignore_changes) has no effect, and says so", () => {
    const d = diff((s) => (s.resource.docker_network!.edge!.options = { encrypted: "", "com.docker.network.driver.mtu": "1400" }));
    expectChange(d, "docker_network.edge", {
      action: "no-op",
      kind: "ignored-change",
      says: ["no effect: options changed but listed in lifecycle.ignore_changes"],
    });
    expect(d.warnings.join("\n")).toContain("t-edge: options changed but ignored");
    expect(addresses(d)).toEqual(["docker_network.edge"]);
  });

  it("ignore_changes on a nested service path (task_spec[0].container_spec[0].image) ignores that path only", () => {
    const { before, after } = swarmPair((s) => {
      containerSpec(s, "api").image = `registry.example/updateio/api:9.9.9@sha256:${"e".repeat(64)}`;
      (containerSpec(s, "api").env as Body).LOG_LEVEL = "debug";
    });
    for (const s of [before, after]) services(s).api!.lifecycle = { ignore_changes: ["task_spec[0].container_spec[0].image"] };
    const c = change(diffStacks("t", before, after), API);
    expect(c.kind).toBe("service-rolling-update");
    expect(c.attributes).toEqual(["task_spec.container_spec.env"]);
    expect(c.ignored).toEqual(["task_spec.container_spec.image"]);
  });

  it("encrypting an overlay that had no options: replaced (the lifecycle ignore comes with the options)", () => {
    const d = diff((s) =>
      Object.assign(s.resource.docker_network!.app!, { options: { encrypted: "" }, lifecycle: { ignore_changes: ["options"] } }),
    );
    expect(change(d, "docker_network.app").kind).toBe("ignored-change");
    // Terraform ignores the new options against the state: the network stays unencrypted until replaced by hand.
    expect(change(d, "docker_network.app").consequence).toContain("terraform apply -replace=docker_network.app");
  });
});

describe("docker_secret / docker_config: every attribute ForceNew; a new name is a ROTATION", () => {
  it("the generated password rotates: the content-named secret is created before the old one goes, api rolls", () => {
    const d = diff((s) => (s.resource.random_password!.session!.length = 64));
    const secret = change(d, "docker_secret.session");
    expect(secret.kind).toBe("secret-rotated");
    expect(secret.consequence).toContain(
      "ROTATION: a new secret t-api-session_secret-<hash of the generated value> is created before the old one is removed",
    );
    expect(secret.swarmServices).toEqual(["api"]);
    const api = change(d, API);
    expect(api.kind).toBe("service-rolling-update");
    expect(api.consequence).toContain(
      "secret t-api-session_secret-<hash of the generated value> is replaced by a new one (secrets changes)",
    );
    expect(d.downtime).toEqual([]);
    expect(d.warnings).toContain("Swarm secret rotates: t-api-session_secret-<hash of the generated value> (services roll: api)");
    const password = change(d, "random_password.session");
    expect(password.consequence).toContain("Swarm services roll: api");
    expect(JSON.stringify(d)).not.toContain("random_password.session.result");
  });

  it("new config content (new hashed name, new data): rotation, api rolls", () => {
    const d = diff((s) =>
      Object.assign(s.resource.docker_config!.api_conf!, {
        name: "t-api-app.yaml-ba9876543210",
        data: '${base64encode("listen: 0.0.0.0:3001\\n")}',
      }),
    );
    const c = change(d, "docker_config.api_conf");
    expect(c.kind).toBe("config-rotated");
    expect(c.swarmServices).toEqual(["api"]);
    expect(change(d, API).kind).toBe("service-rolling-update");
    expect(d.warnings).toContain("Swarm config rotates: t-api-app.yaml-ba9876543210 (services roll: api)");
  });

  it("new data under the same name: the apply fails (the name already exists)", () => {
    const d = diff((s) => (s.resource.docker_config!.api_conf!.data = '${base64encode("other")}'));
    const c = change(d, "docker_config.api_conf");
    expect(c.kind).toBe("swarm-object-refused");
    expect(c.consequence).toContain("APPLY FAILS");
    expect(c.consequence).toContain("already exists");
    expect(d.warnings).toContain("t-api-app.yaml-0123456789ab: the apply fails (docker_config.api_conf; see Changes)");
  });

  /** The session secret rotated (a longer password) with create_before_destroy removed; `also` edits both sides. */
  const rotateSessionWithoutCreateBeforeDestroy = (also: (s: Stack) => void = () => {}) => {
    const { before, after } = swarmPair((s) => {
      delete s.resource.docker_secret!.session!.lifecycle;
      s.resource.random_password!.session!.length = 64;
      also(s);
    });
    delete before.resource.docker_secret!.session!.lifecycle;
    also(before);
    return change(diffStacks("t", before, after), "docker_secret.session");
  };

  it("a rotation without create_before_destroy: the old secret is deleted first, which Docker refuses while in use", () => {
    const c = rotateSessionWithoutCreateBeforeDestroy();
    expect(c.kind).toBe("swarm-object-refused");
    expect(c.consequence).toContain("without create_before_destroy the old secret is deleted first");
  });

  it("a replaced secret that no service mounts, without create_before_destroy: simply replaced", () => {
    const unmount = (s: Stack) => void (containerSpec(s, "api").secrets = []);
    expect(rotateSessionWithoutCreateBeforeDestroy(unmount).kind).toBe("replaced");
  });

  it("secret labels are ForceNew too (a new object under the same name: refused)", () => {
    const d = diff((s) => (s.resource.docker_secret!.session!.labels = labels("api", "web")));
    expect(change(d, "docker_secret.session").action).toBe("replace");
    expect(change(d, "docker_secret.session").kind).toBe("swarm-object-refused");
  });
});

describe("moving a service from containers to Swarm", () => {
  it("its containers are removed while the new Swarm service starts: downtime", () => {
    const before = baseStack();
    const after = baseStack();
    delete after.resource.docker_container!.api_1;
    delete after.resource.docker_container!.api_2;
    after.resource.docker_service = { api: swarmStack().resource.docker_service!.api! };
    const d = diffStacks("t", before, after);
    expect(change(d, API).action).toBe("add");
    expect(d.downtime.map((x) => x.text)).toEqual([
      "api: its 2 containers are removed while its new Swarm service starts (nothing orders one after the other)",
    ]);
  });
});

describe("values that never settle or fail at apply", () => {
  it("the planned shape has none", () => {
    const s = swarmStack();
    for (const svc of Object.values(s.resource.docker_service!)) expect(serviceProblems(svc)).toEqual([]);
    for (const n of Object.values(s.resource.docker_network!)) expect(networkProblems(n)).toEqual([]);
    expect(swarmObjectProblems("docker_secret", s.resource.docker_secret!.session!)).toEqual([]);
    expect(swarmObjectProblems("docker_config", s.resource.docker_config!.api_conf!)).toEqual([]);
  });

  it("durations are read back short: 1m, 1m30s, 1h (not 1m0s, 90s)", () => {
    for (const ok of ["0s", "5s", "1m", "1m30s", "1h", "1h30m", "1h0m5s", "500ms"]) expect(isSwarmDuration(ok), ok).toBe(true);
    for (const bad of ["1m0s", "90s", "60m", "1h0m", "1h0m0s", "", "5"]) expect(isSwarmDuration(bad), bad).toBe(false);
  });

  it("flags each known trap of 3.6.2 on a service", () => {
    const svc = swarmStack().resource.docker_service!.api!;
    const spec = (svc.task_spec as Body).container_spec as Body;
    delete spec.stop_grace_period;
    (spec.healthcheck as Body).interval = "1m0s";
    (svc.update_config as Body).max_failure_ratio = "0";
    (svc.task_spec as Body).restart_policy = { condition: "any" };
    ((svc.task_spec as Body).networks_advanced as Body[])[0]!.name = "${docker_network.edge.name}";
    spec.mounts = [{ target: "/tmp", type: "tmpfs", tmpfs_options: { mode: 1777 } }];
    spec.secrets = [{ secret_id: "${docker_secret.session.id}", file_name: "/run/secrets/x" }];
    spec.image = "registry.example/updateio/api:latest";
    const text = serviceProblems(svc).join("\n");
    for (const expected of [
      "no stop_grace_period: the provider sends 0",
      'healthcheck interval "1m0s" is not in the form the provider reads back',
      'update_config max_failure_ratio "0" is read back with one decimal',
      "restart_policy leaves out delay, max_attempts, window",
      "networks_advanced names network docker_network.edge.name",
      "tmpfs_options: provider 3.6.2 crashes",
      "without secret_name: the engine refuses it",
      "is not pinned by digest",
    ]) {
      expect(text).toContain(expected);
    }
  });

  it("flags secret data that is not base64encode(...), config labels, and overlay options that are not ignored", () => {
    expect(
      swarmObjectProblems("docker_secret", {
        name: "x-0123456789ab",
        data: "${random_password.x.result}",
        lifecycle: { create_before_destroy: true },
      }).join(" "),
    ).toContain("not base64encode");
    expect(
      swarmObjectProblems("docker_config", {
        name: "x-0123456789ab",
        data: '${base64encode("a")}',
        labels: [],
        lifecycle: { create_before_destroy: true },
      }).join(" "),
    ).toContain("no labels in provider 3.6.2");
    expect(networkProblems({ name: "n", driver: "overlay", options: { encrypted: "" } }).join(" ")).toContain("vxlanid_list");
  });
});

describe("references: attribute paths of a docker_service", () => {
  it("reads ${type.name.attr} inside nested blocks with the path the classifier judges", () => {
    const refs = referencesByPath(
      swarmStack().resource.docker_service!.api!,
      new Set(["docker_network", "docker_secret", "docker_config", "docker_container"]),
    );
    expect(refs.map((r) => `${r.path} ${r.address}.${r.attr}`).sort()).toEqual([
      "task_spec.container_spec.configs docker_config.api_conf.id",
      "task_spec.container_spec.configs docker_config.api_conf.name",
      "task_spec.container_spec.secrets docker_secret.session.id",
      "task_spec.container_spec.secrets docker_secret.session.name",
      "task_spec.networks_advanced docker_network.app.id",
      "task_spec.networks_advanced docker_network.edge.id",
    ]);
    expect(attributePath(["task_spec", "0", "container_spec", "0", "env", "X"])).toBe("task_spec.container_spec.env");
  });
});

describe("inventory and report of a Swarm stack", () => {
  const json = swarmStack();
  const inventory = buildInventory("t", json);
  const report = renderReport({
    inventory,
    topology: buildTopology(inventory, json),
    json,
    picture: { missing: "not rendered in this test" },
  });

  it("lists each service with image, replicas, limits, user, read-only, update order and failure action, networks, secrets by name", () => {
    const api = inventory.services.find((s) => s.name === "api")!;
    expect(api.runtime).toBe("swarm");
    expect(api.replicas).toBe(2);
    expect(api.memoryMb).toBe(512);
    expect(api.swarm!.cpus).toBe(1);
    expect(api.swarm!.memoryReservationMb).toBe(128);
    expect(api.user).toBe("1000:1000");
    expect(api.readOnly).toBe(true);
    expect(api.swarm!.update).toMatchObject({ order: "start-first", failureAction: "rollback", parallelism: 1 });
    expect(api.swarm!.rollback).toMatchObject({ order: "start-first", failureAction: "pause" });
    expect(api.networks.map((n) => n.name)).toEqual(["t-edge", "t-app"]);
    expect(api.secrets).toEqual(["session_secret"]);
    expect(api.swarm!.configs).toEqual(["/etc/api/app.yaml"]);
    expect(report).toContain(
      "| **api** (Swarm service) | app | registry.example/updateio/api:1.2.3 | sha256:bbbbbbbbbbbb… | 2 | 512 MiB (reserves 128) | 1.00 CPU limit | 1000:1000 | yes |",
    );
    expect(report).toContain(
      "| **api** | t-api | 2 | start-first, 1 at a time, delay 5s, monitor 1m50s; on failure: rollback | start-first, 1 at a time, delay 0s, monitor 1m50s; on failure: pause | any node | dnsrr | /etc/api/app.yaml |",
    );
    expect(report).toContain("| **bot** | t-bot | 1 | stop-first,");
  });

  it("states which values force replacement, per service", () => {
    expect(report).toContain("### What replaces a Swarm service (downtime)");
    expect(report).toContain(
      "the name, the service and container labels, the networks and their aliases (networks_advanced), hosts, sysctls and registry auth",
    );
    expect(report).toContain(
      "| **api** | t-api | t-edge (aliases: api); t-app (aliases: api) | 4 service, 4 container | 0 hosts, 0 sysctls |",
    );
  });

  it("lists secrets and configs by name and mount, never their data", () => {
    expect(report).toContain(
      // "<" escaped: GitHub would drop "<hash ...>" as an unknown HTML tag.
      "| t-api-session_secret-&lt;hash of the generated value> | secret | api:/run/secrets/session_secret | new object first (create_before_destroy) |",
    );
    expect(report).toContain("| t-api-app.yaml-0123456789ab | config | api:/etc/api/app.yaml |");
    expect(report).not.toContain(SECRET_NAME_EXPRESSION);
    expect(report).not.toContain("random_password.session.result");
    expect(report).not.toContain(CONFIG_CONTENT);
  });

  it("marks overlay networks, attachable and encrypted", () => {
    expect(report).toContain("| t-edge | yes | overlay, attachable, encrypted | api |");
    expect(report).toContain("| t-app | yes | overlay, attachable | api, api-migrate, bot, db |");
  });

  it("draws Swarm services in the topology: api → db over app, the migration job and the bot's egress", () => {
    const topology = buildTopology(inventory, json);
    const edges = topology.edges.map((e) => `${e.from} ${e.kind} ${e.to} ${e.label}`);
    expect(edges).toContain("s_api talks s_db app");
    expect(edges).toContain("s_bot egress internet egress");
    expect(topology.nodes.find((n) => n.id === "s_api")!.label).toBe("api ×2");
  });

  it("a change section: the api image rolls, the bot's alias replaces it", () => {
    const { before, after } = swarmPair((s) => {
      containerSpec(s, "api").image = `registry.example/updateio/api:1.2.4@sha256:${"d".repeat(64)}`;
      (taskSpec(s, "bot").networks_advanced as Body[])[0]!.aliases = ["bot", "discord"];
    });
    const d = diffStacks("t", before, after);
    const text = renderReport({
      inventory: buildInventory("t", after),
      topology: buildTopology(buildInventory("t", after), after),
      json: after,
      picture: {},
      diff: d,
      against: "a test",
    });
    expect(text).toContain("**DOWNTIME**: bot: its Swarm service is replaced (destroyed, then created), its only task stops");
    expect(text).toMatch(/\| t-api \| docker_service\.api \| ROLLING UPDATE \(image/);
    expect(text).toMatch(/\| t-bot \| docker_service\.bot \| Swarm service REPLACED = DOWNTIME: .*ForceNew in 3\.6\.2: networks_advanced/);
  });
});
