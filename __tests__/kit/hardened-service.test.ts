import { Container } from "@cdktf/provider-docker/lib/container";
import { TerraformStack } from "cdktf";
import { describe, expect, it } from "vitest";
import { GeneratedSecret } from "../../constructs/kit/generated-secret";
import { HardenedService, type HardenedServiceProps } from "../../constructs/kit/hardened-service";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import { ServiceImage } from "../../constructs/kit/service-image";
import { ServiceVolume } from "../../constructs/kit/service-volume";
import { evaluatePolicy, suppressionsOf } from "../../constructs/policy/policy-aspect";
import { serviceProps, WORKER_IMAGE } from "../support/construct-kit-service";
import { containersOf, resourceKey, testOutdir, testStack, type Json } from "../support/test-stack";
import { synthText } from "../support/synth-text";

const OUT = testOutdir("hardened-service-test");

interface Fixture {
  stack: TerraformStack;
  internal: PlatformNetwork;
  egress: PlatformNetwork;
  image: ServiceImage;
}

function fixture(): Fixture {
  const stack = testStack(OUT, "dev");
  return {
    stack,
    internal: new PlatformNetwork(stack, "internal-net", { environment: "dev", purpose: "backend" }),
    egress: new PlatformNetwork(stack, "egress-net", { environment: "dev", purpose: "egress", internal: false }),
    image: new ServiceImage(stack, "image", { ref: WORKER_IMAGE }),
  };
}

function props(f: Fixture, overrides: Partial<HardenedServiceProps> = {}): HardenedServiceProps {
  return serviceProps({ environment: "dev", service: "worker", image: f.image, network: f.internal }, overrides);
}

/** A HardenedService of props(f, overrides) on the fixture's stack, with construct id `id`. */
function service(f: Fixture, overrides: Partial<HardenedServiceProps> = {}, id = "worker"): HardenedService {
  return new HardenedService(f.stack, id, props(f, overrides));
}

function synth(f: Fixture): { text: string; json: Json } {
  const text = synthText(f.stack);
  return { text, json: JSON.parse(text) };
}
const byName = (json: Json, name: string): Json => {
  const c = containersOf(json).find((x) => x.name === name);
  if (!c)
    throw new Error(
      `no container ${name}; have ${containersOf(json)
        .map((x) => x.name)
        .join(", ")}`,
    );
  return c;
};
/** One "worker" in a fresh fixture, with the overrides `extra` makes there; its container is dev-worker. */
function worker(extra: (f: Fixture) => Partial<HardenedServiceProps> = () => ({})) {
  const f = fixture();
  const svc = service(f, extra(f));
  const { json } = synth(f);
  return { svc, json, c: byName(json, "dev-worker") };
}

