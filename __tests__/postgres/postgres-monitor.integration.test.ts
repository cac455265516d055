import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderPostgresInitSql } from "../../constructs/postgres/renderers/postgres";
import { MONITOR_ROLE_DEFAULTS, renderMonitorRoleSql } from "../../constructs/postgres/renderers/postgres-monitor";
import { describeIf } from "../support/binaries";
import { expectPasswordFileRole } from "../support/role-sql";
import { validationOf } from "../support/helpers";
import { CLUSTER, postgresRequirement, sleep, TempPostgres, writeClusterHba } from "../support/postgres-server";

const MONITOR = { user: "updateio_monitor", password: "MonitorPw0123456789abcdefABCDEF01", database: CLUSTER.database };

describe("renderMonitorRoleSql", () => {
  const sql = renderMonitorRoleSql({ role: MONITOR.user, database: "updateio", passwordFile: "/run/secrets/postgres_monitor_password" });

  it("creates a LOGIN role in pg_monitor with CONNECT on the database, reading its password from the file", () => {
    expectPasswordFileRole(sql, {
      role: "updateio_monitor",
      variable: "monitor_password",
      passwordFile: "/run/secrets/postgres_monitor_password",
      connectionLimit: MONITOR_ROLE_DEFAULTS.connectionLimit,
    });
    expect(sql).toContain("GRANT pg_monitor TO updateio_monitor;\n");
    expect(sql).toContain("GRANT CONNECT ON DATABASE updateio TO updateio_monitor;\n");
    expect(sql).toContain("ALTER ROLE updateio_monitor SET default_transaction_read_only = on;\n");
    // Nothing that reads or writes data: no table grants, no schema grants, no superuser flags.
    expect(sql).not.toMatch(
      /GRANT (SELECT|INSERT|UPDATE|DELETE|USAGE|CREATE|ALL)|SUPERUSER|pg_read_all_data|pg_write_all_data|REPLICATION|BYPASSRLS/,
    );
  });

  it("rejects identifiers and paths that would need quoting, and a silly connection limit, all at once", () => {
    expect(
      validationOf(() =>
        renderMonitorRoleSql({ role: "Monitor; DROP", database: "up-dateio", passwordFile: "relative/file", connectionLimit: 1 }),
      ),
    ).toEqual({
      subject: "renderMonitorRoleSql input",
      problems: [
        'role "Monitor; DROP" must be a lowercase SQL identifier',
        'database "up-dateio" must be a lowercase SQL identifier',
        'passwordFile "relative/file" must be an absolute path of letters, digits, _ . / -',
        "connectionLimit 1 must be a whole number from 2 to 100",
      ],
    });
  });
});

