import { Container } from "@cdktf/provider-docker/lib/container";
import { TerraformStack } from "cdktf";
import { describe, expect, it } from "vitest";
import { GeneratedSecret } from "../../constructs/kit/generated-secret";
import { PlatformNetwork } from "../../constructs/kit/platform-network";
import { PostgresCluster } from "../../constructs/postgres/postgres-cluster";
import { RedisCache } from "../../constructs/redis/redis-cache";
import { UpdateioService, type UpdateioServiceProps } from "../../constructs/app/updateio-service";
import { RabbitBroker } from "../../constructs/rabbitmq/rabbit-broker";
import { DEV_API_SETTINGS, PROD_API_SETTINGS } from "../support/construct-app-settings";
import { API_IMAGE, POSTGRES_IMAGE, REDIS_IMAGE } from "../support/construct-images";
import { errorOf } from "../support/helpers";
import { synthJson, testOutdir, testStack, type Json } from "../support/test-stack";
import { HARDENED_CONTAINER } from "../support/synth-expectations";
import { synthText } from "../support/synth-text";

const OUT = testOutdir("updateio-service-test");

function build(
  extra: (ctx: { stack: TerraformStack; edge: PlatformNetwork; egress: PlatformNetwork }) => Partial<UpdateioServiceProps> = () => ({}),
  env = "prod",
  withData = true,
) {
  const stack = testStack(OUT, env);
  const edge = new PlatformNetwork(stack, "edge-network", { environment: env, purpose: "edge" });
  const egress = new PlatformNetwork(stack, "egress-network", { environment: env, purpose: "egress", internal: false });
  const pg = withData ? new PostgresCluster(stack, "postgres", { environment: env, image: POSTGRES_IMAGE, memoryMb: 512 }) : undefined;
  const redis = withData
    ? new RedisCache(stack, "redis", {
        environment: env,
        image: REDIS_IMAGE,
        memoryMb: 128,
        apps: ["api"],
      })
    : undefined;
  const svc = new UpdateioService(stack, "api", {
    environment: env,
    service: "api",
    config: PROD_API_SETTINGS,
    logLevel: "info",
    networks: [{ network: edge }],
    uses: pg && redis ? [{ target: pg }, { target: redis, role: "api" }] : [],
    ...extra({ stack, edge, egress }),
  });
  const { text, json, containers, named, key } = synthJson(stack);
  return { svc, text, json, named, key, containers };
}

