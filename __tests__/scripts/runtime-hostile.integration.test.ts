// Hostile run-time input for the rendered restore scripts: a tampered snapshot (tar members leaving the
// data directory, links, devices, setuid files), files planted in a backups volume so that "latest"
// picks them (a name sorting last, a future stamp, a link to another file, a name with a newline), and
// operator arguments that smuggle SQL or config lines through a newline. Each script runs as rendered,
// with /bin/sh and with busybox sh (the Alpine images' shell), and the edge restore with GNU tar and
// busybox tar (the caddy image's tar); psql, pg_restore and rabbitmqctl are stubs that record what they
// were asked to do.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { renderEdgeRestoreScript } from "../../constructs/edge/renderers/edge-backup";
import { renderGrafanaRestoreScript } from "../../constructs/observability/renderers/grafana-backup";
import { RESTORE_DRILL_SCRIPT } from "../../constructs/postgres/postgres-restore-drill";
import { renderRestoreDumpScript, renderRestorePitrScript } from "../../constructs/postgres/renderers/backup-scripts";
import { renderPreMigrationDumpScript } from "../../constructs/postgres/renderers/pre-migration-dump";
import { renderRabbitRestoreScript } from "../../constructs/rabbitmq/renderers/rabbitmq-backup";
import { describeIf, requireBinary, type Requirement } from "../support/binaries";
import { PRE_MIGRATION_DUMP_INPUT } from "../support/postgres-inputs";
import { signSnapshot, snapshotMac, TEST_SIGNING_KEY, writeSigningKey } from "../support/snapshot-signing";