// The first-boot SQL exactly as rendered, on a real PostgreSQL (Debian's) set up like the cluster:
// initdb like the image, our pg_hba (the monitor role listed among the database roles, as the
// cluster must list it), our settings, the roles script and then this one run the way the image's
// entrypoint runs a .sql file (psql on the socket as postgres). A WAL receiver on the cluster's
// replication role fills pg_stat_replication, as a replica would.
describeIf(postgresRequirement(), "postgres_exporter's monitor role on a real PostgreSQL", () => {
  const port = 55461;
  const server = new TempPostgres(port);
  let receiver: ChildProcess | undefined;
  const owner = CLUSTER.owner;
  const app = CLUSTER.app;

  beforeAll(async () => {
    server.initdbLikeImage();
    const hbaFile = writeClusterHba(server, [owner.user, app.user, MONITOR.user]);
    await server.startLikeCluster(hbaFile, 1);

    const rolesSql = server.writeFile(
      "10-updateio-roles.sql",
      renderPostgresInitSql({
        database: CLUSTER.database,
        ownerRole: owner.user,
        appRole: app.user,
        ownerPasswordFile: server.writeFile("postgres_owner_password", owner.password),
        appPasswordFile: server.writeFile("postgres_app_password", app.password),
        replication: {
          role: CLUSTER.replication.user,
          passwordFile: server.writeFile("postgres_replication_password", CLUSTER.replication.password),
          slots: ["postgres_replica_1"],
        },
      }),
    );
    const monitorSql = server.writeFile(
      "30-updateio-monitor-role.sql",
      renderMonitorRoleSql({
        role: MONITOR.user,
        database: CLUSTER.database,
        passwordFile: server.writeFile("postgres_monitor_password", MONITOR.password),
      }),
    );
    server.runSqlFiles(rolesSql, monitorSql);
    server.psql("CREATE TABLE customer (id serial PRIMARY KEY, email text NOT NULL)", owner);
    server.psql("INSERT INTO customer (email) VALUES ('alice@example.com')", app);

    // A streaming client on the replica's slot, so pg_stat_replication has a row to read.
    const walDir = server.makeOwnedDir("received-wal");
    receiver = server.spawnAsUser(
      "pg_receivewal",
      ["-D", walDir, "-h", "127.0.0.1", "-p", String(port), "-U", CLUSTER.replication.user, "--slot=postgres_replica_1", "--no-password"],
      { PGPASSWORD: CLUSTER.replication.password },
      "receiver.log",
    );
    for (let i = 0; i < 100 && server.psql("SELECT count(*) FROM pg_stat_replication").trim() !== "1"; i++) await sleep(100);
    expect(server.psql("SELECT count(*) FROM pg_stat_replication").trim(), server.log("receiver.log")).toBe("1");
  }, 60_000);
  afterAll(() => {
    receiver?.kill("SIGTERM");
    server.stop();
  });

  it("logs in with the password from its file (scram), as a pg_monitor member with a connection limit and read-only sessions", () => {
    expect(server.psql("SELECT current_user", MONITOR).trim()).toBe(MONITOR.user);
    expect(
      server
        .psql(
          `SELECT rolpassword LIKE 'SCRAM-SHA-256$%', rolconnlimit, rolsuper, rolreplication, rolbypassrls FROM pg_authid WHERE rolname = '${MONITOR.user}'`,
        )
        .trim(),
    ).toBe(`t|${MONITOR_ROLE_DEFAULTS.connectionLimit}|f|f|f`);
    expect(server.psql("SELECT pg_has_role(current_user, 'pg_monitor', 'MEMBER')", MONITOR).trim()).toBe("t");
    expect(server.psql("SHOW default_transaction_read_only", MONITOR).trim()).toBe("on");
    expect(() => server.psql("SELECT 1", { ...MONITOR, password: "wrong" })).toThrow(/password authentication failed/);
  });

  it("reads pg_stat_database and pg_settings, superuser-only settings included (pg_read_all_settings)", () => {
    expect(
      server.psql(`SELECT numbackends >= 1, xact_commit > 0 FROM pg_stat_database WHERE datname = '${CLUSTER.database}'`, MONITOR).trim(),
    ).toBe("t|t");
    expect(server.psql("SELECT setting FROM pg_settings WHERE name = 'max_connections'", MONITOR).trim()).toMatch(/^\d+$/);
    // data_directory is hidden from roles without pg_read_all_settings; the app role sees no row.
    expect(server.psql("SELECT setting FROM pg_settings WHERE name = 'data_directory'", MONITOR).trim()).toBe(server.dataDir);
    expect(server.psql("SELECT count(*) FROM pg_settings WHERE name = 'data_directory'", app).trim()).toBe("0");
  });

  it("reads the replication state (pg_read_all_stats), which the app role sees only as NULLs", () => {
    expect(
      server.psql("SELECT usename, state, sent_lsn IS NOT NULL, client_addr IS NOT NULL FROM pg_stat_replication", MONITOR).trim(),
    ).toBe(`${CLUSTER.replication.user}|streaming|t|t`);
    expect(server.psql("SELECT sent_lsn IS NULL, state IS NULL FROM pg_stat_replication", app).trim()).toBe("t|t");
    expect(server.psql("SELECT slot_name, active FROM pg_replication_slots", MONITOR).trim()).toBe("postgres_replica_1|t");
    // The exporter's replication collector on a primary.
    expect(server.psql("SELECT pg_is_in_recovery()", MONITOR).trim()).toBe("f");
  });

  it("runs what the other default collectors query: database sizes, the WAL directory, locks, other sessions' activity", () => {
    // database collector: pg_database_size() of every database, also those it may not connect to.
    expect(server.psql("SELECT count(*) FROM pg_database WHERE NOT datistemplate AND pg_database_size(datname) > 0", MONITOR).trim()).toBe(
      "2",
    );
    // wal collector: pg_ls_waldir() is granted to pg_monitor, not to PUBLIC.
    expect(Number(server.psql("SELECT count(*) FROM pg_ls_waldir()", MONITOR).trim())).toBeGreaterThan(0);
    expect(() => server.psql("SELECT count(*) FROM pg_ls_waldir()", app)).toThrow(/permission denied/);
    expect(Number(server.psql("SELECT count(*) FROM pg_locks", MONITOR).trim())).toBeGreaterThan(0);
    expect(
      server
        .psql(
          `SELECT count(*) > 0 FROM pg_stat_activity WHERE usename = '${CLUSTER.replication.user}' AND backend_type = 'walsender' AND client_addr IS NOT NULL`,
          MONITOR,
        )
        .trim(),
    ).toBe("t");
    // stat_user_tables: statistics of the app's tables, without reading them.
    expect(server.psql("SELECT relname, n_tup_ins FROM pg_stat_user_tables WHERE relname = 'customer'", MONITOR).trim()).toMatch(
      /^customer\|\d+$/,
    );
  });

  it("cannot read or change the app's data, create tables, or log into other databases", () => {
    // No USAGE on the app's schema (first boot revokes it from PUBLIC): its tables are out of reach.
    expect(() => server.psql("SELECT email FROM public.customer", MONITOR)).toThrow(/permission denied for schema public/);
    expect(() => server.psql("SELECT email FROM customer", MONITOR)).toThrow(/relation "customer" does not exist/);
    expect(() => server.psql("INSERT INTO public.customer (email) VALUES ('mallory@example.com')", MONITOR)).toThrow(
      /read-only transaction|permission denied/,
    );
    // Read-only sessions refuse DDL first; with that default switched off, the privileges still do.
    expect(() => server.psql("CREATE TABLE evil (id int)", MONITOR)).toThrow(/read-only transaction/);
    expect(() => server.psql("BEGIN READ WRITE; CREATE TABLE public.evil (id int); COMMIT", MONITOR)).toThrow(
      /permission denied for schema public/,
    );
    expect(() =>
      server.psql("BEGIN READ WRITE; INSERT INTO public.customer (email) VALUES ('mallory@example.com'); COMMIT", MONITOR),
    ).toThrow(/permission denied for schema public/);
    expect(() => server.psql("BEGIN READ WRITE; CREATE SCHEMA evil; COMMIT", MONITOR)).toThrow(/permission denied for database/);
    expect(() => server.psql("SELECT 1", { ...MONITOR, database: "postgres" })).toThrow(/pg_hba\.conf rejects connection/);
    expect(server.psql("SELECT count(*) FROM customer", owner).trim()).toBe("1");
  });
});
