/**
 * The pure parts of `npm run e2e` for a stack on the swarm runtime: what it reads from the
 * synthesized JSON (services, the images they pull, the names of services, secrets and configs),
 * whether the engine can take the stack, and when a service has converged.
 */
import { describe, expect, it } from "vitest";
import { isPlaceholderDigest } from "../../scripts/lib/docker";
import {
  objectNamePattern,
  pulledImages,
  servicesOf,
  swarmClashes,
  swarmObjectsOf,
  usesSwarm,
  type ServiceRef,
  type TerraformJson,
} from "../../scripts/lib/stack";
import { advertiseAddressHint, convergence, HOPELESS_FAILURES, parseTaskRows, swarmVerdict, type TaskRow } from "../../scripts/lib/swarm";

const ZERO = `sha256:${"0".repeat(64)}`;
const REAL = `sha256:${"a".repeat(64)}`;
// Written as the swarm runtime writes a secret whose value Terraform generates.
const HASHED = (prefix: string, ref: string) => `\${join("", ["${prefix}", substr(sha256(${ref}), 0, 12)])}`;

/** In the shape `npx tsx main.ts` writes test's cdk.tf.json: containers, images and Swarm objects. */
const swarmStack: TerraformJson = {
  resource: {
    docker_image: {
      "api-image_1": { name: `ghcr.io/updateio/api:0.0.0@${ZERO}` },
      edge_image_2: { name: `caddy:2.10.2-alpine@${REAL}` },
    },
    docker_container: {
      edge_3: {
        name: "test-edge",
        image: "${docker_image.edge_image_2.image_id}",
        ports: [{ internal: 443, external: 8444, ip: "127.0.0.1" }],
      },
      migrate_4: { name: "test-api-migrate", must_run: false, env: ["SERVICE_NAME=api"] },
    },
    docker_service: {
      api_service_5: {
        name: "test-api",
        mode: { replicated: { replicas: 2 } },
        endpoint_spec: { mode: "dnsrr" },
        task_spec: {
          container_spec: {
            image: `ghcr.io/updateio/api:0.0.0@${ZERO}`,
            env: { SERVICE_NAME: "api", DATABASE_HOST: "postgres-pooler", DATABASE_PORT: "6432" },
            healthcheck: { test: ["CMD", "node", "-e", "0"] },
          },
        },
      },
      "mini-app_service_6": {
        name: "test-mini-app",
        mode: { replicated: {} },
        task_spec: { container_spec: { image: `ghcr.io/updateio/mini-app:0.0.0@${ZERO}`, env: { SERVICE_NAME: "mini-app" } } },
      },
      agent_7: {
        name: "test-agent",
        mode: { global: true },
        endpoint_spec: { ports: [{ target_port: 9100, published_port: 9100 }] },
        task_spec: { container_spec: { image: `prom/node-exporter:v1@${REAL}`, env: ["A=1"] } },
      },
    },
    docker_secret: {
      "api_service_secret-database_password_8": {
        name: HASHED("test-api-database_password-", "random_password.postgres_app-password_A.result"),
      },
      "mini-app_service_secret-token_9": { name: "test-mini-app-token-0123456789ab" },
    },
    docker_config: {
      "api_service_config-0-app_json_10": { name: "test-api-app.json-abcdef012345" },
    },
  },
};

const containerStack: TerraformJson = {
  resource: {
    docker_image: { "api-image_1": { name: "updateio-dev/api:dev", build: { context: "../updateio/api" } } },
    docker_container: { api_1: { name: "dev-api-1", env: ["SERVICE_NAME=api"] } },
  },
};

