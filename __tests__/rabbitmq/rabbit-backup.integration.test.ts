import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { renderEnabledPlugins, renderRabbitConf } from "../../constructs/rabbitmq/renderers/rabbitmq";
import { DEFAULT_TOPOLOGY, renderRabbitDefinitions } from "../../constructs/rabbitmq/renderers/rabbitmq-definitions";
import { describeIfBinary } from "../support/binaries";
import { freePorts } from "../support/helpers";
import { buildStoreBackups } from "../support/store-backups";
import { rabbitBin, rabbitCtl, rabbitNodeEnv, stopRabbitNode, waitForRabbitNode } from "../support/rabbitmq-node";
import { rabbitNodeDirs } from "../support/shared-rabbit-dirs";
import { reportsRuntimeTopology } from "../support/store-fixtures";
import { writeSigningKey } from "../support/snapshot-signing";

// The scripts RabbitBackup renders, run with sh against Debian's rabbitmq-server (3.10) on loopback,
// booted on the config RabbitBroker renders (definitions imported at boot). Things made at runtime
// (a vhost, users, queues, bindings, a policy) are what only the backup can bring back: the boot
// import restores the Terraform-declared part by itself. Back up, wipe the node's data, restore, count.
describeIfBinary(["rabbitmq-server", "rabbitmqctl", "epmd", "sh"], "RabbitBackup on a real rabbitmq-server: export, wipe, import", () => {
  const dir = mkdtempSync(join(tmpdir(), "updateio-rabbit-backup-"));
  const vhost = "updateio-test";
  const node = "rabbit-backup@localhost";
  const cookie = "CookieBackupABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnop";
  const paths = rabbitNodeDirs(dir, "backups", "scripts");
  const built = buildStoreBackups("prod");
  const rb = built.rabbitBackup;
  let env: NodeJS.ProcessEnv = {};
  let server: ChildProcess | undefined;

  const ctl = (args: string[]) => rabbitCtl(node, env, args, 60_000);
  // Rows of a list command; a vhost that does not exist (yet, or any more) has none.
  const count = (args: string[]) => {
    const r = ctl(["-q", "--no-table-headers", ...args]);
    if (r.status !== 0) {
      if (/no_such_vhost|does not exist|not found/i.test(r.out)) return 0;
      throw new Error(`rabbitmqctl ${args.join(" ")} failed: ${r.out}`);
    }
    return r.out
      .trim()
      .split("\n")
      .filter((l) => l.trim().length > 0).length;
  };
  const inventory = () => ({
    vhosts: count(["list_vhosts", "name"]),
    users: count(["list_users"]),
    queues: count(["list_queues", "-p", vhost, "name"]) + count(["list_queues", "-p", "reports", "name"]),
    exchanges: count(["list_exchanges", "-p", vhost, "name"]) + count(["list_exchanges", "-p", "reports", "name"]),
    bindings: count(["list_bindings", "-p", vhost]) + count(["list_bindings", "-p", "reports"]),
    policies: count(["list_policies", "-p", vhost]) + count(["list_policies", "-p", "reports"]),
  });

  async function start(): Promise<void> {
    const log = openSync(join(dir, "server.log"), "a");
    server = spawn(rabbitBin("rabbitmq-server"), [], { env, stdio: ["ignore", log, log], detached: true });
    closeSync(log);
    if (await waitForRabbitNode(server, () => ctl(["await_startup", "--timeout", "5"]).status === 0, 90_000)) return;
    throw new Error(`rabbitmq-server did not start:\n${readFileSync(join(dir, "server.log"), "utf8").slice(-3000)}`);
  }
  async function stop(): Promise<void> {
    const s = server;
    server = undefined;
    if (s) await stopRabbitNode(s, () => ctl(["shutdown", "--timeout", "30"]), 10_000);
  }
  const sh = (script: string, args: string[]) =>
    spawnSync("sh", [join(paths.scripts, script), ...args], {
      env: {
        ...env,
        BACKUP_ROOT: paths.backups,
        BACKUP_HOOKS: join(paths.scripts, "hooks.sh"),
        RABBITMQ_NODES: node,
        RABBITMQ_COOKIE_FILE: join(paths.secrets, "erlang_cookie"),
        BACKUP_SIGNING_KEY_FILE: join(paths.secrets, "backup_signing_key"),
        RABBITMQCTL: rabbitBin("rabbitmqctl"),
        TMPDIR: dir,
      },
      encoding: "utf8",
      timeout: 120_000,
    });

  beforeAll(async () => {
    for (const p of Object.values(paths)) mkdirSync(p, { recursive: true });
    writeSigningKey(paths.secrets);
    const [amqp, management, prometheus, dist, epmd] = await freePorts(5);
    env = rabbitNodeEnv({
      dir,
      node,
      home: paths.home,
      configFiles: paths.etc,
      enabledPluginsFile: join(paths.plugins, "enabled_plugins"),
      distPort: dist,
      epmdPort: epmd,
    });
    const conf = renderRabbitConf({ memoryMb: 512, vhost, definitionsFile: "/run/secrets/rabbitmq_definitions" })
      .replace("/run/secrets/", `${paths.secrets}/`)
      .replace("listeners.tcp.default = 5672", `listeners.tcp.default = 127.0.0.1:${amqp}`)
      .replace("management.tcp.port = 15672", `management.tcp.port = ${management}\nmanagement.tcp.ip = 127.0.0.1`)
      .replace("prometheus.tcp.port = 15692", `prometheus.tcp.port = ${prometheus}\nprometheus.tcp.ip = 127.0.0.1`)
      .replace("disk_free_limit.absolute = 1GB", "disk_free_limit.absolute = 50MB");
    writeFileSync(join(paths.etc, "20-updateio.conf"), conf);
    writeFileSync(join(paths.plugins, "enabled_plugins"), renderEnabledPlugins());
    const users = [
      {
        name: "updateio",
        password: "UpdateioPw0123456789abcdef",
        tags: ["management"],
        permissions: { configure: ".*", write: ".*", read: ".*" },
      },
    ];
    writeFileSync(join(paths.secrets, "rabbitmq_definitions"), renderRabbitDefinitions({ vhost, users, topology: DEFAULT_TOPOLOGY }));
    writeFileSync(join(paths.secrets, "erlang_cookie"), cookie, { mode: 0o644 });
    writeFileSync(join(paths.scripts, "backup.sh"), rb.backup.script);
    writeFileSync(join(paths.scripts, "hooks.sh"), rb.hooks);
    writeFileSync(join(paths.scripts, "restore.sh"), rb.restoreScript);
    // The server reads $HOME/.erlang.cookie too: the hooks install the same secret there.
    writeFileSync(join(paths.home, ".erlang.cookie"), cookie, { mode: 0o400 });
    await start();
  }, 120_000);
  afterAll(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it("exports the definitions, loses the node's data, imports them back: every vhost, user, queue, binding and policy returns", async () => {
    const boot = inventory();
    // Made at runtime: a vhost with its own queues and bindings, two users, a policy.
    expect(ctl(["add_vhost", "reports"]).status).toBe(0);
    for (const user of ["reporter", "auditor"]) {
      expect(ctl(["add_user", user, `${user}Pw0123456789`]).status).toBe(0);
      expect(ctl(["set_permissions", "-p", "reports", user, "^reports\\.", "^reports\\.", "^reports\\."]).status).toBe(0);
    }
    expect(
      ctl(["set_policy", "-p", "reports", "reports-ttl", "^reports\\.", '{"message-ttl":3600000}', "--apply-to", "queues"]).status,
    ).toBe(0);
    const runtime = reportsRuntimeTopology();
    writeFileSync(join(dir, "runtime.json"), JSON.stringify(runtime));
    expect(ctl(["import_definitions", join(dir, "runtime.json")]).status).toBe(0);
    const before = inventory();
    expect(before.vhosts).toBe(boot.vhosts + 1);
    expect(before.users).toBe(boot.users + 2);
    expect(before.queues).toBe(boot.queues + 20);

    const run = sh("backup.sh", ["once"]);
    expect(run.status, run.stderr).toBe(0);
    const snapshots = readdirSync(join(paths.backups, "snapshots")).sort();
    // The snapshot and its signature.
    expect(snapshots).toHaveLength(2);
    expect(snapshots[0]).toMatch(/^rabbitmq-\d{8}T\d{6}Z\.json$/);
    expect(snapshots[1]).toBe(`${snapshots[0]}.hmac`);
    const status = readFileSync(join(paths.backups, "backup-status"), "utf8");
    expect(status).toMatch(/^last_result=ok$/m);
    expect(status).toMatch(new RegExp(`last_items=users=${before.users} bindings=\\d+ source=${node}`));
    const metrics = readFileSync(join(paths.backups, "metrics", "rabbitmq_backup.prom"), "utf8");
    expect(metrics).toMatch(/^updateio_backup_last_run_success\{store="rabbitmq"\} 1$/m);

    // Disaster: the node's data directory is gone; it boots with the Terraform-declared part only.
    await stop();
    rmSync(join(dir, "mnesia"), { recursive: true, force: true });
    await start();
    const wiped = inventory();
    expect(wiped.vhosts).toBe(boot.vhosts);
    expect(wiped.queues).toBe(boot.queues);

    const t0 = performance.now();
    const restore = sh("restore.sh", ["latest"]);
    expect(restore.status, `${restore.stdout}${restore.stderr}`).toBe(0);
    const restoreMs = Math.round(performance.now() - t0);
    const after = inventory();
    expect(after).toEqual(before);
    expect(ctl(["authenticate_user", "reporter", "reporterPw0123456789"]).status).toBe(0);
    console.info(
      `[figures] rabbitmq: written ${JSON.stringify(before)}; restored ${JSON.stringify(after)}; import ${restoreMs} ms (node restart not included)`,
    );
  }, 300_000);
});
