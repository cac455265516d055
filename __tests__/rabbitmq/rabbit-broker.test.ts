import { Container } from "@cdktf/provider-docker/lib/container";
import { describe, expect, it } from "vitest";
import { RabbitBroker, type RabbitAppConnection, type RabbitBrokerProps } from "../../constructs/rabbitmq/rabbit-broker";
import { DEFAULT_APPS } from "../../constructs/rabbitmq/renderers/rabbitmq-definitions";
import { errorOf } from "../support/helpers";
import { synthConstruct } from "../support/construct-harness";
import { testOutdir, testStack, uploadOf, type Json } from "../support/test-stack";

const OUT = testOutdir("rabbit-broker-test");

const IMAGE = `rabbitmq:4.1.4-management-alpine@sha256:${"5c".repeat(32)}`;

function build(overrides: Partial<RabbitBrokerProps> = {}) {
  const stack = testStack(OUT, "dev");
  const rabbit = new RabbitBroker(stack, "rabbitmq", {
    environment: "dev",
    image: IMAGE,
    memoryMb: 512,
    vhost: "updateio-dev",
    ...overrides,
  });
  // Apps added after the broker is built, as the stack does: the definitions are rendered at synth.
  const added: Record<string, RabbitAppConnection> = {};
  if (!overrides.apps) for (const app of DEFAULT_APPS) added[app.name] = rabbit.addApp(app);
  // A cluster names its nodes otherwise: then server and seed are undefined.
  return { rabbit, added, ...synthConstruct(stack, "dev-rabbitmq", { optional: true }) };
}

/** The settings a client of the broker gets, for `user`. */
const amqpEnv = (user: string) => ({ AMQP_HOST: "rabbitmq", AMQP_PORT: "5672", AMQP_VHOST: "updateio-dev", AMQP_USER: user });

/** The secrets a client of the broker gets as files: its password and its URL. */
const AMQP_SECRET_FILES = [
  ["amqp_password", "AMQP_PASSWORD_FILE"],
  ["amqp_url", "AMQP_URL_FILE"],
];

