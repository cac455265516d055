// The pre-migration dump on a real PostgreSQL: the rendered script dumps a seeded database, a bad
// migration is undone with the runbook's block run as written (docker stands in as a script that runs
// each `docker exec` on this server), and the script fails visibly, leaving no file, when it must.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { renderPostgresInitSql } from "../../constructs/postgres/renderers/postgres";
import { BACKUP_ROOT, renderBackupRoleSql, renderRestoreDumpScript } from "../../constructs/postgres/renderers/backup-scripts";
import {
  PRE_MIGRATION_RESTORE_TEMPLATE,
  preMigrationRestoreCommands,
  renderPreMigrationDumpScript,
  type PreMigrationDumpScriptInput,
} from "../../constructs/postgres/renderers/pre-migration-dump";
import { describeIf, requireBinary } from "../support/binaries";
import { ArchivingPostgres, type ScriptResult } from "../support/postgres-backup-env";
import { BACKUP, CLUSTER, postgresRequirement } from "../support/postgres-server";
import { freePort } from "../support/helpers";

const RUNBOOK = resolve(__dirname, "..", "..", "docs", "runbooks", "postgres-restore.md");
const DB = CLUSTER.database;
const OWNER = CLUSTER.owner.user;
const APP = CLUSTER.app.user;
/** The prod stack's input (PreMigrationDump builds it from the cluster and PostgresBackup). */
const INPUT: PreMigrationDumpScriptInput = {
  host: "postgres",
  port: 5432,
  database: DB,
  role: BACKUP.user,
  passwordFile: "/run/secrets/postgres_backup_password",
  keep: 3,
  budgetMb: 0,
};
/** Rows seeded: enough for a dump and a restore that take measurable time. */
const ITEMS = 300_000;
const NOTES = 5_000;

/** The block the runbook marks as run by this test: the fenced block after the comment naming this file. */
function runbookUndoBlock(): string {
  const text = readFileSync(RUNBOOK, "utf8");
  const m = /<!-- __tests__\/postgres\/pre-migration-dump\.integration\.test\.ts runs this block[^>]*-->\n```sh\n([\s\S]*?)```/.exec(text);
  if (!m) throw new Error(`${RUNBOOK}: no block marked for __tests__/postgres/pre-migration-dump.integration.test.ts`);
  return m[1]!;
}

/**
 * A `docker` for the runbook's commands on this machine: `exec [-i] [-w dir] <env>-postgres cmd...`
 * runs cmd as the postgres user against the test server (the container's /var/lib/postgresql is the
 * test's backups folder); `run ... <script>` prints the rendered script (the config volume's file);
 * `inspect` prints a stand-in image; `service ls` lists no service. Every call is logged.
 */
function fakeDocker(dir: string): string {
  const bin = join(dir, "fake-bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, "docker"),
    `#!/bin/sh
echo "docker $*" >> "$FAKE_LOG"
rewrite() { printf '%s' "$1" | sed "s#^${BACKUP_ROOT}#$FAKE_BACKUP_ROOT#"; }
case "$1" in
  inspect) echo stand-in-image ;;
  service) [ "$2" = ls ] || exit 1 ;;
  run) for a in "$@"; do last=$a; done; cat "$FAKE_SCRIPTS/$(basename "$last")" ;;
  exec)
    shift; wd=
    while :; do case "$1" in -i) shift ;; -w) wd=$(rewrite "$2"); shift 2 ;; *) break ;; esac; done
    [ "$1" = "$FAKE_CONTAINER" ] || { echo "fake docker: no container $1" >&2; exit 1; }
    shift
    n=$#; i=0
    while [ $i -lt $n ]; do set -- "$@" "$(rewrite "$1")"; shift; i=$((i + 1)); done
    [ -z "$wd" ] || cd "$wd" || exit 1
    if [ "$(id -u)" = 0 ]; then
      exec runuser -u postgres -- env PATH="$PATH" BACKUP_ROOT="$FAKE_BACKUP_ROOT" PGHOST="$FAKE_PGHOST" PGPORT="$FAKE_PGPORT" PGUSER=postgres "$@"
    fi
    exec env BACKUP_ROOT="$FAKE_BACKUP_ROOT" PGHOST="$FAKE_PGHOST" PGPORT="$FAKE_PGPORT" PGUSER=postgres "$@" ;;
  *) echo "fake docker: unexpected: $*" >&2; exit 1 ;;
esac
`,
  );
  chmodSync(join(bin, "docker"), 0o755);
  return bin;
}

