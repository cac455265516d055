import { describe, expect, it } from "vitest";
import { ACL_RELOAD_INPUT } from "../support/redis-inputs";
import {
  RESERVED_REDIS_USERS,
  renderAclReloadScript,
  renderRedisAcl,
  renderRedisConf,
  renderRedisReplicationAuth,
} from "../../constructs/redis/renderers/redis";
import { renderSentinelConf } from "../../constructs/redis/renderers/redis-sentinel";

function directives(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const [key, ...rest] = line.split(" ");
    map.set(key!, rest.join(" "));
  }
  return map;
}

describe("renderRedisConf", () => {
  const conf = renderRedisConf({ memoryMb: 512, aclFile: "/run/secrets/users_acl" });
  const d = directives(conf);

  it("caps maxmemory at 75% of the container and never evicts", () => {
    expect(d.get("maxmemory")).toBe("384mb");
    expect(d.get("maxmemory-policy")).toBe("noeviction");
    expect(directives(renderRedisConf({ memoryMb: 128, aclFile: "/a" })).get("maxmemory")).toBe("96mb");
    expect(directives(renderRedisConf({ memoryMb: 16, aclFile: "/a" })).get("maxmemory")).toBe("16mb");
  });

  it("loads users from the ACL file and keeps protected mode on", () => {
    expect(d.get("aclfile")).toBe("/run/secrets/users_acl");
    expect(d.get("protected-mode")).toBe("yes");
    expect(d.has("requirepass")).toBe(false);
  });

  it("persists to /data with AOF and snapshots", () => {
    expect(d.get("dir")).toBe("/data");
    expect(d.get("appendonly")).toBe("yes");
    expect(d.get("appendfsync")).toBe("everysec");
    expect(d.get("save")).toBe("3600 1 300 100 60 10000");
  });

  it("listens on 6379 by default or the given port, logging to stdout", () => {
    expect(d.get("port")).toBe("6379");
    expect(directives(renderRedisConf({ memoryMb: 512, aclFile: "/a", port: 6380 })).get("port")).toBe("6380");
    expect(d.get("logfile")).toBe('""');
  });

  it("declares each directive once and ends with a newline", () => {
    const keys = conf
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => l.split(" ")[0]);
    expect(new Set(keys).size).toBe(keys.length);
    expect(conf.endsWith("\n")).toBe(true);
  });
});

describe("renderRedisConf roles and replication", () => {
  it("cache role: allkeys-lru and no persistence; state (default) stays noeviction with AOF", () => {
    const cache = directives(renderRedisConf({ memoryMb: 128, aclFile: "/a", role: "cache" }));
    expect(cache.get("maxmemory-policy")).toBe("allkeys-lru");
    expect(cache.get("appendonly")).toBe("no");
    expect(cache.get("save")).toBe('""');
    expect(cache.has("appendfsync")).toBe(false);
    expect(renderRedisConf({ memoryMb: 128, aclFile: "/a", role: "state" })).toBe(renderRedisConf({ memoryMb: 128, aclFile: "/a" }));
  });

  it("replication: includes the credentials file, announces the hostname, replicaof only on replicas", () => {
    const replica = directives(
      renderRedisConf({
        memoryMb: 128,
        aclFile: "/a",
        replication: { authFile: "/run/secrets/r", announceHostname: "redis-replica-1", replicaOf: { host: "redis", port: 6379 } },
      }),
    );
    expect(replica.get("include")).toBe("/run/secrets/r");
    expect(replica.get("replica-announce-ip")).toBe("redis-replica-1");
    expect(replica.get("replicaof")).toBe("redis 6379");
    const master = directives(
      renderRedisConf({ memoryMb: 128, aclFile: "/a", replication: { authFile: "/run/secrets/r", announceHostname: "redis" } }),
    );
    expect(master.get("replica-announce-ip")).toBe("redis");
    expect(master.has("replicaof")).toBe(false);
    expect(master.has("masterauth")).toBe(false);
    expect(renderRedisReplicationAuth({ user: "replication", password: "${p}" })).toBe("masteruser replication\nmasterauth ${p}\n");
  });
});

