import { Container } from "@cdktf/provider-docker/lib/container";
import { describe, expect, it } from "vitest";
import { GeneratedSecret } from "../../constructs/kit/generated-secret";
import { RedisCache, type RedisCacheProps } from "../../constructs/redis/redis-cache";
import { RESERVED_REDIS_USERS } from "../../constructs/redis/renderers/redis";
import { SEED_CONTAINER } from "../support/synth-expectations";
import { synthConstruct } from "../support/construct-harness";
import { REDIS_IMAGE } from "../support/construct-images";
import { testOutdir, testStack, uploadOf, type Json } from "../support/test-stack";

const OUT = testOutdir("redis-cache-test");

/** `later` runs after the constructor, before synth (apps added late, as environments/apps.ts does). */
function build(overrides: Partial<RedisCacheProps> = {}, later?: (redis: RedisCache) => void) {
  const stack = testStack(OUT, "dev");
  const redis = new RedisCache(stack, "redis", { environment: "dev", image: REDIS_IMAGE, memoryMb: 128, ...overrides });
  later?.(redis);
  // Some props name the containers otherwise (a cluster, a second role): then server and seed are undefined.
  return { redis, stack, ...synthConstruct(stack, "dev-redis", { optional: true }) };
}

describe("RedisCache", () => {
  const { redis, stack, text, json, server, seed, named, key, ref } = build({ apps: ["api"] }, (r) => r.addApp("discord-bot"));
  const upload = (file: string) => uploadOf(seed, file);
  const acl = uploadOf(named("dev-redis-acl-seed"), "/usr/local/etc/redis-acl/users.acl");
  /** `#${sha256(random_password.<id>.result)}`: the file holds hashes, never a password. */
  const HASHED = String.raw`#\$\{sha256\(random_password\.([^.}]+)\.result\)\}`;

  it("drops every privilege, publishes no port, and bounds its logs and shutdown", () => {
    expect(server).toMatchObject({
      privileged: false,
      security_opts: ["no-new-privileges:true"],
      ports: [],
      must_run: true,
      stop_timeout: 30,
      log_driver: "json-file",
      log_opts: { "max-file": "3", "max-size": "10m" },
      hostname: "redis",
    });
    expect(server.image).toBe(`\${docker_image.${key("docker_image", REDIS_IMAGE)}.image_id}`);
    expect(json.resource.docker_image[key("docker_image", REDIS_IMAGE)]).toEqual({ name: REDIS_IMAGE, keep_locally: true });
    // a new seed (new config or secrets) replaces the server, after the secrets have been handed to
    // redis; a new ACL file (its own seed) does not: the acl-reload job loads it
    expect(server.lifecycle.replace_triggered_by).toEqual([`docker_container.${key("docker_container", "dev-redis-seed")}`]);
    expect(server.depends_on).toEqual([
      `docker_container.${key("docker_container", "dev-redis-seed")}`,
      `docker_container.${key("docker_container", "dev-redis-secrets-owner")}`,
      `docker_container.${key("docker_container", "dev-redis-acl-seed")}`,
    ]);
  });

  it("hardens redis.conf: protected mode, no DEBUG or MODULE commands, AOF persistence in /data", () => {
    const conf = upload("/usr/local/etc/redis/redis.conf").split("\n");
    for (const line of [
      "protected-mode yes",
      "port 6379",
      "dir /data",
      "appendonly yes",
      "appendfsync everysec",
      "enable-debug-command no",
      "enable-module-command no",
    ])
      expect(conf).toContain(line);
  });

  it("denies each app user admin and destructive commands, and writes secrets 0400", () => {
    for (const app of ["api", "discord-bot"])
      expect(acl).toMatch(
        new RegExp(`^user ${app} on ${HASHED} ~\\* &\\* \\+@all -@admin -flushall -flushdb -swapdb -debug -migrate -restore$`, "m"),
      );
    expect(seed.upload.find((u: Json) => u.file === "/run/secrets/redis_healthcheck_password").permissions).toBe("0400");
    expect(seed.upload.map((u: Json) => u.file)).not.toContain("/run/secrets/users_acl");
    // The ACL file is a plain config file: every password in it is hashed.
    expect(acl.replace(new RegExp(HASHED, "g"), "#HASH")).not.toContain("random_password");
    for (const pw of Object.values(json.resource.random_password) as Json[])
      expect(pw).toEqual({ length: 32, min_lower: 2, min_numeric: 2, min_upper: 2, special: false });
  });

  it("seeds from a container that never starts, has no network and runs as nobody", () => {
    expect(seed).toMatchObject({ ...SEED_CONTAINER, memory: 16 });
  });

  it("hands the secret files to redis from a one-shot root job with CHOWN as its only capability", () => {
    const owner = (Object.values(json.resource.docker_container) as Json[]).find((c) => c.name === "dev-redis-secrets-owner")!;
    expect(owner).toMatchObject({
      entrypoint: ["chown", "-R", "redis", "/run/secrets"],
      user: "0:0",
      capabilities: { add: ["CHOWN"], drop: ["ALL"] },
      network_mode: "none",
      read_only: true,
      restart: "no",
      must_run: false,
      security_opts: ["no-new-privileges:true"],
    });
    expect(owner.volumes).toEqual([
      { volume_name: ref("docker_volume", "dev-redis-secrets"), container_path: "/run/secrets", read_only: false },
    ]);
    expect(owner.lifecycle.postcondition[0].condition).toBe("\${self.exit_code == 0}");
  });

  it("marks the config and secret volumes ephemeral, never the data volume", () => {
    const ephemeral = (name: string) =>
      (json.resource.docker_volume[key("docker_volume", name)].labels as Json[]).some((l) => l.label === "io.updateio.ephemeral");
    expect([ephemeral("dev-redis-config"), ephemeral("dev-redis-secrets"), ephemeral("dev-redis-data")]).toEqual([true, true, false]);
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
    expect(conf).toContain("aclfile /usr/local/etc/redis-acl/users.acl\n");
    expect(acl.split("\n")[0]).toBe("user default off");
    expect(acl).toMatch(new RegExp(`^user api on ${HASHED} `, "m"));
    expect(acl).toMatch(new RegExp(`^user healthcheck on ${HASHED} -@all \\+ping$`, "m"));
    expect(acl).toMatch(
      new RegExp(`^user acl-reload on ${HASHED} resetkeys resetchannels -@all \\+acl\\|load \\+acl\\|users \\+ping$`, "m"),
    );
    expect(upload("/run/secrets/redis_healthcheck_password")).toMatch(/^\$\{random_password\.[^}]+\.result\}$/);
  });

  it("mounts the config, the ACL file and the secrets read-only, and data at /data", () => {
    expect(server.volumes).toEqual([
      { volume_name: ref("docker_volume", "dev-redis-secrets"), container_path: "/run/secrets", read_only: true },
      { volume_name: ref("docker_volume", "dev-redis-config"), container_path: "/usr/local/etc/redis", read_only: true },
      { volume_name: ref("docker_volume", "dev-redis-data"), container_path: "/data", read_only: false },
      { volume_name: ref("docker_volume", "dev-redis-acl"), container_path: "/usr/local/etc/redis-acl", read_only: true },
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
    expect(server.networks_advanced).toEqual([{ name: ref("docker_network", "dev-redis"), aliases: ["redis"] }]);
  });

  it("gives each app its user as a setting and its own password and URL as files", () => {
    const c = redis.connectionFor("api");
    expect(c.env).toEqual({ REDIS_HOST: "redis", REDIS_PORT: "6379", REDIS_USER: "api" });
    expect(c.secrets.map((s) => [s.name, s.envVar])).toEqual([
      ["redis_password", "REDIS_PASSWORD_FILE"],
      ["redis_url", "REDIS_URL_FILE"],
    ]);
    expect(c.network).toBe(redis.network);
    expect(c.ready).toEqual(redis.service.containers);
    // Each app's files carry its own random_password, the one its ACL line checks.
    const passwordOf = (app: string) => new RegExp(`^user ${app} on ${HASHED} `, "m").exec(acl)![1]!;
    const [api, bot] = [passwordOf("api"), passwordOf("discord-bot")];
    expect(api).not.toBe(bot);
    expect(Object.keys(json.resource.random_password)).toEqual(expect.arrayContaining([api, bot]));
    for (const [app, id] of [
      ["api", api],
      ["discord-bot", bot],
    ] as const) {
      const secret = redis.node.findChild(`${app}-password`) as GeneratedSecret;
      expect(stack.getLogicalId(secret.resource), app).toBe(id);
      expect(redis.connectionFor(app).secrets.map((x) => x.value)).toEqual([secret.value, `redis://${app}:${secret.value}@redis:6379/0`]);
    }
    expect(redis.connectionFor("discord-bot").env.REDIS_USER).toBe("discord-bot");
    expect(redis.apps).toEqual(["api", "discord-bot"]);
  });

  it("returns from addApp the connection connectionFor(app) gives, and refuses an app it does not know", () => {
    expect(() => redis.connectionFor()).toThrow(/connectionFor\(\) needs the app's name[\s\S]*added apps: api, discord-bot/);
    expect(() => redis.connectionFor("telegram-bot")).toThrow(
      /no app "telegram-bot"; added apps: api, discord-bot \(add it with apps or redis.addApp/,
    );
  });

  it("protects the data volume only when asked", () => {
    expect(json.resource.docker_volume[key("docker_volume", "dev-redis-data")].lifecycle).toBeUndefined();
    const p = build({ protectData: true });
    expect(p.json.resource.docker_volume[p.key("docker_volume", "dev-redis-data")].lifecycle).toEqual({ prevent_destroy: true });
  });
});

describe("RedisCache with a replica and three Sentinels (prod shape)", () => {
  const { redis, json, key, containers, named, upload } = build({
    replicas: 1,
    sentinels: 3,
    protectData: true,
    apps: ["api", "discord-bot"],
  });

  it("runs a master, one replica and three Sentinels, each with its own hostname", () => {
    const running = containers
      .filter((c) => !c.name.endsWith("-seed") && !c.name.endsWith("-secrets-owner"))
      .map((c) => [c.name, c.hostname]);
    expect(running.sort()).toEqual([
      ["dev-redis", "redis"],
      ["dev-redis-acl-reload", "redis-acl-reload"],
      ["dev-redis-replica-1", "redis-replica-1"],
      ["dev-redis-sentinel-1", "redis-sentinel-1"],
      ["dev-redis-sentinel-2", "redis-sentinel-2"],
      ["dev-redis-sentinel-3", "redis-sentinel-3"],
    ]);
    expect(json.resource.docker_volume[key("docker_volume", "dev-redis-replica-1-data")].lifecycle).toEqual({ prevent_destroy: true });
  });

  it("points the replica at the master, with the replication credentials in a secret file", () => {
    const conf = upload("dev-redis-replica-1-seed", "/usr/local/etc/redis/redis.conf");
    expect(conf).toContain("replicaof redis 6379\n");
    expect(conf).toContain("replica-announce-ip redis-replica-1\n");
    expect(conf).toContain("include /run/secrets/redis_replication_conf\n");
    expect(conf).not.toContain("random_password");
    expect(upload("dev-redis-replica-1-seed", "/run/secrets/redis_replication_conf")).toMatch(
      /^masteruser replication\nmasterauth \$\{random_password\.[^}]+\.result\}\n$/,
    );
    const master = upload("dev-redis-seed", "/usr/local/etc/redis/redis.conf");
    expect(master).toContain("replica-announce-ip redis\n");
    expect(master).not.toContain("replicaof");
    const acl = upload("dev-redis-acl-seed", "/usr/local/etc/redis-acl/users.acl");
    expect(acl).toMatch(/^user replication on #\$\{sha256\(random_password\.[^}]+\.result\)\} -@all \+psync \+replconf \+ping$/m);
    expect(acl).toMatch(/^user sentinel on #\$\{sha256\(random_password\.[^}]+\.result\)\} &\* -@all \+multi /m);
    expect(named("dev-redis-replica-1").depends_on).toContain(`docker_container.${key("docker_container", "dev-redis")}`);
  });

  it("runs each Sentinel from a writable tmpfs copy of its rendered (secret) config", () => {
    const s2 = named("dev-redis-sentinel-2");
    expect(s2.command).toEqual([
      "sh",
      "-c",
      "cp /run/secrets/sentinel_conf /sentinel/sentinel.conf && exec redis-sentinel /sentinel/sentinel.conf",
    ]);
    expect(s2.read_only).toBe(true);
    expect(s2.user).toBe("redis");
    expect(s2.tmpfs).toEqual({ "/sentinel": "rw,noexec,nosuid,size=1m", "/tmp": "rw,noexec,nosuid,size=64m" });
    expect(s2.healthcheck.test[1]).toContain("redis-cli --no-auth-warning -p 26379 --user healthcheck");
    const conf = upload("dev-redis-sentinel-2-seed", "/run/secrets/sentinel_conf");
    expect(conf).toContain("sentinel announce-ip redis-sentinel-2\n");
    expect(conf).toContain("sentinel monitor redis redis 6379 2\n");
    expect(conf).toContain("sentinel down-after-milliseconds redis 5000\n");
    expect(conf).toContain("sentinel failover-timeout redis 60000\n");
    expect(s2.depends_on).toEqual(
      expect.arrayContaining([
        `docker_container.${key("docker_container", "dev-redis")}`,
        `docker_container.${key("docker_container", "dev-redis-replica-1")}`,
      ]),
    );
  });

  it("gives Sentinel-aware clients the Sentinel list, master name, user and password file", () => {
    const c = redis.connectionFor("api");
    expect(c.env).toEqual({
      REDIS_HOST: "redis",
      REDIS_PORT: "6379",
      REDIS_USER: "api",
      REDIS_SENTINELS: "redis-sentinel-1:26379,redis-sentinel-2:26379,redis-sentinel-3:26379",
      REDIS_SENTINEL_MASTER: "redis",
      REDIS_SENTINEL_USER: "updateio",
    });
    expect(c.secrets.map((s) => [s.name, s.envVar])).toEqual([
      ["redis_password", "REDIS_PASSWORD_FILE"],
      ["redis_url", "REDIS_URL_FILE"],
      ["redis_sentinel_password", "REDIS_SENTINEL_PASSWORD_FILE"],
    ]);
    expect(c.ready).toHaveLength(5);
    // One Sentinel client user and password shared by every app (Sentinel hands out addresses, not data).
    const bot = redis.connectionFor("discord-bot");
    expect(bot.env.REDIS_SENTINEL_USER).toBe("updateio");
    expect(bot.secrets[2]).toEqual(c.secrets[2]);
    expect(bot.secrets[0]!.value).not.toBe(c.secrets[0]!.value);
  });

  it("lists every app user on every data node (each with ROLE for Sentinel-aware clients) and none in sentinel.conf", () => {
    const acl = upload("dev-redis-acl-seed", "/usr/local/etc/redis-acl/users.acl");
    expect(acl.match(/^user (api|discord-bot) on .* -@admin \+role -flushall /gm)).toHaveLength(2);
    // One file for every data node: each mounts the acl volume and points redis.conf at it.
    for (const node of ["dev-redis", "dev-redis-replica-1"]) {
      expect(named(node).volumes, node).toContainEqual({
        volume_name: `\${docker_volume.${key("docker_volume", "dev-redis-acl")}.name}`,
        container_path: "/usr/local/etc/redis-acl",
        read_only: true,
      });
      expect(upload(`${node}-seed`, "/usr/local/etc/redis/redis.conf"), node).toContain("aclfile /usr/local/etc/redis-acl/users.acl\n");
    }
    const conf = upload("dev-redis-sentinel-1-seed", "/run/secrets/sentinel_conf");
    expect(conf).toMatch(/^user updateio on >\S+ &\* -@all \+ping /m);
    expect(conf).not.toMatch(/^user (api|discord-bot) /m);
  });
});

describe("RedisCache: the ACL file changes under running nodes", () => {
  const prodShape = (apps: string[]) => build({ replicas: 1, sentinels: 3, apps });
  const one = prodShape(["api"]);
  const two = prodShape(["api", "discord-bot"]);

  it("adding an app changes the acl seed and re-runs the reload job, and leaves every data node and Sentinel as it was", () => {
    const unchanged = [
      "dev-redis",
      "dev-redis-seed",
      "dev-redis-replica-1",
      "dev-redis-replica-1-seed",
      "dev-redis-sentinel-1",
      "dev-redis-sentinel-1-seed",
    ];
    for (const name of unchanged) expect(two.named(name), name).toEqual(one.named(name));
    expect(two.upload("dev-redis-acl-seed", "/usr/local/etc/redis-acl/users.acl")).not.toEqual(
      one.upload("dev-redis-acl-seed", "/usr/local/etc/redis-acl/users.acl"),
    );
    expect(two.named("dev-redis-acl-reload-seed")).not.toEqual(one.named("dev-redis-acl-reload-seed"));
    // The job is replaced with its seed (the kit's replace_triggered_by), so it runs again.
    expect(two.named("dev-redis-acl-reload").lifecycle.replace_triggered_by).toEqual([
      `docker_container.${two.key("docker_container", "dev-redis-acl-reload-seed")}`,
    ]);
  });

  it("the reload job: one-shot, config-reload role, the live file read-only, its own copy identical, after the seed and every node", () => {
    const job = two.named("dev-redis-acl-reload");
    expect(job).toMatchObject({
      user: "redis",
      read_only: true,
      restart: "no",
      must_run: false,
      command: ["sh", "/etc/redis-acl-reload/acl-reload.sh"],
    });
    expect(job.labels).toContainEqual({ label: "io.updateio.role", value: "config-reload" });
    expect(job.volumes).toContainEqual({
      volume_name: `\${docker_volume.${two.key("docker_volume", "dev-redis-acl")}.name}`,
      container_path: "/usr/local/etc/redis-acl",
      read_only: true,
    });
    for (const dep of ["dev-redis-acl-seed", "dev-redis", "dev-redis-replica-1"])
      expect(job.depends_on).toContain(`docker_container.${two.key("docker_container", dep)}`);
    expect(two.upload("dev-redis-acl-reload-seed", "/etc/redis-acl-reload/expected.acl")).toBe(
      two.upload("dev-redis-acl-seed", "/usr/local/etc/redis-acl/users.acl"),
    );
    const script = two.upload("dev-redis-acl-reload-seed", "/etc/redis-acl-reload/acl-reload.sh") as string;
    expect(script).toContain(': "$${HOSTS:=redis redis-replica-1}"');
    expect(script).toContain(': "$${PASSWORD_FILE:=/run/secrets/redis_acl_reload_password}"');
    expect(two.redis.aclReloadJob.containers).toHaveLength(1);
  });
});

describe("RedisCache props", () => {
  it("cache role: allkeys-lru without persistence, under its own name", () => {
    const { seed, json, upload } = build({ role: "cache", name: "redis-cache" });
    expect(seed).toBeUndefined();
    const conf = upload("dev-redis-cache-seed", "/usr/local/etc/redis/redis.conf");
    expect(conf).toContain("maxmemory-policy allkeys-lru\n");
    expect(conf).toContain("appendonly no\n");
    expect(Object.values(json.resource.docker_network).map((n) => (n as Json).name)).toEqual(["dev-redis-cache"]);
  });

  it("creates no replication or Sentinel passwords by default, and one password per app", () => {
    // The healthcheck's and the acl-reload job's, then one per app.
    expect(Object.keys(build().json.resource.random_password)).toHaveLength(2);
    expect(Object.keys(build({ apps: ["api", "discord-bot"] }).json.resource.random_password)).toHaveLength(4);
  });

  it("renders the same stack whether apps are listed up front or added after the constructor", () => {
    const upFront = build({ replicas: 1, sentinels: 3, apps: ["api", "discord-bot"] }).text;
    const later = build({ replicas: 1, sentinels: 3 }, (r) => {
      r.addApp("api");
      r.addApp("discord-bot");
    }).text;
    expect(later).toBe(upFront);
    expect(later).toContain("user discord-bot on");
  });

  it("refuses duplicate, reserved and hostile app names, naming the key and the fix", () => {
    expect(() => build({ apps: ["api", "api"] })).toThrow(/apps\.1: "api" is listed twice \(fix: list each app once\)/);
    expect(() => build({ apps: ["api"] }, (r) => r.addApp("api"))).toThrow(
      /addApp\("api"\)[\s\S]*app: "api" was already added; use the connection the first addApp returned \(or connectionFor\("api"\)\)/,
    );
    // The list itself is pinned in redis-renderers.test.ts.
    for (const reserved of RESERVED_REDIS_USERS) {
      expect(() => build({ apps: [reserved] }), reserved).toThrow(new RegExp(`apps\\.0: "${reserved}" is a built-in Redis user`));
      expect(() => build({}, (r) => r.addApp(reserved)), reserved).toThrow(
        new RegExp(`addApp\\("${reserved}"\\)[\\s\\S]*app: "${reserved}" is a built-in Redis user`),
      );
    }
    for (const hostile of ["a${var.x}", "a%{x}", 'a"b', "a'b", "a\nuser evil on nopass +@all", "a b", ">pw", "a>pw", "API", ""]) {
      expect(() => build({ apps: [hostile] }), JSON.stringify(hostile)).toThrow(
        /apps\.0: .* must be an app service name: lowercase letters/,
      );
      expect(() => build({}, (r) => r.addApp(hostile)), JSON.stringify(hostile)).toThrow(/app: .* must be an app service name/);
    }
    expect(() => build({ apps: "api" as never })).toThrow(/apps: "api" must be a list of app service names/);
  });

  it("rejects impossible topologies, naming each prop", () => {
    expect(() => build({ sentinels: 3 })).toThrow(/sentinels: need replicas ≥ 1/);
    expect(() => build({ replicas: 1, sentinels: 2 })).toThrow(/sentinels: 2 must be 0 or a whole number from 3 to 7/);
    expect(() => build({ replicas: -1, sentinelDownAfterMs: 10 })).toThrow(/replicas: -1[\s\S]*sentinelDownAfterMs: 10/);
  });
});
