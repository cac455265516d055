import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  REPLICATION_USER,
  SENTINEL_USER,
  renderRedisAcl,
  renderRedisConf,
  renderRedisReplicationAuth,
} from "../../constructs/redis/renderers/redis";
import { renderSentinelConf } from "../../constructs/redis/renderers/redis-sentinel";
import { describeIfBinary } from "../support/binaries";
import { freePorts } from "../support/helpers";

// A master, a replica and three Sentinels (quorum 2) on Debian's redis-server/redis-sentinel, with
// the files exactly as rendered. Only ports, paths and hostnames differ from the containers: every
// node is "localhost" on its own loopback port, so hostname resolution and announcement are still
// exercised. down-after/failover-timeout are the construct's props (sentinelDownAfterMs,
// sentinelFailoverTimeoutMs; production defaults 5000/60000), shortened here to keep the test fast.
describeIfBinary(["redis-server", "redis-sentinel", "redis-cli"], "RedisCache replica and Sentinel failover on real servers", () => {
  const dir = mkdtempSync(join(tmpdir(), "updateio-redis-sentinel-"));
  const HOST = "localhost";
  const MASTER = "redis";
  const ports = { master: 0, replica: 0, sentinels: [0, 0, 0] };
  const pw = {
    app: "AppPw0123456789abcdefABCDEF012345",
    health: "HealthPw0123456789abcdefABCDEF01",
    replication: "ReplPw0123456789abcdefABCDEF0123",
    sentinel: "SentPw0123456789abcdefABCDEF0123",
    peer: "PeerPw0123456789abcdefABCDEF0123",
    client: "ClientPw0123456789abcdefABCDEF01",
  };
  const procs = new Map<string, ChildProcess>();
  const app = ["--user", "api", "--pass", pw.app];

  const cli = (port: number, args: string[]) =>
    spawnSync("redis-cli", ["--no-auth-warning", "-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8", timeout: 10_000 })
      .stdout ?? "";
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  async function until(what: string, check: () => boolean, timeoutMs = 15_000, stepMs = 100): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (check()) return;
      await sleep(stepMs);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
  }
  const run = (name: string, bin: string, conf: string) => {
    const log = openSync(join(dir, `${name}.log`), "a");
    procs.set(name, spawn(bin, [conf], { stdio: ["ignore", log, log] }));
    closeSync(log);
  };
  const stop = async (name: string) => {
    const p = procs.get(name);
    procs.delete(name);
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGKILL");
    await exited;
  };

  const acl = join(dir, "users_acl");
  const replicationConf = join(dir, "redis_replication_conf");
  function dataNode(name: string, port: number, replicaOf?: number): string {
    const data = join(dir, name);
    mkdirSync(data);
    const conf = renderRedisConf({
      memoryMb: 128,
      aclFile: acl,
      port,
      replication: {
        authFile: replicationConf,
        announceHostname: HOST,
        replicaOf: replicaOf ? { host: HOST, port: replicaOf } : undefined,
      },
    }).replace("dir /data", `dir ${data}`);
    const file = join(dir, `${name}.conf`);
    writeFileSync(file, conf);
    return file;
  }

  beforeAll(async () => {
    // Ports the kernel picks, so a stray server on a fixed port cannot answer for ours.
    const picked = await freePorts(5);
    ports.master = picked[0]!;
    ports.replica = picked[1]!;
    ports.sentinels = picked.slice(2);
    writeFileSync(
      acl,
      renderRedisAcl({
        apps: [{ user: "api", password: pw.app }],
        healthPassword: pw.health,
        replicationPassword: pw.replication,
        sentinelPassword: pw.sentinel,
      }),
    );
    writeFileSync(replicationConf, renderRedisReplicationAuth({ user: REPLICATION_USER, password: pw.replication }));
    run("master", "redis-server", dataNode("master", ports.master));
    await until("master answers PING", () => cli(ports.master, [...app, "ping"]).includes("PONG"));
    run("replica", "redis-server", dataNode("replica", ports.replica, ports.master));
    await until("replica linked to master", () => cli(ports.replica, [...app, "info", "replication"]).includes("master_link_status:up"));
    ports.sentinels.forEach((port, i) => {
      // As in the container: the rendered (read-only) file is copied to a writable dir, and Sentinel runs from the copy.
      const rendered = join(dir, `sentinel-${i + 1}.rendered.conf`);
      writeFileSync(
        rendered,
        renderSentinelConf({
          port,
          dir: join(dir, `sentinel-${i + 1}`),
          announceHostname: HOST,
          masterName: MASTER,
          masterHost: HOST,
          masterPort: ports.master,
          quorum: 2,
          downAfterMs: 1000,
          failoverTimeoutMs: 5000,
          authUser: SENTINEL_USER,
          authPassword: pw.sentinel,
          peerUser: "sentinel-peer",
          peerPassword: pw.peer,
          clientUser: "updateio",
          clientPassword: pw.client,
          healthPassword: pw.health,
        }),
      );
      mkdirSync(join(dir, `sentinel-${i + 1}`));
      const writable = join(dir, `sentinel-${i + 1}`, "sentinel.conf");
      copyFileSync(rendered, writable);
      run(`sentinel-${i + 1}`, "redis-sentinel", writable);
    });
    const sentinelView = (port: number) => cli(port, ["--user", "updateio", "--pass", pw.client, "sentinel", "master", MASTER]);
    await until(
      "every Sentinel sees the replica and the two other Sentinels",
      () =>
        ports.sentinels.every((p) => {
          const lines = sentinelView(p)
            .split("\n")
            .map((l) => l.trim());
          const value = (k: string) => lines[lines.indexOf(k) + 1];
          return value("num-slaves") === "1" && value("num-other-sentinels") === "2";
        }),
      20_000,
    );
  }, 40_000);

  afterAll(async () => {
    for (const name of [...procs.keys()]) await stop(name);
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses unauthenticated clients on data nodes and Sentinels", () => {
    expect(cli(ports.master, ["get", "k"])).toMatch(/NOAUTH/);
    expect(cli(ports.replica, ["get", "k"])).toMatch(/NOAUTH/);
    expect(cli(ports.sentinels[0]!, ["sentinel", "masters"])).toMatch(/NOAUTH/);
  });

  it("gives the replication and sentinel users no access to keys, and Sentinel clients discovery only", () => {
    expect(cli(ports.master, ["--user", REPLICATION_USER, "--pass", pw.replication, "get", "k"])).toMatch(/NOPERM/);
    expect(cli(ports.master, ["--user", SENTINEL_USER, "--pass", pw.sentinel, "get", "k"])).toMatch(/NOPERM/);
    expect(cli(ports.master, ["--user", SENTINEL_USER, "--pass", pw.sentinel, "flushall"])).toMatch(/NOPERM/);
    const client = ["--user", "updateio", "--pass", pw.client];
    expect(
      cli(ports.sentinels[0]!, [...client, "sentinel", "get-master-addr-by-name", MASTER])
        .trim()
        .split("\n"),
    ).toEqual([HOST, String(ports.master)]);
    expect(cli(ports.sentinels[0]!, [...client, "sentinel", "failover", MASTER])).toMatch(/NOPERM/);
    expect(cli(ports.sentinels[0]!, [...client, "sentinel", "set", MASTER, "quorum", "1"])).toMatch(/NOPERM/);
    expect(cli(ports.sentinels[0]!, ["--user", "healthcheck", "--pass", pw.health, "ping"]).trim()).toBe("PONG");
  });

  it("replicates writes to the replica (replication user), which refuses writes and the app user's FLUSHALL", async () => {
    expect(cli(ports.master, [...app, "set", "session:repl", "bob"]).trim()).toBe("OK");
    await until("the key reaches the replica", () => cli(ports.replica, [...app, "get", "session:repl"]).trim() === "bob", 5_000);
    expect(cli(ports.replica, [...app, "set", "x", "1"])).toMatch(/READONLY/);
    expect(cli(ports.master, [...app, "flushall"])).toMatch(/NOPERM/);
    expect(cli(ports.master, [...app, "config", "get", "maxmemory"])).toMatch(/NOPERM/);
    expect(cli(ports.master, [...app, "role"]).split("\n")[0]).toBe("master"); // Sentinel-aware clients verify the master with ROLE
    // The master lists the replica under its announced hostname, not an IP.
    expect(cli(ports.master, [...app, "info", "replication"])).toMatch(new RegExp(`slave0:ip=${HOST},port=${ports.replica},state=online`));
  });

  it("fails over to the replica when the master stops, and the app user writes to the new master", async () => {
    const started = Date.now();
    await stop("master");
    await until(
      "the replica reports role:master",
      () => cli(ports.replica, [...app, "info", "replication"]).includes("role:master"),
      30_000,
      50,
    );
    const failoverMs = Date.now() - started;
    console.log(
      `[redis-sentinel] failover: ${failoverMs} ms from stopping the master to the replica reporting role:master (down-after-milliseconds 1000)`,
    );
    expect(cli(ports.replica, [...app, "set", "session:after", "carol"]).trim()).toBe("OK");
    expect(cli(ports.replica, [...app, "get", "session:repl"]).trim()).toBe("bob");
    const client = ["--user", "updateio", "--pass", pw.client];
    await until(
      "every Sentinel names the new master",
      () =>
        ports.sentinels.every(
          (p) =>
            cli(p, [...client, "sentinel", "get-master-addr-by-name", MASTER])
              .trim()
              .split("\n")[1] === String(ports.replica),
        ),
      10_000,
    );
  }, 40_000);
});
