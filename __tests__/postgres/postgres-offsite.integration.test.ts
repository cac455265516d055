import { existsSync, statSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offsiteScriptProblems, renderOffsiteScript, type OffsiteScriptInput } from "../../constructs/postgres/renderers/postgres-offsite";
import { describeIfBinary } from "../support/binaries";
import { execAsync } from "../support/host-lost";
import { signSnapshot } from "../support/snapshot-signing";

const FIXED_TIME = new Date("2026-11-02T02:00:00Z");

const INPUT: OffsiteScriptInput = {
  endpoint: "https://s3.example.com",
  bucket: "updateio-backups",
  prefix: "prod/postgres",
  accessKeyIdFile: "/run/secrets/offsite_access_key_id",
  secretAccessKeyFile: "/run/secrets/offsite_secret_access_key",
};

describe("renderOffsiteScript (unit)", () => {
  it("renders defaults the container overrides nothing of", async () => {
    const s = renderOffsiteScript(INPUT);
    expect(s).toContain(': "${OFFSITE_BUCKET:=updateio-backups}"');
    expect(s).toContain(': "${OFFSITE_PREFIX:=prod/postgres}"');
    expect(s).toContain(': "${OFFSITE_INTERVAL_SECONDS:=900}"');
    expect(s).toContain(': "${OFFSITE_PROVIDER:=Other}"');
    // Copy, never sync or delete: a wiped host must not wipe the off-host copy.
    expect(s).toMatch(/rclone copy --immutable/);
    expect(s).not.toMatch(/rclone (sync|delete|purge|move)/);
  });

  it("reports every invalid input at once, each naming the key and the fix", async () => {
    const problems = offsiteScriptProblems({
      ...INPUT,
      endpoint: "s3.example.com/x",
      bucket: "B",
      prefix: "/lead",
      region: "EU",
      provider: "a b",
      accessKeyIdFile: "rel",
      intervalSeconds: 5,
    });
    expect(problems).toHaveLength(7);
    expect(problems.join("\n")).toMatch(/offsite\.endpoint: .* e\.g\. https:\/\/s3\.example\.com/);
    expect(problems.join("\n")).toMatch(/offsite\.bucket/);
    expect(problems.join("\n")).toMatch(/offsite\.prefix: .* e\.g\. prod\/postgres/);
    expect(problems.join("\n")).toMatch(/offsite\.region: .* e\.g\. eu-central-1/);
    expect(problems.join("\n")).toMatch(/offsite\.provider/);
    expect(problems.join("\n")).toMatch(/offsite\.accessKeyIdFile: "rel" must be an absolute path/);
    expect(problems.join("\n")).toMatch(/offsite\.intervalSeconds: 5 must be a whole number from 60 to 86400/);
    expect(() => renderOffsiteScript({ ...INPUT, bucket: "B" })).toThrow(/offsite\.bucket/);
  });
});

