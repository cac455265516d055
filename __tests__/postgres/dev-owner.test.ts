/**
 * CREATEDB for the schema owner is dev's alone (prisma migrate dev's shadow database). Tried the
 * ways it could reach test or prod: the config (the key, the host port, an environment variable),
 * a config that skips the schema, the construct used directly, and first-boot SQL written by hand
 * (spelled in other cases, split over lines, base64-encoded, as a catalogue write). The policy rule
 * `createdb-dev-only` is the backstop for everything that does not go through the schema.
 */
import { Testing } from "cdktf";
import { describe, expect, it } from "vitest";
import { evaluatePolicy } from "../../constructs/policy/policy-aspect";
import { PostgresCluster } from "../../constructs/postgres";
import { renderPgHba } from "../../constructs/postgres/renderers/postgres-hba";
import { renderPostgresInitSql } from "../../constructs/postgres/renderers/postgres";
import { EnvironmentStack } from "../../environments/environment-stack";
import { loadEnvironmentConfig, validateEnvironmentConfig } from "../../environments/load";
import { check, DIGEST, fixture, findings, container } from "../policy/fixtures";
import { sharedEnvironment } from "../support/stacks";
import { refusals } from "../support/config-problems";

const RULE = "createdb-dev-only";
const problems = refusals;
const upload = (content: string, file = "/docker-entrypoint-initdb.d/20-roles.sql") => ({ upload: [{ file, content }] });

