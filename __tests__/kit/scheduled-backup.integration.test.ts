import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { renderScheduledBackupScript } from "../../constructs/kit/scheduled-backup-script";
import { describeIfBinary, itIfBinary } from "../support/binaries";
import { buildStoreBackups } from "../support/store-backups";
import { snapshotMac, writeSigningKey } from "../support/snapshot-signing";
import { seedGrafanaLikeDb } from "../support/store-fixtures";

// The rendered scripts, run with sh on this machine: the generic scheduler's retention, status,
// metrics and health; Grafana's online SQLite snapshot (sqlite3 CLI and python3's sqlite3, the
// tools the job's image may have); Caddy's data tar. Grafana and Caddy themselves are not
// installed here: a SQLite file and a directory shaped like theirs stand in.
const built = buildStoreBackups("prod");
const root = mkdtempSync(join(tmpdir(), "updateio-store-backups-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function workspace(name: string, files: Record<string, string>) {
  const dir = join(root, name);
  const scripts = join(dir, "scripts");
  mkdirSync(scripts, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(scripts, file), content);
  // The store's signing key, as the job's secret file (its own path here).
  const key = writeSigningKey(dir);
  const sh = (script: string, args: string[], env: Record<string, string> = {}) =>
    spawnSync("sh", [join(scripts, script), ...args], {
      env: {
        ...process.env,
        BACKUP_ROOT: join(dir, "backups"),
        BACKUP_HOOKS: join(scripts, "hooks.sh"),
        BACKUP_SIGNING_KEY_FILE: key,
        TMPDIR: dir,
        ...env,
      },
      encoding: "utf8",
      timeout: 60_000,
    });
  return { dir, scripts, sh, key, backups: join(dir, "backups") };
}

describeIfBinary(["shellcheck"], "the rendered backup scripts pass shellcheck", () => {
  const scripts: Record<string, string> = {
    "redis backup.sh": built.redisBackup.backup.script,
    "redis hooks.sh": built.redisBackup.hooks,
    "redis restore.sh": built.redisBackup.restoreScript,
    "rabbitmq hooks.sh": built.rabbitBackup.hooks,
    "rabbitmq restore.sh": built.rabbitBackup.restoreScript,
    "grafana hooks.sh": built.grafanaBackup.hooks,
    "grafana restore.sh": built.grafanaBackup.restoreScript,
    "edge hooks.sh": built.edgeBackup.hooks,
    "edge restore.sh": built.edgeBackup.restoreScript,
  };
  for (const [name, text] of Object.entries(scripts)) {
    it(name, () => {
      const r = spawnSync("shellcheck", ["-s", "sh", "-"], { input: text, encoding: "utf8" });
      expect(r.stdout + r.stderr).toBe("");
      expect(r.status).toBe(0);
    });
  }
});

describeIfBinary(["sh"], "ScheduledBackup's scheduler: retention, status, metrics, health", () => {
  const stubHooks = `snapshot_describe() { echo stub; }
snapshot_take() { [ -z "\${FAIL:-}" ] || { echo "error: stub failure" >&2; return 1; }; echo data > "$1"; }
snapshot_verify() { grep -q data "$1"; }
snapshot_items() { echo "items=1"; }
`;
  const keep = 14;
  const script = renderScheduledBackupScript({
    store: "edge",
    suffix: ".tar.gz",
    backupRoot: "/backups",
    hooks: stubHooks,
    schedule: { everyMinutes: 1440, at: "03:40" },
    keep,
  });
  const w = workspace("scheduler", { "backup.sh": script });

  it("keeps the newest `keep` snapshots, never prunes after a failed run, and reports both in status and metrics", () => {
    mkdirSync(join(w.backups, "snapshots"), { recursive: true });
    // 20 older snapshots (two in 2020), a foreign file and a leftover temp file.
    const old = Array.from({ length: 20 }, (_, i) => `edge-202001${String(i + 1).padStart(2, "0")}T034000Z.tar.gz`);
    // Each with its signature, which goes with it when it is pruned.
    for (const f of [...old, ...old.map((o) => `${o}.hmac`), "notes.txt", ".tmp-edge-20200101T000000Z.tar.gz"])
      writeFileSync(join(w.backups, "snapshots", f), "x");
    const failed = w.sh("backup.sh", ["once"], { FAIL: "1" });
    expect(failed.status).not.toBe(0);
    expect(readdirSync(join(w.backups, "snapshots")).filter((f) => f.startsWith("edge-"))).toHaveLength(40);
    expect(readFileSync(join(w.backups, "backup-status"), "utf8")).toMatch(/^last_result=error$/m);
    expect(readFileSync(join(w.backups, "metrics", "edge_backup.prom"), "utf8")).toMatch(
      /^updateio_backup_last_run_success\{store="edge"\} 0$/m,
    );
    expect(w.sh("backup.sh", ["health"]).status).toBe(1);

    const ok = w.sh("backup.sh", ["once"]);
    expect(ok.status, ok.stderr).toBe(0);
    const left = readdirSync(join(w.backups, "snapshots")).sort();
    const kept = left.filter((f) => f.startsWith("edge-") && f.endsWith(".tar.gz"));
    expect(kept).toHaveLength(keep);
    expect(kept).toEqual([...old.slice(old.length - (keep - 1)), kept[kept.length - 1]]);
    // Every snapshot kept has its signature and no pruned one's is left; the new one's is its HMAC under its name.
    expect(left.filter((f) => f.endsWith(".hmac"))).toEqual(kept.map((f) => `${f}.hmac`));
    const newest = join(w.backups, "snapshots", kept[kept.length - 1]!);
    expect(readFileSync(`${newest}.hmac`, "utf8")).toBe(`hmac-sha256 ${snapshotMac(newest)}\n`);
    expect(left).toContain("notes.txt");
    expect(left.some((f) => f.startsWith(".tmp-"))).toBe(false);
    const metrics = readFileSync(join(w.backups, "metrics", "edge_backup.prom"), "utf8");
    expect(metrics).toMatch(/^updateio_backup_last_run_success\{store="edge"\} 1$/m);
    expect(metrics).toMatch(new RegExp(`^updateio_backup_snapshots\\{store="edge"\\} ${keep}$`, "m"));
    expect(metrics).toMatch(/^updateio_backup_last_size_bytes\{store="edge"\} 5$/m);
    expect(statSync(join(w.backups, "metrics", "edge_backup.prom")).mode & 0o777).toBe(0o644);
    expect(statSync(join(w.backups, "snapshots", kept[kept.length - 1]!)).mode & 0o777).toBe(0o600);
    expect(w.sh("backup.sh", ["health"]).status).toBe(0);
    expect(w.sh("backup.sh", ["latest"]).stdout.trim()).toBe(join(w.backups, "snapshots", kept[kept.length - 1]!));
    // A name sorting last without a signature: `latest` names the newest signed one, as a restore would take it.
    writeFileSync(join(w.backups, "snapshots", "edge-29991231T000000Z.tar.gz"), "planted");
    const latest = w.sh("backup.sh", ["latest"]);
    expect(latest.stdout.trim()).toBe(join(w.backups, "snapshots", kept[kept.length - 1]!));
    expect(latest.stderr).toContain("warning: skipped edge-29991231T000000Z.tar.gz: no valid signature");
  });

  it("lists every snapshot, oldest first, marked as a restore judges it", () => {
    const l = workspace("list", { "backup.sh": script });
    expect(l.sh("backup.sh", ["once"]).status).toBe(0);
    const snapshots = join(l.backups, "snapshots");
    const real = readdirSync(snapshots).find((f) => f.endsWith(".tar.gz"))!;
    // Unsigned; signed with another key; the real one copied under a newer name with its signature.
    writeFileSync(join(snapshots, "edge-20200101T000000Z.tar.gz"), "data");
    writeFileSync(join(snapshots, "edge-20200102T000000Z.tar.gz"), "data");
    writeFileSync(join(snapshots, "edge-20200102T000000Z.tar.gz.hmac"), `hmac-sha256 ${"0".repeat(64)}\n`);
    copyFileSync(join(snapshots, real), join(snapshots, "edge-29991231T000000Z.tar.gz"));
    copyFileSync(join(snapshots, `${real}.hmac`), join(snapshots, "edge-29991231T000000Z.tar.gz.hmac"));
    const listed = l.sh("backup.sh", ["list"]);
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toBe(
      [
        "edge-20200101T000000Z.tar.gz unsigned",
        "edge-20200102T000000Z.tar.gz unsigned",
        `${real} signed`,
        "edge-29991231T000000Z.tar.gz unsigned",
        "",
      ].join("\n"),
    );
    // Without a usable key the names are still listed, unchecked, with a warning.
    const noKey = l.sh("backup.sh", ["list"], { BACKUP_SIGNING_KEY_FILE: join(l.dir, "no-such-key") });
    expect(noKey.status).toBe(0);
    expect(noKey.stdout.trim().split("\n")).toEqual(
      listed.stdout
        .trim()
        .split("\n")
        .map((line) => line.replace(/ \w+$/, " unchecked")),
    );
    expect(noKey.stderr).toContain("warning: signatures not checked: the signing key");
  });

  it.each([
    ["missing", undefined],
    ["not 32 to 64 letters and digits (a trailing newline)", "k".repeat(40) + "\n"],
  ])("writes no snapshot when the signing key is %s, and reports the run failed", (_what, content) => {
    const k = workspace(`key-${_what.split(" ")[0]}`, { "backup.sh": script });
    const keyFile = join(k.dir, "key");
    if (content !== undefined) writeFileSync(keyFile, content);
    const r = k.sh("backup.sh", ["once"], { BACKUP_SIGNING_KEY_FILE: keyFile });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`error: the signing key ${keyFile} is missing or not 32 to 64 letters and digits`);
    // Nothing half-written: no snapshot, no signature, no temp file.
    expect(readdirSync(join(k.backups, "snapshots"))).toEqual([]);
    expect(readFileSync(join(k.backups, "backup-status"), "utf8")).toMatch(/^last_result=error$/m);
  });
});

