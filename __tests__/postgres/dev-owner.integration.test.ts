/**
 * `prisma migrate dev` from the host needs the schema owner to create, migrate in and drop a shadow
 * database. On real PostgreSQL (Debian's), with the first-boot SQL and pg_hba.conf exactly as the
 * dev and prod stacks deliver them to their primary (only the secret paths point at temp files):
 * dev's owner does what Prisma does (CREATE DATABASE prisma_migrate_shadow_db_<uuid>, connect to it,
 * migrate, DROP it) through the URL of the `dev_database_url` output; prod's owner can do none of it.
 */
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeIf } from "../support/binaries";
import { freePorts } from "../support/helpers";
import { CLUSTER, peerAsPostgresRequirement, postgresRequirement, TempPostgres } from "../support/postgres-server";
import { synthEnvironment, type TerraformJson } from "../support/stacks";
import { container, resolveTerraform } from "../examples/stack-settings";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";

const INIT_SQL = "/docker-entrypoint-initdb.d/10-updateio-roles.sql";
const owner = { user: CLUSTER.owner.user, password: CLUSTER.owner.password, database: CLUSTER.database };

/** The primary's delivered file at `path` (an upload of its seed), Terraform expressions resolved. */
function delivered(json: TerraformJson, env: string, path: string): string {
  const uploads = (container(json, `${env}-postgres-seed`).upload ?? []) as { file: string; content: string }[];
  const u = uploads.find((x) => x.file === path || x.file.endsWith(`/${path}`));
  if (!u) throw new Error(`${env}-postgres-seed delivers no ${path}; it delivers ${uploads.map((x) => x.file).join(", ")}`);
  return resolveTerraform(json, u.content);
}

/** A primary started from one stack's pg_hba.conf and first-boot roles SQL. */
async function primaryOf(json: TerraformJson, env: string, port: number): Promise<TempPostgres> {
  const server = new TempPostgres(port);
  server.initdbLikeImage();
  const hba = (container(json, `${env}-postgres-seed`).upload as { file: string }[]).find((u) => u.file.endsWith("/pg_hba.conf"))!;
  const hbaFile = server.writeFile("pg_hba.conf", delivered(json, env, hba.file));
  await server.startLikeCluster(hbaFile, 0);
  // Each /run/secrets/<file> the SQL reads becomes a temp file; the owner's holds the test cluster's password.
  const sql = delivered(json, env, INIT_SQL).replace(/\/run\/secrets\/([a-z0-9_]+)/g, (_, name: string) =>
    server.writeFile(name, name === "postgres_owner_password" ? CLUSTER.owner.password : `Pw${name}0123456789abcdefABCDEF`),
  );
  server.runSqlFiles(server.writeFile("10-updateio-roles.sql", sql));
  return server;
}

describeIf([postgresRequirement(), peerAsPostgresRequirement()], "dev's schema owner and prisma migrate dev's shadow database", () => {
  const out = mkdtempSync(join(tmpdir(), "updateio-dev-owner-"));
  let devJson: TerraformJson;
  let dev: TempPostgres;
  let prod: TempPostgres;

  beforeAll(async () => {
    devJson = synthEnvironment("dev", {}, join(out, "dev")).json;
    const prodJson = synthEnvironment("prod", {}, join(out, "prod")).json;
    const [devPort, prodPort] = await freePorts(2);
    dev = await primaryOf(devJson, "dev", devPort!);
    prod = await primaryOf(prodJson, "prod", prodPort!);
  }, 120_000);

  afterAll(() => {
    dev?.stop();
    prod?.stop();
    rmSync(out, { recursive: true, force: true });
  });

  describe("dev", () => {
    it("the dev_database_url output is the owner on 127.0.0.1:55432 with the password URL-encoded", () => {
      const output = devJson.output?.dev_database_url;
      expect(output.sensitive).toBe(true);
      expect(output.value).toMatch(
        /^postgresql:\/\/updateio_owner:\$\{urlencode\(random_password\.postgres_owner-password_[A-Z0-9]+\.result\)\}@127\.0\.0\.1:55432\/updateio\?schema=public$/,
      );
    });

    it("the owner creates a shadow database, migrates in it and drops it, as prisma migrate dev does (through the output's URL)", async () => {
      const url = new URL(resolveTerraform(devJson, devJson.output.dev_database_url.value as string));
      url.port = String(dev.port);
      const main = new Client({ connectionString: url.toString() });
      await main.connect();
      try {
        const shadow = `prisma_migrate_shadow_db_${randomUUID().replace(/-/g, "_")}`;
        await main.query(`CREATE DATABASE "${shadow}"`);
        const shadowUrl = new URL(url);
        shadowUrl.pathname = `/${shadow}`;
        const s = new Client({ connectionString: shadowUrl.toString() });
        await s.connect();
        try {
          await s.query("CREATE TABLE release (id serial PRIMARY KEY, name text NOT NULL)");
          await s.query("ALTER TABLE release ADD COLUMN created_at timestamptz NOT NULL DEFAULT now()");
          await s.query("CREATE INDEX release_name ON release (name)");
          expect((await s.query("SELECT current_user, current_database()")).rows[0]).toEqual({
            current_user: "updateio_owner",
            current_database: shadow,
          });
        } finally {
          await s.end();
        }
        await main.query(`DROP DATABASE "${shadow}"`);
        expect((await main.query("SELECT count(*)::int AS n FROM pg_database WHERE datname = $1", [shadow])).rows[0].n).toBe(0);
        // And the real migration, in the application database.
        await main.query("CREATE TABLE IF NOT EXISTS _prisma_migrations_probe (id int)");
        await main.query("DROP TABLE _prisma_migrations_probe");
      } finally {
        await main.end();
      }
    });

    it("CREATEDB is all the owner gets: no superuser, no roles, no replication", () => {
      expect(
        dev.psql("SELECT rolcreatedb, rolsuper, rolcreaterole, rolreplication FROM pg_roles WHERE rolname = 'updateio_owner'").trim(),
      ).toBe("t|f|f|f");
      expect(() => dev.psql("CREATE ROLE intruder LOGIN", owner)).toThrow(/permission denied/);
    });
  });

  describe("prod", () => {
    it("the owner cannot create a database", () => {
      expect(prod.psql("SELECT rolcreatedb FROM pg_roles WHERE rolname = 'updateio_owner'").trim()).toBe("f");
      expect(() => prod.psql("CREATE DATABASE prisma_migrate_shadow_db_x", owner)).toThrow(/permission denied to create database/);
    });

    it("nor connect to any database but the application's (a shadow made by someone else stays closed)", () => {
      prod.psql("CREATE DATABASE prisma_migrate_shadow_db_y");
      expect(() => prod.psql("SELECT 1", { ...owner, database: "prisma_migrate_shadow_db_y" })).toThrow(/pg_hba\.conf rejects connection/);
      // The same attempt works in dev (the control: the refusal above is pg_hba's, not a typo).
      dev.psql("CREATE DATABASE prisma_migrate_shadow_db_y");
      expect(dev.psql("SELECT current_database()", { ...owner, database: "prisma_migrate_shadow_db_y" }).trim()).toBe(
        "prisma_migrate_shadow_db_y",
      );
    });

    it("migrations still work for prod's owner in the application database", () => {
      prod.psql("CREATE TABLE release (id serial PRIMARY KEY)", owner);
      prod.psql("DROP TABLE release", owner);
    });
  });
});
