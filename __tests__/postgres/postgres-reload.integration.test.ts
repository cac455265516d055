/**
 * Reloadable settings on real PostgreSQL servers (Debian's): a primary and a streaming replica run
 * as PostgresCluster runs them (restart-only settings as arguments plus config_file, the rendered
 * settings file, our pg_hba, the first-boot SQL with the reload role), then the reload job's script
 * as rendered applies a changed file to both without a restart. Only paths, the listen address and
 * the port differ: the replica listens on 127.0.0.2 with the primary's port, so one job run with one
 * PGPORT reaches both, as it does on the postgres network.
 */
import type { ChildProcess } from "node:child_process";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  postgresClusterSettings,
  postgresCommand,
  renderPostgresInitSql,
  renderReplicaBootstrapScript,
} from "../../constructs/postgres/renderers/postgres";
import {
  RELOAD_SQL,
  renderReloadCheckSql,
  renderReloadJobScript,
  renderReloadRoleSql,
} from "../../constructs/postgres/renderers/postgres-reload";
import {
  normalizePostgresSetting,
  POSTGRES_SETTINGS,
  renderPostgresSettingsFile,
  splitPostgresSettings,
} from "../../constructs/postgres/renderers/postgres-settings";
import { describeIf } from "../support/binaries";
import { freePorts } from "../support/helpers";
import { CLUSTER, peerAsPostgresRequirement, postgresRequirement, sleep, TempPostgres, writeClusterHba } from "../support/postgres-server";
import { synthEnvironment, uploadedFile } from "../support/stacks";

const RELOAD = { user: "updateio_reload", password: "ReloadPw0123456789abcdefABCDEF012", database: CLUSTER.database };
type Login = { user: string; password: string; database: string };