const sqliteTools = (["sqlite3", "python3"] as const).filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status === 0);
if (!sqliteTools.includes("sqlite3"))
  console.warn("[skipped] GrafanaBackup with the sqlite3 CLI: sqlite3 is not installed (command -v sqlite3)");

describeIfBinary(
  ["sh", "gzip", "python3"],
  "GrafanaBackup: online SQLite snapshot, wipe, restore (a SQLite file stands in for Grafana's)",
  () => {
    for (const tool of sqliteTools) {
      it(`with ${tool}: every table and row comes back (online backup API, database left in place)`, () => {
        const w = workspace(`grafana-${tool}`, {
          "backup.sh": built.grafanaBackup.backup.script,
          "hooks.sh": built.grafanaBackup.hooks,
          "restore.sh": built.grafanaBackup.restoreScript,
        });
        const data = join(w.dir, "grafana-data");
        mkdirSync(data);
        const db = join(data, "grafana.db");
        const py = (code: string, ...args: string[]) => spawnSync("python3", ["-c", code, ...args], { encoding: "utf8" });
        const seed = seedGrafanaLikeDb(db, 5000);
        expect(seed.status, seed.stderr).toBe(0);
        const env = { GRAFANA_DB: db, SQLITE_TOOL: tool };
        const run = w.sh("backup.sh", ["once"], env);
        expect(run.status, run.stderr).toBe(0);
        const status = readFileSync(join(w.backups, "backup-status"), "utf8");
        expect(status).toMatch(/^last_items=tables=3 rows=5250$/m);
        expect(readdirSync(join(w.backups, "snapshots"))[0]).toMatch(/^grafana-\d{8}T\d{6}Z\.db\.gz$/);

        rmSync(db);
        writeFileSync(db, "corrupt");
        const t0 = performance.now();
        const restore = w.sh("restore.sh", ["latest", data]);
        expect(restore.status, restore.stderr).toBe(0);
        const ms = Math.round(performance.now() - t0);
        const counts = py(
          `import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("pragma integrity_check").fetchone()[0], *[c.execute("select count(*) from " + t).fetchone()[0] for t in ("user", "dashboard", "annotation")])`,
          db,
        );
        expect(counts.stdout.trim()).toBe("ok 50 200 5000");
        expect(readdirSync(data).some((f) => f.startsWith("pre-restore-"))).toBe(true);
        console.info(
          `[figures] grafana (${tool}): 5250 rows in 3 tables written, ${counts.stdout
            .trim()
            .split(" ")
            .slice(1)
            .map(Number)
            .reduce((a, b) => a + b)} restored; restore ${ms} ms`,
        );
      });
    }
  },
);

