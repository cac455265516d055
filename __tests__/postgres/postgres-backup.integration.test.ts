import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderPostgresInitSql } from "../../constructs/postgres/renderers/postgres";
import {
  renderBackupRoleSql,
  renderBackupScript,
  renderRestoreDumpScript,
  renderRestorePitrScript,
  walArchiveSettings,
} from "../../constructs/postgres/renderers/backup-scripts";
import { describeIf, requireBinary } from "../support/binaries";
import { ArchivingPostgres, sleepMs } from "../support/postgres-backup-env";
import { BACKUP_SCRIPT_INPUT } from "../support/postgres-inputs";
import { BACKUP, CLUSTER, postgresRequirement } from "../support/postgres-server";
import { freePort } from "../support/helpers";
import { signSnapshot, snapshotMac, TEST_SIGNING_KEY } from "../support/snapshot-signing";

// Runs exactly the rendered scripts; only paths, host and port are rewritten, through the
// environment variables the scripts read their defaults from.
// A port the kernel picks when the server starts: test files run in parallel.
let PORT = 0;
const DB = CLUSTER.database;
const OWNER = CLUSTER.owner.user;
const APP = CLUSTER.app.user;
const BACKUP_ROLE = BACKUP.user;
const passwords = { owner: CLUSTER.owner.password, app: CLUSTER.app.password, backup: BACKUP.password };
const scriptInput = BACKUP_SCRIPT_INPUT;

describe("backup scheduler retention (pruning step only)", () => {
  const root = mkdtempSync(join(tmpdir(), "updateio-backup-retention-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("keeps exactly 7 daily + 4 weekly + 6 monthly of 400 days of dumps", () => {
    // One dump a day at 02:00 UTC for 400 days up to Thursday 2026-11-26, a second one that day at
    // 14:00, a leftover temp file and an unrelated file.
    const dumps = join(root, "dumps");
    mkdirSync(dumps, { recursive: true });
    const last = Date.UTC(2026, 10, 26);
    const stamp = (t: number, hh: string) => new Date(t).toISOString().slice(0, 10).replace(/-/g, "") + `T${hh}0000Z`;
    for (let i = 0; i < 400; i++) writeFileSync(join(dumps, `${DB}-${stamp(last - i * 86_400_000, "02")}.dump`), "");
    writeFileSync(join(dumps, `${DB}-${stamp(last, "14")}.dump`), "");
    // Each with its signature (contents do not matter to pruning).
    for (const f of readdirSync(dumps)) writeFileSync(join(dumps, `${f}.hmac`), "");
    writeFileSync(join(dumps, "notes.txt"), "");
    writeFileSync(join(dumps, `${DB}-20990101T000000Z.dump.partial`), "");
    const script = join(root, "backup.sh");
    writeFileSync(script, renderBackupScript(scriptInput));
    const r = spawnSync("sh", [script, "prune"], { encoding: "utf8", env: { ...process.env, BACKUP_ROOT: root } });
    expect(r.status, r.stderr).toBe(0);
    const kept = readdirSync(dumps)
      .filter((f) => f.endsWith(".dump"))
      .sort();
    // daily: the newest dump of each of the 7 newest days (11-20 .. 11-26; 14:00 wins on the 26th);
    // weekly: newest of each of the 4 ISO weeks before the week of 11-20 (Mon 11-16): the Sundays;
    // monthly: newest of each of the 6 months before October (the month of the oldest weekly).
    const daily = ["20261120", "20261121", "20261122", "20261123", "20261124", "20261125"]
      .map((d) => `${DB}-${d}T020000Z.dump`)
      .concat(`${DB}-20261126T140000Z.dump`);
    const weekly = ["20261025", "20261101", "20261108", "20261115"].map((d) => `${DB}-${d}T020000Z.dump`);
    const monthly = ["20260430", "20260531", "20260630", "20260731", "20260831", "20260930"].map((d) => `${DB}-${d}T020000Z.dump`);
    expect(kept).toEqual([...monthly, ...weekly, ...daily].sort());
    expect(kept).toHaveLength(17);
    // A pruned dump's signature goes with it; a kept one's stays.
    expect(readdirSync(dumps).filter((f) => f.endsWith(".dump.hmac"))).toEqual(kept.map((f) => `${f}.hmac`));
    expect(readdirSync(dumps)).toEqual(expect.arrayContaining(["notes.txt", `${DB}-20990101T000000Z.dump.partial`]));
    console.log(
      `retention: 401 dumps over 400 days -> ${kept.length} kept (${daily.length} daily + ${weekly.length} weekly + ${monthly.length} monthly)`,
    );
  });
});

