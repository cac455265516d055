import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Container } from "@cdktf/provider-docker/lib/container";
import { DockerProvider } from "@cdktf/provider-docker/lib/provider";
import { RandomProvider } from "@cdktf/provider-random/lib/provider";
import { TerraformStack, Testing } from "cdktf";
import { afterAll, describe, expect, it } from "vitest";
import { RabbitBroker, type RabbitBrokerProps } from "../../constructs/rabbit-broker";

const OUT = mkdtempSync(join(tmpdir(), "rabbit-broker-test-"));
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

const IMAGE = `rabbitmq:4.1.4-management-alpine@sha256:${"5c".repeat(32)}`;
type Json = Record<string, any>;

function build(overrides: Partial<RabbitBrokerProps> = {}) {
  const stack = new TerraformStack(Testing.app({ outdir: OUT }), "dev");
  new DockerProvider(stack, "docker", { host: "unix:///var/run/docker.sock" });
  new RandomProvider(stack, "random");
  const rabbit = new RabbitBroker(stack, "rabbitmq", { environment: "dev", image: IMAGE, memoryMb: 512, vhost: "updateio-dev", ...overrides });
  const text = Testing.synth(stack);
  const json: Json = JSON.parse(text);
  const containers = Object.values(json.resource.docker_container) as Json[];
  const key = (type: string, name: string) => Object.entries(json.resource[type]).find(([, v]) => (v as Json).name === name)![0];
  return { rabbit, text, json, server: containers.find((c) => c.name === "dev-rabbitmq")!, seed: containers.find((c) => c.name === "dev-rabbitmq-seed")!, key };
}

describe("RabbitBroker", () => {
  const { rabbit, text, json, server, seed, key } = build();

  it("matches its snapshot", () => {
    expect(text).toMatchSnapshot();
  });

  it("runs hardened as the rabbitmq user with a stable node name", () => {
    expect(text).toHaveResourceWithProperties(Container, {
      name: "dev-rabbitmq",
      hostname: "rabbitmq",
      user: "rabbitmq",
      read_only: true,
      capabilities: { drop: ["ALL"] },
      memory: 512,
      memory_swap: 512,
      cpu_shares: 512,
      restart: "unless-stopped",
    });
    expect(server.env).toEqual(["RABBITMQ_NODENAME=rabbit@rabbitmq"]);
    expect(server.tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,size=64m", "/var/log/rabbitmq": "rw,noexec,nosuid,size=16m" });
  });

  it("drops its config into conf.d (after the image's defaults) with the generated password", () => {
    expect(seed.upload).toHaveLength(1);
    const conf = seed.upload[0];
    expect(conf.file).toBe("/etc/rabbitmq/conf.d/20-updateio.conf");
    expect(conf.content).toContain("default_vhost = updateio-dev\n");
    expect(conf.content).toContain("default_user = updateio\n");
    expect(conf.content).toMatch(/^default_pass = \$\{random_password\.[^}]+\.result\}$/m);
    expect(conf.content).toContain(`total_memory_available_override_value = ${512 * 1024 * 1024}\n`);
    expect(conf.content).toContain("log.console.level = info\n");
  });

  it("keeps data at /var/lib/rabbitmq and is alone on its internal network", () => {
    expect(server.volumes).toContainEqual({ volume_name: `\${docker_volume.${key("docker_volume", "dev-rabbitmq-data")}.name}`, container_path: "/var/lib/rabbitmq", read_only: false });
    expect(server.volumes).toContainEqual({ volume_name: `\${docker_volume.${key("docker_volume", "dev-rabbitmq-config")}.name}`, container_path: "/etc/rabbitmq/conf.d", read_only: true });
    expect(json.resource.docker_network[key("docker_network", "dev-rabbitmq")].internal).toBe(true);
    expect(server.networks_advanced).toHaveLength(1);
    expect(server.ports).toEqual([]);
  });

  it("checks that the node runs, with canonical durations", () => {
    expect(server.healthcheck).toEqual({ test: ["CMD", "rabbitmq-diagnostics", "-q", "check_running"], interval: "30s", timeout: "20s", retries: 5, start_period: "1m0s" });
  });

  it("gives clients the vhost and user as settings and the password and URL as files", () => {
    const c = rabbit.connectionFor();
    expect(c.env).toEqual({ AMQP_HOST: "rabbitmq", AMQP_PORT: "5672", AMQP_VHOST: "updateio-dev", AMQP_USER: "updateio" });
    expect(c.secrets.map((s) => [s.name, s.envVar])).toEqual([
      ["amqp_password", "AMQP_PASSWORD_FILE"],
      ["amqp_url", "AMQP_URL_FILE"],
    ]);
    expect(c.secrets[1]!.value).toMatch(/@rabbitmq:5672\/updateio-dev$/);
  });

  it("passes the log level and protects data when asked", () => {
    const b = build({ logLevel: "warning", protectData: true });
    expect(b.seed.upload[0].content).toContain("log.console.level = warning\n");
    expect(b.json.resource.docker_volume[b.key("docker_volume", "dev-rabbitmq-data")].lifecycle).toEqual({ prevent_destroy: true });
  });

  it("rejects a vhost that is not a simple name", () => {
    expect(() => build({ vhost: "Updateio Dev" })).toThrow(/vhost "Updateio Dev"/);
  });
});