describeIfBinary(
  ["sh", "tar", "gzip"],
  "EdgeBackup: tar of Caddy's data, wipe, restore (a directory shaped like Caddy's stands in)",
  () => {
    it("brings back the ACME account, every certificate and key, with their modes; leaves the locks out", () => {
      const w = workspace("edge", {
        "backup.sh": built.edgeBackup.backup.script,
        "hooks.sh": built.edgeBackup.hooks,
        "restore.sh": built.edgeBackup.restoreScript,
      });
      const data = join(w.dir, "caddy-data");
      const files: string[] = [
        "caddy/acme/acme-v02.api.letsencrypt.org-directory/users/ops@example.com/ops.json",
        "caddy/acme/acme-v02.api.letsencrypt.org-directory/users/ops@example.com/ops.key",
        ...["api", "admin", "app", "grafana"].flatMap((h) =>
          ["crt", "key", "json"].map(
            (e) => `caddy/certificates/acme-v02.api.letsencrypt.org-directory/${h}.example.com/${h}.example.com.${e}`,
          ),
        ),
        "caddy/pki/authorities/local/root.crt",
        "caddy/pki/authorities/local/root.key",
        "caddy/locks/issue_cert_api.example.com.lock",
      ];
      for (const f of files) {
        mkdirSync(join(data, f, ".."), { recursive: true });
        writeFileSync(join(data, f), `content of ${f}`);
        chmodSync(join(data, f), f.endsWith(".key") ? 0o600 : 0o644);
      }
      const run = w.sh("backup.sh", ["once"], { CADDY_DATA: data });
      expect(run.status, run.stderr).toBe(0);
      expect(readFileSync(join(w.backups, "backup-status"), "utf8")).toMatch(/^last_items=certificates=4 acme_accounts=1 files=16$/m);

      rmSync(join(data, "caddy"), { recursive: true });
      const t0 = performance.now();
      const restore = w.sh("restore.sh", ["latest", data]);
      expect(restore.status, restore.stderr).toBe(0);
      const ms = Math.round(performance.now() - t0);
      const restored = files.filter((f) => {
        try {
          return readFileSync(join(data, f), "utf8") === `content of ${f}`;
        } catch {
          return false;
        }
      });
      expect(restored).toEqual(files.filter((f) => !f.includes("/locks/")));
      expect(statSync(join(data, files[1]!)).mode & 0o777).toBe(0o600);
      console.info(
        `[figures] edge: ${files.length - 1} files written (4 certificates, 1 ACME account, the local CA), ${restored.length} restored; restore ${ms} ms`,
      );
    });
  },
);

itIfBinary(["sh"], "restore scripts refuse a missing argument with their usage line", () => {
  const w = workspace("usage", { "restore.sh": built.redisBackup.restoreScript });
  const r = w.sh("restore.sh", []);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/^usage: sh restore.sh/);
});
