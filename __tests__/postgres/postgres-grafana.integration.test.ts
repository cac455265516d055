import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DATASOURCE_UIDS } from "../../constructs/observability/renderers/observability-catalogue";
import {
  GRAFANA_PG_STATS,
  GRAFANA_ROLE_DEFAULTS,
  grafanaStatsOwnerRole,
  renderGrafanaRoleSql,
} from "../../constructs/postgres/renderers/postgres-grafana";
import { renderPgHba } from "../../constructs/postgres/renderers/postgres-hba";
import { describeIf } from "../support/binaries";
import { freePort, validationOf } from "../support/helpers";
import { expectPasswordFileRole } from "../support/role-sql";
import { peerAsPostgresRequirement, postgresRequirement, sleep, TempPostgres } from "../support/postgres-server";
import { synthEnvironment, type TerraformJson } from "../support/stacks";

describe("renderGrafanaRoleSql", () => {
  const sql = renderGrafanaRoleSql({
    role: "updateio_grafana",
    database: "updateio_grafana",
    passwordFile: "/run/secrets/postgres_updateio_grafana_password",
  });

  it("creates a limited, read-only LOGIN role whose password comes from the file, with its own database and one function", () => {
    expectPasswordFileRole(sql, {
      role: "updateio_grafana",
      variable: "grafana_password",
      passwordFile: "/run/secrets/postgres_updateio_grafana_password",
      connectionLimit: GRAFANA_ROLE_DEFAULTS.connectionLimit,
    });
    expect(sql).toContain("ALTER ROLE updateio_grafana SET default_transaction_read_only = on;\n");
    expect(sql).toContain(`ALTER ROLE updateio_grafana SET statement_timeout = '${GRAFANA_ROLE_DEFAULTS.statementTimeoutSeconds}s';\n`);
    expect(sql).toContain(
      "CREATE DATABASE updateio_grafana;\nREVOKE ALL ON DATABASE updateio_grafana FROM PUBLIC;\nGRANT CONNECT ON DATABASE updateio_grafana TO updateio_grafana;\n",
    );
    expect(sql).toContain(`GRANT EXECUTE ON FUNCTION ${GRAFANA_PG_STATS.sessionStates}() TO updateio_grafana;\n`);
    expect(sql).toContain("SECURITY DEFINER\n  SET search_path = pg_catalog, pg_temp\n");
  });

  it("gives the statistics privilege to the function's NOLOGIN owner only, and the login role no table, schema-create or membership grant", () => {
    const owner = grafanaStatsOwnerRole("updateio_grafana");
    expect(sql).toContain(`CREATE ROLE ${owner} NOLOGIN;\nGRANT pg_read_all_stats TO ${owner};\n`);
    const grantsToLogin = sql.split("\n").filter((l) => /^GRANT .* TO updateio_grafana;$/.test(l));
    expect(grantsToLogin).toEqual([
      "GRANT CONNECT ON DATABASE updateio_grafana TO updateio_grafana;",
      `GRANT USAGE ON SCHEMA ${GRAFANA_PG_STATS.schema} TO updateio_grafana;`,
      `GRANT EXECUTE ON FUNCTION ${GRAFANA_PG_STATS.sessionStates}() TO updateio_grafana;`,
    ]);
    expect(sql).not.toMatch(/pg_monitor|pg_read_all_data|pg_read_all_settings|SUPERUSER|REPLICATION|BYPASSRLS|\bquery\b|client_addr/);
  });

  it("rejects names and paths that would need quoting, a reserved database, and limits out of range, all at once", () => {
    expect(
      validationOf(() =>
        renderGrafanaRoleSql({
          role: "Grafana; DROP",
          database: "postgres",
          passwordFile: "relative/file",
          connectionLimit: 1,
          statementTimeoutSeconds: 0,
        }),
      ),
    ).toEqual({
      subject: "renderGrafanaRoleSql input",
      problems: [
        'role "Grafana; DROP" must be a lowercase SQL identifier of at most 57 characters',
        'database "postgres" is reserved; give Grafana a database of its own, e.g. "updateio_grafana"',
        'passwordFile "relative/file" must be an absolute path of letters, digits, _ . / -',
        "connectionLimit 1 must be a whole number from 2 to 50",
        "statementTimeoutSeconds 0 must be a whole number from 1 to 300",
      ],
    });
    expect(() => renderGrafanaRoleSql({ role: "g", database: "all", passwordFile: "/f" })).toThrow(/database "all" is reserved/);
    expect(() => renderGrafanaRoleSql({ role: "x".repeat(60), database: "g", passwordFile: "/f" })).toThrow(
      /must be a lowercase SQL identifier of at most 57 characters/,
    );
  });
});

