// The host is gone (docs/runbooks/host-lost.md), on this machine's real servers: write known data
// into every store, run each store's rendered backup script once and its rendered off-host copy
// into an S3 server on loopback, then delete every data directory AND every local backups
// directory, and recover from the bucket alone in the runbook's order, timing each step and
// counting what came back. Only paths, ports and the S3 endpoint differ from what is deployed, set
// through the scripts' own overridable defaults. Image pulls and container starts are not measured.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  renderBackupRoleSql,
  renderBackupScript,
  renderOffsiteScript,
  renderPostgresInitSql,
  renderRestoreDumpScript,
  renderRestorePitrScript,
  walArchiveSettings,
} from "../../constructs/postgres";
import { DEFAULT_TOPOLOGY, renderRabbitDefinitions } from "../../constructs/rabbitmq";
import { describeIfBinary, itIf, itIfBinary, requireBinary } from "../support/binaries";
import { freePort } from "../support/helpers";
import { execAsync, RabbitNode, RedisNode, S3Loopback, treeSize, writeS3KeyFiles, type RabbitInventory } from "../support/host-lost";
import { ArchivingPostgres, sleepMs } from "../support/postgres-backup-env";
import { postgresRequirement } from "../support/postgres-server";
import { rabbitBin } from "../support/rabbitmq-node";
import { buildStoreBackups } from "../support/store-backups";
import { redisKeysInput, reportsRuntimeTopology, seedGrafanaLikeDb } from "../support/store-fixtures";
import { TEST_SIGNING_KEY, writeSigningKey } from "../support/snapshot-signing";

const ENV = "prod";
const BUCKET = "updateio-backups";
// A placeholder the scripts are rendered with; OFFSITE_ENDPOINT points them at the loopback server.
const RENDERED_ENDPOINT = "https://s3.example.com";

/** One line of the report, per store (or per Postgres restore path). */
interface Row {
  store: string;
  fetchedBytes: number;
  fetchedFiles: number;
  fetchSeconds: number;
  restoreSeconds: number;
  startSeconds?: number;
  /** Postgres: `backup.sh admit`, checking every fetched file's signature before it is let in. */
  admitSeconds?: number;
  written: string;
  restored: string;
}

const PG = [postgresRequirement(), requireBinary("sh")];
const REDIS = ["redis-server", "redis-cli", "redis-check-rdb", "sh"];
const RABBIT = ["rabbitmq-server", "rabbitmqctl", "epmd", "sh"];
const GRAFANA = ["sh", "gzip", "python3"];
const EDGE = ["sh", "tar", "gzip"];

const seconds = (t0: number) => (performance.now() - t0) / 1000;
/** The prefix a rendered off-host script copies to (its `OFFSITE_PREFIX` default). */
const renderedPrefix = (script: string) => /: "\$\{OFFSITE_PREFIX:=([^}]+)\}"/.exec(script)![1]!;