describe("dev's owner may create databases; nobody else", () => {
  it("dev: the first-boot SQL gives the owner CREATEDB, pg_hba lets it into its shadow databases, and the output exists", () => {
    const json = sharedEnvironment("dev").json;
    const seed = Object.values(json.resource.docker_container).find((c: any) => c.name === "dev-postgres-seed") as any;
    const file = (suffix: string) => (seed.upload as { file: string; content: string }[]).find((u) => u.file.endsWith(suffix))!.content;
    expect(file("10-updateio-roles.sql")).toContain("CREATE ROLE updateio_owner LOGIN CREATEDB PASSWORD :'owner_password';");
    expect(file("pg_hba.conf")).toMatch(/^host\s+all\s+updateio_owner\s+samenet\s+scram-sha-256$/m);
    expect(json.output.dev_database_url.sensitive).toBe(true);
  });

  for (const env of ["test", "prod"] as const) {
    it(`${env}: no CREATEDB, no any-database line, no forwarded port, no dev_database_url`, () => {
      const json = sharedEnvironment(env).json;
      expect(JSON.stringify(json)).not.toMatch(/createdb/i);
      const seed = Object.values(json.resource.docker_container).find((c: any) => c.name === `${env}-postgres-seed`) as any;
      const hba = (seed.upload as { file: string; content: string }[]).find((u) => u.file.endsWith("pg_hba.conf"))!.content;
      expect(hba).not.toMatch(/^host\s+all\s+updateio_owner/m);
      expect(json.output.dev_database_url).toBeUndefined();
      expect(evaluatePolicy(sharedEnvironment(env).stack, { environment: env }).filter((f) => f.ruleId === RULE)).toEqual([]);
    });
  }

  it("the schema refuses postgres.ownerCreatedb and postgres.hostPort outside dev, naming the key", () => {
    for (const env of ["test", "prod"] as const) {
      const bad = structuredClone(loadEnvironmentConfig(env, {})) as any;
      bad.postgres.ownerCreatedb = true;
      bad.postgres.hostPort = 55432;
      bad.portForwardImage = `alpine/socat:1.8.0.3${"@sha256:" + "ab".repeat(32)}`;
      const lines = problems(() => validateEnvironmentConfig(bad, env));
      expect(lines).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^postgres\.ownerCreatedb: .*dev only/),
          expect.stringMatching(/^postgres\.hostPort: .*dev only/),
        ]),
      );
    }
  });

  it("UPDATEIO_PROD_POSTGRES_PORT / UPDATEIO_TEST_POSTGRES_PORT are refused (the port is dev's variable)", () => {
    expect(problems(() => loadEnvironmentConfig("prod", { UPDATEIO_PROD_POSTGRES_PORT: "5432" })).join("\n")).toMatch(
      /UPDATEIO_PROD_POSTGRES_PORT.*applies to dev only/,
    );
    expect(problems(() => loadEnvironmentConfig("test", { UPDATEIO_TEST_POSTGRES_PORT: "5432" })).join("\n")).toMatch(
      /UPDATEIO_TEST_POSTGRES_PORT.*applies to dev only/,
    );
  });

  it("a prod config that skips the schema still fails the policy (the rule reads what is delivered)", () => {
    const cfg = loadEnvironmentConfig("prod", {});
    const stack = new EnvironmentStack(Testing.app(), "prod", { ...cfg, postgres: { ...cfg.postgres, ownerCreatedb: true } });
    const found = evaluatePolicy(stack, { environment: "prod" }).filter((f) => f.ruleId === RULE);
    expect(found.map((f) => f.severity)).toEqual(["error"]);
    expect(found[0]!.message).toMatch(
      /prod-postgres-seed delivers \/docker-entrypoint-initdb\.d\/10-updateio-roles\.sql, which grants CREATEDB in prod/,
    );
  });

  it("the construct with ownerCreatedb in a prod stack fails the policy; the same in dev passes", () => {
    for (const [env, expected] of [
      ["prod", 1],
      ["dev", 0],
    ] as const) {
      const f = fixture(env);
      new PostgresCluster(f.stack, "postgres", {
        environment: env,
        image: `postgres:17.6-bookworm@${DIGEST}`,
        memoryMb: 512,
        ownerCreatedb: true,
      });
      expect(findings(f, RULE)).toHaveLength(expected);
    }
  });

  it("hand-written SQL is caught however CREATEDB is spelled; NOCREATEDB and other text pass", () => {
    const caught = [
      "CREATE ROLE intruder LOGIN CREATEDB;",
      "create role intruder login\n  createdb\n  password 'x';",
      'ALTER ROLE "updateio_owner" WITH CreateDb;',
      "UPDATE pg_authid SET rolcreatedb = true WHERE rolname = 'updateio_owner';",
    ];
    for (const sql of caught) {
      expect(check(RULE, upload(sql), "prod"), sql).toHaveLength(1);
      expect(check(RULE, upload(sql), "test"), sql).toHaveLength(1);
      expect(check(RULE, upload(sql), "dev"), sql).toHaveLength(0);
    }
    const b64 = {
      upload: [{ file: "/docker-entrypoint-initdb.d/20-roles.sql", contentBase64: Buffer.from(caught[0]!).toString("base64") }],
    };
    expect(check(RULE, b64, "prod")).toHaveLength(1);
    for (const sql of ["CREATE ROLE r LOGIN NOCREATEDB;", "ALTER ROLE r NOCREATEDB;", "-- createdbx is not a keyword\nSELECT 1;"])
      expect(check(RULE, upload(sql), "prod"), sql).toHaveLength(0);
  });

  it("a docker_config (Swarm) carrying CREATEDB is caught too", () => {
    const f = fixture("prod");
    container(f);
    const { Config } = require("@cdktf/provider-docker/lib/config") as typeof import("@cdktf/provider-docker/lib/config");
    new Config(f.stack, "roles", { name: "prod-roles", data: Buffer.from("ALTER ROLE x CREATEDB;").toString("base64") });
    expect(findings(f, RULE).map((x) => x.resourceType)).toEqual(["docker_config"]);
  });

  it("the renderers: CREATEDB only when asked, and the any-database pg_hba line only for a role of the database", () => {
    const base = {
      database: "updateio",
      ownerRole: "updateio_owner",
      appRole: "updateio_app",
      ownerPasswordFile: "/run/secrets/o",
      appPasswordFile: "/run/secrets/a",
    };
    expect(renderPostgresInitSql(base)).not.toMatch(/CREATEDB/);
    expect(renderPostgresInitSql({ ...base, ownerCreatedb: true })).toContain("CREATE ROLE updateio_owner LOGIN CREATEDB PASSWORD");
    const hba = {
      superuser: "postgres",
      database: "updateio",
      databaseRoles: ["updateio_owner"],
      replicationRoles: ["updateio_replication"],
    };
    expect(renderPgHba(hba)).not.toMatch(/^host\s+all\s+updateio_owner/m);
    expect(renderPgHba({ ...hba, anyDatabaseRoles: ["updateio_owner"] })).toMatch(
      /^host\s+all\s+updateio_owner\s+samenet\s+scram-sha-256$/m,
    );
    expect(() => renderPgHba({ ...hba, anyDatabaseRoles: ["intruder"] })).toThrow(
      /anyDatabaseRoles entry "intruder" must also be in databaseRoles/,
    );
  });
});