describe("renderPgHba otherDatabases", () => {
  const base = {
    superuser: "postgres",
    database: "updateio",
    databaseRoles: ["updateio_owner"],
    replicationRoles: ["updateio_replication"],
  };

  it("adds one line per database, before the rejects", () => {
    const lines = renderPgHba({ ...base, otherDatabases: [{ database: "updateio_grafana", roles: ["updateio_grafana"] }] }).split("\n");
    const own = lines.findIndex((l) => /^host +updateio_grafana +updateio_grafana +samenet +scram-sha-256$/.test(l));
    expect(own).toBeGreaterThan(0);
    expect(own).toBeLessThan(lines.findIndex((l) => /^host +all +all +all +reject$/.test(l)));
  });

  it("refuses keywords, duplicates, empty role lists, the superuser and a role that would also get the main database", () => {
    const hba = (other: { database: string; roles: string[] }) => () => renderPgHba({ ...base, otherDatabases: [other] });
    expect(hba({ database: "all", roles: ["g"] })).toThrow(
      /otherDatabases\.0\.database "all" must be a lowercase SQL identifier and not a pg_hba keyword/,
    );
    expect(hba({ database: "replication", roles: ["g"] })).toThrow(/not a pg_hba keyword/);
    expect(hba({ database: "updateio", roles: ["g"] })).toThrow(/"updateio" is listed twice/);
    expect(hba({ database: "g", roles: [] })).toThrow(/otherDatabases\.0\.roles is empty/);
    expect(hba({ database: "g", roles: ["all"] })).toThrow(/roles entry "all" must be a lowercase SQL identifier/);
    expect(hba({ database: "g", roles: ["postgres"] })).toThrow(/superuser "postgres" may only connect over the local socket/);
    expect(hba({ database: "g", roles: ["updateio_owner"] })).toThrow(/"updateio_owner" is also in databaseRoles/);
  });
});

/** Everything Grafana sends to its Postgres data source, read from the synthesized files. */
function grafanaPostgresQueries(uploads: ReadonlyMap<string, string>): { where: string; sql: string }[] {
  const queries: { where: string; sql: string }[] = [];
  for (const [file, content] of uploads) {
    if (file.startsWith("/etc/grafana/dashboards/")) {
      const dashboard = JSON.parse(content) as {
        panels: { title: string; datasource?: { uid: string }; targets?: { datasource?: { uid: string }; rawSql?: string }[] }[];
      };
      for (const panel of dashboard.panels) {
        for (const target of panel.targets ?? []) {
          if ((target.datasource ?? panel.datasource)?.uid === DATASOURCE_UIDS.postgres)
            queries.push({ where: `${file} / ${panel.title}`, sql: target.rawSql ?? "" });
        }
      }
    }
    if (file.startsWith("/etc/grafana/provisioning/alerting/")) {
      const alerting = parse(content) as {
        groups?: { rules: { title: string; data: { datasourceUid: string; model?: { rawSql?: string } }[] }[] }[];
      };
      for (const rule of (alerting.groups ?? []).flatMap((g) => g.rules)) {
        for (const d of rule.data)
          if (d.datasourceUid === DATASOURCE_UIDS.postgres) queries.push({ where: `${file} / ${rule.title}`, sql: d.model?.rawSql ?? "" });
      }
    }
  }
  return queries;
}

