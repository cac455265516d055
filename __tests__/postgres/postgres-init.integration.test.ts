import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { renderPostgresInitSql } from "../../constructs/postgres/renderers/postgres";
import { describeIf } from "../support/binaries";
import { postgresRequirement, TempPostgres } from "../support/postgres-server";
import { freePort } from "../support/helpers";

// Runs the first-boot SQL exactly as rendered against a real PostgreSQL (Debian's), the way the
// image's entrypoint runs a .sql file: psql on the local socket, secrets read from files.
describeIf(postgresRequirement(), "PostgresCluster first-boot roles on a real server", () => {
  let server: TempPostgres;
  const ownerPassword = "OwnerPw0123456789abcdefABCDEF0123";
  const appPassword = "AppPw0123456789abcdefABCDEF012345";

  beforeAll(async () => {
    // A port the kernel picks: test files run in parallel.
    server = new TempPostgres(await freePort());
    server.start();
    const ownerFile = join(server.dir, "owner_password");
    const appFile = join(server.dir, "app_password");
    writeFileSync(ownerFile, ownerPassword);
    writeFileSync(appFile, appPassword);
    const script = join(server.dir, "10-updateio-roles.sql");
    writeFileSync(
      script,
      renderPostgresInitSql({
        database: "updateio",
        ownerRole: "updateio_owner",
        appRole: "updateio_app",
        ownerPasswordFile: ownerFile,
        appPasswordFile: appFile,
      }),
    );
    chmodSync(script, 0o644);
    chmodSync(ownerFile, 0o644);
    chmodSync(appFile, 0o644);
    server.runSqlFiles(script);
  });
  afterAll(() => server?.stop());

  const owner = { user: "updateio_owner", password: ownerPassword, database: "updateio" };
  const app = { user: "updateio_app", password: appPassword, database: "updateio" };

  it("the owner logs in with its file's password (scram) and can run migrations (DDL)", () => {
    server.psql("CREATE TABLE release (id serial PRIMARY KEY, name text NOT NULL)", owner);
    expect(server.psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'updateio_owner'")).toContain("t");
  });

  it("the app role reads and writes data in the owner's tables", () => {
    server.psql("INSERT INTO release (name) VALUES ('1.0.0')", app);
    expect(server.psql("SELECT count(*) FROM release", app).trim()).toBe("1");
    server.psql("UPDATE release SET name = '1.0.1'", app);
    server.psql("DELETE FROM release", app);
  });

  it("the app role cannot create, alter or drop tables", () => {
    expect(() => server.psql("CREATE TABLE evil (id int)", app)).toThrow(/permission denied/);
    expect(() => server.psql("ALTER TABLE release ADD COLUMN x int", app)).toThrow(/must be owner/);
    expect(() => server.psql("DROP TABLE release", app)).toThrow(/must be owner/);
  });

  it("a wrong password is refused, and the owner gets no DDL rights outside its database", () => {
    expect(() => server.psql("SELECT 1", { ...app, password: "wrong" })).toThrow(/password authentication failed/);
    server.psql("CREATE DATABASE other");
    expect(() => server.psql("CREATE TABLE t (id int)", { ...owner, database: "other" })).toThrow(/permission denied/);
  });
});
