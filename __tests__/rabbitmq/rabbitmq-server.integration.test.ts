import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { renderCookieEntrypoint, renderEnabledPlugins, renderRabbitConf } from "../../constructs/rabbitmq/renderers/rabbitmq";
import {
  appPermissions,
  DEFAULT_APPS,
  DEFAULT_TOPOLOGY,
  renderRabbitDefinitions,
  type RabbitUser,
} from "../../constructs/rabbitmq/renderers/rabbitmq-definitions";
import {
  renderRabbitExpectedPermissions,
  renderRabbitUserDefinitions,
  renderRabbitUsersScript,
} from "../../constructs/rabbitmq/renderers/rabbitmq-users";
import { describeIfBinary, requireBinary } from "../support/binaries";
import {
  RABBIT_USERS_SCRIPT_INPUT,
  rabbitBin,
  rabbitCtl,
  rabbitNodeEnv,
  runRabbitUsersJob,
  stopRabbitNode,
  waitForRabbitNode,
} from "../support/rabbitmq-node";
import { rabbitNodeDirs } from "../support/shared-rabbit-dirs";

// rabbitmq.conf, enabled_plugins, the boot definitions, the cookie entrypoint and the users job (its
// script and files) exactly as rendered, on a real broker (Debian's rabbitmq-server, 3.10.x in bookworm)
// on loopback: the node boots with the legacy user and the topology, the job adds the app users. Only
// paths and ports are rewritten (listeners bound to 127.0.0.1). Everything rendered is also valid for 4.1 (the pinned image):
// definitions.import_backend/local.path (3.9+), policy apply-to "queues", quorum x-arguments and the
// `password` key of users (rabbit_auth_backend_internal:put_user/3) exist in both.
describeIfBinary(["rabbitmq-server", "rabbitmqctl", "epmd"], "RabbitBroker config and definitions on a real rabbitmq-server", () => {
  const dir = mkdtempSync(join(tmpdir(), "updateio-rabbitmq-"));
  const vhost = "updateio-test";
  const node = "rabbit-test@localhost";
  const ports = { amqp: 56720, management: 56721, prometheus: 56722, dist: 56725, epmd: 56729 };
  const password = (name: string) => `${name.replace(/[^a-z]/g, "")}Pw0123456789abcdefABCDEF`.padEnd(32, "x");
  const cookie = "CookieABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstu";
  const paths = rabbitNodeDirs(dir, "stub", "job", "jobHome");
  const env: NodeJS.ProcessEnv = {
    ...rabbitNodeEnv({
      dir,
      node,
      home: paths.home,
      configFiles: paths.etc,
      enabledPluginsFile: join(paths.plugins, "enabled_plugins"),
      distPort: ports.dist,
      epmdPort: ports.epmd,
    }),
    PATH: `${paths.stub}:${process.env.PATH}`,
  };
  const users: RabbitUser[] = [
    { name: "updateio", password: password("updateio"), tags: ["management"], permissions: { configure: ".*", write: ".*", read: ".*" } },
    ...DEFAULT_APPS.map((app) => ({ name: app.name, password: password(app.name), permissions: appPermissions(app) })),
  ];
  let server: ChildProcess | undefined;
  const figures = { allowed: 0, refused: 0, before: -1, after: -1 };

  const ctl = (args: string[]) => rabbitCtl(node, env, args, 30_000);
  const rows = (args: string[]) =>
    ctl(["-q", "--no-table-headers", ...args])
      .out.trim()
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => l.split("\t"));

  async function start(): Promise<void> {
    const log = openSync(join(dir, "server.log"), "a");
    // The rendered wrapper installs the cookie, then execs "docker-entrypoint.sh" (a stub here: exec "$@").
    server = spawn(
      "/bin/sh",
      ["-c", renderCookieEntrypoint(join(paths.secrets, "erlang_cookie")), "rabbitmq-entrypoint", rabbitBin("rabbitmq-server")],
      { env, stdio: ["ignore", log, log], detached: true },
    );
    closeSync(log);
    if (
      await waitForRabbitNode(
        server,
        async () => ctl(["await_startup", "--timeout", "5"]).status === 0 && (await managementReady()),
        60_000,
      )
    )
      return;
    throw new Error(
      `rabbitmq-server did not start on the rendered config:\n${readFileSync(join(dir, "server.log"), "utf8")
        .split("\n")
        .filter((l) => /error|conf|invalid|setting/i.test(l))
        .slice(0, 15)
        .join("\n")}`,
    );
  }
  // The management listener can come up a moment after the node reports started (slower under load).
  async function managementReady(): Promise<boolean> {
    try {
      const auth = Buffer.from(`updateio:${password("updateio")}`).toString("base64");
      return (
        (await fetch(`http://127.0.0.1:${ports.management}/api/overview`, { headers: { authorization: `Basic ${auth}` } })).status === 200
      );
    } catch {
      return false;
    }
  }
  async function stop(): Promise<void> {
    const s = server;
    server = undefined;
    if (s) await stopRabbitNode(s, () => ctl(["shutdown", "--timeout", "30"]), 5_000);
  }

  const api = async (user: string, method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${ports.management}/api${path}`, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`${user}:${password(user)}`).toString("base64")}`,
        "content-type": "application/json",
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      text,
      json: (() => {
        try {
          return JSON.parse(text);
        } catch {
          return undefined;
        }
      })(),
    };
  };
  const publish = (user: string, exchange: string, routingKey: string, payload: string) =>
    api(user, "POST", `/exchanges/${vhost}/${encodeURIComponent(exchange)}/publish`, {
      properties: { delivery_mode: 2 },
      routing_key: routingKey,
      payload,
      payload_encoding: "string",
    });
  const get = (user: string, queue: string, ackmode: string) =>
    api(user, "POST", `/queues/${vhost}/${encodeURIComponent(queue)}/get`, { count: 1, ackmode, encoding: "auto" });
  const messages = async (queue: string, expected?: number) => {
    // Queue metrics can lag a moment behind the log; wait for the expected count when one is given.
    for (let i = 0; i < 40; i++) {
      const row = rows(["list_queues", "-p", vhost, "name", "messages"]).find((r) => r[0] === queue);
      const n = Number(row?.[1] ?? -1);
      if (expected === undefined || n === expected) return n;
      await new Promise((r) => setTimeout(r, 250));
    }
    return Number(rows(["list_queues", "-p", vhost, "name", "messages"]).find((r) => r[0] === queue)?.[1] ?? -1);
  };
  const allowed = (r: { status: number; text: string }, what: string) => {
    expect(r.status, `${what}: ${r.text}`).toBeLessThan(300);
    figures.allowed++;
  };
  const refused = (r: { status: number; text: string }, what: string) => {
    expect(r.status, `${what}: ${r.text}`).toBeGreaterThanOrEqual(400);
    expect(r.text, what).toMatch(/access_refused|ACCESS_REFUSED|not_authorised|access to/i);
    figures.refused++;
  };

  beforeAll(async () => {
    for (const p of Object.values(paths)) mkdirSync(p, { recursive: true });
    const conf = renderRabbitConf({ memoryMb: 512, vhost, definitionsFile: "/run/secrets/rabbitmq_definitions" })
      .replace("/run/secrets/", `${paths.secrets}/`)
      .replace("listeners.tcp.default = 5672", `listeners.tcp.default = 127.0.0.1:${ports.amqp}`)
      .replace("management.tcp.port = 15672", `management.tcp.port = ${ports.management}\nmanagement.tcp.ip = 127.0.0.1`)
      .replace("prometheus.tcp.port = 15692", `prometheus.tcp.port = ${ports.prometheus}\nprometheus.tcp.ip = 127.0.0.1`);
    writeFileSync(join(paths.etc, "20-updateio.conf"), conf);
    writeFileSync(join(paths.plugins, "enabled_plugins"), renderEnabledPlugins());
    // As RabbitBroker splits them: the legacy user boots with the node, the app users are the job's.
    writeFileSync(
      join(paths.secrets, "rabbitmq_definitions"),
      renderRabbitDefinitions({ vhost, users: users.slice(0, 1), topology: DEFAULT_TOPOLOGY }),
      { mode: 0o644 },
    );
    const appUsers = { vhost, users: users.slice(1), keepUsers: ["updateio"] };
    writeFileSync(join(paths.job, "rabbitmq_users"), renderRabbitUserDefinitions(appUsers), { mode: 0o644 });
    writeFileSync(join(paths.job, "expected-permissions.tsv"), renderRabbitExpectedPermissions(appUsers));
    writeFileSync(join(paths.job, "sync-users.sh"), renderRabbitUsersScript({ ...RABBIT_USERS_SCRIPT_INPUT, vhost, waitSeconds: 60 }));
    writeFileSync(join(paths.secrets, "erlang_cookie"), cookie, { mode: 0o644 });
    writeFileSync(join(paths.stub, "docker-entrypoint.sh"), '#!/bin/sh\nexec "$@"\n');
    chmodSync(join(paths.stub, "docker-entrypoint.sh"), 0o755);
    await start();
    const job = runRabbitUsersJob({ node, env, files: paths.job, home: paths.jobHome, cookieFile: join(paths.secrets, "erlang_cookie") });
    if (job.status !== 0) throw new Error(`the users job failed:\n${job.out}`);
  }, 120_000);

  afterAll(async () => {
    await stop();
    spawnSync(requireBinary("epmd").path!, ["-port", String(ports.epmd), "-kill"], { timeout: 5_000 });
    rmSync(dir, { recursive: true, force: true });
    console.info(
      `[rabbitmq-server] users ${users.length}, permission checks allowed ${figures.allowed} / refused ${figures.refused}, messages before restart ${figures.before}, after ${figures.after}`,
    );
  }, 60_000);

  it("installs the cookie 0400 from the secret file, and the CLI tools authenticate with it", () => {
    const st = statSync(join(paths.home, ".erlang.cookie"));
    expect(st.mode & 0o777).toBe(0o400);
    expect(readFileSync(join(paths.home, ".erlang.cookie"), "utf8")).toBe(cookie);
    expect(ctl(["status"]).status).toBe(0);
  });

  it("enables the Prometheus and management plugins and serves metrics", async () => {
    const list = spawnSync(rabbitBin("rabbitmq-plugins"), ["-n", node, "list", "-E", "-m"], { env, encoding: "utf8", timeout: 30_000 });
    const plugins = list.stdout.trim().split("\n");
    expect(plugins).toEqual(expect.arrayContaining(["rabbitmq_management", "rabbitmq_prometheus"]));
    const metrics = await fetch(`http://127.0.0.1:${ports.prometheus}/metrics`);
    expect(metrics.status).toBe(200);
  });

  it("imports the vhost and the legacy user at boot, one user per app from the users job, and no guest", () => {
    expect(rows(["list_vhosts", "name"]).map((r) => r[0])).toContain(vhost);
    const names = rows(["list_users"])
      .map((r) => r[0])
      .sort();
    expect(names).toEqual(["api", "discord-bot", "telegram-bot", "updateio"]);
    expect(ctl(["authenticate_user", "telegram-bot", password("telegram-bot")]).status).toBe(0);
    expect(ctl(["authenticate_user", "telegram-bot", "wrong-password-000000000"]).status).not.toBe(0);
  });

  it("grants each app exactly its least-privilege permissions", () => {
    const perms = new Map(
      rows(["list_permissions", "-p", vhost]).map(([user, configure, write, read]) => [user, { configure, write, read }]),
    );
    for (const u of users) expect(perms.get(u.name), u.name).toEqual(u.permissions);
    expect(rows(["list_user_permissions", "telegram-bot"])).toEqual([
      [vhost, "^(notifications\\.telegram)$", "^(updateio\\.commands)$", "^(notifications\\.telegram)$"],
    ]);
  });

  it("declares every queue as a quorum queue with its dead-letter exchange, routing key and policy", () => {
    const queues = rows(["list_queues", "-p", vhost, "name", "type", "policy", "arguments"]);
    const byName = new Map(queues.map(([name, type, policy, args]) => [name, { type, policy, args }]));
    for (const q of DEFAULT_TOPOLOGY.queues) {
      expect(byName.get(q.name)?.type, q.name).toBe("quorum");
      expect(byName.get(q.name)?.policy, q.name).toBe("updateio-work-queues");
      expect(byName.get(q.name)?.args, q.name).toContain(`{"x-dead-letter-exchange","updateio.dlx"}`);
      expect(byName.get(q.name)?.args, q.name).toContain(`{"x-dead-letter-routing-key","${q.name}.dlq"}`);
      expect(byName.get(`${q.name}.dlq`)?.type).toBe("quorum");
      expect(byName.get(`${q.name}.dlq`)?.policy).toBe("updateio-dead-letter-queues");
    }
    const policy = rows(["list_policies", "-p", vhost]).find((p) => p.includes("updateio-work-queues"));
    expect(policy?.join("\t")).toMatch(/"delivery-limit":5/);
  });

  it("lets each app publish and consume only what its permissions say (management HTTP API)", async () => {
    // The HTTP API needs the management tag to log in at all; it is added here for the test only
    // (tags grant no vhost resource rights: every publish/get below runs as an AMQP channel of that user).
    for (const app of DEFAULT_APPS) expect(ctl(["set_user_tags", app.name, "management"]).status).toBe(0);
    allowed(await publish("api", "updateio.commands", "updates.fetch", "fetch-1"), "api publishes a command");
    allowed(await publish("api", "updateio.events", "notification.telegram.sent", "hello-telegram"), "api publishes an event");
    allowed(await publish("discord-bot", "updateio.commands", "updates.fetch", "fetch-2"), "discord-bot publishes a command");
    refused(await publish("telegram-bot", "updateio.events", "notification.all.x", "nope"), "telegram-bot publishes an event");
    refused(await publish("discord-bot", "updateio.dlx", "updates.fetch.dlq", "nope"), "discord-bot publishes to the DLX");
    refused(await publish("api", "amq.default", "updates.fetch", "nope"), "api publishes to the default exchange");
    const got = await get("telegram-bot", "notifications.telegram", "ack_requeue_false");
    allowed(got, "telegram-bot consumes its queue");
    expect(got.json?.[0]?.payload).toBe("hello-telegram");
    refused(await get("telegram-bot", "updates.fetch", "ack_requeue_true"), "telegram-bot reads the api's queue");
    refused(await get("api", "notifications.discord", "ack_requeue_true"), "api reads the discord queue");
    refused(await get("api", "updates.fetch.dlq", "ack_requeue_true"), "api reads a dead-letter queue");
    expect(await messages("updates.fetch", 2)).toBe(2);
  }, 30_000);

  it("dead-letters a rejected message into <queue>.dlq", async () => {
    const rejected = await get("api", "updates.fetch", "reject_requeue_false");
    allowed(rejected, "api rejects a command");
    expect(await messages("updates.fetch.dlq", 1)).toBe(1);
    expect(await messages("updates.fetch", 1)).toBe(1);
  }, 30_000);

  it("keeps a persistent message in a quorum queue across a broker restart", async () => {
    figures.before = await messages("updates.fetch", 1);
    expect(figures.before).toBe(1);
    await stop();
    await start();
    figures.after = await messages("updates.fetch", 1);
    expect(figures.after).toBe(1);
    // The boot definitions no longer list the app users: they are in the node's data, and still work after the restart.
    for (const app of DEFAULT_APPS) ctl(["set_user_tags", app.name, "management"]);
    const got = await get("api", "updates.fetch", "ack_requeue_false");
    allowed(got, "api consumes after restart");
    expect(got.json?.[0]?.payload).toBe("fetch-2");
  }, 90_000);
});