describe("HardenedService: a secret, a config file and a data volume together", () => {
  const f = fixture();
  const secret = new GeneratedSecret(f.stack, "token");
  const data = new ServiceVolume(f.stack, "data", { environment: "dev", service: "worker", purpose: "data", protect: true });
  service(f, {
    env: { LOG_FORMAT: "json" },
    secrets: [{ name: "api_token", value: secret.value, envVar: "API_TOKEN_FILE" }],
    configDirs: [{ path: "/etc/worker", files: [{ name: "worker.conf", content: "threads = 2\n" }] }],
    volumes: [{ volume: data, containerPath: "/var/lib/worker" }],
  });
  const { json } = synth(f);
  const c = byName(json, "dev-worker");
  const seed = byName(json, "dev-worker-seed");
  const owner = byName(json, "dev-worker-secrets-owner");
  const ref = (type: string, name: string) => `\${${type}.${resourceKey(json, type, name)}.name}`;
  const dependency = (name: string) => `docker_container.${resourceKey(json, "docker_container", name)}`;

  it("runs hardened with the secret as a file path in its sorted env, on its one network, publishing nothing", () => {
    expect(c).toMatchObject({
      read_only: true,
      privileged: false,
      user: "65534:65534",
      capabilities: { drop: ["ALL"] },
      security_opts: ["no-new-privileges:true"],
      memory: 256,
      memory_swap: 256,
      ports: [],
    });
    expect(c.env).toEqual(["API_TOKEN_FILE=/run/secrets/api_token", "LOG_FORMAT=json"]);
    expect(c.networks_advanced).toEqual([{ name: ref("docker_network", "dev-backend"), aliases: ["worker"] }]);
  });

  it("mounts secrets and config read-only and the data volume read-write; the data volume is protected", () => {
    expect(c.volumes).toEqual([
      { volume_name: ref("docker_volume", "dev-worker-secrets"), container_path: "/run/secrets", read_only: true },
      { volume_name: ref("docker_volume", "dev-worker-config"), container_path: "/etc/worker", read_only: true },
      { volume_name: ref("docker_volume", "dev-worker-data"), container_path: "/var/lib/worker", read_only: false },
    ]);
    expect(json.resource.docker_volume[resourceKey(json, "docker_volume", "dev-worker-data")].lifecycle).toEqual({ prevent_destroy: true });
    expect(json.resource.docker_volume[resourceKey(json, "docker_volume", "dev-worker-config")].lifecycle).toBeUndefined();
  });

  it("seeds the secret (0400) and the config file, then hands the secrets to 65534:65534 before the service starts", () => {
    expect(seed.upload).toEqual([
      {
        file: "/run/secrets/api_token",
        content: `\${random_password.${Object.keys(json.resource.random_password)[0]}.result}`,
        executable: false,
        permissions: "0400",
      },
      { file: "/etc/worker/worker.conf", content: "threads = 2\n", executable: false },
    ]);
    expect(Object.values(json.resource.random_password)).toEqual([
      { length: 32, min_lower: 2, min_numeric: 2, min_upper: 2, special: false },
    ]);
    expect(owner.entrypoint).toEqual(["chown", "-R", "65534:65534", "/run/secrets"]);
    expect(owner.depends_on).toEqual([dependency("dev-worker-seed")]);
    expect(c.depends_on).toEqual([dependency("dev-worker-seed"), dependency("dev-worker-secrets-owner")]);
    expect(c.lifecycle.replace_triggered_by).toEqual([dependency("dev-worker-seed")]);
  });
});