describe("UpdateioService (registry image, prod-like)", () => {
  const { svc, text, json, named, key } = build(({ stack }) => ({
    secrets: [{ name: "session_secret", value: new GeneratedSecret(stack, "session").value, envVar: "SESSION_SECRET_FILE" }],
    env: { ADMIN_URL: "https://admin.updateio.app" },
  }));
  const api1 = named("prod-api-1");

  it("declares one container per replica, its seed and secrets owner, and the image it pulls", () => {
    const names = (Object.values(json.resource.docker_container) as Json[])
      .map((c) => c.name as string)
      .filter((n) => n.startsWith("prod-api"));
    expect(names.sort()).toEqual(["prod-api-1", "prod-api-2", "prod-api-secrets-owner", "prod-api-seed"]);
    expect(svc.port).toBe(3000);
    expect(text).toContain(API_IMAGE);
  });

  it("runs one hardened container per replica as the node user", () => {
    for (const i of [1, 2]) {
      expect(text).toHaveResourceWithProperties(Container, {
        name: `prod-api-${i}`,
        hostname: `api-${i}`,
        user: "1000:1000",
        ...HARDENED_CONTAINER,
        memory: 512,
        memory_swap: 512,
        cpu_shares: 1024,
        restart: "unless-stopped",
        must_run: true,
        wait: true,
        wait_timeout: 180,
      });
    }
    expect(api1.tmpfs).toEqual({ "/home/node": "rw,noexec,nosuid,size=64m", "/tmp": "rw,noexec,nosuid,size=64m" });
    expect(api1.labels).toContainEqual({ label: "io.updateio.component", value: "app" });
    expect(svc.upstream()).toEqual({ kind: "static", addresses: ["api-1:3000", "api-2:3000"] });
    expect(svc.port).toBe(3000);
  });

  it("sets the service contract environment, feature flags and connection settings", () => {
    expect(api1.env).toEqual(
      expect.arrayContaining([
        "SERVICE_NAME=api",
        "DEPLOY_ENVIRONMENT=prod",
        "PORT=3000",
        "LOG_LEVEL=info",
        "LOG_FORMAT=json",
        "NODE_ENV=production",
        "FEATURE_NEW_ONBOARDING=true",
        "FEATURE_BETA_SEARCH=false",
        "DATABASE_HOST=postgres",
        "DATABASE_USER=updateio_app",
        "REDIS_HOST=redis",
        "ADMIN_URL=https://admin.updateio.app",
      ]),
    );
    expect(api1.env.some((e: string) => e.startsWith("DEBUG=") || e.startsWith("NODE_OPTIONS="))).toBe(false);
  });

  it("delivers every credential as a *_FILE path under /run/secrets, never a value", () => {
    const fileVars = api1.env.filter((e: string) => e.split("=")[0]!.endsWith("_FILE"));
    expect(fileVars.sort()).toEqual([
      "DATABASE_PASSWORD_FILE=/run/secrets/database_password",
      "DATABASE_URL_FILE=/run/secrets/database_url",
      "REDIS_PASSWORD_FILE=/run/secrets/redis_password",
      "REDIS_URL_FILE=/run/secrets/redis_url",
      "SESSION_SECRET_FILE=/run/secrets/session_secret",
    ]);
    for (const e of api1.env) expect(e).not.toMatch(/random_password|\$\{/);
    const seed = named("prod-api-seed");
    expect(seed.upload.map((u: Json) => u.file)).toEqual([
      "/run/secrets/database_password",
      "/run/secrets/database_url",
      "/run/secrets/redis_password",
      "/run/secrets/redis_url",
      "/run/secrets/session_secret",
    ]);
    for (const u of seed.upload) expect(u.content).toMatch(/\$\{(urlencode\()?random_password\./);
  });

  it("joins its own networks plus the network of each service it uses", () => {
    const nets = api1.networks_advanced.map((n: Json) => n.name);
    expect(nets).toEqual([
      `\${docker_network.${key("docker_network", "prod-edge")}.name}`,
      `\${docker_network.${key("docker_network", "prod-postgres")}.name}`,
      `\${docker_network.${key("docker_network", "prod-redis")}.name}`,
    ]);
    expect(api1.networks_advanced[0].aliases).toEqual(["api", "api-1"]);
    expect(api1.ports).toEqual([]);
  });

  it("starts after the seed, its secrets owner and the backing services, and is replaced with its seed", () => {
    const seedKey = key("docker_container", "prod-api-seed");
    expect(api1.depends_on).toEqual([
      `docker_container.${seedKey}`,
      `docker_container.${key("docker_container", "prod-api-secrets-owner")}`,
      `docker_container.${key("docker_container", "prod-postgres")}`,
      `docker_container.${key("docker_container", "prod-redis")}`,
    ]);
    expect(api1.lifecycle.replace_triggered_by).toEqual([`docker_container.${seedKey}`]);
  });

  it("checks GET /health on its port with canonical durations", () => {
    expect(api1.healthcheck).toEqual({
      test: ["CMD", "node", "-e", "fetch('http://127.0.0.1:3000/health').then((r)=>process.exit(r.ok?0:1),()=>process.exit(1))"],
      interval: "15s",
      timeout: "5s",
      retries: 3,
      start_period: "30s",
    });
  });

  it("pulls the registry image once for all replicas", () => {
    expect(Object.values(json.resource.docker_image).map((i) => (i as Json).name)).toContain(API_IMAGE);
    expect(api1.image).toBe(named("prod-api-2").image);
  });
});

describe("UpdateioService (dev: built from source, hot reload, debug)", () => {
  const { named, key, json } = build(
    ({ egress }) => ({ config: DEV_API_SETTINGS, debug: true, logLevel: "debug", networks: [{ network: egress }] }),
    "dev",
    false,
  );
  const api = named("dev-api");

  it("bind-mounts the source read-write over the image's copy and keeps node_modules on a volume", () => {
    expect(api.volumes).toEqual([
      {
        volume_name: `\${docker_volume.${key("docker_volume", "dev-api-node-modules")}.name}`,
        container_path: "/app/node_modules",
        read_only: false,
      },
      { host_path: '${abspath(join("/", [path.root, "../../..", "../updateio/api"]))}', container_path: "/app", read_only: false },
    ]);
    expect(api.command).toEqual(["npm", "run", "dev"]);
    expect(json.resource.docker_image[key("docker_image", "updateio-dev/api:dev")].build.context).toBe(
      '${abspath(join("/", [path.root, "../../..", "../updateio/api"]))}',
    );
  });

  it("hands the inspector address to the dev script (not NODE_OPTIONS, which npm and the watcher take) and publishes nothing itself", () => {
    expect(api.env).toEqual(expect.arrayContaining(["DEBUG=updateio:*", "INSPECT_ADDRESS=0.0.0.0:9229", "LOG_LEVEL=debug"]));
    expect((api.env as string[]).filter((e) => e.startsWith("NODE_OPTIONS="))).toEqual([]);
    // A DevPortForward publishes 127.0.0.1:9229, so the service needs no network out for it.
    expect(api.ports ?? []).toEqual([]);
  });

  it("gives a slow-starting dev server more time", () => {
    expect(api.healthcheck.start_period).toBe("2m0s");
    expect(api.wait_timeout).toBe(300);
    expect(api.name).toBe("dev-api");
    expect(api.networks_advanced[0].aliases).toEqual(["api"]);
  });

  it("builds with debug ports on internal networks only (the forwarder publishes them)", () => {
    expect(() =>
      build(({ edge }) => ({ config: DEV_API_SETTINGS, debug: true, networks: [{ network: edge }] }), "dev", false),
    ).not.toThrow();
  });

  it("rejects a secret-looking variable in the config's env, naming it", () => {
    expect(() => build(() => ({ config: { ...PROD_API_SETTINGS, env: { STRIPE_API_KEY: "sk_live" } } }), "prod", false)).toThrow(
      /env\.STRIPE_API_KEY: looks like a secret/,
    );
  });
});

describe("UpdateioService with a broker connection (addApp) and its props", () => {
  it("takes the connection broker.addApp returned, after its uses, even when the app is added after the broker is built", () => {
    const stack = testStack(OUT, "prod");
    const rabbit = new RabbitBroker(stack, "rabbitmq", {
      environment: "prod",
      image: `rabbitmq:4.1.4-management-alpine@sha256:${"5c".repeat(32)}`,
      memoryMb: 512,
      vhost: "updateio-prod",
    });
    const redis = new RedisCache(stack, "redis", {
      environment: "prod",
      image: REDIS_IMAGE,
      memoryMb: 128,
      apps: ["discord-bot"],
    });
    const amqp = rabbit.addApp({ name: "discord-bot", publishes: ["updateio.commands"], consumes: ["notifications.discord"] });
    new UpdateioService(stack, "discord-bot", {
      environment: "prod",
      service: "discord-bot",
      config: { ...PROD_API_SETTINGS, port: 3001 },
      logLevel: "info",
      uses: [{ target: redis, role: "discord-bot" }],
      connections: [amqp],
    });
    const json: Json = JSON.parse(synthText(stack));
    const bot = (Object.values(json.resource.docker_container) as Json[]).find((c) => c.name === "prod-discord-bot-1")!;
    expect(bot.env).toContain("AMQP_USER=discord-bot");
    expect(bot.env).toContain("AMQP_URL_FILE=/run/secrets/amqp_url");
    const seed = (Object.values(json.resource.docker_container) as Json[]).find((c) => c.name === "prod-discord-bot-seed")!;
    const files = seed.upload.map((u: Json) => u.file);
    expect(files.indexOf("/run/secrets/amqp_password")).toBeGreaterThan(files.indexOf("/run/secrets/redis_password"));
  });

  it("refuses bad settings, naming the field and the fix", () => {
    const message = errorOf(() =>
      build(() => ({
        service: "Api",
        config: { ...PROD_API_SETTINGS, port: 0, replicas: 0, features: { "new-flag": true }, debugPorts: [70000] },
      })),
    );
    expect(message).toMatch(/^UpdateioService prod\/api is invalid:$/m);
    expect(message).toMatch(/^  - config\.port: 0 must be a port number from 1 to 65535$/m);
    expect(message).toMatch(/^  - config\.debugPorts\.0: 70000 must be a port number from 1 to 65535$/m);
    expect(message).toMatch(/^  - config\.replicas: 0 must be a whole number ≥ 1 \(remove the service instead of 0\)$/m);
    expect(message).toMatch(/^  - config\.features\.new-flag: must be camelCase, e\.g\. newOnboarding$/m);
    expect(message).toMatch(/^  - service: "Api" must be lowercase letters, digits and dashes/m);
  });
});