describe("RabbitBroker", () => {
  const { rabbit, added, text, json, containers, server, seed, named, key, ref } = build();

  it("declares one node and the users job, each with its seed and secrets owner, one network, one data volume and a password per user", () => {
    const names = containers.map((c) => c.name).sort();
    expect(names).toEqual([
      "dev-rabbitmq",
      "dev-rabbitmq-secrets-owner",
      "dev-rabbitmq-seed",
      "dev-rabbitmq-users",
      "dev-rabbitmq-users-secrets-owner",
      "dev-rabbitmq-users-seed",
    ]);
    expect(Object.keys(json.resource.docker_network)).toHaveLength(1);
    // The legacy user, the Erlang cookie and one per app (api, discord-bot, telegram-bot).
    expect(Object.keys(json.resource.random_password)).toHaveLength(5);
    expect(rabbit.apps.map((a) => a.name)).toEqual(["api", "discord-bot", "telegram-bot"]);
  });

  it("addApp returns the app's connection: its user, network, settings, password and URL files, and the nodes to wait for", () => {
    const api = added["api"]!;
    expect(api.user).toBe("api");
    expect(api.network).toBe(rabbit.network);
    expect(api.env).toEqual(amqpEnv("api"));
    expect(api.secrets.map((x) => [x.name, x.envVar])).toEqual(AMQP_SECRET_FILES);
    expect(api.secrets[0]!.value).toBe(api.passwordSecret.value);
    // The users job too: a new app starts only once the job has created its user.
    expect(api.ready).toEqual([...rabbit.service.containers, ...rabbit.usersJob.containers]);
    expect(api.passwordSecret.node.path).toBe("dev/rabbitmq/api-password");
  });

  it("refuses a bad app at addApp, naming the field and the fix", () => {
    const message = errorOf(() => rabbit.addApp({ name: "Worker", publishes: ["nope"], consumes: ["missing"] }));
    expect(message).toMatch(/addApp\("Worker"\) is invalid/);
    expect(message).toMatch(/^  - app\.name: "Worker" must be an app service name .*\(fix: /m);
    expect(message).toMatch(/^  - app\.publishes: "nope" is not one of topology\.exchanges \(fix: /m);
    expect(message).toMatch(/^  - app\.consumes: "missing" is not one of topology\.queues \(fix: /m);
    expect(errorOf(() => rabbit.addApp({ name: "api", publishes: [], consumes: [] }))).toMatch(
      /app\.name: "api" was already added; use the connection the first addApp returned/,
    );
    expect(errorOf(() => rabbit.addApp({ name: "updateio", publishes: [], consumes: [] }))).toMatch(
      /app\.name: "updateio" is the legacy user's name/,
    );
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
    expect(server.env).toEqual([
      "RABBITMQ_ENABLED_PLUGINS_FILE=/etc/rabbitmq/plugins/enabled_plugins",
      "RABBITMQ_NODENAME=rabbit@rabbitmq",
    ]);
    expect(server.tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,size=64m", "/var/log/rabbitmq": "rw,noexec,nosuid,size=16m" });
  });

  const upload = (file: string) => uploadOf(seed, file);

  it("drops its config into conf.d, imports the definitions from a secret file, and carries no password in config", () => {
    expect(seed.upload.map((u: Json) => u.file).sort()).toEqual([
      "/etc/rabbitmq/conf.d/20-updateio.conf",
      "/etc/rabbitmq/plugins/enabled_plugins",
      "/run/secrets/erlang_cookie",
      "/run/secrets/rabbitmq_definitions",
    ]);
    const conf = upload("/etc/rabbitmq/conf.d/20-updateio.conf");
    expect(conf).toContain("definitions.local.path = /run/secrets/rabbitmq_definitions\n");
    expect(conf).not.toMatch(/default_(user|pass|vhost)|random_password/);
    expect(conf).toContain(`total_memory_available_override_value = ${512 * 1024 * 1024}\n`);
    expect(conf).toContain("log.console.level = info\n");
    expect(conf).not.toContain("cluster_formation");
    expect(upload("/etc/rabbitmq/plugins/enabled_plugins")).toBe("[rabbitmq_management,rabbitmq_prometheus].\n");
    expect(upload("/run/secrets/erlang_cookie")).toMatch(/^\$\{random_password\.[^}]+\.result\}$/);
  });

  it("boots with the vhost, the default topology and the legacy user only: no app user in a node's files", () => {
    const defs = JSON.parse(upload("/run/secrets/rabbitmq_definitions"));
    expect(defs.vhosts).toEqual([{ name: "updateio-dev" }]);
    expect(defs.users).toEqual([
      { name: "updateio", password: expect.stringMatching(/^\$\{random_password\.[^}]+\.result\}$/), tags: ["management"] },
    ]);
    expect(defs.permissions.map((p: Json) => p.user)).toEqual(["updateio"]);
    for (const app of DEFAULT_APPS) {
      expect(JSON.stringify(seed.upload), app.name).not.toContain(`"${app.name}"`);
      expect(JSON.stringify(seed.upload), app.name).not.toContain(added[app.name]!.passwordSecret.resource.friendlyUniqueId);
    }
    expect(defs.queues.every((q: Json) => q.arguments["x-queue-type"] === "quorum")).toBe(true);
    expect(defs.queues.map((q: Json) => q.name).sort()).toEqual([
      "notifications.discord",
      "notifications.discord.dlq",
      "notifications.telegram",
      "notifications.telegram.dlq",
      "updates.fetch",
      "updates.fetch.dlq",
    ]);
    expect(defs.exchanges.map((e: Json) => `${e.name}:${e.type}`)).toEqual([
      "updateio.events:topic",
      "updateio.commands:direct",
      "updateio.dlx:direct",
    ]);
  });

  const jobSeed = named("dev-rabbitmq-users-seed");
  const job = named("dev-rabbitmq-users");
  const jobUpload = (file: string) => uploadOf(jobSeed, file);

  it("puts the app users, least privilege each, in the users job's secret file, tagged as app users", () => {
    expect(jobSeed.upload.map((u: Json) => u.file).sort()).toEqual([
      "/etc/rabbitmq-users/expected-permissions.tsv",
      "/etc/rabbitmq-users/sync-users.sh",
      "/run/secrets/erlang_cookie",
      "/run/secrets/rabbitmq_users",
    ]);
    const defs = JSON.parse(jobUpload("/run/secrets/rabbitmq_users"));
    expect(defs.users.map((u: Json) => u.name)).toEqual(["api", "discord-bot", "telegram-bot"]);
    for (const u of defs.users) {
      expect(u.password).toBe(`\${random_password.${added[u.name]!.passwordSecret.resource.friendlyUniqueId}.result}`);
      expect(u.tags).toEqual(["updateio-app"]);
    }
    expect(defs.vhosts).toEqual([{ name: "updateio-dev" }]);
    expect(defs.permissions.find((p: Json) => p.user === "telegram-bot")).toEqual({
      user: "telegram-bot",
      vhost: "updateio-dev",
      configure: "^(notifications\\.telegram)$",
      write: "^(updateio\\.commands)$",
      read: "^(notifications\\.telegram)$",
    });
    expect(jobUpload("/etc/rabbitmq-users/expected-permissions.tsv")).toContain(
      "telegram-bot\t^(notifications\\.telegram)$\t^(updateio\\.commands)$\t^(notifications\\.telegram)$\n",
    );
    // Passwords only in the secret file: the script and the expected permissions carry none.
    for (const f of ["/etc/rabbitmq-users/expected-permissions.tsv", "/etc/rabbitmq-users/sync-users.sh"])
      expect(jobUpload(f), f).not.toContain("random_password");
  });

  it("runs the users job once per change, as rabbitmq, after every node, on the broker's network only", () => {
    expect(job).toMatchObject({
      user: "rabbitmq",
      restart: "no",
      must_run: false,
      read_only: true,
      entrypoint: ["sh", "/etc/rabbitmq-users/sync-users.sh"],
      env: ["HOME=/run/rabbitmq-cli"],
      memory: 256,
    });
    expect(job.labels).toContainEqual({ label: "io.updateio.role", value: "config-reload" });
    expect(job.labels).toContainEqual({ label: "io.updateio.component", value: "job" });
    expect(job.depends_on).toEqual(expect.arrayContaining([`docker_container.${key("docker_container", "dev-rabbitmq")}`]));
    expect(job.lifecycle.replace_triggered_by).toEqual([`docker_container.${key("docker_container", "dev-rabbitmq-users-seed")}`]);
    expect(job.networks_advanced).toEqual([expect.objectContaining({ name: ref("docker_network", "dev-rabbitmq") })]);
    const script = jobUpload("/etc/rabbitmq-users/sync-users.sh");
    expect(script).toContain(': "$${RABBITMQ_NODES:=rabbit@rabbitmq}"');
    expect(script).toContain(': "$${KEEP_USERS:=updateio}"');
  });

  it("an app added or a password rotated changes the users job's files only, never a node's", () => {
    const stackA = testStack(OUT, "dev");
    const a = new RabbitBroker(stackA, "rabbitmq", { environment: "dev", image: IMAGE, memoryMb: 512, vhost: "updateio-dev" });
    a.addApp(DEFAULT_APPS[0]!);
    const stackB = testStack(OUT, "dev");
    const b = new RabbitBroker(stackB, "rabbitmq", { environment: "dev", image: IMAGE, memoryMb: 512, vhost: "updateio-dev" });
    b.addApp(DEFAULT_APPS[0]!);
    b.addApp(DEFAULT_APPS[1]!);
    const ja = synthConstruct(stackA, "dev-rabbitmq");
    const jb = synthConstruct(stackB, "dev-rabbitmq");
    expect(jb.seed).toEqual(ja.seed);
    expect(jb.server).toEqual(ja.server);
    expect(jb.named("dev-rabbitmq-users-seed")).not.toEqual(ja.named("dev-rabbitmq-users-seed"));
  });

  it("installs the Erlang cookie through an entrypoint wrapper, then runs the image's entrypoint", () => {
    expect(server.entrypoint.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    expect(server.entrypoint[2]).toContain('"$HOME/.erlang.cookie"');
    expect(server.entrypoint[2]).toContain('exec docker-entrypoint.sh "$@"');
    expect(server.entrypoint[2]).not.toContain("${");
    expect(server.command).toEqual(["rabbitmq-server"]);
  });

  it("keeps data at /var/lib/rabbitmq and is alone on its internal network", () => {
    expect(server.volumes).toContainEqual({
      volume_name: ref("docker_volume", "dev-rabbitmq-data"),
      container_path: "/var/lib/rabbitmq",
      read_only: false,
    });
    expect(server.volumes).toContainEqual({
      volume_name: ref("docker_volume", "dev-rabbitmq-config"),
      container_path: "/etc/rabbitmq/conf.d",
      read_only: true,
    });
    expect(json.resource.docker_network[key("docker_network", "dev-rabbitmq")].internal).toBe(true);
    expect(server.networks_advanced).toHaveLength(1);
    expect(server.ports).toEqual([]);
  });

  it("checks that the node runs, with canonical durations", () => {
    expect(server.healthcheck).toEqual({
      test: ["CMD", "rabbitmq-diagnostics", "-q", "check_running"],
      interval: "30s",
      timeout: "20s",
      retries: 5,
      start_period: "1m0s",
    });
  });

  it("gives clients the vhost and user as settings and the password and URL as files", () => {
    const c = rabbit.connectionFor();
    expect(c.env).toEqual(amqpEnv("updateio"));
    expect(c.secrets.map((s) => [s.name, s.envVar])).toEqual(AMQP_SECRET_FILES);
    expect(c.secrets[1]!.value).toMatch(/@rabbitmq:5672\/updateio-dev$/);
  });

  it("gives each app its own user and password through connectionFor(role)", () => {
    const c = rabbit.connectionFor("telegram-bot");
    expect(c.env).toEqual(amqpEnv("telegram-bot"));
    expect(c.secrets[0]!.value).not.toBe(rabbit.connectionFor().secrets[0]!.value);
    expect(c.secrets[1]!.value).toMatch(/^amqp:\/\/telegram-bot:.+@rabbitmq:5672\/updateio-dev$/);
    expect(() => rabbit.connectionFor("worker")).toThrow(
      /no app "worker"; added apps: api, discord-bot, telegram-bot \(add it with broker\.addApp\)/,
    );
  });

  it("forms a cluster of per-node containers and volumes with static peer discovery", () => {
    const b = build({ clusterSize: 3 });
    const names = b.containers.map((c) => c.name).sort();
    expect(names).toEqual([
      ...[1, 2, 3].flatMap((n) => [`dev-rabbitmq-${n}`, `dev-rabbitmq-${n}-secrets-owner`, `dev-rabbitmq-${n}-seed`]),
      "dev-rabbitmq-users",
      "dev-rabbitmq-users-secrets-owner",
      "dev-rabbitmq-users-seed",
    ]);
    const node2 = b.named("dev-rabbitmq-2");
    expect(node2.env).toContain("RABBITMQ_NODENAME=rabbit@rabbitmq-2");
    expect(node2.networks_advanced[0].aliases).toEqual(["rabbitmq", "rabbitmq-2"]);
    const conf = b.upload("dev-rabbitmq-2-seed", "/etc/rabbitmq/conf.d/20-updateio.conf");
    expect(conf).toContain("cluster_formation.peer_discovery_backend = classic_config\n");
    expect(conf).toContain("cluster_formation.classic_config.nodes.3 = rabbit@rabbitmq-3\n");
    expect(Object.values(b.json.resource.docker_volume).map((v) => (v as Json).name)).toEqual(
      expect.arrayContaining(["dev-rabbitmq-1-data", "dev-rabbitmq-2-data", "dev-rabbitmq-3-data"]),
    );
    expect(b.rabbit.connectionFor("api").ready).toHaveLength(4);
    expect(b.upload("dev-rabbitmq-users-seed", "/etc/rabbitmq-users/sync-users.sh")).toContain(
      "RABBITMQ_NODES:=rabbit@rabbitmq-1 rabbit@rabbitmq-2 rabbit@rabbitmq-3",
    );
    const usersJob = b.named("dev-rabbitmq-users");
    for (const n of [1, 2, 3]) expect(usersJob.depends_on).toContain(`docker_container.${b.key("docker_container", `dev-rabbitmq-${n}`)}`);
    expect(() => build({ clusterSize: 2 })).toThrow(/clusterSize: 2 must be 1 or an odd/);
  });

  it("rejects apps that use exchanges or queues outside the topology", () => {
    expect(() => build({ apps: [{ name: "worker", publishes: ["nope"], consumes: ["updates.fetch", "missing"] }] })).toThrow(
      /apps\.0\.publishes: "nope"[\s\S]*apps\.0\.consumes: "missing"/,
    );
  });

  it("passes the log level and protects data when asked", () => {
    const b = build({ logLevel: "warning", protectData: true });
    expect(uploadOf(b.seed, "/etc/rabbitmq/conf.d/20-updateio.conf")).toContain("log.console.level = warning\n");
    expect(b.json.resource.docker_volume[b.key("docker_volume", "dev-rabbitmq-data")].lifecycle).toEqual({ prevent_destroy: true });
  });

  it("rejects a vhost that is not a simple name", () => {
    expect(() => build({ vhost: "Updateio Dev" })).toThrow(/vhost "Updateio Dev"/);
  });
});