describe("renderRedisAcl", () => {
  const acl = renderRedisAcl({
    apps: [
      { user: "api", password: "${random_password.api.result}" },
      { user: "discord-bot", password: "${random_password.bot.result}" },
    ],
    healthPassword: "${random_password.hc.result}",
  });
  const lines = acl.trimEnd().split("\n");

  it("turns the default user off", () => {
    expect(lines[0]).toBe("user default off");
  });

  it("gives each app its own user and password, with every key and channel but no admin or destructive command", () => {
    expect(lines.slice(1, 3)).toEqual([
      "user api on >${random_password.api.result} ~* &* +@all -@admin -flushall -flushdb -swapdb -debug -migrate -restore",
      "user discord-bot on >${random_password.bot.result} ~* &* +@all -@admin -flushall -flushdb -swapdb -debug -migrate -restore",
    ]);
    expect(acl).not.toContain("updateio");
  });

  it("lets the healthcheck user run PING and nothing else", () => {
    expect(lines).toContain("user healthcheck on >${random_password.hc.result} -@all +ping");
  });

  it("has exactly the default, the two apps and the healthcheck user, and a trailing newline", () => {
    expect(lines).toHaveLength(4);
    expect(acl.endsWith("\n")).toBe(true);
  });

  it("renders no app user when there is no app", () => {
    expect(renderRedisAcl({ apps: [], healthPassword: "${h}" })).toBe("user default off\nuser healthcheck on >${h} -@all +ping\n");
  });

  it("refuses app names that are not one ACL token, reserved names and duplicates, naming the key", () => {
    const render =
      (user: string, password = "${p}") =>
      () =>
        renderRedisAcl({ apps: [{ user, password }], healthPassword: "${h}" });
    for (const hostile of [
      "api${var.x}",
      "api%{if true}",
      'api"',
      "api'",
      "api\nuser evil on nopass +@all",
      "api evil",
      ">api",
      "api>pw",
      "~api",
      "Api",
      "",
      "a".repeat(42),
    ])
      expect(render(hostile), JSON.stringify(hostile)).toThrow(/apps\.0\.user: .* must be an app service name/);
    for (const reserved of [
      "default",
      "healthcheck",
      "replication",
      "sentinel",
      "sentinel-peer",
      "sentinel-client",
      "monitor",
      "backup",
      "acl-reload",
      "updateio",
    ]) {
      expect(RESERVED_REDIS_USERS).toContain(reserved);
      expect(render(reserved), reserved).toThrow(new RegExp(`apps\\.0\\.user: "${reserved}" is a built-in Redis user`));
    }
    expect(() =>
      renderRedisAcl({
        apps: [
          { user: "api", password: "${a}" },
          { user: "api", password: "${b}" },
        ],
        healthPassword: "${h}",
      }),
    ).toThrow(/apps\.1\.user: "api" is listed twice/);
    // A space or newline in the password would end the rule and start another (or another user).
    for (const password of ["${p} +@admin", "${p}\nuser evil on nopass +@all", ""])
      expect(render("api", password), JSON.stringify(password)).toThrow(/apps\.0\.password: must be one token/);
  });
});

describe("renderRedisAcl hashed (the file RedisCache writes: no password in it)", () => {
  const hex = (c: string) => c.repeat(64);
  const TOKEN = "${TfToken[TOKEN.42]}";

  it("writes every user's SHA-256 as #<hash>, the reload user included", () => {
    const acl = renderRedisAcl({
      hashed: true,
      apps: [{ user: "api", password: hex("a") }],
      healthPassword: TOKEN,
      replicationPassword: hex("b"),
      sentinelPassword: hex("c"),
      monitorPassword: hex("d"),
      backupPassword: hex("e"),
      reloadPassword: hex("f"),
    });
    expect(acl).toContain(`user api on #${hex("a")} ~* `);
    expect(acl).toContain(`user healthcheck on #${TOKEN} -@all +ping\n`);
    expect(acl).toContain(`user replication on #${hex("b")} `);
    expect(acl).toContain(`user sentinel on #${hex("c")} `);
    expect(acl).toContain(`user monitor on #${hex("d")} `);
    expect(acl).toContain(`user backup on #${hex("e")} `);
    expect(acl).toContain(`user acl-reload on #${hex("f")} resetkeys resetchannels -@all +acl|load +acl|users +ping\n`);
    expect(acl).not.toContain(">");
  });

  it("refuses a value that is not a SHA-256 or a token (a password passed by mistake), naming the key", () => {
    const render = (over: object) => () =>
      renderRedisAcl({ hashed: true, apps: [{ user: "api", password: hex("a") }], healthPassword: hex("b"), ...over });
    expect(render({ healthPassword: "HealthPw0123456789abcdefABCDEF01" })).toThrow(/healthPassword: with hashed, must be a SHA-256/);
    expect(render({ apps: [{ user: "api", password: hex("A") }] })).toThrow(/apps\.0\.password: with hashed/);
    expect(render({ reloadPassword: `${hex("c")}\nuser evil on nopass +@all` })).toThrow(/reloadPassword: with hashed/);
    expect(render({ monitorPassword: "${var.x}" })).toThrow(/monitorPassword: with hashed/);
  });
});