const root = mkdtempSync(join(tmpdir(), "updateio-hostile-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dirs = 0;
function freshDir(name: string): string {
  const d = join(root, `${++dirs}-${name.replace(/[^a-z0-9]+/gi, "-")}`);
  mkdirSync(d, { recursive: true });
  return d;
}

interface Shell {
  readonly name: string;
  readonly requirement: Requirement;
  readonly argv: (script: string, args: readonly string[]) => [string, string[]];
}

const SHELLS: readonly Shell[] = [
  { name: "/bin/sh", requirement: requireBinary("sh"), argv: (s, a) => ["/bin/sh", [s, ...a]] },
  { name: "busybox sh", requirement: requireBinary("busybox"), argv: (s, a) => ["busybox", ["sh", s, ...a]] },
];

/** Runs a rendered script (written to a file) with the shell; PATH gets `binDir` first when given. */
function run(shell: Shell, script: string, args: readonly string[], env: Record<string, string>, binDir?: string, cwd?: string) {
  const [cmd, argv] = shell.argv(script, args);
  const path = binDir === undefined ? process.env.PATH : `${binDir}:${process.env.PATH}`;
  return spawnSync(cmd, argv, { cwd, env: { ...process.env, PATH: path, ...env }, encoding: "utf8", timeout: 30_000 });
}

function writeScript(dir: string, name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** A directory of executables: stubs (shell text) and links (e.g. tar -> busybox). */
function binDir(stubs: Record<string, string>, links: Record<string, string> = {}): string {
  const d = freshDir("bin");
  for (const [name, body] of Object.entries(stubs)) {
    writeFileSync(join(d, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(d, name), 0o755);
  }
  for (const [name, target] of Object.entries(links)) symlinkSync(target, join(d, name));
  return d;
}

// --- a minimal ustar writer: the hostile archives are built byte by byte, independent of any tar ---

interface Member {
  readonly name: string;
  /** "0" file, "1" hard link, "2" symlink, "3" character device, "5" directory. */
  readonly type?: "0" | "1" | "2" | "3" | "5";
  readonly data?: string;
  readonly mode?: number;
  readonly link?: string;
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, "0")}\0`;
}

function tarGz(members: readonly Member[]): Buffer {
  const blocks: Buffer[] = [];
  for (const m of members) {
    const type = m.type ?? "0";
    const data = Buffer.from(type === "0" ? (m.data ?? "") : "");
    const h = Buffer.alloc(512);
    const put = (s: string, at: number) => h.write(s, at, "latin1");
    if (Buffer.byteLength(m.name) > 100) throw new Error(`member name too long: ${m.name}`);
    put(m.name, 0);
    put(octal(m.mode ?? (type === "5" ? 0o755 : 0o644), 8), 100);
    put(octal(0, 8), 108);
    put(octal(0, 8), 116);
    put(octal(data.length, 12), 124);
    put(octal(1_700_000_000, 12), 136);
    put("        ", 148);
    put(type, 156);
    put(m.link ?? "", 157);
    put("ustar\u000000", 257);
    put("root", 265);
    put("root", 297);
    put(octal(0, 8), 329);
    put(octal(0, 8), 337);
    let sum = 0;
    for (const b of h) sum += b;
    put(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** Every path under `dir` (relative), links not followed. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, encoding: "utf8" }) as string[]).sort();
}

// ------------------------------------------------------------------------------------------------
// EdgeBackup's restore.sh: a tampered snapshot extracted as root.

describeIf([requireBinary("sh"), requireBinary("tar"), requireBinary("gzip")], "edge restore.sh refuses unsafe tar members", () => {
  const TARS = [
    { name: "GNU tar", requirement: requireBinary("tar"), links: (): Record<string, string> => ({}) },
    {
      name: "busybox tar",
      requirement: requireBinary("busybox"),
      links: (): Record<string, string> => ({ tar: requireBinary("busybox").path! }),
    },
  ];

  /** Each hostile archive: members, plus what must not exist afterwards (paths relative to the case dir). */
  const cases = (outside: string): { name: string; members: Member[]; planted: string[] }[] => [
    {
      name: "a member outside caddy/",
      members: [
        { name: "./caddy/ok.crt", data: "x" },
        { name: "./planted", data: "p" },
      ],
      planted: ["data/planted"],
    },
    {
      name: "a .. member",
      members: [{ name: "./caddy/../../escape-dotdot", data: "p" }],
      planted: ["escape-dotdot", "data/escape-dotdot"],
    },
    { name: "an absolute member", members: [{ name: `${outside}/escape-abs`, data: "p" }], planted: ["outside/escape-abs"] },
    {
      name: "a symlink leaving the volume",
      members: [{ name: "./caddy/certificates", type: "2", link: outside }],
      planted: ["data/caddy/certificates"],
    },
    {
      name: "a symlink, then a file written through it",
      members: [
        { name: "./caddy/lnk", type: "2", link: outside },
        { name: "./caddy/lnk/through", data: "p" },
      ],
      planted: ["outside/through", "data/caddy/lnk"],
    },
    {
      name: "a hard link to a file outside",
      members: [{ name: "./caddy/hl", type: "1", link: `${outside}/secret` }],
      planted: ["data/caddy/hl"],
    },
    { name: "a device file", members: [{ name: "./caddy/dev", type: "3" }], planted: ["data/caddy/dev"] },
    { name: "a setuid file", members: [{ name: "./caddy/suid", data: "#!/bin/sh\n", mode: 0o4755 }], planted: ["data/caddy/suid"] },
  ];

  const script = renderEdgeRestoreScript("/backups");

  for (const shell of SHELLS) {
    for (const tar of TARS) {
      describeIf([shell.requirement, tar.requirement], `${shell.name}, ${tar.name}`, () => {
        const bin = binDir({}, tar.links());
        /** Writes the archive as the edge's snapshot in `dir`, signed with the store's key, and restores it into `data`. */
        const restore = (dir: string, data: string, archive: Buffer) => {
          const snapshot = join(dir, "edge-20200101T000000Z.tar.gz");
          writeFileSync(snapshot, archive);
          signSnapshot(snapshot);
          return run(
            shell,
            writeScript(dir, "restore.sh", script),
            [snapshot, data],
            { BACKUP_ROOT: join(dir, "backups"), ...keyEnv(dir) },
            bin,
          );
        };
        for (const c of cases("OUTSIDE")) {
          it(`refuses ${c.name}: nothing written, the current data left in place`, () => {
            const dir = freshDir(`edge-${c.name}`);
            const outside = join(dir, "outside");
            mkdirSync(outside);
            writeFileSync(join(outside, "secret"), "secret");
            const data = join(dir, "data");
            mkdirSync(join(data, "caddy"), { recursive: true });
            writeFileSync(join(data, "caddy", "current.crt"), "current");
            const members = cases(outside).find((x) => x.name === c.name)!.members;
            // Signed: the member checks hold even for a snapshot made with the key.
            const r = restore(dir, data, tarGz(members));
            expect(r.status, r.stderr).not.toBe(0);
            expect(r.stderr).toContain("unsafe members");
            for (const p of c.planted) expect(existsSync(join(dir, p)) || isLink(join(dir, p)), p).toBe(false);
            expect(readFileSync(join(outside, "secret"), "utf8")).toBe("secret");
            expect(tree(data)).toEqual(["caddy", "caddy/current.crt"]);
          });
        }

        it("still restores a plain snapshot (files and directories under caddy/)", () => {
          const dir = freshDir("edge-plain");
          const data = join(dir, "data");
          mkdirSync(join(data, "caddy"), { recursive: true });
          writeFileSync(join(data, "caddy", "old.crt"), "old");
          const r = restore(
            dir,
            data,
            tarGz([
              { name: "./caddy/", type: "5" },
              { name: "./caddy/certificates/", type: "5" },
              { name: "./caddy/certificates/a.example.com.crt", data: "crt" },
              { name: "./caddy/acme/x/users/ops@example.com/ops.key", data: "key", mode: 0o600 },
            ]),
          );
          expect(r.status, r.stderr).toBe(0);
          expect(readFileSync(join(data, "caddy/certificates/a.example.com.crt"), "utf8")).toBe("crt");
          expect(lstatSync(join(data, "caddy/acme/x/users/ops@example.com/ops.key")).mode & 0o777).toBe(0o600);
          expect(existsSync(join(data, "caddy", "old.crt"))).toBe(false);
        });
      });
    }
  }
});

/** The store's signing key, written into `dir`, as the restore reads it (the backup job's secret file). */
function keyEnv(dir: string): { BACKUP_SIGNING_KEY_FILE: string } {
  return { BACKUP_SIGNING_KEY_FILE: writeSigningKey(dir) };
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------------------------------------
// "latest" in the kit's restore-args.sh (Grafana's restore.sh here: gzip only) and in RabbitMQ's.

describeIf(
  [requireBinary("sh"), requireBinary("gzip")],
  "restore.sh latest ignores planted snapshots (grafana, kit's restore-args)",
  () => {
    const script = renderGrafanaRestoreScript("/backups");
    const legit = "grafana-20200101T000000Z.db.gz";
    const newer = "grafana-20250101T000000Z.db.gz";
    const plants: { name: string; plant: (snapshots: string, dir: string) => void }[] = [
      { name: "a name sorting last (zzz.db.gz)", plant: (s) => writeFileSync(join(s, "zzz.db.gz"), gzipSync("planted")) },
      // Planted in the bucket by whoever holds its write key, then fetched with the rest.
      { name: "a newer snapshot without a signature", plant: (s) => writeFileSync(join(s, newer), gzipSync("planted")) },
      {
        name: "a newer snapshot signed with another key",
        plant: (s) => {
          writeFileSync(join(s, newer), gzipSync("planted"));
          signSnapshot(join(s, newer), "Z".repeat(64));
        },
      },
      {
        name: "a newer snapshot with a malformed signature file",
        plant: (s) => {
          writeFileSync(join(s, newer), gzipSync("planted"));
          writeFileSync(join(s, `${newer}.hmac`), `hmac-sha256 ${"0".repeat(64)}\nhmac-sha256 ${snapshotMac(join(s, legit))}\n`);
        },
      },
      {
        name: "the genuine snapshot and its signature copied under a newer name (a rollback)",
        plant: (s) => {
          writeFileSync(join(s, newer), readFileSync(join(s, legit)));
          writeFileSync(join(s, `${newer}.hmac`), readFileSync(join(s, `${legit}.hmac`)));
        },
      },
      {
        name: "a newer snapshot whose signature file is a link to the genuine one's",
        plant: (s) => {
          writeFileSync(join(s, newer), readFileSync(join(s, legit)));
          symlinkSync(join(s, `${legit}.hmac`), join(s, `${newer}.hmac`));
        },
      },
      {
        name: "a name stamped in the future",
        plant: (s) => writeFileSync(join(s, "grafana-99991231T235959Z.db.gz"), gzipSync("planted")),
      },
      {
        name: "a newer name that is a link to another file",
        plant: (s, dir) => {
          writeFileSync(join(dir, "other.gz"), gzipSync("planted"));
          symlinkSync(join(dir, "other.gz"), join(s, "grafana-20250101T000000Z.db.gz"));
        },
      },
      {
        name: "a name with a newline",
        plant: (s, dir) => {
          writeFileSync(join(s, "a\nzzz.db.gz"), gzipSync("planted"));
          writeFileSync(join(dir, "zzz.db.gz"), gzipSync("planted"));
        },
      },
    ];
    for (const shell of SHELLS) {
      describeIf(shell.requirement, shell.name, () => {
        for (const p of plants) {
          it(`restores the scheduler's newest snapshot despite ${p.name}`, () => {
            const dir = freshDir(`latest-${p.name}`);
            const snapshots = join(dir, "backups", "snapshots");
            mkdirSync(snapshots, { recursive: true });
            writeFileSync(join(snapshots, legit), gzipSync("legit"));
            signSnapshot(join(snapshots, legit));
            p.plant(snapshots, dir);
            const data = join(dir, "data");
            mkdirSync(data);
            const [cmd, argv] = shell.argv(writeScript(dir, "restore.sh", script), ["latest", data]);
            // cwd: the dir, where a relative name cut from a newline would be looked up.
            const r = spawnSync(cmd, argv, {
              cwd: dir,
              env: { ...process.env, BACKUP_ROOT: join(dir, "backups"), ...keyEnv(dir) },
              encoding: "utf8",
            });
            expect(r.status, r.stderr).toBe(0);
            expect(r.stdout).toContain(join(snapshots, legit));
            expect(readFileSync(join(data, "grafana.db"), "utf8")).toBe("legit");
          });
        }

        it("refuses a snapshot given by a path that is a link", () => {
          const dir = freshDir("explicit-link");
          writeFileSync(join(dir, "other.gz"), gzipSync("planted"));
          symlinkSync(join(dir, "other.gz"), join(dir, "grafana-20200101T000000Z.db.gz"));
          const data = join(dir, "data");
          mkdirSync(data);
          const r = run(shell, writeScript(dir, "restore.sh", script), [join(dir, "grafana-20200101T000000Z.db.gz"), data], {
            BACKUP_ROOT: join(dir, "backups"),
            ...keyEnv(dir),
          });
          expect(r.status).not.toBe(0);
          expect(r.stderr).toContain("symbolic link");
          expect(existsSync(join(data, "grafana.db"))).toBe(false);
        });

        /** A workspace with one snapshot, signed or not, and an empty data directory. */
        const one = (name: string, signed: boolean) => {
          const dir = freshDir(name);
          const snapshots = join(dir, "backups", "snapshots");
          mkdirSync(snapshots, { recursive: true });
          const snapshot = join(snapshots, legit);
          writeFileSync(snapshot, gzipSync("checked by hand"));
          if (signed) signSnapshot(snapshot);
          const data = join(dir, "data");
          mkdirSync(data);
          return { dir, snapshot, data, restore: writeScript(dir, "restore.sh", script), env: { BACKUP_ROOT: join(dir, "backups") } };
        };

        it("refuses an unsigned snapshot given by its path, and restores it with RESTORE_UNSIGNED=yes, saying so", () => {
          const w = one("explicit-unsigned", false);
          const refused = run(shell, w.restore, [w.snapshot, w.data], { ...w.env, ...keyEnv(w.dir) });
          expect(refused.status).not.toBe(0);
          expect(refused.stderr).toContain(`error: ${w.snapshot} has no valid signature`);
          expect(refused.stderr).toContain("RESTORE_UNSIGNED=yes");
          expect(existsSync(join(w.data, "grafana.db"))).toBe(false);
          // The operator checked it; without a key at all (a key from before a rotation is lost).
          const forced = run(shell, w.restore, [w.snapshot, w.data], {
            ...w.env,
            RESTORE_UNSIGNED: "yes",
            BACKUP_SIGNING_KEY_FILE: join(w.dir, "none"),
          });
          expect(forced.status, forced.stderr).toBe(0);
          expect(forced.stderr).toContain("warning: RESTORE_UNSIGNED=yes");
          expect(readFileSync(join(w.data, "grafana.db"), "utf8")).toBe("checked by hand");
        });

        it("latest never takes an unsigned snapshot, even with RESTORE_UNSIGNED=yes, and says how many it skipped", () => {
          const w = one("latest-unsigned", false);
          const r = run(shell, w.restore, ["latest", w.data], { ...w.env, ...keyEnv(w.dir), RESTORE_UNSIGNED: "yes" });
          expect(r.status).not.toBe(0);
          expect(r.stderr).toContain("error: no signed snapshot");
          expect(r.stderr).toContain("1 skipped without a valid signature");
          expect(existsSync(join(w.data, "grafana.db"))).toBe(false);
        });

        it.each([
          ["missing", undefined],
          ["with a trailing newline", `${TEST_SIGNING_KEY}\n`],
          ["too short", "abc123"],
          ["with a quote", `${TEST_SIGNING_KEY.slice(0, 40)}'`],
        ])("refuses to restore when the key file is %s, naming the secret to mount", (_what, content) => {
          const w = one(`key-${_what}`, true);
          const keyFile = join(w.dir, "key");
          if (content !== undefined) writeFileSync(keyFile, content);
          const r = run(shell, w.restore, ["latest", w.data], { ...w.env, BACKUP_SIGNING_KEY_FILE: keyFile });
          expect(r.status).not.toBe(0);
          expect(r.stderr).toContain(`error: cannot read the signing key ${keyFile}`);
          expect(r.stderr).toContain("-v <env>-<store>-backup-secrets:/run/secrets:ro");
          expect(existsSync(join(w.data, "grafana.db"))).toBe(false);
        });
      });
    }
  },
);