describeIf([postgresRequirement(), requireBinary("sh"), requireBinary("sha256sum")], "pre-migration dump on a real PostgreSQL", () => {
  let server: ArchivingPostgres;
  let backups: string;
  let dumpScript: string;
  let dumpEnv: Record<string, string>;
  const owner = { user: OWNER, password: CLUSTER.owner.password, database: DB };
  const app = { user: APP, password: CLUSTER.app.password, database: DB };
  const count = (table: string) => Number(server.psql(`SELECT count(*) FROM ${table}`, owner).trim());
  const preDir = () => join(backups, "pre-migration");
  const dump = (release: string, env: Record<string, string> = {}): ScriptResult & { ms: number } => {
    const t = Date.now();
    const r = server.sh(dumpScript, [release], { ...dumpEnv, ...env });
    return { ...r, ms: Date.now() - t };
  };

  beforeAll(async () => {
    server = new ArchivingPostgres(await freePort(), {});
    server.start();
    backups = server.mkdir("backups");
    const ownerFile = server.writeFile("owner_password", CLUSTER.owner.password);
    const appFile = server.writeFile("app_password", CLUSTER.app.password);
    const backupFile = server.writeFile("backup_password", BACKUP.password);
    server.runSqlFiles(
      server.writeFile(
        "10-roles.sql",
        renderPostgresInitSql({ database: DB, ownerRole: OWNER, appRole: APP, ownerPasswordFile: ownerFile, appPasswordFile: appFile }),
      ),
      server.writeFile("20-backup-role.sql", renderBackupRoleSql({ role: BACKUP.user, database: DB, passwordFile: backupFile })),
    );
    dumpScript = server.writeFile("pre-migration-dump.sh", renderPreMigrationDumpScript(INPUT));
    server.mkdir("scripts");
    server.writeFile(
      "scripts/restore-dump.sh",
      renderRestoreDumpScript({ database: DB, ownerRole: OWNER, appRole: APP, backupRole: BACKUP.user }),
    );
    // The job's view: TCP as the backup role with its password file; only paths, host and port differ.
    dumpEnv = { BACKUP_ROOT: backups, PGHOST: "127.0.0.1", PGPORT: String(server.port), BACKUP_PASSWORD_FILE: backupFile };

    // The schema a release's migrations start from, as the owner (Prisma's bookkeeping table included).
    server.psql(
      `CREATE TABLE item (id bigserial PRIMARY KEY, name text NOT NULL, payload text NOT NULL);
       CREATE TABLE note (id serial PRIMARY KEY, item_id bigint REFERENCES item(id), text text NOT NULL);
       CREATE TABLE _prisma_migrations (id text PRIMARY KEY, migration_name text NOT NULL, finished_at timestamptz);
       INSERT INTO _prisma_migrations VALUES ('1', '20261101000000_init', now());`,
      owner,
    );
    server.psql(
      `INSERT INTO item (name, payload) SELECT 'item ' || g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) FROM generate_series(1, ${ITEMS}) g;
       INSERT INTO note (item_id, text) SELECT g, 'note ' || g FROM generate_series(1, ${NOTES}) g;`,
      app,
    );
  }, 300_000);
  afterAll(() => server?.stop());

  it("dumps the seeded database as the backup role: <release>.dump and its sha256, nothing half-written (time measured)", () => {
    const size = server.psql(`SELECT pg_size_pretty(pg_database_size('${DB}'))`).trim();
    const r = dump("0123456789ab");
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(readdirSync(preDir()).sort()).toEqual(["0123456789ab.dump", "0123456789ab.dump.sha256"]);
    const check = spawnSync("sha256sum", ["-c", "0123456789ab.dump.sha256"], { cwd: preDir(), encoding: "utf8" });
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toBe("0123456789ab.dump: OK\n");
    // Readable only by the postgres user (umask 077), like the scheduled dumps.
    expect(statSync(join(preDir(), "0123456789ab.dump")).mode & 0o777).toBe(0o600);
    expect(r.stdout).toMatch(/pre-migration dump: written .*0123456789ab\.dump \(\d+ bytes, sha256 [0-9a-f]{64}\) in \d+ s/);
    const bytes = statSync(join(preDir(), "0123456789ab.dump")).size;
    console.log(
      `pre-migration dump: database ${size} (${ITEMS} items, ${NOTES} notes) -> ${(bytes / 1048576).toFixed(1)} MiB dump in ${r.ms} ms (script wall time)`,
    );
  }, 300_000);

  it("a bad migration (a dropped table, deleted rows, an altered table) is undone by the runbook's block as written", () => {
    const before = { items: count("item"), notes: count("note"), migrations: count("_prisma_migrations") };
    expect(before).toEqual({ items: ITEMS, notes: NOTES, migrations: 1 });
    const block = runbookUndoBlock();
    // The runbook shows the commands the stack's output gives, with $ENV and $RELEASE.
    expect(block).toContain(PRE_MIGRATION_RESTORE_TEMPLATE.check);
    expect(block).toContain(PRE_MIGRATION_RESTORE_TEMPLATE.restore);
    expect(preMigrationRestoreCommands("prod", "0123456789ab").restore).toBe(
      PRE_MIGRATION_RESTORE_TEMPLATE.restore.replace(/\$ENV/g, "prod").replace(/\$RELEASE/g, "0123456789ab"),
    );

    server.psql(
      `DROP TABLE note;
       DELETE FROM item WHERE id % 3 = 0;
       ALTER TABLE item ADD COLUMN flag boolean NOT NULL DEFAULT false;
       INSERT INTO _prisma_migrations VALUES ('2', '20261205000000_bad', now());`,
      owner,
    );
    expect(count("item")).toBe(ITEMS - ITEMS / 3);

    const dir = server.dir;
    const log = join(dir, "docker-calls.log");
    writeFileSync(log, "");
    chmodSync(log, 0o666);
    const bin = fakeDocker(dir);
    const t = Date.now();
    // The block's RELEASE line names an example release; this test's dump is that release.
    const run = spawnSync("sh", ["-e", "-c", `ENV=prod\n${block}`], {
      encoding: "utf8",
      timeout: 300_000,
      env: {
        ...process.env,
        PATH: `${bin}:${server.path}`,
        FAKE_LOG: log,
        BACKUP_ROOT,
        FAKE_BACKUP_ROOT: backups,
        FAKE_PGHOST: dir,
        FAKE_PGPORT: String(server.port),
        FAKE_SCRIPTS: join(dir, "scripts"),
        FAKE_CONTAINER: "prod-postgres",
      },
    });
    const ms = Date.now() - t;
    expect(run.status, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toContain("0123456789ab.dump: OK");
    expect(run.stdout).toContain(`restored ${backups}/pre-migration/0123456789ab.dump into ${DB}`);
    const calls = readFileSync(log, "utf8");
    expect(calls).toMatch(/^docker service ls -q --filter label=io.updateio.environment=prod/m);
    expect(calls).toMatch(/^docker exec -w \/var\/lib\/postgresql\/pre-migration prod-postgres sha256sum -c 0123456789ab.dump.sha256$/m);
    expect(calls).toMatch(/^docker exec -i prod-postgres sh -s -- \/var\/lib\/postgresql\/pre-migration\/0123456789ab.dump$/m);

    const after = { items: count("item"), notes: count("note"), migrations: count("_prisma_migrations") };
    console.log(`undo: rows before the migration ${JSON.stringify(before)}, after the restore ${JSON.stringify(after)}; restore ${ms} ms`);
    expect(after).toEqual(before);
    expect(server.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'item' AND column_name = 'flag'").trim()).toBe(
      "0",
    );
    // As after first boot: the owner owns the restored tables, the app role writes rows but no DDL.
    expect(server.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'note'", app).trim()).toBe(OWNER);
    server.psql("INSERT INTO note (item_id, text) VALUES (1, 'after the undo')", app);
    expect(() => server.psql("DROP TABLE note", app)).toThrow(/must be owner/);
  }, 600_000);

  it("runs again for the same release without replacing its first dump (a retried apply after a failed migration)", () => {
    const file = join(preDir(), "0123456789ab.dump");
    const sum = readFileSync(`${file}.sha256`, "utf8");
    const mtime = statSync(file).mtimeMs;
    server.psql(`DELETE FROM item WHERE id > ${ITEMS - 10}`, owner);
    const r = dump("0123456789ab");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/kept .*0123456789ab\.dump \(taken .*before this release's first migration run\)/);
    expect(readFileSync(`${file}.sha256`, "utf8")).toBe(sum);
    expect(statSync(file).mtimeMs).toBe(mtime);
    // A dump that does not match its checksum is taken again.
    writeFileSync(`${file}.sha256`, `${"0".repeat(64)}  0123456789ab.dump\n`);
    const again = dump("0123456789ab");
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/does not match .*taking it again/);
    expect(spawnSync("sha256sum", ["-c", "0123456789ab.dump.sha256"], { cwd: preDir() }).status).toBe(0);
  }, 300_000);

  it("fails with a clear message and leaves no file when the server is unreachable or the role is refused", () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ["aaaaaaaaaaa1", { PGPORT: "1" }, /pg_dump of updateio on 127\.0\.0\.1:1 as updateio_backup failed/],
      [
        "aaaaaaaaaaa2",
        { PGHOST: "203.0.113.1", PGCONNECT_TIMEOUT: "2" },
        /pg_dump of updateio on 203\.0\.113\.1:\d+ as updateio_backup failed/,
      ],
      ["aaaaaaaaaaa3", { PGUSER: "updateio_nobody" }, /pg_dump of updateio on 127\.0\.0\.1:\d+ as updateio_nobody failed/],
      ["aaaaaaaaaaa4", { BACKUP_PASSWORD_FILE: server.writeFile("wrong_password", "not-the-password") }, /as updateio_backup failed/],
      ["aaaaaaaaaaa5", { BACKUP_PASSWORD_FILE: join(server.dir, "missing") }, /cannot read the password file/],
    ];
    for (const [release, env, message] of cases) {
      const r = dump(release, env);
      expect(r.status, `${release}: ${r.stdout}`).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain("nothing was migrated");
      expect(readdirSync(preDir()).filter((f) => f.includes(release) || f.startsWith(".tmp-"))).toEqual([]);
    }
    // The wrong-role case names the server's refusal, not only ours.
    expect(dump("aaaaaaaaaaa6", { PGUSER: "updateio_nobody" }).stderr).toMatch(/password authentication failed|does not exist/);
  }, 300_000);

  it("a dump pg_restore cannot read, or an interrupted pg_dump, leaves no file (temp name, renamed only after pg_restore --list)", () => {
    // Stand-ins first on PATH: a pg_restore that finds the dump truncated, and a pg_dump that writes
    // part of a file and fails, as one killed or out of disk would.
    const restoreBin = join(server.dir, "broken-restore");
    const dumpBin = join(server.dir, "broken-dump");
    mkdirSync(restoreBin, { recursive: true });
    mkdirSync(dumpBin, { recursive: true });
    writeFileSync(join(restoreBin, "pg_restore"), "#!/bin/sh\necho 'pg_restore: error: input file appears to be truncated' >&2\nexit 1\n");
    writeFileSync(
      join(dumpBin, "pg_dump"),
      '#!/bin/sh\nfor a in "$@"; do case "$a" in --file=*) printf PGDMP > "${a#--file=}" ;; esac; done\necho "pg_dump: error: could not write" >&2\nexit 1\n',
    );
    chmodSync(join(restoreBin, "pg_restore"), 0o755);
    chmodSync(join(dumpBin, "pg_dump"), 0o755);
    const unreadable = dump("bbbbbbbbbbb1", { PATH: `${restoreBin}:${server.path}` });
    expect(unreadable.status).toBe(1);
    expect(unreadable.stderr).toMatch(/pg_restore: error: input file appears to be truncated/);
    expect(unreadable.stderr).toMatch(/the new dump is unreadable \(pg_restore --list\)/);
    const interrupted = dump("bbbbbbbbbbb2", { PATH: `${dumpBin}:${server.path}` });
    expect(interrupted.status).toBe(1);
    expect(interrupted.stderr).toMatch(/pg_dump of updateio .* failed/);
    expect(readdirSync(preDir()).filter((f) => /bbbbbbbbbbb|^\.tmp-/.test(f))).toEqual([]);
  }, 300_000);

  it("keeps the newest 3 dumps, each with its checksum, and refuses a dump that would cross the volume's budget", () => {
    for (const release of ["ccccccccccc1", "ccccccccccc2", "ccccccccccc3"]) expect(dump(release).status).toBe(0);
    const dumps = () =>
      readdirSync(preDir())
        .filter((f) => f.endsWith(".dump"))
        .sort();
    expect(dumps()).toEqual(["ccccccccccc1.dump", "ccccccccccc2.dump", "ccccccccccc3.dump"]);
    expect(readdirSync(preDir()).filter((f) => f.endsWith(".sha256")).length).toBe(3);

    const used = Number(spawnSync("du", ["-skx", backups], { encoding: "utf8" }).stdout.split("\t")[0]);
    const last = statSync(join(preDir(), "ccccccccccc3.dump")).size;
    // A budget the next dump would cross: refused before pg_dump runs.
    const tight = Math.floor((used * 1024 + last / 2) / 1048576);
    const refused = dump("ddddddddddd1", { BUDGET_MB: String(Math.max(1, tight)) });
    expect(refused.status, refused.stdout).toBe(1);
    expect(refused.stderr).toMatch(/the backups volume holds \d+ MiB of its \d+ MiB budget and this dump needs about \d+ MiB more/);
    expect(refused.stderr).toContain("raise budgets.postgresBackups");
    expect(existsSync(join(preDir(), "ddddddddddd1.dump"))).toBe(false);
    // Room for it: written, and the oldest pruned.
    const roomy = dump("ddddddddddd1", { BUDGET_MB: String(Math.ceil((used * 1024 + 3 * last) / 1048576) + 1) });
    expect(roomy.status, roomy.stderr).toBe(0);
    expect(dumps()).toEqual(["ccccccccccc2.dump", "ccccccccccc3.dump", "ddddddddddd1.dump"]);
    expect(existsSync(join(preDir(), "ccccccccccc1.dump.sha256"))).toBe(false);
  }, 600_000);
});
