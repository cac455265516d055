import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Container } from "@cdktf/provider-docker/lib/container";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TerraformStack, Testing } from "cdktf";
import { afterAll, describe, expect, it } from "vitest";
import { RedisCache, type RedisCacheProps } from "../../constructs/redis-cache";

const OUT = mkdtempSync(join(tmpdir(), "redis-cache-test-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

const IMAGE = `redis:7.4.6-alpine@sha256:${"3b".repeat(32)}`;
type Json = Record<string, any>;

function build(overrides: Partial<RedisCacheProps> = {}) {
  const stack = new TerraformStack(Testing.app({ outdir: OUT }), "dev");
  new DockerProvider(stack, "docker", { host: "unix:///var/run/docker.sock" });
  new RandomProvider(stack, "random");
  const redis = new RedisCache(stack, "redis", { environment: "dev", image: IMAGE, memoryMb: 128, ...overrides });
  const text = Testing.synth(stack);
  const json: Json = JSON.parse(text);
  const containers = Object.values(json.resource.docker_container) as Json[];
  const key = (type: string, name: string) => Object.entries(json.resource[type]).find(([, v]) => (v as Json).name === name)![0];
  return { redis, text, json, server: containers.find((c) => c.name === "dev-redis")!, seed: containers.find((c) => c.name === "dev-redis-seed")!, key };
}

describe("RedisCache", () => {
  const { redis, text, json, server, seed, key } = build();
  const upload = (file: string): string => seed.upload.find((u: Json) => u.file === file)!.content;

  it("matches its snapshot", () => {
    expect(text).toMatchSnapshot();
  });

  it("runs hardened as the redis user with the rendered config", () => {
    expect(text).toHaveResourceWithProperties(Container, {
      name: "dev-redis",
      user: "redis",
      read_only: true,
      capabilities: { drop: ["ALL"] },
      memory: 128,
      memory_swap: 128,
      cpu_shares: 512,
      restart: "unless-stopped",
      command: ["redis-server", "/usr/local/etc/redis/redis.conf"],
    });
    expect(server.tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,size=64m" });
  });

  it("renders redis.conf with maxmemory 75% and noeviction, and the ACL file with the default user off", () => {
    const conf = upload("/usr/local/etc/redis/redis.conf");
    expect(conf).toContain("maxmemory 96mb\n");
    expect(conf).toContain("maxmemory-policy noeviction\n");
    expect(conf).toContain("aclfile /run/secrets/users_acl\n");
    const acl = upload("/run/secrets/users_acl");
    expect(acl.split("\n")[0]).toBe("user default off");
    expect(acl).toMatch(/^user updateio on >\$\{random_password\.[^}]+\.result\} /m);
    expect(acl).toMatch(/^user healthcheck on >\$\{random_password\.[^}]+\.result\} -@all \+ping$/m);
    expect(upload("/run/secrets/redis_healthcheck_password")).toMatch(/^\$\{random_password\.[^}]+\.result\}$/);
  });

  it("mounts the config and secrets read-only, and data at /data", () => {
    expect(server.volumes).toEqual([
      { volume_name: `\${docker_volume.${key("docker_volume", "dev-redis-secrets")}.name}`, container_path: "/run/secrets", read_only: true },
      { volume_name: `\${docker_volume.${key("docker_volume", "dev-redis-config")}.name}`, container_path: "/usr/local/etc/redis", read_only: true },
      { volume_name: `\${docker_volume.${key("docker_volume", "dev-redis-data")}.name}`, container_path: "/data", read_only: false },
    ]);
    expect(server.env).toEqual([]);
  });

  it("pings as the healthcheck user, reading its password from the file", () => {
    expect(server.healthcheck.test[0]).toBe("CMD-SHELL");
    expect(server.healthcheck.test[1]).toContain('--user healthcheck --pass "$(cat /run/secrets/redis_healthcheck_password)" ping');
    expect(server.healthcheck).toMatchObject({ interval: "10s", timeout: "3s", retries: 5, start_period: "10s" });
  });

  it("is alone on its internal network", () => {
    expect(json.resource.docker_network[key("docker_network", "dev-redis")].internal).toBe(true);
    expect(server.networks_advanced).toEqual([{ name: `\${docker_network.${key("docker_network", "dev-redis")}.name}`, aliases: ["redis"] }]);
  });

  it("gives clients host, port and user as settings and the password and URL as files", () => {
    const c = redis.connectionFor();
    expect(c.env).toEqual({ REDIS_HOST: "redis", REDIS_PORT: "6379", REDIS_USER: "updateio" });
    expect(c.secrets.map((s) => [s.name, s.envVar])).toEqual([
      ["redis_password", "REDIS_PASSWORD_FILE"],
      ["redis_url", "REDIS_URL_FILE"],
    ]);
    expect(c.network).toBe(redis.network);
    expect(c.ready).toEqual(redis.service.containers);
  });

  it("protects the data volume only when asked", () => {
    expect(json.resource.docker_volume[key("docker_volume", "dev-redis-data")].lifecycle).toBeUndefined();
    const p = build({ protectData: true });
    expect(p.json.resource.docker_volume[p.key("docker_volume", "dev-redis-data")].lifecycle).toEqual({ prevent_destroy: true });
  });
});