describeIf(requireBinary("sh"), "rabbitmq restore.sh latest imports only the scheduler's newest export", () => {
  const script = renderRabbitRestoreScript({
    nodes: ["rabbit@rabbitmq"],
    cookieFile: "/run/secrets/erlang_cookie",
    backupRoot: "/backups",
  });
  const def = (who: string) => JSON.stringify({ rabbit_version: "4.1.4", users: [{ name: who }], vhosts: [] });
  const plants: { name: string; plant: (snapshots: string, dir: string) => void }[] = [
    { name: "zzz.json (an administrator it defines)", plant: (s) => writeFileSync(join(s, "zzz.json"), def("planted-admin")) },
    { name: "a future stamp", plant: (s) => writeFileSync(join(s, "rabbitmq-99991231T235959Z.json"), def("planted-admin")) },
    { name: "a newer unsigned export", plant: (s) => writeFileSync(join(s, "rabbitmq-20250101T000000Z.json"), def("planted-admin")) },
    {
      name: "a newer export signed with another key",
      plant: (s) => {
        writeFileSync(join(s, "rabbitmq-20250101T000000Z.json"), def("planted-admin"));
        signSnapshot(join(s, "rabbitmq-20250101T000000Z.json"), "Q".repeat(48));
      },
    },
    {
      name: "a newer link to another file",
      plant: (s, dir) => {
        writeFileSync(join(dir, "other.json"), def("planted-admin"));
        symlinkSync(join(dir, "other.json"), join(s, "rabbitmq-20250101T000000Z.json"));
      },
    },
  ];
  for (const shell of SHELLS) {
    describeIf(shell.requirement, shell.name, () => {
      for (const p of plants) {
        it(`ignores ${p.name}`, () => {
          const dir = freshDir(`rabbit-${p.name}`);
          const snapshots = join(dir, "backups", "snapshots");
          mkdirSync(snapshots, { recursive: true });
          writeFileSync(join(snapshots, "rabbitmq-20200101T000000Z.json"), def("legit"));
          signSnapshot(join(snapshots, "rabbitmq-20200101T000000Z.json"));
          p.plant(snapshots, dir);
          const log = join(dir, "rabbitmqctl.log");
          const cookie = join(dir, "cookie");
          writeFileSync(cookie, "COOKIE");
          const bin = binDir({ rabbitmqctl: `printf '%s\\n' "$*" >> "${log}"; [ "$3" != import_definitions ] || cat "$4" >> "${log}"` });
          const r = run(shell, writeScript(dir, "restore.sh", script), ["latest"], {
            BACKUP_ROOT: join(dir, "backups"),
            ...keyEnv(dir),
            RABBITMQ_COOKIE_FILE: cookie,
            HOME: dir,
            RABBITMQCTL: join(bin, "rabbitmqctl"),
          });
          expect(r.status, r.stderr).toBe(0);
          const calls = readFileSync(log, "utf8");
          expect(calls).toContain(`import_definitions ${join(snapshots, "rabbitmq-20200101T000000Z.json")}`);
          expect(calls).not.toContain("planted-admin");
        });
      }
    });
  }
});