describe("renderAclReloadScript", () => {
  const input = ACL_RELOAD_INPUT;

  it("fills in the hosts, port, user, files and wait", () => {
    const script = renderAclReloadScript(input);
    expect(script).toContain(': "${HOSTS:=redis redis-replica-1}"');
    expect(script).toContain(': "${ACL_USER:=acl-reload}"');
    expect(script).toContain(': "${WAIT_SECONDS:=120}"');
    expect(script).not.toContain("@@");
  });

  it("refuses hosts, paths and numbers that would change the script, naming each key", () => {
    expect(() =>
      renderAclReloadScript({
        ...input,
        hosts: ["redis; rm -rf /", "$(id)"],
        port: 0,
        liveFile: "relative/users.acl",
        expectedFile: "/x y",
        passwordFile: '/run/"x',
        waitSeconds: 0,
      }),
    ).toThrow(
      /hosts: "redis; rm -rf \/" must be a DNS name[\s\S]*hosts: "\$\(id\)"[\s\S]*port: 0 [\s\S]*liveFile: [\s\S]*expectedFile: [\s\S]*passwordFile: [\s\S]*waitSeconds: 0/,
    );
    expect(() => renderAclReloadScript({ ...input, hosts: [] })).toThrow(/hosts: is empty/);
  });
});

describe("renderRedisAcl with replication and Sentinel", () => {
  const lines = renderRedisAcl({
    apps: [{ user: "api", password: "${a}" }],
    healthPassword: "${h}",
    replicationPassword: "${r}",
    sentinelPassword: "${s}",
  })
    .trimEnd()
    .split("\n");

  it("adds a replication user with PSYNC, REPLCONF and PING only", () => {
    expect(lines).toContain("user replication on >${r} -@all +psync +replconf +ping");
  });

  it("adds a sentinel user with exactly the commands of the Redis docs and all channels, no keys", () => {
    expect(lines).toContain(
      "user sentinel on >${s} &* -@all +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info +client|setname +client|kill +script|kill",
    );
    expect(lines).toHaveLength(5);
    // Sentinel-aware clients check the master with ROLE: added back for the app users only then.
    expect(lines.find((l) => l.startsWith("user api "))).toContain(" -@admin +role -flushall ");
  });
});

describe("renderSentinelConf", () => {
  const conf = renderSentinelConf({
    dir: "/sentinel",
    announceHostname: "redis-sentinel-2",
    masterName: "redis",
    masterHost: "redis",
    masterPort: 6379,
    quorum: 2,
    downAfterMs: 5000,
    failoverTimeoutMs: 60000,
    authUser: "sentinel",
    authPassword: "${s}",
    peerUser: "sentinel-peer",
    peerPassword: "${p}",
    clientUser: "updateio",
    clientPassword: "${c}",
    healthPassword: "${h}",
  });
  const lines = conf.trimEnd().split("\n");

  it("resolves and announces hostnames, before the monitor line", () => {
    const idx = (l: string) => lines.indexOf(l);
    expect(idx("sentinel resolve-hostnames yes")).toBeGreaterThan(0);
    expect(idx("sentinel announce-hostnames yes")).toBeGreaterThan(0);
    expect(idx("sentinel announce-ip redis-sentinel-2")).toBeGreaterThan(0);
    expect(idx("sentinel resolve-hostnames yes")).toBeLessThan(idx("sentinel monitor redis redis 6379 2"));
  });

  it("authenticates to the data nodes as the sentinel user and to its peers as the peer user", () => {
    expect(lines).toContain("sentinel auth-user redis sentinel");
    expect(lines).toContain("sentinel auth-pass redis ${s}");
    expect(lines).toContain("sentinel sentinel-user sentinel-peer");
    expect(lines).toContain("sentinel sentinel-pass ${p}");
  });

  it("turns its default user off and gives clients discovery only", () => {
    expect(lines).toContain("user default off");
    const client = lines.find((l) => l.startsWith("user updateio "))!;
    expect(client).toContain("+sentinel|get-master-addr-by-name");
    expect(client).not.toMatch(/\+@all|\+sentinel(\s|$)|failover|\+sentinel\|set/);
  });

  it("takes the timings and runs from the writable dir on 26379", () => {
    expect(lines).toContain("sentinel down-after-milliseconds redis 5000");
    expect(lines).toContain("sentinel failover-timeout redis 60000");
    expect(lines).toContain("port 26379");
    expect(lines).toContain("dir /sentinel");
    expect(conf.endsWith("\n")).toBe(true);
  });
});
