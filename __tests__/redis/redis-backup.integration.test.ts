import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { renderRedisAcl, renderRedisConf } from "../../constructs/redis/renderers/redis";
import { REDIS_BACKUP_USER, renderRedisBackupAclLine } from "../../constructs/redis/renderers/redis-backup";
import { describeIfBinary } from "../support/binaries";
import { freePort } from "../support/helpers";
import { buildStoreBackups } from "../support/store-backups";
import { redisKeysInput } from "../support/store-fixtures";
import { writeSigningKey } from "../support/snapshot-signing";

// The scripts RedisBackup renders, run with sh against Debian's redis-server on loopback, on the
// config RedisCache renders plus the backup ACL line: write keys, back up, wipe, restore, count.
describeIfBinary(
  ["redis-server", "redis-cli", "redis-check-rdb", "sh"],
  "RedisBackup on a real redis-server: backup, wipe, restore",
  () => {
    const dir = mkdtempSync(join(tmpdir(), "updateio-redis-backup-"));
    const data = join(dir, "data");
    const backups = join(dir, "backups");
    const scripts = join(dir, "scripts");
    const appPassword = "AppPw0123456789abcdefABCDEF012345";
    const healthPassword = "HealthPw0123456789abcdefABCDEF01";
    const backupPassword = "BackupPw0123456789abcdefABCDEF01";
    const N = 2000;
    let port = 0;
    let server: ChildProcess | undefined;
    const built = buildStoreBackups("prod");
    const rb = built.redisBackup;

    const cli = (args: string[], user = "api", pass = appPassword) =>
      spawnSync("redis-cli", ["--no-auth-warning", "-h", "127.0.0.1", "-p", String(port), "--user", user, "--pass", pass, ...args], {
        encoding: "utf8",
        timeout: 20_000,
      });
    const start = async () => {
      server = spawn("redis-server", [join(dir, "redis.conf")], { stdio: "ignore" });
      for (let i = 0; i < 100; i++) {
        if (cli(["ping"], "healthcheck", healthPassword).stdout.includes("PONG")) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error("redis-server did not answer PING within 5 s");
    };
    const stop = async () => {
      const p = server;
      server = undefined;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      await exited;
    };
    const env = {
      ...process.env,
      BACKUP_ROOT: backups,
      BACKUP_HOOKS: join(scripts, "hooks.sh"),
      REDIS_HOSTS: "127.0.0.1",
      REDIS_PORT: "",
      REDIS_PASSWORD_FILE: join(dir, "redis_backup_password"),
      BACKUP_SIGNING_KEY_FILE: join(dir, "backup_signing_key"),
      TMPDIR: dir,
    };
    const sh = (script: string, args: string[]) =>
      spawnSync("sh", [join(scripts, script), ...args], { env: { ...env, REDIS_PORT: String(port) }, encoding: "utf8", timeout: 60_000 });

    beforeAll(async () => {
      mkdirSync(data);
      mkdirSync(scripts);
      port = await freePort();
      writeSigningKey(dir);
      writeFileSync(join(scripts, "backup.sh"), rb.backup.script);
      writeFileSync(join(scripts, "hooks.sh"), rb.hooks);
      writeFileSync(join(scripts, "restore.sh"), rb.restoreScript);
      writeFileSync(join(dir, "redis_backup_password"), backupPassword);
      const acl = join(dir, "users_acl");
      // RedisCache's ACL file plus the line the wiring recipe adds (renderRedisBackupAclLine).
      writeFileSync(
        acl,
        renderRedisAcl({ apps: [{ user: "api", password: appPassword }], healthPassword }) +
          renderRedisBackupAclLine(backupPassword) +
          "\n",
      );
      writeFileSync(join(dir, "redis.conf"), renderRedisConf({ memoryMb: 256, aclFile: acl, port }).replace("dir /data", `dir ${data}`));
      await start();
    });
    afterAll(async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it("the backup user can take a snapshot but read no key and change nothing", () => {
      expect(cli(["set", "probe", "v"]).stdout.trim()).toBe("OK");
      for (const command of [["get", "probe"], ["set", "x", "1"], ["flushall"], ["config", "get", "dir"], ["keys", "*"]]) {
        expect(cli(command, REDIS_BACKUP_USER, backupPassword).stdout, command.join(" ")).toMatch(/NOPERM/);
      }
      expect(cli(["del", "probe"]).stdout.trim()).toBe("1");
    });

    it(`writes ${N} keys (strings, hashes, sets, keys with TTL), backs up, wipes, restores: every key comes back`, async () => {
      // Keys in pipelined batches: sessions (hash + TTL), rate-limit counters (string), sets.
      const pipe = spawnSync("redis-cli", ["--no-auth-warning", "-p", String(port), "--user", "api", "--pass", appPassword], {
        input: redisKeysInput(N),
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      });
      expect(pipe.status).toBe(0);
      expect(Number(cli(["dbsize"]).stdout.trim())).toBe(N);

      const run = sh("backup.sh", ["once"]);
      expect(run.status, run.stderr).toBe(0);
      const status = readFileSync(join(backups, "backup-status"), "utf8");
      expect(status).toMatch(/^last_result=ok$/m);
      expect(status).toContain(`last_items=keys=${N} source=127.0.0.1`);
      const snapshots = readdirSync(join(backups, "snapshots")).sort();
      // The snapshot and its signature.
      expect(snapshots).toHaveLength(2);
      expect(snapshots[0]).toMatch(/^redis-\d{8}T\d{6}Z\.rdb$/);
      expect(snapshots[1]).toBe(`${snapshots[0]}.hmac`);
      const metrics = readFileSync(join(backups, "metrics", "redis_backup.prom"), "utf8");
      expect(metrics).toMatch(/^updateio_backup_last_run_success\{store="redis"\} 1$/m);
      expect(metrics).toMatch(/^updateio_backup_last_success_timestamp_seconds\{store="redis"\} \d{10}$/m);
      expect(sh("backup.sh", ["health"]).status).toBe(0);

      // Disaster: the node is stopped and its data is gone.
      await stop();
      rmSync(data, { recursive: true, force: true });
      mkdirSync(data);
      await start();
      expect(Number(cli(["dbsize"]).stdout.trim())).toBe(0);
      await stop();

      // Runbook: node stopped, restore.sh latest <data dir>, start the node.
      const t0 = performance.now();
      const restore = sh("restore.sh", ["latest", data]);
      expect(restore.status, restore.stderr).toBe(0);
      await start();
      const restoreMs = Math.round(performance.now() - t0);
      const restored = Number(cli(["dbsize"]).stdout.trim());
      expect(restored).toBe(N);
      expect(cli(["hget", "session:0", "user"]).stdout.trim()).toBe("u0");
      expect(Number(cli(["ttl", "session:0"]).stdout.trim())).toBeGreaterThan(80_000);
      expect(cli(["get", `plain:${N - 1}`]).stdout.trim()).toBe(`value-${N - 1}`);
      // AOF is on after the restore and survives another restart with the same keys.
      expect(cli(["info", "persistence"]).stdout).toMatch(/aof_enabled:1/);
      expect(cli(["set", "after-restore", "1"]).stdout.trim()).toBe("OK");
      await stop();
      await start();
      expect(Number(cli(["dbsize"]).stdout.trim())).toBe(N + 1);
      expect(existsSync(join(data, "appendonlydir"))).toBe(true);
      console.info(`[figures] redis: ${N} keys written, ${restored} restored; restore (script + start) ${restoreMs} ms`);
    }, 120_000);

    it("installing dump.rdb alone would NOT restore a node with appendonly yes (why restore.sh builds the AOF)", async () => {
      await stop();
      const snap = readdirSync(join(backups, "snapshots")).find((f) => f.endsWith(".rdb"))!;
      rmSync(data, { recursive: true, force: true });
      mkdirSync(data);
      writeFileSync(join(data, "dump.rdb"), readFileSync(join(backups, "snapshots", snap)));
      await start();
      expect(Number(cli(["dbsize"]).stdout.trim())).toBe(0);
    }, 60_000);
  },
);
