import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { MONITOR_USER, renderRedisAcl, renderRedisConf } from "../../constructs/redis/renderers/redis";
import { describeIfBinary } from "../support/binaries";
import { freePort } from "../support/helpers";

// The redis.conf and ACL file exactly as rendered, on a real redis-server (Debian's) on loopback.
// Only the paths and port differ from the container: they are rewritten to the temp dir below.
describeIfBinary(["redis-server", "redis-cli"], "RedisCache config on a real redis-server", () => {
  const dir = mkdtempSync(join(tmpdir(), "updateio-redis-"));
  let port = 0;
  const appPassword = "AppPw0123456789abcdefABCDEF012345";
  const botPassword = "BotPw0123456789abcdefABCDEF012345";
  const healthPassword = "HealthPw0123456789abcdefABCDEF01";
  const monitorPassword = "MonitorPw0123456789abcdefABCDEF0";
  let server: ChildProcess | undefined;

  const cli = (args: string[]) =>
    spawnSync("redis-cli", ["--no-auth-warning", "-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8", timeout: 10_000 });

  const start = async () => {
    server = spawn("redis-server", [join(dir, "redis.conf")], { stdio: "ignore" });
    for (let i = 0; i < 50; i++) {
      if (cli(["--user", "healthcheck", "--pass", healthPassword, "ping"]).stdout.includes("PONG")) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("redis-server did not answer PING within 5 s on the rendered config");
  };
  const stop = async (signal: NodeJS.Signals) => {
    const p = server;
    server = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill(signal);
    await exited;
  };

  beforeAll(async () => {
    port = await freePort();
    const acl = join(dir, "users_acl");
    writeFileSync(
      acl,
      renderRedisAcl({
        apps: [
          { user: "api", password: appPassword },
          { user: "discord-bot", password: botPassword },
        ],
        healthPassword,
        monitorPassword,
      }),
    );
    const conf = renderRedisConf({ memoryMb: 128, aclFile: acl, port }).replace("dir /data", `dir ${dir}`);
    writeFileSync(join(dir, "redis.conf"), conf);
    await start();
  });
  afterAll(async () => {
    await stop("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses unauthenticated clients (the default user is off)", () => {
    expect(cli(["set", "k", "v"]).stdout).toMatch(/NOAUTH/);
  });

  it("lets the app user read and write, but not FLUSHALL, FLUSHDB or CONFIG", () => {
    const app = ["--user", "api", "--pass", appPassword];
    expect(cli([...app, "set", "session:1", "alice"]).stdout.trim()).toBe("OK");
    expect(cli([...app, "get", "session:1"]).stdout.trim()).toBe("alice");
    expect(cli([...app, "info", "server"]).stdout).toContain("redis_version");
    for (const command of [["flushall"], ["flushdb"], ["config", "get", "maxmemory"], ["debug", "sleep", "0"], ["shutdown"]]) {
      // DEBUG is also switched off server-wide (enable-debug-command no), which answers first.
      expect(cli([...app, ...command]).stdout, command.join(" ")).toMatch(/NOPERM|DEBUG command not allowed/);
    }
  });

  it("gives each app its own user: each logs in with its own password only, is refused admin commands, and shares the keys", () => {
    const api = ["--user", "api", "--pass", appPassword];
    const bot = ["--user", "discord-bot", "--pass", botPassword];
    expect(cli([...api, "acl", "whoami"]).stdout.trim()).toBe("api");
    expect(cli([...bot, "acl", "whoami"]).stdout.trim()).toBe("discord-bot");
    // The other app's password (or the old shared user's name) does not log in.
    expect(cli(["auth", "api", appPassword]).stdout.trim()).toBe("OK");
    expect(cli(["auth", "api", botPassword]).stdout).toMatch(/WRONGPASS/);
    expect(cli(["auth", "discord-bot", appPassword]).stdout).toMatch(/WRONGPASS/);
    expect(cli(["auth", "updateio", appPassword]).stdout).toMatch(/WRONGPASS/);
    for (const who of [api, bot])
      for (const command of [["config", "set", "maxmemory", "1mb"], ["flushall"], ["acl", "setuser", "evil", "on", ">x", "+@all"]])
        expect(cli([...who, ...command]).stdout, `${who[1]}: ${command.join(" ")}`).toMatch(/NOPERM/);
    // Key space shared on purpose (sessions, rate limits): what one app writes the other reads.
    expect(cli([...api, "set", "session:shared", "bob"]).stdout.trim()).toBe("OK");
    expect(cli([...bot, "get", "session:shared"]).stdout.trim()).toBe("bob");
    expect(cli([...api, "info", "memory"]).stdout).toMatch(/maxmemory:100663296/); // CONFIG SET did nothing
  });

  it("gives the healthcheck user PING and nothing else", () => {
    const hc = ["--user", "healthcheck", "--pass", healthPassword];
    expect(cli([...hc, "ping"]).stdout.trim()).toBe("PONG");
    expect(cli([...hc, "get", "session:1"]).stdout).toMatch(/NOPERM/);
  });

  it("lets the monitor user read what redis_exporter needs: INFO (maxmemory included), LATENCY, SLOWLOG LEN, CLIENT SETNAME", () => {
    const monitor = ["--user", MONITOR_USER, "--pass", monitorPassword];
    expect(cli([...monitor, "ping"]).stdout.trim()).toBe("PONG");
    const info = cli([...monitor, "info", "all"]).stdout;
    expect(info).toContain("redis_version");
    expect(info).toContain("# Keyspace");
    // redis_memory_max_bytes comes from this line, not from CONFIG GET: 75% of 128 MiB.
    expect(cli([...monitor, "info", "memory"]).stdout).toMatch(/^maxmemory:100663296\r?$/m);
    expect(cli([...monitor, "latency", "latest"]).stdout).not.toMatch(/NOPERM/);
    expect(cli([...monitor, "latency", "histogram"]).stdout).not.toMatch(/NOPERM/);
    expect(cli([...monitor, "slowlog", "len"]).stdout.trim()).toMatch(/^\d+$/);
    expect(cli([...monitor, "client", "setname", "redis_exporter"]).stdout.trim()).toBe("OK");
  });

  it("gives the monitor user no data and no control: no GET, FLUSHALL, CONFIG GET/SET, SLOWLOG GET", () => {
    const app = ["--user", "api", "--pass", appPassword];
    expect(cli([...app, "set", "session:monitor-probe", "secret"]).stdout.trim()).toBe("OK");
    const monitor = ["--user", MONITOR_USER, "--pass", monitorPassword];
    const refused: string[][] = [
      ["get", "session:monitor-probe"],
      ["scan", "0"],
      ["flushall"],
      ["config", "set", "maxmemory", "1"],
      // Refused on purpose: CONFIG GET would answer masterauth (the replication password) in clear.
      ["config", "get", "maxmemory"],
      ["config", "get", "masterauth"],
      // Refused on purpose: SLOWLOG GET replies with the arguments (keys, values) of slow commands.
      ["slowlog", "get", "1"],
      ["client", "list"],
      ["acl", "list"],
      ["shutdown"],
    ];
    for (const command of refused) {
      expect(cli([...monitor, ...command]).stdout, command.join(" ")).toMatch(/NOPERM/);
    }
    // Nothing changed: the key and the memory cap are still there.
    expect(cli([...app, "get", "session:monitor-probe"]).stdout.trim()).toBe("secret");
    expect(cli([...app, "info", "memory"]).stdout).toMatch(/maxmemory:100663296/);
    expect(cli([...monitor, "auth", MONITOR_USER, "wrong-password"]).stdout).toMatch(/WRONGPASS/);
  });

  it("runs with AOF on, the memory cap and noeviction", () => {
    const app = ["--user", "api", "--pass", appPassword];
    const info = cli([...app, "info", "persistence"]).stdout;
    expect(info).toMatch(/aof_enabled:1/);
    const memory = cli([...app, "info", "memory"]).stdout;
    expect(memory).toMatch(/maxmemory:100663296/); // 75% of 128 MiB
    expect(memory).toMatch(/maxmemory_policy:noeviction/);
  });

  it("keeps keys across a crash and restart (AOF, not the RDB snapshot)", async () => {
    const app = ["--user", "api", "--pass", appPassword];
    expect(cli([...app, "set", "ratelimit:ip:1", "7"]).stdout.trim()).toBe("OK");
    // appendfsync everysec: wait past one fsync, then kill without a shutdown save.
    await new Promise((r) => setTimeout(r, 1_200));
    await stop("SIGKILL");
    await start();
    expect(cli([...app, "get", "ratelimit:ip:1"]).stdout.trim()).toBe("7");
  }, 15_000);
});

// The "cache" role: the same ACL, but allkeys-lru and no persistence.
describeIfBinary(["redis-server", "redis-cli"], "RedisCache cache-role config on a real redis-server", () => {
  const dir = mkdtempSync(join(tmpdir(), "updateio-redis-cache-"));
  let port = 0;
  const appPassword = "AppPw0123456789abcdefABCDEF012345";
  let server: ChildProcess | undefined;
  const cli = (args: string[]) =>
    spawnSync("redis-cli", ["--no-auth-warning", "-h", "127.0.0.1", "-p", String(port), "--user", "api", "--pass", appPassword, ...args], {
      encoding: "utf8",
      timeout: 10_000,
    });

  beforeAll(async () => {
    port = await freePort();
    const acl = join(dir, "users_acl");
    writeFileSync(
      acl,
      renderRedisAcl({ apps: [{ user: "api", password: appPassword }], healthPassword: "HealthPw0123456789abcdefABCDEF01" }),
    );
    writeFileSync(
      join(dir, "redis.conf"),
      renderRedisConf({ memoryMb: 128, aclFile: acl, port, role: "cache" }).replace("dir /data", `dir ${dir}`),
    );
    server = spawn("redis-server", [join(dir, "redis.conf")], { stdio: "ignore" });
    for (let i = 0; i < 50; i++) {
      if (cli(["ping"]).stdout.includes("PONG")) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("redis-server did not answer PING within 5 s on the rendered cache config");
  });
  afterAll(async () => {
    const p = server;
    if (p && p.exitCode === null) {
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("evicts any key under memory pressure and persists nothing", () => {
    const memory = cli(["info", "memory"]).stdout;
    expect(memory).toMatch(/maxmemory_policy:allkeys-lru/);
    const persistence = cli(["info", "persistence"]).stdout;
    expect(persistence).toMatch(/aof_enabled:0/);
    expect(cli(["config", "get", "save"]).stdout).toMatch(/NOPERM/); // CONFIG stays forbidden for the app user
    expect(persistence).toMatch(/rdb_changes_since_last_save:/);
  });
});
