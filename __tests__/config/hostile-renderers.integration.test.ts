/**
 * The third round of hostile inputs (__tests__/config/hostile-inputs-3.test.ts) on the real servers:
 * what the values the config check used to accept did there, and that the legitimate ones work.
 *
 * Routes closed, and the place that now refuses each:
 *   - postgres.settings.synchronous_standby_names outside PostgreSQL's grammar: the real server
 *     exits on them (FATAL "invalid value for parameter")
 *                      → synchronousStandbyNamesProblem (constructs/postgres/renderers/postgres-settings.ts)
 *   - postgres.offsite.prefix with ".." segments: rclone's S3 client resolves them, so test's
 *     "test/../prod/postgres" lands in prod/postgres on a real S3 API (s3rver)
 *                      → OFFSITE_PATTERNS.prefix (constructs/postgres/renderers/postgres-offsite.ts);
 *                        another environment's or store's prefix → crossFieldProblems (environments/schema.ts)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { afterAll, beforeAll, expect, it } from "vitest";
import { loadEnvironmentConfig } from "../../environments/load";
import { synchronousStandbyNamesProblem } from "../../constructs/postgres";
import { describeIf, describeIfBinary } from "../support/binaries";
import { mutatedProblems } from "../support/config-problems";
import { execAsync } from "../support/helpers";
import { peerAsPostgresRequirement, postgresRequirement, TempPostgres } from "../support/postgres-server";

const REFUSED = ["xa b", "(a)", "first", "ANY (a, b)", "a,,b", "a,", "0 (a)", "FIRST 1 (a, b", "   ", "ANY 1 (first)"];
const ACCEPTED = [
  "",
  "*",
  "a, b",
  "FIRST 1 (postgres_replica_1, postgres_replica_2)",
  "ANY 1 (a,b)",
  "2 (a, b)",
  "1 (*)",
  "first_x, any_y",
];

describeIf([postgresRequirement(), peerAsPostgresRequirement()], "synchronous_standby_names on the real PostgreSQL", () => {
  let server: TempPostgres;
  beforeAll(() => {
    server = new TempPostgres(0);
    server.initdbLikeImage();
  });
  afterAll(() => server?.stop());

  /** What the server makes of the value at start (`postgres -C` runs the same check as a settings file). */
  const serverSays = (value: string): { ok: boolean; output: string } => {
    try {
      const output = server.run(server.tool("postgres"), [
        "-D",
        server.dataDir,
        "-C",
        "synchronous_standby_names",
        "-c",
        `synchronous_standby_names=${value}`,
      ]);
      return { ok: true, output };
    } catch (e) {
      return { ok: false, output: (e as Error).message };
    }
  };

  it.each(REFUSED)("%j: the server exits on it, and the config check refuses it", (value) => {
    const { ok, output } = serverSays(value);
    expect(ok, output).toBe(false);
    expect(output).toMatch(/FATAL: .*(invalid value for parameter "synchronous_standby_names"|number of synchronous standbys)/);
    expect(synchronousStandbyNamesProblem(value)).toMatch(/PostgreSQL refuses/);
    const prod = loadEnvironmentConfig("prod", {});
    const problems = mutatedProblems("prod", prod, (c) => (c.postgres.settings = { synchronous_standby_names: value }));
    expect(
      problems.find((p) => p.startsWith("postgres.settings.synchronous_standby_names: ")),
      problems.join("\n"),
    ).toBeDefined();
  });

  it.each(ACCEPTED)("%j: the server takes it, and so does the config check", (value) => {
    const { ok, output } = serverSays(value);
    expect(ok, output).toBe(true);
    expect(output.trim()).toBe(value);
    expect(synchronousStandbyNamesProblem(value)).toBeUndefined();
  });

  it("FIRST 2 of one name: the server takes it, but no commit could ever complete, so the config check refuses it", () => {
    expect(serverSays("FIRST 2 (postgres_replica_1)").ok).toBe(true);
    expect(synchronousStandbyNamesProblem("FIRST 2 (postgres_replica_1)")).toMatch(/every commit would wait forever/);
  });
});

describeIfBinary("rclone", 'an off-host prefix with a ".." segment, on rclone against a real S3 API', () => {
  const dir = mkdtempSync(join(tmpdir(), "hostile-offsite-"));
  let server: S3rver | undefined;
  let endpoint = "";
  const rcloneEnv = () => ({
    PATH: process.env.PATH,
    HOME: dir,
    RCLONE_CONFIG: "/dev/null",
    RCLONE_S3_PROVIDER: "Other",
    RCLONE_S3_ENDPOINT: endpoint,
    RCLONE_S3_ACCESS_KEY_ID: "S3RVER",
    RCLONE_S3_SECRET_ACCESS_KEY: "S3RVER",
  });
  beforeAll(async () => {
    mkdirSync(join(dir, "s3"));
    mkdirSync(join(dir, "dumps"));
    writeFileSync(join(dir, "dumps", "updateio-20261201T020000Z.dump"), "test's dump");
    server = new S3rver({
      port: 0,
      address: "127.0.0.1",
      silent: true,
      directory: join(dir, "s3"),
      configureBuckets: [{ name: "updateio-backups", configs: [] }],
    });
    const { port } = (await server.run()) as unknown as { port: number };
    endpoint = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The copy step of offsite-dirs.sh for the dumps, with `prefix` (the S3 server runs in this process: awaited). */
  const copyDumps = async (prefix: string) => {
    const r = await execAsync(
      "rclone",
      ["copy", "--immutable", "--s3-no-check-bucket", "--retries", "1", join(dir, "dumps"), `:s3:updateio-backups/${prefix}/dumps`],
      rcloneEnv(),
      60_000,
    );
    expect(r.status, r.stderr).toBe(0);
  };
  const remote = async (prefix: string) => {
    const r = await execAsync("rclone", ["lsf", "-R", "--files-only", `:s3:updateio-backups/${prefix}`], rcloneEnv(), 60_000);
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.split("\n").filter(Boolean).sort();
  };

  it('test\'s "test/../prod/postgres" lands in prod/postgres; the config check refuses it, naming the key', async () => {
    await copyDumps("test/../prod/postgres");
    expect(await remote("prod/postgres")).toEqual(["dumps/updateio-20261201T020000Z.dump"]);
    expect(await remote("test")).toEqual([]);
    const test = loadEnvironmentConfig("test", {
      UPDATEIO_TEST_BACKUP_OFFSITE_ENDPOINT: "https://s3.example.com",
      UPDATEIO_TEST_BACKUP_OFFSITE_BUCKET: "updateio-backups",
    });
    for (const prefix of ["test/../prod/postgres", "prod/postgres"]) {
      const problems = mutatedProblems("test", test, (c) => (c.postgres.offsite.prefix = prefix));
      expect(
        problems.find((p) => p.startsWith("postgres.offsite.prefix: ")),
        problems.join("\n"),
      ).toBeDefined();
    }
    expect(mutatedProblems("test", test, (c) => (c.postgres.offsite.prefix = "test/postgres"))).toEqual([]);
  });

  it("the legitimate prefix lands where it says", async () => {
    await copyDumps("test/postgres");
    expect(await remote("test/postgres")).toEqual(["dumps/updateio-20261201T020000Z.dump"]);
  });
});