function seedUploads(json: TerraformJson, name: string): Map<string, string> {
  const seed = (Object.values(json.resource.docker_container) as { name: string; upload?: { file: string; content: string }[] }[]).find(
    (c) => c.name === name,
  );
  if (!seed) throw new Error(`no container ${name} in the synthesized stack`);
  return new Map((seed.upload ?? []).map((u) => [u.file, u.content]));
}

// The dev stack as synthesized: the primary's first-boot SQL files (all of them, in name order, the
// way the image's entrypoint runs them), its pg_hba.conf, and Grafana's data source, dashboards and
// alerting. Secret files are written with test passwords in place of each Terraform token, so the
// password Grafana reads is the one its role was created with only if both name the same token.
describeIf(
  [postgresRequirement(), peerAsPostgresRequirement()],
  "Grafana's Postgres role on a real PostgreSQL, from the synthesized dev stack",
  () => {
    const out = mkdtempSync(join(tmpdir(), "postgres-grafana-test-"));
    // The full observability profile: dev's default (logs) has no dashboards or alerting.
    const { json } = synthEnvironment("dev", { UPDATEIO_DEV_OBSERVABILITY: "full" }, out);
    const pgFiles = seedUploads(json, "dev-postgres-seed");
    const grafanaFiles = seedUploads(json, "dev-grafana-seed");
    const datasource = (
      parse(grafanaFiles.get("/etc/grafana/provisioning/datasources/datasources.yaml")!) as {
        datasources: { uid: string; url: string; user: string; jsonData: { database: string }; secureJsonData: { password: string } }[];
      }
    ).datasources.find((d) => d.uid === DATASOURCE_UIDS.postgres)!;
    const queries = grafanaPostgresQueries(grafanaFiles);
    const passwords = new Map<string, string>(); // Terraform token → test password
    const passwordOf = (token: string) => {
      if (!passwords.has(token)) passwords.set(token, `Pw${passwords.size}x${Math.random().toString(36).slice(2)}ABCdef0123456789`);
      return passwords.get(token)!;
    };
    const grafanaPasswordFile = /^\$__file\{(\/run\/secrets\/[a-z_]+)\}$/.exec(datasource.secureJsonData.password)?.[1];
    const grafana = {
      user: datasource.user,
      database: datasource.jsonData.database,
      password: passwordOf(grafanaFiles.get(grafanaPasswordFile ?? "") ?? "missing"),
    };
    const owner = { user: "updateio_owner", database: "updateio", password: "" };
    const app = { user: "updateio_app", database: "updateio", password: "" };
    let server: TempPostgres;
    const sessions: ChildProcess[] = [];
    const tally = { queries: 0, allowed: 0, forbidden: 0, refused: 0 };

    beforeAll(async () => {
      server = new TempPostgres(await freePort());
      server.initdbLikeImage();
      // Secrets as the seed delivers them (files), at a path inside the test's directory.
      const secretDir = `${server.dir}/`;
      for (const [file, content] of pgFiles)
        if (file.startsWith("/run/secrets/")) server.writeFile(file.slice("/run/secrets/".length), passwordOf(content));
      owner.password = passwordOf(pgFiles.get("/run/secrets/postgres_owner_password")!);
      app.password = passwordOf(pgFiles.get("/run/secrets/postgres_app_password")!);
      const hbaFile = server.writeFile("pg_hba.conf", pgFiles.get("/etc/postgresql/pg_hba.conf")!);
      await server.startLikeCluster(hbaFile, 0);
      const scripts = [...pgFiles.keys()].filter((f) => f.startsWith("/docker-entrypoint-initdb.d/") && f.endsWith(".sql")).sort();
      server.runSqlFiles(
        ...scripts.map((file) => server.writeFile(file.split("/").pop()!, pgFiles.get(file)!.replaceAll("/run/secrets/", secretDir))),
      );
      // App data Grafana must not read: a table made by the owner (as a migration would), a row written by the app.
      server.psql("CREATE TABLE customer (id serial PRIMARY KEY, email text NOT NULL)", owner);
      server.psql("INSERT INTO customer (email) VALUES ('alice@example.com')", app);
      // Another role's session, busy with a query whose text holds app data, while Grafana looks.
      sessions.push(server.session("SELECT pg_sleep(120), 'alice@example.com' AS secret_literal", app, "app-session.log"));
      for (
        let i = 0;
        i < 100 && server.psql(`SELECT count(*) FROM pg_stat_activity WHERE usename = '${app.user}' AND state = 'active'`).trim() !== "1";
        i++
      )
        await sleep(100);
      expect(
        server.psql(`SELECT count(*) FROM pg_stat_activity WHERE usename = '${app.user}' AND state = 'active'`).trim(),
        server.log("app-session.log"),
      ).toBe("1");
    }, 120_000);
    afterAll(() => {
      for (const s of sessions) s.kill("SIGTERM");
      server?.stop();
      rmSync(out, { recursive: true, force: true });
      console.log(
        `[grafana role] queries checked ${tally.queries}, allowed ${tally.allowed}; forbidden operations tried ${tally.forbidden}, refused ${tally.refused}`,
      );
    });

    it("the data source uses the role and database the stack creates, with the same password token on both sides", () => {
      expect({ user: grafana.user, database: grafana.database, url: datasource.url }).toEqual({
        user: "updateio_grafana",
        database: "updateio_grafana",
        url: "postgres:5432",
      });
      expect(grafanaPasswordFile).toBe("/run/secrets/grafana_postgres_password");
      expect(grafanaFiles.get(grafanaPasswordFile!)).toBe(pgFiles.get("/run/secrets/postgres_updateio_grafana_password"));
      expect(server.psql("SELECT current_user, current_database()", grafana).trim()).toBe("updateio_grafana|updateio_grafana");
      expect(() => server.psql("SELECT 1", { ...grafana, password: "wrong" })).toThrow(/password authentication failed/);
    });

    it("runs every Postgres query of the rendered dashboards and alert rules, and sees every role's session state", () => {
      expect(queries.length, "the Postgres dashboard's sessions table at least").toBeGreaterThanOrEqual(1);
      for (const q of queries) {
        tally.queries++;
        // Grafana expands $__ macros before sending; none is used today, so the text is what runs.
        expect(q.sql, `${q.where}: expand its Grafana macros here before running it`).not.toMatch(/\$__|\$\{?[a-z]/i);
        const rows = server
          .psql(q.sql, grafana)
          .trim()
          .split("\n")
          .map((l) => l.split("|"));
        tally.allowed++;
        if (q.where.endsWith("Sessions by state (pg_stat_activity)")) {
          // The app's busy session with its real state: no pg_read_all_stats needed, and no "hidden".
          expect(rows).toContainEqual(["updateio", app.user, "active", "1"]);
          expect(rows).toContainEqual(["updateio_grafana", grafana.user, "active", "1"]);
          expect(rows.flat()).not.toContain("hidden");
        }
      }
      expect(tally.allowed).toBe(queries.length);
    });

    it("has the settings it was given: connection limit, read-only by default, statement and idle timeouts, no role memberships", () => {
      expect(
        server
          .psql(
            `SELECT rolconnlimit, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = '${grafana.user}'`,
          )
          .trim(),
      ).toBe(`${GRAFANA_ROLE_DEFAULTS.connectionLimit}|f|f|f|f|f`);
      expect(server.psql("SHOW default_transaction_read_only", grafana).trim()).toBe("on");
      expect(server.psql("SHOW statement_timeout", grafana).trim()).toBe(`${GRAFANA_ROLE_DEFAULTS.statementTimeoutSeconds}s`);
      expect(server.psql("SHOW idle_in_transaction_session_timeout", grafana).trim()).toBe("1min");
      expect(
        server
          .psql(`SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = '${grafana.user}'`)
          .trim(),
      ).toBe("0");
      // The function's owner holds pg_read_all_stats and cannot log in.
      const ownerRole = grafanaStatsOwnerRole(grafana.user);
      expect(
        server
          .psql(
            `SELECT rolcanlogin, pg_has_role('${ownerRole}', 'pg_read_all_stats', 'USAGE') FROM pg_roles WHERE rolname = '${ownerRole}'`,
          )
          .trim(),
      ).toBe("f|t");
      // The function returns four columns and no more.
      expect(server.psql(`SELECT pg_get_function_result('${GRAFANA_PG_STATS.sessionStates}()'::regprocedure)`, grafana).trim()).toBe(
        "TABLE(datname name, usename name, state text, backend_type text)",
      );
    });

    // pg_hba admits Grafana to its own database only.
    const hbaRefused = (what: string, database: string, sql = "SELECT 1") => ({
      what,
      sql,
      as: { database },
      error: /pg_hba\.conf rejects connection|no pg_hba\.conf entry/,
    });
    // Each attempt must fail with the given reason (the first barrier Postgres reports), or, where
    // Postgres answers with a masked value instead of an error, return exactly that mask.
    const forbidden: ({ what: string; sql: string; as?: Partial<typeof grafana> } & ({ error: RegExp } | { masked: string }))[] = [
      // App data and other databases
      hbaRefused("log into the app database", "updateio", "SELECT email FROM customer"),
      hbaRefused("log into the postgres database", "postgres"),
      hbaRefused("log into template1", "template1"),
      {
        what: "read an app table across databases",
        sql: "SELECT email FROM updateio.public.customer",
        error: /cross-database references are not implemented/,
      },
      {
        what: "read another session's query text (pg_stat_activity)",
        sql: "SELECT query FROM pg_stat_activity WHERE usename = 'updateio_app'",
        masked: "<insufficient privilege>",
      },
      {
        what: "read another session's query text (pg_stat_get_activity)",
        sql: "SELECT a.query FROM pg_stat_get_activity(NULL) a JOIN pg_roles r ON r.oid = a.usesysid WHERE r.rolname = 'updateio_app'",
        masked: "<insufficient privilege>",
      },
      {
        what: "read another session's client address",
        sql: "SELECT coalesce(host(client_addr), 'none') FROM pg_stat_activity WHERE usename = 'updateio_app'",
        masked: "none",
      },
      {
        what: "read query text through the stats function",
        sql: "SELECT query FROM stats.session_states()",
        error: /column "query" does not exist/,
      },
      // Writes and DDL in its own database
      { what: "create a table (read-only default)", sql: "CREATE TABLE evil (id int)", error: /read-only transaction/ },
      {
        what: "create a table in public, read-write",
        sql: "BEGIN READ WRITE; CREATE TABLE public.evil (id int); COMMIT",
        error: /permission denied for schema public/,
      },
      {
        what: "create a table in stats, read-write",
        sql: "BEGIN READ WRITE; CREATE TABLE stats.evil (id int); COMMIT",
        error: /permission denied for schema stats/,
      },
      {
        what: "create a temporary table, read-write",
        sql: "BEGIN READ WRITE; CREATE TEMP TABLE evil (id int); COMMIT",
        error: /permission denied to create temporary tables/,
      },
      { what: "create a schema", sql: "BEGIN READ WRITE; CREATE SCHEMA evil; COMMIT", error: /permission denied for database/ },
      {
        what: "replace the stats function",
        sql: "BEGIN READ WRITE; CREATE OR REPLACE FUNCTION stats.session_states() RETURNS TABLE (datname name, usename name, state text, backend_type text) LANGUAGE sql AS $$ SELECT NULL::name, NULL::name, query, NULL FROM pg_stat_activity $$; COMMIT",
        error: /permission denied for schema stats|must be owner/,
      },
      {
        what: "make the function run as the caller",
        sql: "BEGIN READ WRITE; ALTER FUNCTION stats.session_states() SECURITY INVOKER; COMMIT",
        error: /must be owner of function/,
      },
      {
        what: "drop the function",
        sql: "BEGIN READ WRITE; DROP FUNCTION stats.session_states(); COMMIT",
        error: /must be owner of function/,
      },
      { what: "become the function's owner", sql: "SET ROLE updateio_grafana_stats", error: /permission denied to set role/ },
      {
        what: "grant itself pg_read_all_stats",
        sql: "BEGIN READ WRITE; GRANT pg_read_all_stats TO updateio_grafana; COMMIT",
        error: /permission denied to grant role|must have admin option/,
      },
      {
        what: "raise its connection limit",
        sql: "BEGIN READ WRITE; ALTER ROLE updateio_grafana CONNECTION LIMIT 100; COMMIT",
        error: /permission denied/,
      },
      { what: "create a database", sql: "CREATE DATABASE evil", error: /read-only transaction|permission denied to create database/ },
      { what: "read a server file", sql: "SELECT pg_read_file('PG_VERSION')", error: /permission denied for function pg_read_file/ },
    ];

    it("is refused every forbidden operation: app data, other databases, other sessions' query text, writes, DDL, privilege changes", () => {
      for (const f of forbidden) {
        tally.forbidden++;
        if ("masked" in f) {
          expect(server.psql(f.sql, { ...grafana, ...f.as }).trim(), f.what).toBe(f.masked);
          tally.refused++;
          continue;
        }
        let message = "";
        try {
          server.psql(f.sql, { ...grafana, ...f.as });
        } catch (e) {
          message = (e as Error).message;
        }
        expect(message, `${f.what}: expected a refusal`).toMatch(f.error);
        tally.refused++;
      }
      expect(tally.refused).toBe(forbidden.length);
    });

    it("has no privilege on the app database, its schema or its tables (checked as the superuser, behind pg_hba)", () => {
      expect(
        server
          .psql(
            `SELECT has_database_privilege('${grafana.user}', 'updateio', 'CONNECT'), has_database_privilege('${grafana.user}', 'postgres', 'CONNECT')`,
          )
          .trim(),
      ).toBe("f|t");
      expect(
        server
          .psql(
            `SELECT has_schema_privilege('${grafana.user}', 'public', 'USAGE'), has_table_privilege('${grafana.user}', 'public.customer', 'SELECT')`,
            { database: "updateio" },
          )
          .trim(),
      ).toBe("f|f");
      // postgres allows CONNECT to PUBLIC (initdb's default); pg_hba keeps Grafana out of it, as tried above.
    });

    it("holds at most its connection limit of sessions at once", async () => {
      const limit = GRAFANA_ROLE_DEFAULTS.connectionLimit;
      const held: ChildProcess[] = [];
      try {
        for (let i = 0; i < limit; i++) {
          held.push(server.session("SELECT pg_sleep(8)", grafana, "grafana-sessions.log"));
        }
        const count = () => server.psql(`SELECT count(*) FROM pg_stat_activity WHERE usename = '${grafana.user}'`).trim();
        for (let i = 0; i < 100 && count() !== String(limit); i++) await sleep(100);
        expect(count(), server.log("grafana-sessions.log")).toBe(String(limit));
        tally.forbidden++;
        expect(() => server.psql("SELECT 1", grafana)).toThrow(/too many connections for role "updateio_grafana"/);
        tally.refused++;
      } finally {
        for (const h of held) h.kill("SIGTERM");
      }
    }, 30_000);
  },
);