describe("reading a Swarm stack's JSON", () => {
  it("lists every service with its replica count, image, env and published ports", () => {
    const services = servicesOf(swarmStack);
    expect(services.map((s) => [s.name, s.replicas])).toEqual([
      ["test-api", 2],
      ["test-mini-app", 1],
      ["test-agent", undefined],
    ]);
    const api = services[0]!;
    expect(api.address).toBe("docker_service.api_service_5");
    expect(api.env.SERVICE_NAME).toBe("api");
    expect(api.hasHealthcheck).toBe(true);
    expect(api.ports).toEqual([]);
    expect(services[2]!.env).toEqual({ A: "1" });
    expect(services[2]!.ports).toEqual([{ internal: 9100, external: 9100, ip: "0.0.0.0" }]);
  });

  it("includes every service image in the images to pull, so their placeholder digests are caught", () => {
    const refs = pulledImages(swarmStack);
    expect(refs).toEqual([
      `caddy:2.10.2-alpine@${REAL}`,
      `ghcr.io/updateio/api:0.0.0@${ZERO}`,
      `ghcr.io/updateio/mini-app:0.0.0@${ZERO}`,
      `prom/node-exporter:v1@${REAL}`,
    ]);
    expect(refs.filter(isPlaceholderDigest).map((r) => r.split("@")[0])).toEqual([
      "ghcr.io/updateio/api:0.0.0",
      "ghcr.io/updateio/mini-app:0.0.0",
    ]);
  });

  it("leaves images built here out, and needs no Swarm for a container stack", () => {
    expect(pulledImages(containerStack)).toEqual([]);
    expect(servicesOf(containerStack)).toEqual([]);
    expect(usesSwarm(containerStack)).toBe(false);
    expect(usesSwarm(swarmStack)).toBe(true);
    expect(usesSwarm({ resource: { docker_secret: { s: { name: "x" } } } })).toBe(true);
  });

  it("predicts the names services, secrets and configs take, literal or hashed by Terraform", () => {
    expect(objectNamePattern("test-api")!.test("test-api")).toBe(true);
    expect(objectNamePattern("test-api")!.test("test-api-2")).toBe(false);
    const hashed = objectNamePattern(HASHED("test-api-database_password-", "random_password.p.result"))!;
    expect(hashed.test("test-api-database_password-0123456789ab")).toBe(true);
    expect(hashed.test("test-api-database_password-0123456789")).toBe(false);
    expect(hashed.test("prod-api-database_password-0123456789ab")).toBe(false);
    expect(objectNamePattern("${var.name}")).toBeUndefined();
    expect(swarmObjectsOf(swarmStack).map((o) => `${o.kind} ${o.address}`)).toEqual([
      "service docker_service.api_service_5",
      "service docker_service.mini-app_service_6",
      "service docker_service.agent_7",
      "secret docker_secret.api_service_secret-database_password_8",
      "secret docker_secret.mini-app_service_secret-token_9",
      "config docker_config.api_service_config-0-app_json_10",
    ]);
  });

  it("finds another deployment's services, secrets and configs, and nothing of other environments", () => {
    const clashes = swarmClashes(swarmObjectsOf(swarmStack), {
      service: ["test-api", "prod-api", "test-api-x"],
      secret: ["test-api-database_password-fedcba987654", "prod-api-database_password-fedcba987654", "test-mini-app-token-0123456789ab"],
      config: ["test-api-app.json-abcdef012345", "test-api-app.json-000000000000"],
    });
    expect(clashes).toEqual([
      { kind: "service", name: "test-api" },
      { kind: "secret", name: "test-api-database_password-fedcba987654" },
      { kind: "secret", name: "test-mini-app-token-0123456789ab" },
      { kind: "config", name: "test-api-app.json-abcdef012345" },
    ]);
  });
});

describe("the Swarm preflight", () => {
  const LOCAL = "unix:///var/run/docker.sock";

  it("passes on a manager", () => {
    expect(swarmVerdict({ LocalNodeState: "active", ControlAvailable: true, NodeAddr: "10.0.0.11" }, LOCAL, "10.0.0.11")).toEqual({
      kind: "ok",
      detail: "Swarm manager at 10.0.0.11",
    });
  });

  it("skips an engine that is not in a Swarm, saying exactly what to run", () => {
    const v = swarmVerdict({ LocalNodeState: "inactive", ControlAvailable: false }, LOCAL, "10.0.0.11");
    expect(v.kind).toBe("skip");
    expect(v.kind === "skip" && v.reason).toContain("\n  docker swarm init --advertise-addr 10.0.0.11");
    const remote = swarmVerdict({ LocalNodeState: "inactive" }, "ssh://deploy@test-host", undefined);
    expect(remote.kind === "skip" && remote.reason).toContain("docker -H ssh://deploy@test-host swarm init --advertise-addr <an address");
  });

  it("fails a worker, a locked manager and a Swarm in error: this machine's problem", () => {
    const worker = swarmVerdict({ LocalNodeState: "active", ControlAvailable: false }, LOCAL, "10.0.0.12");
    expect(worker.kind).toBe("fail");
    expect(worker.kind === "fail" && worker.reason).toMatch(/worker.*UPDATEIO_<ENV>_DOCKER_HOST/);
    const locked = swarmVerdict({ LocalNodeState: "locked" }, LOCAL, undefined);
    expect(locked.kind === "fail" && locked.reason).toContain("docker swarm unlock");
    const broken = swarmVerdict({ LocalNodeState: "error", Error: "rpc error: code = Unknown" }, LOCAL, undefined);
    expect(broken.kind === "fail" && broken.reason).toContain("rpc error");
    expect(swarmVerdict({ LocalNodeState: "pending" }, LOCAL, undefined).kind).toBe("fail");
  });

  it("suggests a private address of a real interface, or the remote engine's IP", () => {
    const local = [
      { iface: "lo", address: "127.0.0.1" },
      { iface: "docker0", address: "172.17.0.1" },
      { iface: "eth0", address: "203.0.113.5" },
      { iface: "eth1", address: "10.0.0.11" },
    ];
    expect(advertiseAddressHint(LOCAL, local)).toBe("10.0.0.11");
    expect(advertiseAddressHint(LOCAL, local.slice(0, 3))).toBe("203.0.113.5");
    expect(advertiseAddressHint(LOCAL, local.slice(0, 2))).toBeUndefined();
    expect(advertiseAddressHint("ssh://deploy@10.0.0.21:22", local)).toBe("10.0.0.21");
    expect(advertiseAddressHint("tcp://docker.example:2376", local)).toBeUndefined();
  });
});

