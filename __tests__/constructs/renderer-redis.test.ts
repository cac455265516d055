import { describe, expect, it } from "vitest";
import { renderRedisAcl, renderRedisConf } from "../../constructs/renderers/redis";

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
    const keys = conf.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(" ")[0]);
    expect(new Set(keys).size).toBe(keys.length);
    expect(conf.endsWith("\n")).toBe(true);
  });
});

describe("renderRedisAcl", () => {
  const acl = renderRedisAcl({ appUser: "updateio", appPassword: "${random_password.app.result}", healthPassword: "${random_password.hc.result}" });
  const lines = acl.trimEnd().split("\n");

  it("turns the default user off", () => {
    expect(lines[0]).toBe("user default off");
  });

  it("gives the app user every key and channel but no admin or destructive command", () => {
    const app = lines.find((l) => l.startsWith("user updateio "))!;
    expect(app).toBe("user updateio on >${random_password.app.result} ~* &* +@all -@admin -flushall -flushdb -swapdb -debug -migrate -restore");
  });

  it("lets the healthcheck user run PING and nothing else", () => {
    expect(lines).toContain("user healthcheck on >${random_password.hc.result} -@all +ping");
  });

  it("has exactly three users and a trailing newline", () => {
    expect(lines).toHaveLength(3);
    expect(acl.endsWith("\n")).toBe(true);
  });
});