// ------------------------------------------------------------------------------------------------
// PostgresBackup's restore-dump.sh and restore-pitr.sh: operator arguments with a newline.

describe("postgres restore scripts: arguments that smuggle SQL or config lines", () => {
  const restoreDump = renderRestoreDumpScript({
    database: "updateio",
    ownerRole: "updateio_owner",
    appRole: "updateio_app",
    backupRole: "updateio_backup",
  });
  const pitr = renderRestorePitrScript();
  const injected = "x'; DROP DATABASE updateio; --";

  for (const shell of SHELLS) {
    describeIf(shell.requirement, `${shell.name}`, () => {
      /** The target database arguments to try: a real newline; and a typed "\n", which dash's echo turns into one. */
      const targets = [`updateio_restore\n${injected}`, `updateio_restore\\n${injected}`];
      for (const target of targets) {
        it(`restore-dump.sh refuses the target ${JSON.stringify(target)} before any SQL runs`, () => {
          const dir = freshDir("restore-dump");
          const log = join(dir, "calls.log");
          writeFileSync(log, "");
          const bin = binDir({
            psql: `while [ $# -gt 0 ]; do [ "$1" != -c ] || printf 'SQL: %s\\n' "$2" >> "${log}"; shift; done`,
            pg_restore: `printf 'pg_restore %s\\n' "$*" >> "${log}"`,
          });
          const dump = join(dir, "updateio-20200101T000000Z.dump");
          writeFileSync(dump, "PGDMP");
          const r = run(shell, writeScript(dir, "restore-dump.sh", restoreDump), [dump, target], { BACKUP_ROOT: dir }, bin);
          expect(r.status, r.stderr).toBe(2);
          expect(r.stderr).toContain("must be a lowercase SQL identifier");
          expect(readFileSync(log, "utf8")).toBe("");
        });
      }

      it("restore-dump.sh hands pg_restore a dump named like an option as a file, not an option", () => {
        const dir = freshDir("restore-dump-dash");
        const log = join(dir, "calls.log");
        writeFileSync(log, "");
        const bin = binDir({
          psql: "echo 1",
          pg_restore: `for a in "$@"; do printf 'arg %s\\n' "$a" >> "${log}"; done`,
        });
        // Planted in the directory the operator runs from: "-fout" would make pg_restore write the
        // dump's SQL into ./out instead of restoring it; "--list" would only list it.
        for (const name of ["-fout", "--list"]) writeFileSync(join(dir, name), "PGDMP");
        const script = writeScript(dir, "restore-dump.sh", restoreDump);
        for (const name of ["-fout", "--list"]) {
          writeFileSync(log, "");
          const r = run(shell, script, [name, "updateio_restore"], { BACKUP_ROOT: dir }, bin, dir);
          expect(r.status, r.stderr).toBe(0);
          const args = readFileSync(log, "utf8").trim().split("\n");
          expect(args.at(-1)).toBe(`arg ./${name}`);
          expect(args).not.toContain(`arg ${name}`);
        }
        expect(existsSync(join(dir, "out"))).toBe(false);
      });

      it("pre-migration-dump.sh refuses a release id with a newline before it connects", () => {
        const dir = freshDir("pre-migration");
        const log = join(dir, "calls.log");
        writeFileSync(log, "");
        const bin = binDir({ pg_dump: `printf 'pg_dump %s\\n' "$*" >> "${log}"` });
        const script = writeScript(dir, "pre-migration-dump.sh", renderPreMigrationDumpScript(PRE_MIGRATION_DUMP_INPUT));
        for (const release of ["abc123\n../../x", "abc123\\n../../x"]) {
          const r = run(shell, script, [release], { BACKUP_ROOT: dir, BACKUP_PASSWORD_FILE: log }, bin);
          expect(r.status, r.stderr).toBe(2);
          expect(r.stderr).toContain("usage: sh pre-migration-dump.sh <release id");
        }
        expect(readFileSync(log, "utf8")).toBe("");
        expect(existsSync(join(dir, "pre-migration"))).toBe(false);
      });

      it("restore-drill.sh refuses settings with a newline before it touches anything", () => {
        const dir = freshDir("restore-drill");
        const script = writeScript(dir, "restore-drill.sh", RESTORE_DRILL_SCRIPT);
        const base = {
          BACKUP_ROOT: dir,
          DRILL_SCRATCH_DIR: join(dir, "scratch"),
          DRILL_SOCKET_DIR: join(dir, "socket"),
          LIVE_PASSWORD_FILE: join(dir, "password"),
        };
        const hostile: Record<string, string> = {
          DRILL_DATABASE: "updateio\nx'; DROP DATABASE updateio; --",
          LIVE_USER: "updateio_restore_drill\\nx",
          LIVE_HOST: "postgres\nhostaddr=203.0.113.9",
          DRILL_AT: "04:30\n",
          DRILL_IGNORE_TABLES: "public.a\npublic.b; --",
          DUMPS_DIR: `${dir}/dumps\n/etc`,
        };
        for (const [key, value] of Object.entries(hostile)) {
          const r = run(shell, script, ["--now"], { ...base, [key]: value });
          expect(r.status, `${key}: ${r.stderr}`).toBe(2);
          expect(r.stderr).toMatch(new RegExp(`invalid settings:.* ${key}\\b`));
        }
        expect(tree(dir)).toEqual(["restore-drill.sh"]);
      });

      function pitrWorkspace() {
        const dir = freshDir("pitr");
        const backups = join(dir, "backups");
        const pgdata = join(dir, "pgdata");
        mkdirSync(join(backups, "base", "20200101T000000Z"), { recursive: true });
        writeFileSync(join(backups, "base", "20200101T000000Z", "base.tar.gz"), tarGz([{ name: "PG_VERSION", data: "17\n" }]));
        mkdirSync(pgdata);
        writeFileSync(join(pgdata, "PG_VERSION"), "current\n");
        const script = writeScript(dir, "restore-pitr.sh", pitr);
        return { dir, backups, pgdata, script, env: { BACKUP_ROOT: backups, PGDATA: pgdata } };
      }

      for (const sep of ["\n", "\\n"]) {
        it(`restore-pitr.sh prepare refuses a target time with ${sep === "\n" ? "a newline" : 'a typed "\\n"'} and a config line after it`, () => {
          const w = pitrWorkspace();
          const target = `2026-11-26 10:00:00+00${sep}archive_command = 'touch ${w.dir}/pwned'`;
          const r = run(shell, w.script, ["prepare", target], w.env);
          expect(r.status, r.stderr).toBe(2);
          expect(readFileSync(join(w.pgdata, "PG_VERSION"), "utf8")).toBe("current\n");
          expect(existsSync(join(w.pgdata, "postgresql.auto.conf"))).toBe(false);
        });
      }

      it("restore-pitr.sh prepare refuses a base backup argument that is not a stamp (../ leaves base/)", () => {
        const w = pitrWorkspace();
        mkdirSync(join(w.dir, "elsewhere"));
        writeFileSync(join(w.dir, "elsewhere", "base.tar.gz"), tarGz([{ name: "PG_VERSION", data: "planted\n" }]));
        const r = run(shell, w.script, ["prepare", "end", "../../elsewhere"], w.env);
        expect(r.status, r.stderr).toBe(2);
        expect(r.stderr).toContain("must be a stamp");
        expect(readFileSync(join(w.pgdata, "PG_VERSION"), "utf8")).toBe("current\n");
      });

      it("restore-pitr.sh prepare still accepts a plain target and base stamp", () => {
        const w = pitrWorkspace();
        const r = run(shell, w.script, ["prepare", "2026-11-26 10:00:00+00", "20200101T000000Z"], w.env);
        expect(r.status, r.stderr).toBe(0);
        expect(readFileSync(join(w.pgdata, "PG_VERSION"), "utf8")).toBe("17\n");
        expect(readFileSync(join(w.pgdata, "postgresql.auto.conf"), "utf8")).toContain("recovery_target_time = '2026-11-26 10:00:00+00'");
      });
    });
  }
});
