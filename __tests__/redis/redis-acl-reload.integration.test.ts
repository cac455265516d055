/**
 * RedisCache's ACL file as rendered with hashed passwords (`#<sha256>`, what the stack writes with
 * Terraform's sha256()), and its acl-reload.sh as rendered, on two real redis-servers on loopback
 * (127.0.0.1 and 127.0.0.2, one port: the script reaches every node on the same port). An app added
 * to the file reaches both running nodes through ACL LOAD; a file the seed did not upload, a file
 * Redis refuses and a node that does not answer each fail the job and leave the nodes' users as
 * they were.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { renderAclReloadScript, renderRedisAcl, renderRedisConf } from "../../constructs/redis/renderers/redis";
import { describeIfBinary } from "../support/binaries";
import { freePort } from "../support/helpers";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const HOSTS = ["127.0.0.1", "127.0.0.2"];
const PASSWORDS = {
  api: "ApiPw0123456789abcdefABCDEF012345",
  bot: "BotPw0123456789abcdefABCDEF012345",
  health: "HealthPw0123456789abcdefABCDEF01",
  reload: "ReloadPw0123456789abcdefABCDEF01",
};

describeIfBinary(["redis-server", "redis-cli", "sh"], "RedisCache ACL reload on real redis-servers", () => {
  const dir = mkdtempSync(join(tmpdir(), "updateio-redis-acl-"));
  const live = join(dir, "live", "users.acl");
  const expected = join(dir, "job", "expected.acl");
  const passwordFile = join(dir, "job", "password");
  const script = join(dir, "job", "acl-reload.sh");
  let port = 0;
  const servers: ChildProcess[] = [];

  const aclFor = (apps: (keyof typeof PASSWORDS)[]) =>
    renderRedisAcl({
      hashed: true,
      apps: apps.map((a) => ({ user: a === "bot" ? "discord-bot" : a, password: sha256(PASSWORDS[a]) })),
      healthPassword: sha256(PASSWORDS.health),
      reloadPassword: sha256(PASSWORDS.reload),
    });
  /** The reply, with a refused login's error (which redis-cli prints on stderr) in front. */
  const cli = (host: string, user: string, password: string, ...args: string[]) => {
    const r = spawnSync("redis-cli", ["--no-auth-warning", "-h", host, "-p", String(port), "--user", user, "--pass", password, ...args], {
      encoding: "utf8",
      timeout: 10_000,
    });
    return `${r.stderr}${r.stdout}`.trim();
  };
  const reload = (env: Record<string, string> = {}) =>
    spawnSync("sh", [script], { encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env } });
  /** The file the seed uploads, and the job's own copy of it. */
  const publish = (text: string) => {
    writeFileSync(live, text);
    writeFileSync(expected, text);
  };

  beforeAll(async () => {
    port = await freePort();
    mkdirSync(join(dir, "live"));
    mkdirSync(join(dir, "job"));
    publish(aclFor(["api"]));
    writeFileSync(passwordFile, PASSWORDS.reload);
    writeFileSync(
      script,
      renderAclReloadScript({ hosts: HOSTS, port, liveFile: live, expectedFile: expected, passwordFile, waitSeconds: 10 }),
    );
    for (const [i, host] of HOSTS.entries()) {
      const data = join(dir, `node-${i}`);
      mkdirSync(data);
      const conf = renderRedisConf({ memoryMb: 64, aclFile: live, port })
        .replace("dir /data", `dir ${data}`)
        .replace(/^bind .*$/m, `bind ${host}`);
      writeFileSync(join(data, "redis.conf"), conf.includes(`bind ${host}`) ? conf : `${conf}bind ${host}\n`);
      servers.push(spawn("redis-server", [join(data, "redis.conf")], { stdio: "ignore" }));
    }
    for (const host of HOSTS)
      for (let i = 0; cli(host, "healthcheck", PASSWORDS.health, "ping") !== "PONG"; i++) {
        if (i > 50) throw new Error(`redis-server on ${host}:${port} did not answer within 5 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
  });
  afterAll(() => {
    for (const s of servers) s.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("a hashed file logs in with the passwords whose SHA-256 it holds, and nothing else", () => {
    for (const host of HOSTS) {
      expect(cli(host, "api", PASSWORDS.api, "set", "k", "v")).toBe("OK");
      expect(cli(host, "api", sha256(PASSWORDS.api), "ping")).toMatch(/WRONGPASS/);
      // The reload user loads and lists, nothing else.
      expect(cli(host, "acl-reload", PASSWORDS.reload, "get", "k")).toMatch(/NOPERM/);
      expect(cli(host, "acl-reload", PASSWORDS.reload, "config", "get", "maxmemory")).toMatch(/NOPERM/);
    }
  });

  it("an app added to the file can log in on every running node after the job, and the others still can", () => {
    expect(cli(HOSTS[1]!, "discord-bot", PASSWORDS.bot, "ping")).toMatch(/WRONGPASS/);
    publish(aclFor(["api", "bot"]));
    const r = reload();
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    for (const host of HOSTS) {
      expect(r.stdout).toContain(`${host}:${port} loaded ${live}: users acl-reload api default discord-bot healthcheck`);
      expect(cli(host, "discord-bot", PASSWORDS.bot, "ping")).toBe("PONG");
      expect(cli(host, "api", PASSWORDS.api, "get", "k")).toBe("v");
    }
  });

  it("refuses a live file that is not the one the job was made for, and loads nothing", () => {
    writeFileSync(live, aclFor(["api"])); // the seed has not uploaded the new file yet
    const r = reload();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("differs from the ACL file this job expects");
    for (const host of HOSTS) expect(cli(host, "discord-bot", PASSWORDS.bot, "ping")).toBe("PONG");
    publish(aclFor(["api", "bot"]));
  });

  it("fails on a file Redis refuses, and every node keeps the users it had", () => {
    publish(`${aclFor(["api"])}user broken on >x +nosuchcommand\n`);
    const r = reload();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/ACL LOAD on 127\.0\.0\.1:\d+: .*(Error|ERR).*\(the node keeps its previous users\)/);
    for (const host of HOSTS) expect(cli(host, "discord-bot", PASSWORDS.bot, "ping")).toBe("PONG");
    publish(aclFor(["api", "bot"]));
  });

  it("fails, naming the node, when a node does not accept the reload user", () => {
    copyFileSync(passwordFile, `${passwordFile}.good`);
    writeFileSync(passwordFile, "not-the-password");
    const r = reload({ WAIT_SECONDS: "2" });
    copyFileSync(`${passwordFile}.good`, passwordFile);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/127\.0\.0\.1:\d+ does not answer PING as acl-reload after 2s: .*WRONGPASS/);
  });
});