describe("HardenedService: secure defaults", () => {
  const f = fixture();
  service(f);
  const { text, json } = synth(f);
  const c = byName(json, "dev-worker");

  it("uses the matcher-visible defaults (read-only, no capabilities, no-new-privileges, not privileged)", () => {
    expect(text).toHaveResourceWithProperties(Container, {
      name: "dev-worker",
      read_only: true,
      capabilities: { drop: ["ALL"] },
      security_opts: ["no-new-privileges:true"],
      privileged: false,
    });
    expect(c.capabilities.add).toBeUndefined();
  });

  it("limits memory with no swap on top, and cpu_shares defaults to 512", () => {
    expect(c.memory).toBe(256);
    expect(c.memory_swap).toBe(256);
    expect(c.cpu_shares).toBe(512);
  });

  it("restarts unless-stopped and rotates json-file logs at 10m x 3", () => {
    expect(c.restart).toBe("unless-stopped");
    expect(c.log_driver).toBe("json-file");
    expect(c.log_opts).toEqual({ "max-size": "10m", "max-file": "3" });
  });

  it("labels project, environment, service and component (sorted), plus the healthcheck hash", () => {
    const labels = Object.fromEntries(c.labels.map((l: Json) => [l.label, l.value]));
    expect(labels).toMatchObject({
      "io.updateio.project": "updateio",
      "io.updateio.environment": "dev",
      "io.updateio.service": "worker",
      "io.updateio.component": "app",
    });
    expect(labels["io.updateio.healthcheck-sha"]).toMatch(/^[0-9a-f]{16}$/);
    const keys = c.labels.map((l: Json) => l.label);
    expect(keys).toEqual([...keys].sort());
  });

  it("fills the healthcheck defaults in canonical Go duration form", () => {
    expect(c.healthcheck).toEqual({ test: ["CMD", "true"], interval: "30s", timeout: "5s", retries: 3, start_period: "20s" });
  });

  it("mounts /tmp as a 64 MiB noexec tmpfs and runs as nobody (65534:65534)", () => {
    expect(c.tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,size=64m" });
    expect(c.user).toBe("65534:65534");
  });

  it("must run, waits for health with the default timeout and stops within 30s", () => {
    expect(c.must_run).toBe(true);
    expect(c.wait).toBe(true);
    expect(c.wait_timeout).toBe(180);
    expect(c.stop_timeout).toBe(30);
    expect(c.attach).toBeUndefined();
  });

  it("answers to the service name on each network and has no seed without secrets or files", () => {
    expect(c.hostname).toBe("worker");
    expect(c.networks_advanced).toEqual([
      { name: `\${docker_network.${resourceKey(json, "docker_network", "dev-backend")}.name}`, aliases: ["worker"] },
    ]);
    expect(containersOf(json)).toHaveLength(1);
    expect(c.depends_on).toBeUndefined();
    expect(c.lifecycle?.replace_triggered_by).toBeUndefined();
    expect(json.resource.docker_volume).toBeUndefined();
  });
});

describe("HardenedService: explicit settings", () => {
  it("writes healthcheck durations in canonical Go form whatever the input spelling", () => {
    const { c } = worker(() => ({
      healthcheck: { test: ["CMD-SHELL", "true"], interval: "1m", timeout: "90s", startPeriod: "1h", retries: 5 },
    }));
    expect(c.healthcheck).toEqual({
      test: ["CMD-SHELL", "true"],
      interval: "1m0s",
      timeout: "1m30s",
      start_period: "1h0m0s",
      retries: 5,
    });
  });

  it("changes the healthcheck label when the healthcheck changes (the provider ignores healthcheck edits)", () => {
    const label = (interval: string) =>
      worker(() => ({ healthcheck: { test: ["CMD", "true"], interval } })).c.labels.find(
        (l: Json) => l.label === "io.updateio.healthcheck-sha",
      ).value;
    expect(label("30s")).toBe(label("30s"));
    expect(label("30s")).not.toBe(label("1m"));
  });

  it("honours cpuShares, log sizes, extra tmpfs, capabilities (sorted) and the role label", () => {
    const { c } = worker(() => ({
      cpuShares: 2048,
      log: { maxSizeMb: 5, maxFiles: 2 },
      tmpfs: { "/var/cache/worker": 32 },
      capabilities: { NET_RAW: "sends ICMP probes to check upstreams", CHOWN: "fixes ownership of its cache directory" },
      role: "prober",
    }));
    expect(c.cpu_shares).toBe(2048);
    expect(c.log_opts).toEqual({ "max-size": "5m", "max-file": "2" });
    expect(c.tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,size=64m", "/var/cache/worker": "rw,noexec,nosuid,size=32m" });
    expect(c.capabilities).toEqual({ drop: ["ALL"], add: ["CHOWN", "NET_RAW"] });
    expect(c.labels).toContainEqual({ label: "io.updateio.role", value: "prober" });
  });

  it("sorts the environment by name", () => {
    expect(worker(() => ({ env: { ZED: "1", ALPHA: "2", MIDDLE: "3" } })).c.env).toEqual(["ALPHA=2", "MIDDLE=3", "ZED=1"]);
  });

  it("declares published ports sorted ascending (internal port, then protocol)", () => {
    const { c } = worker((f) => ({
      networks: [{ network: f.egress }],
      ports: [
        { internal: 443, external: 8443, ip: "127.0.0.1" },
        { internal: 80, external: 8080, ip: "127.0.0.1" },
        { internal: 53, external: 5353, ip: "127.0.0.1", protocol: "udp" },
        { internal: 53, external: 5353, ip: "127.0.0.1" },
      ],
    }));
    expect(c.ports).toEqual([
      { internal: 53, external: 5353, ip: "127.0.0.1", protocol: "tcp" },
      { internal: 53, external: 5353, ip: "127.0.0.1", protocol: "udp" },
      { internal: 80, external: 8080, ip: "127.0.0.1", protocol: "tcp" },
      { internal: 443, external: 8443, ip: "127.0.0.1", protocol: "tcp" },
    ]);
  });

  it("mounts volumes read-write by default and binds read-only by default", () => {
    const f = fixture();
    const data = new ServiceVolume(f.stack, "data", { environment: "dev", service: "worker", purpose: "data" });
    service(f, {
      volumes: [{ volume: data, containerPath: "/data" }],
      binds: [{ hostPath: "/srv/src", containerPath: "/src" }],
    });
    const { json } = synth(f);
    expect(byName(json, "dev-worker").volumes).toEqual([
      {
        volume_name: `\${docker_volume.${resourceKey(json, "docker_volume", "dev-worker-data")}.name}`,
        container_path: "/data",
        read_only: false,
      },
      { host_path: "/srv/src", container_path: "/src", read_only: true },
    ]);
  });

  it("records each relaxation as a policy suppression with its reason", () => {
    const { svc, c } = worker(() => ({
      user: "0:0",
      readOnlyRootfs: false,
      relax: { "non-root": "image ships no unprivileged user at all", "read-only-rootfs": "legacy tool writes into /usr/share at start" },
    }));
    expect(c.user).toBe("0:0");
    expect(c.read_only).toBe(false);
    expect(
      suppressionsOf(svc)
        .map((s) => [s.ruleId, s.reason])
        .sort(),
    ).toEqual([
      ["non-root", "image ships no unprivileged user at all"],
      ["read-only-rootfs", "legacy tool writes into /usr/share at start"],
    ]);
  });
});

describe("HardenedService: replicas", () => {
  it("makes N containers named <env>-<svc>-<i>, each aliased [svc, svc-i]", () => {
    const f = fixture();
    const svc = service(f, { replicas: 3 });
    const { json } = synth(f);
    const names = containersOf(json)
      .map((c) => c.name)
      .sort();
    expect(names).toEqual(["dev-worker-1", "dev-worker-2", "dev-worker-3"]);
    for (const i of [1, 2, 3]) {
      const c = byName(json, `dev-worker-${i}`);
      expect(c.hostname).toBe(`worker-${i}`);
      expect(c.networks_advanced.map((n: Json) => n.aliases)).toEqual([["worker", `worker-${i}`]]);
    }
    expect(svc.containers).toHaveLength(3);
    expect(svc.upstream(8080)).toEqual({ kind: "static", addresses: ["worker-1:8080", "worker-2:8080", "worker-3:8080"] });
    expect(
      Object.keys(json.resource.docker_container)
        .map((k) => k.replace(/_[0-9A-F]{8}$/, ""))
        .sort(),
    ).toEqual(["worker_replica-1", "worker_replica-2", "worker_replica-3"]);
  });

  it("names a single replica after the service, with upstream <svc>:<port>", () => {
    const { svc, json } = worker();
    expect(svc.upstream(9000)).toEqual({ kind: "static", addresses: ["worker:9000"] });
    expect(Object.keys(json.resource.docker_container)[0]).toMatch(/^worker_container_/);
  });

  it("adds extra aliases per network", () => {
    expect(worker((f) => ({ networks: [{ network: f.internal, aliases: ["jobs"] }] })).c.networks_advanced[0].aliases).toEqual([
      "jobs",
      "worker",
    ]);
  });
});

describe("HardenedService: seed container for secrets and config files", () => {
  const f = fixture();
  const token = new GeneratedSecret(f.stack, "token");
  const signing = new GeneratedSecret(f.stack, "signing");
  const svc = service(f, {
    replicas: 2,
    secrets: [
      { name: "api_token", value: token.value, envVar: "API_TOKEN_FILE" },
      { name: "signing_key", value: signing.value },
    ],
    configDirs: [
      {
        path: "/etc/worker",
        files: [
          { name: "worker.conf", content: "threads = 2\n" },
          { name: "start.sh", content: "#!/bin/sh\n", executable: true },
        ],
      },
      { path: "/etc/worker-extra", files: [{ name: "extra.conf", content: "x\n" }] },
    ],
  });
  const { json, text } = synth(f);
  const seed = byName(json, "dev-worker-seed");
  const seedKey = resourceKey(json, "docker_container", "dev-worker-seed");
  const vol = (name: string) => `\${docker_volume.${resourceKey(json, "docker_volume", name)}.name}`;

  it("is never started, has no network and writable rootfs (Docker refuses uploads otherwise)", () => {
    expect(seed).toMatchObject({ start: false, must_run: false, network_mode: "none", read_only: false, user: "65534:65534" });
    expect(seed.capabilities).toEqual({ drop: ["ALL"] });
    expect(seed.labels).toContainEqual({ label: "io.updateio.component", value: "seed" });
    expect(seed.networks_advanced).toBeUndefined();
    expect(svc.seed).toBeDefined();
  });

  it("carries no suppression: read-only-rootfs exempts it only while it never starts", () => {
    expect(suppressionsOf(svc.seed!)).toEqual([]);
    // Started by an override, its writable rootfs is a finding like any container's.
    const g = fixture();
    const started = service(g, { secrets: [{ name: "api_token", value: new GeneratedSecret(g.stack, "t").value }] });
    started.seed!.addOverride("start", true);
    const findings = evaluatePolicy(g.stack, { environment: "dev" }).filter((x) => x.ruleId === "read-only-rootfs");
    expect(findings.map((x) => [x.severity, x.suppressed, x.message.split(" — ")[0]])).toEqual([
      ["error", undefined, '[read-only-rootfs] container "dev-worker-seed" has a writable root filesystem (read_only not true)'],
    ]);
  });

  it("uploads secrets to /run/secrets/<name> and config files to their directories", () => {
    expect(seed.upload).toEqual([
      {
        file: "/run/secrets/api_token",
        content: `\${${token.resource.terraformResourceType}.${token.resource.friendlyUniqueId}.result}`,
        executable: false,
        permissions: "0400",
      },
      {
        file: "/run/secrets/signing_key",
        content: `\${random_password.${signing.resource.friendlyUniqueId}.result}`,
        executable: false,
        permissions: "0400",
      },
      { file: "/etc/worker/worker.conf", content: "threads = 2\n", executable: false },
      { file: "/etc/worker/start.sh", content: "#!/bin/sh\n", executable: true },
      { file: "/etc/worker-extra/extra.conf", content: "x\n", executable: false },
    ]);
  });

  it("mounts one ephemeral volume per directory read-write in the seed", () => {
    expect(seed.volumes).toEqual([
      { volume_name: vol("dev-worker-secrets"), container_path: "/run/secrets", read_only: false },
      { volume_name: vol("dev-worker-config"), container_path: "/etc/worker", read_only: false },
      { volume_name: vol("dev-worker-config1"), container_path: "/etc/worker-extra", read_only: false },
    ]);
    for (const v of Object.values(json.resource.docker_volume) as Json[]) {
      expect(v.labels).toContainEqual({ label: "io.updateio.ephemeral", value: "true" });
      expect(v.lifecycle).toBeUndefined();
    }
  });

  it("mounts the same volumes read-only in every replica, which depends on the seed and is replaced with it", () => {
    for (const name of ["dev-worker-1", "dev-worker-2"]) {
      const c = byName(json, name);
      expect(c.volumes).toEqual([
        { volume_name: vol("dev-worker-secrets"), container_path: "/run/secrets", read_only: true },
        { volume_name: vol("dev-worker-config"), container_path: "/etc/worker", read_only: true },
        { volume_name: vol("dev-worker-config1"), container_path: "/etc/worker-extra", read_only: true },
      ]);
      expect(c.depends_on).toEqual([`docker_container.${seedKey}`, `docker_container.${ownerKey}`]);
      expect(c.lifecycle.replace_triggered_by).toEqual([`docker_container.${seedKey}`]);
      expect(c.read_only).toBe(true);
    }
  });

  const owner = byName(json, "dev-worker-secrets-owner");
  const ownerKey = resourceKey(json, "docker_container", "dev-worker-secrets-owner");
  it("hands the secret files (uploaded root 0400) to the service's user with a one-shot chown: root with CHOWN only, read-only rootfs, no network, only the secrets volume", () => {
    expect(owner).toMatchObject({
      entrypoint: ["chown", "-R", "65534:65534", "/run/secrets"],
      user: "0:0",
      read_only: true,
      network_mode: "none",
      capabilities: { drop: ["ALL"], add: ["CHOWN"] },
      security_opts: ["no-new-privileges:true"],
      restart: "no",
      must_run: false,
      attach: true,
      memory: 16,
      memory_swap: 16,
    });
    expect(owner.command).toBeUndefined();
    expect(owner.volumes).toEqual([{ volume_name: vol("dev-worker-secrets"), container_path: "/run/secrets", read_only: false }]);
    expect(owner.depends_on).toEqual([`docker_container.${seedKey}`]);
    // New uploads are root-owned again: it re-runs whenever the seed is replaced.
    expect(owner.lifecycle.replace_triggered_by).toEqual([`docker_container.${seedKey}`]);
    expect(owner.lifecycle.postcondition[0].condition).toBe("${self.exit_code == 0}");
    expect(owner.labels).toContainEqual({ label: "io.updateio.role", value: "secrets-owner" });
    expect(svc.secretsOwner).toBeDefined();
  });

  it("hands secrets to the service only as *_FILE paths under /run/secrets", () => {
    const c = byName(json, "dev-worker-1");
    expect(c.env).toEqual(["API_TOKEN_FILE=/run/secrets/api_token"]);
    for (const container of containersOf(json)) {
      for (const entry of container.env ?? []) expect(entry).not.toMatch(/random_password/);
    }
    // the secret values appear only as upload contents of the seed
    const occurrences = text.match(/random_password\.[^.]+\.result/g) ?? [];
    expect(occurrences).toHaveLength(2);
  });
});

describe("HardenedService: one-shot job", () => {
  const f = fixture();
  service(
    f,
    {
      service: "migrate",
      component: "job",
      oneShot: true,
      healthcheck: undefined,
      relax: { healthcheck: "one-shot job: its exit code is the check", "restart-policy": "one-shot job: must not loop on failure" },
    },
    "migrate",
  );
  const c = byName(synth(f).json, "dev-migrate");

  it("attaches, does not have to keep running, never restarts and checks its exit code", () => {
    expect(c).toMatchObject({ attach: true, logs: true, must_run: false, restart: "no" });
    expect(c.wait).toBeUndefined();
    expect(c.healthcheck).toBeUndefined();
    expect(c.lifecycle.postcondition).toEqual([
      { condition: "${self.exit_code == 0}", error_message: "dev-migrate did not exit 0; read its logs with: docker logs dev-migrate" },
    ]);
  });

  it("may have no network: then network_mode none, so Docker does not put it on the default bridge", () => {
    expect(c.networks_advanced).toHaveLength(1);
    expect(c.network_mode).toBeUndefined();
    const g = fixture();
    service(
      g,
      {
        service: "migrate",
        component: "job",
        oneShot: true,
        healthcheck: undefined,
        networks: [],
        relax: { healthcheck: "one-shot job: its exit code is the check", "restart-policy": "one-shot job: must not loop on failure" },
      },
      "migrate",
    );
    const alone = byName(synth(g).json, "dev-migrate");
    expect(alone.network_mode).toBe("none");
    expect(alone.networks_advanced).toBeUndefined();
  });
});

describe("HardenedService: validation names the prop and the fix", () => {
  function problemsOf(build: (f: Fixture) => Partial<HardenedServiceProps>): string {
    const f = fixture();
    try {
      service(f, build(f), "svc");
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error("expected HardenedService to throw");
  }
  const line = (key: string) => new RegExp(`^  - ${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `, "m");

  const cases: [string, string, (f: Fixture) => Partial<HardenedServiceProps>, RegExp][] = [
    ["root user without a relax reason", "user", () => ({ user: "root" }), /relax\["non-root"\]/],
    ["uid 0 without a relax reason", "user", () => ({ user: "0:0" }), /is root/],
    ["uid 0 written with leading zeros, without a relax reason", "user", () => ({ user: "000:0" }), /is root/],
    ["readOnlyRootfs false without a reason", "readOnlyRootfs", () => ({ readOnlyRootfs: false }), /relax\["read-only-rootfs"\]/],
    ["a secret-looking env var", "env.DB_PASSWORD", () => ({ env: { DB_PASSWORD: "hunter2" } }), /pass it in secrets/],
    ["a token-looking env var", "env.BOT_TOKEN", () => ({ env: { BOT_TOKEN: "x" } }), /secrets/],
    [
      "a URL with credentials in env",
      "env.UPSTREAM_URL",
      () => ({ env: { UPSTREAM_URL: "https://user:pa55@example.com/x" } }),
      /pass the URL in secrets/,
    ],
    ["a lowercase env var name", "env.log_format", () => ({ env: { log_format: "json" } }), /UPPER_SNAKE_CASE/],
    ["a missing healthcheck without a reason", "healthcheck", () => ({ healthcheck: undefined }), /relax\.healthcheck/],
    [
      "ports on internal-only networks",
      "ports",
      () => ({ ports: [{ internal: 80, external: 8080, ip: "127.0.0.1" }] }),
      /attach a non-internal network/,
    ],
    [
      "a port on a non-loopback, non-wildcard address",
      "ports.80.ip",
      (f) => ({ networks: [{ network: f.egress }], ports: [{ internal: 80, external: 80, ip: "192.168.1.10" }] }),
      /127\.0\.0\.1/,
    ],
    [
      "a capability written with CAP_",
      "capabilities.CAP_NET_ADMIN",
      () => ({ capabilities: { CAP_NET_ADMIN: "needs to configure routes" } }),
      /without CAP_/,
    ],
    [
      "a capability that is never granted",
      "capabilities.SYS_ADMIN",
      () => ({ capabilities: { SYS_ADMIN: "mounts filesystems at start" } }),
      /never granted/,
    ],
    ["a lowercase capability", "capabilities.net_raw", () => ({ capabilities: { net_raw: "sends ICMP probes" } }), /NET_BIND_SERVICE/],
    [
      "a capability without a reason",
      "capabilities.NET_BIND_SERVICE",
      () => ({ capabilities: { NET_BIND_SERVICE: "" } }),
      /written reason/,
    ],
    [
      "a duplicate mount path",
      "volumes.1.containerPath",
      (f) => {
        const v1 = new ServiceVolume(f.stack, "v1", { environment: "dev", service: "svc", purpose: "a" });
        const v2 = new ServiceVolume(f.stack, "v2", { environment: "dev", service: "svc", purpose: "b" });
        return {
          volumes: [
            { volume: v1, containerPath: "/data" },
            { volume: v2, containerPath: "/data" },
          ],
        };
      },
      /mounted twice/,
    ],
    [
      "a volume over the secrets directory",
      "volumes.0.containerPath",
      (f) => {
        const secret = new GeneratedSecret(f.stack, "s");
        const v = new ServiceVolume(f.stack, "v", { environment: "dev", service: "svc", purpose: "a" });
        return { secrets: [{ name: "token", value: secret.value }], volumes: [{ volume: v, containerPath: "/run/secrets" }] };
      },
      /mounted twice/,
    ],
    [
      "a tmpfs over a bind mount",
      "tmpfs./src",
      () => ({ binds: [{ hostPath: "/srv", containerPath: "/src" }], tmpfs: { "/src": 8 } }),
      /mounted twice/,
    ],
    [
      "a relative mount path",
      "binds.0.containerPath",
      () => ({ binds: [{ hostPath: "/srv", containerPath: "src" }] }),
      /absolute container path/,
    ],
    [
      "a bad healthcheck interval",
      "healthcheck.interval",
      () => ({ healthcheck: { test: ["CMD", "true"], interval: "1 minute" } }),
      /like 30s, 1m30s or 1h/,
    ],
    [
      "a fractional healthcheck timeout",
      "healthcheck.timeout",
      () => ({ healthcheck: { test: ["CMD", "true"], timeout: "1.5s" } }),
      /duration/,
    ],
    [
      "a healthcheck test without CMD",
      "healthcheck.test",
      () => ({ healthcheck: { test: ["curl", "-f", "http://x"] } }),
      /"CMD" or "CMD-SHELL"/,
    ],
    // The user becomes an argument of the secrets owner's chown: never an option, a second argument or a line break.
    ["a user that chown would read as an option", "user", () => ({ user: "-R" }), /user name or uid/],
    ["a user with a space", "user", () => ({ user: "app /etc" }), /user name or uid/],
    ["a user with a newline", "user", () => ({ user: "app\n0" }), /user name or uid/],
    ["a user with an expression", "user", () => ({ user: "${var.x}" }), /user name or uid/],
    [
      "a named user with another image for the secrets owner",
      "secretsOwnerImage",
      (f) => ({ user: "app", secretsOwnerImage: new ServiceImage(f.stack, "chown-image", { ref: "redis:7.4.6-alpine" }) }),
      /numeric user/,
    ],
    ["replicas 0", "replicas", () => ({ replicas: 0 }), /whole number ≥ 1/],
    ["fractional replicas", "replicas", () => ({ replicas: 1.5 }), /whole number/],
    [
      "a one-shot job with 2 replicas",
      "replicas",
      () => ({
        oneShot: true,
        replicas: 2,
        healthcheck: undefined,
        relax: { healthcheck: "one-shot job, exit code", "restart-policy": "one-shot job, no loop" },
      }),
      /set replicas to 1/,
    ],
    [
      "a secret env var not ending in _FILE",
      "secrets.db_password.envVar",
      (f) => ({ secrets: [{ name: "db_password", value: new GeneratedSecret(f.stack, "s").value, envVar: "DB_PASSWORD" }] }),
      /ending in _FILE/,
    ],
    [
      "a secret declared twice",
      "secrets.token",
      (f) => {
        const s = new GeneratedSecret(f.stack, "s").value;
        return {
          secrets: [
            { name: "token", value: s },
            { name: "token", value: s },
          ],
        };
      },
      /declared twice/,
    ],
    [
      "a secret file name with a dash",
      "secrets.db-password",
      (f) => ({ secrets: [{ name: "db-password", value: new GeneratedSecret(f.stack, "s").value }] }),
      /lowercase letters, digits and underscores/,
    ],
    [
      "a secret envVar also set in env",
      "secrets.token.envVar",
      (f) => ({
        env: { TOKEN_FILE: "/x" },
        secrets: [{ name: "token", value: new GeneratedSecret(f.stack, "s").value, envVar: "TOKEN_FILE" }],
      }),
      /keep one/,
    ],
    ["memory below 16 MiB", "memoryMb", () => ({ memoryMb: 8 }), /≥ 16/],
    ["cpuShares below 2", "cpuShares", () => ({ cpuShares: 1 }), /≥ 2/],
    ["restart no without a reason", "restart", () => ({ restart: "no" }), /unless-stopped/],
    ["no network", "networks", () => ({ networks: [] }), /attach at least one network .*; only a one-shot job may have none/],
    ["the same network twice", "networks", (f) => ({ networks: [{ network: f.internal }, { network: f.internal }] }), /attached twice/],
    [
      "a relax reason that is too short",
      "relax.non-root",
      () => ({ user: "root", relax: { "non-root": "because" } }),
      /at least 10 characters/,
    ],
    [
      "an unknown relaxation",
      "relax.privileged",
      () => ({ relax: { privileged: "we really need it here" } as never }),
      /not a relaxable default/,
    ],
    ["an invalid service name", "service", () => ({ service: "Worker_1" }), /lowercase letters, digits and dashes/],
    ["an invalid environment name", "environment", () => ({ environment: "Dev-1" }), /lowercase/],
    ["an empty config directory", "configDirs.0.files", () => ({ configDirs: [{ path: "/etc/x", files: [] }] }), /drop the directory/],
    [
      "a config file name with a slash",
      "configDirs.0.files.a/b",
      () => ({ configDirs: [{ path: "/etc/x", files: [{ name: "a/b", content: "" }] }] }),
      /plain file name/,
    ],
    ["a zero log size", "log.maxSizeMb", () => ({ log: { maxSizeMb: 0 } }), /≥ 1/],
    [
      "a healthcheck interval that is not a duration",
      "healthcheck.interval",
      () => ({ healthcheck: { test: ["CMD", "true"], interval: "soon" } }),
      /^ {2}- healthcheck\.interval: "soon" is not a duration like 30s, 1m30s or 1h$/,
    ],
  ];

  for (const [label, key, build, fix] of cases) {
    it(`rejects ${label} (${key})`, () => {
      const message = problemsOf(build);
      expect(message).toMatch(/^HardenedService dev\/svc is invalid:\n/);
      expect(message).toMatch(line(key));
      const problem = message.split("\n").find((l) => line(key).test(l))!;
      expect(problem).toMatch(fix);
    });
  }

  it("accepts each weakened default when the reason is written down", () => {
    const f = fixture();
    expect(() =>
      service(
        f,
        {
          user: "root",
          readOnlyRootfs: false,
          healthcheck: undefined,
          restart: "no",
          relax: {
            "non-root": "vendor image needs root to bind its socket",
            "read-only-rootfs": "vendor image rewrites its config on start",
            healthcheck: "vendor image has no shell or probe binary",
            "restart-policy": "operator restarts it by hand after review",
          },
        },
        "svc",
      ),
    ).not.toThrow();
  });

  it("reports every problem at once", () => {
    const message = problemsOf(() => ({ user: "root", replicas: 0, memoryMb: 1, env: { API_KEY: "x" }, healthcheck: undefined }));
    for (const key of ["user", "replicas", "memoryMb", "env.API_KEY", "healthcheck"]) expect(message).toMatch(line(key));
  });

  // docs/architecture.md: "wait = true needs a healthcheck on the container".
  it("rejects waitHealthy without a healthcheck (waitHealthy)", () => {
    const message = problemsOf(() => ({
      waitHealthy: true,
      healthcheck: undefined,
      relax: { healthcheck: "vendor image has no probe binary" },
    }));
    expect(message).toMatch(line("waitHealthy"));
  });
});
