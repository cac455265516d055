import { describe, expect, it } from "vitest";
import { ValidationError } from "../../constructs/contract/errors";
import {
  latestSnapshot,
  renderScheduledBackupScript,
  restoreArgs,
  scheduledBackupProblems,
} from "../../constructs/kit/scheduled-backup-script";
import { REDIS_BACKUP_ACL, renderRedisBackupAclLine } from "../../constructs/redis/renderers/redis-backup";
import { errorOf } from "../support/helpers";
import { buildStoreBackups } from "../support/store-backups";

type Json = Record<string, any>;
const networkNames = (json: Json) =>
  Object.fromEntries(
    Object.entries(json.resource.docker_network as Record<string, Json>).map(([id, n]) => [`\${docker_network.${id}.name}`, n]),
  );

describe("store backups: synthesized containers are hardened", () => {
  const b = buildStoreBackups("prod", { offsite: { endpoint: "https://s3.example.com", bucket: "updateio-backups" } });
  const nets = networkNames(b.json);
  const cases: [string, string][] = [
    ["redis-backup", "redis"],
    ["rabbitmq-backup", "rabbitmq"],
    ["grafana-backup", "472:0"],
    ["edge-backup", "0:0"],
  ];
  for (const [name, user] of cases) {
    it(`${name}: read-only rootfs, cap_drop ALL, no-new-privileges, memory limit, internal network only, user ${user}`, () => {
      const c = b.container(name)!;
      expect(c, name).toBeDefined();
      expect(c.read_only).toBe(true);
      expect(c.capabilities).toEqual({ drop: ["ALL"] });
      expect(c.security_opts).toEqual(["no-new-privileges:true"]);
      expect(c.privileged).toBe(false);
      expect(c.memory).toBeGreaterThanOrEqual(64);
      expect(c.memory_swap).toBe(c.memory);
      expect(c.user).toBe(user);
      expect(c.ports).toEqual([]);
      expect(c.networks_advanced).toHaveLength(1);
      expect(nets[c.networks_advanced[0].name]?.internal).toBe(true);
      expect(c.healthcheck.test).toEqual(["CMD", "sh", `/etc/${name}/backup.sh`, "health"]);
      expect(c.entrypoint).toEqual(["sh", `/etc/${name}/backup.sh`]);
    });
  }

  it("mounts the store's data read-only (Grafana, edge) and its own backups volume read-write", () => {
    const g = b.container("grafana-backup")!;
    expect(g.volumes.find((v: Json) => v.container_path === "/grafana-data").read_only).toBe(true);
    expect(g.volumes.find((v: Json) => v.container_path === "/var/tmp").read_only).toBe(false);
    const e = b.container("edge-backup")!;
    expect(e.volumes.find((v: Json) => v.container_path === "/caddy-data").read_only).toBe(true);
    const volumes = Object.values(b.json.resource.docker_volume as Record<string, Json>).map((v) => v.name);
    for (const s of ["redis", "rabbitmq", "grafana", "edge"]) expect(volumes).toContain(`prod-${s}-backups`);
  });

  it("the edge backup is the only root one, and says why (policy suppression with a reason)", () => {
    const roots = b.containers.filter((c) => /-backup$/.test(c.name) && /^(0|root)(:|$)/.test(c.user)).map((c) => c.name);
    expect(roots).toEqual(["prod-edge-backup"]);
  });

  it("off-host copies leave on the egress network only, with credentials as secret files", () => {
    const o = b.container("redis-offsite")!;
    expect(nets[o.networks_advanced[0].name]?.internal).toBe(false);
    expect(o.read_only).toBe(true);
    expect(o.capabilities).toEqual({ drop: ["ALL"] });
    expect(JSON.stringify(o.env)).not.toMatch(/AKIDEXAMPLE|secret/);
    expect(b.redisBackup.backup.offsiteScript).toContain(":s3:$OFFSITE_BUCKET/$OFFSITE_PREFIX");
    expect(b.redisBackup.backup.offsiteScript).toContain("OFFSITE_PREFIX:=prod/redis");
  });

  it("writes metrics named like PostgresBackup's, told apart by a store label", () => {
    for (const s of [b.redisBackup, b.rabbitBackup, b.grafanaBackup, b.edgeBackup]) {
      const store = s.backup.containerName.replace(/^prod-|-backup$/g, "");
      expect(s.backup.script).toContain(`updateio_backup_last_success_timestamp_seconds{store=\\"${store}\\"}`);
      expect(s.backup.script).toContain(`updateio_backup_last_run_success{store=\\"${store}\\"}`);
    }
  });

  it("defaults: Redis hourly x48, RabbitMQ 6-hourly x28, Grafana and edge daily x14", () => {
    expect([b.redisBackup.backup.intervalSeconds, b.redisBackup.backup.keep]).toEqual([3600, 48]);
    expect([b.rabbitBackup.backup.intervalSeconds, b.rabbitBackup.backup.keep]).toEqual([21600, 28]);
    expect([b.grafanaBackup.backup.intervalSeconds, b.grafanaBackup.backup.keep]).toEqual([86400, 14]);
    expect([b.edgeBackup.backup.intervalSeconds, b.edgeBackup.backup.keep]).toEqual([86400, 14]);
  });

  it("tries Redis replicas before the master, and every RabbitMQ node", () => {
    const c = buildStoreBackups("prod", { replicas: 2, clusterSize: 3 });
    expect(c.redisBackup.hooks).toContain('REDIS_HOSTS:=redis-replica-1 redis-replica-2 redis}"');
    expect(c.rabbitBackup.hooks).toContain('RABBITMQ_NODES:=rabbit@rabbitmq-1 rabbit@rabbitmq-2 rabbit@rabbitmq-3}"');
  });
});