describeIfBinary(["rclone", "sh"], "the host is gone: every store recovered from the off-host copy alone", () => {
  const root = mkdtempSync(join(tmpdir(), "updateio-host-lost-"));
  // The PostgreSQL server's user must reach the backups directory below it.
  chmodSync(root, 0o755);
  // Everything under host/ is the lost host's disks; root/s3 is the off-host bucket, root/<store>
  // the rendered config and secrets Terraform delivers again (they come from the state).
  const host = join(root, "host");
  const s3 = new S3Loopback(join(root, "s3"), BUCKET);
  const rcloneHome = join(root, "rclone-home");
  const keys = writeS3KeyFiles(join(root, "offsite-keys"));
  const built = buildStoreBackups(ENV, { offsite: { endpoint: RENDERED_ENDPOINT, bucket: BUCKET } });
  const rows: Row[] = [];
  const written: Record<string, unknown> = {};
  /** When the host was lost, as restore-pitr.sh wants it ('YYYY-MM-DD HH:MM:SS+00'). */

  /** A rendered kit off-host copy, run once: `offsite.sh once`. */
  const offsiteOnce = async (script: string, backupRoot: string, name: string) => {
    const file = join(root, `${name}-offsite.sh`);
    writeFileSync(file, script);
    const r = await execAsync("sh", [file, "once"], {
      PATH: process.env.PATH,
      BACKUP_ROOT: backupRoot,
      OFFSITE_STATE_DIR: join(root, `${name}-offsite-state`),
      OFFSITE_ENDPOINT: s3.endpoint,
      OFFSITE_ACCESS_KEY_ID_FILE: keys.keyFile,
      OFFSITE_SECRET_ACCESS_KEY_FILE: keys.secretFile,
    });
    expect(r.status, `${name} offsite: ${r.stderr}`).toBe(0);
    return renderedPrefix(script);
  };
  /** A rendered kit script (backup.sh, restore.sh) with sh, its defaults pointed at temp dirs. */
  const kitScripts = (name: string, files: Record<string, string>) => {
    const dir = join(root, `${name}-scripts`);
    mkdirSync(dir, { recursive: true });
    for (const [f, content] of Object.entries(files)) writeFileSync(join(dir, f), content);
    // The store's signing key: a secret from the state, delivered again to the new host.
    const key = writeSigningKey(dir);
    return (script: string, args: string[], env: Record<string, string>) =>
      spawnSync("sh", [join(dir, script), ...args], {
        env: { ...process.env, BACKUP_HOOKS: join(dir, "hooks.sh"), BACKUP_SIGNING_KEY_FILE: key, TMPDIR: root, ...env },
        encoding: "utf8",
        timeout: 120_000,
      });
  };

  beforeAll(async () => {
    mkdirSync(host);
    // rclone runs as the postgres user too (its HOME and cache are here).
    mkdirSync(rcloneHome, { mode: 0o1777 });
    chmodSync(rcloneHome, 0o1777);
    await s3.start();
  });

  // ---- PostgreSQL -------------------------------------------------------------------------------
  const DB = "updateio";
  const OWNER = "updateio_owner";
  const APP = "updateio_app";
  const BACKUP_ROLE = "updateio_backup";
  const pw = {
    owner: "OwnerPw0123456789abcdefABCDEF0123",
    app: "AppPw0123456789abcdefABCDEF012345",
    backup: "BackupPw0123456789abcdefABCDEF01",
  };
  const TABLES = ["account", "message", "audit_event"] as const;
  const pgBackups = join(host, "postgres-backups");
  let pg: ArchivingPostgres | undefined;
  let pgScripts: Record<string, string> = {};
  /** The backup job's signing key: a secret from the state, delivered again to the new host. */
  let pgKey = "";
  const pgApp = { user: APP, password: pw.app, database: DB };
  /** count and md5 of every row, per table: equal fingerprints mean equal contents. */
  const pgFingerprint = (database = DB): Record<string, string> =>
    Object.fromEntries(
      TABLES.map((t) => [
        t,
        pg!
          .psql(`SELECT count(*) || ' ' || coalesce(md5(string_agg(x::text, ',' ORDER BY id)), '-') FROM ${t} x`, { ...pgApp, database })
          .trim(),
      ]),
    );
  const pgRows = (fp: Record<string, string>) => Object.values(fp).reduce((n, v) => n + Number(v.split(" ")[0]), 0);
  const pgFirstBoot = (p: ArchivingPostgres) => {
    const roles = p.writeFile(
      "10-roles.sql",
      renderPostgresInitSql({
        database: DB,
        ownerRole: OWNER,
        appRole: APP,
        ownerPasswordFile: p.writeFile("owner_password", pw.owner),
        appPasswordFile: p.writeFile("app_password", pw.app),
      }),
    );
    const backupRole = p.writeFile(
      "20-backup-role.sql",
      renderBackupRoleSql({ role: BACKUP_ROLE, database: DB, passwordFile: p.writeFile("backup_password", pw.backup) }),
    );
    for (const f of [roles, backupRole])
      p.run("psql", ["-v", "ON_ERROR_STOP=1", "-U", "postgres", "--no-psqlrc", "-d", "postgres", "-f", f], {
        PGHOST: p.dir,
        PGPORT: String(p.port),
      });
  };
  const pgCtl = (p: ArchivingPostgres, action: "start" | "stop") =>
    action === "stop"
      ? p.run(p.tool("pg_ctl"), ["-D", p.dataDir, "-m", "fast", "-w", "stop"])
      : p.run(p.tool("pg_ctl"), ["-D", p.dataDir, "-w", "-t", "60", "-l", p.logFile, "-o", p.serverOptions, "start"]);
  const pgSuperEnv = () => ({ BACKUP_ROOT: pgBackups, PGHOST: pg!.dir, PGPORT: String(pg!.port), PGUSER: "postgres", PGDATA: pg!.dataDir });

  itIf(
    PG,
    "postgres: ~100k rows over 3 tables, a dump and a base backup, more rows in the archived WAL only, copied off-host",
    async () => {
      pg = new ArchivingPostgres(await freePort(), walArchiveSettings(join(pgBackups, "wal-archive")));
      postgresOwnedDir(pgBackups);
      pg.start();
      pgFirstBoot(pg);
      pgKey = pg.writeFile("backup_signing_key", TEST_SIGNING_KEY);
      pgScripts = {
        backup: pg.writeFile(
          "backup.sh",
          renderBackupScript({
            host: "postgres",
            port: 5432,
            database: DB,
            role: BACKUP_ROLE,
            passwordFile: "/run/secrets/postgres_backup_password",
            at: "02:00",
            retention: { daily: 7, weekly: 4, monthly: 6 },
            baseBackupEveryDays: 7,
            keepBaseBackups: 2,
          }),
        ),
        restoreDump: pg.writeFile(
          "restore-dump.sh",
          renderRestoreDumpScript({ database: DB, ownerRole: OWNER, appRole: APP, backupRole: BACKUP_ROLE }),
        ),
        restorePitr: pg.writeFile("restore-pitr.sh", renderRestorePitrScript({ waitSeconds: 120 })),
      };
      const owner = { user: OWNER, password: pw.owner, database: DB };
      pg.psql(
        "CREATE TABLE account (id bigserial PRIMARY KEY, login text NOT NULL UNIQUE, created timestamptz NOT NULL DEFAULT now());" +
          "CREATE TABLE message (id bigserial PRIMARY KEY, account_id bigint NOT NULL REFERENCES account (id), body text NOT NULL);" +
          "CREATE TABLE audit_event (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), what jsonb NOT NULL)",
        owner,
      );
      pg.psql("INSERT INTO account (login) SELECT 'user' || g FROM generate_series(1, 20000) g", pgApp);
      pg.psql(
        "INSERT INTO message (account_id, body) SELECT 1 + g % 20000, repeat(md5(g::text), 3) FROM generate_series(1, 70000) g",
        pgApp,
      );
      pg.psql("INSERT INTO audit_event (what) SELECT jsonb_build_object('n', g, 'kind', 'login') FROM generate_series(1, 10000) g", pgApp);
      const atDump = pgFingerprint();

      const run = pg.sh(pgScripts.backup!, ["once"], {
        BACKUP_ROOT: pgBackups,
        PGHOST: "127.0.0.1",
        PGPORT: String(pg.port),
        BACKUP_PASSWORD_FILE: join(pg.dir, "backup_password"),
        BACKUP_SIGNING_KEY_FILE: pgKey,
      });
      expect(run.status, run.stderr).toBe(0);
      sleepMs(1100); // the writes below must be stamped after the base backup (second resolution)
      // Written after the dump: only the WAL archive has these.
      pg.psql("INSERT INTO message (account_id, body) SELECT 1 + g % 20000, 'after the dump ' || g FROM generate_series(1, 2500) g", pgApp);
      pg.psql("INSERT INTO audit_event (what) SELECT jsonb_build_object('n', g, 'kind', 'late') FROM generate_series(1, 500) g", pgApp);
      const total = pgFingerprint();
      // What archive_timeout does within 300 s, now: close the segment and wait until it is archived.
      const segment = pg.psql("SELECT pg_walfile_name(pg_switch_wal())").trim();
      for (let i = 0; i < 200 && pg.psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver").trim() < segment; i++)
        sleepMs(100);
      expect(readdirSync(join(pgBackups, "wal-archive"))).toContain(segment);
      // The scheduler's signing round (every 60 s in its loop), before the off-host copy's.
      const sign = pg.sh(pgScripts.backup!, ["sign"], { BACKUP_ROOT: pgBackups, BACKUP_SIGNING_KEY_FILE: pgKey });
      expect(sign.status, sign.stderr).toBe(0);

      const file = pg.writeFile(
        "offsite.sh",
        renderOffsiteScript({
          endpoint: RENDERED_ENDPOINT,
          bucket: BUCKET,
          prefix: `${ENV}/postgres`,
          accessKeyIdFile: "/run/secrets/offsite_access_key_id",
          secretAccessKeyFile: "/run/secrets/offsite_secret_access_key",
        }),
      );
      const copy = await execAsync("sh", [file, "once"], {
        PATH: process.env.PATH,
        BACKUP_ROOT: pgBackups,
        OFFSITE_STATE_DIR: join(root, "postgres-offsite-state"),
        OFFSITE_ENDPOINT: s3.endpoint,
        OFFSITE_ACCESS_KEY_ID_FILE: keys.keyFile,
        OFFSITE_SECRET_ACCESS_KEY_FILE: keys.secretFile,
      });
      expect(copy.status, copy.stderr).toBe(0);
      const remote = await s3.list(`${ENV}/postgres`, rcloneHome);
      expect(remote.some((f) => /^dumps\/updateio-\d{8}T\d{6}Z\.dump\.hmac$/.test(f))).toBe(true);
      expect(remote.some((f) => /^base\/\d{8}T\d{6}Z\/base\.tar\.gz\.hmac$/.test(f))).toBe(true);
      expect(remote).toContain(`wal-archive/${segment}.hmac`);
      // Only signed files, each with its signature.
      expect(remote.filter((f) => !f.endsWith(".hmac") && !remote.includes(`${f}.hmac`))).toEqual([]);
      written.postgres = { atDump, total };
      expect(pgRows(atDump)).toBe(100_000);
      expect(pgRows(total)).toBe(103_000);
    },
    180_000,
  );

  // ---- Redis ------------------------------------------------------------------------------------
  const REDIS_KEYS = 10_000;
  const redisBackups = join(host, "redis-backups");
  const redis = new RedisNode(join(root, "redis"), join(host, "redis-data"));
  const redisSh = kitScripts("redis", {
    "backup.sh": built.redisBackup.backup.script,
    "hooks.sh": built.redisBackup.hooks,
    "restore.sh": built.redisBackup.restoreScript,
  });
  const redisEnv = () => ({
    BACKUP_ROOT: redisBackups,
    REDIS_HOSTS: "127.0.0.1",
    REDIS_PORT: String(redis.port),
    REDIS_PASSWORD_FILE: redis.passwordFile,
  });
  const redisDbsize = () => Number(redis.cli(["dbsize"]).stdout.trim());

  itIfBinary(REDIS, `redis: ${REDIS_KEYS} keys (a quarter with a 24 h TTL), one RDB snapshot, copied off-host`, async () => {
    mkdirSync(redis.dir, { recursive: true });
    await redis.start();
    expect(redis.cli([], undefined, undefined, redisKeysInput(REDIS_KEYS)).status).toBe(0);
    expect(redisDbsize()).toBe(REDIS_KEYS);
    const run = redisSh("backup.sh", ["once"], redisEnv());
    expect(run.status, run.stderr).toBe(0);
    const prefix = await offsiteOnce(built.redisBackup.backup.offsiteScript!, redisBackups, "redis");
    expect(await s3.list(prefix, rcloneHome)).toEqual([
      expect.stringMatching(/^redis-\d{8}T\d{6}Z\.rdb$/),
      expect.stringMatching(/^redis-\d{8}T\d{6}Z\.rdb\.hmac$/),
    ]);
    written.redis = REDIS_KEYS;
  });

  // ---- RabbitMQ ---------------------------------------------------------------------------------
  const VHOST = "updateio-prod";
  const rabbitBackups = join(host, "rabbitmq-backups");
  const rabbit = new RabbitNode(
    join(root, "rabbitmq"),
    VHOST,
    renderRabbitDefinitions({
      vhost: VHOST,
      users: [
        {
          name: "updateio",
          password: "UpdateioPw0123456789abcdef",
          tags: ["management"],
          permissions: { configure: ".*", write: ".*", read: ".*" },
        },
      ],
      topology: DEFAULT_TOPOLOGY,
    }),
  );
  const rabbitSh = kitScripts("rabbitmq", {
    "backup.sh": built.rabbitBackup.backup.script,
    "hooks.sh": built.rabbitBackup.hooks,
    "restore.sh": built.rabbitBackup.restoreScript,
  });
  const rabbitEnv = () => ({
    ...(rabbit.env as Record<string, string>),
    BACKUP_ROOT: rabbitBackups,
    RABBITMQ_NODES: rabbit.node,
    RABBITMQ_COOKIE_FILE: rabbit.cookieFile,
    RABBITMQCTL: rabbitBin("rabbitmqctl"),
  });

  itIfBinary(
    RABBIT,
    "rabbitmq: definitions made at runtime (a vhost, users, 20 queues, bindings, a policy), exported, copied off-host",
    async () => {
      mkdirSync(rabbit.dir, { recursive: true });
      await rabbit.start();
      const boot = rabbit.inventory();
      for (const user of ["reporter", "auditor"]) expect(rabbit.ctl(["add_user", user, `${user}Pw0123456789`]).status).toBe(0);
      // The rest in one import (each rabbitmqctl call boots an Erlang VM: seconds on a busy machine).
      const runtime = {
        vhosts: [{ name: "reports" }],
        permissions: ["reporter", "auditor"].map((user) => ({
          user,
          vhost: "reports",
          configure: "^reports\\.",
          write: "^reports\\.",
          read: "^reports\\.",
        })),
        policies: [
          {
            vhost: "reports",
            name: "reports-ttl",
            pattern: "^reports\\.",
            "apply-to": "queues",
            definition: { "message-ttl": 3600000 },
            priority: 0,
          },
        ],
        ...reportsRuntimeTopology(),
      };
      writeFileSync(join(rabbit.dir, "runtime.json"), JSON.stringify(runtime));
      expect(rabbit.ctl(["import_definitions", join(rabbit.dir, "runtime.json")]).status).toBe(0);
      const before = rabbit.inventory();
      expect([before.vhosts, before.users, before.policies, before.queues, before.bindings]).toEqual([
        boot.vhosts + 1,
        boot.users + 2,
        boot.policies + 1,
        boot.queues + 20,
        boot.bindings + 20,
      ]);
      const run = rabbitSh("backup.sh", ["once"], rabbitEnv());
      expect(run.status, run.stderr).toBe(0);
      const prefix = await offsiteOnce(built.rabbitBackup.backup.offsiteScript!, rabbitBackups, "rabbitmq");
      expect(await s3.list(prefix, rcloneHome)).toEqual([
        expect.stringMatching(/^rabbitmq-\d{8}T\d{6}Z\.json$/),
        expect.stringMatching(/^rabbitmq-\d{8}T\d{6}Z\.json\.hmac$/),
      ]);
      written.rabbitmq = before;
    },
    180_000,
  );

  // ---- Grafana (a SQLite file shaped like Grafana's stands in: Grafana is not installed here) ----
  const grafanaData = join(host, "grafana-data");
  const grafanaBackups = join(host, "grafana-backups");
  const sqliteTool = requireBinary("sqlite3").available ? "sqlite3" : "python3";
  const grafanaSh = kitScripts("grafana", {
    "backup.sh": built.grafanaBackup.backup.script,
    "hooks.sh": built.grafanaBackup.hooks,
    "restore.sh": built.grafanaBackup.restoreScript,
  });
  const grafanaCounts = () => {
    const r = spawnSync(
      "python3",
      [
        "-c",
        `import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("pragma integrity_check").fetchone()[0], *[c.execute("select count(*) from " + t).fetchone()[0] for t in ("user", "dashboard", "annotation")])`,
        join(grafanaData, "grafana.db"),
      ],
      { encoding: "utf8" },
    );
    return r.stdout.trim();
  };

  itIfBinary(GRAFANA, "grafana: users, dashboards and 20k annotations in SQLite, an online snapshot, copied off-host", async () => {
    mkdirSync(grafanaData, { recursive: true });
    const seed = seedGrafanaLikeDb(join(grafanaData, "grafana.db"), 20000);
    expect(seed.status, seed.stderr).toBe(0);
    const run = grafanaSh("backup.sh", ["once"], {
      BACKUP_ROOT: grafanaBackups,
      GRAFANA_DB: join(grafanaData, "grafana.db"),
      SQLITE_TOOL: sqliteTool,
    });
    expect(run.status, run.stderr).toBe(0);
    const prefix = await offsiteOnce(built.grafanaBackup.backup.offsiteScript!, grafanaBackups, "grafana");
    expect(await s3.list(prefix, rcloneHome)).toEqual([
      expect.stringMatching(/^grafana-\d{8}T\d{6}Z\.db\.gz$/),
      expect.stringMatching(/^grafana-\d{8}T\d{6}Z\.db\.gz\.hmac$/),
    ]);
    written.grafana = grafanaCounts();
    expect(written.grafana).toBe("ok 50 200 20000");
  });

  // ---- Edge (a directory shaped like Caddy's data stands in: Caddy's own run is not needed) ------
  const edgeData = join(host, "edge-data");
  const edgeBackups = join(host, "edge-backups");
  const edgeSh = kitScripts("edge", {
    "backup.sh": built.edgeBackup.backup.script,
    "hooks.sh": built.edgeBackup.hooks,
    "restore.sh": built.edgeBackup.restoreScript,
  });
  const edgeFiles = [
    "caddy/acme/acme-v02.api.letsencrypt.org-directory/users/ops@example.com/ops.json",
    "caddy/acme/acme-v02.api.letsencrypt.org-directory/users/ops@example.com/ops.key",
    ...["api", "admin", "app", "grafana"].flatMap((h) =>
      ["crt", "key", "json"].map((e) => `caddy/certificates/acme-v02.api.letsencrypt.org-directory/${h}.example.com/${h}.example.com.${e}`),
    ),
    "caddy/pki/authorities/local/root.crt",
    "caddy/pki/authorities/local/root.key",
  ];
  const edgeIntact = () =>
    edgeFiles.filter((f) => {
      try {
        return (
          readFileSync(join(edgeData, f), "utf8") === `content of ${f}` &&
          (statSync(join(edgeData, f)).mode & 0o777) === (f.endsWith(".key") ? 0o600 : 0o644)
        );
      } catch {
        return false;
      }
    });

  itIfBinary(EDGE, "edge: the ACME account, 4 certificates with keys and the local CA, a tar, copied off-host", async () => {
    for (const f of edgeFiles) {
      mkdirSync(join(edgeData, f, ".."), { recursive: true });
      writeFileSync(join(edgeData, f), `content of ${f}`);
      chmodSync(join(edgeData, f), f.endsWith(".key") ? 0o600 : 0o644);
    }
    const run = edgeSh("backup.sh", ["once"], { BACKUP_ROOT: edgeBackups, CADDY_DATA: edgeData });
    expect(run.status, run.stderr).toBe(0);
    const prefix = await offsiteOnce(built.edgeBackup.backup.offsiteScript!, edgeBackups, "edge");
    expect(await s3.list(prefix, rcloneHome)).toEqual([
      expect.stringMatching(/^edge-\d{8}T\d{6}Z\.tar\.gz$/),
      expect.stringMatching(/^edge-\d{8}T\d{6}Z\.tar\.gz\.hmac$/),
    ]);
    written.edge = edgeIntact().length;
    expect(written.edge).toBe(edgeFiles.length);
  });

  // ---- The host is lost ---------------------------------------------------------------------------
  it("loses the host: every server stopped, every data directory and every local backups directory deleted", async () => {
    if (pg) {
      pgCtl(pg, "stop");
      rmSync(pg.dataDir, { recursive: true, force: true });
    }
    await redis.stop();
    await rabbit.stop();
    rmSync(rabbit.paths.mnesia, { recursive: true, force: true });
    rmSync(host, { recursive: true, force: true });
    mkdirSync(host);
    expect(readdirSync(host)).toEqual([]);
    if (pg) expect(existsSync(pg.dataDir)).toBe(false);
    expect(existsSync(rabbit.paths.mnesia)).toBe(false);
    // The bucket is all that is left.
    if (Object.keys(written).length > 0) expect((await s3.list(ENV, rcloneHome)).length).toBeGreaterThan(0);
  });

  // ---- Recovery, in the runbook's order -------------------------------------------------------------
  itIf(
    PG,
    "postgres: fresh cluster, fetch, point-in-time restore to the end of the archive (every row), then the latest dump (rows up to the dump)",
    async () => {
      const p = pg;
      expect(p, "the backup step did not run").toBeDefined();
      const w = written.postgres as { atDump: Record<string, string>; total: Record<string, string> };
      // The stack's first boot on the new host (initdb + roles), then the runbook stops it before the fetch.
      let t0 = performance.now();
      p!.start();
      pgFirstBoot(p!);
      const startSeconds = seconds(t0);
      pgCtl(p!, "stop");
      postgresOwnedDir(pgBackups);
      // What anyone with the bucket's write key could have left there: the newest base backup
      // (restore-pitr.sh's "prepare end" would pick it), and the segment after the last one.
      const remote = await s3.list(`${ENV}/postgres`, rcloneHome);
      const lastSegment = remote
        .filter((f) => /^wal-archive\/[0-9A-F]{24}$/.test(f))
        .sort()
        .pop()!
        .slice("wal-archive/".length);
      const plantedSegment = `${lastSegment.slice(0, 16)}${(parseInt(lastSegment.slice(16), 16) + 1).toString(16).toUpperCase().padStart(8, "0")}`;
      const planted = ["base/29991231T235959Z/base.tar.gz", `wal-archive/${plantedSegment}`, `wal-archive/${plantedSegment}.hmac`];
      for (const f of planted) await s3.plant(`${ENV}/postgres`, f, `planted ${f}`, rcloneHome);
      // As the postgres user (the runbook: docker run --user 999:999), so the server can write its
      // archive there; into incoming/, never straight into place.
      const incoming = join(pgBackups, "incoming");
      const fetched = await s3.fetch(`${ENV}/postgres`, incoming, rcloneHome, process.getuid?.() === 0 ? "postgres" : undefined);
      t0 = performance.now();
      const admit = p!.sh(pgScripts.backup!, ["admit", incoming], { BACKUP_ROOT: pgBackups, BACKUP_SIGNING_KEY_FILE: pgKey });
      const admitSeconds = seconds(t0);
      expect(admit.status, admit.stderr).toBe(1);
      expect(admit.stderr).toContain("refused base/29991231T235959Z/base.tar.gz: unsigned");
      expect(admit.stderr).toContain(`refused wal-archive/${plantedSegment}: its signature does not verify`);
      expect(treeFiles(incoming)).toEqual(planted.slice().sort());
      expect(readdirSync(join(pgBackups, "base"))).toHaveLength(1);

      // To the end of the archive ("prepare end": the newest base backup, no target), so recovery
      // replays every archived segment and promotes. With the loss time (or the last archived
      // commit's time) as target, PostgreSQL 15 stops with "recovery ended before configured
      // recovery target was reached": a time target is reached only by a commit after it, and after
      // a host loss there is none.
      t0 = performance.now();
      const prepare = p!.sh(pgScripts.restorePitr!, ["prepare", "end"], pgSuperEnv());
      expect(prepare.status, prepare.stderr).toBe(0);
      expect(readFileSync(join(p!.dataDir, "postgresql.auto.conf"), "utf8")).not.toMatch(/recovery_target_time/);
      pgCtl(p!, "start");
      const wait = p!.sh(pgScripts.restorePitr!, ["wait"], pgSuperEnv());
      expect(wait.status, wait.stderr + p!.log().slice(-3000)).toBe(0);
      const pitrSeconds = seconds(t0);
      const afterPitr = pgFingerprint();
      expect(afterPitr).toEqual(w.total);
      expect(p!.psql("SELECT pg_is_in_recovery()").trim()).toBe("f");
      p!.psql('INSERT INTO audit_event (what) VALUES (\'{"kind": "after recovery"}\')', pgApp);

      // The dump path, into a side database (the runbook's "look at it first"): everything up to the dump.
      t0 = performance.now();
      const dump = p!.sh(pgScripts.restoreDump!, ["latest", "updateio_restore"], pgSuperEnv());
      expect(dump.status, dump.stderr + dump.stdout).toBe(0);
      const dumpSeconds = seconds(t0);
      const fromDump = pgFingerprint("updateio_restore");
      expect(fromDump).toEqual(w.atDump);

      rows.push(
        {
          store: "postgres (PITR)",
          fetchedBytes: fetched.bytes,
          fetchedFiles: fetched.files,
          fetchSeconds: fetched.seconds,
          admitSeconds,
          restoreSeconds: pitrSeconds,
          startSeconds,
          written: `${pgRows(w.total)} rows`,
          restored: `${pgRows(afterPitr)} rows`,
        },
        {
          store: "postgres (dump)",
          fetchedBytes: treeSize(join(pgBackups, "dumps")).bytes,
          fetchedFiles: treeSize(join(pgBackups, "dumps")).files,
          fetchSeconds: fetched.seconds,
          restoreSeconds: dumpSeconds,
          written: `${pgRows(w.total)} rows (${pgRows(w.atDump)} at the dump)`,
          restored: `${pgRows(fromDump)} rows`,
        },
      );
    },
    180_000,
  );

  itIfBinary(REDIS, "redis: node started empty and stopped, fetch, restore.sh latest, start: every key, TTLs kept", async () => {
    expect(written.redis, "the backup step did not run").toBe(REDIS_KEYS);
    let t0 = performance.now();
    await redis.start();
    const startSeconds = seconds(t0);
    expect(redisDbsize()).toBe(0);
    await redis.stop();
    // Planted in the bucket after the host was lost, stamped newer than every real snapshot: not signed with the store's key.
    const planted = `redis-${new Date()
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z")}.rdb`;
    await s3.plant(`${ENV}/redis`, planted, "REDIS0011 planted", rcloneHome);
    const fetched = await s3.fetch(`${ENV}/redis`, join(redisBackups, "snapshots"), rcloneHome);
    t0 = performance.now();
    const restore = redisSh("restore.sh", ["latest", redis.dataDir], redisEnv());
    expect(restore.status, restore.stderr).toBe(0);
    expect(restore.stderr).toContain(`warning: skipped ${planted}: no valid signature`);
    await redis.start();
    const restoreSeconds = seconds(t0);
    const restored = redisDbsize();
    expect(restored).toBe(REDIS_KEYS);
    expect(redis.cli(["hget", "session:0", "user"]).stdout.trim()).toBe("u0");
    const ttl = Number(redis.cli(["ttl", `session:${REDIS_KEYS - 4}`]).stdout.trim());
    expect(ttl).toBeGreaterThan(80_000);
    expect(ttl).toBeLessThanOrEqual(86_400);
    expect(redis.cli(["get", `plain:${REDIS_KEYS - 1}`]).stdout.trim()).toBe(`value-${REDIS_KEYS - 1}`);
    expect(redis.cli(["info", "persistence"]).stdout).toMatch(/aof_enabled:1/);
    rows.push({
      store: "redis",
      ...fetchedOf(fetched),
      restoreSeconds,
      startSeconds,
      written: `${REDIS_KEYS} keys`,
      restored: `${restored} keys (TTL ${ttl} s left of 86400)`,
    });
  });

  itIfBinary(
    RABBIT,
    "rabbitmq: node booted with the Terraform definitions, fetch, restore.sh latest: every vhost, user, queue, binding and policy",
    async () => {
      const before = written.rabbitmq as RabbitInventory;
      expect(before, "the backup step did not run").toBeDefined();
      let t0 = performance.now();
      await rabbit.start();
      const startSeconds = seconds(t0);
      const booted = rabbit.inventory();
      // The wiped node boots with the Terraform-declared definitions only.
      expect([booted.vhosts, booted.users, booted.queues]).toEqual([before.vhosts - 1, before.users - 2, before.queues - 20]);
      const fetched = await s3.fetch(`${ENV}/rabbitmq`, join(rabbitBackups, "snapshots"), rcloneHome);
      t0 = performance.now();
      const restore = rabbitSh("restore.sh", ["latest"], rabbitEnv());
      expect(restore.status, restore.stdout + restore.stderr).toBe(0);
      const restoreSeconds = seconds(t0);
      const after = rabbit.inventory();
      expect(after).toEqual(before);
      expect(rabbit.ctl(["authenticate_user", "reporter", "reporterPw0123456789"]).status).toBe(0);
      const fmt = (i: RabbitInventory) =>
        `${i.vhosts} vhosts, ${i.users} users, ${i.permissions} permissions, ${i.policies} policies, ${i.queues} queues, ${i.exchanges} exchanges, ${i.bindings} bindings`;
      rows.push({ store: "rabbitmq", ...fetchedOf(fetched), restoreSeconds, startSeconds, written: fmt(before), restored: fmt(after) });
    },
    180_000,
  );

  /** A kit store's way back: fetch its snapshots from the bucket, then restore.sh latest into the empty data directory. */
  async function restoreKitStore(store: string, sh: ReturnType<typeof kitScripts>, backups: string, data: string) {
    mkdirSync(data, { recursive: true });
    const fetched = await s3.fetch(`${ENV}/${store}`, join(backups, "snapshots"), rcloneHome);
    const t0 = performance.now();
    const restore = sh("restore.sh", ["latest", data], { BACKUP_ROOT: backups });
    expect(restore.status, restore.stderr).toBe(0);
    return { ...fetchedOf(fetched), restoreSeconds: seconds(t0) };
  }

  itIfBinary(
    EDGE,
    "edge: before the edge first starts, fetch and restore.sh latest: every certificate, key and account, modes kept",
    async () => {
      expect(written.edge, "the backup step did not run").toBe(edgeFiles.length);
      const figures = await restoreKitStore("edge", edgeSh, edgeBackups, edgeData);
      const intact = edgeIntact();
      expect(intact).toEqual(edgeFiles);
      rows.push({
        store: "edge",
        ...figures,
        written: `${edgeFiles.length} files`,
        restored: `${intact.length} files`,
      });
    },
  );

  itIfBinary(GRAFANA, "grafana: fetch, restore.sh latest into the empty data directory: every table and row, integrity ok", async () => {
    expect(written.grafana, "the backup step did not run").toBe("ok 50 200 20000");
    const figures = await restoreKitStore("grafana", grafanaSh, grafanaBackups, grafanaData);
    const counts = grafanaCounts();
    expect(counts).toBe(written.grafana);
    const rowsOf = (s: string) =>
      s
        .split(" ")
        .slice(1)
        .map(Number)
        .reduce((a, b) => a + b, 0);
    rows.push({
      store: "grafana",
      ...figures,
      written: `${rowsOf(written.grafana as string)} rows`,
      restored: `${rowsOf(counts)} rows`,
    });
  });

  it("reports per store: bytes fetched, fetch and restore seconds, items written vs restored", () => {
    const header = "| store | fetched | fetch s | admit s | restore s | server start s | written | restored |";
    const lines = rows.map(
      (r) =>
        `| ${r.store} | ${(r.fetchedBytes / 1024).toFixed(0)} KiB in ${r.fetchedFiles} files | ${r.fetchSeconds.toFixed(2)} | ${r.admitSeconds?.toFixed(2) ?? "-"} | ${r.restoreSeconds.toFixed(2)} | ${r.startSeconds?.toFixed(2) ?? "-"} | ${r.written} | ${r.restored} |`,
    );
    console.info(
      `[figures] host lost, recovered from the bucket alone:\n${header}\n|---|---|---|---|---|---|---|---|\n${lines.join("\n")}`,
    );
    // Every store that ran reported a row (the skipped ones printed their reason).
    expect(rows.length).toBe(Object.keys(written).length + (written.postgres ? 1 : 0));
  });

  afterAll(async () => {
    await redis.stop();
    await rabbit.stop();
    pg?.stop();
    await s3.close();
    rmSync(root, { recursive: true, force: true });
  }, 120_000);
});

/** An empty directory owned by the postgres user when root (a volume the postgres image copied up). */
function postgresOwnedDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  if (process.getuid?.() === 0) execFileSync("chown", ["postgres:postgres", path]);
}

/** Every file below `dir`, as sorted relative paths (as treeSize walks it). */
function treeFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

function fetchedOf(f: { bytes: number; files: number; seconds: number }) {
  return { fetchedBytes: f.bytes, fetchedFiles: f.files, fetchSeconds: f.seconds };
}