describe("service convergence", () => {
  const api: ServiceRef = servicesOf(swarmStack)[0]!;
  const task = (name: string, desired: string, current: string, error = "", node = "node-1"): TaskRow => ({
    Name: name,
    Node: node,
    DesiredState: desired,
    CurrentState: current,
    Error: error,
  });

  it("parses docker service ps JSON lines", () => {
    const rows = parseTaskRows(
      `{"CurrentState":"Running 2 minutes ago","DesiredState":"Running","Error":"","ID":"x","Name":"test-api.1","Node":"m1"}\n\n`,
    );
    expect(rows).toEqual([
      { CurrentState: "Running 2 minutes ago", DesiredState: "Running", Error: "", ID: "x", Name: "test-api.1", Node: "m1" },
    ]);
    // As the CLI prints a failed task's error: quoted.
    const failed = parseTaskRows(
      String.raw`{"CurrentState":"Failed 1 second ago","DesiredState":"Shutdown","Error":"\"task: non-zero exit (3)\"","Name":"test-api.1"}`,
    );
    expect(failed[0]!.Error).toBe("task: non-zero exit (3)");
  });

  it("is converged when the replica count of tasks runs; old tasks do not count", () => {
    const c = convergence(api, true, [
      task("test-api.1", "Running", "Running 1 minute ago"),
      task("test-api.2", "Running", "Running 40 seconds ago"),
      task("test-api.2", "Shutdown", "Failed 2 minutes ago", "task: non-zero exit (1)"),
    ]);
    expect(c).toMatchObject({ ready: true, hopeless: false, running: 2, expected: 2 });
  });

  it("waits while a task is still starting (its healthcheck has not passed) and says which", () => {
    const c = convergence(api, true, [
      task("test-api.1", "Running", "Running 1 minute ago"),
      task("test-api.2", "Running", "Starting 10 seconds ago"),
    ]);
    expect(c.ready).toBe(false);
    expect(c.hopeless).toBe(false);
    expect(c.description).toBe("test-api: 1/2 tasks running; test-api.2 starting 10 seconds ago on node-1");
  });

  it("gives up on a service whose tasks keep failing with none running, with the latest error", () => {
    const failing = Array.from({ length: HOPELESS_FAILURES }, (_, i) =>
      task(`test-api.${(i % 2) + 1}`, "Shutdown", "Failed 30 seconds ago", "task: non-zero exit (1): dockerexec: unhealthy container"),
    );
    const c = convergence(api, true, [task("test-api.1", "Running", "Starting 5 seconds ago"), ...failing]);
    expect(c).toMatchObject({ ready: false, hopeless: true, running: 0 });
    expect(c.description).toContain(`${HOPELESS_FAILURES} failed tasks, latest: task: non-zero exit (1)`);
    expect(convergence(api, true, [task("test-api.1", "Running", "Running 1 minute ago"), ...failing]).hopeless).toBe(false);
  });

  it("reports a missing service, and converges a global service when every wanted task runs", () => {
    expect(convergence(api, false, [])).toMatchObject({ ready: false, description: "test-api: no such service" });
    const agent = servicesOf(swarmStack)[2]!;
    expect(
      convergence(agent, true, [
        task("test-agent.a", "Running", "Running 1 minute ago"),
        task("test-agent.b", "Running", "Running 1 minute ago", "", "node-2"),
      ]).ready,
    ).toBe(true);
    expect(
      convergence(agent, true, [
        task("test-agent.a", "Running", "Running 1 minute ago"),
        task("test-agent.b", "Running", "Pending 3 seconds ago"),
      ]).ready,
    ).toBe(false);
  });
});