describe("store backups: props are validated, each error naming the prop and the fix", () => {
  it("schedule and retention", () => {
    const e = errorOf(() => buildStoreBackups("dev", { redis: { schedule: { everyMinutes: 7, at: "25:00" }, keep: 0 } }));
    expect(e).toMatch(/schedule\.everyMinutes: 7 must be a whole number of minutes from 15 to 10080 \(fix: /);
    expect(e).toMatch(/schedule\.at: "25:00" must be "HH:MM" \(24 h, UTC\) \(fix: /);
    expect(e).toMatch(/keep: 0 must be a whole number of snapshots from 1 to 1000 \(fix: /);
  });

  it("an interval that does not divide a day, and an offset not shorter than the interval", () => {
    expect(errorOf(() => buildStoreBackups("dev", { rabbit: { schedule: { everyMinutes: 50 } } }))).toMatch(
      /schedule\.everyMinutes: 50 does not divide a day.*\(fix: use 15, 30, 60/,
    );
    expect(errorOf(() => buildStoreBackups("dev", { redis: { schedule: { everyMinutes: 60, at: "02:00" } } }))).toMatch(
      /schedule\.at: "02:00" is not shorter than everyMinutes \(60\) \(fix: /,
    );
  });

  it("every problem at once, as one ValidationError", () => {
    try {
      buildStoreBackups("dev", { grafana: { schedule: { everyMinutes: 0 }, keep: 5000, memoryMb: 8 } });
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).problems.length).toBeGreaterThanOrEqual(3);
    }
  });

  it("bad off-host settings, each named", () => {
    const e = errorOf(() => buildStoreBackups("dev", { offsite: { endpoint: "ftp://x", bucket: "B", prefix: "/abs" } }));
    expect(e).toMatch(/offsite\.endpoint: "ftp:\/\/x" must be an http\(s\) URL/);
    expect(e).toMatch(/offsite\.bucket: "B" must be an S3 bucket name/);
    expect(e).toMatch(/offsite\.prefix: "\/abs" must be path segments/);
  });

  it('refuses values that could escape into Terraform or shell ("${", quotes, spaces)', () => {
    const base = { store: "redis", suffix: ".rdb", backupRoot: "/data", hooks: "", schedule: { everyMinutes: 60, at: "00:05" }, keep: 2 };
    expect(scheduledBackupProblems({ ...base, store: "re${x}dis" }).join()).toMatch(/^store: /);
    expect(scheduledBackupProblems({ ...base, suffix: '.rdb"; rm -rf /' }).join()).toMatch(/suffix: /);
    expect(scheduledBackupProblems({ ...base, backupRoot: "/data/${path.root}" }).join()).toMatch(/backupsPath: /);
    expect(() => renderScheduledBackupScript({ ...base, schedule: { everyMinutes: 60, at: "0:05" } })).toThrow(/schedule\.at/);
  });

  it("the Redis backup ACL grants no key, channel or write access", () => {
    expect(REDIS_BACKUP_ACL).not.toMatch(/~|&\*|\+@all|\+get|\+keys/);
    expect(renderRedisBackupAclLine("pw")).toBe(`user backup on >pw ${REDIS_BACKUP_ACL}`);
  });
});

describe("latestSnapshot (how every restore script settles its src)", () => {
  it("accepts any store name by default and exactly one when given, and checks src in both cases", () => {
    expect(latestSnapshot(".rdb")).toContain("case $_store in [a-z]*) ;; *) continue ;; esac");
    const rabbit = latestSnapshot(".json", "rabbitmq");
    expect(rabbit).toContain("case $_store in rabbitmq) ;; *) continue ;; esac");
    expect(rabbit).toContain('for _p in "$BACKUP_ROOT/snapshots"/*.json; do');
    expect(rabbit).toContain('[ ! -L "$src" ] || { echo "error: $src is a symbolic link');
    expect(restoreArgs(".rdb")).toContain(latestSnapshot(".rdb"));
  });

  it.each(["rabbit*", "a b", "x)", "", "Redis"])("refuses the store %j (it becomes a case pattern)", (store) => {
    expect(() => latestSnapshot(".json", store)).toThrow(/^latestSnapshot input is invalid:\n {2}- store /);
  });
});

describe("restoreArgs (the restore scripts' shared argument checks)", () => {
  it("looks for snapshots with the store's suffix, and says it in the usage line", () => {
    const text = restoreArgs(".tar.gz");
    expect(text).toContain('for _p in "$BACKUP_ROOT/snapshots"/*.tar.gz; do');
    expect(text).toContain("usage: sh restore.sh <snapshot.tar.gz|latest> <data directory>");
    // Inlined into a script: the fragment's own leading comment lines (its shellcheck directives) are dropped.
    expect(text).not.toMatch(/^# shellcheck (shell|disable)=/m);
    expect(text.split("\n")).toContain(': "${BACKUP_SIGNING_KEY_FILE:=/run/secrets/backup_signing_key}"');
    expect(text).not.toContain("@@");
  });

  it.each([".tar.gz'; rm -rf /", "${x}", "%{x}", ".rdb\nrm -rf /", '.rdb"', ".rdb .x", "rdb", ""])(
    "refuses the suffix %j (it ends up inside quotes in a shell script)",
    (suffix) => {
      expect(() => restoreArgs(suffix)).toThrow(/^restoreArgs input is invalid:\n {2}- suffix /);
    },
  );
});