describe("backup scheduler start", () => {
  it("removes the volume_usage.prom volume-usage wrote into the metrics directory before it had its own volume, and nothing else", async () => {
    const root = mkdtempSync(join(tmpdir(), "updateio-backup-legacy-"));
    try {
      const metrics = join(root, "metrics");
      mkdirSync(metrics);
      // node-exporter would read this stale copy beside the live one (in /volume-usage) and keep the first.
      writeFileSync(join(metrics, "volume_usage.prom"), "updateio_volume_usage_last_run_timestamp_seconds 1\n");
      writeFileSync(join(metrics, "postgres_offsite.prom"), "updateio_backup_offsite_success 1\n");
      const script = join(root, "backup.sh");
      writeFileSync(script, renderBackupScript(scriptInput));
      // No server: the first run fails at once, then the loop waits for its retry until it is stopped.
      const child = spawn("sh", [script, "loop"], {
        // TMPDIR: a run stopped mid-way leaves its error file there (the kit's run_once).
        env: { ...process.env, BACKUP_ROOT: root, PGHOST: join(root, "no-socket"), PGPORT: "1", TMPDIR: root },
        stdio: "ignore",
      });
      try {
        for (let i = 0; i < 100 && existsSync(join(metrics, "volume_usage.prom")); i++) await sleepMs(50);
      } finally {
        child.kill("SIGTERM");
      }
      expect(existsSync(join(metrics, "volume_usage.prom"))).toBe(false);
      expect(readFileSync(join(metrics, "postgres_offsite.prom"), "utf8")).toBe("updateio_backup_offsite_success 1\n");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("backup scheduler signing loop", () => {
  it("signs what the archive gets every SIGN_EVERY_SECONDS beside the schedule, and stops with the scheduler", async () => {
    const root = mkdtempSync(join(tmpdir(), "updateio-backup-signer-"));
    const wal = join(root, "wal-archive");
    mkdirSync(wal);
    writeFileSync(join(root, "key"), TEST_SIGNING_KEY);
    const script = join(root, "backup.sh");
    writeFileSync(script, renderBackupScript(scriptInput));
    const segment = (n: number) => join(wal, `0000000100000000000000${n.toString(16).toUpperCase().padStart(2, "0")}`);
    const signedSoon = async (file: string) => {
      for (let i = 0; i < 100 && !existsSync(`${file}.hmac`); i++) await sleepMs(50);
      return existsSync(`${file}.hmac`);
    };
    // No server: the run fails at once, and the loop waits for its retry; the signer runs beside it.
    const child = spawn("sh", [script, "loop"], {
      env: {
        ...process.env,
        BACKUP_ROOT: root,
        TMPDIR: root,
        PGHOST: join(root, "no-socket"),
        PGPORT: "1",
        BACKUP_SIGNING_KEY_FILE: join(root, "key"),
        SIGN_EVERY_SECONDS: "1",
      },
      stdio: "ignore",
      detached: true,
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    try {
      writeFileSync(segment(1), "wal 1");
      expect(await signedSoon(segment(1))).toBe(true);
      writeFileSync(segment(2), "wal 2");
      expect(await signedSoon(segment(2))).toBe(true);
      expect(readFileSync(`${segment(2)}.hmac`, "utf8")).toBe(
        `hmac-sha256 ${snapshotMac(segment(2), TEST_SIGNING_KEY, `wal-archive/${segment(2).slice(wal.length + 1)}`)}\n`,
      );
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    try {
      // The signer went with the scheduler: no process of the group is left (a sleep started in the
      // instant of the signal may finish its second), and nothing more is signed.
      for (let i = 0; i < 30 && liveProcessesOfGroup(child.pid!).length > 0; i++) await sleepMs(100);
      expect(liveProcessesOfGroup(child.pid!)).toEqual([]);
      writeFileSync(segment(3), "wal 3");
      await sleepMs(2500);
      expect(existsSync(`${segment(3)}.hmac`)).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describeIf([postgresRequirement(), requireBinary("sh")], "PostgresBackup scripts on a real PostgreSQL", () => {
  let server: ArchivingPostgres;
  let backupRoot: string;
  let backupEnv: Record<string, string>;
  let superEnv: Record<string, string>;
  const scripts: Record<string, string> = {};

  beforeAll(async () => {
    PORT = await freePort();
    server = new ArchivingPostgres(PORT, {});
    // The primary's archive settings, as rendered, pointed at the temp archive dir.
    backupRoot = join(server.dir, "backups");
    (server as unknown as { settings: Record<string, string> }).settings = walArchiveSettings(join(backupRoot, "wal-archive"), {
      archiveTimeoutSeconds: 60,
    });
    server.start();
    server.mkdir("backups");
    const secret = (name: string, value: string) => server.writeFile(name, value);
    const ownerFile = secret("owner_password", passwords.owner);
    const appFile = secret("app_password", passwords.app);
    const backupFile = secret("backup_password", passwords.backup);
    const roles = server.writeFile(
      "10-roles.sql",
      renderPostgresInitSql({ database: DB, ownerRole: OWNER, appRole: APP, ownerPasswordFile: ownerFile, appPasswordFile: appFile }),
    );
    const backupRole = server.writeFile(
      "20-backup-role.sql",
      renderBackupRoleSql({ role: BACKUP_ROLE, database: DB, passwordFile: backupFile }),
    );
    server.runSqlFiles(roles, backupRole);
    scripts.backup = server.writeFile("backup.sh", renderBackupScript(scriptInput));
    scripts.restoreDump = server.writeFile(
      "restore-dump.sh",
      renderRestoreDumpScript({ database: DB, ownerRole: OWNER, appRole: APP, backupRole: BACKUP_ROLE }),
    );
    scripts.restorePitr = server.writeFile("restore-pitr.sh", renderRestorePitrScript({ waitSeconds: 60 }));
    // The backup container's view: TCP, the backup role, its password file, its signing key.
    backupEnv = {
      BACKUP_ROOT: backupRoot,
      PGHOST: "127.0.0.1",
      PGPORT: String(PORT),
      BACKUP_PASSWORD_FILE: backupFile,
      BACKUP_SIGNING_KEY_FILE: secret("backup_signing_key", TEST_SIGNING_KEY),
    };
    // The postgres container's view (restores): superuser on the local socket.
    superEnv = { BACKUP_ROOT: backupRoot, PGHOST: server.dir, PGPORT: String(PORT), PGUSER: "postgres", PGDATA: server.dataDir };
  });
  afterAll(() => server?.stop());

  const owner = { user: OWNER, password: passwords.owner, database: DB };
  const app = { user: APP, password: passwords.app, database: DB };
  const count = (table: string) => Number(server.psql(`SELECT count(*) FROM ${table}`, app).trim());

  it("backs up once (dump + base backup), wipes the database, restores the latest dump: every row back", () => {
    server.psql("CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL)", owner);
    server.psql("INSERT INTO item (name) SELECT 'item ' || g FROM generate_series(1, 1000) g", app);
    const written = count("item");
    const run = server.sh(scripts.backup!, ["once"], backupEnv);
    expect(run.status, run.stderr).toBe(0);
    expect(readdirSync(join(backupRoot, "dumps")).filter((f) => /^updateio-\d{8}T\d{6}Z\.dump$/.test(f))).toHaveLength(1);
    expect(readdirSync(join(backupRoot, "base"))).toHaveLength(1);

    server.psql(`DROP DATABASE ${DB} WITH (FORCE)`);
    expect(server.psql(`SELECT count(*) FROM pg_database WHERE datname = '${DB}'`).trim()).toBe("0");
    const restore = server.sh(scripts.restoreDump!, ["latest"], superEnv);
    expect(restore.status, restore.stderr + restore.stdout).toBe(0);
    const restored = count("item");
    console.log(`dump/restore: rows written ${written} vs restored ${restored}`);
    expect(restored).toBe(written);
    expect(restored).toBe(1000);
    // Ownership and privileges as on first boot: the owner owns the table, the app role still writes, not DDL.
    expect(server.psql(`SELECT tableowner FROM pg_tables WHERE tablename = 'item'`, app).trim()).toBe(OWNER);
    server.psql("INSERT INTO item (name) VALUES ('after restore')", app);
    expect(() => server.psql("DROP TABLE item", app)).toThrow(/must be owner/);
  });

  it("the healthcheck passes after a successful run and fails after a failed run or when stale", () => {
    const ok = server.sh(scripts.backup!, ["health"], backupEnv);
    expect(ok.status, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/^healthy/);

    const failed = server.sh(scripts.backup!, ["once"], { ...backupEnv, PGPORT: "1" });
    expect(failed.status).not.toBe(0);
    const afterFailure = server.sh(scripts.backup!, ["health"], backupEnv);
    expect(afterFailure.status).toBe(1);
    expect(afterFailure.stdout).toMatch(/unhealthy: last run failed: .*pg_dump/);
    const status = readFileSync(join(backupRoot, "backup-status"), "utf8");
    expect(status).toMatch(/^last_result=error$/m);
    expect(status).toMatch(/^last_success=\d+$/m); // the earlier success is kept
    // The alerting metrics (node-exporter's textfile collector) say the same.
    const metrics = readFileSync(join(backupRoot, "metrics", "postgres_backup.prom"), "utf8");
    // node-exporter runs as nobody: the metrics are world-readable, the dumps are not.
    expect(statSync(join(backupRoot, "metrics", "postgres_backup.prom")).mode & 0o777).toBe(0o644);
    expect(statSync(join(backupRoot, "metrics")).mode & 0o777).toBe(0o755);
    expect(statSync(join(backupRoot, "dumps")).mode & 0o777).toBe(0o700);
    expect(metrics).toMatch(/^updateio_backup_last_run_success 0$/m);
    expect(metrics).toMatch(
      new RegExp(`^updateio_backup_last_success_timestamp_seconds ${/^last_success=(\d+)$/m.exec(status)![1]}$`, "m"),
    );
    const check = spawnSync("promtool", ["check", "metrics"], { input: metrics, encoding: "utf8" });
    if (check.error === undefined) expect(check.status, check.stdout + check.stderr).toBe(0);

    // Stale: the last success 2 days ago (> 1.5 x the daily interval), although the run said ok.
    const twoDaysAgo = Math.floor(Date.now() / 1000) - 2 * 86_400;
    server.writeFile(
      "backups/backup-status",
      status.replace(/^last_result=.*$/m, "last_result=ok").replace(/^last_success=.*$/m, `last_success=${twoDaysAgo}`),
    );
    const stale = server.sh(scripts.backup!, ["health"], backupEnv);
    expect(stale.status).toBe(1);
    expect(stale.stdout).toMatch(/unhealthy: last success \d+s ago, more than 129600s/);

    const again = server.sh(scripts.backup!, ["once"], backupEnv);
    expect(again.status, again.stderr).toBe(0);
    expect(server.sh(scripts.backup!, ["health"], backupEnv).status).toBe(0);
    expect(readFileSync(join(backupRoot, "metrics", "postgres_backup.prom"), "utf8")).toMatch(/^updateio_backup_last_run_success 1$/m);
  });

  it("restores to a point in time from our base backup and WAL archive: rows A only", () => {
    const base = server.sh(scripts.backup!, ["base"], backupEnv);
    expect(base.status, base.stderr).toBe(0);
    sleepMs(1100); // the target must be after the base backup's (second-resolution) stamp
    server.psql("CREATE TABLE pitr (id serial PRIMARY KEY, batch text NOT NULL)", owner);
    server.psql("INSERT INTO pitr (batch) SELECT 'A' FROM generate_series(1, 300)", app);
    const target = server.psql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'").trim();
    sleepMs(300);
    server.psql("INSERT INTO pitr (batch) SELECT 'B' FROM generate_series(1, 200)", app);
    const before = {
      a: Number(server.psql("SELECT count(*) FROM pitr WHERE batch = 'A'", app).trim()),
      b: Number(server.psql("SELECT count(*) FROM pitr WHERE batch = 'B'", app).trim()),
    };
    const segment = server.psql("SELECT pg_walfile_name(pg_switch_wal())").trim();
    for (let i = 0; i < 100 && server.psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver").trim() < segment; i++)
      sleepMs(100);
    expect(readdirSync(join(backupRoot, "wal-archive"))).toContain(segment);

    const pgCtl = server.tool("pg_ctl");
    const pitr = server.sh(scripts.restorePitr!, ["all", target], {
      ...superEnv,
      PITR_STOP_CMD: `${pgCtl} -D ${server.dataDir} -m fast -w stop`,
      PITR_START_CMD: `${pgCtl} -D ${server.dataDir} -w -t 60 -l ${server.logFile} -o '${server.serverOptions}' start`,
    });
    expect(pitr.status, pitr.stderr + pitr.stdout + readFileSync(server.logFile, "utf8").slice(-3000)).toBe(0);
    const after = {
      a: Number(server.psql("SELECT count(*) FROM pitr WHERE batch = 'A'", app).trim()),
      b: Number(server.psql("SELECT count(*) FROM pitr WHERE batch = 'B'", app).trim()),
    };
    console.log(`PITR to ${target}: before A=${before.a} B=${before.b}; after A=${after.a} B=${after.b}; item rows ${count("item")}`);
    expect(before).toEqual({ a: 300, b: 200 });
    expect(after).toEqual({ a: 300, b: 0 });
    // Promoted and writable, recovery settings gone, the old data kept aside.
    expect(server.psql("SELECT pg_is_in_recovery()").trim()).toBe("f");
    server.psql("INSERT INTO pitr (batch) VALUES ('C')", app);
    expect(readFileSync(join(server.dataDir, "postgresql.auto.conf"), "utf8")).not.toMatch(/recovery_target_time|restore_command/);
    expect(readdirSync(join(backupRoot, "pre-restore"))).toHaveLength(1);
  });
  it("prunes base backups to the newest N and archived WAL older than the oldest kept base backup", () => {
    server.psql("INSERT INTO pitr (batch) SELECT 'D' FROM generate_series(1, 100)", app);
    server.psql("SELECT pg_switch_wal()");
    sleepMs(1100);
    const base = server.sh(scripts.backup!, ["base"], backupEnv);
    expect(base.status, base.stderr).toBe(0);
    const wal = () => readdirSync(join(backupRoot, "wal-archive")).filter((f) => /^[0-9A-F]{24}$/.test(f));
    const walBefore = wal();
    const prune = server.sh(scripts.backup!, ["prune"], { ...backupEnv, KEEP_BASE_BACKUPS: "1" });
    expect(prune.status, prune.stderr).toBe(0);
    const bases = readdirSync(join(backupRoot, "base"));
    expect(bases).toHaveLength(1);
    const label = readFileSync(join(backupRoot, "base", bases[0]!, "backup_label"), "utf8");
    const start = /START WAL LOCATION: .*\(file ([0-9A-F]{24})\)/.exec(label)![1]!;
    const walAfter = wal();
    console.log(`WAL pruning: ${walBefore.length} archived segments -> ${walAfter.length}, oldest kept base starts at ${start}`);
    expect(walAfter.length).toBeLessThan(walBefore.length);
    expect(walAfter.every((f) => f.slice(8) >= start.slice(8))).toBe(true);
    // A segment's signature goes with it (pg_archivecleanup -x .hmac): none is left without its file.
    const signatures = readdirSync(join(backupRoot, "wal-archive")).filter((f) => f.endsWith(".hmac"));
    expect(signatures.length).toBeGreaterThan(0);
    expect(signatures.filter((h) => !existsSync(join(backupRoot, "wal-archive", h.slice(0, -".hmac".length))))).toEqual([]);
  });

  /** The backups volume's files a restore reads: dumps, base backups and the WAL archive, as paths below it. */
  const restorable = (root: string): string[] => {
    const list = (dir: string) => (existsSync(join(root, dir)) ? readdirSync(join(root, dir)) : []);
    return [
      ...list("dumps")
        .filter((f) => f.endsWith(".dump"))
        .map((f) => `dumps/${f}`),
      ...list("base")
        .filter((b) => existsSync(join(root, "base", b, "base.tar.gz")))
        .map((b) => `base/${b}/base.tar.gz`),
      ...list("wal-archive")
        .filter((f) => /^([0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?|[0-9A-F]{8}\.history)$/.test(f))
        .map((f) => `wal-archive/${f}`),
    ].sort();
  };

  it("signs every dump, base backup and archived WAL file under its path below the volume, with the job's key", () => {
    server.psql("INSERT INTO pitr (batch) SELECT 'E' FROM generate_series(1, 50)", app);
    const segment = server.psql("SELECT pg_walfile_name(pg_switch_wal())").trim();
    for (let i = 0; i < 100 && server.psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver").trim() < segment; i++)
      sleepMs(100);
    expect(readdirSync(join(backupRoot, "wal-archive"))).toContain(segment);
    const files = restorable(backupRoot);
    const unsigned = files.filter((f) => !existsSync(join(backupRoot, `${f}.hmac`)));
    expect(unsigned).toContain(`wal-archive/${segment}`); // archived after the last run signed

    const sign = server.sh(scripts.backup!, ["sign"], backupEnv);
    expect(sign.status, sign.stderr).toBe(0);
    expect(sign.stderr).toMatch(new RegExp(`signed ${unsigned.length} file\\(s\\)`));
    // Node's HMAC of "<path below the volume>\n" and the bytes, with the same key: the name is bound.
    for (const f of files)
      expect(readFileSync(join(backupRoot, `${f}.hmac`), "utf8"), f).toBe(
        `hmac-sha256 ${snapshotMac(join(backupRoot, f), TEST_SIGNING_KEY, f)}\n`,
      );
    expect(files.filter((f) => f.startsWith("dumps/")).length).toBeGreaterThan(0);
    expect(files.filter((f) => f.startsWith("base/")).length).toBe(1);
    expect(files.filter((f) => f.startsWith("wal-archive/")).length).toBeGreaterThan(1);
    // Nothing left to sign: a second round signs nothing and leaves no temp file.
    const again = server.sh(scripts.backup!, ["sign"], backupEnv);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/signed/);
    expect(readdirSync(join(backupRoot, "wal-archive")).filter((f) => f.endsWith(".tmp"))).toEqual([]);

    // Without a usable key the run fails and says which file and what it needs.
    const noKey = server.sh(scripts.backup!, ["sign"], { ...backupEnv, BACKUP_SIGNING_KEY_FILE: join(server.dir, "missing") });
    expect(noKey.status).toBe(1);
    expect(noKey.stderr).toMatch(/no usable signing key in .*missing \(32 to 64 letters and digits/);
  });

  it("admit: of a bucket's copy fetched after a host loss, only our names with valid signatures reach the new volume", () => {
    const files = restorable(backupRoot);
    const host = server.makeOwnedDir("new-host");
    const incoming = join(host, "incoming");
    const put = (rel: string, from: string) => {
      mkdirSync(join(incoming, rel, ".."), { recursive: true });
      copyFileSync(from, join(incoming, rel));
    };
    for (const f of files) {
      put(f, join(backupRoot, f));
      put(`${f}.hmac`, join(backupRoot, `${f}.hmac`));
    }
    const dump = files.find((f) => f.startsWith("dumps/"))!;
    const base = files.find((f) => f.startsWith("base/"))!;
    const wal = files.filter((f) => /^wal-archive\/[0-9A-F]{24}$/.test(f));
    const realBase = base.split("/")[1]!;
    // What someone with write access to the bucket could leave there:
    // a real dump with its signature under a newer name;
    put("dumps/updateio-29991231T235959Z.dump", join(backupRoot, dump));
    put("dumps/updateio-29991231T235959Z.dump.hmac", join(backupRoot, `${dump}.hmac`));
    // a newer base backup (a copy of the real one: restore-pitr.sh would pick it), unsigned, and
    // another signed with a key of its own;
    put("base/29991231T235959Z/base.tar.gz", join(backupRoot, base));
    put("base/29991231T235958Z/base.tar.gz", join(backupRoot, base));
    signSnapshot(join(incoming, "base/29991231T235958Z/base.tar.gz"), "x".repeat(64), "base/29991231T235958Z/base.tar.gz");
    // the real base backup's backup_label, changed (admit reads it from the archive instead);
    writeFileSync(join(incoming, "base", realBase, "backup_label"), "START WAL LOCATION: 0/1 (file FFFFFFFFFFFFFFFFFFFFFFFF)\n");
    // the last real segment's bytes and signature as the segment after it;
    const last = wal[wal.length - 1]!;
    const segment = last.slice("wal-archive/".length);
    const nextName = `wal-archive/${segment.slice(0, 16)}${(parseInt(segment.slice(16), 16) + 1).toString(16).toUpperCase().padStart(8, "0")}`;
    put(nextName, join(backupRoot, last));
    put(`${nextName}.hmac`, join(backupRoot, `${last}.hmac`));
    // a real segment changed by one byte, its signature kept;
    const changed = wal[0]!;
    appendFileSync(join(incoming, changed), "x");
    // a timeline history whose signature is a link to a real one; a file of a name we never write.
    writeFileSync(join(incoming, "wal-archive", "00000009.history"), "1\t0/3000000\tno recovery target specified\n");
    symlinkSync(join(backupRoot, `${wal[1]!}.hmac`), join(incoming, "wal-archive", "00000009.history.hmac"));
    writeFileSync(join(incoming, "wal-archive", "restore.sh"), "#!/bin/sh\n");
    // a name holding a newline, each line one of ours; a link where a segment should be.
    const twoLines = `${wal[0]!.slice("wal-archive/".length)}\nFFFFFFFF0000000000000001`;
    writeFileSync(join(incoming, "wal-archive", twoLines), "two lines");
    symlinkSync(join(backupRoot, wal[1]!), join(incoming, "wal-archive", "0000000100000000000000FE"));
    copyFileSync(join(backupRoot, `${wal[1]!}.hmac`), join(incoming, "wal-archive", "0000000100000000000000FE.hmac"));
    if (process.getuid?.() === 0) execFileSync("chown", ["-R", "postgres:postgres", host]);

    const admitEnv = { ...backupEnv, BACKUP_ROOT: host };
    // The volume itself, a directory above it or one of its restore directories is refused before
    // anything is moved or removed (the live backups would be "admitted" onto themselves).
    const live = { ...backupEnv };
    for (const dir of [backupRoot, join(backupRoot, ".."), join(backupRoot, "wal-archive")]) {
      const before = restorable(backupRoot);
      const wrong = server.sh(scripts.backup!, ["admit", dir], live);
      expect(wrong.status, dir).toBe(2);
      expect(wrong.stderr).toMatch(/error: .* (holds the backups volume|is inside the backups the restore reads)/);
      expect(restorable(backupRoot)).toEqual(before);
    }
    expect(existsSync(join(backupRoot, "pre-restore"))).toBe(true);
    // Without its key it lets nothing in.
    const noKey = server.sh(scripts.backup!, ["admit", incoming], { ...admitEnv, BACKUP_SIGNING_KEY_FILE: join(host, "none") });
    expect(noKey.status).toBe(1);
    expect(noKey.stderr).toMatch(/no usable signing key/);
    expect(restorable(host)).toEqual([]);

    const admit = server.sh(scripts.backup!, ["admit", incoming], admitEnv);
    expect(admit.status, admit.stderr).toBe(1);
    const genuine = files.filter((f) => f !== changed);
    expect(restorable(host)).toEqual(genuine);
    for (const f of genuine) expect(readFileSync(join(host, f)).equals(readFileSync(join(backupRoot, f))), f).toBe(true);
    expect(readFileSync(join(host, "base", realBase, "backup_label"), "utf8")).toBe(
      readFileSync(join(backupRoot, "base", realBase, "backup_label"), "utf8"),
    );
    expect(admit.stderr).toMatch(/refused dumps\/updateio-29991231T235959Z\.dump: its signature does not verify/);
    expect(admit.stderr).toMatch(/refused base\/29991231T235959Z\/base\.tar\.gz: unsigned/);
    expect(admit.stderr).toMatch(/refused base\/29991231T235958Z\/base\.tar\.gz: its signature does not verify/);
    expect(admit.stderr).toContain(`refused ${nextName}: its signature does not verify`);
    expect(admit.stderr).toContain(`refused ${changed}: its signature does not verify`);
    expect(admit.stderr).toMatch(/refused wal-archive\/00000009\.history: its signature does not verify/);
    expect(admit.stderr).toMatch(/not admitted \(left in .*incoming\):[\s\S]*wal-archive\/restore\.sh/);
    expect(admit.stderr).toContain("refused wal-archive/0000000100000000000000FE: not a regular file");
    // The newline name is left and listed, never mistaken for the segment named by its first line.
    expect(admit.stderr).toContain(`wal-archive/${twoLines}`);
    expect(admit.stderr).not.toMatch(/refused wal-archive\/FFFFFFFF0000000000000001/);

    // RESTORE_UNSIGNED=yes (the key was replaced with the state, or files from before signing):
    // the operator first removes what they do not want; every other file of our names goes in,
    // each with a warning, without the signature that did not verify. Links and other names never.
    for (const f of [
      "dumps/updateio-29991231T235959Z.dump",
      nextName,
      "wal-archive/00000009.history",
      "base/29991231T235958Z/base.tar.gz",
    ]) {
      rmSync(join(incoming, f));
      rmSync(join(incoming, `${f}.hmac`));
    }
    // An archive let in unchecked must still be a base backup: one without a backup_label goes back.
    mkdirSync(join(incoming, "base", "29991231T235957Z"));
    writeFileSync(join(incoming, "base", "29991231T235957Z", "base.tar.gz"), "not a tar");
    if (process.getuid?.() === 0) execFileSync("chown", ["-R", "postgres:postgres", incoming]);
    const unsigned = server.sh(scripts.backup!, ["admit", incoming], {
      ...admitEnv,
      RESTORE_UNSIGNED: "yes",
      BACKUP_SIGNING_KEY_FILE: join(host, "none"),
    });
    expect(unsigned.status).toBe(1);
    expect(unsigned.stderr).toContain("warning: admitted base/29991231T235959Z/base.tar.gz unsigned (RESTORE_UNSIGNED=yes)");
    expect(unsigned.stderr).toContain(`warning: admitted ${changed} although its signature does not verify (RESTORE_UNSIGNED=yes)`);
    expect(restorable(host)).toEqual([...files, "base/29991231T235959Z/base.tar.gz"].sort());
    expect(existsSync(join(host, `${changed}.hmac`))).toBe(false);
    expect(unsigned.stderr).toContain("refused base/29991231T235957Z/base.tar.gz: it has no backup_label");
    expect(existsSync(join(incoming, "base", "29991231T235957Z", "base.tar.gz"))).toBe(true);
    expect(existsSync(join(host, "base", "29991231T235957Z"))).toBe(false);
    expect(unsigned.stderr).toContain("refused wal-archive/0000000100000000000000FE: not a regular file");
    expect(unsigned.stderr).toMatch(/not admitted[\s\S]*wal-archive\/restore\.sh/);
  });
});

/** The processes of a process group that are not zombies (a zombie only waits for its parent to reap it), as "pid command". */
function liveProcessesOfGroup(pgid: number): string[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .flatMap((pid) => {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        return []; // gone meanwhile
      }
      // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ")".
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return Number(pgrp) === pgid && state !== "Z"
        ? [`${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()}`]
        : [];
    });
}