describeIf([postgresRequirement(), peerAsPostgresRequirement()], "reloadable Postgres settings on real servers (primary + replica)", () => {
  let port: number;
  let primary: TempPostgres;
  let replica: TempPostgres;
  let hbaFile: string;
  let reloadPasswordFile: string;
  const children: ChildProcess[] = [];
  const node = (server: TempPostgres, host: string) => ({ server, host });
  let nodes: { server: TempPostgres; host: string }[];

  /** The cluster's settings for one server, with that server's paths, address and port. */
  const settingsFor = (server: TempPostgres, host: string, extra: Record<string, string | number | boolean> = {}) => ({
    ...postgresClusterSettings({ memoryMb: 256, hbaFile, replicas: 1, settings: { statement_timeout: "30s", ...extra } }),
    listen_addresses: host,
    port: String(port),
    unix_socket_directories: server.dir,
  });
  /** Renders the settings file into the server's directory, as the settings seed uploads it (root, 0644). */
  const writeSettingsFile = (server: TempPostgres, settings: Record<string, string>) => {
    const split = splitPostgresSettings(settings);
    const file = server.writeFile(
      "postgresql.conf",
      renderPostgresSettingsFile({ ...split, includeFile: join(server.dataDir, "postgresql.conf") }),
    );
    return { split, file };
  };
  const psqlAt = (host: string, sql: string, login: Login) => primary.psql(sql, { ...login, host }).replace(/\n$/, "");
  /** Superuser on the server's own socket (peer); both servers listen on `port`. */
  const su = (server: TempPostgres, sql: string) => server.psql(sql).replace(/\n$/, "");
  const waitReady = async (host: string, child: ChildProcess, server: TempPostgres) => {
    for (let i = 0; i < 200; i++) {
      if (spawnSync(server.tool("pg_isready"), ["-h", host, "-p", String(port)]).status === 0) return;
      if (child.exitCode !== null) break;
      await sleep(200);
    }
    throw new Error(`${host}:${port} did not become ready:\n${server.log()}`);
  };
  const postmaster = (server: TempPostgres) =>
    `${readFileSync(join(server.dataDir, "postmaster.pid"), "utf8").split("\n")[0]}|${su(server, "SELECT pg_postmaster_start_time()")}`;
  /** Runs the job's script as rendered, as the image's postgres user; returns its exit status and output. */
  const runJob = (checkSettings: Record<string, string>, waitSeconds = 30) => {
    const checkFile = primary.writeFile("check.sql", renderReloadCheckSql(checkSettings));
    const script = primary.writeFile(
      "reload.sh",
      renderReloadJobScript({
        role: RELOAD.user,
        database: RELOAD.database,
        port,
        hosts: nodes.map((n) => n.host),
        passwordFile: reloadPasswordFile,
        passfile: join(primary.dir, "reload.pgpass"),
        checkFile,
        waitSeconds,
        primaryContainer: "test-postgres",
        roleSqlFile: "/docker-entrypoint-initdb.d/15-updateio-reload-role.sql",
      }),
    );
    const asRoot = process.getuid?.() === 0;
    const r = spawnSync(asRoot ? "runuser" : "sh", asRoot ? ["-u", "postgres", "--", "sh", script] : [script], {
      encoding: "utf8",
      timeout: 120_000,
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };

  beforeAll(async () => {
    [port] = await freePorts(1);
    primary = new TempPostgres(port!);
    replica = new TempPostgres(port!);
    nodes = [node(primary, "127.0.0.1"), node(replica, "127.0.0.2")];
    primary.initdbLikeImage();
    hbaFile = writeClusterHba(primary, [CLUSTER.owner.user, CLUSTER.app.user, CLUSTER.readonly.user, RELOAD.user]);
    const { split, file } = writeSettingsFile(primary, settingsFor(primary, "127.0.0.1"));
    const child = primary.spawnAsUser("postgres", [
      "-D",
      primary.dataDir,
      ...postgresCommand({ ...split.restart, config_file: file }).slice(1),
    ]);
    children.push(child);
    await waitReady("127.0.0.1", child, primary);

    // First boot: the roles script, then the reload role's, as the entrypoint runs .sql files.
    const secret = (name: string, value: string) => primary.writeFile(name, value);
    const replicationPasswordFile = secret("postgres_replication_password", CLUSTER.replication.password);
    reloadPasswordFile = secret("postgres_reload_password", RELOAD.password);
    const scripts = [
      primary.writeFile(
        "10-updateio-roles.sql",
        renderPostgresInitSql({
          database: CLUSTER.database,
          ownerRole: CLUSTER.owner.user,
          appRole: CLUSTER.app.user,
          ownerPasswordFile: secret("postgres_owner_password", CLUSTER.owner.password),
          appPasswordFile: secret("postgres_app_password", CLUSTER.app.password),
          readonly: { role: CLUSTER.readonly.user, passwordFile: secret("postgres_readonly_password", CLUSTER.readonly.password) },
          replication: { role: CLUSTER.replication.user, passwordFile: replicationPasswordFile, slots: ["postgres_replica_1"] },
        }),
      ),
      primary.writeFile(
        "15-updateio-reload-role.sql",
        renderReloadRoleSql({ role: RELOAD.user, database: RELOAD.database, passwordFile: reloadPasswordFile }),
      ),
    ];
    primary.runSqlFiles(...scripts);
    psqlAt("127.0.0.1", "CREATE TABLE customer (id serial PRIMARY KEY, email text NOT NULL)", CLUSTER.owner);
    psqlAt("127.0.0.1", "INSERT INTO customer (email) VALUES ('alice@example.com')", CLUSTER.app);

    // The replica: the rendered bootstrap script with the restart-only settings and config_file.
    const dataDir = replica.makeOwnedDir("data");
    const r = writeSettingsFile(replica, settingsFor(replica, "127.0.0.2"));
    const bootstrap = renderReplicaBootstrapScript({
      dataDir,
      primaryHost: "127.0.0.1",
      primaryPort: port!,
      port: port!,
      replicationRole: CLUSTER.replication.user,
      passwordFile: replicationPasswordFile,
      passfile: join(replica.dir, "replication.pgpass"),
      slot: "postgres_replica_1",
      applicationName: "postgres_replica_1",
      settings: r.split.restart,
      configFile: r.file,
    });
    const replicaChild = replica.spawnAsUser("sh", ["-c", bootstrap], { PGDATA: dataDir });
    children.push(replicaChild);
    await waitReady("127.0.0.2", replicaChild, replica);
  }, 90_000);

  afterAll(() => {
    replica?.stop();
    primary?.stop();
  });

  it("POSTGRES_SETTINGS matches this server's pg_settings: context, type, unit, range, values", () => {
    const names = Object.keys(POSTGRES_SETTINGS);
    const rows = su(
      primary,
      `SELECT name, context, vartype, coalesce(unit, ''), coalesce(min_val, ''), coalesce(max_val, ''), coalesce(array_to_string(enumvals, ','), '') FROM pg_settings WHERE name IN (${names.map((n) => `'${n}'`).join(", ")}) ORDER BY name`,
    )
      .split("\n")
      .map((l) => l.split("|"));
    expect(rows.map((r) => r[0])).toEqual([...names].sort());
    for (const [name, context, type, unit, min, max, values] of rows) {
      const spec = POSTGRES_SETTINGS[name!]!;
      expect({ name, context, type, unit, values }).toEqual({
        name,
        context: spec.context,
        type: spec.type,
        unit: spec.unit ?? "",
        values: (spec.values ?? []).join(","),
      });
      if (min !== "") expect(spec.min, `${name} min`).toBeCloseTo(Number(min), 0);
      if (max !== "") expect(Math.abs(spec.max! - Number(max)) / Math.max(1, Number(max)), `${name} max ${max}`).toBeLessThan(1e-5);
    }
  });

  it("every unmanaged setting is visible to the reload role, so the job can check it, except those marked hidden", () => {
    const hidden = Object.keys(POSTGRES_SETTINGS).filter((n) => POSTGRES_SETTINGS[n]!.hidden);
    expect(psqlAt("127.0.0.1", `SELECT count(*) FROM pg_settings WHERE name IN (${hidden.map((n) => `'${n}'`).join(", ")})`, RELOAD)).toBe(
      "0",
    );
    const unmanaged = Object.keys(POSTGRES_SETTINGS).filter((n) => !POSTGRES_SETTINGS[n]!.managed && !POSTGRES_SETTINGS[n]!.hidden);
    const visible = psqlAt(
      "127.0.0.1",
      `SELECT name FROM pg_settings WHERE name IN (${unmanaged.map((n) => `'${n}'`).join(", ")}) ORDER BY name`,
      RELOAD,
    ).split("\n");
    expect(visible).toEqual([...unmanaged].sort());
  });

  it("both servers read the rendered file without an error: no pending restart, arguments and file agree", () => {
    for (const { server } of nodes) {
      expect(su(server, "SHOW config_file")).toBe(join(server.dir, "postgresql.conf"));
      expect(su(server, "SELECT count(*) FROM pg_file_settings WHERE error IS NOT NULL")).toBe("0");
      expect(su(server, "SHOW statement_timeout")).toBe("30s");
      expect(su(server, "SHOW shared_buffers")).toBe("64MB");
      // initdb's file is read first: its locale and text search settings stay.
      expect(su(server, "SELECT sourcefile FROM pg_settings WHERE name = 'default_text_search_config'")).toBe(
        join(server.dataDir, "postgresql.conf"),
      );
    }
    expect(su(replica, "SELECT pg_is_in_recovery()")).toBe("t");
    // A reload with nothing changed: the restart-only settings repeated in the file keep pending_restart false.
    expect(runJob(settingsFor(primary, "127.0.0.1"))).toEqual({
      status: 0,
      out: expect.stringContaining("postgres-reload: 127.0.0.2 runs every setting of the file; none waits for a restart"),
    });
    for (const { server } of nodes) expect(su(server, "SELECT count(*) FROM pg_settings WHERE pending_restart")).toBe("0");
  });

  it("a changed reloadable setting reaches both servers through the job, without a restart", () => {
    const before = nodes.map(({ server }) => postmaster(server));
    const changed = {
      work_mem: "16MB",
      statement_timeout: "2min",
      log_min_duration_statement: "250ms",
      autovacuum_naptime: "30s",
      autovacuum_vacuum_scale_factor: "0.05",
      log_line_prefix: "%m [%p] it's \\ %q%u@%d ",
      default_transaction_isolation: "repeatable read",
      log_lock_waits: "on",
      log_connections: "on",
    };
    for (const { server, host } of nodes) writeSettingsFile(server, settingsFor(server, host, changed));
    const job = runJob(settingsFor(primary, "127.0.0.1", changed));
    expect(job.status, job.out).toBe(0);
    expect(job.out).toContain("postgres-reload: 127.0.0.1 runs every setting of the file");
    for (const { server } of nodes) {
      expect(su(server, "SHOW work_mem")).toBe("16MB");
      expect(su(server, "SHOW statement_timeout")).toBe("2min");
      expect(su(server, "SHOW log_line_prefix")).toBe("%m [%p] it's \\ %q%u@%d ");
      expect(su(server, "SHOW default_transaction_isolation")).toBe("repeatable read");
      expect(su(server, "SELECT count(*) FROM pg_settings WHERE pending_restart")).toBe("0");
      // Every value of the file as pg_settings shows it, as normalizePostgresSetting predicted.
      for (const [name, value] of Object.entries(changed)) {
        const r = normalizePostgresSetting(name, value);
        expect(su(server, `SELECT setting FROM pg_settings WHERE name = '${name}'`), name).toBe("setting" in r ? r.setting : r.problem);
      }
    }
    expect(nodes.map(({ server }) => postmaster(server))).toEqual(before);
    expect(su(replica, "SELECT pg_is_in_recovery()")).toBe("t");
  });

  it("fails, naming the setting, when a server refused a value or needs a restart for it", () => {
    const expected = settingsFor(primary, "127.0.0.1", { work_mem: "8MB" });
    const { file } = writeSettingsFile(primary, expected);
    // The file says 32kB (below PostgreSQL's minimum, bypassing our validation): the reload applies
    // the rest of the file but keeps the old work_mem.
    const refused = readFileSync(file, "utf8").replace(/^work_mem = .*$/m, "work_mem = '32kB'");
    primary.writeFile("postgresql.conf", refused);
    let job = runJob(expected, 2);
    expect(job.status).not.toBe(0);
    expect(job.out).toMatch(
      /postgres-reload: 127\.0\.0\.1: after the reload these settings are not as the file says:\nwork_mem: is \d+ kB but the file says 8192 kB \(refused by the server\? see its log\)\n$/,
    );
    // A restart-only value changed in the file alone (never done by PostgresCluster): pending_restart.
    primary.writeFile(
      "postgresql.conf",
      refused.replace(/^work_mem = .*$/m, "work_mem = '8MB'").replace(/^shared_buffers = .*$/m, "shared_buffers = '96MB'"),
    );
    job = runJob(expected, 2);
    expect(job.status).not.toBe(0);
    expect(job.out).toContain("shared_buffers: the file changes it, but it needs a restart (pending_restart)");
    // Back to consistent files: the job passes again.
    for (const { server, host } of nodes) writeSettingsFile(server, settingsFor(server, host, { work_mem: "8MB" }));
    job = runJob(expected);
    expect(job.status, job.out).toBe(0);
  });

  it("the reload role can run pg_reload_conf() and nothing else", () => {
    for (const { host } of nodes) expect(psqlAt(host, RELOAD_SQL, RELOAD)).toBe("t");
    expect(
      su(
        primary,
        `SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolconnlimit FROM pg_roles WHERE rolname = '${RELOAD.user}'`,
      ),
    ).toBe("f|f|f|f|f|2");
    expect(
      su(primary, `SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = '${RELOAD.user}'`),
    ).toBe("0");
    expect(
      psqlAt(
        "127.0.0.1",
        "SELECT has_function_privilege('pg_reload_conf()', 'EXECUTE'), has_function_privilege('pg_rotate_logfile()', 'EXECUTE'), has_function_privilege('pg_read_file(text)', 'EXECUTE')",
        RELOAD,
      ),
    ).toBe("t|f|f");
    expect(() => psqlAt("127.0.0.1", "CREATE TABLE evil (id int)", RELOAD)).toThrow(/read-only transaction/);
    expect(() => psqlAt("127.0.0.1", "BEGIN READ WRITE; CREATE TABLE public.evil (id int); COMMIT", RELOAD)).toThrow(
      /permission denied for schema public/,
    );
    expect(() => psqlAt("127.0.0.1", "SELECT email FROM public.customer", RELOAD)).toThrow(/permission denied for schema public/);
    expect(() => psqlAt("127.0.0.2", "SELECT email FROM public.customer", RELOAD)).toThrow(/permission denied for schema public/);
    expect(() => psqlAt("127.0.0.1", "ALTER SYSTEM SET work_mem = '1GB'", RELOAD)).toThrow(/permission denied to set parameter "work_mem"/);
    expect(() => psqlAt("127.0.0.1", "SET log_min_duration_statement = 0", RELOAD)).toThrow(/permission denied to set parameter/);
    expect(() => psqlAt("127.0.0.1", "SELECT pg_rotate_logfile()", RELOAD)).toThrow(/permission denied for function pg_rotate_logfile/);
    // pg_terminate_backend is PUBLIC, but only for one's own sessions: the replica's walsender is out of reach.
    expect(() =>
      psqlAt("127.0.0.1", `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${CLUSTER.replication.user}'`, RELOAD),
    ).toThrow(/must be a member of the role whose process is being terminated/);
    expect(() => psqlAt("127.0.0.1", "SELECT pg_read_file('postgresql.conf')", RELOAD)).toThrow(
      /permission denied for function pg_read_file/,
    );
    expect(() => psqlAt("127.0.0.1", "SELECT 1", { ...RELOAD, database: "postgres" })).toThrow(/pg_hba\.conf rejects connection/);
    expect(() => psqlAt("127.0.0.1", "SELECT 1", { ...RELOAD, password: "wrong" })).toThrow(/password authentication failed/);
    expect(psqlAt("127.0.0.1", "SELECT count(*) FROM customer", CLUSTER.owner)).toBe("1");
  });

  it("the settings file synthesized for prod parses on this server (postgres -C), its values as the job expects", () => {
    const prod = synthEnvironment("prod", {}, join(primary.dir, "synth"));
    const synthesized = uploadedFile(prod.json, "/etc/postgresql-settings/postgresql.conf")!;
    const file = primary.writeFile(
      "prod-postgresql.conf",
      synthesized.replace("/var/lib/postgresql/data/postgresql.conf", join(primary.dataDir, "postgresql.conf")),
    );
    const check = uploadedFile(prod.json, "/etc/postgres-reload/check.sql")!;
    const expected = [...check.matchAll(/^ {2}\('([a-z_]+)', '((?:[^']|'')*)', (true|false)\)/gm)].map(
      (m) => [m[1]!, m[2]!.replace(/''/g, "'")] as const,
    );
    expect(expected.map(([n]) => n)).toEqual(expect.arrayContaining(["archive_command", "max_connections", "shared_buffers", "work_mem"]));
    for (const [name, value] of expected) {
      const shown = primary
        .run(primary.tool("postgres"), ["-D", primary.dataDir, "-c", `config_file=${file}`, "-C", name])
        .replace(/\n$/, "");
      // -C prints what pg_settings.setting shows: numbers in the setting's unit, booleans on/off.
      if (POSTGRES_SETTINGS[name]!.type === "real") expect(Number(shown), name).toBeCloseTo(Number(value), 9);
      else expect(shown, name).toBe(value);
    }
  }, 60_000);
});
