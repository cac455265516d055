import { TerraformStack, Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { goDuration, swarmDuration } from "../../constructs/kit/durations";
import { GeneratedSecret } from "../../constructs/kit/generated-secret";
import { HardenedService, type HardenedServiceProps } from "../../constructs/kit/hardened-service";
import { PlatformNetwork, setNetworkDefaults } from "../../constructs/kit/platform-network";
import { ServiceImage } from "../../constructs/kit/service-image";
import { ServiceVolume } from "../../constructs/kit/service-volume";
import { healthFailureSeconds, SwarmRuntime } from "../../constructs/kit/swarm-runtime";
import { errorOf } from "../support/helpers";
import { serviceProps, WORKER_IMAGE } from "../support/construct-kit-service";
import { testOutdir, testStack } from "../support/test-stack";
import { synthText } from "../support/synth-text";

const OUT = testOutdir("swarm-runtime-test");

type Json = Record<string, any>;

interface Fixture {
  stack: TerraformStack;
  net: PlatformNetwork;
  image: ServiceImage;
}

function fixture(opts: { encrypt?: boolean; driver?: "bridge" | "overlay" } = {}): Fixture {
  const stack = testStack(OUT, "prod");
  setNetworkDefaults(
    stack,
    opts.driver === "bridge" ? { driver: "bridge" } : { driver: "overlay", encryptInternal: opts.encrypt ?? false },
  );
  return {
    stack,
    net: new PlatformNetwork(stack, "net", { environment: "prod", purpose: "backend" }),
    image: new ServiceImage(stack, "image", { ref: WORKER_IMAGE, pull: false }),
  };
}

function props(f: Fixture, overrides: Partial<HardenedServiceProps> = {}): HardenedServiceProps {
  return serviceProps(
    { environment: "prod", service: "worker", image: f.image, network: f.net },
    {
      replicas: 3,
      user: "1000:1000",
      healthcheck: { test: ["CMD", "true"], interval: "15s", timeout: "5s", retries: 3, startPeriod: "30s" },
      runtime: new SwarmRuntime(),
      ...overrides,
    },
  );
}

/** A HardenedService of props(f, overrides) on the fixture's stack, with construct id `id`. */
function service(f: Fixture, overrides: Partial<HardenedServiceProps> = {}, id = "worker"): HardenedService {
  return new HardenedService(f.stack, id, props(f, overrides));
}

const synth = (f: Fixture): Json => JSON.parse(synthText(f.stack));
const only = (json: Json, type: string): Json => {
  const all = Object.values(json.resource[type] ?? {});
  expect(all, type).toHaveLength(1);
  return all[0] as Json;
};

describe("SwarmRuntime", () => {
  it("turns a spec into one replicated docker_service, hardened like a container", () => {
    const f = fixture();
    const svc = service(f, { capabilities: { NET_BIND_SERVICE: "listens on port 80 inside the task" } });
    const json = synth(f);
    expect(json.resource.docker_container).toBeUndefined();
    expect(json.resource.docker_image).toBeUndefined();
    expect(svc.containers).toEqual([]);
    expect(svc.swarmService).toBeDefined();
    const s = only(json, "docker_service");
    expect(s.name).toBe("prod-worker");
    expect(s.mode).toEqual({ replicated: { replicas: 3 } });
    const c = s.task_spec.container_spec;
    expect(c).toMatchObject({
      image: WORKER_IMAGE,
      user: "1000:1000",
      read_only: true,
      cap_drop: ["ALL"],
      cap_add: ["NET_BIND_SERVICE"],
      stop_grace_period: "30s",
    });
    expect(c.mounts).toEqual([{ target: "/tmp", type: "tmpfs" }]);
    expect(s.task_spec.resources).toEqual({
      limits: { memory_bytes: 256 * 1024 * 1024, nano_cpus: 1e9 },
      reservation: { memory_bytes: 64 * 1024 * 1024 },
    });
    expect(s.task_spec.log_driver).toEqual({ name: "json-file", options: { "max-file": "3", "max-size": "10m" } });
    expect(s.endpoint_spec).toEqual({ mode: "dnsrr" });
    expect(svc.upstream(8080)).toEqual({ kind: "dns", name: "tasks.worker", port: 8080 });
  });

  it("rolls one task at a time, start-first, rolls back on failure, watching longer than the healthcheck needs to fail", () => {
    const f = fixture();
    service(f);
    const s = only(synth(f), "docker_service");
    // start 30s + 3 × (15s + 5s) = 90s to be declared unhealthy; the monitor adds 20s.
    expect(healthFailureSeconds({ test: [], interval: "15s", timeout: "5s", retries: 3, startPeriod: "30s" })).toBe(90);
    expect(s.update_config).toEqual({
      parallelism: 1,
      delay: "5s",
      failure_action: "rollback",
      monitor: "1m50s",
      max_failure_ratio: "0.0",
      order: "start-first",
    });
    expect(s.rollback_config).toEqual({
      parallelism: 1,
      delay: "0s",
      failure_action: "pause",
      monitor: "1m50s",
      max_failure_ratio: "0.0",
      order: "start-first",
    });
    // All four restart fields: a left-out one is sent as 0 and read back as "0s".
    expect(s.task_spec.restart_policy).toEqual({ condition: "any", delay: "5s", max_attempts: 0, window: "2m" });
  });

  it("a service that must never run twice updates stop-first", () => {
    const f = fixture();
    service(f, { replicas: 1, updateOrder: "stop-first" });
    const s = only(synth(f), "docker_service");
    expect(s.update_config.order).toBe("stop-first");
    expect(s.rollback_config.order).toBe("stop-first");
  });

  it("writes durations the way the provider reads them back (no trailing 0s or 0m)", () => {
    expect([30, 60, 90, 110, 3600, 3660, 0].map(swarmDuration)).toEqual(["30s", "1m", "1m30s", "1m50s", "1h", "1h1m", "0s"]);
    // and the healthcheck in the service form, not the container form
    const f = fixture();
    service(f, { healthcheck: { test: ["CMD", "true"], interval: "1m0s", timeout: "5s", retries: 2, startPeriod: "2m0s" } });
    const hc = only(synth(f), "docker_service").task_spec.container_spec.healthcheck;
    expect(hc).toEqual({ test: ["CMD", "true"], interval: "1m", timeout: "5s", retries: 2, start_period: "2m" });
    expect(goDuration(60)).toBe("1m0s"); // containers keep Go's canonical form
  });

  it("references networks by ID with the service alias, on attachable overlays", () => {
    const f = fixture();
    service(f, { networks: [{ network: f.net, aliases: ["jobs"] }] });
    const json = synth(f);
    const s = only(json, "docker_service");
    const netKey = Object.keys(json.resource.docker_network)[0];
    expect(s.task_spec.networks_advanced).toEqual([{ name: `\${docker_network.${netKey}.id}`, aliases: ["jobs", "worker"] }]);
    expect(only(json, "docker_network")).toMatchObject({ driver: "overlay", attachable: true, internal: true });
  });

  it("encrypts a network only when asked, and ignores the option the engine adds on read-back", () => {
    const plain = only(synth(fixture()), "docker_network");
    expect(plain.options).toBeUndefined();
    expect(plain.lifecycle).toBeUndefined();
    const f = fixture({ encrypt: true });
    const enc = only(synth(f), "docker_network");
    expect(enc.options).toEqual({ encrypted: "" });
    expect(enc.lifecycle).toEqual({ ignore_changes: ["options"] });
    expect(() =>
      setNetworkDefaults(new TerraformStack(Testing.app({ outdir: OUT }), "x"), { driver: "bridge", encryptInternal: true }),
    ).toThrow(/needs the overlay driver/);
  });

  it("delivers secrets as docker_secret objects named after their content, readable only by the service's uid", () => {
    const f = fixture();
    const token = new GeneratedSecret(f.stack, "token");
    service(f, {
      secrets: [
        { name: "api_token", value: token.value, envVar: "API_TOKEN_FILE" },
        { name: "db_url", value: `postgresql://u:${token.value}@db:5432/x` },
      ],
    });
    const json = synth(f);
    expect(json.resource.docker_container).toBeUndefined(); // no seed container
    const secrets = Object.entries(json.resource.docker_secret as Json) as [string, Json][];
    expect(secrets).toHaveLength(2);
    const [tokenKey, tokenSecret] = secrets.find(([k]) => k.includes("api_token"))!;
    const passwordKey = Object.keys(json.resource.random_password)[0];
    expect(tokenSecret.name).toBe(`\${join("", ["prod-worker-api_token-", substr(sha256(random_password.${passwordKey}.result), 0, 12)])}`);
    expect(tokenSecret.data).toBe(`\${base64encode(random_password.${passwordKey}.result)}`);
    expect(tokenSecret.lifecycle).toEqual({ create_before_destroy: true });
    // A value with text around the password goes through a local (cdktf mis-renders templates inside function calls).
    const [, urlSecret] = secrets.find(([k]) => k.includes("db_url"))!;
    expect(urlSecret.data).toMatch(/^\$\{base64encode\(local\.[A-Za-z0-9_-]+\)\}$/);
    const local = urlSecret.data.slice("${base64encode(local.".length, -2);
    expect(json.locals[local]).toBe(`postgresql://u:\${random_password.${passwordKey}.result}@db:5432/x`);

    const c = only(json, "docker_service").task_spec.container_spec;
    expect(c.secrets).toContainEqual({
      secret_id: `\${docker_secret.${tokenKey}.id}`,
      secret_name: `\${docker_secret.${tokenKey}.name}`,
      file_name: "/run/secrets/api_token",
      file_uid: "1000",
      file_gid: "1000",
      file_mode: 0o400,
    });
    expect(c.env.API_TOKEN_FILE).toBe("/run/secrets/api_token");
  });

  it("delivers config files as docker_config objects with canonical base64 and a content hash in the name", () => {
    const f = fixture();
    service(f, {
      configDirs: [
        {
          path: "/etc/worker",
          files: [
            { name: "worker.conf", content: "a = ${b}\n" },
            { name: "run.sh", content: "#!/bin/sh\n", executable: true },
          ],
        },
      ],
    });
    const json = synth(f);
    const configs = Object.values(json.resource.docker_config as Json) as Json[];
    const conf = configs.find((c) => c.name.startsWith("prod-worker-worker.conf-"))!;
    expect(conf.name).toMatch(/^prod-worker-worker\.conf-[0-9a-f]{12}$/);
    expect(Buffer.from(conf.data, "base64").toString("utf8")).toBe("a = ${b}\n");
    expect(Buffer.from(conf.data, "base64").toString("base64")).toBe(conf.data);
    expect(conf.lifecycle).toEqual({ create_before_destroy: true });
    const mounts = only(json, "docker_service").task_spec.container_spec.configs.map((m: Json) => [m.file_name, m.file_mode]);
    expect(mounts.sort()).toEqual([
      ["/etc/worker/run.sh", 0o555],
      ["/etc/worker/worker.conf", 0o444],
    ]);
  });

  it("an everyday change (image, replicas, env, secret value, limits) keeps every attribute that would replace the service", () => {
    const forceNew = (s: Json) => ({
      name: s.name,
      labels: s.labels,
      mode: Object.keys(s.mode),
      nets: s.task_spec.networks_advanced,
      clabels: s.task_spec.container_spec.labels,
      hosts: s.task_spec.container_spec.hosts,
      sysctl: s.task_spec.container_spec.sysctl,
    });
    const build = (change: Partial<HardenedServiceProps>, secretLength: number) => {
      const f = fixture();
      const secret = new GeneratedSecret(f.stack, "token", { length: secretLength });
      const image = new ServiceImage(f.stack, "image2", { ref: `registry.example/worker:1.2.4@sha256:${"cd".repeat(32)}`, pull: false });
      service(f, {
        secrets: [{ name: "token", value: secret.value }],
        ...(change.image ? { image } : {}),
        ...change,
        ...(change.image ? { image } : {}),
      });
      return only(synth(f), "docker_service");
    };
    const before = build({}, 32);
    const after = build({ image: {} as ServiceImage, replicas: 5, env: { FEATURE_X: "true" }, memoryMb: 512, cpus: 2 }, 48);
    expect(after.task_spec.container_spec.image).not.toBe(before.task_spec.container_spec.image);
    expect(after.mode.replicated.replicas).toBe(5);
    expect(forceNew(after)).toEqual(forceNew(before));
  });

  it("refuses what a Swarm service cannot do, naming each prop and what to use instead", () => {
    const f = fixture();
    const vol = new ServiceVolume(f.stack, "vol", { environment: "prod", service: "worker", purpose: "data" });
    const local = new ServiceImage(f.stack, "local", { ref: "registry.example/worker:1.2.3" });
    const egress = new PlatformNetwork(f.stack, "egress", { environment: "prod", purpose: "egress", internal: false });
    const message = errorOf(() =>
      service(
        f,
        {
          image: local,
          user: "node",
          networks: [{ network: f.net }, { network: egress }],
          volumes: [{ volume: vol, containerPath: "/data" }],
          ports: [{ internal: 80, external: 8080, ip: "127.0.0.1" }],
          sysctls: { "net.core.somaxconn": "1024" },
          shmSizeMb: 128,
        },
        "bad",
      ),
    );
    expect(message).toMatch(/^Service prod\/bad on the Swarm runtime is invalid:$/m);
    for (const [key, fix] of [
      ["image", /not pinned by digest.*@sha256/],
      ["user", /must be numeric uid:gid/],
      ["volumes", /per node.*container runtime/],
      ["ports", /127\.0\.0\.1.*edge/],
      ["sysctls", /replacement/],
      ["shmSizeMb", /not expressible/],
    ] as const) {
      const line = message.split("\n").find((l) => l.startsWith(`  - ${key}: `));
      expect(line, key).toMatch(fix);
    }
    expect(
      errorOf(() =>
        service(
          f,
          {
            oneShot: true,
            replicas: 1,
            relax: { healthcheck: "one-shot job, checked by exit code", "restart-policy": "one-shot job must not loop" },
          },
          "job",
        ),
      ),
    ).toMatch(/oneShot: .*container runtime/);
    const bridge = fixture({ driver: "bridge" });
    expect(errorOf(() => new HardenedService(bridge.stack, "w", props(bridge)))).toMatch(
      /networks: a Swarm service can only join overlay networks/,
    );
    expect(errorOf(() => new SwarmRuntime({ placementConstraints: ['node.labels.a==1"; rm -rf /'] }))).toMatch(
      /placementConstraints: .* is not a constraint/,
    );
  });

  it("refuses object names over Swarm's 64 characters", () => {
    const f = fixture();
    const secret = new GeneratedSecret(f.stack, "s");
    expect(
      errorOf(() =>
        service(
          f,
          {
            service: "a-very-long-service-name-for-testing",
            secrets: [{ name: "an_equally_long_secret_name", value: secret.value }],
          },
          "w",
        ),
      ),
    ).toMatch(/too long for a Swarm object name/);
  });
});