// The rendered script, unchanged, with Debian's rclone against a real S3 API (s3rver, an S3
// server on loopback). Only paths, endpoint and key files are pointed at temp files through the
// script's own overridable defaults. The official rclone image's rclone is newer than Debian's
// 1.60; the flags used here exist in both.
describeIfBinary(["rclone", "sh"], "off-host copy with rclone against an S3 server on loopback", () => {
  const dir = mkdtempSync(join(tmpdir(), "updateio-offsite-"));
  const root = join(dir, "backups");
  const state = join(dir, "state");
  const s3dir = join(dir, "s3");
  const script = join(dir, "offsite.sh");
  let server: S3rver | undefined;
  let endpoint = "";
  const keyFile = join(dir, "key_id");
  const secretFile = join(dir, "secret");

  const env = (extra: Record<string, string> = {}) => ({
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    BACKUP_ROOT: root,
    OFFSITE_STATE_DIR: state,
    OFFSITE_ENDPOINT: endpoint,
    OFFSITE_ACCESS_KEY_ID_FILE: keyFile,
    OFFSITE_SECRET_ACCESS_KEY_FILE: secretFile,
    ...extra,
  });
  // The S3 server runs in this process: children must be awaited, never spawned synchronously.
  const exec = (cmd: string, args: string[], childEnv: Record<string, string | undefined>) => execAsync(cmd, args, childEnv, 60_000);
  const run = (arg: string, extra: Record<string, string> = {}) => exec("sh", [script, arg], env(extra));
  const remote = async (): Promise<string[]> => {
    const r = await exec("rclone", ["lsf", "-R", "--files-only", `:s3:updateio-backups/prod/postgres`], {
      PATH: process.env.PATH,
      HOME: state,
      RCLONE_CONFIG: "/dev/null",
      RCLONE_S3_PROVIDER: "Other",
      RCLONE_S3_ENDPOINT: endpoint,
      RCLONE_S3_ACCESS_KEY_ID: "S3RVER",
      RCLONE_S3_SECRET_ACCESS_KEY: "S3RVER",
    });
    if (r.status !== 0) throw new Error(`rclone lsf failed: ${r.stderr}`);
    return r.stdout.split("\n").filter(Boolean).sort();
  };
  /** Writes a file of the backups volume, signed by default as the scheduler signs it (under its path below the volume). */
  const put = (path: string, content: string, opts: { signed?: boolean; time?: Date } = {}) => {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), content);
    // Whole seconds, so a test can put a file back exactly as it was copied (rclone compares times).
    const time = opts.time ?? FIXED_TIME;
    utimesSync(join(root, path), time, time);
    if (opts.signed ?? true) {
      signSnapshot(join(root, path), undefined, path);
      utimesSync(join(root, `${path}.hmac`), time, time);
    }
  };

  beforeAll(async () => {
    mkdirSync(s3dir, { recursive: true });
    server = new S3rver({
      port: 0,
      address: "127.0.0.1",
      silent: true,
      directory: s3dir,
      configureBuckets: [{ name: "updateio-backups", configs: [] }],
    });
    const { port } = (await server.run()) as unknown as { port: number };
    endpoint = `http://127.0.0.1:${port}`;
    writeFileSync(script, renderOffsiteScript({ ...INPUT, intervalSeconds: 60 }));
    writeFileSync(keyFile, "S3RVER\n");
    writeFileSync(secretFile, "S3RVER\n");
    put("dumps/updateio-20261101T020000Z.dump", "dump-1");
    put("dumps/updateio-20261102T020000Z.dump", "dump-2");
    put("dumps/.tmp-updateio-20261103T020000Z.dump", "partial", { signed: false });
    put("base/20261101T020000Z/base.tar.gz", "base");
    put("base/20261101T020000Z/backup_label", "label", { signed: false });
    put("base/.tmp-20261108T020000Z/base.tar.gz", "partial base", { signed: false });
    put("wal-archive/000000010000000000000001", "wal-1");
    put("wal-archive/000000010000000000000002.tmp", "wal being archived", { signed: false });
    put("backup-status", "not copied", { signed: false });
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("copies the signed dumps, base backups and WAL, each with its signature, never temp files or the label, and records success", async () => {
    const r = await run("once");
    expect(r.status, r.stderr).toBe(0);
    expect(await remote()).toEqual([
      "base/20261101T020000Z/base.tar.gz",
      "base/20261101T020000Z/base.tar.gz.hmac",
      "dumps/updateio-20261101T020000Z.dump",
      "dumps/updateio-20261101T020000Z.dump.hmac",
      "dumps/updateio-20261102T020000Z.dump",
      "dumps/updateio-20261102T020000Z.dump.hmac",
      "wal-archive/000000010000000000000001",
      "wal-archive/000000010000000000000001.hmac",
    ]);
    expect((await run("health")).status).toBe(0);
    expect(readFileSync(join(state, "offsite-status"), "utf8")).toMatch(/^last_result=ok$/m);
    const metrics = readFileSync(join(root, "metrics", "postgres_offsite.prom"), "utf8");
    // node-exporter runs as nobody: the metrics must be world-readable (the backups are not).
    expect(statSync(join(root, "metrics")).mode & 0o777).toBe(0o755);
    expect(statSync(join(root, "metrics", "postgres_offsite.prom")).mode & 0o777).toBe(0o644);
    expect(metrics).toMatch(/^updateio_backup_offsite_success 1$/m);
    expect(metrics).toMatch(/^updateio_backup_offsite_last_success_timestamp_seconds [0-9]{10}$/m);
  });

  it("an unsigned file waits for its signature; one unsigned for over 15 minutes fails the round, after the signed ones are copied", async () => {
    put("wal-archive/000000010000000000000003", "wal-3", { signed: false, time: new Date() });
    const fresh = await run("once");
    expect(fresh.status, fresh.stderr).toBe(0);
    expect(await remote()).not.toContain("wal-archive/000000010000000000000003");

    const twentyMinutesAgo = new Date(Date.now() - 20 * 60_000);
    put("wal-archive/000000010000000000000003", "wal-3", { signed: false, time: twentyMinutesAgo });
    put("wal-archive/000000010000000000000004", "wal-4", { time: new Date() });
    const late = await run("once");
    expect(late.status).toBe(1);
    expect(late.stderr).toMatch(
      /error: unsigned for over 15 minutes, so not copied: wal-archive\/000000010000000000000003 \(fix: read the scheduler's log, docker logs <env>-postgres-backup; it signs every 60 s\)/,
    );
    expect((await run("health")).stdout).toMatch(/unhealthy: last copy failed: .*unsigned for over 15 minutes/);
    const copied = await remote();
    expect(copied).toContain("wal-archive/000000010000000000000004.hmac");
    expect(copied).not.toContain("wal-archive/000000010000000000000003");

    put("wal-archive/000000010000000000000003", "wal-3", { time: twentyMinutesAgo });
    const signed = await run("once");
    expect(signed.status, signed.stderr).toBe(0);
    expect(await remote()).toEqual(
      expect.arrayContaining(["wal-archive/000000010000000000000003", "wal-archive/000000010000000000000003.hmac"]),
    );
  });

  it("never deletes remotely: a dump pruned on the host stays off-host", async () => {
    rmSync(join(root, "dumps/updateio-20261101T020000Z.dump"));
    rmSync(join(root, "dumps/updateio-20261101T020000Z.dump.hmac"));
    put("dumps/updateio-20261104T020000Z.dump", "dump-4");
    expect((await run("once")).status).toBe(0);
    expect(await remote()).toEqual(
      expect.arrayContaining(["dumps/updateio-20261101T020000Z.dump", "dumps/updateio-20261104T020000Z.dump"]),
    );
  });

  it("refuses to overwrite a changed file (immutable), records the failure, turns unhealthy and sets the metric to 0", async () => {
    put("dumps/updateio-20261102T020000Z.dump", "tampered, different size");
    const r = await run("once");
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/off-host copy of dumps .* failed/);
    const health = await run("health");
    expect(health.status).toBe(1);
    expect(health.stdout).toMatch(/unhealthy: last copy failed/);
    expect(readFileSync(join(root, "metrics", "postgres_offsite.prom"), "utf8")).toMatch(/^updateio_backup_offsite_success 0$/m);
    // Back to the file as copied (content and time), so later runs succeed again.
    put("dumps/updateio-20261102T020000Z.dump", "dump-2");
  });

  it("fails visibly with an unknown access key, and recovers", async () => {
    put("dumps/updateio-20261105T020000Z.dump", "dump-5");
    writeFileSync(keyFile, "UNKNOWNKEY\n");
    const r = await run("once");
    writeFileSync(keyFile, "S3RVER\n");
    expect(r.status).not.toBe(0);
    expect((await run("health")).status).toBe(1);
    const again = await run("once");
    expect(again.status, again.stderr).toBe(0);
    expect((await run("health")).status).toBe(0);
  });

  it("a signature left behind by a pruned dump is not copied and does not fail the round", async () => {
    for (const f of readdirSync(join(root, "dumps"))) if (f.endsWith(".dump")) rmSync(join(root, "dumps", f));
    const before = await remote();
    const r = await run("once");
    expect(r.status, r.stderr).toBe(0);
    expect(await remote()).toEqual(before);
  });

  it("is unhealthy before its first run", async () => {
    const r = await run("health", { OFFSITE_STATE_DIR: join(dir, "never-ran") });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/no off-host copy has run yet/);
    expect(existsSync(join(dir, "never-ran"))).toBe(false);
  });
});
